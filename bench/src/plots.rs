//! SVG plots (plotters) from target/bench/{driver,patterns,router}.json into docs/bench/.

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use crate::common;

type Res = Result<(), Box<dyn std::error::Error>>;

pub fn main(args: &[String]) {
    let root = common::repo_root();
    let input = common::opt(args, "--in")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench"));
    let out = common::opt(args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("docs/bench"));
    std::fs::create_dir_all(&out).expect("create the plot directory");
    let mut drawn = 0;
    for (file, draw) in [
        ("driver.json", driver as fn(&Value, &Path) -> Res),
        ("patterns.json", patterns),
        ("router.json", router),
    ] {
        let path = input.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let v: Value = serde_json::from_str(&text).expect("bench results are JSON");
                draw(&v, &out).unwrap_or_else(|e| panic!("plot {file}: {e}"));
                drawn += 1;
            }
            Err(_) => eprintln!("plots: {} missing, skipped", path.display()),
        }
    }
    assert!(
        drawn > 0,
        "no results in {}: run make bench first",
        input.display()
    );
}

fn commit_of(v: &Value) -> String {
    v["commit"].as_str().unwrap_or("unknown").to_owned()
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// A dashed black line from `from` to `to`, with its legend entry.
fn dashed_line<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    from: (f64, f64),
    to: (f64, f64),
    label: String,
) -> Res
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(DashedLineSeries::new(
            vec![from, to],
            6,
            4,
            BLACK.stroke_width(1),
        ))?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    Ok(())
}

/// A line through `pts` with a dot at each, in colour `c`, with its legend entry.
fn line_with_points<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    name: &str,
    pts: &[(f64, f64)],
    c: RGBColor,
) -> Res
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
    Ok(())
}

/// The legend box at `position`, then the file at `path`.
fn finish<'a, 'b: 'a, X, Y>(
    chart: &mut Chart<'a, 'b, X, Y>,
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    position: SeriesLabelPosition,
    path: &Path,
) -> Res
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Driver throughput against concurrency, with the floor.
fn driver(v: &Value, out: &Path) -> Res {
    let path = out.join("driver-throughput.svg");
    let runs = v["runs"].as_array().ok_or("runs")?;
    let series = |who: &str, sink: &str| -> Vec<(f64, f64)> {
        runs.iter()
            .filter(|r| r["who"] == who && r["sink"] == sink)
            .filter_map(|r| {
                Some((
                    r["concurrency"].as_f64()?.log2(),
                    r["msgs_per_sec"].as_f64()?,
                ))
            })
            .collect()
    };
    let floor = series("floor", "-");
    let http = series("driver", "http");
    let stdout = series("driver", "stdout");
    let python = series("python", "http");
    let floor1 = floor
        .iter()
        .find(|p| p.0 == 0.0)
        .map(|p| p.1)
        .unwrap_or(0.0);
    let ymax = floor
        .iter()
        .chain(&http)
        .chain(&stdout)
        .chain(&python)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        * 1.15;
    let root = SVGBackend::new(&path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = driver_chart(&root, v, ymax)?;
    dashed_line(
        &mut chart,
        (-0.25, floor1),
        (3.25, floor1),
        format!("floor at concurrency 1 ({floor1:.0}/s)"),
    )?;
    for (i, (name, pts)) in [
        ("floor: SDK receive + delete loop", &floor),
        ("eventferry drive → HTTP sink", &http),
        ("eventferry drive → stdout (/dev/null)", &stdout),
    ]
    .into_iter()
    .enumerate()
    {
        line_with_points(&mut chart, name, pts, COLORS[i])?;
    }
    let c = COLORS[3];
    chart
        .draw_series(
            python
                .iter()
                .map(|p| TriangleMarker::new(*p, 7, c.filled())),
        )?
        .label("python boto3 peer → HTTP sink")
        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, c.filled()));
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight, &path)
}

/// The throughput chart's frame: log2 concurrency (labelled 1, 2, 4, 8) against messages/s.
fn driver_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    v: &Value,
    ymax: f64,
) -> Result<Chart<'a, 'b, RangedCoordf64, RangedCoordf64>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "eventferry drive vs the SQS API floor on LocalStack ({} msgs/run, {})",
                v["messages_per_run"],
                commit_of(v)
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.25f64..3.25f64, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("--concurrency (poll tasks)")
        .y_desc("messages / s")
        .x_labels(15)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{:.0}", 2f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    Ok(chart)
}

/// The eventferry engine's rule types, in order of first appearance (EXACT_SCALING left out).
fn pattern_types(rows: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for r in rows {
        let t = r["rule_type"].as_str().unwrap_or_default();
        if r["engine"] == "eventferry"
            && !t.starts_with("EXACT_SCALING")
            && !types.iter().any(|x| x == t)
        {
            types.push(t.to_owned());
        }
    }
    types
}

/// Pattern throughput per engine and rule type (log scale).
fn patterns(v: &Value, out: &Path) -> Res {
    let path = out.join("patterns.svg");
    let rows = v.as_array().ok_or("patterns.json is a list")?;
    let types = pattern_types(rows);
    let engines = ["eventferry", "eventferry-strict", "quamina", "localstack"];
    let eps = |e: &str, t: &str| {
        rows.iter()
            .find(|r| r["engine"] == e && r["rule_type"] == t)
            .and_then(|r| r["events_per_sec"].as_f64())
    };
    let parse = rows
        .iter()
        .find(|r| r["engine"] == "serde_json-parse-only")
        .and_then(|r| r["events_per_sec"].as_f64());
    let all: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["events_per_sec"].as_f64())
        .filter(|x| *x > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let hi = all.iter().copied().fold(0.0, f64::max) * 3.0;
    let root = SVGBackend::new(&path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = types.len() as f64;
    let mut chart = patterns_chart(&root, &types, lo, hi)?;
    let w = 0.8 / engines.len() as f64;
    for (k, e) in engines.iter().enumerate() {
        let c = COLORS[k];
        let bars: Vec<Rectangle<(f64, f64)>> = types
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let y = eps(e, t)?;
                let x0 = i as f64 + 0.1 + k as f64 * w;
                Some(Rectangle::new([(x0, lo), (x0 + w * 0.9, y)], c.filled()))
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(*e)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    if let Some(p) = parse {
        dashed_line(&mut chart, (0.0, p), (n, p), "serde_json parse only".into())?;
    }
    finish(&mut chart, &root, SeriesLabelPosition::UpperRight, &path)
}

/// The patterns chart's frame: one slot per rule type (labelled at its middle) against
/// events/s from `lo` to `hi` on a log scale.
fn patterns_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    types: &[String],
    lo: f64,
    hi: f64,
) -> Result<Chart<'a, 'b, RangedCoordf64, LogCoord<f64>>, Box<dyn std::error::Error>> {
    let n = types.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Pattern matching throughput per engine and rule type (events/s, log scale)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(90)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n, (lo..hi).log_scale())?;
    let types_for_labels = types.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(types.len() * 2 + 1)
        .x_label_formatter(&move |x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                types_for_labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_style(
            ("sans-serif", 11)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_desc("events / s")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    Ok(chart)
}

/// Routing cost against subscriptions (log-log), with the 5 µs target.
fn router(v: &Value, out: &Path) -> Res {
    let path = out.join("router-routing.svg");
    let rows = v["routing"].as_array().ok_or("routing")?;
    let pts = |k: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((r["subscriptions"].as_f64()?, r[k].as_f64()? / 1e3)))
            .collect()
    };
    let handler = pts("handler_ns");
    let route = pts("route_ns");
    let lo = route.iter().map(|p| p.1).fold(f64::INFINITY, f64::min) / 2.0;
    let hi = handler.iter().map(|p| p.1).fold(5.0, f64::max) * 2.0;
    let root = SVGBackend::new(&path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Router: cost per event against subscriptions ({})",
                commit_of(v)
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((5f64..20_000f64).log_scale(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("subscriptions")
        .y_desc("µs per event")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()?;
    dashed_line(
        &mut chart,
        (5.0, 5.0),
        (20_000.0, 5.0),
        "target: 5 µs at 1,000 subscriptions".into(),
    )?;
    for (i, (name, p)) in [
        ("handler, no-op ports (whole event)", &handler),
        ("routing decision (EventView + Router::route)", &route),
    ]
    .into_iter()
    .enumerate()
    {
        line_with_points(&mut chart, name, p, COLORS[i])?;
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight, &path)
}
