//! The router:
//!
//! - **routing cost** (criterion): per event, with 10, 100, 1,000 and 10,000 subscriptions mixing
//!   type-only, filtered and patterned ones. Two levels: `route` is the decision alone
//!   (`EventView::new` + `Router::route` from `eventferry_core::route`, what the handler calls per
//!   event); `handler` is the whole in-process `Handler::handle` of a structured CloudEvent with
//!   no-op ports (invoke I/O excluded, but decoding, matching, per-subscriber payloads, system
//!   events, result handling and the response included);
//! - **cold start**: exec of the release `router` binary to the first event handled, with the
//!   Lambda Runtime API served by this process on 127.0.0.1;
//! - **size and memory**: the stripped release bootstrap, and the cold process's max RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{black_box, BatchSize, BenchmarkId, Criterion, Throughput};
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_aws::AwsError;
use eventferry_core::mapping::parse_structured_value;
use eventferry_core::route::{EventView, InvocationResult, Router};
use eventferry_core::subscription::Config;
use eventferry_router::config::Settings;
use eventferry_router::ports::{
    EmitError, HttpAnswer, HttpPoster, PostError, QueueWriter, ResponseReceiver, SystemSink,
};
use eventferry_router::{Handler, Ports};
use serde_json::{json, Value};

use crate::common::{self, met, ratio};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// `n` subscriptions: 40 % type-only, 30 % filtered, 30 % patterned (half of those for every
/// type). Types are spread so each has about 10 subscriptions; the bench event's type is
/// `com.example.t0`. About 9 of them match the bench event at every size, so the handler's
/// fan-out stays the same and only the routing work grows.
pub fn subscriptions(n: usize) -> Value {
    let types = (n / 10).max(1);
    let subs: Vec<Value> = (0..n)
        .map(|i| {
            let ty = format!("com.example.t{}", i % types);
            let mut s = json!({"name": format!("sub-{i}"), "function": format!("fn-{i}")});
            match i % 10 {
                0..=3 => s["types"] = json!([ty]),
                4..=6 => {
                    s["types"] = json!([ty]);
                    s["filters"] = json!([
                        {"exact": {"tenant": if i % 3 == 0 { "acme" } else { "globex" }}},
                        {"prefix": {"subject": "orders/"}}
                    ]);
                }
                _ if i % 2 == 0 => {
                    s["types"] = json!([ty]);
                    s["pattern"] = json!({"data": {
                        "total": [{"numeric": [">=", 100]}],
                        "items": {"sku": [{"prefix": "sku-"}]}
                    }});
                }
                _ => {
                    // No types: a candidate for every event, decided by the pattern matcher.
                    s["pattern"] = json!({"data": {
                        "customer": {"id": [format!("c-{i}")]},
                        "total": [{"numeric": [">", 10]}]
                    }});
                }
            }
            s
        })
        .collect();
    Value::Array(subs)
}

pub fn bench_event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "bench-1",
        "source": "urn:eventferry:bench",
        "type": "com.example.t0",
        "subject": "orders/123",
        "tenant": "acme",
        "time": "2026-11-23T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "orderId": "order-123",
            "customer": {"id": "c-7", "tier": "gold"},
            "total": 500,
            "items": [{"sku": "sku-1", "qty": 2, "price": 12.5}, {"sku": "sku-9", "qty": 1, "price": 99.0}],
            "shipping": {"country": "DE", "city": "Berlin"}
        }
    })
}

// No-op ports: every call answers at once, so only the router's own work is measured.
struct NoInvoke;
impl Invoker for NoInvoke {
    async fn invoke(
        &self,
        _function: &str,
        payload: Vec<u8>,
        _mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        black_box(payload);
        Ok(InvokeOutcome::Ok {
            status: 200,
            payload: b"{}".to_vec(),
        })
    }
}
struct NoHttp;
impl HttpPoster for NoHttp {
    async fn post(
        &self,
        _url: &str,
        _headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        black_box(body);
        Ok(HttpAnswer {
            status: 200,
            body: Vec::new(),
        })
    }
}
struct NoQueue;
impl QueueWriter for NoQueue {
    async fn send(&self, _url: &str, body: String, _delay: u32) -> Result<(), AwsError> {
        black_box(body);
        Ok(())
    }
}
struct NoSink;
impl SystemSink for NoSink {
    async fn emit(&self, events: &[cloudevents::Event]) -> Result<(), EmitError> {
        black_box(events.len());
        Ok(())
    }
}
struct NoReceiver;
impl ResponseReceiver for NoReceiver {
    fn receive(&self, _event: &cloudevents::Event, result: &InvocationResult) {
        black_box(result);
    }
}

fn config(n: usize) -> Config {
    Config::from_value(&subscriptions(n), "bench").expect("generated subscriptions are valid")
}

pub fn main(args: &[String]) {
    let quick = common::flag(args, "--quick");
    let root = common::repo_root();
    let out = common::opt(args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench/router.json"));
    let router_bin = common::opt(args, "--router")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/router"));
    // Optional second build of the router to compare (e.g. opt-level "s"): LABEL=PATH.
    let variants: Vec<(String, PathBuf)> = std::iter::once(("release".to_owned(), router_bin))
        .chain(
            args.iter()
                .enumerate()
                .filter(|(_, a)| *a == "--variant")
                .filter_map(|(i, _)| args.get(i + 1))
                .filter_map(|v| v.split_once('='))
                .map(|(l, p)| (l.to_owned(), PathBuf::from(p))),
        )
        .collect();
    let started = Instant::now();

    let routing = routing_cost(quick, &root);
    let reps = if quick { 5 } else { 20 };
    let mut builds = Vec::new();
    for (label, bin) in &variants {
        builds.push(build_figures(label, bin, reps, &root));
    }
    let arm64 = arm64_bootstrap(&root);

    let targets = report(&routing, &builds, &arm64);
    common::write_json(
        &out,
        &json!({
            "commit": common::commit(),
            "quick": quick,
            "routing": routing,
            "builds": builds,
            "arm64_bootstrap": arm64,
            "targets": targets,
            "wall_seconds": started.elapsed().as_secs_f64(),
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// Routing cost (criterion)

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

fn routing_cost(quick: bool, root: &Path) -> Value {
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

// ---------------------------------------------------------------------------------------------
// Cold start, size, memory

#[derive(Default)]
struct ApiState {
    t0: Mutex<Option<Instant>>,
    next_at: Mutex<Option<Instant>>,
    response_at: Mutex<Option<Instant>>,
    response: Mutex<Option<(String, Vec<u8>)>>,
    served: AtomicBool,
    sink_hits: Mutex<u32>,
    done: tokio::sync::Notify,
}

/// A minimal Lambda Runtime API: one event on the first `next`, then nothing; the answer is
/// recorded. `/sink` is the subscription's HTTP target.
async fn serve_api(state: Arc<ApiState>, event: Value) -> (u16, tokio::task::JoinHandle<()>) {
    use axum::http::{Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let body = event.to_string();
    let app = axum::Router::new()
        .fallback(
            move |axum::extract::State(s): axum::extract::State<Arc<ApiState>>,
                  method: Method,
                  uri: Uri,
                  request: axum::body::Bytes| {
                let body = body.clone();
                async move {
                    let path = uri.path().to_owned();
                    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
                        if s.served.swap(true, Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        *s.next_at.lock().unwrap() = Some(Instant::now());
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 30_000;
                        return (
                            StatusCode::OK,
                            [
                                ("lambda-runtime-aws-request-id", "cold-start-1".to_owned()),
                                ("lambda-runtime-deadline-ms", deadline.to_string()),
                                (
                                    "lambda-runtime-invoked-function-arn",
                                    "arn:aws:lambda:us-east-1:000000000000:function:router"
                                        .to_owned(),
                                ),
                                (
                                    "lambda-runtime-trace-id",
                                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                                ),
                                ("content-type", "application/json".to_owned()),
                            ],
                            body,
                        )
                            .into_response();
                    }
                    if method == Method::POST && path == "/sink" {
                        *s.sink_hits.lock().unwrap() += 1;
                        return StatusCode::OK.into_response();
                    }
                    if method == Method::POST && path.starts_with("/2018-06-01/runtime/") {
                        let now = Instant::now();
                        let kind = path.rsplit('/').next().unwrap_or_default().to_owned();
                        s.response_at.lock().unwrap().get_or_insert(now);
                        s.response
                            .lock()
                            .unwrap()
                            .get_or_insert((kind, request.to_vec()));
                        s.done.notify_one();
                        return StatusCode::ACCEPTED.into_response();
                    }
                    StatusCode::NOT_FOUND.into_response()
                }
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the runtime API");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, task)
}

struct Cold {
    init_ms: f64,
    first_event_ms: f64,
    max_rss_kib: u64,
}

async fn cold_start(bin: &Path, subs: &Subs, log: &Path) -> Cold {
    let state = Arc::new(ApiState::default());
    let event = json!({
        "specversion": "1.0", "id": "cold-1", "source": "urn:eventferry:bench",
        "type": "com.example.cold", "time": "2026-11-23T10:00:00Z",
        "datacontenttype": "application/json", "data": {"hello": "world"}
    });
    let (port, server) = serve_api(state.clone(), event).await;
    let mut cmd = router_command(bin, port, subs, log);
    let t0 = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("exec {}: {e}", bin.display()));
    *state.t0.lock().unwrap() = Some(t0);
    let pid = child.id();
    if tokio::time::timeout(Duration::from_secs(30), state.done.notified())
        .await
        .is_err()
    {
        common::signal(pid, libc::SIGKILL);
        panic!(
            "the router never answered its first event; see {}",
            log.display()
        );
    }
    // VmHWM, not wait4's ru_maxrss: that one includes the forked copy of this process.
    let max_rss_kib = common::proc_hwm_kib(pid).unwrap_or(0);
    common::signal(pid, libc::SIGTERM);
    tokio::task::spawn_blocking(move || common::wait4(child))
        .await
        .expect("wait4 thread");
    server.abort();
    state.cold(t0, max_rss_kib)
}

impl ApiState {
    /// The figures of a cold start that began at `t0`, after checking the router answered
    /// `response` and the subscriber got the event once.
    fn cold(&self, t0: Instant, max_rss_kib: u64) -> Cold {
        let (kind, body) = self.response.lock().unwrap().clone().expect("an answer");
        assert_eq!(
            kind,
            "response",
            "the router answered {kind}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            *self.sink_hits.lock().unwrap(),
            1,
            "the subscriber got the event once"
        );
        let next = self.next_at.lock().unwrap().expect("next called");
        let resp = self.response_at.lock().unwrap().expect("answered");
        Cold {
            init_ms: next.duration_since(t0).as_secs_f64() * 1e3,
            first_event_ms: resp.duration_since(t0).as_secs_f64() * 1e3,
            max_rss_kib,
        }
    }
}

/// The release router as Lambda starts it, against the Runtime API on 127.0.0.1:`port`, with the
/// `cold` subscription (HTTP to `/sink` there) and, for [`Subs::File`], the generated ones.
fn router_command(bin: &Path, port: u16, subs: &Subs, log: &Path) -> Command {
    let sink = format!("http://127.0.0.1:{port}/sink");
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/router")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("LAMBDA_TASK_ROOT", std::env::temp_dir())
        .env("RUST_LOG", "info")
        .env("EVENTFERRY_SYSTEM_EVENTS", "log")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create log"));
    let cold = json!({"name": "cold", "types": ["com.example.cold"], "http": sink});
    match subs {
        Subs::One => {
            cmd.env("EVENTFERRY_SUBSCRIPTIONS", json!([cold]).to_string());
        }
        Subs::File(n, path) => {
            let mut all = subscriptions(*n);
            all.as_array_mut().unwrap().push(cold);
            std::fs::write(path, all.to_string()).expect("write subscriptions");
            cmd.env("EVENTFERRY_SUBSCRIPTIONS_FILE", path);
        }
    }
    cmd
}

enum Subs {
    One,
    File(usize, PathBuf),
}

fn elf_machine(path: &Path) -> Option<&'static str> {
    let bytes = std::fs::read(path).ok()?;
    match bytes.get(18..20)? {
        [0x3e, 0] => Some("x86_64"),
        [0xb7, 0] => Some("aarch64"),
        _ => Some("other"),
    }
}

fn build_figures(label: &str, bin: &Path, reps: usize, root: &Path) -> Value {
    assert!(
        bin.is_file(),
        "{} not found: build it with `cargo build --release -p eventferry-router --bin router`",
        bin.display()
    );
    let size = std::fs::metadata(bin).expect("stat the router").len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let logs = root.join("target/bench/logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let mut variants = Vec::new();
    for (what, subs) in [
        ("1 subscription (inline)", Subs::One),
        (
            "1,001 subscriptions (file)",
            Subs::File(
                1_000,
                root.join("target/bench/router-subscriptions-1000.json"),
            ),
        ),
    ] {
        let runs: Vec<Cold> = (0..reps)
            .map(|i| {
                rt.block_on(cold_start(
                    bin,
                    &subs,
                    &logs.join(format!("router-{label}-cold-{i}.log")),
                ))
            })
            .collect();
        let mut init: Vec<f64> = runs.iter().map(|r| r.init_ms).collect();
        let mut first: Vec<f64> = runs.iter().map(|r| r.first_event_ms).collect();
        init.sort_by(f64::total_cmp);
        first.sort_by(f64::total_cmp);
        let rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
        variants.push(json!({
            "subscriptions": what,
            "runs": reps,
            "init_ms_p50": common::percentile(&init, 50.0),
            "init_ms_max": init.last(),
            "first_event_ms_p50": common::percentile(&first, 50.0),
            "first_event_ms_p95": common::percentile(&first, 95.0),
            "first_event_ms_max": first.last(),
            "max_rss_kib": rss,
        }));
    }
    json!({
        "label": label,
        "path": bin.display().to_string(),
        "arch": elf_machine(bin),
        "bytes": size,
        "cold_start": variants,
    })
}

fn arm64_bootstrap(root: &Path) -> Value {
    let path = root.join("target/lambda/router/bootstrap");
    match std::fs::metadata(&path) {
        Ok(m) if elf_machine(&path) == Some("aarch64") => {
            let age = m
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs());
            json!({"path": "target/lambda/router/bootstrap", "bytes": m.len(), "built_seconds_ago": age})
        }
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------------

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB ({:.2} MB)", bytes / 1048576.0, bytes / 1e6)
}

/// Prints the three tables; returns the targets for the JSON.
fn report(routing: &Value, builds: &[Value], arm64: &Value) -> Value {
    let rows = routing.as_array().expect("rows");
    routing_table(rows);
    builds_table(builds, arm64);
    let figures = Figures::of(rows, builds);
    targets_table(&figures, builds, arm64);
    figures.to_json()
}

fn routing_table(rows: &[Value]) {
    println!("\n## Router routing cost per event (criterion mean; subscriptions 40 % type-only, 30 % filtered, 30 % patterned)\n");
    println!("| subscriptions | matched | route (decision) ns/event | handler, no-op ports, ns/event | × 10 subs (handler) |");
    println!("|---|---|---|---|---|");
    let h10 = rows[0]["handler_ns"].as_f64().unwrap_or(f64::NAN);
    for r in rows {
        let h = r["handler_ns"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {:.0} | {:.0} | {} |",
            r["subscriptions"],
            r["matched"],
            r["route_ns"].as_f64().unwrap_or(f64::NAN),
            h,
            ratio(h / h10)
        );
    }
}

fn builds_table(builds: &[Value], arm64: &Value) {
    println!("\n## Router binary: size, cold start (exec → first event handled, Runtime API on 127.0.0.1), memory\n");
    println!("| build | arch | stripped size | subscriptions | init (exec → first /next) p50 ms | first event handled p50 ms | p95 ms | max ms | max RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for b in builds {
        for v in b["cold_start"].as_array().unwrap() {
            println!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                b["label"].as_str().unwrap_or_default(),
                b["arch"].as_str().unwrap_or_default(),
                mib(b["bytes"].as_f64().unwrap_or(f64::NAN)),
                v["subscriptions"].as_str().unwrap_or_default(),
                v["init_ms_p50"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_p50"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_p95"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_max"].as_f64().unwrap_or(f64::NAN),
                v["max_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            );
        }
    }
    if let Some(bytes) = arm64["bytes"].as_f64() {
        println!(
            "| cargo lambda build --release --arm64 (make validate) | aarch64 | {} | — | — | — | — | — | — |",
            mib(bytes)
        );
    }
}

/// The bootstrap size limit, bytes.
const SIZE_LIMIT: f64 = 8e6;

/// What the router targets are judged on.
struct Figures {
    /// ns per event at 1,000 subscriptions: whole handler, routing decision.
    h1000: f64,
    r1000: f64,
    /// From 10 to 10,000 subscriptions: cost ratio and log-log slope, handler and decision.
    handler_growth: f64,
    route_growth: f64,
    handler_slope: f64,
    route_slope: f64,
    /// Release build, first event handled p50 ms: 1 subscription, 1,001 subscriptions.
    cold: f64,
    cold1000: f64,
    /// Release build, bytes.
    size: f64,
}

impl Figures {
    fn of(rows: &[Value], builds: &[Value]) -> Figures {
        let at = |n: u64, k: &str| {
            rows.iter()
                .find(|r| r["subscriptions"].as_u64() == Some(n))
                .and_then(|r| r[k].as_f64())
                .unwrap_or(f64::NAN)
        };
        let slope = |k: &str| (at(10_000, k) / at(10, k)).ln() / 1000f64.ln();
        let first = |b: &Value, i: usize| {
            b["cold_start"][i]["first_event_ms_p50"]
                .as_f64()
                .unwrap_or(f64::NAN)
        };
        let release = &builds[0];
        Figures {
            h1000: at(1000, "handler_ns"),
            r1000: at(1000, "route_ns"),
            handler_growth: at(10_000, "handler_ns") / at(10, "handler_ns"),
            route_growth: at(10_000, "route_ns") / at(10, "route_ns"),
            handler_slope: slope("handler_ns"),
            route_slope: slope("route_ns"),
            cold: first(release, 0),
            cold1000: first(release, 1),
            size: release["bytes"].as_f64().unwrap_or(f64::NAN),
        }
    }

    fn met_5us(&self) -> bool {
        self.r1000 <= 5e3 && self.h1000 <= 5e3
    }

    fn sublinear(&self) -> bool {
        self.handler_slope < 1.0 && self.route_slope < 1.0
    }

    fn to_json(&self) -> Value {
        json!({
            "handler_us_at_1000": self.h1000 / 1e3,
            "route_us_at_1000": self.r1000 / 1e3,
            "handler_loglog_slope": self.handler_slope,
            "route_loglog_slope": self.route_slope,
            "cold_first_event_ms_p50": self.cold,
            "cold_first_event_ms_p50_1001_subscriptions": self.cold1000,
            "bootstrap_bytes": self.size,
            "met": {
                "5us_at_1000": self.met_5us(),
                "sublinear": self.sublinear(),
                "cold_30ms": self.cold <= 30.0,
                "size_8mb": self.size <= SIZE_LIMIT,
            }
        })
    }
}

fn targets_table(f: &Figures, builds: &[Value], arm64: &Value) {
    let Figures {
        h1000,
        r1000,
        cold,
        cold1000,
        size,
        ..
    } = *f;
    println!("\n## Router targets\n");
    println!("| target | measured | |");
    println!("|---|---|---|");
    println!(
        "| ≤ 5 µs/event at 1,000 subscriptions | routing decision {:.2} µs ({} of 5 µs); whole handler with no-op ports {:.2} µs ({}) | {} |",
        r1000 / 1e3,
        ratio(r1000 / 5e3),
        h1000 / 1e3,
        ratio(h1000 / 5e3),
        met(f.met_5us())
    );
    println!(
        "| sub-linear growth | 10 → 10,000 subscriptions (1000×): handler {} (log-log slope {:.2}), decision {} (slope {:.2}) | {} |",
        ratio(f.handler_growth),
        f.handler_slope,
        ratio(f.route_growth),
        f.route_slope,
        met(f.sublinear())
    );
    println!(
        "| cold init ≤ 30 ms | exec → first event handled p50 {cold:.1} ms ({}); with 1,001 subscriptions {cold1000:.1} ms ({}) | {} |",
        ratio(cold / 30.0),
        ratio(cold1000 / 30.0),
        met(cold <= 30.0)
    );
    println!(
        "| bootstrap ≤ 8 MB | {} | {} |",
        size_line(size, builds, arm64),
        met(size <= SIZE_LIMIT)
    );
}

/// The release build's size against the limit, then the other builds' and the arm64 bootstrap's.
fn size_line(size: f64, builds: &[Value], arm64: &Value) -> String {
    let mut line = format!(
        "x86_64 release {} ({} of 8 MB)",
        mib(size),
        ratio(size / SIZE_LIMIT)
    );
    for b in &builds[1..] {
        let s = b["bytes"].as_f64().unwrap_or(f64::NAN);
        line.push_str(&format!(
            "; {} {} ({})",
            b["label"].as_str().unwrap_or_default(),
            mib(s),
            ratio(s / SIZE_LIMIT)
        ));
    }
    if let Some(bytes) = arm64["bytes"].as_f64() {
        line.push_str(&format!(
            "; arm64 {} ({})",
            mib(bytes),
            ratio(bytes / SIZE_LIMIT)
        ));
    }
    line
}
