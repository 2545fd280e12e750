//! The load phase: every event put through EventBridge while the faults fire (SIGKILLs and a
//! proxy cut at random counts of unique deliveries), until every sent id is delivered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::driver::Driver;
use crate::log::log;
use crate::opts::Opts;
use crate::proxy::Proxy;
use crate::rng::Rng;
use crate::run::Chaos;
use crate::sink::Sink;

/// PutEvents of ids 0..`events` (10 a call, 4 workers, retried), counted in `sent`; at most
/// `rate` events a second when `rate` > 0.
async fn put_all(
    config: &SdkConfig,
    run: &str,
    source: &str,
    events: u64,
    rate: f64,
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
    let start = tokio::time::Instant::now();
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
                if rate > 0.0 {
                    let due = start + Duration::from_secs_f64((i * 10) as f64 / rate);
                    tokio::time::sleep_until(due).await;
                }
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

/// [`put_all`] of the run's events in the background.
pub fn spawn_sender(
    chaos: &Chaos,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<Result<(), String>> {
    let (config, run, source, n, rate) = (
        chaos.config.clone(),
        chaos.run.clone(),
        chaos.source.clone(),
        chaos.opts.events,
        chaos.opts.rate,
    );
    tokio::spawn(async move { put_all(&config, &run, &source, n, rate, sent).await })
}

/// Faults fire when the count of unique deliveries crosses random thresholds, so they land
/// while events are flowing whatever the machine's speed.
struct Faults {
    kill_at: Vec<u64>,
    kills_done: usize,
    cut_at: u64,
    cut_task: Option<tokio::task::JoinHandle<()>>,
}

impl Faults {
    fn schedule(rng: &mut Rng, opts: &Opts) -> Faults {
        let n = opts.events;
        let mut kill_at: Vec<u64> = (0..opts.kills)
            .map(|_| rng.range(n / 20, n * 9 / 10))
            .collect();
        kill_at.sort_unstable();
        let cut_at = rng.range(n / 10, n * 8 / 10);
        log(format!(
            "faults: SIGKILL at unique deliveries {kill_at:?}; proxy cut at {cut_at}"
        ));
        Faults {
            kill_at,
            kills_done: 0,
            cut_at,
            cut_task: None,
        }
    }

    fn all_killed(&self) -> bool {
        self.kills_done == self.kill_at.len()
    }

    /// The proxy cut and the next SIGKILL (then a restart), once `unique` reaches their
    /// thresholds.
    async fn fire(&mut self, chaos: &mut Chaos, driver: &mut Driver, unique: u64) {
        if self.cut_task.is_none() && unique >= self.cut_at {
            let (p, d) = (
                chaos.proxy.clone(),
                Duration::from_secs(chaos.opts.cut_secs),
            );
            self.cut_task = Some(tokio::spawn(async move { p.cut_for(d).await }));
        }
        if self.kills_done < self.kill_at.len() && unique >= self.kill_at[self.kills_done] {
            // A random moment shortly after the threshold.
            tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 3000))).await;
            self.kills_done += 1;
            log(format!(
                "SIGKILL {}/{} at {} unique deliveries",
                self.kills_done,
                self.kill_at.len(),
                chaos.sink.unique()
            ));
            driver.kill().await;
            tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 2000))).await;
            *driver = chaos.launcher.start(false);
            if !driver.wait_ready(Duration::from_secs(120)).await {
                log("restarted driver not ready within 120 s (continuing)");
            }
        }
    }
}

/// Puts every event while the faults fire; returns once every sent id is delivered (or a time
/// limit is reached) and the cut is over. The count of events put is returned.
pub async fn load(chaos: &mut Chaos, driver: &mut Driver) -> Arc<AtomicU64> {
    let mut faults = Faults::schedule(&mut chaos.rng, &chaos.opts);
    let sent = Arc::new(AtomicU64::new(0));
    let mut sender = Some(spawn_sender(chaos, sent.clone()));
    let mut send_done_at: Option<Instant> = None;
    let mut last_report = Instant::now();
    let hard_limit = Duration::from_secs(chaos.opts.drain_secs + 600);
    loop {
        let unique = chaos.sink.unique();
        if sender.as_ref().is_some_and(|s| s.is_finished()) {
            match sender.take().unwrap().await {
                Ok(Ok(())) => log(format!("all {} events put", sent.load(Ordering::SeqCst))),
                Ok(Err(e)) => log(format!("sending failed: {e}")),
                Err(e) => log(format!("sender task failed: {e}")),
            }
            send_done_at = Some(Instant::now());
        }
        faults.fire(chaos, driver, unique).await;
        let sent_now = sent.load(Ordering::SeqCst);
        if send_done_at.is_some() && unique >= sent_now && faults.all_killed() {
            log(format!("every sent id delivered ({unique})"));
            break;
        }
        if let Some(t) = send_done_at {
            if t.elapsed() > Duration::from_secs(chaos.opts.drain_secs) {
                log(format!(
                    "drain limit {}s reached with {unique}/{sent_now} delivered",
                    chaos.opts.drain_secs
                ));
                break;
            }
        }
        if chaos.started.elapsed() > hard_limit {
            log("hard time limit reached");
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            log_progress(chaos, sent_now, faults.kills_done);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(t) = faults.cut_task {
        let _ = t.await;
    }
    if let Some(s) = sender.take() {
        s.abort();
    }
    sent
}

fn log_progress(chaos: &Chaos, sent_now: u64, kills_done: usize) {
    log(format!(
        "{} kills={kills_done}",
        progress(&chaos.sink, &chaos.proxy, sent_now)
    ));
}

/// `sent=.. unique=.. requests=.. failed=.. hung=.. proxy_conns=..`.
pub fn progress(sink: &Sink, proxy: &Proxy, sent_now: u64) -> String {
    let st = sink.state.lock().unwrap();
    format!(
        "sent={sent_now} unique={} requests={} failed={} hung={} proxy_conns={}",
        st.delivered.len(),
        st.requests,
        st.failed,
        st.hung,
        proxy.connections.load(Ordering::Relaxed)
    )
}
