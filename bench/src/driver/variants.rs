//! The floor with one SDK setting changed, side by side (`eventferry-bench floor-variants`):
//! which configuration choices lower the bare aws-sdk-sqs loop's CPU per message. Each variant
//! runs as the floor child (`floor --variant V`) on its own fresh, filled queue; the rounds
//! interleave the variants, so LocalStack's and the machine's drift hits all of them alike.
//!
//!     eventferry-bench floor-variants [--messages N] [--rounds R] [--concurrency C] [--variants a,b]
//!
//! Variants (a `+` joins several): `default` (what the floor and the driver use), `nostall`
//! (stalled-stream protection off), `noretry` (retries off), `notimeout` (the SDK's timeouts off),
//! `nocache` (no identity cache), `pool` (an explicit hyper client: 90 s idle timeout, 16 idle
//! connections per host), `bv2023` (behavior version 2023-11-09), `log-driver` (a fmt subscriber
//! with the driver's default filter), `log-warn` (the same with `warn`).

use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use serde_json::json;

use super::ctx::{Ctx, Opts, REGION};
use super::floor::floor_variant;
use crate::common;

/// The variants a run measures by default.
const DEFAULT_VARIANTS: &str =
    "default,nostall,noretry,notimeout,nocache,pool,bv2023,log-driver,log-warn,nostall+nocache";

/// The floor child's SDK configuration for `variant` (knobs joined by `+`). Installs the
/// variant's tracing subscriber, if any, for the whole process.
pub async fn config(endpoint: &str, variant: &str) -> SdkConfig {
    let knobs: Vec<&str> = variant.split('+').collect();
    let version = if knobs.contains(&"bv2023") {
        #[allow(deprecated)]
        BehaviorVersion::v2023_11_09()
    } else {
        BehaviorVersion::latest()
    };
    let mut loader = aws_config::defaults(version)
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "eventferry-bench",
        ));
    for knob in &knobs {
        loader = match *knob {
            "default" | "bv2023" => loader,
            "nostall" => {
                loader.stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            }
            "noretry" => loader.retry_config(RetryConfig::disabled()),
            "notimeout" => loader.timeout_config(TimeoutConfig::disabled()),
            "nocache" => loader.identity_cache(IdentityCache::no_cache()),
            "pool" => {
                use aws_smithy_http_client::{tls, Builder};
                loader.http_client(
                    Builder::new()
                        .pool_idle_timeout(Duration::from_secs(90))
                        .pool_max_idle_per_host(16)
                        .tls_provider(tls::Provider::Rustls(
                            tls::rustls_provider::CryptoMode::AwsLc,
                        ))
                        .build_https(),
                )
            }
            "log-driver" => {
                subscriber("info,aws_config=error,aws_runtime=error");
                loader
            }
            "log-warn" => {
                subscriber("warn");
                loader
            }
            other => panic!("unknown floor variant {other:?}; see bench/src/driver/variants.rs"),
        };
    }
    loader.load().await
}

/// The driver's subscriber (fmt to stderr, an EnvFilter) with `filter`.
fn subscriber(filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

pub fn main(args: &[String]) {
    let mut opts = Opts::from_args(args);
    let variants: Vec<String> = common::opt(args, "--variants")
        .unwrap_or(DEFAULT_VARIANTS)
        .split(',')
        .map(str::to_owned)
        .collect();
    let rounds: usize = common::opt(args, "--rounds")
        .map(|v| v.parse().expect("--rounds N"))
        .unwrap_or(3);
    let concurrency: usize = common::opt(args, "--concurrency")
        .map(|v| v.parse().expect("--concurrency N"))
        .unwrap_or(1);
    if common::opt(args, "--messages").is_none() {
        opts.messages = 5_000;
    }
    std::fs::create_dir_all(&opts.logs).expect("create target/bench/logs");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run(opts, variants, rounds, concurrency));
}

async fn run(opts: Opts, variants: Vec<String>, rounds: usize, concurrency: usize) {
    let ctx = Ctx::new(opts).await;
    println!(
        "floor variants: {} messages per run, c={concurrency}, {rounds} rounds, run id {}",
        ctx.opts.messages, ctx.run
    );
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut rate: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        // Rotate the order each round, so no variant always runs first.
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let row = floor_variant(&ctx, concurrency, &variants[i]).await;
            cpu[i].push(row.window_us().unwrap_or(f64::NAN));
            rate[i].push(row.rate());
        }
    }
    let base = median(&cpu[0]);
    println!();
    println!(
        "| variant | CPU µs/msg (window), median | × {} | runs (µs/msg) | msgs/s, median |",
        variants[0]
    );
    println!("|---|---|---|---|---|");
    let mut out = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let m = median(&cpu[i]);
        let runs: Vec<String> = cpu[i].iter().map(|c| format!("{c:.1}")).collect();
        println!(
            "| {v} | {m:.1} | {:.2}× | {} | {:.0} |",
            m / base,
            runs.join(", "),
            median(&rate[i])
        );
        out.push(json!({"variant": v, "cpu_us_per_msg": cpu[i], "msgs_per_sec": rate[i]}));
    }
    common::write_json(
        &common::repo_root().join("target/bench/floor-variants.json"),
        &json!({"commit": common::commit(), "concurrency": concurrency,
                "messages_per_run": ctx.opts.messages, "variants": out}),
    );
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}
