//! After the load: crash cycles, a last driver stopped with --clean-up, `eventferry cleanup`, the
//! leak check and the result line.

use std::process::ExitCode;
use std::time::Duration;

use aws_config::SdkConfig;

use crate::driver::{eventferry_bin, SIGTERM};
use crate::log::log;
use crate::run::Chaos;

/// What the run left behind (see [`eventferry_tests::leftovers`]): the instance's rules and
/// their targets, rules of any name targeting the queue, the queue and its DLQ if they are the
/// instance's, and replica tags and policy statements on a foreign queue.
pub async fn leaked(config: &SdkConfig, instance: &str, queue: &str) -> (u64, Vec<String>) {
    let found = eventferry_tests::leftovers(config, instance, queue).await;
    (found.len() as u64, found)
}

/// Start/SIGKILL cycles: half the kills land at a random moment during start-up
/// (mid-provisioning), half after the driver says it is receiving.
pub async fn crash_cycles(chaos: &mut Chaos) {
    let mut cycle_ready = 0;
    for cycle in 1..=chaos.opts.cycles {
        let mut d = chaos.launcher.start(false);
        if cycle % 2 == 0 {
            if d.wait_ready(Duration::from_secs(120)).await {
                cycle_ready += 1;
            }
            tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 1500))).await;
        } else {
            tokio::time::sleep(Duration::from_millis(chaos.rng.range(0, 2500))).await;
        }
        d.kill().await;
    }
    log(format!(
        "crash cycles: {} start/SIGKILL cycles done ({cycle_ready} killed after ready)",
        chaos.opts.cycles
    ));
}

/// A last driver with --clean-up, stopped by SIGTERM, then `eventferry cleanup --owner`.
pub async fn stop_with_clean_up(chaos: &mut Chaos) {
    let mut last = chaos.launcher.start(true);
    let was_ready = last.wait_ready(Duration::from_secs(120)).await;
    last.signal(SIGTERM);
    let code = last.wait(Duration::from_secs(90)).await;
    log(format!(
        "final driver (ready={was_ready}) exited with {code:?} after SIGTERM; last lines:\n{}",
        last.tail(4)
    ));
    let instance = &chaos.instance;
    let cleanup = tokio::process::Command::new(eventferry_bin())
        .args([
            "cleanup",
            "--owner",
            instance,
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
}

/// Prints the summary and the last line, `<label>: sent=.. delivered_unique=.. lost=..
/// duplicates=.. leaked_resources=..`; success when nothing is lost or leaked.
pub fn result(chaos: &Chaos, label: &str, sent_n: u64, leaked_n: u64) -> ExitCode {
    let n = chaos.opts.events;
    let st = chaos.sink.state.lock().unwrap();
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
        "sink: {} requests, {} failed (incl. hangs answered 503), {} hung, {} foreign; {} driver starts; seed={}",
        st.requests, st.failed, st.hung, st.foreign, chaos.launcher.starts, chaos.opts.seed
    ));
    log(format!(
        "total time: {:.1} s",
        chaos.started.elapsed().as_secs_f64()
    ));
    println!(
        "{label}: sent={sent_n} delivered_unique={delivered_unique} lost={lost} duplicates={duplicates} leaked_resources={leaked_n}"
    );
    if lost == 0 && leaked_n == 0 && sent_n == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
