//! The `eventferry` command line as a user meets it: safe defaults that refuse rather than guess
//! (one table), inputs that every command reads the same way, and JSON summaries. The real
//! binary; LocalStack where AWS is involved.

use std::time::Duration;

use eventferry_tests::{
    assert_nothing_left, eventferry_bin, localstack, run_eventferry, within, Proc, SIGTERM,
};
use serde_json::Value;

const START: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(60);
const READY: &str = "receiving";

fn queue_name(tag: &str) -> String {
    eventferry_tests::short_queue_name("efc", tag)
}

fn pattern_for(source: &str) -> String {
    format!(r#"[{{"source":["{source}"]}}]"#)
}

/// One row of the safe-defaults table: a command, its environment, and what it must answer.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    code: i32,
    stderr: &'static str,
}

/// Each case is refused before anything is created or deleted: a mistyped sink variable (never a
/// silent fallback to stdout), a second plan on an instance a live driver uses (the same check
/// as drive.rs `a_second_plan_on_a_live_instance_is_refused_unless_replace_plan`, which also
/// covers --replace-plan), an invalid log level (flag or RUST_LOG), and `cleanup --all-owned`
/// without `--yes` and without a terminal.
#[tokio::test]
async fn unsafe_starts_are_refused() {
    let config = localstack().await;
    let queue = queue_name("plans");
    let first = pattern_for(&format!("demo.{queue}.first"));
    let second = pattern_for(&format!("demo.{queue}.second"));
    let drive = |patterns: &str, replica: &str| -> Vec<String> {
        [
            "drive",
            "--event-patterns",
            patterns,
            "--queue-name",
            &queue,
            "--sink",
            "stdout",
            "--duration",
            "1",
            "--replica-id",
            replica,
            "--clean-up",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let mut live = Proc::start(
        &drive(&first, "a")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
    );
    live.wait_stderr(READY, START).await;

    let unused = queue_name("unused");
    let quick = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["drive", "--event-patterns", &first, "--queue-name", &unused];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let cases = [
        Case {
            name: "mistyped sink variable",
            args: quick(&[]),
            env: vec![("EVENTFERRY_SINKS", "http://127.0.0.1:9/events".into())],
            code: 2,
            stderr: "EVENTFERRY_SINKS is not a variable eventferry reads; did you mean EVENTFERRY_SINK?",
        },
        Case {
            name: "sink variable with a suffix",
            args: quick(&[]),
            env: vec![("EVENTFERRY_SINK_URL", "http://127.0.0.1:9/events".into())],
            code: 2,
            stderr: "EVENTFERRY_SINK_URL is not a variable eventferry reads; did you mean EVENTFERRY_SINK?",
        },
        Case {
            name: "mistyped variable of another command",
            args: ["status", "--queue-name", &unused].map(str::to_owned).to_vec(),
            env: vec![("EVENTFERRY_QUEUE_NAMES", unused.clone())],
            code: 2,
            stderr: "did you mean EVENTFERRY_QUEUE_NAME?",
        },
        Case {
            name: "two plans sharing one instance",
            args: drive(&second, "b"),
            env: vec![],
            code: 1,
            stderr: "run another plan",
        },
        Case {
            name: "invalid --log-level",
            args: quick(&["--log-level", "info,aws_config=loud"]),
            env: vec![],
            code: 2,
            stderr: "--log-level \"info,aws_config=loud\" is not a valid log filter",
        },
        Case {
            name: "a word that is not a level",
            args: quick(&["--log-level", "warning"]),
            env: vec![],
            code: 2,
            stderr: "\"warning\" is not a log level",
        },
        Case {
            name: "invalid RUST_LOG",
            args: quick(&[]),
            env: vec![("RUST_LOG", "verbose".into())],
            code: 2,
            stderr: "RUST_LOG \"verbose\"",
        },
        Case {
            name: "cleanup --all-owned without --yes",
            args: ["cleanup", "--all-owned"].map(str::to_owned).to_vec(),
            env: vec![],
            code: 2,
            stderr: "pass --yes",
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = case.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _, stderr) = run_eventferry(&args, &env, START).await;
        if code != Some(case.code) || !stderr.contains(case.stderr) {
            failures.push(format!(
                "{}: exit {code:?} (want {}), stderr:\n{stderr}\n(want {:?})",
                case.name, case.code, case.stderr
            ));
        }
    }
    live.signal(SIGTERM);
    assert_eq!(live.wait(STOP).await, Some(0), "{}", live.stderr_text());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_nothing_left(&config, &queue).await;
    assert_nothing_left(&config, &unused).await;
}

/// `eventferry ARGS` with `stdin` as its input, to completion (bounded): (code, stdout, stderr).
async fn run_with_stdin(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(eventferry_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start eventferry");
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = within(STOP, "eventferry to exit", child.wait_with_output())
        .await
        .expect("eventferry output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every input flag reads `@FILE`, `@-`, `-` and inline text through the one reader, and takes
/// one pattern or an array where patterns are taken.
#[tokio::test]
async fn every_command_reads_the_same_inputs() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/demo-patterns.json");
    let demo_arg = format!("@{demo}");
    let dir = std::env::temp_dir().join(eventferry_tests::unique_name("cli-inputs"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        r#"{"big":{"detail":{"total":[{"numeric":[">=",100]}]}}}"#,
    )
    .unwrap();
    let rules_at = format!("@{}", rules.display());
    let rules_plain = rules.display().to_string();
    let events = dir.join("events.jsonl");
    std::fs::write(
        &events,
        "{\"detail\":{\"total\":250}}\n{\"detail\":{\"total\":5}}\n",
    )
    .unwrap();
    let events_at = format!("@{}", events.display());
    let big = r#"{"source":"demo.shop","detail-type":"OrderPlaced","detail":{"total":250}}"#;
    let cases: Vec<(&str, Vec<&str>, &str, i32, &str)> = vec![
        (
            "validate an array file",
            vec!["pattern", "validate", &demo_arg],
            "",
            0,
            "valid",
        ),
        (
            "validate @-",
            vec!["pattern", "validate", "@-"],
            r#"{"source":["a"]}"#,
            0,
            "valid",
        ),
        (
            "validate -, an invalid second pattern",
            vec!["pattern", "validate", "-"],
            r#"[{"source":["a"]},{"source":"a"}]"#,
            2,
            "pattern 2 of 2: Event pattern is not valid. Reason:",
        ),
        (
            "test an array against an event",
            vec!["pattern", "test", "--pattern", &demo_arg, "--event", big],
            "",
            0,
            "match",
        ),
        (
            "match --rules @file",
            vec![
                "pattern", "match", "--rules", &rules_at, "--events", &events_at,
            ],
            "",
            0,
            r#"{"line":1,"rules":["big"]}"#,
        ),
        (
            "match --rules file, events from @-",
            vec![
                "pattern",
                "match",
                "--rules",
                &rules_plain,
                "--events",
                "@-",
                "--count",
            ],
            "{\"detail\":{\"total\":100}}\n",
            0,
            r#"{"big":1}"#,
        ),
        (
            "match --rules inline array",
            vec![
                "pattern",
                "match",
                "--rules",
                r#"[{"detail":{"total":[5]}}]"#,
                "--events",
                "-",
            ],
            "{\"detail\":{\"total\":5}}\n",
            0,
            r#"{"line":1,"rules":["1"]}"#,
        ),
        (
            "subscriptions validate @file",
            vec![
                "subscriptions",
                "validate",
                "@../events/demo-subscriptions.yaml",
            ],
            "",
            0,
            "valid: 1 subscription(s)",
        ),
        (
            "subscriptions validate -",
            vec!["subscriptions", "validate", "-"],
            "subscriptions:\n  - name: s\n    types: [demo.shop]\n    function: f\n",
            0,
            "valid: 1 subscription(s)",
        ),
        (
            "emit --detail from @- is checked before any AWS call",
            vec![
                "emit",
                "--source",
                "s",
                "--detail-type",
                "t",
                "--detail",
                "@-",
            ],
            "[1]",
            2,
            "--detail: stdin is JSON an array, not an object",
        ),
    ];
    let mut failures = Vec::new();
    for (name, args, stdin, code, expect) in &cases {
        let (got, stdout, stderr) = run_with_stdin(args, stdin).await;
        let text = format!("{stdout}{stderr}");
        if got != Some(*code) || !text.contains(expect) {
            failures.push(format!(
                "{name}: exit {got:?} (want {code}), output:\n{text}\n(want {expect:?})"
            ));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// With `--log-format json` the start and stop summaries are JSON log events with fields; and
/// without a sink, the stdout default is announced with a warning.
#[tokio::test]
async fn json_logs_carry_the_summaries_and_the_stdout_default_is_announced() {
    let config = localstack().await;
    let queue = queue_name("json");
    let pattern = pattern_for(&format!("demo.{queue}"));
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &pattern,
            "--queue-name",
            &queue,
            "--duration",
            "1",
            "--log-format",
            "json",
            "--clean-up",
        ],
        &[("K_SINK", "")],
    );
    driver.wait_stderr(READY, START).await;
    driver.signal(SIGTERM);
    assert_eq!(driver.wait(STOP).await, Some(0), "{}", driver.stderr_text());
    let stderr = driver.stderr_text();
    let events: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let with_message = |m: &str| {
        events
            .iter()
            .find(|e| {
                e["fields"]["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(m))
            })
            .unwrap_or_else(|| panic!("no {m:?} event in:\n{stderr}"))
    };
    assert_eq!(with_message("provisioned")["fields"]["change"], "created");
    assert_eq!(
        with_message("lease taken")["fields"]["other_live_replicas"],
        0
    );
    assert_eq!(with_message("stopped")["fields"]["received"], 0);
    assert!(with_message("last replica out")["fields"]["report"].is_string());
    let warning = with_message("no --sink, EVENTFERRY_SINK or K_SINK given");
    assert_eq!(warning["level"], "WARN");
    assert_nothing_left(&config, &queue).await;
}
