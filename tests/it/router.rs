//! The router under `cargo lambda watch`, with the example subscribers `recorder` (writes each
//! event to an SQS queue in LocalStack) and `flaky` (fails when `data.fail` is true; records each
//! run in another queue). The router is invoked through watch's AWS-compatible Invoke endpoint
//! with `eventferry_aws::lambda::Lambda`, and invokes the subscribers through the same endpoint.
//!
//! Asserted: `batchItemFailures`, which subscribers ran (from their queues), that a retry runs
//! only the failed subscriber, and that after the attempts are used up the pair is dead-lettered.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker, Lambda};
use eventferry_aws::sqs::{MessageQueue, Receipt, Sqs};
use eventferry_aws::AwsOptions;
use eventferry_tests::{endpoint, localstack, unique_name, within};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Builds the three functions once, exactly as `cargo lambda watch` will run them
/// (`cargo run --bin NAME`), so that the invokes below don't wait for a compiler.
fn build_functions() {
    static BUILT: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_none() {
        let mut result = Ok(());
        for bin in ["router", "recorder", "flaky"] {
            let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--manifest-path", "Cargo.toml", "--bin", bin])
                .current_dir(repo())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("run cargo build");
            let deadline = Instant::now() + Duration::from_secs(45 * 60);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(500));
            };
            match status {
                Some(s) if s.success() => {}
                Some(s) => {
                    result = Err(format!("cargo build --bin {bin} failed: {s}"));
                    break;
                }
                None => {
                    result = Err(format!("cargo build --bin {bin} took over 45 minutes"));
                    break;
                }
            }
        }
        *built = Some(result);
    }
    if let Some(Err(e)) = built.as_ref() {
        panic!("{e}");
    }
}

/// A `cargo lambda watch` process group, stopped by its process group id on drop.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    async fn start(port: u16, env: &[(&str, String)]) -> Watch {
        build_functions();
        let venv = repo().join(".venv/bin");
        assert!(
            venv.join("cargo-lambda").exists(),
            "cargo-lambda is not installed in {}: run `make install` (or `make test`)",
            venv.display()
        );
        let log = std::env::temp_dir().join(format!("{}.log", unique_name("watch")));
        let out = std::fs::File::create(&log).unwrap();
        let path = format!(
            "{}:{}",
            venv.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        // cargo-lambda itself (not through `cargo lambda`), so that it leads the process group
        // and gets the signal; on SIGTERM it stops the functions it started.
        let mut command = Command::new(venv.join("cargo-lambda"));
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(repo())
            .env("PATH", path)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", endpoint())
            // The router invokes the subscribers through this same watch.
            .env(
                "AWS_ENDPOINT_URL_LAMBDA",
                format!("http://127.0.0.1:{port}"),
            )
            .env("RUST_LOG", "info")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in env {
            command.env(k, v);
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start cargo lambda watch");
        let watch = Watch { child, port, log };
        within(
            Duration::from_secs(120),
            "cargo lambda watch to listen",
            async {
                while tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        )
        .await;
        watch
    }

    async fn lambda(&self) -> Lambda {
        let config = eventferry_aws::load(&AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some(format!("http://127.0.0.1:{}", self.port)),
        })
        .await;
        Lambda::without_retries(&config)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Invokes the router synchronously; the first call starts the function.
    async fn invoke_router(&self, payload: &Value) -> InvokeOutcome {
        let lambda = self.lambda().await;
        within(
            Duration::from_secs(300),
            "the router to answer",
            lambda.invoke(
                "router",
                payload.to_string().into_bytes(),
                InvocationMode::Sync,
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("invoke router: {e}\n--- watch log ---\n{}", self.log_tail()))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Our process group (cargo-lambda leads it), by its id: SIGTERM, then SIGKILL.
        let group = format!("-{}", self.child.id());
        for (signal, grace) in [("TERM", 15), ("KILL", 5)] {
            let _ = Command::new("kill")
                .args(["-s", signal, "--", &group])
                .status();
            let deadline = Instant::now() + Duration::from_secs(grace);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    let _ = std::fs::remove_file(&self.log);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!(
            "cargo lambda watch (pid {}) did not stop; its log: {}",
            self.child.id(),
            self.log.display()
        );
    }
}

/// Unique queues, deleted on drop (best effort).
struct Queues {
    sqs: Sqs,
    urls: BTreeMap<&'static str, String>,
}

impl Queues {
    async fn create(names: &[&'static str]) -> Queues {
        let sqs = Sqs::new(&localstack().await);
        let mut urls = BTreeMap::new();
        for name in names {
            let url = sqs
                .create_queue(
                    &unique_name(&format!("router-{name}")),
                    HashMap::new(),
                    HashMap::new(),
                )
                .await
                .expect("create queue");
            urls.insert(*name, url);
        }
        Queues { sqs, urls }
    }

    fn url(&self, name: &str) -> String {
        self.urls[name].clone()
    }

    /// Receives (and deletes) messages until `count` arrived, then makes sure no more come.
    async fn take(&self, name: &str, count: usize) -> Vec<Value> {
        let queue = self.sqs.queue(self.url(name));
        let mut bodies = Vec::new();
        within(
            Duration::from_secs(60),
            &format!("{count} messages in the {name} queue"),
            async {
                loop {
                    let wait = if bodies.len() < count { 2 } else { 1 };
                    let batch = queue.receive(10, wait).await.expect("receive");
                    if batch.is_empty() && bodies.len() >= count {
                        break;
                    }
                    let receipts: Vec<Receipt> = batch
                        .iter()
                        .enumerate()
                        .map(|(i, m)| Receipt {
                            id: i.to_string(),
                            receipt_handle: m.receipt_handle.clone(),
                        })
                        .collect();
                    for m in &batch {
                        bodies.push(serde_json::from_str::<Value>(&m.body).expect("JSON body"));
                    }
                    queue.delete_batch(&receipts).await.expect("delete");
                }
            },
        )
        .await;
        assert_eq!(
            bodies.len(),
            count,
            "messages in the {name} queue: {bodies:#?}"
        );
        bodies
    }

    async fn cleanup(self) {
        for url in self.urls.values() {
            let _ = self.sqs.delete_queue(url).await;
        }
    }
}

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
