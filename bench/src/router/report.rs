//! The router bench's Markdown tables on stdout (routing cost, system-event consumers, binary
//! size and cold start, targets) and the `targets` object of its JSON.

use serde_json::{json, Value};

use crate::common::{met, ratio};

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB ({:.2} MB)", bytes / 1048576.0, bytes / 1e6)
}

/// Prints the tables; returns the targets for the JSON. Without builds (`--routing-only`)
/// only the routing and system-event tables.
pub fn report(routing: &Value, system: &Value, builds: &[Value], arm64: &Value) -> Value {
    let rows = routing.as_array().expect("rows");
    routing_table(rows);
    let system = system_table(system.as_array().expect("system rows"));
    if builds.is_empty() {
        return json!({"system_events": system});
    }
    builds_table(builds, arm64);
    let figures = Figures::of(rows, builds, arm64);
    targets_table(&figures, builds, arm64);
    let mut targets = figures.to_json();
    targets["system_events"] = system;
    targets
}

fn routing_table(rows: &[Value]) {
    println!("\n## Router routing cost per event (criterion mean of the bench thread's CPU time; subscriptions 40 % type-only, 30 % filtered, 30 % patterned; allocator: {})\n", super::ALLOCATOR);
    println!("| subscriptions | matched | route (decision) ns/event | handler, no-op ports, no system-event consumer, ns/event | × 10 subs (handler) |");
    println!("|---|---|---|---|---|");
    let h10 = rows[0]["handler_ns"].as_f64().unwrap_or(f64::NAN);
    for r in rows {
        let h = r["handler_ns"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {:.0} | {:.0} | {} |",
            r["subscriptions"],
            r["matched"],
            r["route_ns"].as_f64().unwrap_or(f64::NAN),
            h,
            ratio(h / h10)
        );
    }
}

/// The system-event consumers next to the decision; returns the targets they are judged on:
/// no consumer ≤ decision + 5 µs, the compact log sink ≤ 2× the decision (its own cost, over
/// no consumer).
fn system_table(rows: &[Value]) -> Value {
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let none = rows
        .iter()
        .find(|r| r["consumer"] == "none")
        .map_or(f64::NAN, |r| f(r, "handler_ns"));
    let n = rows
        .first()
        .map_or(json!(null), |r| r["subscriptions"].clone());
    println!("\n## System events: the whole handler per event by consumer, at {n} subscriptions (criterion mean of the bench thread's CPU time; the decision measured in the same group; the handler's answer serialized to bytes; allocator: {})\n", super::ALLOCATOR);
    println!("| consumer | handler ns/event | decision ns/event | handler ÷ decision | handler − decision µs | consumer's own cost (− no consumer) | own cost ÷ decision |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let (h, d) = (f(r, "handler_ns"), f(r, "route_ns"));
        println!(
            "| {} | {h:.0} | {d:.0} | {} | {:.2} | {:.2} µs | {} |",
            r["what"].as_str().unwrap_or_default(),
            ratio(h / d),
            (h - d) / 1e3,
            (h - none) / 1e3,
            ratio((h - none) / d),
        );
    }
    let at = |label: &str| rows.iter().find(|r| r["consumer"] == label);
    let none_over = at("none").map_or(f64::NAN, |r| f(r, "handler_ns") - f(r, "route_ns"));
    let (log_own, decision) = at("log").map_or((f64::NAN, f64::NAN), |r| {
        (f(r, "handler_ns") - none, f(r, "route_ns"))
    });
    let log_ratio = at("log").map_or(f64::NAN, |r| f(r, "handler_ns") / f(r, "route_ns"));
    println!(
        "\n- no consumer ≤ decision + 5 µs: handler − decision {:.2} µs: {}",
        none_over / 1e3,
        met(none_over <= 5e3)
    );
    println!(
        "- compact log sink ≤ 2× the decision: its own cost {:.2} µs = {} of the decision: {}; the whole handler with it is {} the decision",
        log_own / 1e3,
        ratio(log_own / decision),
        met(log_own <= 2.0 * decision),
        ratio(log_ratio)
    );
    json!({
        "no_consumer_over_decision_us": none_over / 1e3,
        "log_own_cost_us": log_own / 1e3,
        "log_own_cost_over_decision": log_own / decision,
        "log_handler_over_decision": log_ratio,
        "met": {
            "no_consumer_5us_over_decision": none_over <= 5e3,
            "log_2x_decision": log_own <= 2.0 * decision,
        }
    })
}

fn builds_table(builds: &[Value], arm64: &Value) {
    println!("\n## Router binary: size, cold start (exec → first event handled, Runtime API on 127.0.0.1), memory\n");
    println!("| build | arch | stripped size | subscriptions | init (exec → first /next) p50 ms | first event handled p50 ms | p95 ms | max ms | max RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for b in builds {
        for v in b["cold_start"].as_array().unwrap() {
            println!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                b["label"].as_str().unwrap_or_default(),
                b["arch"].as_str().unwrap_or_default(),
                mib(b["bytes"].as_f64().unwrap_or(f64::NAN)),
                v["subscriptions"].as_str().unwrap_or_default(),
                v["init_ms_p50"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_p50"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_p95"].as_f64().unwrap_or(f64::NAN),
                v["first_event_ms_max"].as_f64().unwrap_or(f64::NAN),
                v["max_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            );
        }
    }
    if let Some(bytes) = arm64["bytes"].as_f64() {
        println!(
            "| cargo lambda build --release --arm64 (make validate) | aarch64 | {} | — | — | — | — | — | — |",
            mib(bytes)
        );
    }
}

/// The bootstrap size limit, bytes.
const SIZE_LIMIT: f64 = 8e6;

/// What the router targets are judged on.
struct Figures {
    /// ns per event at 1,000 subscriptions: whole handler, routing decision.
    h1000: f64,
    r1000: f64,
    /// From 10 to 10,000 subscriptions: cost ratio and log-log slope, handler and decision.
    handler_growth: f64,
    route_growth: f64,
    handler_slope: f64,
    route_slope: f64,
    /// Release build, first event handled p50 ms: 1 subscription, 1,001 subscriptions.
    cold: f64,
    cold1000: f64,
    /// Bytes of what Lambda runs: the arm64 bootstrap (`make validate`'s build) when there is
    /// one, else the release build for this machine.
    size: f64,
}

impl Figures {
    fn of(rows: &[Value], builds: &[Value], arm64: &Value) -> Figures {
        let at = |n: u64, k: &str| {
            rows.iter()
                .find(|r| r["subscriptions"].as_u64() == Some(n))
                .and_then(|r| r[k].as_f64())
                .unwrap_or(f64::NAN)
        };
        let slope = |k: &str| (at(10_000, k) / at(10, k)).ln() / 1000f64.ln();
        let first = |b: &Value, i: usize| {
            b["cold_start"][i]["first_event_ms_p50"]
                .as_f64()
                .unwrap_or(f64::NAN)
        };
        let release = &builds[0];
        Figures {
            h1000: at(1000, "handler_ns"),
            r1000: at(1000, "route_ns"),
            handler_growth: at(10_000, "handler_ns") / at(10, "handler_ns"),
            route_growth: at(10_000, "route_ns") / at(10, "route_ns"),
            handler_slope: slope("handler_ns"),
            route_slope: slope("route_ns"),
            cold: first(release, 0),
            cold1000: first(release, 1),
            size: arm64["bytes"]
                .as_f64()
                .or_else(|| release["bytes"].as_f64())
                .unwrap_or(f64::NAN),
        }
    }

    fn met_5us(&self) -> bool {
        self.r1000 <= 5e3 && self.h1000 <= 5e3
    }

    fn sublinear(&self) -> bool {
        self.handler_slope < 1.0 && self.route_slope < 1.0
    }

    fn to_json(&self) -> Value {
        json!({
            "handler_us_at_1000": self.h1000 / 1e3,
            "route_us_at_1000": self.r1000 / 1e3,
            "handler_loglog_slope": self.handler_slope,
            "route_loglog_slope": self.route_slope,
            "cold_first_event_ms_p50": self.cold,
            "cold_first_event_ms_p50_1001_subscriptions": self.cold1000,
            "bootstrap_bytes": self.size,
            "met": {
                "5us_at_1000": self.met_5us(),
                "sublinear": self.sublinear(),
                "cold_30ms": self.cold <= 30.0,
                "size_8mb": self.size <= SIZE_LIMIT,
            }
        })
    }
}

fn targets_table(f: &Figures, builds: &[Value], arm64: &Value) {
    let Figures {
        h1000,
        r1000,
        cold,
        cold1000,
        size,
        ..
    } = *f;
    println!("\n## Router targets\n");
    println!("| target | measured | |");
    println!("|---|---|---|");
    println!(
        "| ≤ 5 µs/event at 1,000 subscriptions | routing decision {:.2} µs ({} of 5 µs); whole handler with no-op ports {:.2} µs ({}) | {} |",
        r1000 / 1e3,
        ratio(r1000 / 5e3),
        h1000 / 1e3,
        ratio(h1000 / 5e3),
        met(f.met_5us())
    );
    println!(
        "| sub-linear growth | 10 → 10,000 subscriptions (1000×): handler {} (log-log slope {:.2}), decision {} (slope {:.2}) | {} |",
        ratio(f.handler_growth),
        f.handler_slope,
        ratio(f.route_growth),
        f.route_slope,
        met(f.sublinear())
    );
    println!(
        "| cold init ≤ 30 ms | exec → first event handled p50 {cold:.1} ms ({}); with 1,001 subscriptions {cold1000:.1} ms ({}) | {} |",
        ratio(cold / 30.0),
        ratio(cold1000 / 30.0),
        met(cold <= 30.0)
    );
    println!(
        "| bootstrap ≤ 8 MB (arm64, issue #17) | {} | {} |",
        size_line(size, builds, arm64),
        met(size <= SIZE_LIMIT)
    );
}

/// The judged size (the arm64 bootstrap, else the release build) against the limit, then the
/// builds for this machine.
fn size_line(size: f64, builds: &[Value], arm64: &Value) -> String {
    let judged = if arm64["bytes"].is_number() {
        "arm64 bootstrap"
    } else {
        "release (no arm64 bootstrap built)"
    };
    let mut line = format!(
        "{judged} {} ({} of 8 MB)",
        mib(size),
        ratio(size / SIZE_LIMIT)
    );
    for b in builds {
        let s = b["bytes"].as_f64().unwrap_or(f64::NAN);
        line.push_str(&format!(
            "; {} {} {} ({})",
            b["label"].as_str().unwrap_or_default(),
            b["arch"].as_str().unwrap_or("?"),
            mib(s),
            ratio(s / SIZE_LIMIT)
        ));
    }
    line
}
