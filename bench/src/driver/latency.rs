//! Latency: PutEvents -> rule -> queue -> driver -> sink, at a steady rate through a rule the
//! driver creates, with the driver's defaults (2 poll tasks, 20 s long polls).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::child::{alive, reap};
use super::ctx::Ctx;
use super::drive::{drive_cmd, ready};
use super::queue::{create_queue, delete_queue};
use crate::common;

/// The latency run; its summary is the JSON's `latency`.
pub async fn latency(ctx: &Ctx) -> Value {
    let name = format!("{}-latency", ctx.run);
    let url = create_queue(ctx, &name).await;
    let source = format!("{}.latency", ctx.run);
    let (child, log) = start_driver(ctx, &name, &source).await;
    let pid = child.id();
    ctx.sink.arrivals.lock().unwrap().clear();
    ctx.sink.record.store(true, Ordering::Relaxed);
    warm_up(ctx, &source, &log).await;

    let total = (ctx.opts.latency_secs as f64 * ctx.opts.latency_rate) as usize;
    let (sends, send_secs) = send_steadily(ctx, &source, total).await;
    await_arrivals(ctx, total).await;
    ctx.sink.record.store(false, Ordering::Relaxed);
    let peak_rss_kib = common::proc_hwm_kib(pid);
    common::signal(pid, libc::SIGTERM);
    let usage = reap(child, Duration::from_secs(60)).await;
    delete_queue(ctx, &url).await;

    let (ms, duplicates) = delays(&sends, &ctx.sink.arrivals.lock().unwrap());
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

/// Starts the driver on queue `name` with a rule for `source`, and waits until it is ready.
async fn start_driver(ctx: &Ctx, name: &str, source: &str) -> (Child, PathBuf) {
    let instance = format!("ef-bench-{:08x}-latency", ctx.run_num);
    let pattern = json!([{"source": [source]}]).to_string();
    let metrics_port = common::free_port();
    let sink_arg = format!("http://127.0.0.1:{}/latency", ctx.sink_port);
    // The driver's defaults: 2 poll tasks, 20 s long polls.
    let mut cmd = drive_cmd(
        ctx,
        name,
        &instance,
        &sink_arg,
        2,
        &pattern,
        20,
        metrics_port,
        None,
        None,
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
    (child, log)
}

/// PutEvents of event `i` from `source`: its event id and when the call started.
async fn put(eb: aws_sdk_eventbridge::Client, source: String, i: usize) -> (String, Instant) {
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

/// Warm-up: one event through, so the rule is known to deliver; then the arrivals are cleared.
async fn warm_up(ctx: &Ctx, source: &str, log: &Path) {
    let (warm_id, _) = put(ctx.eventbridge.clone(), source.to_owned(), usize::MAX).await;
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
}

/// `total` PutEvents at the configured rate: (event id, sent at) of each, and the seconds the
/// sending took.
async fn send_steadily(ctx: &Ctx, source: &str, total: usize) -> (Vec<(String, Instant)>, f64) {
    let sends: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / ctx.opts.latency_rate));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let fut = put(ctx.eventbridge.clone(), source.to_owned(), i);
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
    let sends = sends.lock().unwrap().clone();
    (sends, send_secs)
}

/// Waits until `total` arrivals are recorded, at most 30 s.
async fn await_arrivals(ctx: &Ctx, total: usize) {
    let grace = Instant::now();
    loop {
        let arrived = ctx.sink.arrivals.lock().unwrap().len();
        if arrived >= total || grace.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Milliseconds from each send to the first arrival of its id (sorted; lost ones left out), and
/// how many arrivals were duplicates.
fn delays(sends: &[(String, Instant)], arrivals: &[(String, Instant)]) -> (Vec<f64>, usize) {
    let sent: HashMap<String, Instant> = sends.iter().cloned().collect();
    let mut first_arrival: HashMap<String, Instant> = HashMap::new();
    let mut duplicates = 0;
    for (id, t) in arrivals {
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
    (ms, duplicates)
}
