//! `eventferry pattern ...`: test, validate and apply EventBridge event patterns offline.
//!
//! Parsing and I/O only; the language lives in the `eventferry-pattern` crate.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use eventferry_pattern::{
    MatchScratch, Matcher, MatcherBuilder, Pattern, RuleId, AWS_INVALID_EVENT_MESSAGE,
};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::cli::ArgSource;

/// `eventferry pattern` subcommands.
#[derive(Subcommand)]
pub enum PatternCommand {
    /// Test a pattern against an event the way EventBridge's TestEventPattern does, or run a file of
    /// test cases.
    Test(TestArgs),
    /// Check a pattern: print `valid`, or AWS's error (`Event pattern is not valid. Reason: ...`) and
    /// exit 2.
    Validate(ValidateArgs),
    /// Filter a stream of events (one JSON object per line) through named rules, the way grep filters
    /// lines: print the matching lines' numbers and rules, or per-rule counts. Exits 0 when some
    /// event matched (always with --count), 1 when none did, 2 on errors.
    Match(MatchArgs),
}

/// Arguments of `pattern test`.
#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["cases", "pattern"])))]
pub struct TestArgs {
    /// JSON-lines file of cases `{"name": ..., "pattern": "<JSON text>", "event": "<JSON text>"}`
    /// (`-` for stdin). Prints one line per case: `{"name": ..., "result": "match" | "no_match" |
    /// "error", "reason": ...}`, with `reason` (AWS's text) only for errors. Exits 0 once every case
    /// ran.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pattern", "event"])]
    cases: Option<PathBuf>,

    /// The event pattern: inline JSON, `@FILE`, or `-` for stdin. Prints `match` (exit 0) or
    /// `no match` (exit 1); an invalid pattern prints AWS's error and exits 2.
    #[arg(long, value_name = "P", requires = "event")]
    pattern: Option<String>,

    /// The event: inline JSON, `@FILE`, or `-` for stdin.
    #[arg(long, value_name = "E", requires = "pattern")]
    event: Option<String>,

    /// Also require, as the TestEventPattern API does, that the event carries `id`, `account`,
    /// `source`, `time`, `region` and `detail-type`; otherwise it is rejected with `Parameter Event
    /// is not valid.` By default any JSON object is accepted.
    #[arg(long)]
    require_envelope: bool,
}

/// Arguments of `pattern validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// The event pattern: inline JSON, `@FILE`, or `-` for stdin.
    #[arg(value_name = "P")]
    pattern: String,
}

/// Arguments of `pattern match`.
#[derive(Args)]
pub struct MatchArgs {
    /// JSON object of named patterns: `{"rule-name": <pattern>, ...}`.
    #[arg(long, value_name = "RULES.json")]
    rules: PathBuf,

    /// Events, one JSON object per line (`-` for stdin). Read as a stream. Lines that are not JSON
    /// objects are reported on stderr and skipped; blank lines are skipped.
    #[arg(long, value_name = "EVENTS.jsonl")]
    events: PathBuf,

    /// Print `{"rule-name": count, ...}` once at the end instead of one line per matching event.
    #[arg(long)]
    count: bool,
}

/// Run a `pattern` subcommand.
pub fn run(cmd: PatternCommand) -> ExitCode {
    let result = match cmd {
        PatternCommand::Test(args) => test(args),
        PatternCommand::Validate(args) => validate(args),
        PatternCommand::Match(args) => match_events(args),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eventferry pattern: {e}");
            ExitCode::from(2)
        }
    }
}

fn fail(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// An `@FILE | - | inline` argument given to `flag` (see [`ArgSource`]).
fn read_arg(flag: &str, arg: &str) -> io::Result<String> {
    ArgSource::of(arg).read(flag).map_err(fail)
}

fn open_input(path: &PathBuf) -> io::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::new(io::stdin())))
    } else {
        let f = File::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// TestEventPattern's event check: a JSON object with the envelope fields.
fn check_test_event(event: &str, require_envelope: bool) -> bool {
    const REQUIRED: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];
    match serde_json::from_str::<Value>(event) {
        Ok(Value::Object(map)) => {
            !require_envelope || REQUIRED.iter().all(|k| map.contains_key(*k))
        }
        _ => false,
    }
}

enum Outcome {
    Match,
    NoMatch,
    Error(String),
}

fn evaluate(pattern: &str, event: &str, require_envelope: bool) -> Outcome {
    if !check_test_event(event, require_envelope) {
        return Outcome::Error(AWS_INVALID_EVENT_MESSAGE.to_string());
    }
    match Pattern::parse(pattern) {
        Err(e) => Outcome::Error(e.to_string()),
        Ok(p) => match p.try_matches(event.as_bytes()) {
            Ok(true) => Outcome::Match,
            Ok(false) => Outcome::NoMatch,
            Err(_) => Outcome::Error(AWS_INVALID_EVENT_MESSAGE.to_string()),
        },
    }
}

#[derive(Deserialize)]
struct Case {
    name: Value,
    pattern: Value,
    event: Value,
}

#[derive(Serialize)]
struct CaseResult<'a> {
    name: &'a Value,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// A case field holds JSON text; accept an embedded JSON value too.
fn as_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn test(args: TestArgs) -> io::Result<ExitCode> {
    if let Some(path) = &args.cases {
        return test_cases(path, args.require_envelope);
    }
    let (Some(p), Some(e)) = (&args.pattern, &args.event) else {
        return Err(fail("--pattern and --event go together".into()));
    };
    if ArgSource::of(p) == ArgSource::Stdin && ArgSource::of(e) == ArgSource::Stdin {
        return Err(fail(
            "only one of --pattern and --event can be read from stdin".into(),
        ));
    }
    let (pattern, event) = (read_arg("--pattern", p)?, read_arg("--event", e)?);
    let mut out = io::stdout().lock();
    // An invalid pattern is reported first: that is what the user is testing.
    if let Err(err) = Pattern::parse(&pattern) {
        writeln!(out, "{}", err.aws_message())?;
        return Ok(ExitCode::from(2));
    }
    Ok(match evaluate(&pattern, &event, args.require_envelope) {
        Outcome::Match => {
            writeln!(out, "match")?;
            ExitCode::SUCCESS
        }
        Outcome::NoMatch => {
            writeln!(out, "no match")?;
            ExitCode::from(1)
        }
        Outcome::Error(reason) => {
            writeln!(out, "{reason}")?;
            ExitCode::from(2)
        }
    })
}

fn test_cases(path: &PathBuf, require_envelope: bool) -> io::Result<ExitCode> {
    let input = open_input(path)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut bad_lines = 0usize;
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = match serde_json::from_str(&line) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("eventferry pattern: line {}: not a test case: {e}", i + 1);
                bad_lines += 1;
                continue;
            }
        };
        let (result, reason) = match evaluate(
            &as_text(case.pattern),
            &as_text(case.event),
            require_envelope,
        ) {
            Outcome::Match => ("match", None),
            Outcome::NoMatch => ("no_match", None),
            Outcome::Error(r) => ("error", Some(r)),
        };
        serde_json::to_writer(
            &mut out,
            &CaseResult {
                name: &case.name,
                result,
                reason,
            },
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if bad_lines == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn validate(args: ValidateArgs) -> io::Result<ExitCode> {
    let pattern = read_arg("pattern", &args.pattern)?;
    let mut out = io::stdout().lock();
    match eventferry_pattern::validate(&pattern) {
        Ok(()) => {
            writeln!(out, "valid")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(out, "{}", e.aws_message())?;
            Ok(ExitCode::from(2))
        }
    }
}

/// The rules file as (name, pattern text) in file order.
struct RuleFile(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RuleFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of rule names to event patterns")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleFile, A::Error> {
                let mut rules = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    rules.push((k, v));
                }
                Ok(RuleFile(rules))
            }
        }
        d.deserialize_map(V)
    }
}

/// The matcher of a rules file `{"rule-name": <pattern>, ...}`, rules in file order.
fn load_matcher(path: &PathBuf) -> io::Result<Matcher> {
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let RuleFile(rules) = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "{}: not a JSON object of rules: {e}",
            path.display()
        ))
    })?;
    let mut builder = MatcherBuilder::new();
    for (name, pattern) in &rules {
        let before = builder.len();
        builder
            .add(name.clone(), pattern.get())
            .map_err(|e| fail(format!("rule {name:?}: {}", e.aws_message())))?;
        if builder.len() == before {
            return Err(fail(format!("rule {name:?} appears more than once")));
        }
    }
    Ok(builder.build())
}

fn match_events(args: MatchArgs) -> io::Result<ExitCode> {
    let matcher = load_matcher(&args.rules)?;
    let mut input = open_input(&args.events)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut scratch = MatchScratch::default();
    let mut ids: Vec<RuleId> = Vec::new();
    let mut counts = vec![0u64; matcher.len()];
    let mut line = Vec::with_capacity(1 << 12);
    let mut line_no = 0u64;
    let mut any = false;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_no += 1;
        let event = line.trim_ascii();
        if event.is_empty() {
            continue;
        }
        if let Err(e) = matcher.matching_rules_strict(&mut scratch, event, &mut ids) {
            eprintln!("eventferry pattern: line {line_no}: skipped: {e}");
            continue;
        }
        if ids.is_empty() {
            continue;
        }
        any = true;
        if args.count {
            for id in &ids {
                counts[id.index()] += 1;
            }
        } else {
            write!(out, "{{\"line\":{line_no},\"rules\":[")?;
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut out, matcher.name(*id))?;
            }
            out.write_all(b"]}\n")?;
        }
    }
    if args.count {
        out.write_all(b"{")?;
        for (i, name) in matcher.names().iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, name)?;
            write!(out, ":{}", counts[i])?;
        }
        out.write_all(b"}\n")?;
    }
    out.flush()?;
    Ok(if args.count || any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
