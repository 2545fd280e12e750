//! Lambda throttling, made to happen: a fault-injecting proxy in front of `cargo lambda watch`
//! answers 3 of every 10 Invoke requests as Lambda does when a function's concurrency is used up
//! (HTTP 429 `TooManyRequestsException`, `Retry-After: 1`, Reason
//! `ReservedFunctionConcurrentInvocationLimitExceeded`) and forwards the others. The driver
//! (`--sink lambda:recorder`, `--dlq --max-receive-count 2`) reaches Lambda only through it.
//!
//! Asserted: every event reaches the recorder's queue exactly once; none reaches the DLQ, though
//! a throttle counted as a failed delivery would have sent some there (two receives); /metrics
//! counts each 429 the proxy sent as a throttle, no failed delivery, and a lowered limit.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use eventferry_tests::watch::{Queues, Watch};
use eventferry_tests::{
    assert_nothing_left, free_local_addr, http_get, localstack, metric, put_event, queue_url,
    short_queue_name, within, Proc, SIGTERM,
};
use serde_json::json;

/// What `cargo lambda watch`'s Invoke endpoint would not send: Lambda's throttle.
const THROTTLE_BODY: &str = r#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#;

/// The proxy's state: where watch listens, and the Invoke requests seen and throttled.
struct Proxy {
    upstream: String,
    poster: eventferry_http::Poster,
    invokes: AtomicU64,
    throttled: AtomicU64,
}

impl Proxy {
    /// Invoke requests 1, 4, 7 of every 10 (30 %) are throttled.
    fn throttles(n: u64) -> bool {
        n % 10 % 3 == 1
    }
}

async fn relay(
    axum::extract::State(proxy): axum::extract::State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().ends_with("/invocations") {
        let n = proxy.invokes.fetch_add(1, Ordering::SeqCst);
        if Proxy::throttles(n) {
            proxy.throttled.fetch_add(1, Ordering::SeqCst);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("content-type", "application/json"),
                    ("x-amzn-ErrorType", "TooManyRequestsException"),
                    ("Retry-After", "1"),
                ],
                THROTTLE_BODY,
            )
                .into_response();
        }
    }
    // Invoke is a POST; anything else is not ours to relay.
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "the proxy relays POST only").into_response();
    }
    let forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length" | "connection"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let url = format!("{}{}", proxy.upstream, uri);
    match proxy.poster.post(&url, &forwarded, body.to_vec()).await {
        Ok(answer) => (
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY),
            [("content-type", "application/json")],
            answer.body,
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    }
}

/// Start the proxy in front of `upstream`; returns its state and its URL.
async fn start_proxy(upstream: String) -> (Arc<Proxy>, String) {
    let proxy = Arc::new(Proxy {
        upstream,
        // Long enough for watch to start a function on its first invoke.
        poster: eventferry_http::Poster::new(Duration::from_secs(300), false).unwrap(),
        invokes: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(relay)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (proxy, url)
}

/// ApproximateNumberOfMessages + ...NotVisible of the queue at `url`.
async fn depth(config: &aws_config::SdkConfig, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attrs = aws_sdk_sqs::Client::new(config)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    attrs
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_invokes_are_retried_not_dead_lettered() {
    const EVENTS: usize = 30;
    let config = localstack().await;
    let queues = Queues::create(&["recorded"]).await;
    let queue = short_queue_name("eft", "thr");
    let source = format!("demo.{queue}");

    let watch = Watch::start(9436, &[("RECORDER_QUEUE_URL", queues.url("recorded"))]).await;
    let (proxy, proxy_url) = start_proxy(format!("http://127.0.0.1:{}", watch.port())).await;
    let metrics_addr = free_local_addr();

    let patterns = json!([{"source": [source]}]).to_string();
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &patterns,
            "--queue-name",
            &queue,
            "--sink",
            "lambda:recorder",
            "--duration",
            "1",
            "--dlq",
            "--max-receive-count",
            "2",
            "--metrics-addr",
            &metrics_addr,
            "--clean-up",
        ],
        &[("AWS_ENDPOINT_URL_LAMBDA", &proxy_url)],
    );
    driver
        .wait_stderr("receiving", Duration::from_secs(60))
        .await;

    let mut sent = BTreeSet::new();
    for i in 0..EVENTS {
        sent.insert(
            put_event(
                &config,
                "default",
                &source,
                "OrderPlaced",
                &json!({"order": i}).to_string(),
            )
            .await,
        );
    }

    // Every event reached the function exactly once (a throttled invoke never ran it).
    let recorded = queues.take("recorded", EVENTS).await;
    let ids: BTreeSet<String> = recorded
        .iter()
        .map(|e| e["id"].as_str().expect("a CloudEvent id").to_owned())
        .collect();
    assert_eq!(ids, sent, "each event recorded once");

    let throttled = proxy.throttled.load(Ordering::SeqCst);
    assert!(throttled > 0, "the proxy throttled nothing");
    // The recorder writes before it answers: the driver counts the last deliveries just after.
    let metrics = within(
        Duration::from_secs(30),
        "all deliveries in /metrics",
        async {
            loop {
                let text = http_get(&metrics_addr, "/metrics").await.1;
                if metric(&text, "eventferry_delivered_total") >= EVENTS as f64 {
                    return text;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        },
    )
    .await;
    assert_eq!(
        metric(&metrics, "eventferry_sink_throttles_total"),
        throttled as f64,
        "every 429 the proxy sent is a throttle in /metrics:\n{metrics}"
    );
    assert_eq!(
        metric(&metrics, "eventferry_delivery_failures_total"),
        0.0,
        "a throttle is not a failed delivery:\n{metrics}"
    );
    assert_eq!(
        metric(&metrics, "eventferry_delivered_total"),
        EVENTS as f64,
        "{metrics}"
    );
    let limit = metric(&metrics, "eventferry_sink_concurrency_limit");
    eprintln!(
        "throttle: {throttled} of {} invokes answered 429; sink limit now {limit}",
        proxy.invokes.load(Ordering::SeqCst)
    );
    assert!(
        (1.0..100.0).contains(&limit),
        "the throttles lowered the limit from --max-in-flight 100: {limit}\n{metrics}"
    );
    assert_eq!(
        proxy.invokes.load(Ordering::SeqCst),
        EVENTS as u64 + throttled,
        "one invoke per event, plus one retry per throttle"
    );

    // Nothing was dead-lettered, and the ingest queue is drained.
    let dlq = queue_url(&config, &format!("{queue}-dlq"))
        .await
        .expect("the DLQ exists");
    assert_eq!(depth(&config, &dlq).await, 0, "messages in the DLQ");
    let ingest = queue_url(&config, &queue).await.expect("the queue exists");
    within(
        Duration::from_secs(30),
        "the ingest queue to drain",
        async {
            while depth(&config, &ingest).await > 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        },
    )
    .await;

    driver.signal(SIGTERM);
    assert_eq!(
        driver.wait(Duration::from_secs(60)).await,
        Some(0),
        "{}",
        driver.stderr_text()
    );
    assert!(
        driver.stderr_text().contains("the sink throttles: at most"),
        "the driver says it lowered the limit:\n{}",
        driver.stderr_text()
    );
    assert_nothing_left(&config, &queue).await;
    drop(watch);
    queues.cleanup().await;
}
