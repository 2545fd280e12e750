//! The router under `cargo lambda watch`, with the example subscribers `recorder` (writes each
//! event to an SQS queue in LocalStack) and `flaky` (fails when `data.fail` is true; records each
//! run in another queue). The router is invoked through watch's AWS-compatible Invoke endpoint
//! with `eventferry_aws::lambda::Lambda`, and invokes the subscribers through the same endpoint.
//!
//! Asserted: `batchItemFailures`, which subscribers ran (from their queues), that a retry runs
//! only the failed subscriber, and that after the attempts are used up the pair is dead-lettered.

use std::time::Duration;

use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_tests::wait_for;
use eventferry_tests::watch::{fixture, repo, Queues, Watch};
use serde_json::{json, Value};

fn batch_failures(outcome: &InvokeOutcome, watch: &Watch) -> Vec<String> {
    let InvokeOutcome::Ok { payload, .. } = outcome else {
        panic!(
            "the router failed: {outcome:?}\n--- watch log ---\n{}",
            watch.log_tail()
        );
    };
    let response: Value = serde_json::from_slice(payload).unwrap();
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not an SqsBatchResponse: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// (id, outcome) of each flaky run, sorted.
fn flaky_runs(records: &[Value]) -> Vec<(String, String)> {
    let mut runs: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    runs.sort();
    runs
}

fn ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Retry messages as the event source mapping of the retry queue would deliver them.
fn as_sqs_batch(messages: &[Value]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({"messageId": format!("retry-{i}"), "receiptHandle": format!("rh-{i}"), "body": m.to_string(),
                   "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:router-retry",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

fn retry_pairs(messages: &[Value]) -> Vec<(String, String, u64)> {
    let mut pairs: Vec<(String, String, u64)> = messages
        .iter()
        .map(|m| {
            (
                m["eventferry_retry"]["subscription"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                m["event"]["id"].as_str().unwrap().to_owned(),
                m["eventferry_retry"]["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn retries_run_only_failed_subscribers_then_dead_letter() {
    let queues = Queues::create(&["recorded", "flaky", "retry", "dlq"]).await;
    let watch = Watch::start(
        9431,
        &[
            (
                "EVENTFERRY_SUBSCRIPTIONS_FILE",
                repo()
                    .join("events/subscriptions.yaml")
                    .display()
                    .to_string(),
            ),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
            ("FLAKY_QUEUE_URL", queues.url("flaky")),
            ("EVENTFERRY_RETRY_QUEUE_URL", queues.url("retry")),
            ("EVENTFERRY_DLQ_URL", queues.url("dlq")),
            ("EVENTFERRY_MAX_ATTEMPTS", "3".into()),
            ("EVENTFERRY_RETRY_DELAY_SECONDS", "0".into()),
        ],
    )
    .await;

    // Attempt 1: the fixture batch. Failures go to the retry queue, so nothing is redelivered.
    let outcome = watch.invoke_router(&fixture("router-sqs-batch.json")).await;
    assert_eq!(batch_failures(&outcome, &watch), Vec::<String>::new());
    let recorded = queues.take("recorded", 3).await;
    assert_eq!(
        ids(&recorded),
        ["17793124-05d4-b198-2fde-7ededc63b103", "order-1", "order-2"]
    );
    let order = recorded.iter().find(|e| e["id"] == "order-2").unwrap();
    assert_eq!(order["type"], "com.example.order.created");
    assert_eq!(order["data"]["total"], 150);
    assert_eq!(
        flaky_runs(&queues.take("flaky", 3).await),
        [
            ("order-1".into(), "succeeded".into()),
            ("order-2".into(), "failed".into()),
            ("payment-3".into(), "failed".into())
        ]
    );
    let retries = queues.take("retry", 2).await;
    assert_eq!(
        retry_pairs(&retries),
        [
            ("flaky-orders".into(), "order-2".into(), 2),
            ("flaky-payments".into(), "payment-3".into(), 2)
        ]
    );

    // Attempt 2: the retry messages come back; only flaky runs, recorder is not re-invoked.
    let outcome = watch.invoke_router(&as_sqs_batch(&retries)).await;
    assert_eq!(batch_failures(&outcome, &watch), Vec::<String>::new());
    queues.take("recorded", 0).await;
    assert_eq!(
        flaky_runs(&queues.take("flaky", 2).await),
        [
            ("order-2".into(), "failed".into()),
            ("payment-3".into(), "failed".into())
        ]
    );
    let retries = queues.take("retry", 2).await;
    assert_eq!(
        retry_pairs(&retries),
        [
            ("flaky-orders".into(), "order-2".into(), 3),
            ("flaky-payments".into(), "payment-3".into(), 3)
        ]
    );

    // Attempt 3, the last: still failing, so the pairs go to the dead-letter queue.
    let outcome = watch.invoke_router(&as_sqs_batch(&retries)).await;
    assert_eq!(batch_failures(&outcome, &watch), Vec::<String>::new());
    queues.take("recorded", 0).await;
    assert_eq!(queues.take("flaky", 2).await.len(), 2);
    queues.take("retry", 0).await;
    let dead = queues.take("dlq", 2).await;
    assert_eq!(
        retry_pairs(&dead),
        [
            ("flaky-orders".into(), "order-2".into(), 3),
            ("flaky-payments".into(), "payment-3".into(), 3)
        ]
    );
    assert!(dead[0]["eventferry_retry"]["error"]
        .as_str()
        .unwrap()
        .contains("failing on purpose"));

    drop(watch);
    queues.cleanup().await;
}

#[tokio::test]
async fn without_a_retry_queue_only_unhandled_messages_are_redelivered() {
    let queues = Queues::create(&["recorded", "flaky"]).await;
    let watch = Watch::start(
        9432,
        &[
            (
                "EVENTFERRY_SUBSCRIPTIONS_FILE",
                repo()
                    .join("events/subscriptions.yaml")
                    .display()
                    .to_string(),
            ),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
            ("FLAKY_QUEUE_URL", queues.url("flaky")),
        ],
    )
    .await;

    // m3: recorder succeeded, flaky failed: acknowledged (redelivery would re-run recorder).
    // m4: its only subscriber failed: redelivered.
    let outcome = watch.invoke_router(&fixture("router-sqs-batch.json")).await;
    assert_eq!(batch_failures(&outcome, &watch), ["m4-payment-fail"]);
    assert_eq!(
        ids(&queues.take("recorded", 3).await),
        ["17793124-05d4-b198-2fde-7ededc63b103", "order-1", "order-2"]
    );
    assert_eq!(queues.take("flaky", 3).await.len(), 3);

    // A structured CloudEvent none of whose subscribers succeeded: the invoke fails (watch
    // answers HTTP 500, which the adapter reports as a function error), so the caller retries.
    let outcome = watch
        .invoke_router(&fixture("router-cloudevent-failing.json"))
        .await;
    let InvokeOutcome::FunctionError { payload, .. } = &outcome else {
        panic!(
            "expected a function error, got {outcome:?}\n{}",
            watch.log_tail()
        );
    };
    let error: Value = serde_json::from_slice(payload).unwrap();
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("must be delivered again: no subscriber succeeded"),
        "{error}"
    );
    assert_eq!(
        flaky_runs(&queues.take("flaky", 1).await),
        [("payment-3".into(), "failed".into())]
    );

    // A CloudEvent over HTTP (Function URL, binary mode): 202, delivered to recorder.
    let outcome = watch
        .invoke_router(&fixture("router-http-binary.json"))
        .await;
    let InvokeOutcome::Ok { payload, .. } = &outcome else {
        panic!("{outcome:?}\n{}", watch.log_tail());
    };
    let response: Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(response["statusCode"], 202, "{response}");
    let recorded = queues.take("recorded", 1).await;
    assert_eq!(recorded[0]["id"], "order-4");
    assert_eq!(recorded[0]["tenant"], "acme");

    drop(watch);
    queues.cleanup().await;
}

/// The router as a real process answering bad HTTP input: a CloudEvent missing `ce-type` is a
/// 400 naming the attribute, a body over 256 KiB is a 413, and neither reaches a subscriber.
#[tokio::test]
async fn malformed_http_is_400_and_oversized_is_413() {
    let queues = Queues::create(&["recorded", "flaky"]).await;
    let watch = Watch::start(
        9434,
        &[
            (
                "EVENTFERRY_SUBSCRIPTIONS_FILE",
                repo()
                    .join("events/subscriptions.yaml")
                    .display()
                    .to_string(),
            ),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
            ("FLAKY_QUEUE_URL", queues.url("flaky")),
        ],
    )
    .await;
    let http_response = |outcome: InvokeOutcome| -> Value {
        let InvokeOutcome::Ok { payload, .. } = &outcome else {
            panic!("{outcome:?}\n{}", watch.log_tail());
        };
        serde_json::from_slice(payload).unwrap()
    };

    let response = http_response(
        watch
            .invoke_router(&fixture("router-http-malformed.json"))
            .await,
    );
    assert_eq!(response["statusCode"], 400, "{response}");
    assert!(
        response["body"].as_str().unwrap().contains("type"),
        "the 400 names the missing attribute: {response}"
    );

    // Binary mode, a valid CloudEvent whose body is 300 KiB (Lambda allows 6 MB payloads).
    let mut oversized = fixture("router-http-malformed.json");
    oversized["headers"]["ce-type"] = json!("com.example.order.created");
    oversized["headers"]["ce-id"] = json!("order-big");
    oversized["body"] = json!(format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024)));
    let response = http_response(watch.invoke_router(&oversized).await);
    assert_eq!(response["statusCode"], 413, "{response}");

    queues.take("recorded", 0).await;
    queues.take("flaky", 0).await;
    drop(watch);
    queues.cleanup().await;
}

/// A subscription with a bad field fails the router's init, and the error names the
/// subscription and the field; no event is routed. (Under `cargo lambda watch` the failed init
/// is logged and the invoke gets no answer; on AWS the invoke fails with `Runtime.ExitError`.)
#[tokio::test]
async fn a_bad_subscriptions_file_fails_init_naming_subscription_and_field() {
    let queues = Queues::create(&["recorded"]).await;
    let dir = std::env::temp_dir().join(eventferry_tests::unique_name("subs"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("subscriptions.yaml");
    std::fs::write(
        &file,
        "subscriptions:\n  - name: orders\n    types: [com.example.order.created]\n    \
         filters:\n      - exact: {Type: com.example.order.created}\n    function: recorder\n",
    )
    .unwrap();
    let watch = Watch::start(
        9435,
        &[
            ("EVENTFERRY_SUBSCRIPTIONS_FILE", file.display().to_string()),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
        ],
    )
    .await;
    let lambda = watch.lambda().await;
    let payload = fixture("router-cloudevent.json").to_string().into_bytes();
    let invoke = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(120),
            lambda.invoke("router", payload.into(), InvocationMode::Sync),
        )
        .await
    });
    let needle = r#"subscription \"orders\" (subscriptions[0]), field \"filters[0].exact\": attribute name \"Type\""#;
    wait_for(
        Duration::from_secs(120),
        "the router's init error in the watch log",
        || watch.log_text().contains(needle).then_some(()),
    )
    .await;
    assert!(
        watch.log_text().contains("router init failed"),
        "{}",
        watch.log_tail()
    );
    if invoke.is_finished() {
        let outcome = invoke.await.unwrap();
        assert!(
            !matches!(outcome, Ok(Ok(InvokeOutcome::Ok { .. }))),
            "the router answered despite its failed init: {outcome:?}"
        );
    } else {
        invoke.abort();
    }
    queues.take("recorded", 0).await;
    drop(watch);
    queues.cleanup().await;
    let _ = std::fs::remove_dir_all(dir);
}
