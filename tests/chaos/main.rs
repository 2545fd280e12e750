//! `make chaos`: 10,000 events through `eventferry drive` under faults, then crash cycles and a
//! clean-up check. The last line on stdout is exactly
//! `chaos: sent=N delivered_unique=N lost=N duplicates=N leaked_resources=N`.
//!
//! Faults: the harness's HTTP sink fails a share of requests at random and hangs on a few past the
//! queue's visibility timeout; the driver is SIGKILLed at random moments and restarted; a
//! fault-injecting TCP proxy between the driver and LocalStack cuts every connection for a while.
//! PutEvents from the harness go to LocalStack directly. Everything listens on 127.0.0.1.
//!
//! Flags (all optional): --seed N, --events N, --kills N, --cycles N, --fail-rate F, --hang-rate F,
//! --hang-secs N, --cut-secs N, --drain-secs N.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// SplitMix64: small, seedable, good enough for fault schedules.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

#[derive(Debug, Clone)]
struct Opts {
    seed: u64,
    events: u64,
    kills: usize,
    cycles: usize,
    fail_rate: f64,
    hang_rate: f64,
    hang_secs: u64,
    cut_secs: u64,
    /// After the last PutEvents, how long to wait for every id at the sink.
    drain_secs: u64,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64,
        events: 10_000,
        kills: 5,
        cycles: 20,
        fail_rate: 0.30,
        hang_rate: 0.01,
        hang_secs: 14,
        cut_secs: 10,
        drain_secs: 600,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        match flag {
            "--seed" => o.seed = value.parse().map_err(|e| bad(&e))?,
            "--events" => o.events = value.parse().map_err(|e| bad(&e))?,
            "--kills" => o.kills = value.parse().map_err(|e| bad(&e))?,
            "--cycles" => o.cycles = value.parse().map_err(|e| bad(&e))?,
            "--fail-rate" => o.fail_rate = value.parse().map_err(|e| bad(&e))?,
            "--hang-rate" => o.hang_rate = value.parse().map_err(|e| bad(&e))?,
            "--hang-secs" => o.hang_secs = value.parse().map_err(|e| bad(&e))?,
            "--cut-secs" => o.cut_secs = value.parse().map_err(|e| bad(&e))?,
            "--drain-secs" => o.drain_secs = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
        i += 2;
    }
    if o.events == 0 || o.fail_rate + o.hang_rate >= 1.0 {
        return Err("--events must be > 0 and --fail-rate + --hang-rate < 1".into());
    }
    Ok(o)
}

fn log(msg: impl AsRef<str>) {
    eprintln!("chaos: [{}] {}", clock(), msg.as_ref());
}

fn clock() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

// ---------------------------------------------------------------------------------------------
// The sink

#[derive(Default)]
struct SinkState {
    /// chaos id -> number of 2xx answers.
    delivered: HashMap<u64, u32>,
    requests: u64,
    failed: u64,
    hung: u64,
    foreign: u64,
}

struct Sink {
    state: Mutex<SinkState>,
    rng: Mutex<Rng>,
    run: String,
    fail_rate: f64,
    hang_rate: f64,
    hang: Duration,
}

impl Sink {
    fn unique(&self) -> u64 {
        self.state.lock().unwrap().delivered.len() as u64
    }
}

async fn start_sink(sink: Arc<Sink>) -> String {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let handler = move |body: Bytes| {
        let sink = sink.clone();
        async move {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = value["detail"]["chaos_id"].as_u64();
            let ours = value["detail"]["run"].as_str() == Some(sink.run.as_str());
            let (Some(id), true) = (id, ours) else {
                sink.state.lock().unwrap().foreign += 1;
                return StatusCode::BAD_REQUEST;
            };
            let roll = sink.rng.lock().unwrap().f64();
            sink.state.lock().unwrap().requests += 1;
            let status = if roll < sink.hang_rate {
                // Hang past the visibility timeout, then answer 200 or 503 (half each).
                sink.state.lock().unwrap().hung += 1;
                tokio::time::sleep(sink.hang).await;
                if sink.rng.lock().unwrap().f64() < 0.5 {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            } else if roll < sink.hang_rate + sink.fail_rate {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            let mut st = sink.state.lock().unwrap();
            if status == StatusCode::OK {
                *st.delivered.entry(id).or_default() += 1;
            } else {
                st.failed += 1;
            }
            status
        }
    };
    let app = axum::Router::new().route("/events", axum::routing::post(handler));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

// ---------------------------------------------------------------------------------------------
// The fault-injecting TCP proxy: driver -> proxy -> LocalStack.

struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Bumped at every cut: live connections watch it and close.
    epoch: watch::Sender<u64>,
    connections: Arc<AtomicU64>,
}

async fn start_proxy(upstream: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().unwrap().port();
    let cut = Arc::new(AtomicBool::new(false));
    let (epoch, _) = watch::channel(0u64);
    let connections = Arc::new(AtomicU64::new(0));
    let (c, e, n) = (cut.clone(), epoch.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            if c.load(Ordering::SeqCst) {
                // Cut: refuse by closing at once.
                drop(inbound);
                continue;
            }
            n.fetch_add(1, Ordering::Relaxed);
            let mut rx = e.subscribe();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = rx.changed() => {
                        // Reset rather than close politely: a cut link does not say goodbye.
                        // A zero linger never blocks on drop, which is what the deprecation
                        // warns about.
                        #[allow(deprecated)]
                        let _ = inbound.set_linger(Some(Duration::ZERO));
                    }
                }
            });
        }
    });
    Proxy {
        port,
        cut,
        epoch,
        connections,
    }
}

impl Proxy {
    async fn cut_for(&self, d: Duration) {
        log(format!(
            "proxy: cutting the driver <-> LocalStack path for {d:?}"
        ));
        self.cut.store(true, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
        tokio::time::sleep(d).await;
        self.cut.store(false, Ordering::SeqCst);
        log("proxy: path restored");
    }
}

// ---------------------------------------------------------------------------------------------
// The driver process

fn eventferry_bin() -> PathBuf {
    // target/<profile>/chaos -> target/<profile>/eventferry
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.parent().expect("target dir").join("eventferry");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p eventferry-driver`",
        bin.display()
    );
    bin
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

struct Driver {
    child: tokio::process::Child,
    ready: Arc<AtomicBool>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Driver {
    fn start(args: &[String], log_path: PathBuf) -> Driver {
        let mut child = tokio::process::Command::new(eventferry_bin())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start eventferry drive");
        let ready = Arc::new(AtomicBool::new(false));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (ready.clone(), stderr.clone());
        let pipe = child.stderr.take().expect("piped stderr");
        tokio::spawn(async move {
            let mut file = std::fs::File::create(&log_path).ok();
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("receiving") {
                    r.store(true, Ordering::SeqCst);
                }
                if line.contains("panicked") {
                    log(format!("DRIVER PANIC: {line}"));
                }
                if let Some(f) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
                s.lock().unwrap().push(line);
            }
        });
        Driver {
            child,
            ready,
            stderr,
        }
    }

    async fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.ready.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    fn signal(&self, sig: i32) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the PID of our own child, not yet reaped.
            unsafe { kill(pid as i32, sig) };
        }
    }

    /// Wait for exit (bounded); SIGKILL if it does not come. Returns the exit code.
    async fn wait(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                log(format!("driver did not exit within {limit:?}: SIGKILL"));
                self.signal(SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
                None
            }
        }
    }

    async fn kill(&mut self) {
        self.signal(SIGKILL);
        self.wait(Duration::from_secs(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Load

async fn put_all(
    config: &SdkConfig,
    run: &str,
    source: &str,
    events: u64,
    sent: Arc<AtomicU64>,
) -> Result<(), String> {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    let client = aws_sdk_eventbridge::Client::new(config);
    let batches: Vec<Vec<u64>> = (0..events)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|c| c.to_vec())
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let batches = Arc::new(batches);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, next, batches, sent) =
            (client.clone(), next.clone(), batches.clone(), sent.clone());
        let (run, source) = (run.to_owned(), source.to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                let Some(batch) = batches.get(i) else {
                    return Ok::<(), String>(());
                };
                let mut pending: Vec<u64> = batch.clone();
                for attempt in 0..20 {
                    let entries: Vec<PutEventsRequestEntry> = pending
                        .iter()
                        .map(|id| {
                            PutEventsRequestEntry::builder()
                                .event_bus_name("default")
                                .source(&source)
                                .detail_type("ChaosEvent")
                                .detail(serde_json::json!({"run": run, "chaos_id": id}).to_string())
                                .build()
                        })
                        .collect();
                    match client.put_events().set_entries(Some(entries)).send().await {
                        Ok(out) => {
                            let failed: Vec<u64> = out
                                .entries()
                                .iter()
                                .zip(&pending)
                                .filter(|(e, _)| e.error_code().is_some())
                                .map(|(_, id)| *id)
                                .collect();
                            sent.fetch_add((pending.len() - failed.len()) as u64, Ordering::SeqCst);
                            pending = failed;
                        }
                        Err(e) => log(format!("PutEvents failed (attempt {attempt}): {e}")),
                    }
                    if pending.is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                }
                if !pending.is_empty() {
                    return Err(format!("PutEvents kept failing for ids {pending:?}"));
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Leak check

async fn leaked(config: &SdkConfig, instance: &str, queue: &str) -> (u64, Vec<String>) {
    let mut found = Vec::new();
    let eb = aws_sdk_eventbridge::Client::new(config);
    let rules =
        eventferry_tests::rules_with_prefix(config, "default", &format!("eventferry-{instance}"))
            .await;
    for rule in &rules {
        found.push(format!("rule {rule}"));
        if let Ok(t) = eb.list_targets_by_rule().rule(rule).send().await {
            for target in t.targets() {
                found.push(format!("target {} of rule {rule}", target.id()));
            }
        }
    }
    // Rules of any name still pointing at our queue.
    let queue_arn = format!("arn:aws:sqs:us-east-1:000000000000:{queue}");
    if let Ok(out) = eb
        .list_rule_names_by_target()
        .target_arn(&queue_arn)
        .send()
        .await
    {
        for rule in out.rule_names() {
            if !rules.contains(rule) {
                found.push(format!("rule {rule} targeting {queue_arn}"));
            }
        }
    }
    for url in eventferry_tests::queues_with_prefix(config, queue).await {
        found.push(format!("queue {url}"));
    }
    (found.len() as u64, found)
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut rng = Rng(opts.seed);
    let run = format!("{:x}", rng.next_u64() % 0xffff_ffff);
    let queue = format!("efchaos-{run}");
    let instance = queue.clone();
    let source = format!("chaos.{run}");
    log(format!(
        "seed={} run={run} queue={queue} events={} kills={} cycles={} fail_rate={} hang_rate={} hang={}s cut={}s",
        opts.seed, opts.events, opts.kills, opts.cycles, opts.fail_rate, opts.hang_rate, opts.hang_secs, opts.cut_secs
    ));
    let logs = PathBuf::from(std::env::var("CHAOS_LOG_DIR").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("eventferry-chaos-{run}"))
            .display()
            .to_string()
    }));
    std::fs::create_dir_all(&logs).expect("log dir");
    log(format!("driver logs in {}", logs.display()));

    let config = eventferry_tests::localstack().await;
    let upstream = eventferry_tests::endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let sink = Arc::new(Sink {
        state: Mutex::default(),
        rng: Mutex::new(Rng(rng.next_u64())),
        run: run.clone(),
        fail_rate: opts.fail_rate,
        hang_rate: opts.hang_rate,
        hang: Duration::from_secs(opts.hang_secs),
    });
    let sink_url = start_sink(sink.clone()).await;
    let proxy = Arc::new(start_proxy(upstream).await);
    log(format!(
        "sink {sink_url}, proxy 127.0.0.1:{} -> LocalStack",
        proxy.port
    ));

    let pattern = format!(r#"[{{"source":["{source}"]}}]"#);
    let driver_args = |clean_up: bool| -> Vec<String> {
        let mut a: Vec<String> = [
            "drive",
            "--event-patterns",
            &pattern,
            "--queue-name",
            &queue,
            "--endpoint-url",
            &format!("http://127.0.0.1:{}", proxy.port),
            "--region",
            "us-east-1",
            "--sink",
            &sink_url,
            "--visibility-timeout",
            "10",
            "--concurrency",
            "4",
            "--duration",
            "5",
            "--sink-timeout",
            "30",
            "--drain-timeout",
            "20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if clean_up {
            a.push("--clean-up".into());
        }
        a
    };
    let mut starts = 0u32;
    let mut start_driver = |clean_up: bool| {
        starts += 1;
        Driver::start(
            &driver_args(clean_up),
            logs.join(format!("driver-{starts:02}.log")),
        )
    };

    // --- Load phase ---------------------------------------------------------------------------
    let mut driver = start_driver(false);
    if !driver.wait_ready(Duration::from_secs(120)).await {
        log(format!(
            "driver not ready within 120 s; stderr:\n{}",
            driver.stderr.lock().unwrap().join("\n")
        ));
        return ExitCode::FAILURE;
    }
    log("driver ready; sending");

    // Faults fire when the count of unique deliveries crosses random thresholds, so they land
    // while events are flowing whatever the machine's speed.
    let n = opts.events;
    let mut kill_at: Vec<u64> = (0..opts.kills)
        .map(|_| rng.range(n / 20, n * 9 / 10))
        .collect();
    kill_at.sort_unstable();
    let cut_at = rng.range(n / 10, n * 8 / 10);
    log(format!(
        "faults: SIGKILL at unique deliveries {kill_at:?}; proxy cut at {cut_at}"
    ));

    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (config, run, source, sent) =
            (config.clone(), run.clone(), source.clone(), sent.clone());
        tokio::spawn(async move { put_all(&config, &run, &source, n, sent).await })
    };
    let mut sender = Some(sender);
    let mut send_done_at: Option<Instant> = None;
    let mut cut_done = false;
    let mut cut_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut kills_done = 0usize;
    let mut last_report = Instant::now();
    let hard_limit = Duration::from_secs(opts.drain_secs + 600);
    loop {
        let unique = sink.unique();
        if let Some(s) = sender.as_ref() {
            if s.is_finished() {
                match sender.take().unwrap().await {
                    Ok(Ok(())) => log(format!("all {} events put", sent.load(Ordering::SeqCst))),
                    Ok(Err(e)) => log(format!("sending failed: {e}")),
                    Err(e) => log(format!("sender task failed: {e}")),
                }
                send_done_at = Some(Instant::now());
            }
        }
        if !cut_done && unique >= cut_at {
            cut_done = true;
            let (p, d) = (proxy.clone(), Duration::from_secs(opts.cut_secs));
            cut_task = Some(tokio::spawn(async move { p.cut_for(d).await }));
        }
        if kills_done < kill_at.len() && unique >= kill_at[kills_done] {
            // A random moment shortly after the threshold.
            tokio::time::sleep(Duration::from_millis(rng.range(0, 3000))).await;
            kills_done += 1;
            log(format!(
                "SIGKILL {kills_done}/{} at {} unique deliveries",
                kill_at.len(),
                sink.unique()
            ));
            driver.kill().await;
            tokio::time::sleep(Duration::from_millis(rng.range(0, 2000))).await;
            driver = start_driver(false);
            if !driver.wait_ready(Duration::from_secs(120)).await {
                log("restarted driver not ready within 120 s (continuing)");
            }
        }
        let sent_now = sent.load(Ordering::SeqCst);
        if send_done_at.is_some() && unique >= sent_now && kills_done == kill_at.len() {
            log(format!("every sent id delivered ({unique})"));
            break;
        }
        if let Some(t) = send_done_at {
            if t.elapsed() > Duration::from_secs(opts.drain_secs) {
                log(format!(
                    "drain limit {}s reached with {unique}/{sent_now} delivered",
                    opts.drain_secs
                ));
                break;
            }
        }
        if started.elapsed() > hard_limit {
            log("hard time limit reached");
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let st = sink.state.lock().unwrap();
            log(format!(
                "sent={sent_now} unique={} requests={} failed={} hung={} kills={kills_done} proxy_conns={}",
                st.delivered.len(),
                st.requests,
                st.failed,
                st.hung,
                proxy.connections.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(t) = cut_task {
        let _ = t.await;
    }
    if let Some(s) = sender.take() {
        s.abort();
    }

    // --- Crash cycles -------------------------------------------------------------------------
    driver.kill().await;
    let mut cycle_ready = 0;
    for cycle in 1..=opts.cycles {
        let mut d = start_driver(false);
        // Half the kills land at a random moment during start-up (mid-provisioning), half after
        // the driver says it is receiving.
        if cycle % 2 == 0 {
            if d.wait_ready(Duration::from_secs(120)).await {
                cycle_ready += 1;
            }
            tokio::time::sleep(Duration::from_millis(rng.range(0, 1500))).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.range(0, 2500))).await;
        }
        d.kill().await;
    }
    log(format!(
        "crash cycles: {} start/SIGKILL cycles done ({cycle_ready} killed after ready)",
        opts.cycles
    ));

    // --- Final SIGTERM with --clean-up, then `eventferry cleanup` -----------------------------
    let mut last = start_driver(true);
    let was_ready = last.wait_ready(Duration::from_secs(120)).await;
    last.signal(SIGTERM);
    let code = last.wait(Duration::from_secs(90)).await;
    log(format!(
        "final driver (ready={was_ready}) exited with {code:?} after SIGTERM; last lines:\n{}",
        last.stderr
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(4)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    ));
    let cleanup = tokio::process::Command::new(eventferry_bin())
        .args([
            "cleanup",
            "--owner",
            &instance,
            "--endpoint-url",
            &eventferry_tests::endpoint(),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(120), cleanup).await {
        Ok(Ok(out)) => log(format!(
            "eventferry cleanup --owner {instance}: exit {:?}: {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(Err(e)) => log(format!("eventferry cleanup could not run: {e}")),
        Err(_) => log("eventferry cleanup timed out after 120 s"),
    }
    let (leaked_n, leaked_list) = leaked(&config, &instance, &queue).await;
    for l in &leaked_list {
        log(format!("LEAKED: {l}"));
    }

    // --- Result -------------------------------------------------------------------------------
    let st = sink.state.lock().unwrap();
    let sent_n = sent.load(Ordering::SeqCst);
    let delivered_unique = (0..n).filter(|id| st.delivered.contains_key(id)).count() as u64;
    let lost = sent_n.saturating_sub(delivered_unique);
    let total_ok: u64 = st.delivered.values().map(|&c| c as u64).sum();
    let duplicates = total_ok - st.delivered.len() as u64;
    if lost > 0 {
        let missing: Vec<u64> = (0..n)
            .filter(|id| !st.delivered.contains_key(id))
            .take(20)
            .collect();
        log(format!("first missing ids: {missing:?}"));
    }
    log(format!(
        "sink: {} requests, {} failed (incl. hangs answered 503), {} hung, {} foreign; {} driver starts; elapsed {:?}; seed={}",
        st.requests, st.failed, st.hung, st.foreign, starts, started.elapsed(), opts.seed
    ));
    println!(
        "chaos: sent={sent_n} delivered_unique={delivered_unique} lost={lost} duplicates={duplicates} leaked_resources={leaked_n}"
    );
    if lost == 0 && leaked_n == 0 && sent_n == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
