//! `eventferry drive` under measurement: its command line, its `/metrics` and `/readyz`, and the
//! throughput runs on a pre-filled queue (an existing queue it does not own), delivering to the
//! in-bench HTTP sink or to `--sink stdout` with stdout on /dev/null.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::child::{alive, aws_env, reap};
use super::ctx::{Ctx, REGION};
use super::measure::{window, Row, Sample};
use super::queue::{again, create_queue, delete_queue, fill};
use crate::common;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Http,
    Stdout,
}

impl Sink {
    fn label(self) -> &'static str {
        match self {
            Sink::Http => "http",
            Sink::Stdout => "stdout",
        }
    }
}

/// The driver's Prometheus counters (`eventferry_*`), or `None` while it does not answer.
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
                // Every line carries `{replica="…"}`: the name is what comes before it.
                let name = k.split('{').next().unwrap_or(k);
                Some((name.to_owned(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// Whether the driver's `/readyz` answers 200.
pub async fn ready(port: u16) -> bool {
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

#[allow(clippy::too_many_arguments)]
/// `eventferry drive` (`program`, else `--driver`) on an existing queue; the pattern names a
/// source nobody sends, so the rule it creates never adds messages.
pub fn drive_cmd(
    ctx: &Ctx,
    queue: &str,
    instance: &str,
    sink: &str,
    c: usize,
    pattern: &str,
    duration: u32,
    metrics_port: u16,
    program: Option<&std::path::Path>,
    endpoint: Option<&str>,
) -> Command {
    let endpoint = endpoint.unwrap_or(&ctx.opts.endpoint);
    let mut cmd = Command::new(program.unwrap_or(&ctx.opts.driver));
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
        endpoint,
        "--region",
        REGION,
        "--log-level",
        "warn",
    ]);
    aws_env(&mut cmd, endpoint);
    cmd
}

/// A driver run with flags beyond the usual ones: a row of its own in the tables.
#[derive(Debug, Clone)]
pub struct Variant {
    /// What the tables call the sink column, e.g. `http batch=10`.
    pub label: &'static str,
    /// Short, for queue and instance names: `[a-z0-9]`, e.g. `b10`.
    pub tag: &'static str,
    pub flags: Vec<String>,
    /// Messages of the run, when not the usual number.
    pub messages: Option<usize>,
    /// Another `eventferry` binary than `--driver` (`--compare NAME=PATH`).
    pub program: Option<std::path::PathBuf>,
    /// Another endpoint than LocalStack's for every AWS call (the `rtt` section's proxy).
    pub endpoint: Option<String>,
}

impl Variant {
    /// `--sink-batch n` (and a `--max-in-flight` of at least 2n, so receiving goes on while a
    /// batch is at the sink).
    pub fn batch(n: usize) -> Variant {
        let mut flags = vec!["--sink-batch".to_string(), n.to_string()];
        if 2 * n > 100 {
            flags.extend(["--max-in-flight".to_string(), (2 * n).to_string()]);
        }
        Variant {
            label: Box::leak(format!("http batch={n}").into_boxed_str()),
            tag: Box::leak(format!("b{n}").into_boxed_str()),
            flags,
            messages: None,
            program: None,
            endpoint: None,
        }
    }

    /// `--max-rate rate`, on `messages` messages.
    pub fn rate(rate: u32, messages: usize) -> Variant {
        Variant {
            label: Box::leak(format!("http max-rate={rate}").into_boxed_str()),
            tag: Box::leak(format!("r{rate}").into_boxed_str()),
            flags: vec!["--max-rate".into(), rate.to_string()],
            messages: Some(messages),
            program: None,
            endpoint: None,
        }
    }

    /// A trace setting: `label`, `tag`, the flags.
    pub fn trace(label: &'static str, tag: &'static str, flags: &[&str]) -> Variant {
        Variant {
            label,
            tag,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            messages: None,
            program: None,
            endpoint: None,
        }
    }

    /// `--compare NAME=PATH`: the usual HTTP run of another `eventferry` binary, labelled
    /// `http NAME`.
    pub fn compare(name: &str, program: std::path::PathBuf) -> Variant {
        Variant {
            label: Box::leak(format!("http {name}").into_boxed_str()),
            tag: Box::leak(
                name.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase()
                    .into_boxed_str(),
            ),
            flags: Vec::new(),
            messages: None,
            program: Some(program),
            endpoint: None,
        }
    }
}

/// One throughput run of the driver to `sink` at `concurrency` on a fresh, filled queue.
pub async fn driver(ctx: &Ctx, sink: Sink, concurrency: usize) -> Row {
    driver_run(ctx, sink, concurrency, None).await
}

/// One run of the driver to the HTTP sink with the flags of `variant`.
pub async fn variant(ctx: &Ctx, variant: &Variant, concurrency: usize) -> Row {
    driver_run(ctx, Sink::Http, concurrency, Some(variant)).await
}

async fn driver_run(ctx: &Ctx, sink: Sink, concurrency: usize, variant: Option<&Variant>) -> Row {
    let (label, tag) = match variant {
        Some(v) => (v.label, format!("{}-{}", sink.label(), v.tag)),
        None => (sink.label(), sink.label().to_owned()),
    };
    // A fresh queue and instance name each run.
    let again = again();
    let name = format!("{}-drive-{tag}-c{concurrency}{again}", ctx.run);
    let instance = format!("ef-bench-{:08x}-{tag}-{concurrency}{again}", ctx.run_num);
    let url = create_queue(ctx, &name).await;
    // The stdout runs (a second sink) take half the messages, to keep `make bench` under 15 min.
    let n = match (sink, variant.and_then(|v| v.messages)) {
        (_, Some(n)) => n,
        (Sink::Http, None) => ctx.opts.messages,
        (Sink::Stdout, None) => ctx.opts.messages / 2,
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
        variant.and_then(|v| v.program.as_deref()),
        variant.and_then(|v| v.endpoint.as_deref()),
    );
    let flags = variant.map(|v| v.flags.clone()).unwrap_or_default();
    cmd.args(&flags);
    let log = ctx.opts.logs.join(format!("{name}.log"));
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create log"));
    let before = ctx.sink.count.load(Ordering::Relaxed);
    let child = cmd.spawn().expect("spawn eventferry drive");
    let pid = child.id();
    // One event per request to the in-bench sink: its count says when the end is near, with
    // no scrape of the driver in the window.
    let one_per_request = sink == Sink::Http && !flags.iter().any(|f| f == "--sink-batch");
    let delivered = || ctx.sink.count.load(Ordering::Relaxed) - before;
    let near_end: Option<&dyn Fn() -> u64> = one_per_request.then_some(&delivered);
    let (start, end) = watch_window(ctx, pid, metrics_port, n, near_end).await;
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
    let (window_cpu, localstack_cpu) = window(&start, &end);
    let row = Row {
        who: "driver",
        sink: label,
        concurrency,
        messages: n,
        seconds: end.at.duration_since(start.at).as_secs_f64(),
        peak_rss_kib,
        window_cpu,
        usage,
        localstack_cpu,
        sink_deliveries: (sink == Sink::Http)
            .then(|| ctx.sink.count.load(Ordering::Relaxed) - before),
        flags,
        rounds_us: Vec::new(),
    };
    row.progress();
    row
}

/// Polls the driver's metrics: the window starts at its first received message and ends when it
/// has deleted `n` (at most 900 s, or until it exits). Every 10 ms until the first message and
/// again from 90 % of `n` deleted, every 100 ms in between: each scrape is a connection, a
/// request and a rendering of every counter in the driver, CPU the floor (which reports on its
/// stdout) does not spend: about 36 µs of the driver's CPU per scrape (5,000 scrapes of an idle
/// driver took 0.18 s), so 3.6 µs per message at 1,000 msgs/s when scraped every 10 ms throughout.
/// With `delivered` (the in-bench sink's count of this run, when each request is one event), no
/// scrape at all between the first message and `n` deliveries; then every 10 ms until the deletes
/// catch up (a few scrapes).
async fn watch_window(
    ctx: &Ctx,
    pid: u32,
    metrics_port: u16,
    n: usize,
    delivered: Option<&dyn Fn() -> u64>,
) -> (Option<Sample>, Option<Sample>) {
    let mut start = None;
    let mut end = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline && alive(pid) {
        if let Some(m) = metrics(metrics_port).await {
            let received = m.get("eventferry_received_total").copied().unwrap_or(0.0);
            let deleted = m.get("eventferry_deleted_total").copied().unwrap_or(0.0);
            let now = Instant::now();
            let sample = || Sample {
                at: now,
                cpu: common::proc_cpu(pid),
                localstack: ctx.localstack_cpu(),
            };
            if start.is_none() && received > 0.0 {
                start = Some(sample());
            }
            if deleted >= n as f64 {
                end = Some(sample());
                break;
            }
            if let (Some(_), Some(delivered)) = (&start, delivered) {
                while delivered() < n as u64 && Instant::now() < deadline && alive(pid) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            } else if start.is_some() && deleted < 0.9 * n as f64 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (start, end)
}
