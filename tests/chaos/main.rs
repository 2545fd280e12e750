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
//! --hang-secs N, --cut-secs N, --drain-secs N, --rate N (PutEvents pace, events a second; 0 = as
//! fast as possible), --mode single|replicas; for the replicas mode --replicas N (3),
//! --restarts N (2), --lease-ttl N (10), and the defaults --kills 1 and --rate 30.
//!
//! `--mode replicas` (`make chaos-replicas`, [`replicas`]): several replicas with `--clean-up` on
//! one queue through rolling restarts, a SIGKILL and a cut in front of one replica; the last line
//! is `chaos-replicas: sent=N delivered_unique=N lost=N duplicates=N leaked_resources=N`.
//!
//! Modules, one job each: [`opts`] (the flags), [`rng`], [`log`], [`sink`], [`proxy`], [`driver`]
//! (the driver processes), [`run`] (what every phase shares), [`load`] (the load phase under
//! faults), [`end`] (crash cycles, clean-up, leak check, the result line), [`replicas`] (the
//! replicas mode).

mod driver;
mod end;
mod load;
mod log;
mod opts;
mod proxy;
mod replicas;
mod rng;
mod run;
mod sink;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::end::{crash_cycles, leaked, result, stop_with_clean_up};
use crate::load::load;
use crate::log::log;
use crate::opts::{parse_opts, Mode};
use crate::run::Chaos;

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let mut chaos = Chaos::set_up(opts).await;
    if chaos.opts.mode == Mode::Replicas {
        return replicas::run(&mut chaos).await;
    }

    let mut driver = chaos.launcher.start(false);
    if !driver.wait_ready(Duration::from_secs(120)).await {
        log(format!(
            "driver not ready within 120 s; stderr:\n{}",
            driver.stderr.lock().unwrap().join("\n")
        ));
        return ExitCode::FAILURE;
    }
    log("driver ready; sending");
    let sent = load(&mut chaos, &mut driver).await;

    driver.kill().await;
    crash_cycles(&mut chaos).await;
    stop_with_clean_up(&mut chaos).await;
    let (leaked_n, leaked_list) = leaked(&chaos.config, &chaos.instance, &chaos.queue).await;
    for l in &leaked_list {
        log(format!("LEAKED: {l}"));
    }
    result(&chaos, "chaos", sent.load(Ordering::SeqCst), leaked_n)
}
