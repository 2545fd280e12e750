//! The harness's flags.

use std::time::{SystemTime, UNIX_EPOCH};

/// What the run exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One driver: SIGKILLs, a proxy cut, then crash cycles (`make chaos`).
    Single,
    /// Replicas on one queue with rolling restarts, a SIGKILL and a proxy cut in front of one
    /// of them (`make chaos-replicas`).
    Replicas,
}

#[derive(Debug, Clone)]
pub struct Opts {
    pub mode: Mode,
    pub seed: u64,
    pub events: u64,
    pub kills: usize,
    pub cycles: usize,
    pub fail_rate: f64,
    pub hang_rate: f64,
    pub hang_secs: u64,
    pub cut_secs: u64,
    /// After the last PutEvents, how long to wait for every id at the sink.
    pub drain_secs: u64,
    /// PutEvents pace in events a second; 0: as fast as LocalStack takes them.
    pub rate: f64,
    /// Replicas mode: how many run at once.
    pub replicas: usize,
    /// Replicas mode: full rolling restarts (every replica SIGTERMed in turn and replaced).
    pub restarts: usize,
    /// Replicas mode: each replica's --lease-ttl.
    pub lease_ttl: u64,
}

pub fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        mode: Mode::Single,
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
        rate: 0.0,
        replicas: 3,
        restarts: 2,
        lease_ttl: 10,
    };
    let (mut kills_given, mut rate_given) = (false, false);
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
            "--mode" => {
                o.mode = match value.as_str() {
                    "single" => Mode::Single,
                    "replicas" => Mode::Replicas,
                    _ => return Err(bad(&"the mode is single or replicas")),
                }
            }
            "--kills" => {
                o.kills = value.parse().map_err(|e| bad(&e))?;
                kills_given = true;
            }
            "--rate" => {
                o.rate = value.parse().map_err(|e| bad(&e))?;
                rate_given = true;
            }
            "--replicas" => o.replicas = value.parse().map_err(|e| bad(&e))?,
            "--restarts" => o.restarts = value.parse().map_err(|e| bad(&e))?,
            "--lease-ttl" => o.lease_ttl = value.parse().map_err(|e| bad(&e))?,
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
    if o.replicas < 2 || !(3..=3600).contains(&o.lease_ttl) {
        return Err("--replicas must be >= 2 and --lease-ttl in 3..=3600".into());
    }
    if o.mode == Mode::Replicas && !kills_given {
        // One SIGKILL among the replicas; the single mode's default is 5.
        o.kills = 1;
    }
    if o.mode == Mode::Replicas && !rate_given {
        // Paced so the events flow through every restart (each takes the drain, up to 20 s):
        // 10,000 events take about 330 s.
        o.rate = 30.0;
    }
    if !(o.rate >= 0.0 && o.rate.is_finite()) {
        return Err(format!("--rate {}: events a second, 0 or more", o.rate));
    }
    Ok(o)
}
