//! `eventferry pattern ...`: test, validate and apply EventBridge event patterns offline.
//!
//! Parsing and I/O only; the language lives in the `eventferry-pattern` crate.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use eventferry_pattern::{
    MatchScratch, Matcher, MatcherBuilder, Pattern, RuleId, AWS_INVALID_EVENT_MESSAGE,
};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::cli::{split_patterns, ArgSource};

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
#[command(
    group(ArgGroup::new("input").required(true).args(["cases", "pattern"])),
    after_help = "Examples:\n  \
        eventferry pattern test --pattern @events/demo-patterns.json --event '{\"source\":\"demo.shop\",\"detail\":{\"total\":250}}'\n  \
        eventferry pattern test --cases cases.jsonl\n\n\
        Exit status: 0 for a match (with --cases: once every case ran); 1 for no match; 2 for an \
        invalid pattern or event, unreadable input, or (with --cases) a line that is not a case."
)]
pub struct TestArgs {
    /// JSON-lines file of cases `{"name": ..., "pattern": "<JSON text>", "event": "<JSON text>"}`
    /// (FILE or @FILE; `-` or `@-` for stdin). Prints one line per case: `{"name": ..., "result": "match" | "no_match" |
    /// "error", "reason": ...}`, with `reason` (AWS's text) only for errors. Exits 0 once every case
    /// ran.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pattern", "event"])]
    cases: Option<String>,

    /// The event pattern, or a JSON array of patterns (it matches when one does): inline JSON,
    /// `@FILE`, or `-` (or `@-`) for stdin. Prints `match` (exit 0) or `no match` (exit 1); an
    /// invalid pattern prints AWS's error and exits 2.
    #[arg(long, value_name = "P", requires = "event")]
    pattern: Option<String>,

    /// The event: inline JSON, `@FILE`, or `-` (or `@-`) for stdin.
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
#[command(after_help = "Examples:\n  \
    eventferry pattern validate @events/demo-patterns.json\n  \
    echo '{\"source\":[\"demo.shop\"]}' | eventferry pattern validate -\n\n\
    Exit status: 0 when every pattern is valid; 2 for an invalid one (AWS's error on stdout) or \
    unreadable input.")]
pub struct ValidateArgs {
    /// The event pattern, or a JSON array of patterns (each is checked): inline JSON, `@FILE`, or
    /// `-` (or `@-`) for stdin.
    #[arg(value_name = "P")]
    pattern: String,
}

/// Arguments of `pattern match`.
#[derive(Args)]
#[command(after_help = "Examples:\n  \
    eventferry pattern match --rules @rules.json --events events.jsonl\n  \
    cat events.jsonl | eventferry pattern match --rules '{\"big\":{\"detail\":{\"total\":[{\"numeric\":[\">=\",100]}]}}}' --events - --count\n\n\
    Exit status: 0 when some event matched (always with --count); 1 when none did; 2 for an \
    invalid rule or unreadable input.")]
pub struct MatchArgs {
    /// Named patterns, a JSON object `{"rule-name": <pattern>, ...}`, or a JSON array of patterns
    /// (named 1, 2, ...): a file (FILE or @FILE), inline JSON, or `-` (or `@-`) for stdin.
    #[arg(long, value_name = "RULES.json")]
    rules: String,

    /// Events, one JSON object per line: FILE or @FILE, `-` (or `@-`) for stdin. Read as a
    /// stream. Lines that are not JSON objects are reported on stderr and skipped; blank lines
    /// are skipped.
    #[arg(long, value_name = "EVENTS.jsonl")]
    events: String,

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

/// A stream argument (`--events`, `--cases`): FILE, @FILE, `-` or `@-`.
fn open_input<'a>(flag: &str, value: &'a str) -> io::Result<Box<dyn BufRead + 'a>> {
    ArgSource::of_stream(value).open(flag).map_err(fail)
}

/// The patterns of `flag`: one, or each of an array (see [`split_patterns`]).
fn read_patterns(flag: &str, value: &str) -> io::Result<Vec<String>> {
    split_patterns(flag, &read_arg(flag, value)?).map_err(fail)
}

/// AWS's message for an invalid pattern; with several, which one it is.
fn pattern_error(i: usize, count: usize, message: String) -> String {
    if count == 1 {
        message
    } else {
        format!("pattern {} of {count}: {message}", i + 1)
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
    if let Some(cases) = &args.cases {
        return test_cases(cases, args.require_envelope);
    }
    let (Some(p), Some(e)) = (&args.pattern, &args.event) else {
        return Err(fail("--pattern and --event go together".into()));
    };
    if ArgSource::of(p) == ArgSource::Stdin && ArgSource::of(e) == ArgSource::Stdin {
        return Err(fail(
            "only one of --pattern and --event can be read from stdin".into(),
        ));
    }
    let (patterns, event) = (read_patterns("--pattern", p)?, read_arg("--event", e)?);
    let mut out = io::stdout().lock();
    // An invalid pattern is reported first: that is what the user is testing.
    for (i, pattern) in patterns.iter().enumerate() {
        if let Err(err) = Pattern::parse(pattern) {
            writeln!(
                out,
                "{}",
                pattern_error(i, patterns.len(), err.aws_message())
            )?;
            return Ok(ExitCode::from(2));
        }
    }
    // An array matches when one of its patterns does, as the driver's rules do.
    let mut outcome = Outcome::NoMatch;
    for pattern in &patterns {
        outcome = evaluate(pattern, &event, args.require_envelope);
        if !matches!(outcome, Outcome::NoMatch) {
            break;
        }
    }
    Ok(match outcome {
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

fn test_cases(cases: &str, require_envelope: bool) -> io::Result<ExitCode> {
    let input = open_input("--cases", cases)?;
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
    let patterns = read_patterns("pattern", &args.pattern)?;
    let mut out = io::stdout().lock();
    for (i, pattern) in patterns.iter().enumerate() {
        if let Err(e) = eventferry_pattern::validate(pattern) {
            writeln!(out, "{}", pattern_error(i, patterns.len(), e.aws_message()))?;
            return Ok(ExitCode::from(2));
        }
    }
    writeln!(out, "valid")?;
    Ok(ExitCode::SUCCESS)
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

/// The matcher of `--rules`: `{"rule-name": <pattern>, ...}` (rules in file order) or an array
/// of patterns named 1, 2, ...
fn load_matcher(value: &str) -> io::Result<Matcher> {
    let from = ArgSource::of_file_or_json(value);
    let text = from.read("--rules").map_err(fail)?;
    let rules = if text.trim_start().starts_with('[') {
        let items: Vec<Box<RawValue>> = serde_json::from_str(&text).map_err(|e| {
            fail(format!(
                "--rules: {from} is not a JSON array of patterns: {e}"
            ))
        })?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, p)| ((i + 1).to_string(), p))
            .collect()
    } else {
        let RuleFile(rules) = serde_json::from_str(&text).map_err(|e| {
            fail(format!(
                "--rules: {from} is not a JSON object of named rules (or an array of patterns): {e}"
            ))
        })?;
        rules
    };
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
    if ArgSource::of_file_or_json(&args.rules) == ArgSource::Stdin
        && ArgSource::of_stream(&args.events) == ArgSource::Stdin
    {
        return Err(fail(
            "only one of --rules and --events can be read from stdin".into(),
        ));
    }
    let matcher = load_matcher(&args.rules)?;
    let mut input = open_input("--events", &args.events)?;
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
