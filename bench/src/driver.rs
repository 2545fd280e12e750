//! The driver against a real LocalStack, side by side in one run:
//!
//! - **floor**: a minimal aws-sdk-sqs loop (this binary's `floor` subcommand, a child process):
//!   ReceiveMessage (10, long poll) then DeleteMessageBatch, at 1, 2, 4 and 8 tasks;
//! - **driver**: `eventferry drive` on the same pre-filled queue (an existing queue it does not
//!   own), delivering to an in-bench HTTP sink that answers 200 at once, and to `--sink stdout`
//!   with stdout on /dev/null, at `--concurrency` 1, 2, 4 and 8;
//! - **python**: `bench/python_peer.py`, the boto3 poller a user would otherwise write (receive,
//!   convert to a CloudEvent, POST, batch-delete), to the same HTTP sink;
//! - **latency**: PutEvents to sink delivery at a steady rate through a rule the driver creates.
//!
//! Every run gets a fresh queue filled with the same EventBridge-shaped messages. Throughput is
//! measured over the window from the first received message to the last delete; CPU over the
//! same window from /proc (the "window" column; 10 ms clock ticks where schedstat is missing),
//! and over the whole process from wait4's rusage (start-up, provisioning and clean-up
//! included), with peak RSS.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use futures::{stream, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, met, ratio, Usage};

const REGION: &str = "us-east-1";

struct Opts {
    quick: bool,
    messages: usize,
    concurrencies: Vec<usize>,
    latency_secs: u64,
    latency_rate: f64,
    driver: PathBuf,
    python: PathBuf,
    endpoint: String,
    out: PathBuf,
    logs: PathBuf,
}

/// Everything one run needs.
struct Ctx {
    opts: Opts,
    run: String,
    run_num: u64,
    sqs: aws_sdk_sqs::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    sink: Arc<SinkState>,
    sink_port: u16,
    localstack_pid: Option<u32>,
}

pub fn main(args: &[String]) {
    let quick = common::flag(args, "--quick");
    let root = common::repo_root();
    let opts = Opts {
        quick,
        messages: common::opt(args, "--messages")
            .map(|v| v.parse().expect("--messages N"))
            .unwrap_or(if quick { 2_000 } else { 20_000 }),
        concurrencies: vec![1, 2, 4, 8],
        latency_secs: common::opt(args, "--latency-secs")
            .map(|v| v.parse().expect("--latency-secs N"))
            .unwrap_or(if quick { 10 } else { 60 }),
        latency_rate: 50.0,
        driver: common::opt(args, "--driver")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/eventferry")),
        python: common::opt(args, "--python")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python")),
        endpoint: std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:4566".into()),
        out: common::opt(args, "--out")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/bench/driver.json")),
        logs: root.join("target/bench/logs"),
    };
    assert!(
        opts.driver.is_file(),
        "{} not found: build it with `cargo build --release -p eventferry-driver`",
        opts.driver.display()
    );
    std::fs::create_dir_all(&opts.logs).expect("create target/bench/logs");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run(opts));
}

async fn aws(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "eventferry-bench",
        ))
        .load()
        .await
}

async fn run(opts: Opts) {
    let started = Instant::now();
    let cfg = aws(&opts.endpoint).await;
    let run_num = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
        % 0xffff_ffff;
    let run = format!("eventferry-bench-{run_num:08x}");
    let sink = Arc::new(SinkState::default());
    let sink_port = serve_sink(sink.clone()).await;
    let localstack_pid = std::fs::read_to_string(common::repo_root().join(".run/localstack.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let ctx = Ctx {
        sqs: aws_sdk_sqs::Client::new(&cfg),
        eventbridge: aws_sdk_eventbridge::Client::new(&cfg),
        opts,
        run,
        run_num,
        sink,
        sink_port,
        localstack_pid,
    };
    println!(
        "driver bench: {} EventBridge-shaped messages per run, LocalStack at {}, driver {}, run id {}",
        ctx.opts.messages,
        ctx.opts.endpoint,
        ctx.opts.driver.display(),
        ctx.run
    );

    let mut rows: Vec<Row> = Vec::new();
    for &c in &ctx.opts.concurrencies {
        rows.push(floor(&ctx, c).await);
    }
    for sink in [Sink::Http, Sink::Stdout] {
        for &c in &ctx.opts.concurrencies {
            rows.push(driver(&ctx, sink, c).await);
        }
    }
    rows.push(python(&ctx).await);
    let latency = latency(&ctx).await;

    let report = report(&ctx, &rows, &latency);
    let value = json!({
        "commit": common::commit(),
        "quick": ctx.opts.quick,
        "messages_per_run": ctx.opts.messages,
        "localstack": "4.13.1 (host mode, same machine)",
        "runs": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        "latency": latency,
        "targets": report,
        "wall_seconds": started.elapsed().as_secs_f64(),
    });
    common::write_json(&ctx.opts.out, &value);
}

// ---------------------------------------------------------------------------------------------
// Messages and queues

/// An EventBridge event as a rule delivers it to SQS (about 600 bytes).
fn envelope(run_num: u64, i: usize, source: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("{run_num:08x}-0000-4000-8000-{i:012x}"),
        "detail-type": "Order Placed",
        "source": source,
        "account": "000000000000",
        "time": "2026-11-23T10:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:s3:::eventferry-bench/orders/{i}")],
        "detail": {
            "orderId": format!("order-{i}"),
            "customer": {"id": format!("c-{}", i % 977), "tier": (["gold", "silver", "bronze"][i % 3])},
            "total": (i * 37) % 1000,
            "currency": "EUR",
            "items": [
                {"sku": format!("sku-{}", i % 113), "qty": 1 + i % 4, "price": 12.5},
                {"sku": format!("sku-{}", i % 71), "qty": 1, "price": 99.0}
            ],
            "shipping": {"country": "DE", "city": "Berlin", "zip": "10115", "express": i.is_multiple_of(2)}
        }
    })
}

async fn create_queue(ctx: &Ctx, name: &str) -> String {
    ctx.sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue {name}: {e:?}"))
        .queue_url
        .expect("CreateQueue returns a URL")
}

async fn delete_queue(ctx: &Ctx, url: &str) {
    if let Err(e) = ctx.sqs.delete_queue().queue_url(url).send().await {
        eprintln!("warning: DeleteQueue {url}: {e:?}");
    }
}

/// Fills `url` with `n` messages (SendMessageBatch, 8 at a time) and checks the count.
async fn fill(ctx: &Ctx, url: &str, n: usize) {
    let source = format!("{}.orders", ctx.run);
    let batches: Vec<Vec<SendMessageBatchRequestEntry>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(envelope(ctx.run_num, i, &source).to_string())
                        .build()
                        .expect("id and body set")
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .map(|entries| {
            let sqs = ctx.sqs.clone();
            let url = url.to_owned();
            async move {
                sqs.send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
        })
        .buffer_unordered(8)
        .for_each(|r| async move {
            let r = r.unwrap_or_else(|e| panic!("SendMessageBatch: {e:?}"));
            assert!(
                r.failed.is_empty(),
                "SendMessageBatch failures: {:?}",
                r.failed
            );
        })
        .await;
    let attrs = ctx
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("GetQueueAttributes");
    let have: usize = attrs
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    assert_eq!(have, n, "the queue holds {have} messages, expected {n}");
}

// ---------------------------------------------------------------------------------------------
// The in-bench HTTP sink: 200 at once; counts, and records (ce-id, arrival) when asked.

#[derive(Default)]
struct SinkState {
    count: AtomicU64,
    record: AtomicBool,
    arrivals: Mutex<Vec<(String, Instant)>>,
}

async fn serve_sink(state: Arc<SinkState>) -> u16 {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State(s): axum::extract::State<Arc<SinkState>>,
             headers: HeaderMap,
             _body: axum::body::Bytes| async move {
                s.count.fetch_add(1, Ordering::Relaxed);
                if s.record.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if let Some(id) = headers.get("ce-id").and_then(|v| v.to_str().ok()) {
                        s.arrivals.lock().unwrap().push((id.to_owned(), now));
                    }
                }
                StatusCode::OK
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the sink");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

// ---------------------------------------------------------------------------------------------
// One measured run

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    Http,
    Stdout,
}

#[derive(Debug, Clone)]
struct Row {
    who: &'static str,
    sink: &'static str,
    concurrency: usize,
    messages: usize,
    seconds: f64,
    /// CPU of the process over the measured window.
    window_cpu: Option<Duration>,
    usage: Usage,
    /// Peak RSS (VmHWM) read just before the process ended, KiB.
    peak_rss_kib: Option<u64>,
    /// LocalStack's CPU over the window, as a share of one core.
    localstack_cpu: Option<f64>,
    /// Deliveries the HTTP sink saw during the run (duplicates included).
    sink_deliveries: Option<u64>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
    fn window_us(&self) -> Option<f64> {
        self.window_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.messages as f64)
    }
    fn rss_mib(&self) -> f64 {
        self.peak_rss_kib
            .map(|k| k as f64 / 1024.0)
            .unwrap_or(f64::NAN)
    }
    fn process_us(&self) -> f64 {
        self.usage.cpu().as_secs_f64() * 1e6 / self.messages as f64
    }
    fn to_json(&self) -> Value {
        json!({
            "who": self.who,
            "sink": self.sink,
            "concurrency": self.concurrency,
            "messages": self.messages,
            "seconds": self.seconds,
            "msgs_per_sec": self.rate(),
            "cpu_us_per_msg_window": self.window_us(),
            "cpu_us_per_msg_process": self.process_us(),
            "cpu_seconds_process": self.usage.cpu().as_secs_f64(),
            "peak_rss_kib": self.peak_rss_kib,
            "localstack_cpu_cores": self.localstack_cpu,
            "sink_deliveries": self.sink_deliveries,
            "exit_status": self.usage.status,
        })
    }
}

fn localstack_cpu(ctx: &Ctx) -> Option<Duration> {
    ctx.localstack_pid.and_then(common::proc_cpu)
}

/// Waits for a child with wait4 off the runtime; SIGKILL if it does not exit within `limit`.
async fn reap(child: Child, limit: Duration) -> Usage {
    let pid = child.id();
    let mut handle = tokio::task::spawn_blocking(move || common::wait4(child));
    match tokio::time::timeout(limit, &mut handle).await {
        Ok(r) => r.expect("wait4 thread"),
        Err(_) => {
            eprintln!("warning: pid {pid} did not exit within {limit:?}; SIGKILL");
            common::signal(pid, libc::SIGKILL);
            handle.await.expect("wait4 thread")
        }
    }
}

/// A child that prints `first` when its first batch arrives, then one JSON line when done.
/// Returns the JSON, the child's window CPU and LocalStack's, sampled at those two lines.
async fn run_reporting_child(
    ctx: &Ctx,
    mut cmd: Command,
    log: PathBuf,
) -> (Value, Option<Duration>, Option<f64>, Usage, Option<u64>) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("create log"));
    let mut child = cmd.spawn().expect("spawn the child");
    let pid = child.id();
    // The child waits for this to close after printing its result, so /proc still has it.
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut start = None;
    let mut result = None;
    let mut hwm = None;
    let deadline = tokio::time::sleep(Duration::from_secs(900));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) if line == "first" => {
                    start = Some((common::proc_cpu(pid), localstack_cpu(ctx), Instant::now()));
                }
                Some(line) => {
                    let end = (common::proc_cpu(pid), localstack_cpu(ctx), Instant::now());
                    hwm = common::proc_hwm_kib(pid);
                    result = Some((serde_json::from_str::<Value>(&line)
                        .unwrap_or_else(|e| panic!("child printed {line:?}: {e}")), end));
                    break;
                }
                None => break,
            },
            _ = &mut deadline => {
                eprintln!("warning: child {pid} did not finish within 900 s");
                common::signal(pid, libc::SIGKILL);
                break;
            }
        }
    }
    drop(stdin);
    let usage = reap(child, Duration::from_secs(60)).await;
    let Some((value, end)) = result else {
        panic!(
            "the child exited without a result (status {}); see {}",
            usage.status,
            log.display()
        );
    };
    let (start_cpu, start_ls, start_t) = start.expect("the child printed `first`");
    let window = match (start_cpu, end.0) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let ls = match (start_ls, end.1) {
        (Some(a), Some(b)) => {
            Some(b.saturating_sub(a).as_secs_f64() / end.2.duration_since(start_t).as_secs_f64())
        }
        _ => None,
    };
    (value, window, ls, usage, hwm)
}

fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_PROFILE");
}

async fn floor(ctx: &Ctx, concurrency: usize) -> Row {
    let name = format!("{}-floor-c{concurrency}", ctx.run);
    let url = create_queue(ctx, &name).await;
    fill(ctx, &url, ctx.opts.messages).await;
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([
        "floor",
        "--queue-url",
        &url,
        "--count",
        &ctx.opts.messages.to_string(),
        "--concurrency",
        &concurrency.to_string(),
        "--endpoint",
        &ctx.opts.endpoint,
    ]);
    aws_env(&mut cmd, &ctx.opts.endpoint);
    let (value, window, ls, usage, peak_rss_kib) =
        run_reporting_child(ctx, cmd, ctx.opts.logs.join(format!("{name}.log"))).await;
    delete_queue(ctx, &url).await;
    let row = Row {
        who: "floor",
        sink: "-",
        concurrency,
        messages: ctx.opts.messages,
        seconds: value["seconds"].as_f64().expect("seconds"),
        window_cpu: window,
        usage,
        peak_rss_kib,
        localstack_cpu: ls,
        sink_deliveries: None,
    };
    progress(&row);
    row
}

async fn python(ctx: &Ctx) -> Row {
    let name = format!("{}-python-c1", ctx.run);
    let url = create_queue(ctx, &name).await;
    let n = ctx.opts.messages / 2;
    fill(ctx, &url, n).await;
    let before = ctx.sink.count.load(Ordering::Relaxed);
    let mut cmd = Command::new(&ctx.opts.python);
    cmd.arg(common::repo_root().join("bench/python_peer.py"))
        .args([
            "--queue-url",
            &url,
            "--count",
            &n.to_string(),
            "--sink",
            &format!("http://127.0.0.1:{}/events", ctx.sink_port),
            "--endpoint",
            &ctx.opts.endpoint,
        ]);
    aws_env(&mut cmd, &ctx.opts.endpoint);
    let (value, window, ls, usage, peak_rss_kib) =
        run_reporting_child(ctx, cmd, ctx.opts.logs.join(format!("{name}.log"))).await;
    delete_queue(ctx, &url).await;
    let row = Row {
        who: "python",
        sink: "http",
        concurrency: 1,
        messages: n,
        seconds: value["seconds"].as_f64().expect("seconds"),
        window_cpu: window,
        usage,
        peak_rss_kib,
        localstack_cpu: ls,
        sink_deliveries: Some(ctx.sink.count.load(Ordering::Relaxed) - before),
    };
    progress(&row);
    row
}

async fn metrics(port: u16) -> Option<HashMap<String, f64>> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).await.ok()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("eventferry_"))
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

async fn ready(port: u16) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text).await;
    text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200")
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with(|c| c != 'Z')))
        .unwrap_or(false)
}

#[allow(clippy::too_many_arguments)]
/// `eventferry drive` on an existing queue; the pattern names a source nobody sends, so the
/// rule it creates never adds messages.
fn drive_cmd(
    ctx: &Ctx,
    queue: &str,
    instance: &str,
    sink: &str,
    c: usize,
    pattern: &str,
    duration: u32,
    metrics_port: u16,
) -> Command {
    let mut cmd = Command::new(&ctx.opts.driver);
    cmd.args([
        "drive",
        "--queue-name",
        queue,
        "--instance",
        instance,
        "--event-patterns",
        pattern,
        "--sink",
        sink,
        "--concurrency",
        &c.to_string(),
        "--duration",
        &duration.to_string(),
        "--clean-up",
        "--metrics-addr",
        &format!("127.0.0.1:{metrics_port}"),
        "--endpoint-url",
        &ctx.opts.endpoint,
        "--region",
        REGION,
        "--log-level",
        "warn",
    ]);
    aws_env(&mut cmd, &ctx.opts.endpoint);
    cmd
}

async fn driver(ctx: &Ctx, sink: Sink, concurrency: usize) -> Row {
    let label = match sink {
        Sink::Http => "http",
        Sink::Stdout => "stdout",
    };
    let name = format!("{}-drive-{label}-c{concurrency}", ctx.run);
    let instance = format!("ef-bench-{:08x}-{label}-{concurrency}", ctx.run_num);
    let url = create_queue(ctx, &name).await;
    // The stdout runs (a second sink) take half the messages, to keep `make bench` under 15 min.
    let n = match sink {
        Sink::Http => ctx.opts.messages,
        Sink::Stdout => ctx.opts.messages / 2,
    };
    fill(ctx, &url, n).await;
    let metrics_port = common::free_port();
    let sink_arg = match sink {
        Sink::Http => format!("http://127.0.0.1:{}/events", ctx.sink_port),
        Sink::Stdout => "stdout".into(),
    };
    let pattern = json!([{"source": [format!("{}.nobody", ctx.run)]}]).to_string();
    let mut cmd = drive_cmd(
        ctx,
        &name,
        &instance,
        &sink_arg,
        concurrency,
        &pattern,
        1,
        metrics_port,
    );
    let log = ctx.opts.logs.join(format!("{name}.log"));
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create log"));
    let before = ctx.sink.count.load(Ordering::Relaxed);
    let child = cmd.spawn().expect("spawn eventferry drive");
    let pid = child.id();
    let mut start = None;
    let mut end = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline && alive(pid) {
        if let Some(m) = metrics(metrics_port).await {
            let received = m.get("eventferry_received_total").copied().unwrap_or(0.0);
            let deleted = m.get("eventferry_deleted_total").copied().unwrap_or(0.0);
            let now = Instant::now();
            if start.is_none() && received > 0.0 {
                start = Some((now, common::proc_cpu(pid), localstack_cpu(ctx)));
            }
            if deleted >= n as f64 {
                end = Some((now, common::proc_cpu(pid), localstack_cpu(ctx)));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let peak_rss_kib = common::proc_hwm_kib(pid);
    common::signal(pid, libc::SIGTERM);
    let usage = reap(child, Duration::from_secs(60)).await;
    delete_queue(ctx, &url).await;
    let (Some(start), Some(end)) = (start, end) else {
        panic!(
            "eventferry drive did not deliver {n} messages (exit status {}); see {}",
            usage.status,
            log.display()
        );
    };
    let seconds = end.0.duration_since(start.0).as_secs_f64();
    let row = Row {
        who: "driver",
        sink: label,
        concurrency,
        messages: n,
        seconds,
        peak_rss_kib,
        window_cpu: match (start.1, end.1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        usage,
        localstack_cpu: match (start.2, end.2) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() / seconds),
            _ => None,
        },
        sink_deliveries: (sink == Sink::Http)
            .then(|| ctx.sink.count.load(Ordering::Relaxed) - before),
    };
    progress(&row);
    row
}

fn progress(r: &Row) {
    eprintln!(
        "  {:<6} {:<6} c={} {:>8.0} msgs/s  window CPU {:>6} µs/msg  process CPU {:>6.1} µs/msg  RSS {:.1} MiB",
        r.who,
        r.sink,
        r.concurrency,
        r.rate(),
        r.window_us().map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
        r.process_us(),
        r.rss_mib()
    );
}

// ---------------------------------------------------------------------------------------------
// Latency: PutEvents -> rule -> queue -> driver -> sink

async fn latency(ctx: &Ctx) -> Value {
    let name = format!("{}-latency", ctx.run);
    let instance = format!("ef-bench-{:08x}-latency", ctx.run_num);
    let url = create_queue(ctx, &name).await;
    let source = format!("{}.latency", ctx.run);
    let pattern = json!([{"source": [source]}]).to_string();
    let metrics_port = common::free_port();
    let sink_arg = format!("http://127.0.0.1:{}/latency", ctx.sink_port);
    // The driver's defaults: 2 poll tasks, 20 s long polls.
    let mut cmd = drive_cmd(
        ctx,
        &name,
        &instance,
        &sink_arg,
        2,
        &pattern,
        20,
        metrics_port,
    );
    let log = ctx.opts.logs.join(format!("{name}.log"));
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create log"));
    let child = cmd.spawn().expect("spawn eventferry drive");
    let pid = child.id();
    let t0 = Instant::now();
    while !ready(metrics_port).await {
        assert!(
            alive(pid) && t0.elapsed() < Duration::from_secs(120),
            "the latency driver never became ready; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.sink.arrivals.lock().unwrap().clear();
    ctx.sink.record.store(true, Ordering::Relaxed);

    // Warm-up: one event through, so the rule is known to deliver.
    let put = |i: usize| {
        let eb = ctx.eventbridge.clone();
        let source = source.clone();
        async move {
            let t = Instant::now();
            let out = eb
                .put_events()
                .entries(
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .source(source)
                        .detail_type("Bench Latency")
                        .detail(json!({"i": i}).to_string())
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutEvents: {e:?}"));
            let id = out
                .entries()
                .first()
                .and_then(|e| e.event_id())
                .expect("PutEvents returns an event id")
                .to_owned();
            (id, t)
        }
    };
    let (warm_id, _) = put(usize::MAX).await;
    let w0 = Instant::now();
    while !ctx
        .sink
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .any(|(id, _)| *id == warm_id)
    {
        assert!(
            w0.elapsed() < Duration::from_secs(60),
            "the warm-up event never arrived; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.sink.arrivals.lock().unwrap().clear();

    let total = (ctx.opts.latency_secs as f64 * ctx.opts.latency_rate) as usize;
    let sends: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / ctx.opts.latency_rate));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let fut = put(i);
        let sends = sends.clone();
        tasks.push(tokio::spawn(async move {
            let r = fut.await;
            sends.lock().unwrap().push(r);
        }));
    }
    for t in tasks {
        t.await.expect("put task");
    }
    let send_secs = started.elapsed().as_secs_f64();
    let grace = Instant::now();
    loop {
        let arrived = ctx.sink.arrivals.lock().unwrap().len();
        if arrived >= total || grace.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.sink.record.store(false, Ordering::Relaxed);
    let peak_rss_kib = common::proc_hwm_kib(pid);
    common::signal(pid, libc::SIGTERM);
    let usage = reap(child, Duration::from_secs(60)).await;
    delete_queue(ctx, &url).await;

    let sent: HashMap<String, Instant> = sends.lock().unwrap().iter().cloned().collect();
    let mut first_arrival: HashMap<String, Instant> = HashMap::new();
    let mut duplicates = 0;
    for (id, t) in ctx.sink.arrivals.lock().unwrap().iter() {
        if first_arrival.insert(id.clone(), *t).is_some() {
            duplicates += 1;
        }
    }
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(id, t)| {
            first_arrival
                .get(id)
                .map(|a| a.duration_since(*t).as_secs_f64() * 1e3)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let v = json!({
        "rate_per_sec": ctx.opts.latency_rate,
        "seconds": ctx.opts.latency_secs,
        "send_seconds": send_secs,
        "sent": total,
        "delivered": ms.len(),
        "lost": total - ms.len(),
        "duplicates": duplicates,
        "driver_concurrency": 2,
        "driver_duration": 20,
        "p50_ms": common::percentile(&ms, 50.0),
        "p95_ms": common::percentile(&ms, 95.0),
        "p99_ms": common::percentile(&ms, 99.0),
        "max_ms": ms.last().copied(),
        "driver_cpu_seconds": usage.cpu().as_secs_f64(),
        "driver_peak_rss_kib": peak_rss_kib,
    });
    eprintln!("  latency: {v}");
    v
}

// ---------------------------------------------------------------------------------------------
// Tables and targets

fn find<'a>(rows: &'a [Row], who: &str, sink: &str, c: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.who == who && r.sink == sink && r.concurrency == c)
}

fn report(ctx: &Ctx, rows: &[Row], latency: &Value) -> Value {
    let floor1 = find(rows, "floor", "-", 1)
        .map(Row::rate)
        .unwrap_or(f64::NAN);
    println!(
        "\n## Driver throughput ({} messages per run, half for the stdout and Python runs; fresh queue each; LocalStack 4.13.1 on the same 2 cores)\n",
        ctx.opts.messages
    );
    println!("| run | sink | concurrency | messages | msgs/s | × floor (same c) | × floor (c=1) | CPU µs/msg (window) | CPU µs/msg (whole process) | peak RSS MiB | LocalStack CPU (cores) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let same = find(rows, "floor", "-", r.concurrency)
            .map(|f| r.rate() / f.rate())
            .unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.1} | {} |",
            r.who,
            r.sink,
            r.concurrency,
            r.messages,
            r.rate(),
            ratio(same),
            ratio(r.rate() / floor1),
            r.window_us()
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "—".into()),
            r.process_us(),
            r.rss_mib(),
            r.localstack_cpu
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "—".into()),
        );
    }

    // Scaling: where the floor stops growing is where LocalStack saturates.
    let cs = &ctx.opts.concurrencies;
    let mut saturation = None;
    for w in cs.windows(2) {
        let (a, b) = (
            find(rows, "floor", "-", w[0]).map(Row::rate),
            find(rows, "floor", "-", w[1]).map(Row::rate),
        );
        if let (Some(a), Some(b)) = (a, b) {
            if b < 1.10 * a && saturation.is_none() {
                saturation = Some(w[0]);
            }
        }
    }
    let tracks: Vec<(usize, f64)> = cs
        .iter()
        .filter_map(|&c| {
            Some((
                c,
                find(rows, "driver", "http", c)?.rate() / find(rows, "floor", "-", c)?.rate(),
            ))
        })
        .collect();
    let min_track = tracks.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    let d1 = find(rows, "driver", "http", 1);
    let ratio1 = d1.map(|d| d.rate() / floor1).unwrap_or(f64::NAN);
    let cpu_ours = d1.and_then(Row::window_us).unwrap_or(f64::NAN);
    let py = find(rows, "python", "http", 1);
    let cpu_py = py.and_then(Row::window_us).unwrap_or(f64::NAN);
    let max_cpu = rows
        .iter()
        .filter(|r| r.who == "driver")
        .filter_map(Row::window_us)
        .fold(0.0, f64::max);

    println!("\n## Driver CPU per message vs the Python boto3 peer (concurrency 1, HTTP sink)\n");
    println!("| | CPU µs/msg (window) | CPU µs/msg (whole process) | peak RSS MiB | msgs/s |");
    println!("|---|---|---|---|---|");
    for (label, r) in [("eventferry drive", d1), ("python boto3 peer", py)] {
        if let Some(r) = r {
            println!(
                "| {label} | {} | {:.1} | {:.1} | {:.0} |",
                r.window_us()
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "—".into()),
                r.process_us(),
                r.rss_mib(),
                r.rate()
            );
        }
    }
    println!(
        "| ratio (ours / python) | {} | {} | | |",
        ratio(cpu_ours / cpu_py),
        ratio(
            d1.map(Row::process_us).unwrap_or(f64::NAN)
                / py.map(Row::process_us).unwrap_or(f64::NAN)
        )
    );

    println!(
        "\n## Latency: PutEvents → sink at {:.0} events/s for {} s (driver defaults: --concurrency 2, --duration 20)\n",
        ctx.opts.latency_rate, ctx.opts.latency_secs
    );
    println!("| sent | delivered | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let f = |k: &str| {
        latency[k]
            .as_f64()
            .map(|v| format!("{v:.1}"))
            .unwrap_or_else(|| "—".into())
    };
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        latency["sent"],
        latency["delivered"],
        f("p50_ms"),
        f("p95_ms"),
        f("p99_ms"),
        f("max_ms")
    );

    let scaling: Vec<String> = tracks
        .iter()
        .map(|(c, t)| format!("c={c}: {t:.2}× floor"))
        .collect();
    println!("\n## Driver targets\n");
    println!("| target | measured | |");
    println!("|---|---|---|");
    println!(
        "| driver ≥ 0.9× floor at concurrency 1 | {} | {} |",
        ratio(ratio1),
        met(ratio1 >= 0.9)
    );
    println!(
        "| scales with concurrency until LocalStack saturates | {}; floor stops growing (<10 % per doubling) after c={} | {} |",
        scaling.join(", "),
        saturation.map(|c| c.to_string()).unwrap_or_else(|| "— (still growing at 8)".into()),
        met(min_track >= 0.9)
    );
    println!(
        "| CPU ≤ 20 µs/msg | {max_cpu:.1} µs/msg (worst driver run, window); c=1 HTTP {cpu_ours:.1} | {} |",
        met(max_cpu <= 20.0)
    );
    println!(
        "| CPU ≤ 1/10 of the Python peer's | {cpu_ours:.1} vs {cpu_py:.1} µs/msg = {} | {} |",
        ratio(cpu_ours / cpu_py),
        met(cpu_ours * 10.0 <= cpu_py)
    );
    json!({
        "ratio_to_floor_c1": ratio1,
        "ratio_to_floor_by_concurrency": tracks.iter().map(|(c, t)| json!({"concurrency": c, "ratio": t})).collect::<Vec<_>>(),
        "floor_saturates_after_concurrency": saturation,
        "max_driver_cpu_us_per_msg_window": max_cpu,
        "driver_cpu_us_per_msg_c1_http": cpu_ours,
        "python_cpu_us_per_msg": cpu_py,
        "cpu_ratio_to_python": cpu_ours / cpu_py,
        "met": {
            "floor_0_9": ratio1 >= 0.9,
            "scales_with_floor": min_track >= 0.9,
            "cpu_20us": max_cpu <= 20.0,
            "cpu_tenth_of_python": cpu_ours * 10.0 <= cpu_py,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The floor child: `eventferry-bench floor --queue-url U --count N --concurrency C`

pub fn floor_main(args: &[String]) {
    let url = common::opt(args, "--queue-url")
        .expect("--queue-url")
        .to_owned();
    let count: u64 = common::opt(args, "--count")
        .expect("--count")
        .parse()
        .expect("--count N");
    let c: usize = common::opt(args, "--concurrency")
        .unwrap_or("1")
        .parse()
        .expect("--concurrency N");
    let wait: i32 = common::opt(args, "--wait")
        .unwrap_or("1")
        .parse()
        .expect("--wait S");
    let endpoint = common::opt(args, "--endpoint")
        .unwrap_or("http://127.0.0.1:4566")
        .to_owned();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async move {
            let sqs = aws_sdk_sqs::Client::new(&aws(&endpoint).await);
            let deleted = Arc::new(AtomicU64::new(0));
            let first: Arc<OnceLock<Instant>> = Arc::default();
            let done = Arc::new(tokio::sync::Notify::new());
            let end: Arc<OnceLock<Instant>> = Arc::default();
            for _ in 0..c {
                let (sqs, url, deleted, first, done, end) = (
                    sqs.clone(),
                    url.clone(),
                    deleted.clone(),
                    first.clone(),
                    done.clone(),
                    end.clone(),
                );
                tokio::spawn(async move {
                    while deleted.load(Ordering::Relaxed) < count {
                        let out = sqs
                            .receive_message()
                            .queue_url(&url)
                            .max_number_of_messages(10)
                            .wait_time_seconds(wait)
                            .message_system_attribute_names(MessageSystemAttributeName::All)
                            .message_attribute_names("All")
                            .send()
                            .await
                            .expect("ReceiveMessage");
                        let messages = out.messages.unwrap_or_default();
                        if messages.is_empty() {
                            continue;
                        }
                        first.get_or_init(|| {
                            println!("first");
                            Instant::now()
                        });
                        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
                            .iter()
                            .enumerate()
                            .map(|(i, m)| {
                                DeleteMessageBatchRequestEntry::builder()
                                    .id(i.to_string())
                                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                                    .build()
                                    .expect("id and handle set")
                            })
                            .collect();
                        let out = sqs
                            .delete_message_batch()
                            .queue_url(&url)
                            .set_entries(Some(entries))
                            .send()
                            .await
                            .expect("DeleteMessageBatch");
                        let ok = out.successful.len() as u64;
                        if deleted.fetch_add(ok, Ordering::Relaxed) + ok >= count {
                            end.get_or_init(Instant::now);
                            done.notify_one();
                        }
                    }
                });
            }
            done.notified().await;
            let seconds = end
                .get()
                .expect("end set")
                .duration_since(*first.get().expect("first set"))
                .as_secs_f64();
            println!(
                "{}",
                json!({"seconds": seconds, "messages": deleted.load(Ordering::Relaxed)})
            );
            // Alive until the bench closes our stdin: it reads our CPU and peak RSS from /proc
            // after this line, and a process that has exited has neither.
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
            std::process::exit(0);
        });
}
