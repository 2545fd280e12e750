//! `eventferry drive --sink-batch`: batched delivery against LocalStack, to an HTTP sink that
//! records every request, and to a Lambda function under `cargo lambda watch` (`recorder`, which
//! writes each invoke payload to a queue). The queue is created and filled here first (the
//! driver adopts a queue that is not its own and never deletes it), so the backlog is there when
//! the driver starts.

use std::collections::HashSet;
use std::time::Duration;

use eventferry_core::binding::decode_batch;
use eventferry_core::structured::parse_structured_value;
use eventferry_tests::watch::{Queues, Watch};
use eventferry_tests::{localstack, Proc, RecordingHttpServer, SinkRequest, SIGTERM};

const READY: &str = "receiving";
const START: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(60);
const BATCH_TYPE: &str = "application/cloudevents-batch+json";

/// An EventBridge envelope with id `<tag>-<i>`.
fn envelope(tag: &str, i: usize) -> String {
    serde_json::json!({
        "version": "0", "id": format!("{tag}-{i}"), "detail-type": "OrderPlaced",
        "source": "demo.batch", "account": "000000000000", "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {"order": i}
    })
    .to_string()
}

/// A new queue holding `n` envelopes; returns its URL and the event ids.
async fn filled_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    n: usize,
) -> (String, HashSet<String>) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(10) {
        let entries = chunk
            .iter()
            .map(|&i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(envelope(name, i))
                    .build()
                    .expect("entry")
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("SendMessageBatch");
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
    (url, (0..n).map(|i| format!("{name}-{i}")).collect())
}

/// Messages in the queue, visible or not.
async fn messages_left(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    let attrs = out.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| {
        attrs
            .get(a)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// Messages left once the deletes have had up to 20 s to land (0 as soon as it is 0).
async fn drained(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let mut left = messages_left(sqs, url).await;
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = messages_left(sqs, url).await;
    }
    left
}

/// The event ids of one batched request; fails the test on any other kind of request.
fn batch_ids(request: &SinkRequest) -> Vec<String> {
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some(BATCH_TYPE),
        "every request is a batch: {:?}",
        request.headers
    );
    let events = decode_batch(&request.body).expect("a JSON array of valid structured CloudEvents");
    let items: Vec<serde_json::Value> = serde_json::from_slice(&request.body).expect("JSON");
    assert_eq!(items.len(), events.len());
    items
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The bodies of the messages waiting in `url` (up to 10, a 1 s long poll), deleted.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("ReceiveMessage");
    let mut bodies = Vec::new();
    for m in out.messages.unwrap_or_default() {
        let body = m.body.as_deref().expect("a body");
        bodies.push(serde_json::from_str(body).expect("a JSON payload"));
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle.expect("a receipt handle"))
            .send()
            .await
            .expect("DeleteMessage");
    }
    bodies
}

/// `eventferry drive` on the existing queue `queue`, batching by 10 to `sink`.
fn start_batched_drive(queue: &str, sink: &str) -> Proc {
    start_batched_drive_with(queue, sink, &[])
}

/// [`start_batched_drive`] with extra environment variables.
fn start_batched_drive_with(queue: &str, sink: &str, env: &[(&str, &str)]) -> Proc {
    let pattern = format!(r#"[{{"source":["{queue}.nobody"]}}]"#);
    Proc::start(
        &[
            "drive",
            "--event-patterns",
            &pattern,
            "--queue-name",
            queue,
            "--sink",
            sink,
            "--duration",
            "1",
            "--concurrency",
            "1",
            "--sink-batch",
            "10",
            "--sink-batch-wait",
            "1s",
            "--clean-up",
        ],
        env,
    )
}

/// Wait until the sink has acknowledged every id of `expected`; returns the accepted requests.
async fn until_all_acknowledged(
    sink: &RecordingHttpServer,
    driver: &Proc,
    expected: &HashSet<String>,
) -> Vec<SinkRequest> {
    let limit = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let accepted = sink.accepted();
        let seen: HashSet<String> = accepted.iter().flat_map(batch_ids).collect();
        if seen == *expected {
            return accepted;
        }
        assert!(
            tokio::time::Instant::now() < limit,
            "{} of {} events acknowledged after 60 s; driver stderr:\n{}",
            seen.len(),
            expected.len(),
            driver.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stop the driver with SIGTERM and wait for its clean exit; returns its stderr.
async fn stop(mut driver: Proc) -> String {
    driver.signal(SIGTERM);
    let stderr = driver.stderr_text();
    assert_eq!(driver.wait(STOP).await, Some(0), "stderr:\n{stderr}");
    driver.stderr_text()
}

/// The end of a run of 25 events without failures: `sizes` (events per request or invoke) are
/// 1 to 10 and fewer than the events, no event went twice, the queue `url` is empty, and the
/// driver stops cleanly having delivered and deleted all 25 (then the queue is removed).
async fn batched_and_done(sizes: &[usize], sqs: &aws_sdk_sqs::Client, url: &str, driver: Proc) {
    assert!(sizes.iter().all(|&n| (1..=10).contains(&n)), "{sizes:?}");
    assert!(
        sizes.len() < 25,
        "events went in batches, not one per request: {sizes:?}"
    );
    assert_eq!(sizes.iter().sum::<usize>(), 25, "no event twice: {sizes:?}");
    assert_eq!(
        drained(sqs, url).await,
        0,
        "every acknowledged message is deleted"
    );
    let stderr = stop(driver).await;
    assert!(
        stderr.contains("25 delivered, 0 failed deliveries, 25 deleted"),
        "stderr:\n{stderr}"
    );
    sqs.delete_queue().queue_url(url).send().await.ok();
}

/// 25 messages with --sink-batch 10: every request carries the batch content type and at most
/// 10 events, every event arrives, and the queue is empty afterwards.
#[tokio::test]
async fn batches_carry_every_event_at_most_ten_per_request() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = eventferry_tests::short_queue_name("efb", "ok");
    let (url, ids) = filled_queue(&sqs, &queue, 25).await;
    let sink = RecordingHttpServer::start_failing_requests(0).await;
    let driver = start_batched_drive(&queue, &sink.url);
    driver.wait_stderr(READY, START).await;

    let accepted = until_all_acknowledged(&sink, &driver, &ids).await;
    let sizes: Vec<usize> = accepted.iter().map(|r| batch_ids(r).len()).collect();
    batched_and_done(&sizes, &sqs, &url, driver).await;
}

/// The sink answers 500 to the first batch: none of that batch's messages is deleted, each comes
/// back and is delivered in a later batch, and nothing is lost.
#[tokio::test]
async fn a_failed_batch_is_redelivered_whole_and_nothing_is_lost() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = eventferry_tests::short_queue_name("efb", "fail");
    let (url, ids) = filled_queue(&sqs, &queue, 25).await;
    let sink = RecordingHttpServer::start_failing_requests(1).await;
    let driver = start_batched_drive(&queue, &sink.url);
    driver.wait_stderr(READY, START).await;

    let accepted = until_all_acknowledged(&sink, &driver, &ids).await;
    let requests = sink.requests.lock().unwrap().clone();
    assert_eq!(requests[0].status, 500);
    let failed = batch_ids(&requests[0]);
    assert!(!failed.is_empty());
    let redelivered: HashSet<String> = accepted.iter().flat_map(batch_ids).collect();
    for id in &failed {
        assert!(
            redelivered.contains(id),
            "{id} of the failed batch came back"
        );
    }
    assert!(requests[1..].iter().all(|r| r.status == 200));

    assert_eq!(
        drained(&sqs, &url).await,
        0,
        "every message is deleted in the end"
    );
    let stderr = stop(driver).await;
    let failures = format!("{} failed deliveries", failed.len());
    assert!(stderr.contains(&failures), "{failures}; stderr:\n{stderr}");
    assert!(stderr.contains("25 deleted"), "stderr:\n{stderr}");
    sqs.delete_queue().queue_url(&url).send().await.ok();
}

/// 25 messages with --sink-batch 10 to `lambda:recorder`: every invoke payload is a JSON array of
/// 1 to 10 valid structured CloudEvents, every event arrives exactly once, fewer invokes than
/// events are made, and the queue is empty afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_sink_gets_each_batch_as_one_json_array() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queues = Queues::create(&["recorded"]).await;
    let watch = Watch::start(9443, &[("RECORDER_QUEUE_URL", queues.url("recorded"))]).await;
    let queue = eventferry_tests::short_queue_name("efb", "lam");
    let (url, ids) = filled_queue(&sqs, &queue, 25).await;
    let lambda = format!("http://127.0.0.1:{}", watch.port());
    let driver = start_batched_drive_with(
        &queue,
        "lambda:recorder",
        &[("AWS_ENDPOINT_URL_LAMBDA", &lambda)],
    );
    driver.wait_stderr(READY, START).await;

    // Each recorded message is the payload of one invoke.
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let limit = tokio::time::Instant::now() + Duration::from_secs(90);
    while seen.len() < ids.len() {
        assert!(
            tokio::time::Instant::now() < limit,
            "{} of {} events recorded after 90 s; driver stderr:\n{}",
            seen.len(),
            ids.len(),
            driver.stderr_text()
        );
        for payload in receive(&sqs, &queues.url("recorded")).await {
            let items = payload.as_array().unwrap_or_else(|| {
                panic!("a batched invoke payload is a JSON array, got {payload}")
            });
            sizes.push(items.len());
            for item in items {
                if let Err(e) = parse_structured_value(item) {
                    panic!("not a structured CloudEvent ({e}): {item}");
                }
                seen.push(item["id"].as_str().expect("an id").to_owned());
            }
        }
    }
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), ids);
    batched_and_done(&sizes, &sqs, &url, driver).await;
}
