//! Pattern-engine benchmark: eventferry vs quamina (0.7) vs LocalStack's Python engine, with a
//! `serde_json::Value` parse-only baseline, on generated citylots events and event-ruler's
//! citylots2 rule types; then exact-rule scaling and the memory of 10,000 compiled rules.
//!
//! Prints a table; writes `target/bench/patterns.json` (override with `--out`).
//! Options: `--events N` (200000), `--localstack-sample N` (2000), `--repeats N` (5),
//! `--python PATH` (.venv/bin/python), `--quick` (20000 events, 1 repeat, for a smoke run).

mod gen;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use eventferry_pattern::{MatchScratch, Matcher, MatcherBuilder, RuleId};
use quamina::{MatcherBuildMode, Quamina, QuaminaBuilder};
use serde_json::{json, Value};

/// Counts live heap bytes, to measure what compiled rules hold.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const RULES: &str = include_str!("../citylots2-rules.json");
const LOCALSTACK_SCRIPT: &str = include_str!("../localstack_bench.py");
const RULE_TYPES: [&str; 14] = [
    "EXACT",
    "WILDCARD",
    "PREFIX",
    "PREFIX_EQUALS_IGNORE_CASE",
    "SUFFIX",
    "SUFFIX_EQUALS_IGNORE_CASE",
    "EQUALS_IGNORE_CASE",
    "NUMERIC",
    "ANYTHING_BUT",
    "ANYTHING_BUT_IGNORE_CASE",
    "ANYTHING_BUT_PREFIX",
    "ANYTHING_BUT_SUFFIX",
    "ANYTHING_BUT_WILDCARD",
    "COMPLEX_ARRAYS",
];

struct Args {
    events: usize,
    sample: usize,
    repeats: usize,
    out: PathBuf,
    python: String,
    /// Only time eventferry (fast mode) on one rule type, for profiling.
    profile: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        events: 200_000,
        sample: 2_000,
        repeats: 5,
        out: PathBuf::from("target/bench/patterns.json"),
        python: ".venv/bin/python".into(),
        profile: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--events" => a.events = v().parse().expect("--events N"),
            "--localstack-sample" => a.sample = v().parse().expect("--localstack-sample N"),
            "--repeats" => a.repeats = v().parse().expect("--repeats N"),
            "--out" => a.out = PathBuf::from(v()),
            "--python" => a.python = v(),
            "--profile" => a.profile = Some(v()),
            "--quick" => {
                a.events = 20_000;
                a.repeats = 1;
                a.sample = 500;
            }
            other => panic!("unknown option {other}"),
        }
    }
    a
}

struct Row {
    engine: &'static str,
    rule_type: String,
    rules: usize,
    events: usize,
    seconds: f64,
    matches: u64,
}

impl Row {
    fn eps(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// Time several engines on the same events, round-robin so that they all see the same machine
/// conditions; best of `repeats` wall times for each, with its per-rule counts.
type Run<'a> = &'a mut dyn FnMut() -> Vec<u64>;

fn time_interleaved(repeats: usize, runs: &mut [Run<'_>]) -> Vec<(f64, Vec<u64>)> {
    let mut best: Vec<(f64, Vec<u64>)> = runs.iter().map(|_| (f64::MAX, Vec::new())).collect();
    for _ in 0..repeats.max(1) {
        for (i, run) in runs.iter_mut().enumerate() {
            let t = Instant::now();
            let counts = run();
            let secs = t.elapsed().as_secs_f64();
            if secs < best[i].0 {
                best[i] = (secs, counts);
            }
        }
    }
    best
}

/// Best-of-`repeats` wall time of `f` (which returns per-rule counts).
fn time_best<F: FnMut() -> Vec<u64>>(repeats: usize, mut f: F) -> (f64, Vec<u64>) {
    let mut best = f64::MAX;
    let mut counts = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        counts = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, counts)
}

fn eventferry_matcher(patterns: &[String]) -> Matcher {
    let mut b = MatcherBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        b.add(format!("r{i}"), p)
            .unwrap_or_else(|e| panic!("eventferry rejects {p}: {e}"));
    }
    b.build()
}

/// Fast mode (what the router uses); `strict` validates every event completely.
fn run_eventferry_mode(m: &Matcher, events: &[Vec<u8>], strict: bool) -> Vec<u64> {
    let mut counts = vec![0u64; m.len()];
    let mut scratch = MatchScratch::default();
    let mut out: Vec<RuleId> = Vec::new();
    for e in events {
        if strict {
            m.matching_rules_strict(&mut scratch, e, &mut out)
                .expect("valid event");
        } else {
            m.matching_rules(&mut scratch, e, &mut out)
                .expect("valid event");
        }
        for id in &out {
            counts[id.index()] += 1;
        }
    }
    counts
}

fn run_eventferry(m: &Matcher, events: &[Vec<u8>]) -> Vec<u64> {
    run_eventferry_mode(m, events, false)
}

fn quamina_matcher(patterns: &[String]) -> Result<Quamina<usize>, String> {
    // Its fastest mode, with room for 10,000 rules.
    let mut q = QuaminaBuilder::<usize>::new()
        .with_arena_byte_budget(1 << 30)
        .build()
        .map_err(|e| format!("{e}"))?;
    q.set_matcher_build_mode(MatcherBuildMode::BuiltForSpeed);
    for (i, p) in patterns.iter().enumerate() {
        q.add_pattern(i, p).map_err(|e| format!("{e}"))?;
    }
    Ok(q)
}

fn run_quamina(q: &Quamina<usize>, n: usize, events: &[Vec<u8>]) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    for e in events {
        for i in q.matches_for_event(e).expect("valid event") {
            counts[i] += 1;
        }
    }
    counts
}

fn run_serde(events: &[Vec<u8>]) -> Vec<u64> {
    let mut n = 0u64;
    for e in events {
        let v: Value = serde_json::from_slice(e).expect("valid event");
        n += v.is_object() as u64;
    }
    vec![n]
}

fn main() {
    let a = args();
    let rule_sets = rule_sets();
    let events = generate_events(a.events, false);
    let precise_sets = precise_rule_sets(&rule_sets);
    if let Some(rt) = &a.profile {
        if rt.ends_with(PRECISE) {
            let precise = generate_events(a.events, true);
            profile(&a, &precise_sets, &precise, rt);
        } else {
            profile(&a, &rule_sets, &events, rt);
        }
        return;
    }

    let mut r = Results::default();
    let baseline = r.parse_baseline(&a, &events);
    for (rtype, patterns) in &rule_sets {
        r.rule_type(&a, rtype, patterns, &events);
    }
    // The same lots with 16-17-digit coordinates, in rows of their own (the rows above stay
    // comparable with earlier runs).
    let precise = generate_events(a.events, true);
    for (rtype, patterns) in &precise_sets {
        r.rule_type(&a, rtype, patterns, &precise);
    }
    drop(precise);
    // LocalStack on a sample, compared with eventferry on the same sample.
    r.localstack(&a, &rule_sets, &events[..a.sample.min(events.len())]);
    let scale_rows = r.scaling(&a, &events);

    print_table(&r.rows);
    print_scaling(events.len(), &scale_rows);
    let all_sets: Vec<_> = rule_sets.iter().chain(&precise_sets).cloned().collect();
    print_targets(&r.rows, &all_sets, baseline, &scale_rows);
    r.print_problems();
    write_results(&a.out, &r.rows);
    if !r.problems.is_empty() {
        std::process::exit(1);
    }
}

/// The citylots2 rule sets, by rule type.
fn rule_sets() -> Vec<(String, Vec<String>)> {
    let spec: Value = serde_json::from_str(RULES).expect("rules file");
    RULE_TYPES
        .iter()
        .map(|t| {
            let rules = spec["rule_sets"][*t]
                .as_array()
                .expect("rule type")
                .iter()
                .map(|r| r.to_string())
                .collect();
            (t.to_string(), rules)
        })
        .collect()
}

/// Suffix of the rule types run on events with 16-17-digit coordinates.
const PRECISE: &str = "_17_DIGITS";

/// NUMERIC and COMPLEX_ARRAYS for the events with 16-17-digit coordinates: the `=` operands
/// become the coordinates those events carry instead of their six-decimal forms.
fn precise_rule_sets(rule_sets: &[(String, Vec<String>)]) -> Vec<(String, Vec<String>)> {
    let swaps = [
        ("-122.42916]", gen::coord_text(-122_429_160, true) + "]"),
        ("37.7298]", gen::coord_text(37_729_800, true) + "]"),
    ];
    rule_sets
        .iter()
        .filter(|(t, _)| t == "NUMERIC" || t == "COMPLEX_ARRAYS")
        .map(|(t, rules)| {
            let rules: Vec<String> = rules
                .iter()
                .map(|r| {
                    swaps
                        .iter()
                        .fold(r.clone(), |r, (from, to)| r.replace(from, to))
                })
                .collect();
            assert_ne!(&rules, rules_of(rule_sets, t), "{t}: no operand to swap");
            (format!("{t}{PRECISE}"), rules)
        })
        .collect()
}

fn rules_of<'a>(rule_sets: &'a [(String, Vec<String>)], t: &str) -> &'a Vec<String> {
    &rule_sets.iter().find(|(n, _)| n == t).expect("rule type").1
}

fn generate_events(n: usize, precise: bool) -> Vec<Vec<u8>> {
    let t = Instant::now();
    let mut g = gen::Generator::new(0x5eed_c17e_2017);
    g.precise = precise;
    let events: Vec<Vec<u8>> = (0..n).map(|_| g.event().into_bytes()).collect();
    let bytes: usize = events.iter().map(Vec::len).sum();
    println!(
        "generated {} citylots events{} ({:.0} bytes on average) in {:.1}s",
        events.len(),
        if precise {
            " with 16-17-digit coordinates"
        } else {
            ""
        },
        bytes as f64 / events.len() as f64,
        t.elapsed().as_secs_f64()
    );
    events
}

/// `--profile`: eventferry (fast mode) alone on one rule type, then quamina and the serde_json
/// parse for comparison unless `EF_ONLY` is set.
fn profile(a: &Args, rule_sets: &[(String, Vec<String>)], events: &[Vec<u8>], rt: &str) {
    let (_, patterns) = rule_sets.iter().find(|(t, _)| t == rt).expect("rule type");
    let m = eventferry_matcher(patterns);
    let (secs, counts) = time_best(a.repeats, || run_eventferry(&m, events));
    println!(
        "{rt}: eventferry {:.0} events/s ({:.0} ns/event), counts {counts:?}",
        events.len() as f64 / secs,
        secs * 1e9 / events.len() as f64
    );
    if std::env::var_os("EF_ONLY").is_some() {
        return;
    }
    if let Ok(q) = quamina_matcher(patterns) {
        let (qsecs, _) = time_best(a.repeats, || run_quamina(&q, patterns.len(), events));
        println!(
            "{rt}: quamina {:.0} events/s ({:.0} ns/event): eventferry is {:.2}x",
            events.len() as f64 / qsecs,
            qsecs * 1e9 / events.len() as f64,
            qsecs / secs
        );
    }
    let (psecs, _) = time_best(a.repeats, || run_serde(events));
    println!(
        "{rt}: serde_json parse {:.0} ns/event: eventferry takes {:.2}x",
        psecs * 1e9 / events.len() as f64,
        secs / psecs
    );
}

/// Timed rows, and the disagreements found on the way.
#[derive(Default)]
struct Results {
    rows: Vec<Row>,
    problems: Vec<String>,
}

impl Results {
    fn push(
        &mut self,
        engine: &'static str,
        rule_type: &str,
        rules: usize,
        events: usize,
        (seconds, counts): (f64, &[u64]),
    ) {
        self.rows.push(Row {
            engine,
            rule_type: rule_type.to_string(),
            rules,
            events,
            seconds,
            matches: counts.iter().sum(),
        });
    }

    /// Record `problem()` unless two engines' per-rule counts agree.
    fn agree(&mut self, a: &[u64], b: &[u64], problem: impl FnOnce() -> String) {
        if a != b {
            self.problems.push(problem());
        }
    }

    /// The serde_json parse-only baseline: its best time.
    fn parse_baseline(&mut self, a: &Args, events: &[Vec<u8>]) -> f64 {
        let (secs, _) = time_best(a.repeats, || run_serde(events));
        self.push(
            "serde_json-parse-only",
            "PARSE_ONLY",
            0,
            events.len(),
            (secs, &[]),
        );
        secs
    }

    /// One rule type: eventferry fast and strict, and quamina where it supports the rules.
    fn rule_type(&mut self, a: &Args, rtype: &str, patterns: &[String], events: &[Vec<u8>]) {
        let m = eventferry_matcher(patterns);
        let q = quamina_matcher(patterns);
        if let Err(e) = &q {
            println!("quamina: {rtype} not supported ({e})");
        }
        let warm = &events[..events.len().min(10_000)];
        let _ = run_eventferry(&m, warm);
        let mut fast = || run_eventferry(&m, events);
        let mut strict = || run_eventferry_mode(&m, events, true);
        let mut results = match &q {
            Ok(q) => {
                let _ = run_quamina(q, patterns.len(), warm);
                let mut quam = || run_quamina(q, patterns.len(), events);
                time_interleaved(a.repeats, &mut [&mut fast, &mut strict, &mut quam])
            }
            Err(_) => time_interleaved(a.repeats, &mut [&mut fast, &mut strict]),
        };
        let (secs, counts) = results.remove(0);
        for (i, c) in counts.iter().enumerate() {
            if *c == 0 {
                self.problems.push(format!(
                    "{rtype} rule {i} matches no event: {}",
                    patterns[i]
                ));
            }
        }
        let (n, e) = (patterns.len(), events.len());
        self.push("eventferry", rtype, n, e, (secs, &counts));
        let (ssecs, scounts) = results.remove(0);
        self.agree(&scounts, &counts, || {
            format!("DISAGREEMENT {rtype}: eventferry fast {counts:?} != strict {scounts:?}")
        });
        self.push("eventferry-strict", rtype, n, e, (ssecs, &scounts));
        if let Some((qsecs, qcounts)) = results.pop() {
            self.agree(&qcounts, &counts, || {
                format!(
                    "DISAGREEMENT {rtype}: eventferry counts {counts:?} != quamina counts {qcounts:?}"
                )
            });
            self.push("quamina", rtype, n, e, (qsecs, &qcounts));
        }
        println!("{rtype:<26} per-rule matches {counts:?}");
    }

    /// LocalStack's engine on `sample`, checked against eventferry on the same events.
    fn localstack(&mut self, a: &Args, rule_sets: &[(String, Vec<String>)], sample: &[Vec<u8>]) {
        let ls = match run_localstack(a, rule_sets, sample) {
            Ok(ls) => ls,
            Err(e) => {
                println!("localstack: skipped ({e})");
                return;
            }
        };
        for (rtype, patterns) in rule_sets {
            let r = &ls[rtype];
            if let Some(e) = r["error"].as_str() {
                println!("localstack: {rtype} not supported ({e})");
                continue;
            }
            let lcounts: Vec<u64> = r["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect();
            let ecounts = run_eventferry(&eventferry_matcher(patterns), sample);
            if lcounts != ecounts {
                let msg = format!(
                    "DISAGREEMENT {rtype} (sample of {}): eventferry {ecounts:?} != localstack {lcounts:?}",
                    sample.len()
                );
                if localstack_wildcard_counts(patterns, sample).as_ref() == Some(&lcounts) {
                    println!(
                        "!!! {msg}\n!!!   explained: LocalStack's engine makes '*' match one or more characters \
                         (event-ruler and EventBridge: zero or more); recounting with that reading gives LocalStack's counts"
                    );
                } else {
                    self.problems.push(msg);
                }
            }
            let events = r["events"].as_u64().unwrap() as usize;
            let secs = r["seconds"].as_f64().unwrap();
            self.push(
                "localstack",
                rtype,
                patterns.len(),
                events,
                (secs, &lcounts),
            );
        }
    }

    /// Scaling: N exact rules on MAPBLKLOT, half of them present in the data.
    fn scaling(&mut self, a: &Args, events: &[Vec<u8>]) -> Vec<ScaleRow> {
        let mut scale_rows = Vec::new();
        let mut rng = gen::Rng::new(7);
        for n in [10usize, 100, 1000, 10_000] {
            let patterns = exact_rules(&mut rng, events, n);
            let before = LIVE.load(Ordering::Relaxed);
            let m = eventferry_matcher(&patterns);
            let mem = LIVE.load(Ordering::Relaxed).saturating_sub(before);
            let qbefore = LIVE.load(Ordering::Relaxed);
            let q = quamina_matcher(&patterns).expect("quamina exact rules");
            let qmem = LIVE.load(Ordering::Relaxed).saturating_sub(qbefore);
            let mut fast = || run_eventferry(&m, events);
            let mut quam = || run_quamina(&q, n, events);
            let mut results = time_interleaved(a.repeats, &mut [&mut fast, &mut quam]);
            let (qsecs, qcounts) = results.pop().expect("two engines");
            let (secs, counts) = results.pop().expect("two engines");
            let rt = format!("EXACT_SCALING_{n}");
            self.agree(&qcounts, &counts, || {
                format!("DISAGREEMENT {rt}: eventferry and quamina per-rule counts differ")
            });
            self.push("eventferry", &rt, n, events.len(), (secs, &counts));
            self.push("quamina", &rt, n, events.len(), (qsecs, &qcounts));
            scale_rows.push((n, secs, mem, m.heap_size(), qsecs, qmem));
            drop(m);
            drop(q);
        }
        scale_rows
    }

    fn print_problems(&self) {
        if self.problems.is_empty() {
            println!("\ndifferential check: all engines agree wherever they support a rule type; every rule matches some events");
        } else {
            println!("\n!!!!!!!! {} PROBLEM(S) !!!!!!!!", self.problems.len());
            for p in &self.problems {
                println!("!!! {p}");
            }
        }
    }
}

/// (rules, eventferry seconds, eventferry heap, `heap_size()`, quamina seconds, quamina heap).
type ScaleRow = (usize, f64, usize, usize, f64, usize);

/// `n` exact rules on MAPBLKLOT: even ones take a value from a random event, odd ones a value
/// no event has.
fn exact_rules(rng: &mut gen::Rng, events: &[Vec<u8>], n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let v = if i % 2 == 0 {
                let e: Value =
                    serde_json::from_slice(&events[rng.below(events.len() as u64) as usize])
                        .unwrap();
                e["properties"]["MAPBLKLOT"].as_str().unwrap().to_string()
            } else {
                format!("X{:06}", rng.below(1_000_000))
            };
            json!({"properties": {"MAPBLKLOT": [v]}}).to_string()
        })
        .collect()
}

fn print_table(rows: &[Row]) {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n{:<34} {:<22} {:>6} {:>8} {:>9} {:>12} {:>9}",
        "rule type", "engine", "rules", "events", "seconds", "events/s", "matches"
    );
    for r in rows {
        let _ = writeln!(
            t,
            "{:<34} {:<22} {:>6} {:>8} {:>9.3} {:>12.0} {:>9}",
            r.rule_type,
            r.engine,
            r.rules,
            r.events,
            r.seconds,
            r.eps(),
            r.matches
        );
    }
    print!("{t}");
}

fn print_scaling(events: usize, scale_rows: &[ScaleRow]) {
    println!("\nscaling (exact rules on properties.MAPBLKLOT):");
    println!(
        "{:>7} {:>14} {:>14} {:>16} {:>14} {:>16}",
        "rules",
        "eventferry ev/s",
        "quamina ev/s",
        "eventferry heap",
        "(heap_size())",
        "quamina heap"
    );
    for (n, secs, mem, hs, qsecs, qmem) in scale_rows {
        println!(
            "{n:>7} {:>14.0} {:>14.0} {:>14.2}MB {:>12.2}MB {:>14.2}MB",
            events as f64 / secs,
            events as f64 / qsecs,
            *mem as f64 / 1e6,
            *hs as f64 / 1e6,
            *qmem as f64 / 1e6
        );
    }
}

/// The performance targets, each marked met or missed (informational: they do not fail the run).
fn print_targets(
    rows: &[Row],
    rule_sets: &[(String, Vec<String>)],
    baseline: f64,
    scale_rows: &[ScaleRow],
) {
    println!("\ntargets:");
    let find = |engine: &str, rt: &str| {
        rows.iter()
            .find(|r| r.engine == engine && r.rule_type == rt)
    };
    let check = |ok: bool, msg: String| {
        println!("  [{}] {msg}", if ok { "ok" } else { "MISSED" });
    };
    for (rtype, _) in rule_sets {
        let e = find("eventferry", rtype).unwrap();
        if let Some(q) = find("quamina", rtype) {
            let x = q.seconds / e.seconds;
            check(
                x >= 2.0,
                format!("{rtype}: eventferry {x:.1}x quamina (target >= 2x)"),
            );
        }
        if let Some(l) = find("localstack", rtype) {
            let x = (l.seconds / l.events as f64) / (e.seconds / e.events as f64);
            check(
                x >= 100.0,
                format!("{rtype}: eventferry {x:.0}x LocalStack (target >= 100x)"),
            );
        }
        let x = e.seconds / baseline;
        check(x <= 1.5, format!("{rtype}: time per event {x:.2}x serde_json parse-only (target <= 1.5x, stretch <= 1.0x)"));
    }
    if let (Some(first), Some(last)) = (scale_rows.first(), scale_rows.last()) {
        let x = last.1 / first.1;
        check(
            x <= 2.0,
            format!("10,000 exact rules take {x:.2}x the time of 10 (target <= 2x)"),
        );
        check(
            last.2 < 50_000_000,
            format!(
                "10,000 rules compile into {:.2} MB (target < 50 MB)",
                last.2 as f64 / 1e6
            ),
        );
    }
}

fn write_results(path: &std::path::Path, rows: &[Row]) {
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"engine": r.engine, "rule_type": r.rule_type, "rules": r.rules, "events": r.events,
                   "seconds": r.seconds, "events_per_sec": r.eps(), "matches": r.matches})
        })
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create output directory");
    }
    std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).expect("write results");
    println!("wrote {}", path.display());
}

/// `*` as one-or-more characters (LocalStack's reading of wildcards).
fn glob_plus(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (1..=s.len()).any(|k| glob_plus(rest, &s[k..])),
        Some((c, rest)) => s.first() == Some(c) && glob_plus(rest, &s[1..]),
    }
}

/// Per-rule counts of MAPBLKLOT wildcard rules (plain or anything-but) under LocalStack's
/// reading; `None` for any other kind of rule.
fn localstack_wildcard_counts(patterns: &[String], sample: &[Vec<u8>]) -> Option<Vec<u64>> {
    let values: Vec<Option<String>> = sample
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_slice(e).ok()?;
            v["properties"]["MAPBLKLOT"].as_str().map(str::to_string)
        })
        .collect();
    let mut counts = Vec::new();
    for p in patterns {
        let rule: Value = serde_json::from_str(p).ok()?;
        let op = &rule["properties"]["MAPBLKLOT"][0];
        let (glob, negate) = match (
            op["wildcard"].as_str(),
            op["anything-but"]["wildcard"].as_str(),
        ) {
            (Some(g), _) => (g, false),
            (None, Some(g)) => (g, true),
            _ => return None,
        };
        counts.push(
            values
                .iter()
                .flatten()
                .filter(|v| glob_plus(glob.as_bytes(), v.as_bytes()) != negate)
                .count() as u64,
        );
    }
    Some(counts)
}

fn run_localstack(
    a: &Args,
    rule_sets: &[(String, Vec<String>)],
    sample: &[Vec<u8>],
) -> Result<Value, String> {
    let dir = std::env::temp_dir().join(format!("eventferry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let events_path = dir.join("events.jsonl");
    let mut body = Vec::new();
    for e in sample {
        body.extend_from_slice(e);
        body.push(b'\n');
    }
    std::fs::write(&events_path, body).map_err(|e| e.to_string())?;
    let sets: serde_json::Map<String, Value> = rule_sets
        .iter()
        .map(|(t, ps)| (t.clone(), json!(ps)))
        .collect();
    let spec_path = dir.join("spec.json");
    std::fs::write(
        &spec_path,
        json!({"events": events_path, "rule_sets": sets}).to_string(),
    )
    .map_err(|e| e.to_string())?;
    let script = dir.join("localstack_bench.py");
    std::fs::write(&script, LOCALSTACK_SCRIPT).map_err(|e| e.to_string())?;
    let out = Command::new(&a.python)
        .arg(&script)
        .arg(&spec_path)
        .output()
        .map_err(|e| format!("{}: {e}", a.python))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .chars()
            .take(400)
            .collect());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}
