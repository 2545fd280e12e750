//! What one measured run yields: a [`Row`] of the throughput table, from two [`Sample`]s that
//! bound the measured window and the process's rusage.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::ctx::Ctx;
use crate::common::{self, Usage};

/// CPU of the measured process and of LocalStack at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    pub cpu: Option<Duration>,
    pub localstack: Option<Duration>,
}

impl Sample {
    /// Now: the process's CPU, then LocalStack's, then the clock.
    pub fn take(ctx: &Ctx, pid: u32) -> Sample {
        let cpu = common::proc_cpu(pid);
        let localstack = ctx.localstack_cpu();
        Sample {
            at: Instant::now(),
            cpu,
            localstack,
        }
    }
}

/// Between two samples: the process's CPU, and LocalStack's as a share of one core.
pub fn window(start: &Sample, end: &Sample) -> (Option<Duration>, Option<f64>) {
    let cpu = match (start.cpu, end.cpu) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let localstack = match (start.localstack, end.localstack) {
        (Some(a), Some(b)) => {
            Some(b.saturating_sub(a).as_secs_f64() / end.at.duration_since(start.at).as_secs_f64())
        }
        _ => None,
    };
    (cpu, localstack)
}

#[derive(Debug, Clone)]
pub struct Row {
    pub who: &'static str,
    pub sink: &'static str,
    pub concurrency: usize,
    pub messages: usize,
    pub seconds: f64,
    /// CPU of the process over the measured window.
    pub window_cpu: Option<Duration>,
    pub usage: Usage,
    /// Peak RSS (VmHWM) read just before the process ended, KiB.
    pub peak_rss_kib: Option<u64>,
    /// LocalStack's CPU over the window, as a share of one core.
    pub localstack_cpu: Option<f64>,
    /// Deliveries the HTTP sink saw during the run (duplicates included): requests, so with
    /// `--sink-batch` fewer than the messages.
    pub sink_deliveries: Option<u64>,
    /// The driver's flags beyond the usual run's (`--sink-batch 10`, `--max-rate 200`, …).
    pub flags: Vec<String>,
    /// With `--rounds` above 1 (the floor and the driver's HTTP rows): the window CPU µs/msg of
    /// every round, in round order; this row is the round with the median of them.
    pub rounds_us: Vec<f64>,
}

impl Row {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
    pub fn window_us(&self) -> Option<f64> {
        self.window_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.messages as f64)
    }
    pub fn rss_mib(&self) -> f64 {
        self.peak_rss_kib
            .map(|k| k as f64 / 1024.0)
            .unwrap_or(f64::NAN)
    }
    pub fn process_us(&self) -> f64 {
        self.usage.cpu().as_secs_f64() * 1e6 / self.messages as f64
    }
    pub fn to_json(&self) -> Value {
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
            "flags": self.flags,
            "rounds_cpu_us_per_msg_window": self.rounds_us,
            "exit_status": self.usage.status,
        })
    }

    /// One line on stderr as the run ends.
    pub fn progress(&self) {
        eprintln!(
            "  {:<6} {:<6} c={} {:>8.0} msgs/s  window CPU {:>6} µs/msg  process CPU {:>6.1} µs/msg  RSS {:.1} MiB",
            self.who,
            self.sink,
            self.concurrency,
            self.rate(),
            self.window_us().map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
            self.process_us(),
            self.rss_mib()
        );
    }
}

/// Of the same run measured in several rounds, the round with the median window CPU per message
/// (the upper one of an even count), carrying every round's figure in round order.
pub fn median_row(rounds: Vec<Row>) -> Row {
    let rounds_us: Vec<f64> = rounds
        .iter()
        .map(|r| r.window_us().unwrap_or(f64::NAN))
        .collect();
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| rounds_us[a].total_cmp(&rounds_us[b]));
    let mid = order[order.len() / 2];
    let mut row = rounds.into_iter().nth(mid).expect("at least one round");
    row.rounds_us = rounds_us;
    row
}
