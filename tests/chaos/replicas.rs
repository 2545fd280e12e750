//! `make chaos-replicas` (`--mode replicas`): the run's events through several `eventferry
//! drive` replicas on one queue, every one with `--clean-up`, while the fleet goes through full
//! rolling restarts (each replica SIGTERMed in turn and replaced), SIGKILLs, and a cut of the path
//! between ONE replica (slot 0, which talks to LocalStack through the proxy) and LocalStack. At
//! the end every replica is stopped with SIGTERM in turn: the last one out must remove everything.
//! The last line is `chaos-replicas: sent=.. delivered_unique=.. lost=.. duplicates=..
//! leaked_resources=..`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::{Driver, SIGTERM};
use crate::end::{leaked, result};
use crate::load::{progress, spawn_sender};
use crate::log::log;
use crate::run::Chaos;

/// Replica start-up: provisioning, joining, and (after a teardown) waiting out
/// `QueueDeletedRecently`.
const READY: Duration = Duration::from_secs(150);
/// SIGTERM to exit: the drain (20 s), the leave protocol (bounded by the lease TTL) and the
/// teardown.
const LEAVE: Duration = Duration::from_secs(150);
const SKIPPED: &str = "clean-up skipped";

/// A fault, in the order they fire.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Round `.1` of the rolling restart: SIGTERM slot `.0` and replace it.
    Leave(usize, usize),
    /// SIGKILL slot `.0` and replace it.
    Kill(usize),
    /// Cut the proxy (slot 0's path to LocalStack).
    Cut,
}

/// One place in the fleet: its current process and replica id.
struct Slot {
    driver: Driver,
    id: String,
}

struct Fleet {
    slots: Vec<Slot>,
    /// Replicas started so far (replica ids are `r<slot>-<n>`).
    generation: u32,
    /// What went against the design (logged as it happens and at the end).
    anomalies: Vec<String>,
    /// The proxy cut, while it lasts.
    cut: Option<tokio::task::JoinHandle<()>>,
}

/// The whole replicas run; its exit status is the result line's.
pub async fn run(chaos: &mut Chaos) -> ExitCode {
    let phase = Arc::new(Mutex::new(String::from("start")));
    let sent = Arc::new(AtomicU64::new(0));
    let reporter = spawn_progress(chaos, phase.clone(), sent.clone());

    let mut fleet = Fleet {
        slots: Vec::new(),
        generation: 0,
        anomalies: Vec::new(),
        cut: None,
    };
    // Started together, as a Deployment's pods are.
    for slot in 0..chaos.opts.replicas {
        let s = fleet.start(chaos, slot);
        fleet.slots.push(s);
    }
    for slot in 0..chaos.opts.replicas {
        fleet.wait_ready(slot).await;
    }
    log(format!(
        "{} replicas ready (slot 0 through the proxy); sending",
        chaos.opts.replicas
    ));

    let steps = schedule(chaos);
    let mut load = Load {
        sent: sent.clone(),
        sender: Some(spawn_sender(chaos, sent.clone())),
        done_at: None,
    };
    let hard_limit = Duration::from_secs(chaos.opts.drain_secs + 1800);
    for (step, at) in steps {
        set(
            &phase,
            format!("waiting for {at} unique deliveries before {step:?}"),
        );
        wait_until(chaos, &mut load, at, hard_limit).await;
        set(&phase, format!("{step:?}"));
        fleet.fire(chaos, step).await;
    }

    set(
        &phase,
        "drain: waiting for every sent id at the sink".into(),
    );
    wait_until(chaos, &mut load, u64::MAX, hard_limit).await;
    let sent_n = sent.load(Ordering::SeqCst);
    if chaos.sink.unique() < sent_n {
        log(format!(
            "drain limit reached with {}/{sent_n} delivered",
            chaos.sink.unique()
        ));
    } else {
        log(format!("every sent id delivered ({sent_n})"));
    }
    fleet.wait_cut_over(0).await;

    set(&phase, "final stop: SIGTERM every replica in turn".into());
    let last = fleet.slots.len() - 1;
    for slot in 0..fleet.slots.len() {
        fleet.leave(slot, slot < last).await;
    }
    reporter.abort();
    let (leaked_n, leaked_list) = leaked(&chaos.config, &chaos.instance, &chaos.queue).await;
    for l in &leaked_list {
        log(format!("LEAKED: {l}"));
    }
    log(format!(
        "anomalies (against the replicas design): {}{}",
        fleet.anomalies.len(),
        fleet
            .anomalies
            .iter()
            .map(|a| format!("\n  {a}"))
            .collect::<String>()
    ));
    result(chaos, "chaos-replicas", sent_n, leaked_n)
}

/// The faults in order, each with the count of unique deliveries it waits for: the rolling
/// restarts spread over 5 %..85 % of the events, the SIGKILLs after the first round, the cut
/// half way through.
fn schedule(chaos: &mut Chaos) -> Vec<(Step, u64)> {
    let o = &chaos.opts;
    let mut steps = Vec::new();
    for round in 1..=o.restarts {
        for slot in 0..o.replicas {
            steps.push(Step::Leave(slot, round));
        }
        if round == 1 {
            for _ in 0..o.kills {
                steps.push(Step::Kill(chaos.rng.range(0, o.replicas as u64) as usize));
            }
        }
    }
    if o.restarts == 0 {
        for _ in 0..o.kills {
            steps.push(Step::Kill(chaos.rng.range(0, o.replicas as u64) as usize));
        }
    }
    steps.insert(steps.len() / 2, Step::Cut);
    let n = o.events;
    let len = steps.len() as u64;
    let planned: Vec<(Step, u64)> = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, n * 5 / 100 + n * 80 / 100 * i as u64 / len.max(1)))
        .collect();
    log(format!("faults (step, at unique deliveries): {planned:?}"));
    planned
}

impl Fleet {
    /// One fault: the cut starts (and runs on in the background), or a replica leaves or is
    /// SIGKILLed and its replacement is ready.
    async fn fire(&mut self, chaos: &mut Chaos, step: Step) {
        match step {
            Step::Cut => {
                let (p, d) = (
                    chaos.proxy.clone(),
                    Duration::from_secs(chaos.opts.cut_secs),
                );
                self.cut = Some(tokio::spawn(async move { p.cut_for(d).await }));
            }
            Step::Leave(slot, round) => {
                self.wait_cut_over(slot).await;
                log(format!(
                    "rolling restart {round}/{}: SIGTERM replica {} (slot {slot}) at {} unique deliveries",
                    chaos.opts.restarts,
                    self.slots[slot].id,
                    chaos.sink.unique()
                ));
                self.leave(slot, true).await;
                self.replace(chaos, slot).await;
            }
            Step::Kill(slot) => {
                self.wait_cut_over(slot).await;
                tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 3000))).await;
                log(format!(
                    "SIGKILL replica {} (slot {slot}) at {} unique deliveries",
                    self.slots[slot].id,
                    chaos.sink.unique()
                ));
                self.slots[slot].driver.kill().await;
                tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 2000))).await;
                self.replace(chaos, slot).await;
            }
        }
    }

    /// Slot 0 is behind the proxy: it is not stopped while its path is cut (its leave could not
    /// reach LocalStack).
    async fn wait_cut_over(&mut self, slot: usize) {
        if slot != 0 {
            return;
        }
        if let Some(t) = self.cut.take() {
            if !t.is_finished() {
                log("slot 0 waits for the proxy cut to end");
            }
            let _ = t.await;
        }
    }

    /// A new replica in `slot` (slot 0 talks to LocalStack through the proxy).
    fn start(&mut self, chaos: &mut Chaos, slot: usize) -> Slot {
        self.generation += 1;
        let id = format!("r{slot}-{}", self.generation);
        let driver =
            chaos
                .launcher
                .start_replica(&chaos.instance, &id, chaos.opts.lease_ttl, slot == 0);
        Slot { driver, id }
    }

    async fn wait_ready(&mut self, slot: usize) {
        let s = &self.slots[slot];
        if !s.driver.wait_ready(READY).await {
            self.anomaly(format!(
                "replica {} not receiving within {READY:?}; last lines:\n{}",
                s.id,
                s.driver.tail(6)
            ));
        }
    }

    /// A replacement for `slot`, once its predecessor exited.
    async fn replace(&mut self, chaos: &mut Chaos, slot: usize) {
        let s = self.start(chaos, slot);
        log(format!("replica {} starts in slot {slot}", s.id));
        self.slots[slot] = s;
        self.wait_ready(slot).await;
    }

    /// SIGTERM `slot`'s replica and wait for it. With `others_live`, it must skip the clean-up
    /// (and the resources stay); otherwise it is the last one out and must not skip.
    async fn leave(&mut self, slot: usize, others_live: bool) {
        let started = Instant::now();
        let s = &mut self.slots[slot];
        s.driver.signal(SIGTERM);
        let code = s.driver.wait(LEAVE).await;
        let skipped = s.driver.said(SKIPPED);
        let id = s.id.clone();
        let tail = s.driver.tail(3);
        log(format!(
            "replica {id} exited with {code:?} after {:.1} s; clean-up skipped: {skipped}",
            started.elapsed().as_secs_f64()
        ));
        if code != Some(0) {
            self.anomaly(format!(
                "replica {id} exit status {code:?}; last lines:\n{tail}"
            ));
        }
        if skipped != others_live {
            self.anomaly(format!(
                "replica {id}: clean-up skipped = {skipped}, expected {others_live}; last lines:\n{tail}"
            ));
        }
    }

    fn anomaly(&mut self, what: String) {
        log(format!("ANOMALY: {what}"));
        self.anomalies.push(what);
    }
}

/// The events being put, and when the last was.
struct Load {
    sent: Arc<AtomicU64>,
    sender: Option<tokio::task::JoinHandle<Result<(), String>>>,
    done_at: Option<Instant>,
}

/// Until `at` unique deliveries, or every sent id is delivered once the sender is done, or the
/// drain limit after the sender finished, or the run's hard limit.
async fn wait_until(chaos: &Chaos, load: &mut Load, at: u64, hard_limit: Duration) {
    loop {
        if load.sender.as_ref().is_some_and(|s| s.is_finished()) {
            match load.sender.take().unwrap().await {
                Ok(Ok(())) => log(format!(
                    "all {} events put",
                    load.sent.load(Ordering::SeqCst)
                )),
                Ok(Err(e)) => log(format!("sending failed: {e}")),
                Err(e) => log(format!("sender task failed: {e}")),
            }
            load.done_at = Some(Instant::now());
        }
        let unique = chaos.sink.unique();
        if unique >= at {
            return;
        }
        if let Some(t) = load.done_at {
            if unique >= load.sent.load(Ordering::SeqCst)
                || t.elapsed() > Duration::from_secs(chaos.opts.drain_secs)
            {
                return;
            }
        }
        if chaos.started.elapsed() > hard_limit {
            log("hard time limit reached");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn set(phase: &Mutex<String>, now: String) {
    *phase.lock().unwrap() = now;
}

/// A progress line every 10 s: the phase and the counts.
fn spawn_progress(
    chaos: &Chaos,
    phase: Arc<Mutex<String>>,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    let (sink, proxy) = (chaos.sink.clone(), chaos.proxy.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let line = progress(&sink, &proxy, sent.load(Ordering::SeqCst));
            log(format!("[{}] {line}", phase.lock().unwrap()));
        }
    })
}
