//! The router handler in-process: Lambda, HTTP, the retry queue and the system-event sink are
//! fakes behind the ports; subscriptions and fixtures are the real files in `events/`.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cloudevents::{AttributesReader, Event};
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_aws::{AwsError, ErrorKind};
use eventferry_core::retry::RetryPolicy;
use eventferry_core::subscription::{Config, Format};
use eventferry_core::system;
use eventferry_router::config::Settings;
use eventferry_router::ports::{
    EmitError, HttpAnswer, HttpPoster, PostError, PostErrorKind, QueueWriter, ResponseReceiver,
    SinkNeeds, SystemSink,
};
use eventferry_router::{Handler, HandlerError, Ports};
use serde_json::{json, Value};

const RETRY_URL: &str = "http://queue.test/000000000000/router-retry";
const DLQ_URL: &str = "http://queue.test/000000000000/router-dlq";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Value {
    let path = repo().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn subscriptions() -> Config {
    let path = repo().join("events/subscriptions.yaml");
    Config::parse(
        &std::fs::read_to_string(&path).unwrap(),
        Format::Yaml,
        "events/subscriptions.yaml",
    )
    .unwrap()
}

/// Lambda: `recorder` succeeds, `flaky` fails when the event's `data.fail` is true (as the
/// example functions do), `gate` fails for events whose `data.event.data.blocked` is true,
/// `missing` does not exist, `slow` succeeds after a pause. Every call is recorded.
#[derive(Default)]
struct FakeLambda {
    calls: Mutex<Vec<(String, Value, InvocationMode)>>,
    /// The X-Ray header of every traced call (`invoke_traced`), in order.
    traces: Mutex<Vec<Option<String>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeLambda {
    fn calls(&self) -> Vec<(String, Value, InvocationMode)> {
        self.calls.lock().unwrap().clone()
    }

    /// (function, event id) of every call, in order.
    fn invoked(&self) -> Vec<(String, String)> {
        self.calls()
            .into_iter()
            .map(|(f, p, _)| (f, p["id"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    fn count(&self, function: &str) -> usize {
        self.calls()
            .iter()
            .filter(|(f, _, _)| f == function)
            .count()
    }
}

fn function_error(message: &str) -> InvokeOutcome {
    InvokeOutcome::FunctionError {
        status: 200,
        error: "Unhandled".into(),
        payload: json!({"errorType": "&str", "errorMessage": message})
            .to_string()
            .into_bytes(),
    }
}

impl Invoker for FakeLambda {
    async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        let value: Value = serde_json::from_slice(&payload).expect("the router sends JSON");
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), value.clone(), mode));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if function == "slow" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let ok = |v: Value| InvokeOutcome::Ok {
            status: if mode == InvocationMode::Async {
                202
            } else {
                200
            },
            payload: v.to_string().into_bytes(),
        };
        Ok(match function {
            "recorder" | "slow" | "audit" => ok(json!({"recorded": value["id"]})),
            "flaky" if value.pointer("/data/fail") == Some(&json!(true)) => {
                function_error("flaky: failing on purpose")
            }
            "flaky" => ok(json!({"ok": value["id"]})),
            "gate" if value.pointer("/data/event/data/blocked") == Some(&json!(true)) => {
                function_error("blocked: not allowed")
            }
            "gate" => ok(json!({"allowed": true})),
            "broken-plugin" => function_error("plugin crashed"),
            _ => {
                return Err(AwsError {
                    operation: "Invoke",
                    kind: ErrorKind::NotFound,
                    code: Some("ResourceNotFoundException".into()),
                    message: format!("Function not found: {function}"),
                })
            }
        })
    }

    async fn invoke_traced(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
        trace: Option<&str>,
    ) -> Result<InvokeOutcome, AwsError> {
        self.traces.lock().unwrap().push(trace.map(str::to_owned));
        self.invoke(function, payload, mode).await
    }
}

/// One recorded HTTP request: URL, headers, body.
type Request = (String, Vec<(String, String)>, Vec<u8>);

/// HTTP targets: answers `status` and records every request.
struct FakeHttp {
    status: u16,
    requests: Mutex<Vec<Request>>,
}

impl Default for FakeHttp {
    fn default() -> Self {
        FakeHttp {
            status: 200,
            requests: Mutex::new(Vec::new()),
        }
    }
}

impl HttpPoster for FakeHttp {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        self.requests
            .lock()
            .unwrap()
            .push((url.to_owned(), headers.to_vec(), body));
        if url.contains("unreachable") {
            return Err(PostError {
                url: url.to_owned(),
                kind: PostErrorKind::Connect,
                message: "connection refused".into(),
            });
        }
        Ok(HttpAnswer {
            status: self.status,
            body: b"{}".to_vec(),
        })
    }
}

/// Retry/dead-letter queue: records (url, body, delay); refuses everything when `broken`.
#[derive(Default)]
struct FakeQueue {
    broken: bool,
    sent: Mutex<Vec<(String, Value, u32)>>,
}

impl FakeQueue {
    fn take(&self) -> Vec<(String, Value, u32)> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

impl QueueWriter for FakeQueue {
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), AwsError> {
        if self.broken {
            return Err(AwsError {
                operation: "SendMessage",
                kind: ErrorKind::Transient,
                code: None,
                message: "service unavailable".into(),
            });
        }
        self.sent.lock().unwrap().push((
            queue_url.to_owned(),
            serde_json::from_str(&body).unwrap(),
            delay_secs,
        ));
        Ok(())
    }
}

/// Records what it is given: whole system events (the default) or, when it `needs` only
/// those, summaries.
struct FakeSink {
    needs: SinkNeeds,
    events: Mutex<Vec<Event>>,
    summaries: Mutex<Vec<system::Summary>>,
}

impl Default for FakeSink {
    fn default() -> Self {
        FakeSink::needing(SinkNeeds::Events)
    }
}

impl FakeSink {
    fn needing(needs: SinkNeeds) -> Self {
        FakeSink {
            needs,
            events: Mutex::default(),
            summaries: Mutex::default(),
        }
    }

    fn types(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.ty().to_owned())
            .collect()
    }

    fn of_type(&self, ty: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.ty() == ty)
            .map(eventferry_core::structured::to_structured_json)
            .collect()
    }
}

impl SystemSink for FakeSink {
    fn needs(&self) -> SinkNeeds {
        self.needs
    }

    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        assert_eq!(
            self.needs,
            SinkNeeds::Events,
            "whole events for a sink that needs them"
        );
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn emit_summaries(&self, summaries: &[system::Summary]) -> Result<(), EmitError> {
        assert_eq!(
            self.needs,
            SinkNeeds::Summaries,
            "summaries for a sink that needs them"
        );
        self.summaries.lock().unwrap().extend_from_slice(summaries);
        Ok(())
    }
}

/// Records every result it receives.
#[derive(Default, Clone)]
struct Receiver(std::sync::Arc<Mutex<Vec<(String, String)>>>);

impl ResponseReceiver for Receiver {
    fn receive(&self, event: &Event, result: &eventferry_core::invocation::InvocationResult) {
        self.0.lock().unwrap().push((
            event.id().to_owned(),
            format!("{}:{}", result.subscription, result.status.as_str()),
        ));
    }
}

type TestHandler = Handler<FakeLambda, FakeHttp, FakeQueue, FakeSink>;

fn handler_with(
    config: Config,
    settings: Settings,
    queue: FakeQueue,
    http: FakeHttp,
) -> (TestHandler, Receiver) {
    handler_with_sink(config, settings, queue, http, FakeSink::default())
}

fn handler_with_sink(
    config: Config,
    settings: Settings,
    queue: FakeQueue,
    http: FakeHttp,
    sink: FakeSink,
) -> (TestHandler, Receiver) {
    let receiver = Receiver::default();
    let ports = Ports {
        invoker: FakeLambda::default(),
        http,
        queue,
        sink,
    };
    (
        Handler::new(config, settings, ports, Box::new(receiver.clone())),
        receiver,
    )
}

fn handler(settings: Settings) -> TestHandler {
    handler_with(
        subscriptions(),
        settings,
        FakeQueue::default(),
        FakeHttp::default(),
    )
    .0
}

fn with_retry_queue() -> Settings {
    Settings {
        retry_queue_url: Some(RETRY_URL.into()),
        dlq_url: Some(DLQ_URL.into()),
        retry: RetryPolicy {
            retry_queue: true,
            dead_letter_queue: true,
            max_attempts: 3,
            base_delay_secs: 5,
            max_delay_secs: 900,
        },
        ..Settings::default()
    }
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("an SqsBatchResponse")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn http_status(response: &Value) -> (u64, Value) {
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (response["statusCode"].as_u64().unwrap(), body)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every `events/router-*` fixture, with what the router must do with it (no retry queue).
#[tokio::test]
async fn every_fixture_in_events() {
    let mut fixtures: Vec<String> = std::fs::read_dir(repo().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("router-"))
        .collect();
    fixtures.sort();
    let checked = [
        "router-cloudevent-big.json",
        "router-cloudevent-failing.json",
        "router-cloudevent.json",
        "router-eventbridge.json",
        "router-http-binary.json",
        "router-http-malformed.json",
        "router-http-structured.json",
        "router-retry.json",
        "router-sqs-batch.json",
        "router-sqs-retry.json",
    ];
    assert_eq!(
        fixtures, checked,
        "every router fixture needs its expectations here"
    );

    for name in checked {
        let h = handler(Settings::default());
        let outcome = h.handle(fixture(name), "req").await;
        let lambda = &h.ports().invoker;
        match name {
            "router-sqs-batch.json" => {
                let response = outcome.unwrap();
                // m4: its only subscriber failed, so SQS may redeliver it. m3: recorder
                // succeeded, so flaky's failure is not retried by redelivery.
                assert_eq!(failures(&response), ["m4-payment-fail"], "{name}");
                let mut invoked = lambda.invoked();
                invoked.sort();
                assert_eq!(
                    invoked,
                    [
                        ("flaky".into(), "order-1".into()),
                        ("flaky".into(), "order-2".into()),
                        ("flaky".into(), "payment-3".into()),
                        (
                            "recorder".into(),
                            "17793124-05d4-b198-2fde-7ededc63b103".into()
                        ),
                        ("recorder".into(), "order-1".into()),
                        ("recorder".into(), "order-2".into()),
                    ],
                    "{name}"
                );
                // The EventBridge envelope arrived as the mapped CloudEvent.
                let s3 = lambda
                    .calls()
                    .into_iter()
                    .find(|(_, p, _)| p["type"] == "aws.s3")
                    .unwrap()
                    .1;
                assert_eq!(
                    s3["source"],
                    "arn:aws:events:us-east-1:000000000000:event-bus/default"
                );
                assert_eq!(s3["awsdetailtype"], "Object Created");
                assert_eq!(s3["data"]["detail"]["object"]["key"], "report.csv");
                let failed = h.ports().sink.of_type(system::FUNCTION_INVOCATION_FAILED);
                assert_eq!(failed.len(), 2);
                let m3 = failed
                    .iter()
                    .find(|e| e["data"]["event"]["id"] == "order-2")
                    .unwrap();
                assert!(
                    m3["data"]["retry"]
                        .as_str()
                        .unwrap()
                        .starts_with("dropped: no retry queue"),
                    "{m3}"
                );
                let m4 = failed
                    .iter()
                    .find(|e| e["data"]["event"]["id"] == "payment-3")
                    .unwrap();
                assert_eq!(m4["data"]["retry"], "redelivered by the input");
                assert_eq!(h.ports().sink.of_type(system::EVENT_RECEIVED).len(), 5);
            }
            "router-eventbridge.json" => {
                let response = outcome.unwrap();
                assert_eq!(response["input"], "eventbridge");
                assert_eq!(response["matched"], json!(["record-s3-uploads"]));
                assert_eq!(response["results"][0]["status"], "succeeded");
                assert_eq!(
                    lambda.invoked(),
                    [(
                        "recorder".into(),
                        "17793124-05d4-b198-2fde-7ededc63b103".into()
                    )]
                );
            }
            "router-cloudevent.json" => {
                let response = outcome.unwrap();
                assert_eq!(
                    response["matched"],
                    json!(["record-orders", "flaky-orders"])
                );
                assert_eq!(response["disposition"], "ack");
                assert_eq!(lambda.count("recorder"), 1);
                assert_eq!(lambda.count("flaky"), 1);
                // The payload is the structured CloudEvent, unchanged.
                assert_eq!(lambda.calls()[0].1, fixture(name));
            }
            "router-cloudevent-big.json" => {
                // The patterned subscription matches on data.total.
                let response = outcome.unwrap();
                assert_eq!(
                    response["matched"],
                    json!(["record-orders", "flaky-orders", "record-big-orders"])
                );
                assert_eq!(lambda.count("recorder"), 2);
            }
            "router-cloudevent-failing.json" => {
                let err = outcome.unwrap_err();
                assert!(matches!(err, HandlerError::Redeliver { .. }), "{err}");
                assert_eq!(
                    err.to_string(),
                    "event com.example.payment.failed /shop/orders#payment-3 must be delivered again: \
                     no subscriber succeeded (flaky-payments: Unhandled: &str: flaky: failing on purpose)"
                );
            }
            "router-http-binary.json" => {
                let (status, body) = http_status(&outcome.unwrap());
                assert_eq!(status, 202, "{body}");
                assert_eq!(body["matched"], json!(["record-orders"]));
                let payload = &lambda.calls()[0].1;
                assert_eq!(payload["id"], "order-4");
                assert_eq!(payload["tenant"], "acme");
                assert_eq!(payload["data"], json!({"order": 4, "status": "paid"}));
            }
            "router-http-structured.json" => {
                let (status, body) = http_status(&outcome.unwrap());
                assert_eq!(status, 202, "{body}");
                assert_eq!(body["event"]["id"], "order-5");
                assert_eq!(body["input"], "http");
                assert_eq!(lambda.count("recorder") + lambda.count("flaky"), 2);
            }
            "router-http-malformed.json" => {
                let (status, body) = http_status(&outcome.unwrap());
                assert_eq!(status, 400);
                assert!(
                    body["error"]
                        .as_str()
                        .unwrap()
                        .contains("missing required attribute \"type\""),
                    "{body}"
                );
                assert!(lambda.calls().is_empty());
            }
            "router-retry.json" => {
                let response = outcome.unwrap();
                assert_eq!(response["input"], "retry");
                assert_eq!(response["matched"], json!(["flaky-orders"]));
                assert_eq!(response["results"][0]["attempt"], 2);
                // Only the subscription named in the retry message: never record-orders.
                assert_eq!(lambda.invoked(), [("flaky".into(), "order-7".into())]);
                assert!(h.ports().sink.of_type(system::EVENT_RECEIVED).is_empty());
            }
            "router-sqs-retry.json" => {
                let response = outcome.unwrap();
                assert_eq!(failures(&response), ["m6-retry"]);
                assert_eq!(lambda.invoked(), [("flaky".into(), "order-8".into())]);
            }
            other => unreachable!("{other}"),
        }
    }
}

/// With a retry queue, each failed (event, subscription) pair gets its own retry message; a
/// retry invokes that subscriber only; after `max_attempts` the pair is dead-lettered.
#[tokio::test]
async fn retries_never_reinvoke_successes() {
    let h = handler(with_retry_queue());
    let response = h
        .handle(fixture("router-sqs-batch.json"), "req-1")
        .await
        .unwrap();
    assert_eq!(
        failures(&response),
        Vec::<String>::new(),
        "failures go to the retry queue instead"
    );
    let lambda = &h.ports().invoker;
    assert_eq!(lambda.count("recorder"), 3);
    assert_eq!(lambda.count("flaky"), 3);

    let mut round = h.ports().queue.take();
    round.sort_by_key(|(_, m, _)| m["event"]["id"].as_str().unwrap().to_owned());
    assert_eq!(round.len(), 2);
    for ((url, message, delay), (sub, id)) in round
        .iter()
        .zip([("flaky-orders", "order-2"), ("flaky-payments", "payment-3")])
    {
        assert_eq!(url, RETRY_URL);
        assert_eq!(*delay, 5);
        assert_eq!(message["eventferry_retry"]["subscription"], sub);
        assert_eq!(message["eventferry_retry"]["attempt"], 2);
        assert!(message["eventferry_retry"]["error"]
            .as_str()
            .unwrap()
            .contains("failing on purpose"));
        assert_eq!(message["event"]["id"], id);
    }

    // Attempts 2 and 3: the retry messages come back through SQS; only flaky runs.
    for (attempt, queue) in [(2, RETRY_URL), (3, DLQ_URL)] {
        let records: Vec<Value> = round
            .iter()
            .enumerate()
            .map(|(i, (_, m, _))| {
                json!({"messageId": format!("retry-{attempt}-{i}"), "body": m.to_string(), "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:router-retry",
                       "attributes": {"ApproximateReceiveCount": "1"}})
            })
            .collect();
        let before_recorder = lambda.count("recorder");
        let response = h
            .handle(json!({"Records": records}), "req-retry")
            .await
            .unwrap();
        assert!(failures(&response).is_empty());
        assert_eq!(
            lambda.count("recorder"),
            before_recorder,
            "a retry never re-invokes a success"
        );
        round = h.ports().queue.take();
        assert_eq!(round.len(), 2, "attempt {attempt}");
        for (url, message, _) in &round {
            assert_eq!(url, queue, "attempt {attempt}");
            let expected = if queue == DLQ_URL {
                3
            } else {
                3.min(attempt + 1)
            };
            assert_eq!(message["eventferry_retry"]["attempt"], expected);
        }
    }
    assert_eq!(lambda.count("flaky"), 3 + 2 + 2);
    let failed = h.ports().sink.of_type(system::FUNCTION_INVOCATION_FAILED);
    assert!(failed
        .iter()
        .any(|e| e["data"]["retry"] == "dead-lettered: attempts used up"));
}

/// A retry queue that refuses writes: redeliver only what no subscriber handled.
#[tokio::test]
async fn a_failed_retry_write_never_redelivers_a_success() {
    let (h, _) = handler_with(
        subscriptions(),
        with_retry_queue(),
        FakeQueue {
            broken: true,
            ..FakeQueue::default()
        },
        FakeHttp::default(),
    );
    let response = h
        .handle(fixture("router-sqs-batch.json"), "req")
        .await
        .unwrap();
    assert_eq!(failures(&response), ["m4-payment-fail"]);
    let failed = h.ports().sink.of_type(system::FUNCTION_INVOCATION_FAILED);
    let m3 = failed
        .iter()
        .find(|e| e["data"]["event"]["id"] == "order-2")
        .unwrap();
    assert!(
        m3["data"]["retry"]
            .as_str()
            .unwrap()
            .contains("could not write the retry message"),
        "{m3}"
    );
}

#[tokio::test]
async fn every_result_is_recorded_and_announced() {
    let (h, receiver) = handler_with(
        subscriptions(),
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
    );
    let created = json!({"specversion": "1.0", "id": "o9", "source": "/shop", "type": "com.example.order.created",
                         "data": {"fail": true}});
    h.handle(
        json!({"Records": [{"messageId": "m", "body": created.to_string(), "eventSource": "aws:sqs",
                                   "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q"}]}),
        "req-7",
    )
    .await
    .unwrap();
    let mut received = receiver.0.lock().unwrap().clone();
    received.sort();
    assert_eq!(
        received,
        [
            ("o9".into(), "flaky-orders:failed".into()),
            ("o9".into(), "record-orders:succeeded".into())
        ]
    );
    let sink = &h.ports().sink;
    let mut types = sink.types();
    types.sort();
    assert_eq!(
        types,
        [
            system::EVENT_RECEIVED,
            system::FUNCTION_INVOCATION_FAILED,
            system::FUNCTION_INVOKED,
            system::FUNCTION_INVOKING,
            system::FUNCTION_INVOKING,
        ]
    );
    let received = &sink.of_type(system::EVENT_RECEIVED)[0];
    assert_eq!(received["data"]["source"], "sqs");
    assert_eq!(received["data"]["event"]["id"], "o9");
    assert!(received["id"].as_str().unwrap().starts_with("req-7-"));
    let invoked = &sink.of_type(system::FUNCTION_INVOKED)[0];
    assert_eq!(invoked["data"]["subscription"], "record-orders");
    assert_eq!(invoked["data"]["function"], "recorder");
    assert_eq!(invoked["data"]["result"]["status"], "succeeded");
    assert_eq!(
        invoked["data"]["result"]["response"],
        json!({"recorded": "o9"})
    );
    assert!(invoked["data"]["duration_ms"].is_u64());
    let failed = &sink.of_type(system::FUNCTION_INVOCATION_FAILED)[0];
    assert_eq!(
        failed["data"]["error"],
        "Unhandled: &str: flaky: failing on purpose"
    );
    assert_eq!(failed["data"]["result"]["status"], "failed");
    // Event ids of system events are unique.
    let events = sink.events.lock().unwrap();
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id()).collect();
    assert_eq!(ids.len(), events.len());
}

const PLUGINS: &str = r#"
subscriptions:
  - {name: record, types: [com.example.order.created], function: recorder}
plugins:
  - {name: gatekeeper, types: [eventferry.event.received], function: gate, mode: sync}
  - {name: audit, types: [eventferry.function.invoked, eventferry.function.invocationFailed], function: audit, mode: async}
  - {name: crashy, types: [eventferry.event.received], function: broken-plugin, mode: async}
  - {name: hook, types: [eventferry.event.blocked], http: "http://hooks.test/blocked", headers: {X-Token: secret-value}}
"#;

fn order(id: &str, blocked: bool) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/shop", "type": "com.example.order.created", "data": {"blocked": blocked}})
}

#[tokio::test]
async fn a_failing_sync_plugin_blocks_and_async_plugins_never_do() {
    let config = Config::parse(PLUGINS, Format::Yaml, "plugins").unwrap();
    let (h, _) = handler_with(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
    );

    // Allowed: delivered, although the async plugin `crashy` fails.
    let response = h.handle(order("ok-1", false), "r1").await.unwrap();
    assert_eq!(response["matched"], json!(["record"]));
    let plugins: BTreeMap<String, String> = response["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["subscription"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(plugins["gatekeeper"], "succeeded");
    assert_eq!(plugins["crashy"], "failed");
    assert_eq!(plugins["audit"], "accepted");
    let lambda = &h.ports().invoker;
    let audit = lambda
        .calls()
        .into_iter()
        .find(|(f, _, _)| f == "audit")
        .unwrap();
    assert_eq!(audit.2, InvocationMode::Async);
    assert_eq!(audit.1["type"], system::FUNCTION_INVOKED);
    assert_eq!(audit.1["data"]["event"]["id"], "ok-1");

    // Blocked: not delivered; a system event says why, and its plugin hears of it.
    let response = h.handle(order("no-2", true), "r2").await.unwrap();
    assert_eq!(
        response["blocked"],
        json!({"plugin": "gatekeeper", "error": "Unhandled: &str: blocked: not allowed"})
    );
    assert_eq!(response["matched"], json!([]));
    assert!(!lambda
        .invoked()
        .contains(&("recorder".into(), "no-2".into())));
    let blocked = h.ports().sink.of_type(system::EVENT_BLOCKED);
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["data"]["plugin"], "gatekeeper");
    assert_eq!(blocked[0]["data"]["event"]["id"], "no-2");
    let requests = h.ports().http.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (url, headers, _) = &requests[0];
    assert_eq!(url, "http://hooks.test/blocked");
    assert!(headers.contains(&("ce-type".into(), system::EVENT_BLOCKED.into())));
    assert!(headers.contains(&("X-Token".into(), "secret-value".into())));
}

#[tokio::test]
async fn an_unreachable_sync_plugin_redelivers_and_delivers_nothing() {
    let config = Config::parse(
        "subscriptions: [{name: record, types: [t], function: recorder}]\nplugins: [{name: gate, types: [eventferry.event.received], function: missing}]",
        Format::Yaml,
        "x",
    )
    .unwrap();
    let (h, _) = handler_with(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
    );
    let err = h
        .handle(
            json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t"}),
            "r",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a sync plugin on eventferry.event.received could not be reached"),
        "{err}"
    );
    assert_eq!(h.ports().invoker.count("recorder"), 0);
}

#[tokio::test]
async fn http_targets_get_binary_mode_and_their_headers() {
    let config = Config::parse(
        r#"
- {name: binary, types: [t], http: "http://hooks.test/binary", headers: {Authorization: Bearer abc}}
- {name: structured, types: [t], http: "http://hooks.test/structured", content_type: application/cloudevents+json}
- {name: down, types: [t], http: "http://unreachable.test/x"}
"#,
        Format::Yaml,
        "x",
    )
    .unwrap();
    let (h, _) = handler_with(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp {
            status: 204,
            ..FakeHttp::default()
        },
    );
    let response = h
        .handle(json!({"specversion": "1.0", "id": "h1", "source": "/s", "type": "t", "subject": "a b", "data": {"x": 1}}), "r")
        .await
        .unwrap();
    let status: BTreeMap<String, String> = response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["subscription"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(status["binary"], "succeeded");
    assert_eq!(status["structured"], "succeeded");
    assert_eq!(status["down"], "failed");
    let requests = h.ports().http.requests.lock().unwrap().clone();
    let binary = requests.iter().find(|r| r.0.ends_with("/binary")).unwrap();
    for header in pairs(&[
        ("ce-id", "h1"),
        ("ce-type", "t"),
        ("ce-subject", "a%20b"),
        ("content-type", "application/json"),
        ("Authorization", "Bearer abc"),
    ]) {
        assert!(binary.1.contains(&header), "{header:?} in {:?}", binary.1);
    }
    assert_eq!(binary.2, br#"{"x":1}"#);
    let structured = requests
        .iter()
        .find(|r| r.0.ends_with("/structured"))
        .unwrap();
    assert!(structured
        .1
        .contains(&("content-type".into(), "application/cloudevents+json".into())));
    let body: Value = serde_json::from_slice(&structured.2).unwrap();
    assert_eq!(body["id"], "h1");
}

#[tokio::test]
async fn invocations_stay_within_the_concurrency_bound() {
    let subs: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("s{i}"), "types": ["t"], "function": "slow"}))
        .collect();
    let config = Config::from_value(&Value::Array(subs), "x").unwrap();
    let settings = Settings {
        max_concurrency: 2,
        ..Settings::default()
    };
    let (h, _) = handler_with(config, settings, FakeQueue::default(), FakeHttp::default());
    let response = h
        .handle(
            json!({"specversion": "1.0", "id": "c", "source": "s", "type": "t"}),
            "r",
        )
        .await
        .unwrap();
    assert_eq!(response["results"].as_array().unwrap().len(), 6);
    let lambda = &h.ports().invoker;
    assert_eq!(lambda.count("slow"), 6);
    assert_eq!(
        lambda.max_in_flight.load(Ordering::SeqCst),
        2,
        "concurrent, and never more than the bound"
    );
}

#[tokio::test]
async fn http_input_refusals() {
    let h = handler(Settings::default());
    let big = "x".repeat(256 * 1024 + 1);
    let request = |headers: Value, body: &str| json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "headers": headers, "body": body, "isBase64Encoded": false});
    let (status, body) = http_status(
        &h.handle(
            request(
                json!({"content-type": "application/cloudevents+json"}),
                &big,
            ),
            "r",
        )
        .await
        .unwrap(),
    );
    assert_eq!(status, 413);
    assert!(body["error"].as_str().unwrap().contains("262144"));
    let (status, body) = http_status(
        &h.handle(request(json!({"content-type": "text/plain"}), "hi"), "r")
            .await
            .unwrap(),
    );
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("not a CloudEvent"));
    // All subscribers failed: 502, so the client sends it again.
    let failing = json!({"specversion": "1.0", "id": "p", "source": "s", "type": "com.example.payment.failed", "data": {"fail": true}});
    let (status, body) = http_status(
        &h.handle(
            request(
                json!({"content-type": "application/cloudevents+json"}),
                &failing.to_string(),
            ),
            "r",
        )
        .await
        .unwrap(),
    );
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["results"][0]["status"], "failed");
}

#[tokio::test]
async fn unrecognised_and_invalid_payloads_are_errors() {
    let h = handler(Settings::default());
    let err = h
        .handle(json!({"hello": "world"}), "r")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("unrecognised input (top level: hello)"),
        "{err}"
    );
    let err = h
        .handle(
            json!({"specversion": "1.0", "id": "", "source": "s", "type": "t"}),
            "r",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("attribute \"id\" must be a non-empty string"),
        "{err}"
    );
    let err = h
        .handle(
            json!({"eventferry_retry": {"subscription": "x", "attempt": "two"}, "event": {}}),
            "r",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`attempt` must be a positive integer"),
        "{err}"
    );
    // A retry for a subscription that is gone is dropped, not retried forever.
    let gone = json!({"eventferry_retry": {"subscription": "gone", "attempt": 2},
                      "event": {"specversion": "1.0", "id": "1", "source": "s", "type": "t"}});
    assert_eq!(h.handle(gone, "r").await.unwrap(), json!({"dropped": true}));
    assert!(h.ports().invoker.calls().is_empty());
}

/// A bad subscription fails the init, naming the subscription and the field.
#[test]
fn the_binary_refuses_a_bad_subscription_at_init() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_router"))
        .env("EVENTFERRY_SUBSCRIPTIONS", r#"[{"name":"orders","types":["t"],"function":"f","filters":[{"exact":{"Type":"x"}}]}]"#)
        .env_remove("EVENTFERRY_SUBSCRIPTIONS_FILE")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = r#"subscription \"orders\" (subscriptions[0]), field \"filters[0].exact\": attribute name \"Type\" is not a CloudEvents attribute name"#;
    assert!(
        stdout.contains(expected) || stderr.contains(expected),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

/// The documented examples and the pipeline's subscriptions are valid.
#[test]
fn the_subscription_files_in_events_are_valid() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("subscriptions") {
            let text = std::fs::read_to_string(&path).unwrap();
            Config::parse(&text, Format::from_path(&name), &name).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(seen >= 1);
}

/// The trace of an SQS record (its `AWSTraceHeader`) continues to the function and HTTP targets,
/// and the system events carry it.
#[tokio::test]
async fn the_trace_continues_to_targets_and_system_events() {
    let config = Config::parse(
        r#"
- {name: fn, types: [t], function: recorder}
- {name: web, types: [t], http: "http://hooks.test/web"}
"#,
        Format::Yaml,
        "x",
    )
    .unwrap();
    let (h, _) = handler_with(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
    );
    let body = json!({"specversion": "1.0", "id": "t1", "source": "/s", "type": "t", "data": {}});
    h.handle(
        json!({"Records": [{"messageId": "m", "body": body.to_string(), "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "attributes": {"ApproximateReceiveCount": "1",
                    "AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}]}),
        "req-t",
    )
    .await
    .unwrap();
    const W3C: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
    let calls = h.ports().invoker.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1["traceparent"], W3C);
    // The invoke carries it as X-Amzn-Trace-Id too, in X-Ray form, so that X-Ray joins the
    // subscriber to the trace.
    assert_eq!(
        *h.ports().invoker.traces.lock().unwrap(),
        [Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()
        )]
    );
    let requests = h.ports().http.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].1.contains(&("traceparent".into(), W3C.into())));
    assert!(requests[0]
        .1
        .contains(&("ce-traceparent".into(), W3C.into())));
    let events = h.ports().sink.events.lock().unwrap().clone();
    assert!(
        events.len() >= 3,
        "received, invoking and invoked: {events:?}"
    );
    for event in &events {
        let json = eventferry_core::structured::to_structured_json(event);
        assert_eq!(json["traceparent"], W3C, "{json}");
    }
}

/// With a sink that takes summaries (the compact log sink), the sink gets one summary per
/// system event but `invoking`, in order, with the ids and outcomes but no payload; a plugin
/// still gets the whole system event of its type, with the same id as its summary.
#[tokio::test]
async fn a_summary_sink_gets_summaries_and_plugins_still_get_whole_events() {
    let config = Config::parse(
        r#"
subscriptions:
  - {name: record, types: [com.example.order.created], function: recorder}
  - {name: flaky, types: [com.example.order.created], function: flaky}
plugins:
  - {name: audit, types: [eventferry.function.invocationFailed], function: audit, mode: async}
"#,
        Format::Yaml,
        "x",
    )
    .unwrap();
    let (h, _) = handler_with_sink(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
        FakeSink::needing(SinkNeeds::Summaries),
    );
    let event = json!({"specversion": "1.0", "id": "s1", "source": "/shop",
        "type": "com.example.order.created", "data": {"fail": true, "secret": "payload"}});
    h.handle(event, "req-s").await.unwrap();
    let sink = &h.ports().sink;
    assert!(sink.events.lock().unwrap().is_empty());
    let summaries = sink.summaries.lock().unwrap().clone();
    let mut types: Vec<&str> = summaries.iter().map(|s| s.ty).collect();
    types.sort();
    // `invoking` has no summary: its outcome's says the same, and is emitted with it.
    assert_eq!(
        types,
        [
            system::EVENT_RECEIVED,
            system::FUNCTION_INVOCATION_FAILED,
            system::FUNCTION_INVOKED,
        ]
    );
    assert_eq!(summaries[0].ty, system::EVENT_RECEIVED);
    let ids: std::collections::HashSet<String> = summaries.iter().map(|s| s.id()).collect();
    assert_eq!(ids.len(), summaries.len());
    for s in &summaries {
        assert!(s.id().starts_with("req-s-"), "{s:?}");
        assert_eq!(&*s.subject, "/shop#s1");
        let line = s.to_json().to_string();
        assert!(!line.contains("payload"), "no payload in {line}");
    }
    let failed = summaries
        .iter()
        .find(|s| s.ty == system::FUNCTION_INVOCATION_FAILED)
        .unwrap();
    assert_eq!(failed.subscription.as_deref(), Some("flaky"));
    assert_eq!(failed.target.as_deref(), Some("flaky"));
    assert_eq!(failed.status.map(|s| s.as_str()), Some("failed"));
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("failing on purpose"));
    assert!(failed.duration_ms.is_some());
    // The plugin got the whole system event, the event and its data included.
    let audit: Vec<Value> = h
        .ports()
        .invoker
        .calls()
        .into_iter()
        .filter(|(f, _, _)| f == "audit")
        .map(|(_, payload, _)| payload)
        .collect();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["type"], system::FUNCTION_INVOCATION_FAILED);
    assert_eq!(audit[0]["id"], failed.id());
    assert_eq!(audit[0]["data"]["event"]["data"]["secret"], "payload");
}

/// With no consumer (the sink off, no plugins) nothing reaches the sink, and delivery is the
/// same; a sync plugin on `eventferry.event.received` still gates events.
#[tokio::test]
async fn without_a_consumer_nothing_is_emitted_and_plugins_still_work() {
    let (h, _) = handler_with_sink(
        subscriptions(),
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
        FakeSink::needing(SinkNeeds::Nothing),
    );
    let created = json!({"specversion": "1.0", "id": "n1", "source": "/shop",
        "type": "com.example.order.created", "data": {}});
    let response = h.handle(created, "req-n").await.unwrap();
    assert!(!response["matched"].as_array().unwrap().is_empty());
    assert!(h.ports().sink.events.lock().unwrap().is_empty());
    assert!(h.ports().sink.summaries.lock().unwrap().is_empty());

    let config = Config::parse(PLUGINS, Format::Yaml, "plugins").unwrap();
    let (h, _) = handler_with_sink(
        config,
        Settings::default(),
        FakeQueue::default(),
        FakeHttp::default(),
        FakeSink::needing(SinkNeeds::Nothing),
    );
    let response = h.handle(order("no-3", true), "r3").await.unwrap();
    assert_eq!(response["blocked"]["plugin"], "gatekeeper");
    let requests = h.ports().http.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "the blocked hook was called");
    assert!(h.ports().sink.events.lock().unwrap().is_empty());
}
