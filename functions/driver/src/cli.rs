//! What the subcommands share on the command line: where AWS is ([`AwsArgs`],
//! [`load_aws_config`] with its `--region` and `--endpoint-url` checks), arguments given
//! as `@FILE`, `-` (stdin) or inline text ([`ArgSource`]), a tokio runtime for one command
//! ([`block_on`]), and the check that refuses a mistyped `EVENTFERRY_*` variable
//! ([`check_environment`]).

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::process::ExitCode;

use aws_config::SdkConfig;
use clap::Args;
use eventferry_aws::AwsOptions;

/// Where AWS is: shared by `cleanup` and `emit`.
#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS region, e.g. us-east-1 [default: the standard AWS chain: AWS_REGION, the profile, ...]
    #[arg(long, env = "EVENTFERRY_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service, e.g. http://127.0.0.1:4566 for LocalStack
    /// [default: AWS_ENDPOINT_URL, else the real AWS endpoints]
    #[arg(long, env = "EVENTFERRY_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// Check the flags and load the AWS configuration; `Err` is a message about bad input.
    pub async fn load(&self) -> Result<SdkConfig, String> {
        load_aws_config(self.region.as_deref(), self.endpoint_url.as_deref()).await
    }
}

/// Check `--region` and `--endpoint-url`, then load the AWS configuration from the standard
/// chain with those overrides. `Err` is a message about bad input, also when no region is
/// configured anywhere. Every subcommand that calls AWS loads it here.
pub async fn load_aws_config(
    region: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<SdkConfig, String> {
    if let Some(region) = region {
        check_region(region)?;
    }
    if let Some(url) = endpoint_url {
        check_endpoint_url(url)?;
    }
    let cfg = eventferry_aws::load(&AwsOptions {
        region: region.map(str::to_owned),
        endpoint_url: endpoint_url.map(str::to_owned),
    })
    .await;
    if cfg.region().is_none() {
        return Err(
            "no AWS region: pass --region, or set EVENTFERRY_REGION or AWS_REGION".to_owned(),
        );
    }
    Ok(cfg)
}

/// `--region`: an AWS region name, dash-separated parts of a-z 0-9, the last one a number.
pub fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--region {region:?} is not an AWS region name: use e.g. us-east-1 or eu-west-2"
        ))
    }
}

/// `--endpoint-url`: an http(s) URL with a host.
pub fn check_endpoint_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(format!(
            "--endpoint-url {url:?} is not an http(s) URL: use e.g. http://127.0.0.1:4566"
        )),
    }
}

/// Where the text of an argument comes from: `@PATH` is a file, `-` (or `@-`) is stdin, anything
/// else is the text itself. Every flag that takes JSON or a pattern reads it this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource<'a> {
    Inline(&'a str),
    File(&'a str),
    Stdin,
}

impl<'a> ArgSource<'a> {
    pub fn of(value: &'a str) -> Self {
        match value.strip_prefix('@') {
            Some("-") => ArgSource::Stdin,
            Some(path) => ArgSource::File(path),
            None if value == "-" => ArgSource::Stdin,
            None => ArgSource::Inline(value),
        }
    }

    /// The text. `Err` names `flag` and the file (or stdin) that could not be read.
    pub fn read(&self, flag: &str) -> Result<String, String> {
        match self {
            ArgSource::Inline(text) => Ok((*text).to_owned()),
            ArgSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{flag} @{path}: cannot read the file: {e}")),
            ArgSource::Stdin => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| format!("{flag} -: cannot read stdin: {e}"))?;
                Ok(text)
            }
        }
    }
}

impl<'a> ArgSource<'a> {
    /// For flags that took a file name before they took text (`pattern match --rules`): as
    /// [`ArgSource::of`], except that a value that does not start with `{` or `[` is a file.
    pub fn of_file_or_json(value: &'a str) -> Self {
        match ArgSource::of(value) {
            ArgSource::Inline(text) if !text.trim_start().starts_with(['{', '[']) => {
                ArgSource::File(text)
            }
            other => other,
        }
    }

    /// For streams read line by line (`--events`, `--cases`): `-` or `@-` is stdin, `@PATH` or
    /// `PATH` a file.
    pub fn of_stream(value: &'a str) -> Self {
        match ArgSource::of(value) {
            ArgSource::Inline(path) => ArgSource::File(path),
            other => other,
        }
    }

    /// The text as a buffered stream. `Err` names `flag` and the file that could not be opened.
    pub fn open(&self, flag: &str) -> Result<Box<dyn std::io::BufRead + 'a>, String> {
        Ok(match self {
            ArgSource::Inline(text) => Box::new(std::io::Cursor::new(text.as_bytes())),
            ArgSource::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| format!("{flag} @{path}: cannot read the file: {e}"))?;
                Box::new(std::io::BufReader::with_capacity(1 << 16, file))
            }
            ArgSource::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
        })
    }
}

/// The patterns in `text`, where patterns are taken: a JSON array of patterns gives each
/// element's exact text (repeated keys and number spellings kept, as the pattern language needs
/// them), anything else is one pattern, left for the pattern parser to judge. `Err` for an empty
/// array.
pub fn split_patterns(flag: &str, text: &str) -> Result<Vec<String>, String> {
    if text.trim_start().starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(text) {
            if items.is_empty() {
                return Err(format!(
                    "{flag} is an empty array: give one pattern or an array of patterns"
                ));
            }
            return Ok(items.into_iter().map(|p| p.get().to_owned()).collect());
        }
    }
    Ok(vec![text.to_owned()])
}

/// Where the text came from, for messages about its content: `the value`, `file <path>`, `stdin`.
impl fmt::Display for ArgSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgSource::Inline(_) => f.write_str("the value"),
            ArgSource::File(path) => write!(f, "file {path}"),
            ArgSource::Stdin => f.write_str("stdin"),
        }
    }
}

/// Read an `@FILE | - | inline` argument given to `flag` (see [`ArgSource`]).
pub fn read_arg(flag: &str, value: &str) -> Result<String, String> {
    ArgSource::of(value).read(flag)
}

/// Set once `drive --log-format json` is chosen: the start and stop summaries (provisioning,
/// lease, `stopped`, clean-up) are then JSON log events with fields instead of plain lines.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Record the log format (see [`json_logs`]).
pub fn set_json_logs(json: bool) {
    JSON_LOGS.store(json, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the start and stop summaries are JSON log events (`--log-format json`).
pub fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The tokio runtime a command runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// One thread: the short commands (`cleanup`, `emit`).
    CurrentThread,
    /// `workers` threads: `drive` (`--worker-threads`).
    MultiThread { workers: usize },
}

/// Run `command`'s `future` to its exit status on a new runtime; exit 1 if there is none.
pub fn block_on(
    command: &str,
    flavor: RuntimeFlavor,
    future: impl Future<Output = ExitCode>,
) -> ExitCode {
    let mut builder = match flavor {
        RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        RuntimeFlavor::MultiThread { workers } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers.max(1));
            builder
        }
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => {
            eprintln!("eventferry {command}: can't start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

/// Variables that start with `EVENTFERRY_` but belong to other parts of the project, so a shell
/// that runs several of them is not refused: the router Lambda's settings
/// (functions/router/src/config.rs), the deprecated name of `drive --ce-source`'s variable, the
/// integration tests' endpoint, and (by prefix, see [`OTHER_PREFIXES`]) scripts/smoke-aws.sh.
pub const OTHER_COMPONENTS: &[&str] = &[
    "EVENTFERRY_SUBSCRIPTIONS",
    "EVENTFERRY_SUBSCRIPTIONS_FILE",
    "EVENTFERRY_MAX_CONCURRENCY",
    "EVENTFERRY_RETRY_QUEUE_URL",
    "EVENTFERRY_DLQ_URL",
    "EVENTFERRY_MAX_ATTEMPTS",
    "EVENTFERRY_RETRY_DELAY_SECONDS",
    "EVENTFERRY_SYSTEM_EVENTS",
    "EVENTFERRY_SYSTEM_SOURCE",
    "EVENTFERRY_HTTP_TIMEOUT_SECONDS",
    "EVENTFERRY_CE_SOURCE",
    "EVENTFERRY_TEST_ENDPOINT",
];

/// Prefixes of other components' variables: scripts/smoke-aws.sh's settings.
pub const OTHER_PREFIXES: &[&str] = &["EVENTFERRY_SMOKE_"];

/// Every environment variable the arguments of `cmd` and its subcommands read.
pub fn env_names(cmd: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = cmd
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    for sub in cmd.get_subcommands() {
        names.extend(env_names(sub));
    }
    names.sort();
    names.dedup();
    names
}

/// What [`check_environment`] found wrong with an `EVENTFERRY_*` variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvProblem {
    /// Close to a variable the running command reads: refused (exit 2).
    Mistyped { name: String, closest: String },
    /// Read by no part of eventferry, and close to none the command reads: a warning.
    Unknown { name: String },
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvProblem::Mistyped { name, closest } => write!(
                f,
                "{name} is not a variable eventferry reads; did you mean {closest}? Rename it \
                 (or unset it): a mistyped variable is never silently ignored"
            ),
            EnvProblem::Unknown { name } => write!(
                f,
                "warning: {name} is not a variable eventferry reads; it is ignored"
            ),
        }
    }
}

/// Check the `EVENTFERRY_*` names among `vars` against what `root`'s subcommand `running` reads.
///
/// A name that some eventferry command (any subcommand of `root`), the router, the tests or the
/// smoke script reads is fine, even if `running` does not read it: one shell serves them all. Any
/// other name is mistyped, and refused, when it is within two edits of a variable `running`
/// reads, or extends one by `_...` (`EVENTFERRY_SINK_URL` for `EVENTFERRY_SINK`); otherwise it
/// is only warned about.
pub fn check_environment(
    root: &clap::Command,
    running: &str,
    vars: impl IntoIterator<Item = String>,
) -> Vec<EnvProblem> {
    let everything = env_names(root);
    let own = root
        .find_subcommand(running)
        .map(env_names)
        .unwrap_or_default();
    let mut names: Vec<String> = vars
        .into_iter()
        .filter(|n| n.starts_with("EVENTFERRY_"))
        .filter(|n| !everything.contains(n) && !OTHER_COMPONENTS.contains(&n.as_str()))
        .filter(|n| !OTHER_PREFIXES.iter().any(|p| n.starts_with(p)))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let closest = own
                .iter()
                .map(|known| (edit_distance(&name, known), known))
                .filter(|(d, known)| *d <= 2 || name.starts_with(&format!("{known}_")))
                .min();
            match closest {
                Some((_, known)) => EnvProblem::Mistyped {
                    name,
                    closest: known.clone(),
                },
                None => EnvProblem::Unknown { name },
            }
        })
        .collect()
}

/// [`check_environment`] on this process's environment, for the subcommand `running`: prints
/// the warnings, and refuses (exit 2) if a variable is mistyped.
pub fn refuse_mistyped_variables(root: &clap::Command, running: &str) -> Result<(), ExitCode> {
    let vars = std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned());
    let mut refused = false;
    for problem in check_environment(root, running, vars) {
        refused |= matches!(problem, EnvProblem::Mistyped { .. });
        eprintln!("eventferry {running}: {problem}");
    }
    if refused {
        Err(ExitCode::from(2))
    } else {
        Ok(())
    }
}

/// Levenshtein distance (ASCII names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_of_arguments() {
        assert_eq!(ArgSource::of("{}"), ArgSource::Inline("{}"));
        assert_eq!(ArgSource::of("@p.json"), ArgSource::File("p.json"));
        assert_eq!(ArgSource::of("-"), ArgSource::Stdin);
        assert_eq!(ArgSource::of("@-"), ArgSource::Stdin);
        assert_eq!(read_arg("--x", "[1]").unwrap(), "[1]");
        assert_eq!(ArgSource::of("@a/b").to_string(), "file a/b");
        assert_eq!(ArgSource::of("x").to_string(), "the value");
    }

    #[test]
    fn patterns_one_or_an_array_and_streams() {
        assert_eq!(
            split_patterns("p", r#"[{"a":[1]}, {"b":[1],"b":[2]}]"#).unwrap(),
            [r#"{"a":[1]}"#, r#"{"b":[1],"b":[2]}"#]
        );
        assert_eq!(
            split_patterns("p", r#"{"a":[1]}"#).unwrap(),
            [r#"{"a":[1]}"#]
        );
        assert_eq!(split_patterns("p", "[1,").unwrap(), ["[1,"]);
        assert!(split_patterns("p", " []")
            .unwrap_err()
            .contains("empty array"));
        assert_eq!(
            ArgSource::of_file_or_json("r.json"),
            ArgSource::File("r.json")
        );
        assert_eq!(
            ArgSource::of_file_or_json("@r.json"),
            ArgSource::File("r.json")
        );
        assert_eq!(ArgSource::of_file_or_json(" {}"), ArgSource::Inline(" {}"));
        assert_eq!(ArgSource::of_file_or_json("-"), ArgSource::Stdin);
        assert_eq!(ArgSource::of_stream("e.jsonl"), ArgSource::File("e.jsonl"));
        assert_eq!(ArgSource::of_stream("@-"), ArgSource::Stdin);
        let mut lines = String::new();
        ArgSource::Inline("a\nb")
            .open("--events")
            .unwrap()
            .read_to_string(&mut lines)
            .unwrap();
        assert_eq!(lines, "a\nb");
        let err = ArgSource::of_stream("/nonexistent/e")
            .open("--events")
            .err()
            .unwrap();
        assert!(
            err.starts_with("--events @/nonexistent/e: cannot read the file"),
            "{err}"
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("EVENTFERRY_SINKS", "EVENTFERRY_SINK"), 1);
        assert_eq!(edit_distance("EVENTFERRY_SIKN", "EVENTFERRY_SINK"), 2);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn mistyped_variables_are_refused_and_others_components_kept() {
        use clap::{Arg, Command};
        let root = Command::new("eventferry")
            .subcommand(
                Command::new("drive")
                    .arg(Arg::new("sink").long("sink").env("EVENTFERRY_SINK"))
                    .arg(
                        Arg::new("mode")
                            .long("sink-mode")
                            .env("EVENTFERRY_SINK_MODE"),
                    )
                    .arg(Arg::new("log").long("log-level").env("EVENTFERRY_LOG")),
            )
            .subcommand(
                Command::new("emit")
                    .arg(Arg::new("s").long("source").env("EVENTFERRY_EMIT_SOURCE")),
            );
        let check = |running: &str, vars: &[&str]| {
            check_environment(&root, running, vars.iter().map(|v| v.to_string()))
        };
        let mistyped = |name: &str, closest: &str| EnvProblem::Mistyped {
            name: name.into(),
            closest: closest.into(),
        };
        assert_eq!(
            check("drive", &["EVENTFERRY_SINKS", "PATH"]),
            [mistyped("EVENTFERRY_SINKS", "EVENTFERRY_SINK")]
        );
        assert_eq!(
            check("drive", &["EVENTFERRY_SINK_URL", "EVENTFERRY_LOG_LEVEL"]),
            [
                mistyped("EVENTFERRY_LOG_LEVEL", "EVENTFERRY_LOG"),
                mistyped("EVENTFERRY_SINK_URL", "EVENTFERRY_SINK")
            ]
        );
        // Another command's, the router's, the tests' and the smoke script's variables are fine.
        let shared = [
            "EVENTFERRY_SINK",
            "EVENTFERRY_EMIT_SOURCE",
            "EVENTFERRY_RETRY_QUEUE_URL",
            "EVENTFERRY_TEST_ENDPOINT",
            "EVENTFERRY_SMOKE_CONFIRM",
        ];
        assert_eq!(check("emit", &shared), []);
        assert_eq!(check("drive", &shared), []);
        // Far from anything the command reads: a warning, not a refusal.
        assert_eq!(
            check("drive", &["EVENTFERRY_SOMETHING_ELSE"]),
            [EnvProblem::Unknown {
                name: "EVENTFERRY_SOMETHING_ELSE".into()
            }]
        );
        let text = mistyped("EVENTFERRY_SINKS", "EVENTFERRY_SINK").to_string();
        assert!(
            text.starts_with(
                "EVENTFERRY_SINKS is not a variable eventferry reads; did you mean EVENTFERRY_SINK?"
            ),
            "{text}"
        );
    }

    #[test]
    fn regions_and_endpoints() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-10"] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        for bad in ["Mars", "", "us-east", "us-east-x", "us--1", "US-EAST-1"] {
            let err = check_region(bad).unwrap_err();
            assert!(err.starts_with(&format!("--region {bad:?}")), "{err}");
        }
        assert_eq!(check_endpoint_url("http://127.0.0.1:4566"), Ok(()));
        assert_eq!(check_endpoint_url("https://sqs.example.com/"), Ok(()));
        for bad in ["localhost", "ftp://x", "http://", ""] {
            let err = check_endpoint_url(bad).unwrap_err();
            assert!(err.starts_with("--endpoint-url"), "{err}");
        }
    }

    #[test]
    fn unreadable_files_name_the_flag_and_the_file() {
        let err = read_arg("--event", "@/nonexistent/e.json").unwrap_err();
        assert!(
            err.starts_with("--event @/nonexistent/e.json: cannot read the file: "),
            "{err}"
        );
    }
}
