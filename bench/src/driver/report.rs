//! The driver bench's Markdown tables on stdout (throughput, CPU against the Python peer,
//! latency, targets) and the `targets` object of its JSON.

use serde_json::{json, Value};

use super::ctx::Ctx;
use super::issue19;
use super::measure::Row;
use crate::common::{met, met_if_measured, one_decimal, ratio};

fn find<'a>(rows: &'a [Row], who: &str, sink: &str, c: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.who == who && r.sink == sink && r.concurrency == c)
}

/// What the targets are judged on.
struct Figures<'a> {
    /// The floor's rate at concurrency 1.
    floor1: f64,
    /// The last concurrency before the floor stops growing (< 10 % per doubling).
    saturation: Option<usize>,
    /// Driver (HTTP) rate / floor rate, per concurrency.
    tracks: Vec<(usize, f64)>,
    min_track: f64,
    /// The driver's HTTP run at concurrency 1, and the Python peer's.
    d1: Option<&'a Row>,
    py: Option<&'a Row>,
    ratio1: f64,
    cpu_ours: f64,
    cpu_py: f64,
    /// The worst window CPU µs/msg of any driver run.
    max_cpu: f64,
}

impl<'a> Figures<'a> {
    fn of(ctx: &Ctx, rows: &'a [Row]) -> Figures<'a> {
        let floor1 = find(rows, "floor", "-", 1)
            .map(Row::rate)
            .unwrap_or(f64::NAN);
        // Scaling: where the floor stops growing is where LocalStack saturates.
        let cs = &ctx.opts.concurrencies;
        let mut saturation = None;
        for w in cs.windows(2) {
            let (a, b) = (
                find(rows, "floor", "-", w[0]).map(Row::rate),
                find(rows, "floor", "-", w[1]).map(Row::rate),
            );
            if let (Some(a), Some(b)) = (a, b) {
                if b < 1.10 * a && saturation.is_none() {
                    saturation = Some(w[0]);
                }
            }
        }
        let tracks: Vec<(usize, f64)> = cs
            .iter()
            .filter_map(|&c| {
                Some((
                    c,
                    find(rows, "driver", "http", c)?.rate() / find(rows, "floor", "-", c)?.rate(),
                ))
            })
            .collect();
        let min_track = tracks.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
        let d1 = find(rows, "driver", "http", 1);
        let py = find(rows, "python", "http", 1);
        Figures {
            floor1,
            saturation,
            min_track,
            tracks,
            d1,
            py,
            ratio1: d1.map(|d| d.rate() / floor1).unwrap_or(f64::NAN),
            cpu_ours: d1.and_then(Row::window_us).unwrap_or(f64::NAN),
            cpu_py: py.and_then(Row::window_us).unwrap_or(f64::NAN),
            // The usual runs only: a rate-limited run idles by design.
            max_cpu: rows
                .iter()
                .filter(|r| r.who == "driver" && matches!(r.sink, "http" | "stdout"))
                .filter_map(Row::window_us)
                .fold(0.0, f64::max),
        }
    }

    /// The four targets: ≥ 0.9× the floor at c=1, tracking the floor at every c, ≤ 20 µs/msg,
    /// ≤ 1/10 of the Python peer's CPU.
    fn met(&self) -> [bool; 4] {
        [
            self.ratio1 >= 0.9,
            self.min_track >= 0.9,
            self.max_cpu <= 20.0,
            self.cpu_ours * 10.0 <= self.cpu_py,
        ]
    }

    fn to_json(&self) -> Value {
        let [floor, scales, cpu, python] = self.met();
        json!({
            "ratio_to_floor_c1": self.ratio1,
            "ratio_to_floor_by_concurrency": self.tracks.iter().map(|(c, t)| json!({"concurrency": c, "ratio": t})).collect::<Vec<_>>(),
            "floor_saturates_after_concurrency": self.saturation,
            "max_driver_cpu_us_per_msg_window": self.max_cpu,
            "driver_cpu_us_per_msg_c1_http": self.cpu_ours,
            "python_cpu_us_per_msg": self.cpu_py,
            "cpu_ratio_to_python": self.cpu_ours / self.cpu_py,
            "met": {
                "floor_0_9": floor,
                "scales_with_floor": scales,
                "cpu_20us": cpu,
                "cpu_tenth_of_python": python,
            }
        })
    }
}

/// Prints the four tables; returns the targets for the JSON.
pub fn report(ctx: &Ctx, rows: &[Row], latency: &Value) -> Value {
    let figures = Figures::of(ctx, rows);
    throughput_table(ctx, rows, figures.floor1);
    issue19::rounds_table(rows);
    issue19::batch_table(rows);
    issue19::rate_table(rows);
    issue19::trace_table(rows);
    // A run with --sections and no usual HTTP rows has nothing to judge these on.
    if figures.d1.is_some() {
        python_table(&figures);
    }
    if latency.get("sent").is_some() {
        latency_table(ctx, latency);
    }
    if figures.d1.is_some() {
        targets_table(&figures);
    }
    let mut targets = figures.to_json();
    targets["issue19"] = issue19::targets(rows);
    targets
}

fn throughput_table(ctx: &Ctx, rows: &[Row], floor1: f64) {
    println!(
        "\n## Driver throughput ({} messages per run, half for the stdout and Python runs; fresh queue each; LocalStack 4.13.1 on the same 2 cores; floor and driver http rows: the median of {} rounds)\n",
        ctx.opts.messages, ctx.opts.rounds
    );
    println!("| run | sink | concurrency | messages | msgs/s | × floor (same c) | × floor (c=1) | CPU µs/msg (window) | CPU × floor (same c) | CPU µs/msg (whole process) | peak RSS MiB | LocalStack CPU (cores) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let same = find(rows, "floor", "-", r.concurrency)
            .map(|f| r.rate() / f.rate())
            .unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.1} | {:.1} | {} |",
            r.who,
            r.sink,
            r.concurrency,
            r.messages,
            r.rate(),
            ratio(same),
            ratio(r.rate() / floor1),
            one_decimal(r.window_us()),
            ratio(issue19::cpu_to_floor(rows, r)),
            r.process_us(),
            r.rss_mib(),
            r.localstack_cpu
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "—".into()),
        );
    }
}

fn python_table(f: &Figures) {
    println!("\n## Driver CPU per message vs the Python boto3 peer (concurrency 1, HTTP sink)\n");
    println!("| | CPU µs/msg (window) | CPU µs/msg (whole process) | peak RSS MiB | msgs/s |");
    println!("|---|---|---|---|---|");
    for (label, r) in [("eventferry drive", f.d1), ("python boto3 peer", f.py)] {
        if let Some(r) = r {
            println!(
                "| {label} | {} | {:.1} | {:.1} | {:.0} |",
                one_decimal(r.window_us()),
                r.process_us(),
                r.rss_mib(),
                r.rate()
            );
        }
    }
    println!(
        "| ratio (ours / python) | {} | {} | | |",
        ratio(f.cpu_ours / f.cpu_py),
        ratio(
            f.d1.map(Row::process_us).unwrap_or(f64::NAN)
                / f.py.map(Row::process_us).unwrap_or(f64::NAN)
        )
    );
}

fn latency_table(ctx: &Ctx, latency: &Value) {
    println!(
        "\n## Latency: PutEvents → sink at {:.0} events/s for {} s (driver defaults: --concurrency 2, --duration 20)\n",
        ctx.opts.latency_rate, ctx.opts.latency_secs
    );
    println!("| sent | delivered | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let f = |k: &str| one_decimal(latency[k].as_f64());
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        latency["sent"],
        latency["delivered"],
        f("p50_ms"),
        f("p95_ms"),
        f("p99_ms"),
        f("max_ms")
    );
}

fn targets_table(f: &Figures) {
    let (ratio1, max_cpu, cpu_ours, cpu_py) = (f.ratio1, f.max_cpu, f.cpu_ours, f.cpu_py);
    let [floor, scales, cpu, python] = f.met();
    let scaling: Vec<String> = f
        .tracks
        .iter()
        .map(|(c, t)| format!("c={c}: {t:.2}× floor"))
        .collect();
    println!("\n## Driver targets\n");
    println!("| target | measured | |");
    println!("|---|---|---|");
    println!(
        "| driver ≥ 0.9× floor at concurrency 1 | {} | {} |",
        ratio(ratio1),
        met(floor)
    );
    println!(
        "| scales with concurrency until LocalStack saturates | {}; floor stops growing (<10 % per doubling) after c={} | {} |",
        scaling.join(", "),
        f.saturation.map(|c| c.to_string()).unwrap_or_else(|| "— (still growing at 8)".into()),
        met(scales)
    );
    println!(
        "| CPU ≤ 20 µs/msg | {max_cpu:.1} µs/msg (worst driver run, window); c=1 HTTP {cpu_ours:.1} | {} |",
        met(cpu)
    );
    println!(
        "| CPU ≤ 1/10 of the Python peer's | {cpu_ours:.1} vs {cpu_py:.1} µs/msg = {} | {} |",
        ratio(cpu_ours / cpu_py),
        met_if_measured(cpu_ours / cpu_py, python)
    );
}
