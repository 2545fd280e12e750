//! `eventferry drive` end to end against LocalStack: real rules, a real queue, a real process.

use std::time::{Duration, Instant};

use eventferry_tests::{
    assert_nothing_left, free_local_addr, http_get, localstack, metric, put_event,
    queue_policy_sids, queue_tags, queue_url, queues_with_prefix, rule_target_ids,
    rules_with_prefix, run_eventferry, wait_for, Proc, RecordingHttpServer, SIGKILL, SIGTERM,
};
use serde_json::Value;

fn queue_name(tag: &str) -> String {
    eventferry_tests::short_queue_name("efd", tag)
}

fn pattern_for(source: &str) -> String {
    format!(r#"[{{"source":["{source}"],"detail-type":["OrderPlaced"]}}]"#)
}

/// `eventferry drive` on `queue` with `patterns`, to `sink`, polling every second, plus `extra`.
fn start_drive(patterns: &str, queue: &str, sink: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "drive",
        "--event-patterns",
        patterns,
        "--queue-name",
        queue,
        "--sink",
        sink,
        "--duration",
        "1",
    ];
    args.extend_from_slice(extra);
    Proc::start(&args, &[])
}

const READY: &str = "receiving";
const START: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(60);

#[tokio::test]
async fn http_sink_in_binary_mode_gets_only_matching_events() {
    let config = localstack().await;
    let queue = queue_name("http");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(0).await;
    let patterns = pattern_for(&source);
    let mut driver = start_drive(&patterns, &queue, &sink.url, &["--clean-up"]);
    driver.wait_stderr(READY, START).await;

    let sent_at = Instant::now();
    let matching = put_event(&config, "default", &source, "OrderPlaced", r#"{"order":1}"#).await;
    let other = put_event(
        &config,
        "default",
        &source,
        "OrderCancelled",
        r#"{"order":2}"#,
    )
    .await;
    let request = wait_for(
        Duration::from_secs(30),
        "the matching event at the sink",
        || {
            sink.accepted()
                .into_iter()
                .find(|r| r.headers.get("ce-id") == Some(&matching))
        },
    )
    .await;
    eprintln!("PutEvents -> sink latency: {:?}", sent_at.elapsed());

    assert_eq!(request.headers["ce-specversion"], "1.0");
    assert_eq!(
        request.headers["ce-type"], source,
        "type is the EventBridge source"
    );
    assert_eq!(
        request.headers["ce-source"],
        "arn:aws:events:us-east-1:000000000000:event-bus/default"
    );
    assert_eq!(request.headers["ce-awsdetailtype"], "OrderPlaced");
    assert!(request.headers.contains_key("ce-time"));
    assert!(request.headers["content-type"].starts_with("application/json"));
    let body: Value = serde_json::from_slice(&request.body).expect("body is the JSON envelope");
    assert_eq!(body["id"], matching.as_str());
    assert_eq!(body["detail"]["order"], 1);
    assert_eq!(
        request.headers["ce-time"].get(..19),
        body["time"].as_str().and_then(|t| t.get(..19)),
        "time is the event's"
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !sink
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.headers.get("ce-id") == Some(&other)),
        "a non-matching event reached the sink"
    );

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "clean exit; stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn stdout_sink_prints_structured_cloudevents() {
    let config = localstack().await;
    let queue = queue_name("stdout");
    let source = format!("demo.{queue}");
    let patterns = pattern_for(&source);
    let mut driver = start_drive(
        &patterns,
        &queue,
        "stdout",
        &["--clean-up", "--type-format", "{source}.{detail-type}"],
    );
    driver.wait_stderr(READY, START).await;
    let id = put_event(&config, "default", &source, "OrderPlaced", r#"{"order":3}"#).await;
    let line = wait_for(Duration::from_secs(30), "the event on stdout", || {
        driver.stdout_lines().into_iter().find(|l| l.contains(&id))
    })
    .await;
    let event: Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(
        event["type"],
        format!("{source}.OrderPlaced"),
        "--type-format applies"
    );
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["data"]["detail"]["order"], 3);

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn a_sink_failing_three_times_still_gets_the_event() {
    let config = localstack().await;
    let queue = queue_name("retry");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(3).await;
    let patterns = pattern_for(&source);
    let metrics_addr = free_local_addr();
    let mut driver = start_drive(
        &patterns,
        &queue,
        &sink.url,
        &["--clean-up", "--metrics-addr", &metrics_addr],
    );
    driver.wait_stderr(READY, START).await;
    assert_eq!(http_get(&metrics_addr, "/healthz").await.0, 200);
    assert_eq!(
        http_get(&metrics_addr, "/readyz").await,
        (200, "ready\n".into())
    );
    let id = put_event(&config, "default", &source, "OrderPlaced", "{}").await;
    wait_for(
        Duration::from_secs(60),
        "the event accepted after three failures",
        || {
            sink.accepted()
                .into_iter()
                .find(|r| r.headers.get("ce-id") == Some(&id))
        },
    )
    .await;
    let attempts: Vec<u16> = sink
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.headers.get("ce-id") == Some(&id))
        .map(|r| r.status)
        .collect();
    // Each attempt is a new receive of the same message: it was not deleted before the 2xx.
    assert_eq!(attempts, vec![500, 500, 500, 200]);

    // /metrics counts the same story (the delete is flushed shortly after the 2xx).
    let metrics = wait_for_metrics(&metrics_addr, |m| {
        metric(m, "eventferry_deleted_total") >= 1.0
    })
    .await;
    assert_eq!(
        metric(&metrics, "eventferry_received_total"),
        4.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "eventferry_delivery_failures_total"),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "eventferry_delivered_total"),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "eventferry_deleted_total"),
        1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE eventferry_in_flight gauge"),
        "{metrics}"
    );

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert!(
        driver.stderr_text().contains("1 delivered"),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn a_restart_adopts_the_same_rules_and_queue() {
    let config = localstack().await;
    let queue = queue_name("adopt");
    let patterns = r#"[{"source":["demo.a"]},{"source":["demo.b"]}]"#;
    let args = [
        "drive",
        "--event-patterns",
        patterns,
        "--queue-name",
        &queue,
        "--duration",
        "1",
    ];

    let mut first = Proc::start(&args, &[]);
    first.wait_stderr(READY, START).await;
    let rules = rules_with_prefix(&config, "default", &format!("eventferry-{queue}")).await;
    assert_eq!(rules.len(), 2, "one rule per pattern");
    first.signal(SIGTERM);
    assert_eq!(
        first.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        first.stderr_text()
    );
    assert_eq!(
        queues_with_prefix(&config, &queue).await.len(),
        1,
        "without --clean-up the queue stays"
    );

    let mut with_cleanup = args.to_vec();
    with_cleanup.push("--clean-up");
    let mut second = Proc::start(&with_cleanup, &[]);
    second.wait_stderr(READY, START).await;
    let mut again = rules_with_prefix(&config, "default", &format!("eventferry-{queue}")).await;
    again.sort();
    let mut rules = rules;
    rules.sort();
    assert_eq!(again, rules, "the restart adopted the same rules");
    assert!(
        second.stderr_text().contains("adopted"),
        "summary says what was adopted:\n{}",
        second.stderr_text()
    );
    second.signal(SIGTERM);
    assert_eq!(
        second.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        second.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn sigkill_then_cleanup_leaves_nothing() {
    let config = localstack().await;
    let queue = queue_name("kill");
    let patterns = pattern_for("demo.kill");
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &patterns,
            "--queue-name",
            &queue,
            "--duration",
            "1",
            "--dlq",
        ],
        &[],
    );
    driver.wait_stderr(READY, START).await;
    driver.signal(SIGKILL);
    driver.wait(STOP).await;
    assert_eq!(
        rules_with_prefix(&config, "default", &format!("eventferry-{queue}"))
            .await
            .len(),
        1
    );
    assert_eq!(
        queues_with_prefix(&config, &queue).await.len(),
        2,
        "queue and DLQ left by the crash"
    );

    // The killed replica's lease (30 s by default, renewed every 10 s) is still live: cleanup
    // leaves everything and says why; --force sweeps it.
    let (code, out, err) = run_eventferry(&["cleanup", "--owner", &queue], &[], STOP).await;
    assert_eq!(code, Some(1), "cleanup: stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(&format!("skipped: queue {queue} has 1 live replica(s)")),
        "{out}"
    );
    assert!(err.contains("until it expires"), "{err}");
    assert_eq!(queues_with_prefix(&config, &queue).await.len(), 2);
    let (code, out, err) =
        run_eventferry(&["cleanup", "--owner", &queue, "--force"], &[], STOP).await;
    assert_eq!(code, Some(0), "cleanup: stdout:\n{out}\nstderr:\n{err}");
    assert_nothing_left(&config, &queue).await;
}

/// Someone deletes the queue under a running driver: it says so, waits out SQS's 60-s re-create
/// rule (LocalStack runs with SQS_DELAY_RECENTLY_DELETED=1), provisions again and keeps delivering.
#[tokio::test]
async fn a_queue_deleted_under_a_running_driver_is_provisioned_again() {
    let config = localstack().await;
    let queue = queue_name("vanish");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(0).await;
    let patterns = pattern_for(&source);
    let mut driver = start_drive(
        &patterns,
        &queue,
        &sink.url,
        &["--lease-ttl", "3", "--clean-up"],
    );
    driver.wait_stderr(READY, START).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .get_queue_url()
        .queue_name(&queue)
        .send()
        .await
        .expect("the driver's queue exists")
        .queue_url
        .expect("a queue URL");
    sqs.delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("DeleteQueue");

    driver
        .wait_stderr("no longer exists", Duration::from_secs(30))
        .await;
    driver
        .wait_stderr(
            &format!("provisioned queue {queue} again"),
            Duration::from_secs(150),
        )
        .await;
    let id = put_event(&config, "default", &source, "OrderPlaced", "{}").await;
    wait_for(
        Duration::from_secs(60),
        "the event sent after the queue came back",
        || {
            sink.accepted()
                .into_iter()
                .find(|r| r.headers.get("ce-id") == Some(&id))
        },
    )
    .await;

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn a_rate_schedule_delivers_a_scheduled_event() {
    let config = localstack().await;
    let queue = queue_name("sched");
    let mut driver = Proc::start(
        &[
            "drive",
            "--schedule-expression",
            "rate(1 minute)",
            "--queue-name",
            &queue,
            "--sink",
            "stdout",
            "--duration",
            "5",
            "--clean-up",
        ],
        &[],
    );
    driver.wait_stderr(READY, START).await;
    let line = wait_for(Duration::from_secs(130), "a Scheduled Event", || {
        driver
            .stdout_lines()
            .into_iter()
            .find(|l| l.contains("Scheduled Event"))
    })
    .await;
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], "aws.events");
    assert_eq!(event["awsdetailtype"], "Scheduled Event");
    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn bad_input_exits_2_and_creates_nothing() {
    let config = localstack().await;
    let ok_pattern = pattern_for("demo.bad");
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "bad pattern",
            vec![
                "--event-patterns",
                r#"[{"source":["a"]},{"detail":{"n":[{"numeric":">"}]}}]"#,
            ],
            "pattern 2 of 2 is not valid. Reason: Value of numeric must be an array.",
        ),
        (
            "bad schedule",
            vec!["--schedule-expression", "rate(1 minutes)"],
            "--schedule-expression",
        ),
        (
            "neither pattern nor schedule",
            vec![],
            "give --event-patterns, --schedule-expression, or both",
        ),
        (
            "duration 21",
            vec!["--event-patterns", &ok_pattern, "--duration", "21"],
            "--duration 21",
        ),
        (
            "bad sink",
            vec!["--event-patterns", &ok_pattern, "--sink", "ftp://example"],
            "--sink",
        ),
        (
            "bad region",
            vec!["--event-patterns", &ok_pattern, "--region", "Mars"],
            "--region",
        ),
        (
            "unreachable endpoint",
            vec![
                "--event-patterns",
                &ok_pattern,
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            "could not be reached",
        ),
    ];
    for (name, extra, expect) in cases {
        let queue = queue_name("bad");
        let mut args = vec!["drive", "--queue-name", &queue];
        args.extend(extra);
        let (code, _, err) = run_eventferry(&args, &[], Duration::from_secs(60)).await;
        assert_eq!(code, Some(2), "{name}: exit status; stderr:\n{err}");
        assert!(
            err.contains(expect),
            "{name}: stderr should contain {expect:?}:\n{err}"
        );
        assert_nothing_left(&config, &queue).await;
    }
}

async fn wait_for_metrics(addr: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(addr, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never got there:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- --dry-run and --peek change nothing (issue 16) ----

/// The queue's whole Policy attribute ("" without one).
async fn policy_text(config: &aws_config::SdkConfig, url: &str) -> String {
    let out = aws_sdk_sqs::Client::new(config)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetQueueAttributes {url}: {e:?}"));
    out.attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .unwrap_or_default()
}

/// The plan lines a dry run printed, without their indentation.
fn plan_lines(stdout: &str) -> Vec<String> {
    stdout.lines().map(|l| l.trim().to_owned()).collect()
}

#[tokio::test]
async fn a_dry_run_on_a_new_queue_prints_create_lines_and_creates_nothing() {
    let config = localstack().await;
    let queue = queue_name("dry");
    let patterns = pattern_for(&format!("demo.{queue}"));
    let (code, out, err) = run_eventferry(
        &[
            "drive",
            "--dry-run",
            "--event-patterns",
            &patterns,
            "--schedule-expression",
            "rate(5 minutes)",
            "--queue-name",
            &queue,
            "--dlq",
        ],
        &[],
        STOP,
    )
    .await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    println!("{out}");
    let lines = plan_lines(&out);
    let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
    assert!(
        has(&format!("create dead-letter queue {queue}-dlq")),
        "{out}"
    );
    assert!(has(&format!("create queue {queue} (")), "{out}");
    let rule_lines = lines
        .iter()
        .filter(|l| l.starts_with(&format!("create rule eventferry-{queue}-")))
        .count();
    assert_eq!(
        rule_lines, 2,
        "one rule per pattern and one for the schedule:\n{out}"
    );
    assert!(
        has(&format!(
            "create policy statement eventferry-{queue} on queue {queue}"
        )),
        "{out}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("create target"))
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("within AWS's limits"), "{out}");
    assert!(
        !err.contains("receiving"),
        "a dry run receives nothing:\n{err}"
    );
    assert_nothing_left(&config, &queue).await;
    assert_eq!(queue_url(&config, &format!("{queue}-dlq")).await, None);
}

#[tokio::test]
async fn a_dry_run_next_to_a_running_driver_shows_the_diff_and_changes_nothing() {
    let config = localstack().await;
    let queue = queue_name("drydiff");
    let old = pattern_for(&format!("demo.{queue}.old"));
    let new = pattern_for(&format!("demo.{queue}.new"));
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &old,
            "--queue-name",
            &queue,
            "--duration",
            "1",
            "--clean-up",
        ],
        &[],
    );
    driver.wait_stderr(READY, START).await;
    let prefix = format!("eventferry-{queue}");
    let rules_before = rules_with_prefix(&config, "default", &prefix).await;
    assert_eq!(rules_before.len(), 1, "{rules_before:?}");
    let url = queue_url(&config, &queue)
        .await
        .expect("the driver's queue");
    let policy_before = policy_text(&config, &url).await;
    let targets_before = rule_target_ids(&config, "default", &rules_before[0]).await;

    let (code, out, err) = run_eventferry(
        &[
            "drive",
            "--dry-run",
            "--event-patterns",
            &new,
            "--queue-name",
            &queue,
        ],
        &[],
        STOP,
    )
    .await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    println!("{out}");
    let lines = plan_lines(&out);
    let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
    assert!(has(&format!("adopt queue {queue}")), "{out}");
    assert!(
        has(&format!("remove rule {} (bus default)", rules_before[0])),
        "{out}"
    );
    let created: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("create rule {prefix}-")))
        .collect();
    assert_eq!(created.len(), 1, "{out}");
    assert!(!created[0].contains(&rules_before[0]), "{out}");
    assert!(
        has(&format!("adopt policy statement {prefix} on queue {queue}")),
        "{out}"
    );

    // Nothing changed: the same rule, targets and policy.
    assert_eq!(
        rules_with_prefix(&config, "default", &prefix).await,
        rules_before
    );
    assert_eq!(
        rule_target_ids(&config, "default", &rules_before[0]).await,
        targets_before
    );
    assert_eq!(policy_text(&config, &url).await, policy_before);

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn peek_prints_a_message_and_leaves_it_in_the_queue() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = queue_name("peek");
    let url = sqs
        .create_queue()
        .queue_name(&queue)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "2",
        )
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let id = format!("peek-{queue}");
    let envelope = serde_json::json!({
        "version": "0", "id": id, "detail-type": "OrderPlaced", "source": "demo.peek",
        "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"order": 7}
    });
    sqs.send_message()
        .queue_url(&url)
        .message_body(envelope.to_string())
        .send()
        .await
        .expect("SendMessage");

    let mut peek = Proc::start(
        &["drive", "--peek", "--queue-name", &queue, "--duration", "1"],
        &[],
    );
    let line = wait_for(Duration::from_secs(30), "the CloudEvent on stdout", || {
        peek.stdout_lines().into_iter().find(|l| l.contains(&id))
    })
    .await;
    let event: Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["data"]["detail"]["order"], 7);
    peek.signal(SIGTERM);
    assert_eq!(
        peek.wait(STOP).await,
        Some(0),
        "stderr:\n{}",
        peek.stderr_text()
    );
    assert!(
        peek.stderr_text().contains("0 delivered") && peek.stderr_text().contains("0 deleted"),
        "stderr:\n{}",
        peek.stderr_text()
    );
    assert!(
        queue_tags(&config, &url).await.is_empty(),
        "--peek takes no lease and tags nothing"
    );

    // The message is still there: it comes back after the 2-s visibility timeout.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(2)
            .send()
            .await
            .expect("ReceiveMessage");
        if got
            .messages()
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains(&id)))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the message did not come back");
    }
    sqs.delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("DeleteQueue");
}

#[tokio::test]
async fn peek_at_a_missing_queue_exits_2_and_creates_nothing() {
    let config = localstack().await;
    let queue = queue_name("peekmiss");
    let (code, out, err) =
        run_eventferry(&["drive", "--peek", "--queue-name", &queue], &[], STOP).await;
    assert_eq!(code, Some(2), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains(&format!("--peek: queue {queue} does not exist")),
        "{err}"
    );
    assert_nothing_left(&config, &queue).await;
}

// ---- cleanup leaves what live replicas use (issue 16) ----

#[tokio::test]
async fn cleanup_skips_a_queue_with_a_live_replica_unless_forced() {
    let config = localstack().await;
    let queue = queue_name("live");
    let patterns = pattern_for(&format!("demo.{queue}"));
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &patterns,
            "--queue-name",
            &queue,
            "--duration",
            "1",
            "--dlq",
            "--lease-ttl",
            "30",
            "--replica-id",
            "it-live-1",
        ],
        &[],
    );
    driver.wait_stderr(READY, START).await;
    let prefix = format!("eventferry-{queue}");
    let rules = rules_with_prefix(&config, "default", &prefix).await;
    assert_eq!(rules.len(), 1);

    let cleanup = ["cleanup", "--owner", &queue, "--queue-prefix", &queue];
    let skip = format!(
        "queue {queue} has 1 live replica(s) of instance {queue} (it-live-1); stop them first, \
         or pass --force"
    );
    let (code, out, err) =
        run_eventferry(&[&cleanup[..], &["--dry-run"]].concat(), &[], STOP).await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("would skip: {skip}")), "{out}");

    let (code, out, err) = run_eventferry(&cleanup, &[], STOP).await;
    assert_eq!(code, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("skipped: {skip}")), "{out}");
    assert!(
        out.contains(&format!(
            "skipped: dead-letter queue {queue}-dlq of queue {queue}"
        )),
        "{out}"
    );
    assert!(!out.contains("deleted"), "nothing removed:\n{out}");
    assert_eq!(rules_with_prefix(&config, "default", &prefix).await, rules);
    let url = queue_url(&config, &queue).await.expect("the queue stays");
    assert!(queue_url(&config, &format!("{queue}-dlq")).await.is_some());
    assert_eq!(
        rule_target_ids(&config, "default", &rules[0]).await.len(),
        1
    );
    assert!(
        queue_policy_sids(&config, &url).await.contains(&prefix),
        "the policy statement stays"
    );

    let (code, out, err) = run_eventferry(&[&cleanup[..], &["--force"]].concat(), &[], STOP).await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("deleted rule {}", rules[0])), "{out}");
    assert!(out.contains(&format!("deleted queue {url}")), "{out}");
    assert!(out.contains("--force: removing although"), "{out}");

    // The driver lost its queue; it must still stop when told (it may log errors).
    driver.signal(SIGTERM);
    assert!(
        driver.wait(STOP).await.is_some(),
        "the driver exits; stderr:\n{}",
        driver.stderr_text()
    );
    // Whatever its heartbeat put back meanwhile goes with one more sweep.
    let (code, out, err) = run_eventferry(&[&cleanup[..], &["--force"]].concat(), &[], STOP).await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_nothing_left(&config, &queue).await;
}

/// Two configurations on one instance would remove each other's rules: a second driver with other
/// patterns is refused before it changes anything, unless it is told to replace the plan.
#[tokio::test]
async fn a_second_plan_on_a_live_instance_is_refused_unless_replace_plan() {
    let config = localstack().await;
    let queue = queue_name("plans");
    let first = pattern_for(&format!("demo.{queue}.first"));
    let second = pattern_for(&format!("demo.{queue}.second"));
    let drive = |patterns: &str, replica: &str, extra: &[&str]| {
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        Proc::start(&args, &[])
    };
    let mut a = drive(&first, "a", &[]);
    a.wait_stderr(READY, START).await;
    let prefix = format!("eventferry-{queue}-");
    let before = rules_with_prefix(&config, "default", &prefix).await;
    assert_eq!(before.len(), 1, "{before:?}");

    let mut b = drive(&second, "b", &[]);
    assert_eq!(b.wait(START).await, Some(1), "stderr:\n{}", b.stderr_text());
    let refused = b.stderr_text();
    assert!(
        refused.contains("live replica(s) a of instance")
            && refused.contains("run another plan")
            && refused.contains("--replace-plan"),
        "{refused}"
    );
    assert_eq!(
        rules_with_prefix(&config, "default", &prefix).await,
        before,
        "the refused driver changed nothing"
    );

    let mut c = drive(&second, "c", &["--replace-plan"]);
    c.wait_stderr(READY, START).await;
    assert!(
        c.stderr_text().contains("--replace-plan: replica(s) a"),
        "{}",
        c.stderr_text()
    );
    let after = rules_with_prefix(&config, "default", &prefix).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "the new plan's rule replaced the old one");

    a.signal(SIGTERM);
    c.signal(SIGTERM);
    assert_eq!(a.wait(STOP).await, Some(0), "{}", a.stderr_text());
    assert_eq!(c.wait(STOP).await, Some(0), "{}", c.stderr_text());
    assert_nothing_left(&config, &queue).await;
}

/// A queue a CloudFormation stack manages (the SAM template's, tagged
/// `aws:cloudformation:stack-name`) is adopted with a warning naming the stack: the driver would
/// compete with that stack's router for the messages. The queue itself stays.
#[tokio::test]
async fn adopting_a_cloudformation_queue_warns_with_the_stack_name() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = queue_name("cfn");
    let stack = format!("stack-{queue}");
    let url = sqs
        .create_queue()
        .queue_name(&queue)
        .tags("aws:cloudformation:stack-name", &stack)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let patterns = pattern_for(&format!("demo.{queue}"));
    let mut driver = start_drive(&patterns, &queue, "stdout", &["--clean-up"]);
    driver.wait_stderr(READY, START).await;
    let stderr = driver.stderr_text();
    assert!(
        stderr.contains(&format!("belongs to CloudFormation stack {stack}"))
            && stderr.contains("competes"),
        "{stderr}"
    );
    driver.signal(SIGTERM);
    assert_eq!(driver.wait(STOP).await, Some(0), "{}", driver.stderr_text());
    assert_eq!(
        queue_url(&config, &queue).await.as_deref(),
        Some(url.as_str()),
        "a foreign queue is never deleted"
    );
    sqs.delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("DeleteQueue");
    assert_nothing_left(&config, &queue).await;
}

/// The trace context reaches the HTTP sink. LocalStack 4.13.1 does not pass PutEvents'
/// `TraceHeader` on to an SQS target (its `SqsTargetSender` ignores the trace header), so the
/// `AWSTraceHeader` is set by SendMessage here, as EventBridge does on AWS; `emit --trace` is
/// checked for what LocalStack allows: its output, and that a trace, if one arrives, is the
/// printed one.
#[tokio::test]
async fn the_aws_trace_header_reaches_the_http_sink_as_traceparent() {
    let config = localstack().await;
    let queue = queue_name("trace");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(0).await;
    let patterns = pattern_for(&source);
    let mut driver = start_drive(&patterns, &queue, &sink.url, &["--clean-up"]);
    driver.wait_stderr(READY, START).await;
    let url = queue_url(&config, &queue)
        .await
        .expect("the driver's queue");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let send = |id: &str, header: Option<&str>| {
        let body = serde_json::json!({
            "version": "0", "id": id, "detail-type": "OrderPlaced", "source": source,
            "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        });
        let mut request = sqs
            .send_message()
            .queue_url(&url)
            .message_body(body.to_string());
        if let Some(header) = header {
            request = request.message_system_attributes(
                aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
                aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value(header)
                    .build()
                    .unwrap(),
            );
        }
        request.send()
    };
    let traced = format!("traced-{queue}");
    let plain = format!("plain-{queue}");
    send(
        &traced,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
    )
    .await
    .expect("SendMessage");
    send(&plain, None).await.expect("SendMessage");

    let request_for = |id: &str| {
        let id = id.to_owned();
        let sink = &sink;
        move || {
            sink.accepted()
                .into_iter()
                .find(|r| r.headers.get("ce-id") == Some(&id))
        }
    };
    let request = wait_for(
        Duration::from_secs(30),
        "the traced event",
        request_for(&traced),
    )
    .await;
    let w3c = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
    assert_eq!(request.headers["traceparent"], w3c);
    assert_eq!(request.headers["ce-traceparent"], w3c);
    assert!(!request.headers.contains_key("tracestate"));
    let request = wait_for(
        Duration::from_secs(30),
        "the plain event",
        request_for(&plain),
    )
    .await;
    assert!(
        !request.headers.contains_key("traceparent"),
        "no trace without --trace-new: {:?}",
        request.headers
    );

    // emit --trace: one line per event, `<event id> <trace id> <X-Ray trace id>`.
    let (code, stdout, stderr) = run_eventferry(
        &[
            "emit",
            "--source",
            &source,
            "--detail-type",
            "OrderPlaced",
            "--trace",
        ],
        &[],
        START,
    )
    .await;
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    let fields: Vec<&str> = stdout.trim().split(' ').collect();
    let [id, trace_id, xray_id] = fields[..] else {
        panic!("emit --trace prints three fields: {stdout:?}");
    };
    assert_eq!(trace_id.len(), 32, "{stdout}");
    assert_eq!(
        xray_id,
        format!("1-{}-{}", &trace_id[..8], &trace_id[8..]),
        "{stdout}"
    );
    let request = wait_for(
        Duration::from_secs(30),
        "the emitted event",
        request_for(id),
    )
    .await;
    match request.headers.get("traceparent") {
        // What AWS does: EventBridge passes the TraceHeader on as AWSTraceHeader.
        Some(parent) => assert_eq!(&parent[3..35], trace_id),
        None => eprintln!("LocalStack did not pass PutEvents' TraceHeader on to SQS"),
    }

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "clean exit; stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

/// An OTLP/HTTP collector in the test: records the JSON bodies POSTed to /v1/traces.
struct Collector {
    base: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
        let seen = bodies.clone();
        let handler = move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                if let Ok(json) = serde_json::from_slice::<Value>(&body) {
                    seen.lock().unwrap().push(json);
                }
                "{}"
            }
        };
        let app = axum::Router::new().route("/v1/traces", axum::routing::post(handler));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector { base, bodies, task }
    }

    /// Every span received (OTLP JSON: resourceSpans[].scopeSpans[].spans[]).
    fn spans(&self) -> Vec<Value> {
        let bodies = self.bodies.lock().unwrap();
        let mut spans = Vec::new();
        for body in bodies.iter() {
            for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                }
            }
        }
        spans
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn span_attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// `--otlp-endpoint`: one span per delivery reaches an OTLP/HTTP collector, a child of the
/// message's trace, with the queue, message id, event id, sink and outcome.
#[tokio::test]
async fn otlp_exports_one_span_per_delivery_under_the_incoming_trace() {
    let config = localstack().await;
    let queue = queue_name("otlp");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(0).await;
    let collector = Collector::start().await;
    let patterns = pattern_for(&source);
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &patterns,
            "--queue-name",
            &queue,
            "--sink",
            &sink.url,
            "--duration",
            "1",
            "--clean-up",
            "--otlp-endpoint",
            &collector.base,
        ],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    driver.wait_stderr(READY, START).await;
    let url = queue_url(&config, &queue)
        .await
        .expect("the driver's queue");
    let id = format!("otlp-{queue}");
    let body = serde_json::json!({
        "version": "0", "id": id, "detail-type": "OrderPlaced", "source": source, "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}
    });
    let sent = aws_sdk_sqs::Client::new(&config)
        .send_message()
        .queue_url(&url)
        .message_body(body.to_string())
        .message_system_attributes(
            aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
            aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("SendMessage");
    let message_id = sent.message_id().expect("a MessageId").to_owned();

    let span = wait_for(Duration::from_secs(30), "the delivery span", || {
        collector
            .spans()
            .into_iter()
            .find(|s| span_attribute(s, "cloudevents.event_id") == Some(id.as_str()))
    })
    .await;
    assert_eq!(span["name"], "eventferry.deliver", "{span}");
    assert_eq!(
        span["traceId"], "5759e988bd862e3fe1be46a994272793",
        "{span}"
    );
    assert_eq!(span["parentSpanId"], "53995c3f42cd8ad8", "{span}");
    assert_eq!(
        span_attribute(&span, "messaging.message.id"),
        Some(message_id.as_str())
    );
    assert_eq!(
        span_attribute(&span, "eventferry.outcome"),
        Some("delivered")
    );
    assert_eq!(
        span_attribute(&span, "eventferry.sink"),
        Some(sink.url.as_str())
    );
    assert!(span_attribute(&span, "messaging.destination.name")
        .is_some_and(|q| q.ends_with(&format!(":{queue}"))));
    assert_eq!(
        collector
            .spans()
            .iter()
            .filter(|s| span_attribute(s, "cloudevents.event_id") == Some(id.as_str()))
            .count(),
        1,
        "one span per delivery"
    );

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(STOP).await,
        Some(0),
        "clean exit; stderr:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
}

/// `--max-rate 4`: a backlog of 24 events reaches an HTTP sink that counts arrivals per second at
/// no more than the rate plus one burst in any second, and all of them arrive; none is lost.
#[tokio::test]
async fn max_rate_paces_a_backlog_to_the_sink() {
    let config = localstack().await;
    let queue = queue_name("rate");
    let source = format!("demo.{queue}");
    let sink = RecordingHttpServer::start(0).await;
    let patterns = pattern_for(&source);
    // Provision first (no delivery yet), send the backlog, then drain it with the limit.
    let mut driver = start_drive(
        &patterns,
        &queue,
        &sink.url,
        &["--max-rate", "4", "--concurrency", "3", "--clean-up"],
    );
    driver.wait_stderr(READY, START).await;
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(put_event(&config, "default", &source, "OrderPlaced", "{}").await);
    }
    let arrived = wait_for(Duration::from_secs(90), "all 24 events at the sink", || {
        let got = sink.accepted();
        ids.iter()
            .all(|id| got.iter().any(|r| r.headers.get("ce-id") == Some(id)))
            .then_some(got)
    })
    .await;
    let times: Vec<Instant> = {
        let mut t: Vec<Instant> = arrived.iter().map(|r| r.at).collect();
        t.sort();
        t
    };
    let per_second: Vec<usize> = times
        .iter()
        .enumerate()
        .map(|(i, first)| {
            times[i..]
                .iter()
                .take_while(|t| **t < *first + Duration::from_secs(1))
                .count()
        })
        .collect();
    let busiest = per_second.iter().copied().max().unwrap_or_default();
    assert!(
        busiest <= 8,
        "{busiest} arrivals within one second; --max-rate 4 allows 4 plus a burst of 4"
    );
    driver.signal(SIGTERM);
    assert_eq!(driver.wait(STOP).await, Some(0), "{}", driver.stderr_text());
    assert_nothing_left(&config, &queue).await;
}
