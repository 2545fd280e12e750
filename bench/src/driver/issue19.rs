//! The tables of issues 19 and 20 (`report` prints them after its own): batched delivery, the
//! rate limit, trace options side by side, and the targets of issue 19, each with the CPU ratio
//! to the floor (the bare aws-sdk-sqs loop) at the same concurrency.

use serde_json::{json, Value};

use super::measure::Row;
use super::RATE_LIMIT;
use crate::common::{met, met_if_measured, one_decimal, ratio};

/// Issue 19's line for the driver's CPU per message against the Python peer's.
const PYTHON_LINE: f64 = 0.07;

fn find<'a>(rows: &'a [Row], who: &str, sink: &str, c: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.who == who && r.sink == sink && r.concurrency == c)
}

/// The row's window CPU per message over the floor's at the same concurrency.
pub fn cpu_to_floor(rows: &[Row], r: &Row) -> f64 {
    let floor = find(rows, "floor", "-", r.concurrency).and_then(Row::window_us);
    match (r.window_us(), floor) {
        (Some(ours), Some(floor)) => ours / floor,
        _ => f64::NAN,
    }
}

/// The driver's HTTP row at `c` over the floor's, round by round (the two ran in the same
/// round): empty without `--rounds` above 1.
fn round_ratios(rows: &[Row], c: usize) -> Vec<f64> {
    round_ratios_of(rows, "http", c)
}

/// The same for the driver row `sink` (`http`, or `http NAME` of `--compare`).
fn round_ratios_of(rows: &[Row], sink: &str, c: usize) -> Vec<f64> {
    per_round(find(rows, "driver", sink, c), find(rows, "floor", "-", c))
}

/// `a`'s CPU per message over `b`'s, round by round (both ran in every round); none without
/// both.
fn per_round(a: Option<&Row>, b: Option<&Row>) -> Vec<f64> {
    rounds_of(a, b, |a, b| a / b)
}

/// `f` of `a`'s and `b`'s CPU per message, round by round; none without both.
fn rounds_of(a: Option<&Row>, b: Option<&Row>, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    match (a, b) {
        (Some(a), Some(b)) => a
            .rounds_us
            .iter()
            .zip(&b.rounds_us)
            .map(|(a, b)| f(*a, *b))
            .collect(),
        _ => Vec::new(),
    }
}

/// The driver's CPU per message (HTTP, c=1) over the Python peer's, round by round (both run in
/// every round of [`super::round_rows`]).
fn python_round_ratios(rows: &[Row]) -> Vec<f64> {
    per_round(
        find(rows, "driver", "http", 1),
        find(rows, "python", "http", 1),
    )
}

/// The floor's CPU per message (c=1) over the Python peer's, round by round: how much of the
/// 0.07× line the two SQS calls per 10 messages take before the driver does anything else.
fn floor_python_round_ratios(rows: &[Row]) -> Vec<f64> {
    per_round(find(rows, "floor", "-", 1), find(rows, "python", "http", 1))
}

/// Round by round, what the 0.07× line leaves per message once the floor is paid: 0.07 × the
/// peer's CPU per message − the floor's (µs), the room for one HTTP request and one conversion
/// per event.
fn room_under_python_line(rows: &[Row]) -> Vec<f64> {
    rounds_of(
        find(rows, "floor", "-", 1),
        find(rows, "python", "http", 1),
        |floor, py| PYTHON_LINE * py - floor,
    )
}

/// Where the rounds put a ratio against `limit`: every round at or under it, every round over
/// it, or some of each (inside the noise).
fn verdict(rounds: &[f64], limit: f64) -> &'static str {
    if rounds.is_empty() {
        "one round"
    } else if rounds.iter().all(|&x| x <= limit) {
        "every round ≤"
    } else if rounds.iter().all(|&x| x > limit) {
        "every round >"
    } else {
        "rounds on both sides"
    }
}

/// `min–max` of the rounds, like `1.05–1.31×`.
fn spread(rounds: &[f64]) -> String {
    spread_with(rounds, 2)
}

/// The same with three decimals, like `0.061–0.068×`.
fn spread3(rounds: &[f64]) -> String {
    spread_with(rounds, 3)
}

fn spread_with(rounds: &[f64], decimals: usize) -> String {
    let lo = rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if rounds.is_empty() {
        "—".into()
    } else {
        format!("{lo:.decimals$}–{hi:.decimals$}×")
    }
}

/// With `--rounds` above 1: the floor's and the driver's (HTTP) CPU per message, every round
/// and the median, with the ratio of the medians and the ratio round by round.
pub fn rounds_table(rows: &[Row]) {
    let cs: Vec<usize> = rows
        .iter()
        .filter(|r| r.who == "floor" && r.rounds_us.len() > 1)
        .map(|r| r.concurrency)
        .collect();
    if cs.is_empty() || find(rows, "driver", "http", cs[0]).is_none() {
        return;
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\n## Driver (HTTP sink) CPU against the floor, round by round (window CPU µs/msg; each round runs every row once, in a rotated order)\n");
    let ratios = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The usual driver, then any `--compare` binaries.
    let mut sinks: Vec<&str> = vec!["http"];
    for r in rows {
        if r.who == "driver" && r.rounds_us.len() > 1 && !sinks.contains(&r.sink) {
            sinks.push(r.sink);
        }
    }
    println!("| driver | concurrency | floor, median | floor, rounds | driver, median | driver, rounds | CPU × floor (medians) | CPU × floor, round by round | against 1.2× |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for sink in sinks {
        for &c in &cs {
            let (Some(f), Some(d)) = (find(rows, "floor", "-", c), find(rows, "driver", sink, c))
            else {
                continue;
            };
            let per_round = round_ratios_of(rows, sink, c);
            println!(
                "| {sink} | {c} | {} | {} | {} | {} | {} | {} ({}) | {} |",
                one_decimal(f.window_us()),
                list(&f.rounds_us),
                one_decimal(d.window_us()),
                list(&d.rounds_us),
                ratio(cpu_to_floor(rows, d)),
                spread(&per_round),
                ratios(&per_round),
                verdict(&per_round, 1.2),
            );
        }
    }
}

fn rate_to_floor(rows: &[Row], r: &Row) -> f64 {
    find(rows, "floor", "-", r.concurrency)
        .map(|f| r.rate() / f.rate())
        .unwrap_or(f64::NAN)
}

/// The batch row of `n` events at `c` (batch 1 is the usual HTTP row).
fn batch_row(rows: &[Row], n: usize, c: usize) -> Option<&Row> {
    if n == 1 {
        find(rows, "driver", "http", c)
    } else {
        find(rows, "driver", &format!("http batch={n}"), c)
    }
}

pub fn batch_table(rows: &[Row]) {
    if !rows.iter().any(|r| r.sink.starts_with("http batch=")) {
        return;
    }
    println!("\n## Batched delivery (`--sink-batch N`, HTTP sink, batched content mode; N=1 is the usual HTTP row)\n");
    println!("| --sink-batch | concurrency | messages | msgs/s | × floor (same c) | CPU µs/msg (window) | CPU × floor (same c) | sink requests | events per request |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in [1, 10, 100] {
        for c in [1, 8] {
            let Some(r) = batch_row(rows, n, c) else {
                continue;
            };
            let requests = r.sink_deliveries.unwrap_or(0);
            println!(
                "| {n} | {c} | {} | {:.0} | {} | {} | {} | {requests} | {:.1} |",
                r.messages,
                r.rate(),
                ratio(rate_to_floor(rows, r)),
                one_decimal(r.window_us()),
                ratio(cpu_to_floor(rows, r)),
                r.messages as f64 / requests.max(1) as f64,
            );
        }
    }
}

pub fn rate_table(rows: &[Row]) {
    let label = format!("http max-rate={RATE_LIMIT}");
    let rate_rows: Vec<&Row> = rows.iter().filter(|r| r.sink == label).collect();
    if rate_rows.is_empty() {
        return;
    }
    println!("\n## Rate limit (`--max-rate {RATE_LIMIT}`, HTTP sink; achieved over the window from the first receive to the last delete)\n");
    println!("| --max-rate | concurrency | messages | achieved msgs/s | × limit | floor msgs/s (same c) | CPU µs/msg (window) | CPU × floor (same c) |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rate_rows {
        let floor = find(rows, "floor", "-", r.concurrency).map(Row::rate);
        println!(
            "| {RATE_LIMIT} | {} | {} | {:.1} | {} | {} | {} | {} |",
            r.concurrency,
            r.messages,
            r.rate(),
            ratio(r.rate() / RATE_LIMIT as f64),
            floor
                .map(|f| format!("{f:.0}"))
                .unwrap_or_else(|| "—".into()),
            one_decimal(r.window_us()),
            ratio(cpu_to_floor(rows, r)),
        );
    }
}

const TRACE_ROWS: [&str; 3] = [
    "http trace off",
    "http --trace-new",
    "http --trace-new --otlp-endpoint",
];

pub fn trace_table(rows: &[Row]) {
    let off = find(rows, "driver", TRACE_ROWS[0], 1);
    if off.is_none() {
        return;
    }
    let off_us = off.and_then(Row::window_us).unwrap_or(f64::NAN);
    println!(
        "\n## Trace options side by side (concurrency 1, HTTP sink; issue 20: off costs nothing)\n"
    );
    println!(
        "| driver flags | msgs/s | CPU µs/msg (window) | CPU × trace off | CPU × floor (c=1) |"
    );
    println!("|---|---|---|---|---|");
    for label in TRACE_ROWS {
        if let Some(r) = find(rows, "driver", label, 1) {
            println!(
                "| {} | {:.0} | {} | {} | {} |",
                label.trim_start_matches("http "),
                r.rate(),
                one_decimal(r.window_us()),
                ratio(r.window_us().unwrap_or(f64::NAN) / off_us),
                ratio(cpu_to_floor(rows, r)),
            );
        }
    }
}

/// Issue 19's targets, judged on the rows measured; printed and returned for the JSON.
pub fn targets(rows: &[Row]) -> Value {
    let cs: Vec<usize> = rows
        .iter()
        .filter(|r| r.who == "floor")
        .map(|r| r.concurrency)
        .collect();
    let per_c = |n: usize, f: &dyn Fn(&Row) -> f64| -> Vec<(usize, f64)> {
        cs.iter()
            .filter_map(|&c| Some((c, f(batch_row(rows, n, c)?))))
            .collect()
    };
    let show = |v: &[(usize, f64)]| {
        v.iter()
            .map(|(c, x)| format!("c={c}: {x:.2}×"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cpu1 = per_c(1, &|r| cpu_to_floor(rows, r));
    let cpu10 = per_c(10, &|r| cpu_to_floor(rows, r));
    let rate1 = per_c(1, &|r| rate_to_floor(rows, r));
    let all = |v: &[(usize, f64)], ok: &dyn Fn(f64) -> bool| {
        !v.is_empty() && v.iter().all(|(_, x)| ok(*x))
    };
    let py = find(rows, "python", "http", 1).and_then(Row::window_us);
    let d1 = find(rows, "driver", "http", 1).and_then(Row::window_us);
    let py_ratio = match (d1, py) {
        (Some(d), Some(p)) => d / p,
        _ => f64::NAN,
    };
    let py10 = find(rows, "driver", "http batch=10", 1).and_then(Row::window_us);
    let py10_ratio = match (py10, py) {
        (Some(d), Some(p)) => d / p,
        _ => f64::NAN,
    };
    let met_cpu = all(&cpu1, &|x| x <= 1.2);
    let met_cpu10 = all(&cpu10, &|x| x <= 1.2);
    let py_rounds = python_round_ratios(rows);
    // Clearly under: every round, when there are rounds; the one sample otherwise.
    let met_py = if py_rounds.is_empty() {
        py_ratio <= PYTHON_LINE
    } else {
        py_rounds.iter().all(|&x| x <= PYTHON_LINE)
    };
    let met_rate = all(&rate1, &|x| x >= 1.0);
    println!(
        "\n## Issue 19 targets (CPU and throughput against the floor at the same concurrency)\n"
    );
    println!("| target | measured | |");
    println!("|---|---|---|");
    let rounds: Vec<String> = cs
        .iter()
        .map(|&c| round_ratios(rows, c))
        .filter(|r| !r.is_empty())
        .zip(&cs)
        .map(|(r, c)| format!("c={c}: {} ({})", spread(&r), verdict(&r, 1.2)))
        .collect();
    let rounds = if rounds.is_empty() {
        String::new()
    } else {
        format!("; round by round {}", rounds.join(", "))
    };
    println!(
        "| driver CPU ≤ 1.2× floor, HTTP sink, every concurrency (default, one event per request; medians) | {}{rounds} | {} |",
        show(&cpu1),
        met(met_cpu)
    );
    println!(
        "| the same with `--sink-batch 10` (c=1 and 8 measured) | {} | {} |",
        show(&cpu10),
        if cpu10.is_empty() {
            "not measured"
        } else {
            met(met_cpu10)
        }
    );
    let py_rounds_text = if py_rounds.is_empty() {
        String::new()
    } else {
        let each: Vec<String> = py_rounds.iter().map(|x| format!("{x:.3}")).collect();
        format!(
            "; round by round {} ({}, {})",
            spread3(&py_rounds),
            each.join(", "),
            verdict(&py_rounds, PYTHON_LINE)
        )
    };
    println!(
        "| driver CPU ≤ 0.07× the Python peer's (c=1, HTTP; medians) | {}{py_rounds_text} (with `--sink-batch 10`: {}) | {} |",
        ratio3(py_ratio),
        ratio3(py10_ratio),
        met_if_measured(py_ratio, met_py)
    );
    let (floor_py, room) = room_row(rows);
    println!(
        "| throughput ≥ floor at every concurrency (HTTP sink) | {} | {} |",
        show(&rate1),
        met(met_rate)
    );
    json!({
        "cpu_to_floor_http": cpu1.iter().map(|(c, x)| json!({"concurrency": c, "ratio": x, "rounds": round_ratios(rows, *c)})).collect::<Vec<_>>(),
        "cpu_to_floor_http_batch10": cpu10.iter().map(|(c, x)| json!({"concurrency": c, "ratio": x})).collect::<Vec<_>>(),
        "cpu_to_python": py_ratio,
        "cpu_to_python_rounds": py_rounds,
        "cpu_to_python_batch10": py10_ratio,
        "floor_to_python_rounds": floor_py,
        "room_under_0_07x_python_us_rounds": room,
        "throughput_to_floor_http": rate1.iter().map(|(c, x)| json!({"concurrency": c, "ratio": x})).collect::<Vec<_>>(),
        "met": {
            "cpu_1_2x_floor": met_cpu,
            "cpu_1_2x_floor_batch10": met_cpu10,
            "cpu_0_07x_python": met_py,
            "throughput_at_floor": met_rate,
        }
    })
}

/// The context row under the Python target: the floor alone against the peer, round by round,
/// and the room the 0.07× line leaves per message; returns both for the JSON.
fn room_row(rows: &[Row]) -> (Vec<f64>, Vec<f64>) {
    let floor_py = floor_python_round_ratios(rows);
    let room = room_under_python_line(rows);
    if !floor_py.is_empty() {
        let each = |v: &[f64], d: usize| {
            v.iter()
                .map(|x| format!("{x:.d$}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| (context, not a target) the floor alone against the Python peer (c=1): what the 0.07× line leaves for one HTTP request and one conversion per event | floor ÷ peer {} ({}); 0.07 × peer − floor: {} µs/msg | — |",
            spread3(&floor_py),
            each(&floor_py, 3),
            each(&room, 1)
        );
    }
    (floor_py, room)
}

/// A ratio with three decimals (`0.061×`), or `not measured` (NaN).
fn ratio3(x: f64) -> String {
    if x.is_nan() {
        "not measured".into()
    } else {
        format!("{x:.3}×")
    }
}
