//! The driver against a real LocalStack, side by side in one run:
//!
//! - **floor** ([`floor`]): a minimal aws-sdk-sqs loop (this binary's `floor` subcommand, a child
//!   process): ReceiveMessage (10, long poll) then DeleteMessageBatch, at 1, 2, 4 and 8 tasks;
//! - **driver** ([`drive`]): `eventferry drive` on the same pre-filled queue (an existing queue it
//!   does not own), delivering to an in-bench HTTP sink ([`sink`]) that answers 200 at once, and
//!   to `--sink stdout` with stdout on /dev/null, at `--concurrency` 1, 2, 4 and 8;
//! - **python** ([`python`]): `bench/python_peer.py`, the boto3 poller a user would otherwise
//!   write (receive, convert to a CloudEvent, POST, batch-delete), to the same HTTP sink;
//! - **latency** ([`latency`]): PutEvents to sink delivery at a steady rate through a rule the
//!   driver creates;
//! - **rtt** ([`rtt`]): the floor and the driver again, every AWS call through a proxy that holds
//!   each answer for a round trip, so LocalStack is not the limit of both.
//!
//! Every run gets a fresh queue filled with the same EventBridge-shaped messages ([`queue`]).
//! Throughput is measured over the window from the first received message to the last delete; CPU
//! over the same window from /proc (the "window" column; 10 ms clock ticks where schedstat is
//! missing), and over the whole process from wait4's rusage (start-up, provisioning and clean-up
//! included), with peak RSS ([`measure`], [`child`]). [`report`] prints the tables and judges the
//! targets.
//!
//! Layers point one way: `ctx` (options, clients) ← `queue`, `measure`, `child` ← the runs
//! (`floor`, `drive`, `python`, `latency`, `rtt`) ← this module; `report` reads only `ctx` and `measure`.

mod child;
mod ctx;
mod drive;
mod floor;
mod issue19;
mod latency;
mod measure;
mod python;
mod queue;
mod report;
mod rtt;
mod sink;
mod variants;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use self::ctx::{Ctx, Opts};
use self::drive::{Sink, Variant};
use self::measure::{median_row, Row};
use crate::common;

pub use self::floor::floor_main;
pub use self::variants::main as floor_variants_main;

/// The rows of the driver with flags of issue 19 and 20: `--sink-batch` 10 and 100 (batch 1 is the
/// usual HTTP row) at concurrency 1 and 8; `--max-rate` well below the floor's rate at 1 and 8;
/// and, side by side at concurrency 1, tracing off, `--trace-new`, and `--otlp-endpoint` to an
/// in-bench collector that answers 200.
async fn variant_rows(ctx: &Ctx) -> Vec<Row> {
    let mut rows = Vec::new();
    if ctx.opts.runs("batch") {
        for n in [10, 100] {
            for c in [1, 8] {
                rows.push(drive::variant(ctx, &Variant::batch(n), c).await);
            }
        }
    }
    if ctx.opts.runs("rate") {
        // 10 s at 200 events/s in a full run; the floor does 450-1,000.
        let messages = if ctx.opts.quick { 600 } else { 2_000 };
        for c in [1, 8] {
            rows.push(drive::variant(ctx, &Variant::rate(RATE_LIMIT, messages), c).await);
        }
    }
    if ctx.opts.runs("trace") {
        let collector = Arc::new(sink::SinkState::default());
        let port = sink::serve_sink(collector.clone()).await;
        let otlp = format!("http://127.0.0.1:{port}");
        for v in [
            Variant::trace("http trace off", "toff", &[]),
            Variant::trace("http --trace-new", "tnew", &["--trace-new"]),
            Variant::trace(
                "http --trace-new --otlp-endpoint",
                "totlp",
                &["--trace-new", "--otlp-endpoint", &otlp],
            ),
        ] {
            rows.push(drive::variant(ctx, &v, 1).await);
        }
        eprintln!(
            "  the OTLP collector got {} export requests",
            collector.count.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    rows
}

/// One run of a round: the floor, the driver to the HTTP sink, a `--compare` binary, or the
/// Python peer.
#[derive(Clone, Copy)]
enum Run<'a> {
    Floor,
    Driver,
    Compare(&'a Variant),
    Python,
}

/// The floor at every concurrency, the driver to the HTTP sink (section `driver`) at every
/// concurrency, and the Python peer at 1 (section `python`), each `--rounds` times. A round runs
/// them all, each round in an order rotated by `len / rounds` places, so no run always goes first
/// or follows the same neighbour; each row is the round with the median CPU per message, and
/// carries every round's ([`median_row`]). The Python peer runs in every round, so its ratio to the
/// driver is taken round by round too: one sample of a peer that moves by half between sessions
/// is no measure.
async fn round_rows(ctx: &Ctx) -> Vec<Row> {
    let compare: Vec<Variant> = ctx
        .opts
        .compare
        .iter()
        .map(|(name, path)| Variant::compare(name, path.clone()))
        .collect();
    let cs = &ctx.opts.concurrencies;
    let mut runs: Vec<(Run, usize)> = cs.iter().map(|&c| (Run::Floor, c)).collect();
    if ctx.opts.runs("driver") {
        runs.extend(cs.iter().map(|&c| (Run::Driver, c)));
        for v in &compare {
            runs.extend(cs.iter().map(|&c| (Run::Compare(v), c)));
        }
    }
    if ctx.opts.runs("python") {
        runs.push((Run::Python, 1));
    }
    let rounds = ctx.opts.rounds;
    let mut measured: Vec<Vec<Row>> = vec![Vec::new(); runs.len()];
    for round in 0..rounds {
        if rounds > 1 {
            eprintln!("round {} of {rounds}", round + 1);
        }
        for k in 0..runs.len() {
            let i = (k + round * runs.len() / rounds) % runs.len();
            let (run, c) = runs[i];
            measured[i].push(match run {
                Run::Floor => floor::floor(ctx, c).await,
                Run::Driver => drive::driver(ctx, Sink::Http, c).await,
                Run::Compare(v) => drive::variant(ctx, v, c).await,
                Run::Python => python::python(ctx).await,
            });
        }
    }
    measured.into_iter().map(median_row).collect()
}

/// `--max-rate` of the rate rows, events per second.
pub const RATE_LIMIT: u32 = 200;

pub fn main(args: &[String]) {
    let opts = Opts::from_args(args);
    assert!(
        opts.driver.is_file(),
        "{} not found: build it with `cargo build --release -p eventferry-driver`",
        opts.driver.display()
    );
    std::fs::create_dir_all(&opts.logs).expect("create target/bench/logs");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run(opts));
}

async fn run(opts: Opts) {
    let started = Instant::now();
    let ctx = Ctx::new(opts).await;
    // Every run needs SQS: say so once, plainly, instead of a panic in the first CreateQueue.
    if let Err(e) = ctx.sqs.list_queues().max_results(1).send().await {
        eprintln!(
            "eventferry-bench driver: SQS at {} does not answer ({}): start LocalStack with \
             `make localstack-up`, or run `make bench-driver`, which brings it up",
            ctx.opts.endpoint,
            eventferry_aws::AwsError::from_sdk("ListQueues", e)
        );
        std::process::exit(2);
    }
    println!(
        "driver bench: {} EventBridge-shaped messages per run, LocalStack at {}, driver {}, run id {}",
        ctx.opts.messages,
        ctx.opts.endpoint,
        ctx.opts.driver.display(),
        ctx.run
    );

    let mut rows: Vec<Row> = round_rows(&ctx).await;
    if ctx.opts.runs("stdout") {
        for &c in &ctx.opts.concurrencies {
            rows.push(drive::driver(&ctx, Sink::Stdout, c).await);
        }
    }
    rows.extend(variant_rows(&ctx).await);
    let latency = if ctx.opts.runs("latency") {
        latency::latency(&ctx).await
    } else {
        json!({})
    };

    let report = report::report(&ctx, &rows, &latency);
    let rtt = if ctx.opts.runs("rtt") {
        rtt::section(&ctx).await
    } else {
        json!({})
    };
    let value = json!({
        "commit": common::commit(),
        "quick": ctx.opts.quick,
        "messages_per_run": ctx.opts.messages,
        "localstack": "4.13.1 (host mode, same machine)",
        "runs": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        "latency": latency,
        "targets": report,
        "rtt": rtt,
        "wall_seconds": started.elapsed().as_secs_f64(),
    });
    common::write_json(&ctx.opts.out, &value);
}
