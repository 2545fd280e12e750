//! Routing cost (criterion): per event, at each of [`SIZES`] subscriptions, the decision alone
//! (`route`) and the whole in-process handler with no-op ports and no system-event consumer
//! (`handler`); and at 1,000 subscriptions the handler with each system-event sink
//! ([`system_cost`]).

use std::path::Path;
use std::time::Duration;

use criterion::{black_box, BatchSize, BenchmarkId, Criterion, Throughput};
use eventferry_core::event_view::EventView;
use eventferry_core::route::Router;
use eventferry_core::structured::parse_structured_value;
use eventferry_router::adapters::LogSystemSink;
use eventferry_router::config::{default_log_filter, Settings};
use eventferry_router::ports::SystemSink;
use eventferry_router::{Handler, Ports};
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::cpu::ThreadCpu;
use super::ports::{NoHttp, NoInvoke, NoPutEvents, NoQueue, NoReceiver, NoSink};
use super::workload::{bench_event, config};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// Criterion's mean estimate of one benchmark, or `None` (null in the JSON, NaN in the tables)
/// when it was never measured: `EVENTFERRY_BENCH_FILTER` left it out on a checkout that has no
/// earlier estimate of it.
fn estimate_ns(dir: &Path, group: &str, function: &str, n: impl ToString) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join(n.to_string())
        .join("new/estimates.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "no estimate of {group}/{function}/{} ({}: {e}): not run under \
                 EVENTFERRY_BENCH_FILTER and never measured here; run once without the filter",
                n.to_string(),
                path.display()
            );
            return None;
        }
    };
    let v: Value = serde_json::from_str(&text).expect("criterion estimates are JSON");
    Some(v["mean"]["point_estimate"].as_f64().expect("mean estimate"))
}

/// Criterion as the tables use it. `EVENTFERRY_BENCH_FILTER=<regex>` runs only the matching
/// benchmarks (for profiling one with perf; the tables then show older estimates for the rest).
fn criterion(quick: bool, dir: &Path) -> Criterion<ThreadCpu> {
    let c = Criterion::default().with_measurement(ThreadCpu);
    let c = match std::env::var("EVENTFERRY_BENCH_FILTER") {
        Ok(filter) => c.with_filter(filter),
        Err(_) => c,
    };
    c.output_directory(dir)
        .without_plots()
        .sample_size(if quick { 10 } else { 50 })
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 3000 }))
}

/// The handler over no-op ports and `sink`, checked once: it must invoke every subscription
/// the decision matched.
fn bench_handler<S: SystemSink>(
    n: usize,
    sink: S,
    payload: &Value,
    matched: usize,
) -> Handler<NoInvoke, NoHttp, NoQueue, S> {
    let handler = Handler::new(
        config(n),
        Settings::default(),
        Ports {
            invoker: NoInvoke,
            http: NoHttp,
            queue: NoQueue,
            sink,
        },
        Box::new(NoReceiver),
    );
    let answer = futures::executor::block_on(handler.handle(payload.clone(), "check"))
        .expect("the handler accepts the bench event");
    let invoked = answer["results"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(invoked, matched, "handler and router disagree: {answer}");
    handler
}

/// One invocation as the Lambda runtime makes it: the handler's answer, serialized to the bytes
/// the runtime posts back (so an answer's rendering is measured whatever its form).
fn respond<S: SystemSink>(
    handler: &Handler<NoInvoke, NoHttp, NoQueue, S>,
    payload: Value,
) -> usize {
    let answer = futures::executor::block_on(handler.respond(payload, "bench"))
        .expect("the handler accepts the bench event");
    serde_json::to_vec(&answer)
        .expect("answers serialize")
        .len()
}

/// Runs the criterion group `router` and reads back its mean estimates, one row per size.
pub fn routing_cost(quick: bool, root: &Path) -> Value {
    let dir = root.join("target/bench/criterion");
    let mut c = criterion(quick, &dir);
    let payload = bench_event();
    let event = parse_structured_value(&payload).expect("the bench event is a CloudEvent");
    let mut rows = Vec::new();
    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    for n in SIZES {
        let router = Router::new(config(n).subscriptions);
        let matched = router.route(&EventView::new(&event)).len();
        group.bench_with_input(BenchmarkId::new("route", n), &n, |b, _| {
            b.iter(|| {
                let view = EventView::new(black_box(&event));
                black_box(router.route(&view).len())
            })
        });
        let handler = bench_handler(n, NoSink, &payload, matched);
        group.bench_with_input(BenchmarkId::new("handler", n), &n, |b, _| {
            b.iter_batched(
                || payload.clone(),
                |p| black_box(respond(&handler, p)),
                BatchSize::SmallInput,
            )
        });
        rows.push((n, matched));
    }
    group.finish();
    Value::Array(
        rows.into_iter()
            .map(|(n, matched)| {
                json!({
                    "subscriptions": n,
                    "matched": matched,
                    "route_ns": estimate_ns(&dir, "router", "route", n),
                    "handler_ns": estimate_ns(&dir, "router", "handler", n),
                })
            })
            .collect(),
    )
}

/// The system-event consumers compared at [`SYSTEM_AT`] subscriptions: label, what it is.
pub const CONSUMERS: [(&str, &str); 4] = [
    ("none", "no consumer (`off`, no plugins)"),
    ("log", "compact log sink (`log`, the default)"),
    ("log-payload", "log sink with payloads (`log+payload`)"),
    (
        "putevents",
        "PutEvents sink (entries built, batched, encoded; no call)",
    ),
];

/// Subscriptions of the system-event comparison.
pub const SYSTEM_AT: usize = 1_000;

/// The whole handler at [`SYSTEM_AT`] subscriptions with each of [`CONSUMERS`], next to the
/// decision measured in the same group (criterion group `router-system`). The log sinks' JSON
/// lines (tracing's, as the router's subscriber makes them: `fmt().json()`, no time, its
/// default filter `info`; the compact sink's own) go to `io::sink` or nowhere: making a line
/// is measured, the write to stdout is not.
pub fn system_cost(quick: bool, root: &Path) -> Value {
    let dir = root.join("target/bench/criterion");
    let mut c = criterion(quick, &dir);
    let payload = bench_event();
    let event = parse_structured_value(&payload).expect("the bench event is a CloudEvent");
    let router = Router::new(config(SYSTEM_AT).subscriptions);
    let matched = router.route(&EventView::new(&event)).len();
    let mut group = c.benchmark_group("router-system");
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(BenchmarkId::new("route", SYSTEM_AT), &SYSTEM_AT, |b, _| {
        b.iter(|| {
            let view = EventView::new(black_box(&event));
            black_box(router.route(&view).len())
        })
    });
    fn run<S: SystemSink>(
        group: &mut criterion::BenchmarkGroup<'_, ThreadCpu>,
        label: &str,
        handler: &Handler<NoInvoke, NoHttp, NoQueue, S>,
        payload: &Value,
    ) {
        group.bench_with_input(BenchmarkId::new("handler", label), &label, |b, _| {
            b.iter_batched(
                || payload.clone(),
                |p| black_box(respond(handler, p)),
                BatchSize::SmallInput,
            )
        });
    }
    let log_lines = || {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .without_time()
            .with_writer(std::io::sink)
            .finish()
            .with(default_log_filter())
            .set_default()
    };
    for (label, _) in CONSUMERS {
        match label {
            "none" => run(
                &mut group,
                label,
                &bench_handler(SYSTEM_AT, NoSink, &payload, matched),
                &payload,
            ),
            "log" | "log-payload" => {
                let sink = LogSystemSink {
                    payload: label == "log-payload",
                    // As `io::sink` for tracing's lines: the line is made, the write is not
                    // measured.
                    write_line: |line| {
                        black_box(line);
                        Ok(())
                    },
                };
                let handler = bench_handler(SYSTEM_AT, sink, &payload, matched);
                let _lines = log_lines();
                run(&mut group, label, &handler, &payload);
            }
            "putevents" => run(
                &mut group,
                label,
                &bench_handler(SYSTEM_AT, NoPutEvents, &payload, matched),
                &payload,
            ),
            other => unreachable!("{other}"),
        }
    }
    group.finish();
    let route_ns = estimate_ns(&dir, "router-system", "route", SYSTEM_AT);
    Value::Array(
        CONSUMERS
            .iter()
            .map(|(label, what)| {
                json!({
                    "consumer": label,
                    "what": what,
                    "subscriptions": SYSTEM_AT,
                    "matched": matched,
                    "route_ns": route_ns,
                    "handler_ns": estimate_ns(&dir, "router-system", "handler", label),
                })
            })
            .collect(),
    )
}
