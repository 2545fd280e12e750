//! The router's configuration, from environment variables; read and validated once at init.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EVENTFERRY_SUBSCRIPTIONS` | inline subscriptions, JSON | – |
//! | `EVENTFERRY_SUBSCRIPTIONS_FILE` | path of a YAML or JSON subscriptions file | `subscriptions.yaml` / `.yml` / `.json` next to the binary (or in `LAMBDA_TASK_ROOT`) |
//! | `EVENTFERRY_SUBSCRIPTIONS_STORE` | `s3://BUCKET/KEY`: subscriptions from the store that `eventferry subscriptions` changes, refreshed at runtime ([`crate::store`]); excludes the two above | – |
//! | `EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS` | how often the store is read again, 1 to 3600 | 30 |
//! | `EVENTFERRY_MAX_CONCURRENCY` | invocations in flight at once, per router instance | 10 |
//! | `EVENTFERRY_RETRY_QUEUE_URL` | SQS queue for retry messages (one per failed event and subscription) | none: see [`eventferry_core::retry::decide`] |
//! | `EVENTFERRY_DLQ_URL` | SQS queue for pairs whose attempts are used up | none |
//! | `EVENTFERRY_MAX_ATTEMPTS` | attempts per event and subscription, the first included | 3 |
//! | `EVENTFERRY_RETRY_DELAY_SECONDS` | delay before the first retry; doubles per attempt, at most 900 | 10 |
//! | `EVENTFERRY_SYSTEM_EVENTS` | where system events go: `log` (compact lines: ids, types, targets, outcomes, durations, no payloads), `log+payload` (whole system events, the event included), `off`, `eventbridge:<bus name or ARN>` (embedded event data over 32 KiB left out, `dataomitted` says so) or `http:<url>` | `log` |
//! | `EVENTFERRY_SYSTEM_SOURCE` | `source` of system events | `urn:eventferry:router` |
//! | `EVENTFERRY_HTTP_TIMEOUT_SECONDS` | timeout of one HTTP target call | 10 |
//! | `EVENTFERRY_TYPE_FORMAT`, `EVENTFERRY_EVENT_BUS`, `EVENTFERRY_SOURCE` | how EventBridge envelopes map to CloudEvents (the driver's `--type-format`, `--event-bus`, `--ce-source`, same variables) | `{source}`, `default`, the bus ARN |
//!
//! `EVENTFERRY_CE_SOURCE`, the router's former name for `EVENTFERRY_SOURCE`, is deprecated: it
//! is still read when `EVENTFERRY_SOURCE` is not set.

use std::path::{Path, PathBuf};

use eventferry_core::mapping::{MappingOptions, TypeFormat};
use eventferry_core::retry::RetryPolicy;
use eventferry_core::subscription::{Config, Format};
use eventferry_core::system::SystemEvents;
use tracing_subscriber::filter::Targets;

/// Where system events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Off,
    /// Compact log lines, no payloads.
    Log,
    /// Log lines with the whole system events (`log+payload`).
    LogPayload,
    EventBridge(String),
    Http(String),
}

/// Everything but the subscriptions.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mapping: MappingOptions,
    pub retry: RetryPolicy,
    pub retry_queue_url: Option<String>,
    pub dlq_url: Option<String>,
    pub max_concurrency: usize,
    pub system: SystemEvents,
    pub sink: SinkConfig,
    pub http_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mapping: MappingOptions::default(),
            retry: RetryPolicy::default(),
            retry_queue_url: None,
            dlq_url: None,
            max_concurrency: 10,
            system: SystemEvents::default(),
            sink: SinkConfig::Log,
            http_timeout_secs: 10,
        }
    }
}

/// A configuration error, naming the variable and what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Subscriptions(#[from] eventferry_core::subscription::ConfigError),
    #[error("{var}={value:?} is invalid: {reason}")]
    Var {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot read the subscriptions file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "no subscriptions: set EVENTFERRY_SUBSCRIPTIONS (inline JSON) or \
         EVENTFERRY_SUBSCRIPTIONS_FILE (a YAML or JSON file), or bundle subscriptions.yaml next \
         to the binary (looked in {looked})"
    )]
    NoSubscriptions { looked: String },
    #[error("both EVENTFERRY_SUBSCRIPTIONS and EVENTFERRY_SUBSCRIPTIONS_FILE are set: set one")]
    BothSources,
}

impl Settings {
    /// Reads the settings from `var` (the environment, or a map in tests). Each variable has
    /// its own parser; an error names the variable, its value and what would be right.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, InitError> {
        let env = Env(var);
        let defaults = Settings::default();
        let max_concurrency = env
            .read("EVENTFERRY_MAX_CONCURRENCY", number(1, 1000))?
            .map_or(defaults.max_concurrency, |n| n as usize);
        let mut retry = defaults.retry;
        if let Some(n) = env.read("EVENTFERRY_MAX_ATTEMPTS", number(1, 1000))? {
            retry.max_attempts = n as u32;
        }
        if let Some(n) = env.read("EVENTFERRY_RETRY_DELAY_SECONDS", number(0, 900))? {
            retry.base_delay_secs = n as u32;
        }
        let http_timeout_secs = env
            .read("EVENTFERRY_HTTP_TIMEOUT_SECONDS", number(1, 900))?
            .unwrap_or(defaults.http_timeout_secs);
        let retry_queue_url = env.read("EVENTFERRY_RETRY_QUEUE_URL", queue_url)?;
        let dlq_url = env.read("EVENTFERRY_DLQ_URL", queue_url)?;
        retry.retry_queue = retry_queue_url.is_some();
        retry.dead_letter_queue = dlq_url.is_some();
        Ok(Settings {
            sink: env
                .read("EVENTFERRY_SYSTEM_EVENTS", sink_config)?
                .unwrap_or(defaults.sink),
            system: env
                .read("EVENTFERRY_SYSTEM_SOURCE", SystemEvents::new)?
                .unwrap_or(defaults.system),
            mapping: mapping(&env, defaults.mapping)?,
            retry,
            retry_queue_url,
            dlq_url,
            max_concurrency,
            http_timeout_secs,
        })
    }
}

/// The variables, as read by [`Settings::from_env`]: a blank value counts as unset.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn is_set(&self, name: &str) -> bool {
        (self.0)(name).is_some_and(|v| !v.trim().is_empty())
    }

    /// Variable `name` parsed by `parse`, if set; a parse error names the variable and value.
    fn read<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, InitError> {
        let Some(value) = (self.0)(name).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        parse(&value).map(Some).map_err(|reason| InitError::Var {
            var: name,
            value,
            reason,
        })
    }
}

/// A whole number from `min` to `max`.
fn number(min: u64, max: u64) -> impl FnOnce(&str) -> Result<u64, String> {
    move |v| {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("use a whole number from {min} to {max}"))
    }
}

/// An SQS queue URL.
fn queue_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    if url_ok(v) {
        Ok(v.to_owned())
    } else {
        Err(
            "use the queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/router-retry"
                .into(),
        )
    }
}

/// `log`, `log+payload`, `off`, `eventbridge:<bus>` or `http:<url>`.
fn sink_config(v: &str) -> Result<SinkConfig, String> {
    let v = v.trim();
    match v.split_once(':') {
        _ if v == "log" => Ok(SinkConfig::Log),
        _ if v == "log+payload" => Ok(SinkConfig::LogPayload),
        _ if v == "off" => Ok(SinkConfig::Off),
        Some(("eventbridge", bus)) if !bus.is_empty() => {
            Ok(SinkConfig::EventBridge(bus.to_owned()))
        }
        Some(("http", url)) if url_ok(url) => Ok(SinkConfig::Http(url.to_owned())),
        _ => Err(
            "use log, log+payload, off, eventbridge:<bus name or ARN> or http:<url>, e.g. \
                  http:https://example.com/system-events"
                .into(),
        ),
    }
}

/// How EventBridge envelopes map to CloudEvents: `EVENTFERRY_TYPE_FORMAT`,
/// `EVENTFERRY_EVENT_BUS` and `EVENTFERRY_SOURCE`, the driver's names. `EVENTFERRY_CE_SOURCE`,
/// the router's former name for `EVENTFERRY_SOURCE`, is still read when `EVENTFERRY_SOURCE` is
/// not set (deprecated).
fn mapping(
    env: &Env<impl Fn(&str) -> Option<String>>,
    mut mapping: MappingOptions,
) -> Result<MappingOptions, InitError> {
    if let Some(format) = env.read("EVENTFERRY_TYPE_FORMAT", |v| {
        TypeFormat::new(v).map_err(|e| e.to_string())
    })? {
        mapping = mapping.with_type_format(format);
    }
    if let Some(changed) = env.read("EVENTFERRY_EVENT_BUS", |v| {
        mapping.clone().with_event_bus(v).map_err(|e| e.to_string())
    })? {
        mapping = changed;
    }
    let source = if env.is_set("EVENTFERRY_SOURCE") {
        "EVENTFERRY_SOURCE"
    } else {
        DEPRECATED_SOURCE
    };
    if let Some(changed) = env.read(source, |v| {
        mapping.clone().with_source(v).map_err(|e| e.to_string())
    })? {
        mapping = changed;
    }
    Ok(mapping)
}

/// The router's former name for `EVENTFERRY_SOURCE`; read when that is not set.
pub const DEPRECATED_SOURCE: &str = "EVENTFERRY_CE_SOURCE";

fn url_ok(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Names of a bundled subscriptions file, in the order they are looked for.
pub const BUNDLED: [&str; 3] = [
    "subscriptions.yaml",
    "subscriptions.yml",
    "subscriptions.json",
];

/// Loads and validates the subscriptions: inline `EVENTFERRY_SUBSCRIPTIONS`, else
/// `EVENTFERRY_SUBSCRIPTIONS_FILE`, else a bundled file in one of `dirs`.
pub fn load_subscriptions(
    var: impl Fn(&str) -> Option<String>,
    dirs: &[PathBuf],
) -> Result<(Config, String), InitError> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match (
        get("EVENTFERRY_SUBSCRIPTIONS"),
        get("EVENTFERRY_SUBSCRIPTIONS_FILE"),
    ) {
        (Some(_), Some(_)) => Err(InitError::BothSources),
        (Some(inline), None) => Ok((
            Config::parse(&inline, Format::Json, "EVENTFERRY_SUBSCRIPTIONS")?,
            "EVENTFERRY_SUBSCRIPTIONS".into(),
        )),
        (None, Some(path)) => read_file(Path::new(path.trim())),
        (None, None) => {
            for dir in dirs {
                for name in BUNDLED {
                    let path = dir.join(name);
                    if path.is_file() {
                        return read_file(&path);
                    }
                }
            }
            Err(InitError::NoSubscriptions {
                looked: dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

fn read_file(path: &Path) -> Result<(Config, String), InitError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InitError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    Ok((
        Config::parse(&text, Format::from_path(&shown), &shown)?,
        shown,
    ))
}

/// The log filter from `RUST_LOG`: comma-separated `target=level` directives and a bare default
/// level (`info`, `eventferry=debug,warn`), tracing-subscriber's [`Targets`] syntax. Unset, the
/// filter is [`default_log_filter`]. Span and field directives (`[span{field=value}]`) are not
/// taken: the router links no regex engine for them (`EnvFilter` cost 0.65 MB of the bootstrap).
pub fn log_filter(rust_log: Option<&str>) -> Result<Targets, String> {
    match rust_log.map(str::trim) {
        None | Some("") => Ok(default_log_filter()),
        Some(value) => value.parse().map_err(|e| {
            format!(
                "RUST_LOG={value:?} is not a list of target=level directives ({e}), \
                 e.g. \"info\" or \"eventferry=debug,warn\"; logging at info"
            )
        }),
    }
}

/// The log filter when `RUST_LOG` is unset or invalid: everything at `info`.
pub fn default_log_filter() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

/// Where a bundled subscriptions file is looked for: next to the binary, then
/// `LAMBDA_TASK_ROOT`.
pub fn bundle_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Ok(root) = std::env::var("LAMBDA_TASK_ROOT") {
        dirs.push(PathBuf::from(root));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn rust_log_takes_target_level_directives() {
        use tracing::Level;
        let at = |f: &Targets, target: &str| {
            [
                Level::TRACE,
                Level::DEBUG,
                Level::INFO,
                Level::WARN,
                Level::ERROR,
            ]
            .into_iter()
            .find(|l| f.would_enable(target, l))
        };
        let default = log_filter(None).unwrap();
        assert_eq!(at(&default, "eventferry::system"), Some(Level::INFO));
        assert_eq!(at(&log_filter(Some(" ")).unwrap(), "x"), Some(Level::INFO));
        let f = log_filter(Some("eventferry::system=warn,aws_config=error,debug")).unwrap();
        assert_eq!(at(&f, "eventferry::system"), Some(Level::WARN));
        assert_eq!(at(&f, "aws_config::imds"), Some(Level::ERROR));
        assert_eq!(at(&f, "eventferry_router"), Some(Level::DEBUG));
        assert_eq!(
            at(&log_filter(Some("off")).unwrap(), "eventferry::system"),
            None
        );
        let err = log_filter(Some("eventferry=loud")).unwrap_err();
        assert!(err.contains("RUST_LOG=\"eventferry=loud\""), "{err}");
        assert!(err.contains("eventferry=debug,warn"), "{err}");
    }

    #[test]
    fn defaults_and_overrides() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.sink, SinkConfig::Log);
        assert!(!s.retry.retry_queue);
        let s = Settings::from_env(env(&[
            ("EVENTFERRY_MAX_CONCURRENCY", "4"),
            (
                "EVENTFERRY_RETRY_QUEUE_URL",
                "http://127.0.0.1:4566/000000000000/r",
            ),
            ("EVENTFERRY_DLQ_URL", "http://127.0.0.1:4566/000000000000/d"),
            ("EVENTFERRY_MAX_ATTEMPTS", "5"),
            ("EVENTFERRY_RETRY_DELAY_SECONDS", "0"),
            ("EVENTFERRY_SYSTEM_EVENTS", "eventbridge:ops"),
            ("EVENTFERRY_TYPE_FORMAT", "{source}.{detail-type}"),
        ]))
        .unwrap();
        assert_eq!(s.max_concurrency, 4);
        assert!(s.retry.retry_queue && s.retry.dead_letter_queue);
        assert_eq!(s.retry.max_attempts, 5);
        assert_eq!(s.retry.base_delay_secs, 0);
        assert_eq!(s.sink, SinkConfig::EventBridge("ops".into()));
        let s = Settings::from_env(env(&[(
            "EVENTFERRY_SYSTEM_EVENTS",
            "http:http://127.0.0.1:1/x",
        )]))
        .unwrap();
        assert_eq!(s.sink, SinkConfig::Http("http://127.0.0.1:1/x".into()));
        let s = Settings::from_env(env(&[("EVENTFERRY_SYSTEM_EVENTS", "log+payload")])).unwrap();
        assert_eq!(s.sink, SinkConfig::LogPayload);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value, expected) in [
            (
                "EVENTFERRY_MAX_CONCURRENCY",
                "0",
                "EVENTFERRY_MAX_CONCURRENCY=\"0\" is invalid: use a whole number from 1 to 1000",
            ),
            (
                "EVENTFERRY_RETRY_DELAY_SECONDS",
                "901",
                "EVENTFERRY_RETRY_DELAY_SECONDS=\"901\" is invalid",
            ),
            (
                "EVENTFERRY_RETRY_QUEUE_URL",
                "retry",
                "EVENTFERRY_RETRY_QUEUE_URL=\"retry\" is invalid: use the queue URL",
            ),
            (
                "EVENTFERRY_SYSTEM_EVENTS",
                "kafka:x",
                "EVENTFERRY_SYSTEM_EVENTS=\"kafka:x\" is invalid",
            ),
            (
                "EVENTFERRY_TYPE_FORMAT",
                "{nope}",
                "EVENTFERRY_TYPE_FORMAT=\"{nope}\" is invalid: type format",
            ),
        ] {
            let err = Settings::from_env(env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn the_source_is_eventferry_source_as_for_the_driver() {
        let source = |pairs: &[(&str, &str)]| {
            let s = Settings::from_env(env(pairs)).unwrap();
            let envelope = serde_json::json!({
                "version": "0", "id": "1", "detail-type": "d", "source": "s",
                "account": "000000000000", "time": "2024-05-01T10:00:00Z",
                "region": "us-east-1", "resources": [], "detail": {}
            });
            eventferry_core::mapping::from_eventbridge(envelope, &s.mapping)
                .unwrap()
                .source()
                .to_string()
        };
        use cloudevents::AttributesReader;
        assert_eq!(
            source(&[]),
            "arn:aws:events:us-east-1:000000000000:event-bus/default"
        );
        assert_eq!(source(&[("EVENTFERRY_SOURCE", "urn:new")]), "urn:new");
        // The deprecated name still works, and yields to the new one.
        assert_eq!(source(&[("EVENTFERRY_CE_SOURCE", "urn:old")]), "urn:old");
        assert_eq!(
            source(&[
                ("EVENTFERRY_SOURCE", "urn:new"),
                ("EVENTFERRY_CE_SOURCE", "urn:old")
            ]),
            "urn:new"
        );
        for var in ["EVENTFERRY_SOURCE", "EVENTFERRY_CE_SOURCE"] {
            let err = Settings::from_env(env(&[(var, "has space")]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("{var}=\"has space\" is invalid")),
                "{err}"
            );
        }
    }

    #[test]
    fn subscriptions_come_from_one_place() {
        let inline = r#"[{"name":"a","types":["t"],"function":"f"}]"#;
        let (config, origin) =
            load_subscriptions(env(&[("EVENTFERRY_SUBSCRIPTIONS", inline)]), &[]).unwrap();
        assert_eq!(&*config.subscriptions[0].name, "a");
        assert_eq!(origin, "EVENTFERRY_SUBSCRIPTIONS");
        let both = load_subscriptions(
            env(&[
                ("EVENTFERRY_SUBSCRIPTIONS", inline),
                ("EVENTFERRY_SUBSCRIPTIONS_FILE", "x"),
            ]),
            &[],
        );
        assert_eq!(both.unwrap_err(), InitError::BothSources);
        let missing = load_subscriptions(
            env(&[("EVENTFERRY_SUBSCRIPTIONS_FILE", "/nonexistent/s.yaml")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            missing.starts_with("cannot read the subscriptions file /nonexistent/s.yaml"),
            "{missing}"
        );
        let none = load_subscriptions(env(&[]), &[PathBuf::from("/nonexistent")])
            .unwrap_err()
            .to_string();
        assert!(none.contains("looked in /nonexistent"), "{none}");
        let bad = load_subscriptions(
            env(&[(
                "EVENTFERRY_SUBSCRIPTIONS",
                r#"[{"name":"a","types":["t"],"function":"f","mode":"later"}]"#,
            )]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            bad,
            "subscription \"a\" (subscriptions[0]), field \"mode\": must be sync or async, got \"later\""
        );
    }

    #[test]
    fn a_bundled_file_is_found() {
        let dir =
            std::env::temp_dir().join(format!("eventferry-router-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("subscriptions.yml"),
            "- {name: b, types: [t], function: f}\n",
        )
        .unwrap();
        let (config, origin) =
            load_subscriptions(env(&[]), &[PathBuf::from("/nonexistent"), dir.clone()]).unwrap();
        assert_eq!(&*config.subscriptions[0].name, "b");
        assert!(origin.ends_with("subscriptions.yml"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
