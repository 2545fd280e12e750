//! The router:
//!
//! - **routing cost** (criterion): per event, with 10, 100, 1,000 and 10,000 subscriptions mixing
//!   type-only, filtered and patterned ones. Two levels: `route` is the decision alone
//!   (`EventView::new` + `Router::route` from `eventferry_core::route`, what the handler calls per
//!   event); `handler` is the whole in-process `Handler::respond` of a structured CloudEvent,
//!   its answer serialized to bytes as the Lambda runtime does, with no-op ports (invoke I/O
//!   excluded, but decoding, matching, per-subscriber payloads, system events, result handling
//!   and the response included), with no system-event consumer; and at 1,000 subscriptions the
//!   handler with each system-event sink (none, the compact log sink, the log sink with
//!   payloads, a PutEvents-shaped sink that encodes its calls). Criterion measures the bench
//!   thread's CPU time ([`cpu`]), not wall time;
//! - **cold start**: exec of the release `router` binary to the first event handled, with the
//!   Lambda Runtime API served by this process on 127.0.0.1;
//! - **size and memory**: the stripped release bootstrap, and the cold process's max RSS.
//!
//! Modules: [`workload`] (generated subscriptions, the bench event), [`ports`] (no-op ports),
//! [`cpu`] (criterion's CPU-time measurement), [`routing`] (criterion), [`api`] (the Runtime
//! API the cold router talks to), [`cold`] (cold start, size, memory), [`report`] (tables and
//! targets).

mod api;
mod cold;
mod cpu;
mod ports;
mod report;
mod routing;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

use self::cold::{arm64_bootstrap, build_figures};
use self::report::report;
use self::routing::{routing_cost, system_cost};
use crate::common;

/// The allocator this binary runs the router's code on; the router ships with mimalloc.
pub const ALLOCATOR: &str = if cfg!(feature = "router-allocator") {
    "mimalloc (as the router ships)"
} else {
    "the system allocator, NOT the router's (mimalloc): build with --features router-allocator"
};

pub fn main(args: &[String]) {
    if !cfg!(feature = "router-allocator") {
        eprintln!(
            "warning: this bench binary runs the router's code on {ALLOCATOR}; `make bench-router` \
             builds it so"
        );
    }
    let quick = common::flag(args, "--quick");
    // Only the criterion tables (routing, system events): no cold start, size or memory.
    let routing_only = common::flag(args, "--routing-only");
    let root = common::repo_root();
    let out = common::opt(args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // A partial run must not replace the file the plots read.
            root.join(if common::flag(args, "--routing-only") {
                "target/bench/router-routing.json"
            } else {
                "target/bench/router.json"
            })
        });
    let router_bin = common::opt(args, "--router")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/router"));
    // Optional second build of the router to compare (e.g. opt-level "s"): LABEL=PATH.
    let variants: Vec<(String, PathBuf)> = std::iter::once(("release".to_owned(), router_bin))
        .chain(
            args.iter()
                .enumerate()
                .filter(|(_, a)| *a == "--variant")
                .filter_map(|(i, _)| args.get(i + 1))
                .filter_map(|v| v.split_once('='))
                .map(|(l, p)| (l.to_owned(), PathBuf::from(p))),
        )
        .collect();
    let started = Instant::now();

    let routing = routing_cost(quick, &root);
    let system = system_cost(quick, &root);
    let reps = if quick { 5 } else { 20 };
    let mut builds = Vec::new();
    let mut arm64 = Value::Null;
    if !routing_only {
        for (label, bin) in &variants {
            builds.push(build_figures(label, bin, reps, &root));
        }
        arm64 = arm64_bootstrap(&root);
    }

    let targets = report(&routing, &system, &builds, &arm64);
    common::write_json(
        &out,
        &json!({
            "commit": common::commit(),
            "quick": quick,
            "allocator": ALLOCATOR,
            "routing": routing,
            "system_events": system,
            "builds": builds,
            "arm64_bootstrap": arm64,
            "targets": targets,
            "wall_seconds": started.elapsed().as_secs_f64(),
        }),
    );
}
