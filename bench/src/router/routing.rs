//! Routing cost (criterion): per event, at each of [`SIZES`] subscriptions, the decision alone
//! (`route`) and the whole in-process handler with no-op ports (`handler`).

use std::path::Path;
use std::time::Duration;

use criterion::{black_box, BatchSize, BenchmarkId, Criterion, Throughput};
use eventferry_core::event_view::EventView;
use eventferry_core::route::Router;
use eventferry_core::structured::parse_structured_value;
use eventferry_router::config::Settings;
use eventferry_router::{Handler, Ports};
use serde_json::{json, Value};

use super::ports::{NoHttp, NoInvoke, NoQueue, NoReceiver, NoSink};
use super::workload::{bench_event, config};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn estimate_ns(dir: &Path, group: &str, function: &str, n: usize) -> f64 {
    let path = dir
        .join(group)
        .join(function)
        .join(n.to_string())
        .join("new/estimates.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("criterion estimates are JSON");
    v["mean"]["point_estimate"].as_f64().expect("mean estimate")
}

/// Runs the criterion group `router` and reads back its mean estimates, one row per size.
pub fn routing_cost(quick: bool, root: &Path) -> Value {
    let dir = root.join("target/bench/criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .without_plots()
        .sample_size(if quick { 10 } else { 50 })
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 3000 }));
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
        let handler = Handler::new(
            config(n),
            Settings::default(),
            Ports {
                invoker: NoInvoke,
                http: NoHttp,
                queue: NoQueue,
                sink: NoSink,
            },
            Box::new(NoReceiver),
        );
        // The handler's own answer, once: it must have invoked every matched subscription.
        let answer = futures::executor::block_on(handler.handle(payload.clone(), "check"))
            .expect("the handler accepts the bench event");
        let invoked = answer["results"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(invoked, matched, "handler and router disagree: {answer}");
        group.bench_with_input(BenchmarkId::new("handler", n), &n, |b, _| {
            b.iter_batched(
                || payload.clone(),
                |p| black_box(futures::executor::block_on(handler.handle(p, "bench")).is_ok()),
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
