//! Reliability and security of `eventferry drive` against a real LocalStack: hostile message bodies
//! (delivered or dead-lettered, never a panic or a stall), secrets kept out of debug and trace
//! logs, locked-down driver-provisioned queues, missing credentials, and a stable smoke run of the
//! message -> CloudEvent conversion over arbitrary bytes (the cargo-fuzz target lives in
//! crates/core/fuzz).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventferry_core::mapping::{from_sqs_message, MappingOptions, SqsMessage};
use eventferry_core::structured::to_structured_json;
use eventferry_tests::{
    assert_nothing_left, eventferry_bin, localstack, put_event, queues_with_prefix,
    rules_with_prefix, wait_for, Proc, RecordingHttpServer, SIGTERM,
};
use serde_json::Value;

const READY: &str = "receiving";
const START: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(60);
const SQS_MESSAGE_TYPE: &str = "com.amazon.sqs.message";

fn queue_name(tag: &str) -> String {
    eventferry_tests::short_queue_name("efr", tag)
}

async fn stop(driver: &mut Proc) -> Option<i32> {
    driver.signal(SIGTERM);
    driver.wait(STOP).await
}

// ---------------------------------------------------------------------------------------------
// Hostile message bodies

/// One accepted or rejected request at the body-judging sink.
#[derive(Debug, Clone)]
struct Seen {
    ce_id: String,
    ce_type: String,
    body: Vec<u8>,
    accepted: bool,
}

/// An HTTP sink that answers 400 to bodies `reject` picks and 200 to the rest.
async fn judging_sink(reject: fn(&[u8]) -> bool) -> (String, Arc<Mutex<Vec<Seen>>>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Default::default();
    let log = seen.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default()
            };
            let accepted = !reject(&body);
            log.lock().unwrap().push(Seen {
                ce_id: header("ce-id"),
                ce_type: header("ce-type"),
                body: body.to_vec(),
                accepted,
            });
            if accepted {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            }
        }
    };
    let app = axum::Router::new()
        .route("/events", axum::routing::post(handler))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

const DEEP: usize = 10_000;

fn deep_nested() -> String {
    format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP))
}

/// The sink rejects the deeply nested body and the lone-surrogate one: those must be dead-lettered.
fn rejects(body: &[u8]) -> bool {
    body.starts_with(b"[[[[[[[[") || body.windows(6).any(|w| w == b"\\ud800")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Delivered,
    DeadLettered,
}

fn hostile_bodies() -> Vec<(&'static str, String, Where)> {
    // SQS's maximum message size is 262,144 bytes, attributes included: stay just under it.
    let big = format!(r#"{{"big":"{}"}}"#, "x".repeat(262_144 - 200));
    vec![
        (
            "non-JSON",
            "this is { not JSON at all ]".to_owned(),
            Where::Delivered,
        ),
        ("256 KiB JSON", big, Where::Delivered),
        ("JSON nested 10,000 deep", deep_nested(), Where::DeadLettered),
        (
            "EventBridge-looking, wrong field types",
            r#"{"version":0,"id":123,"detail-type":["OrderPlaced"],"source":5,"account":true,"time":"yesterday","region":{},"resources":"none","detail":"a string"}"#.to_owned(),
            Where::Delivered,
        ),
        (
            "CloudEvent missing id and source",
            r#"{"specversion":"1.0","type":"com.example.x","data":{"a":1}}"#.to_owned(),
            Where::Delivered,
        ),
        (
            "CloudEvent with wrong specversion and types",
            r#"{"specversion":2,"id":[],"source":null,"type":7}"#.to_owned(),
            Where::Delivered,
        ),
        (
            "odd Unicode text",
            "\u{FEFF}\u{202E}gnp.exe \u{200D}\u{1F469}\u{200D}\u{1F4BB} Z\u{0351}\u{0358}\u{0362} \u{FFFD}\u{10FFFF} \u{E000}\t\r\n end".to_owned(),
            Where::Delivered,
        ),
        (
            "JSON with a lone surrogate escape",
            r#"{"s":"\ud800 lone"}"#.to_owned(),
            Where::DeadLettered,
        ),
    ]
}

#[tokio::test]
async fn hostile_bodies_are_delivered_or_dead_lettered() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = queue_name("hostile");
    let (sink_url, seen) = judging_sink(rejects).await;
    let pattern = format!(r#"[{{"source":["never.{queue}"]}}]"#);
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &pattern,
            "--queue-name",
            &queue,
            "--sink",
            &sink_url,
            "--duration",
            "1",
            "--dlq",
            "--max-receive-count",
            "2",
            "--visibility-timeout",
            "5",
            "--clean-up",
        ],
        &[],
    );
    driver.wait_stderr(READY, START).await;
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&queue)
        .send()
        .await
        .expect("queue url")
        .queue_url
        .expect("url");
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(format!("{queue}-dlq"))
        .send()
        .await
        .expect("dlq url")
        .queue_url
        .expect("url");

    let table = hostile_bodies();
    let mut ids: Vec<String> = Vec::new();
    for (name, body, _) in &table {
        let out = sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendMessage {name} ({} bytes): {e:?}", body.len()));
        ids.push(out.message_id.expect("message id"));
    }

    // Wait until every delivered row reached the sink and every rejected row is in the DLQ.
    let mut in_dlq: HashMap<String, String> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from DLQ");
        for m in out.messages() {
            in_dlq.insert(
                m.message_id().unwrap_or_default().to_owned(),
                m.body().unwrap_or_default().to_owned(),
            );
            sqs.delete_message()
                .queue_url(&dlq_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete from DLQ");
        }
        let accepted: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.accepted)
            .map(|s| s.ce_id.clone())
            .collect();
        let done = table.iter().zip(&ids).all(|((_, _, want), id)| match want {
            Where::Delivered => accepted.contains(id),
            Where::DeadLettered => in_dlq.contains_key(id),
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every hostile body arrived within 90 s; DLQ has {:?}; sink saw {:?}; stderr:\n{}",
            in_dlq.keys().collect::<Vec<_>>(),
            seen.lock()
                .unwrap()
                .iter()
                .map(|s| (&s.ce_id, s.accepted))
                .collect::<Vec<_>>(),
            driver.stderr_text()
        );
    }

    // Assert where each row went, and that it went nowhere else.
    let rows = seen.lock().unwrap().clone();
    for ((name, body, want), id) in table.iter().zip(&ids) {
        let at_sink: Vec<&Seen> = rows.iter().filter(|s| &s.ce_id == id).collect();
        match want {
            Where::Delivered => {
                let s = at_sink
                    .iter()
                    .find(|s| s.accepted)
                    .unwrap_or_else(|| panic!("{name}: not delivered"));
                assert_eq!(s.ce_type, SQS_MESSAGE_TYPE, "{name}: CloudEvent type");
                match serde_json::from_str::<Value>(body) {
                    Ok(v) => assert_eq!(
                        serde_json::from_slice::<Value>(&s.body).expect("JSON data stays JSON"),
                        v,
                        "{name}: data"
                    ),
                    Err(_) => assert_eq!(s.body, body.as_bytes(), "{name}: text data unchanged"),
                }
                assert!(
                    !in_dlq.contains_key(id),
                    "{name}: delivered AND dead-lettered"
                );
                eprintln!("row {name:?}: delivered as {SQS_MESSAGE_TYPE}");
            }
            Where::DeadLettered => {
                assert_eq!(
                    in_dlq.get(id).map(String::as_str),
                    Some(body.as_str()),
                    "{name}: the DLQ holds the original body"
                );
                assert!(
                    at_sink.iter().all(|s| !s.accepted),
                    "{name}: never accepted by the sink"
                );
                assert!(
                    at_sink.len() >= 2,
                    "{name}: the sink saw it maxReceiveCount (2) times, saw {}",
                    at_sink.len()
                );
                assert!(at_sink.iter().all(|s| s.ce_type == SQS_MESSAGE_TYPE));
                eprintln!(
                    "row {name:?}: rejected {} times by the sink, then in {queue}-dlq",
                    at_sink.len()
                );
            }
        }
    }

    // Not stalled: an ordinary message after the hostile ones still goes through.
    let after = sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(r#"{"after":"hostile"}"#)
        .send()
        .await
        .expect("SendMessage")
        .message_id
        .expect("id");
    wait_for(
        Duration::from_secs(30),
        "a normal message after the hostile ones",
        || {
            seen.lock()
                .unwrap()
                .iter()
                .find(|s| s.accepted && s.ce_id == after)
                .map(|_| ())
        },
    )
    .await;
    let text = driver.stderr_text();
    assert!(!text.contains("panicked"), "driver panicked:\n{text}");
    assert_eq!(stop(&mut driver).await, Some(0), "clean exit after SIGTERM");
    assert_nothing_left(&config, &queue).await;
}

// ---------------------------------------------------------------------------------------------
// Secrets stay out of logs; driver-provisioned queues are locked down

/// Run the driver at `level` with a recognisable secret as the AWS secret key and in a sink
/// header, deliver one event, stop it, and check that neither stdout nor stderr holds the secret.
async fn secrets_stay_out_of_logs_at(level: &str) {
    let config = localstack().await;
    let queue = queue_name(&format!("sec{level}"));
    let source = format!("demo.{queue}");
    let secret = format!("EfSecret{}x{}", std::process::id(), level.len() * 7919);
    let header = format!("Authorization: Bearer {secret}");
    let sink = RecordingHttpServer::start(0).await;
    let pattern = format!(r#"[{{"source":["{source}"]}}]"#);
    let mut driver = Proc::start(
        &[
            "drive",
            "--event-patterns",
            &pattern,
            "--queue-name",
            &queue,
            "--sink",
            &sink.url,
            "--sink-header",
            &header,
            "--duration",
            "1",
            "--log-level",
            level,
            "--clean-up",
        ],
        &[
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("EVENTFERRY_LOG", level),
        ],
    );
    driver.wait_stderr(READY, START).await;

    // Locked down: every policy statement carries aws:SourceArn and aws:SourceAccount; SSE is on.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .get_queue_url()
        .queue_name(&queue)
        .send()
        .await
        .expect("queue url")
        .queue_url
        .expect("url");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get("SqsManagedSseEnabled").as_deref(),
        Some("true"),
        "SSE on the driver's queue: {attrs:?}"
    );
    let policy: Value =
        serde_json::from_str(&get("Policy").expect("the queue has a policy")).expect("JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    assert!(!statements.is_empty(), "{policy}");
    for s in statements {
        let arn = s["Condition"]["ArnLike"]["aws:SourceArn"]
            .as_str()
            .unwrap_or_else(|| panic!("statement without aws:SourceArn: {s}"));
        assert!(arn.starts_with("arn:aws:events:"), "{s}");
        assert!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"].is_string(),
            "statement without aws:SourceAccount: {s}"
        );
    }

    let id = put_event(&config, "default", &source, "Secret", r#"{"n":1}"#).await;
    let got = wait_for(Duration::from_secs(30), "the event at the sink", || {
        sink.accepted()
            .into_iter()
            .find(|r| r.headers.get("ce-id") == Some(&id))
    })
    .await;
    assert_eq!(
        got.headers.get("authorization"),
        Some(&format!("Bearer {secret}")),
        "the sink header is sent"
    );
    assert_eq!(stop(&mut driver).await, Some(0));
    let stderr = driver.stderr_text();
    let stdout = driver.stdout_lines().join("\n");
    assert!(
        stderr.lines().count() > 5,
        "the {level} log is not empty:\n{stderr}"
    );
    for (name, text) in [("stderr", &stderr), ("stdout", &stdout)] {
        assert!(
            !text.contains(&secret),
            "the secret appears in {name} at {level}:\n{}",
            text.lines()
                .filter(|l| l.contains(&secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    eprintln!(
        "{level}: {} stderr lines, {} stdout lines, secret absent",
        stderr.lines().count(),
        stdout.lines().count()
    );
    assert_nothing_left(&config, &queue).await;
}

#[tokio::test]
async fn secrets_stay_out_of_debug_logs() {
    secrets_stay_out_of_logs_at("debug").await;
}

#[tokio::test]
async fn secrets_stay_out_of_trace_logs() {
    secrets_stay_out_of_logs_at("trace").await;
}

// ---------------------------------------------------------------------------------------------
// Missing credentials

#[tokio::test]
async fn missing_credentials_exit_2_naming_credentials_and_create_nothing() {
    let config = localstack().await;
    let queue = queue_name("nocreds");
    let before_q = queues_with_prefix(&config, &queue).await;
    let before_r = rules_with_prefix(&config, "default", &format!("eventferry-{queue}")).await;
    let mut cmd = tokio::process::Command::new(eventferry_bin());
    cmd.args([
        "drive",
        "--event-patterns",
        r#"[{"source":["nocreds"]}]"#,
        "--queue-name",
        &queue,
        "--endpoint-url",
        &eventferry_tests::endpoint(),
        "--region",
        "us-east-1",
        "--sink",
        "stdout",
    ]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("eventferry drive without credentials ends within 60 s")
        .expect("run eventferry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("exit {:?}; stderr:\n{stderr}", out.status.code());
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{stderr}");
    assert!(
        stderr.to_lowercase().contains("credentials"),
        "the message names credentials:\n{stderr}"
    );
    assert_eq!(queues_with_prefix(&config, &queue).await, before_q);
    assert_eq!(
        rules_with_prefix(&config, "default", &format!("eventferry-{queue}")).await,
        before_r
    );
}

// ---------------------------------------------------------------------------------------------
// Conversion smoke run over arbitrary bytes (stable stand-in for the cargo-fuzz target)

/// SplitMix64, so the smoke run is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Seeds that look like what arrives on the queue, to be mutated byte by byte.
fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = hostile_bodies()
        .into_iter()
        .map(|(_, b, _)| b.into_bytes())
        .collect();
    v.push(br#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"2017-12-22T18:43:48Z","region":"us-west-1","resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],"detail":{"instance-id":"i-1234567890abcdef0","state":"terminated"}}"#.to_vec());
    v.push(br#"{"specversion":"1.0","id":"1","source":"/x","type":"t","datacontenttype":"application/json","data":{"a":[1,2,{"b":null}]},"time":"2020-01-01T00:00:00Z"}"#.to_vec());
    v.push(
        br#"{"specversion":"1.0","id":"1","source":"/x","type":"t","data_base64":"aGVsbG8="}"#
            .to_vec(),
    );
    v.push(b"{\"a\":1e999999,\"b\":-0,\"c\":\"\\u0000\"}".to_vec());
    v
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let edits = 1 + rng.next() % 8;
    for _ in 0..edits {
        let pos = if out.is_empty() {
            0
        } else {
            (rng.next() as usize) % out.len()
        };
        match rng.next() % 5 {
            0 if !out.is_empty() => out[pos] = rng.next() as u8,
            1 => out.insert(pos, rng.next() as u8),
            2 if !out.is_empty() => {
                out.remove(pos);
            }
            3 => {
                let tokens: [&[u8]; 8] = [b"{", b"}", b"[", b"]", b"\"", b":", b",", b"null"];
                let t = tokens[(rng.next() % 8) as usize];
                out.splice(pos..pos, t.iter().copied());
            }
            _ => out.truncate(pos),
        }
    }
    out
}

#[test]
fn conversion_never_panics_on_arbitrary_bytes() {
    let options = MappingOptions::default();
    let seeds = seeds();
    let mut rng = Rng(0x5EED_2026);
    let mut text_bodies = 0;
    for i in 0..20_000u32 {
        let bytes: Vec<u8> = if i % 4 == 0 {
            let len = (rng.next() % 300) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let seed = &seeds[(rng.next() as usize) % seeds.len()];
            // Keep the 256 KiB seed cheap: mutate a prefix of it.
            let seed = &seed[..seed.len().min(4096)];
            mutate(&mut rng, seed)
        };
        // SQS bodies are text: the driver sees UTF-8 (lossy here, as the fuzz target does).
        let body = String::from_utf8_lossy(&bytes);
        let message = SqsMessage {
            body: &body,
            message_id: "0b5f6c3e-0000-4000-8000-000000000001",
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q",
            sent_timestamp: Some(1_700_000_000_000),
            trace_header: None,
        };
        let event = from_sqs_message(&message, &options)
            .unwrap_or_else(|e| panic!("body {body:?} did not map: {e}"));
        let json = to_structured_json(&event);
        assert_eq!(json["specversion"], "1.0");
        for attr in ["id", "source", "type"] {
            assert!(
                json[attr].as_str().is_some_and(|s| !s.is_empty()),
                "{attr} missing for {body:?}: {json}"
            );
        }
        if serde_json::from_str::<Value>(&body).is_err() {
            text_bodies += 1;
            assert_eq!(json["type"], SQS_MESSAGE_TYPE, "{body:?}");
            assert_eq!(json["data"], Value::String(body.to_string()), "{body:?}");
        }
    }
    assert!(text_bodies > 1000, "the run covers non-JSON bodies");
    // The full hostile table maps too, including the 256 KiB and 10,000-deep bodies.
    for (name, body, _) in hostile_bodies() {
        let message = SqsMessage {
            body: &body,
            message_id: "m",
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q",
            sent_timestamp: None,
            trace_header: None,
        };
        let event = from_sqs_message(&message, &options)
            .unwrap_or_else(|e| panic!("{name} did not map: {e}"));
        assert_eq!(
            to_structured_json(&event)["type"],
            SQS_MESSAGE_TYPE,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Router input smoke run (stable stand-in for functions/router/fuzz's `router_input` target)

/// Replaces a random node of `value` with something of another shape, or recurses into it.
fn mutate_value(rng: &mut Rng, value: &mut Value, depth: u32) {
    let replace = depth > 6 || rng.next().is_multiple_of(5);
    match value {
        Value::Object(map) if !replace && !map.is_empty() => {
            let key = map
                .keys()
                .nth((rng.next() as usize) % map.len())
                .unwrap()
                .clone();
            if rng.next().is_multiple_of(8) {
                map.remove(&key);
            } else {
                mutate_value(rng, map.get_mut(&key).unwrap(), depth + 1);
            }
        }
        Value::Array(items) if !replace && !items.is_empty() => {
            let i = (rng.next() as usize) % items.len();
            mutate_value(rng, &mut items[i], depth + 1);
        }
        Value::String(s) if !replace && rng.next().is_multiple_of(2) => {
            let bytes = mutate(rng, s.as_bytes());
            *s = String::from_utf8_lossy(&bytes).into_owned();
        }
        _ => {
            *value = match rng.next() % 9 {
                0 => Value::Null,
                1 => Value::Bool(rng.next().is_multiple_of(2)),
                2 => serde_json::json!(rng.next() as i64),
                3 => serde_json::json!(-1.5e300),
                4 => Value::String(String::new()),
                5 => Value::String("\u{0}\u{202e}é🎉".repeat((rng.next() % 4) as usize)),
                6 => serde_json::json!([]),
                7 => serde_json::json!({}),
                _ => (0..(rng.next() % 60)).fold(Value::Null, |v, _| serde_json::json!([v])),
            }
        }
    }
}

/// Every router fixture, mutated structurally and byte-wise, goes through the real handler with
/// no-I/O ports: it is routed or refused with a reason, never a panic; HTTP gets an HTTP answer.
#[tokio::test]
async fn router_input_never_panics_on_mutated_payloads() {
    use eventferry_core::subscription::{Config, Format};
    use eventferry_router::config::Settings;
    use eventferry_router::ports::Offline;
    use eventferry_router::{Handler, Ports};

    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let config = Config::parse(
        &std::fs::read_to_string(events.join("subscriptions.yaml")).unwrap(),
        Format::Yaml,
        "events/subscriptions.yaml",
    )
    .unwrap();
    let handler = Handler::new(
        config,
        Settings::default(),
        Ports::offline(),
        Box::new(Offline),
    );
    let mut seeds: Vec<Value> = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).ok())
        .filter(|v: &Value| v.is_object())
        .collect();
    assert!(
        seeds.len() >= 10,
        "router fixtures in events/: {}",
        seeds.len()
    );
    seeds.push(Value::Null);

    let mut rng = Rng(0x0B0E_7E11);
    let (mut handled, mut refused, mut http) = (0, 0, 0);
    for i in 0..4_000u32 {
        let mut payload = seeds[(rng.next() as usize) % seeds.len()].clone();
        for _ in 0..(1 + rng.next() % 4) {
            mutate_value(&mut rng, &mut payload, 0);
        }
        let is_http = payload.get("requestContext").is_some();
        let result = within_secs(10, handler.handle(payload.clone(), &format!("smoke-{i}"))).await;
        match result {
            Ok(response) => {
                handled += 1;
                if is_http && response.get("statusCode").is_some() {
                    http += 1;
                    let status = response["statusCode"].as_u64().unwrap_or(0);
                    assert!((200..600).contains(&status), "{payload} -> {response}");
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty(), "an empty reason for {payload}");
            }
        }
    }
    eprintln!("router smoke: {handled} handled, {refused} refused, {http} HTTP answers");
    assert!(
        handled > 400 && refused > 400 && http > 100,
        "coverage: {handled} handled, {refused} refused, {http} HTTP"
    );
}

async fn within_secs<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("the router handled one payload within the limit (no stall)")
}
