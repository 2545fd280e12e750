//! The whole pipeline, every hop real: PutEvents → an EventBridge rule in LocalStack → the SQS
//! queue → `eventferry drive --sink lambda:router` → the router under `cargo lambda watch` → the
//! subscribed `recorder` function → the SQS queue `recorder` writes to.
//!
//! Asserted: the subscriber gets exactly the events the rule and the subscription both select,
//! with the EventBridge id, source and time carried through; an event the rule selects but no
//! subscription wants is dropped by the router and still deleted by the driver; the ingest queue
//! is empty afterwards, and `--clean-up` leaves no rule or queue.
//!
//! Trace context: a message with an `AWSTraceHeader` (sent to the ingest queue directly, as
//! LocalStack 4.13.1 does not pass PutEvents' `TraceHeader` on to SQS) reaches the subscriber
//! with that one trace id as its `traceparent`; the events without one get a new root each
//! (`--trace-new`).

use std::time::Duration;

use eventferry_tests::watch::{Queues, Watch};
use eventferry_tests::{
    assert_nothing_left, localstack, put_event, short_queue_name, wait_for, Proc, SIGTERM,
};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_to_driver_to_router_to_subscriber() {
    let config = localstack().await;
    let queues = Queues::create(&["recorded"]).await;
    let queue = short_queue_name("efp", "pipe");
    let source = format!("demo.{queue}");

    // The router subscribes `recorder` to OrderPlaced events of this source only.
    let subscriptions = json!({"subscriptions": [{
        "name": "record-orders-placed",
        "types": [source],
        "filters": [{"exact": {"awsdetailtype": "OrderPlaced"}}],
        "function": "recorder"
    }]});
    let watch = Watch::start(
        9433,
        &[
            ("EVENTFERRY_SUBSCRIPTIONS", subscriptions.to_string()),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
        ],
    )
    .await;
    let lambda_endpoint = format!("http://127.0.0.1:{}", watch.port());

    // The rule takes everything from the source; the subscription narrows it down.
    let patterns = json!([{"source": [source]}]).to_string();
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &patterns,
            "--queue-name",
            &queue,
            "--sink",
            "lambda:router",
            "--duration",
            "1",
            "--clean-up",
            "--trace-new",
        ],
        &[("AWS_ENDPOINT_URL_LAMBDA", &lambda_endpoint)],
    );
    driver
        .wait_stderr("receiving", Duration::from_secs(60))
        .await;

    let placed_1 = put_event(
        &config,
        "default",
        &source,
        "OrderPlaced",
        r#"{"order":"o-1","total":250}"#,
    )
    .await;
    let cancelled = put_event(
        &config,
        "default",
        &source,
        "OrderCancelled",
        r#"{"order":"o-1"}"#,
    )
    .await;
    let placed_2 = put_event(
        &config,
        "default",
        &source,
        "OrderPlaced",
        r#"{"order":"o-2","total":120}"#,
    )
    .await;
    // Another source: the rule does not select it, so it never reaches the queue.
    put_event(
        &config,
        "default",
        &format!("other.{queue}"),
        "OrderPlaced",
        r#"{"order":"o-3"}"#,
    )
    .await;

    // An EventBridge event with trace context, as EventBridge sends it to SQS on AWS.
    let traced = format!("traced-{queue}");
    let envelope = json!({
        "version": "0", "id": traced, "detail-type": "OrderPlaced", "source": source,
        "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"order": "o-4", "total": 40}
    });
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .get_queue_url()
        .queue_name(&queue)
        .send()
        .await
        .expect("GetQueueUrl")
        .queue_url
        .expect("queue url");
    sqs.send_message()
        .queue_url(&url)
        .message_body(envelope.to_string())
        .message_system_attributes(
            aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
            aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                )
                .build()
                .expect("a system attribute"),
        )
        .send()
        .await
        .expect("SendMessage");

    let mut recorded = queues.take("recorded", 3).await;
    recorded.sort_by_key(|e| e["data"]["detail"]["order"].as_str().unwrap().to_owned());
    // The one trace id arrives at the subscriber, through driver and router.
    assert_eq!(
        recorded[2]["traceparent"], "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "{}",
        recorded[2]
    );
    // The others started their own traces (--trace-new): valid, sampled, distinct.
    let new_roots: Vec<&str> = recorded[..2]
        .iter()
        .map(|e| {
            e["traceparent"]
                .as_str()
                .unwrap_or_else(|| panic!("a traceparent: {e}"))
        })
        .collect();
    for parent in &new_roots {
        eventferry_core::trace::TraceContext::from_traceparent(parent)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(parent.ends_with("-01"), "{parent}");
    }
    assert_ne!(new_roots[0][3..35], new_roots[1][3..35]);
    for (event, id, order, total) in [
        (&recorded[0], &placed_1, "o-1", 250),
        (&recorded[1], &placed_2, "o-2", 120),
        (&recorded[2], &traced, "o-4", 40),
    ] {
        assert_eq!(event["specversion"], "1.0", "{event}");
        assert_eq!(
            event["id"],
            json!(id),
            "the EventBridge id is the CloudEvent id: {event}"
        );
        assert_eq!(event["type"], json!(source), "{event}");
        assert_eq!(event["awsdetailtype"], "OrderPlaced", "{event}");
        assert_eq!(event["data"]["id"], json!(id), "{event}");
        assert_eq!(event["data"]["detail"]["order"], order, "{event}");
        assert_eq!(event["data"]["detail"]["total"], total, "{event}");
        // The event's own time (EventBridge's), not the moment of delivery.
        assert_eq!(
            event["time"].as_str().unwrap().get(..19),
            event["data"]["time"].as_str().unwrap().get(..19),
            "{event}"
        );
    }

    // The driver deleted all four messages (the dropped one too): every delivery was
    // acknowledged, so nothing is in flight or waiting.
    let mut depth = Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .expect("GetQueueAttributes");
        depth = json!(attrs
            .attributes()
            .map(|a| a
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>())
            .unwrap_or_default());
        if depth.as_object().unwrap().values().all(|v| v == "0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        depth.as_object().unwrap().values().all(|v| v == "0"),
        "messages left in the ingest queue: {depth}\n--- driver ---\n{}",
        driver.stderr_text()
    );
    // The router saw the cancelled event and dropped it (no subscription wants it).
    wait_for(
        Duration::from_secs(10),
        "the router's log of the drop",
        || watch.log_text().contains(&cancelled).then_some(()),
    )
    .await;
    queues.take("recorded", 0).await;

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(Duration::from_secs(60)).await,
        Some(0),
        "{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
    drop(watch);
    queues.cleanup().await;
}
