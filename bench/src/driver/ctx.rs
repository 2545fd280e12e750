//! What one driver bench run needs: its options (from the command line), the AWS clients, the
//! in-bench sink and the run's id.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::sink::{serve_sink, SinkState};
use crate::common;

pub const REGION: &str = "us-east-1";

pub struct Opts {
    pub quick: bool,
    pub messages: usize,
    pub concurrencies: Vec<usize>,
    pub latency_secs: u64,
    pub latency_rate: f64,
    pub driver: PathBuf,
    pub python: PathBuf,
    pub endpoint: String,
    pub out: PathBuf,
    pub logs: PathBuf,
    /// `--sections a,b`: which parts run (default all of [`SECTIONS`]); the floor always does.
    pub sections: Vec<String>,
    /// `--rounds R`: how often the floor and the driver's HTTP rows run at each concurrency, and
    /// the Python peer at 1, in a rotated order; each row is the median round (3 in a full run, 1
    /// with `--quick`).
    pub rounds: usize,
    /// `--compare NAME=PATH,…`: other `eventferry` binaries run like the usual HTTP rows, in the
    /// same rounds (rows `http NAME`), to compare a change side by side.
    pub compare: Vec<(String, PathBuf)>,
    /// `--rtt-ms MS`: how long the `rtt` section's proxy holds each answer (default 20).
    pub rtt: Duration,
    /// `--rtt-messages N`: messages per run of the `rtt` section (5,000; 1,000 with `--quick`).
    pub rtt_messages: usize,
}

/// The parts of the driver bench, in the order they run.
pub const SECTIONS: [&str; 8] = [
    "driver", "stdout", "batch", "rate", "trace", "python", "latency", "rtt",
];

impl Opts {
    /// Whether `section` runs.
    pub fn runs(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

impl Opts {
    /// `--quick`, `--messages N`, `--latency-secs N`, `--driver PATH`, `--python PATH`,
    /// `--out FILE`, `--sections driver,batch,…`, `--rounds R`, `--concurrencies 1,8` (of the
    /// floor and the usual driver rows, and of the `rtt` section; default 1,2,4,8), `--rtt-ms MS`,
    /// `--rtt-messages N`; the endpoint from `AWS_ENDPOINT_URL`.
    pub fn from_args(args: &[String]) -> Opts {
        let quick = common::flag(args, "--quick");
        let root = common::repo_root();
        Opts {
            quick,
            messages: common::opt(args, "--messages")
                .map(|v| v.parse().expect("--messages N"))
                .unwrap_or(if quick { 2_000 } else { 20_000 }),
            concurrencies: common::opt(args, "--concurrencies")
                .map(|v| {
                    v.split(',')
                        .map(|c| c.trim().parse().expect("--concurrencies 1,8"))
                        .collect()
                })
                .unwrap_or_else(|| vec![1, 2, 4, 8]),
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
            rounds: common::opt(args, "--rounds")
                .map(|v| v.parse().expect("--rounds N"))
                .unwrap_or(if quick { 1 } else { 3 })
                .max(1),
            compare: common::opt(args, "--compare")
                .map(|v| {
                    v.split(',')
                        .map(|pair| {
                            let (name, path) =
                                pair.split_once('=').expect("--compare NAME=PATH,NAME=PATH");
                            (name.to_owned(), PathBuf::from(path))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            rtt: Duration::from_millis(
                common::opt(args, "--rtt-ms")
                    .map(|v| v.parse().expect("--rtt-ms MS"))
                    .unwrap_or(20),
            ),
            rtt_messages: common::opt(args, "--rtt-messages")
                .map(|v| v.parse().expect("--rtt-messages N"))
                .unwrap_or(if quick { 1_000 } else { 5_000 }),
            sections: match common::opt(args, "--sections") {
                Some(list) => {
                    let list: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
                    for s in &list {
                        assert!(
                            SECTIONS.contains(&s.as_str()),
                            "--sections: {s:?} is not one of {SECTIONS:?}"
                        );
                    }
                    list
                }
                None => SECTIONS.iter().map(|s| s.to_string()).collect(),
            },
        }
    }
}

/// Everything one run needs.
pub struct Ctx {
    pub opts: Opts,
    pub run: String,
    pub run_num: u64,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sink: Arc<SinkState>,
    pub sink_port: u16,
    localstack_pid: Option<u32>,
}

impl Ctx {
    /// The AWS clients, a fresh run id from the clock, the in-bench sink (started) and
    /// LocalStack's pid (from `.run/localstack.pid`, when `make localstack-up` started it).
    pub async fn new(opts: Opts) -> Ctx {
        let cfg = aws(&opts.endpoint).await;
        let run_num = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64
            % 0xffff_ffff;
        let run = format!("eventferry-bench-{run_num:08x}");
        let sink = Arc::new(SinkState::default());
        let sink_port = serve_sink(sink.clone()).await;
        let localstack_pid =
            std::fs::read_to_string(common::repo_root().join(".run/localstack.pid"))
                .ok()
                .and_then(|s| s.trim().parse().ok());
        Ctx {
            sqs: aws_sdk_sqs::Client::new(&cfg),
            eventbridge: aws_sdk_eventbridge::Client::new(&cfg),
            opts,
            run,
            run_num,
            sink,
            sink_port,
            localstack_pid,
        }
    }

    /// LocalStack's CPU so far, when its pid is known.
    pub fn localstack_cpu(&self) -> Option<Duration> {
        self.localstack_pid.and_then(common::proc_cpu)
    }
}

/// The SDK configuration for LocalStack at `endpoint` (static test credentials).
pub async fn aws(endpoint: &str) -> aws_config::SdkConfig {
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
