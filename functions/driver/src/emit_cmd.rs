//! `eventferry emit`: put events on an EventBridge bus (PutEvents), in the spirit of
//! `dispatch emit`. Prints the id of every event put, one per line; with `--trace`, each event
//! starts its own X-Ray trace (PutEvents `TraceHeader`) and the line also holds its trace id.

use std::process::ExitCode;

use clap::Args;
use eventferry_aws::eventbridge::{put_events_batches, EventBridge, EventEntry};
use eventferry_core::trace::TraceContext;
use serde_json::Value;

use crate::cli::{block_on, ArgSource, AwsArgs, RuntimeFlavor};
use crate::drive::ferry::new_trace_root;

/// Put events on an EventBridge bus and print their ids, one per line.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    eventferry emit --source demo.shop --detail-type OrderPlaced --detail '{\"order\":\"o-1\",\"total\":250}'\n  \
    eventferry emit --source demo.shop --detail-type OrderPlaced --detail @order.json --count 100 --bus orders\n  \
    eventferry emit --source demo.shop --detail-type OrderPlaced --trace   # prints: <event id> <trace id> <X-Ray trace id>\n\n\
    Exit status: 0 when every event was put; 1 when PutEvents failed or refused some entries (the \
    ids of those put are printed); 2 for bad input, an unusable AWS setup or a mistyped \
    EVENTFERRY_* variable.")]
pub struct EmitArgs {
    /// The EventBridge `source` of the events, e.g. com.example.orders (not a CloudEvent source:
    /// `drive --ce-source` sets that).
    #[arg(long, env = "EVENTFERRY_EMIT_SOURCE", value_name = "SOURCE")]
    pub source: String,
    /// The events' detail-type, e.g. "Order Placed".
    #[arg(long, env = "EVENTFERRY_EMIT_DETAIL_TYPE", value_name = "TYPE")]
    pub detail_type: String,
    /// The events' detail: a JSON object, @FILE to read it from a file, or - (or @-) for stdin.
    #[arg(
        long,
        env = "EVENTFERRY_EMIT_DETAIL",
        default_value = "{}",
        value_name = "JSON|@FILE"
    )]
    pub detail: String,
    /// The event bus to put the events on (name or ARN).
    #[arg(
        long,
        visible_alias = "event-bus",
        env = "EVENTFERRY_EVENT_BUS",
        default_value = "default",
        value_name = "BUS"
    )]
    pub bus: String,
    /// How many (identical) events to put; they go in batches of 10.
    #[arg(
        long,
        env = "EVENTFERRY_EMIT_COUNT",
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=100_000)
    )]
    pub count: u32,
    /// An ARN the events concern (repeat the flag, or separate with commas, for several).
    #[arg(
        long = "resources",
        visible_alias = "resource",
        env = "EVENTFERRY_EMIT_RESOURCES",
        value_delimiter = ',',
        value_name = "ARN"
    )]
    pub resources: Vec<String>,
    /// Start a new trace for each event: PutEvents gets an X-Ray `TraceHeader` (random ids,
    /// sampled), which EventBridge passes on to its targets (an SQS target gets it as the
    /// message's `AWSTraceHeader`, which `drive` turns into the CloudEvent `traceparent`). Each
    /// printed line is then `<event id> <trace id> <X-Ray trace id>`, e.g.
    /// `6f0c… 5759e988bd862e3fe1be46a994272793 1-5759e988-bd862e3fe1be46a994272793`.
    #[arg(long, env = "EVENTFERRY_EMIT_TRACE")]
    pub trace: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Read `--detail`: inline JSON, `@file`, `-` or `@-`; it must be a JSON object. `Err` names the flag
/// and says what would be right.
fn read_detail(arg: &str) -> Result<String, String> {
    let from = ArgSource::of(arg);
    let text = from.read("--detail")?;
    let example = r#"e.g. --detail '{"orderId":"42"}' or --detail @detail.json"#;
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(serde_json::to_string(&v).expect("JSON serializes")),
        Ok(other) => Err(format!(
            "--detail: {from} is JSON {}, not an object; give a JSON object, {example}",
            kind(&other)
        )),
        Err(e) => Err(format!(
            "--detail: {from} is not valid JSON ({e}); give a JSON object, {example}"
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Check the flags and build the entries; `Err` is a message about bad input.
fn entries(args: &EmitArgs) -> Result<Vec<EventEntry>, String> {
    if args.source.trim().is_empty() {
        return Err("--source is empty: give the events' source, e.g. com.example.orders".into());
    }
    if args.detail_type.trim().is_empty() {
        return Err(
            "--detail-type is empty: give the events' detail-type, e.g. \"Order Placed\"".into(),
        );
    }
    if args.bus.trim().is_empty() {
        return Err("--bus is empty: use `default` or the name or ARN of a custom bus".into());
    }
    if let Some(bad) = args.resources.iter().find(|r| r.trim().is_empty()) {
        return Err(format!(
            "--resources {bad:?} is empty: give an ARN, e.g. arn:aws:s3:::my-bucket"
        ));
    }
    let detail = read_detail(&args.detail)?;
    let entry = EventEntry {
        event_bus: args.bus.clone(),
        source: args.source.clone(),
        detail_type: args.detail_type.clone(),
        detail,
        resources: args.resources.clone(),
        trace_header: None,
    };
    Ok((0..args.count)
        .map(|_| EventEntry {
            trace_header: args.trace.then(|| new_trace_root().xray_header()),
            ..entry.clone()
        })
        .collect())
}

/// The line printed for an event put: its id, and with a trace header its trace id in W3C and
/// X-Ray form.
fn put_line(id: &str, entry: &EventEntry) -> String {
    match entry
        .trace_header
        .as_deref()
        .and_then(|header| TraceContext::from_xray(header).ok())
    {
        Some(trace) => format!("{id} {} {}", trace.trace_id_hex(), trace.xray_trace_id()),
        None => id.to_owned(),
    }
}

/// Run `eventferry emit` (builds its own tokio runtime). Exit 0 when every event was put, 1 if
/// any failed, 2 on bad input.
pub fn run(args: EmitArgs) -> ExitCode {
    block_on("emit", RuntimeFlavor::CurrentThread, run_async(args))
}

/// The same as [`run`], on the caller's runtime.
pub async fn run_async(args: EmitArgs) -> ExitCode {
    let entries = match entries(&args) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("eventferry emit: {message}");
            return ExitCode::from(2);
        }
    };
    let cfg = match args.aws.load().await {
        Ok(cfg) => cfg,
        Err(message) => {
            eprintln!("eventferry emit: {message}");
            return ExitCode::from(2);
        }
    };
    let eb = EventBridge::new(&cfg);
    let mut failed = 0usize;
    let mut done = 0usize;
    // Batch by batch (10 entries, 256 KiB), so the ids of what was put are printed even if a
    // later call fails. No retry of our own: PutEvents is not idempotent (the SDK retries what is
    // safe).
    for batch in put_events_batches(&entries) {
        match eb.put_events_batch(batch).await {
            Ok(results) => {
                for result in results {
                    done += 1;
                    match result {
                        Ok(id) => println!("{}", put_line(&id, &entries[done - 1])),
                        Err(f) => {
                            failed += 1;
                            eprintln!(
                                "eventferry emit: event {done} of {} failed: {f}",
                                entries.len()
                            );
                        }
                    }
                }
            }
            Err(e) => {
                let left = entries.len() - done;
                eprintln!(
                    "eventferry emit: PutEvents on bus {} failed, {left} event(s) not put: {e}",
                    args.bus
                );
                if let Some(hint) = crate::hints::hint(e.kind) {
                    eprintln!("eventferry emit: {hint}");
                }
                return ExitCode::from(1);
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "eventferry emit: {failed} of {} event(s) failed",
            entries.len()
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmitArgs,
    }

    fn parse(extra: &[&str]) -> EmitArgs {
        let mut argv = vec!["emit", "--source", "com.example", "--detail-type", "Thing"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn defaults_and_batches() {
        let args = parse(&[]);
        assert_eq!(args.bus, "default");
        assert_eq!(args.count, 1);
        let e = entries(&args).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].detail, "{}");
        let args = parse(&[
            "--count",
            "23",
            "--detail",
            r#"{"b":1,"a":[true]}"#,
            "--resources",
            "arn:a,arn:b",
            "--resource",
            "arn:c",
        ]);
        let e = entries(&args).unwrap();
        assert_eq!(e.len(), 23);
        assert_eq!(e[22].resources, vec!["arn:a", "arn:b", "arn:c"]);
        assert_eq!(
            serde_json::from_str::<Value>(&e[0].detail).unwrap(),
            serde_json::json!({"a": [true], "b": 1})
        );
    }

    #[test]
    fn detail_must_be_a_json_object_and_errors_name_the_flag() {
        for (detail, says) in [
            ("[1,2]", "is JSON an array, not an object"),
            ("\"x\"", "is JSON a string, not an object"),
            ("{nope", "is not valid JSON"),
            (
                "@/nonexistent/detail.json",
                "--detail @/nonexistent/detail.json: cannot read the file",
            ),
        ] {
            let err = entries(&parse(&["--detail", detail])).unwrap_err();
            assert!(err.starts_with("--detail"), "{err}");
            assert!(err.contains(says), "{err} should say {says:?}");
        }
    }

    #[test]
    fn detail_from_a_file() {
        let path =
            std::env::temp_dir().join(format!("eventferry-emit-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"from":"file"}"#).unwrap();
        let arg = format!("@{}", path.display());
        let e = entries(&parse(&["--detail", &arg])).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(e[0].detail, r#"{"from":"file"}"#);
    }

    #[test]
    fn bad_counts_and_empty_values_are_rejected() {
        let base = ["emit", "--source", "s", "--detail-type", "t"];
        for bad in ["0", "-1", "x"] {
            let mut argv = base.to_vec();
            argv.extend(["--count", bad]);
            assert!(Cli::try_parse_from(argv).is_err(), "--count {bad}");
        }
        let err = entries(&parse(&["--bus", ""])).unwrap_err();
        assert!(err.starts_with("--bus"), "{err}");
        let mut args = parse(&[]);
        args.source = " ".into();
        assert!(entries(&args).unwrap_err().starts_with("--source"));
    }

    #[test]
    fn trace_gives_each_event_its_own_valid_header_and_prints_its_trace_id() {
        let plain = entries(&parse(&["--count", "2"])).unwrap();
        assert!(plain.iter().all(|e| e.trace_header.is_none()));
        assert_eq!(put_line("id-1", &plain[0]), "id-1");

        let traced = entries(&parse(&["--count", "3", "--trace"])).unwrap();
        let contexts: Vec<TraceContext> = traced
            .iter()
            .map(|e| TraceContext::from_xray(e.trace_header.as_deref().unwrap()).unwrap())
            .collect();
        assert!(contexts.iter().all(TraceContext::sampled));
        let ids: std::collections::HashSet<String> =
            contexts.iter().map(TraceContext::trace_id_hex).collect();
        assert_eq!(ids.len(), 3, "each event starts its own trace");
        let line = put_line("id-1", &traced[0]);
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], "id-1");
        assert_eq!(parts[1], contexts[0].trace_id_hex());
        assert_eq!(parts[2], contexts[0].xray_trace_id());
    }
}
