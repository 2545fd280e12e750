//! Shared harness for the integration tests: where LocalStack is, how to configure the SDK for it,
//! unique resource names, and bounded waits.
//!
//! The tests talk to a real LocalStack on `127.0.0.1:4566` (`make test` starts it). Set
//! `EVENTFERRY_TEST_ENDPOINT` to use another endpoint.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;

pub mod watch;
use eventferry_aws::AwsOptions;

/// The LocalStack endpoint the tests use.
pub fn endpoint() -> String {
    std::env::var("EVENTFERRY_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// Credentials and region for LocalStack, set for this process (and the children it starts).
pub fn localstack_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before the test spawns threads that read the environment.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::remove_var("AWS_PROFILE");
        }
    });
}

/// SDK configuration pointed at LocalStack. Fails the test with a clear message if LocalStack
/// is not answering.
pub async fn localstack() -> SdkConfig {
    localstack_env();
    let url = format!("{}/_localstack/health", endpoint());
    let reachable = tokio::net::TcpStream::connect(
        endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    )
    .await
    .is_ok();
    assert!(reachable, "LocalStack is not reachable at {url}: run the tests with `make test`, or `make localstack-up` first");
    eventferry_aws::load(&AwsOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint()),
    })
    .await
}

/// A resource name unique to this test run: `eventferry-it-<tag>-<pid>-<time>-<n>`.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 1_000_000_000;
    format!(
        "eventferry-it-{tag}-{}-{millis}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Await `fut`, failing the test if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// The `eventferry` binary of this build (`make test` builds it before the tests run).
pub fn eventferry_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/eventferry
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile> directory");
    let bin = dir.join("eventferry");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p eventferry-driver` (make test does)",
        bin.display()
    );
    bin
}

/// A running `eventferry` process whose stdout and stderr lines are collected. Killed on drop.
pub struct Proc {
    pub child: tokio::process::Child,
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Start `eventferry ARGS` with LocalStack's endpoint and credentials.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Proc {
        use tokio::io::{AsyncBufReadExt, BufReader};
        localstack_env();
        let mut cmd = tokio::process::Command::new(eventferry_bin());
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start eventferry");
        let collect = |lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
                       reader: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
            tokio::spawn(async move {
                let mut r = BufReader::new(reader).lines();
                while let Ok(Some(line)) = r.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            });
        };
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        collect(
            stdout.clone(),
            Box::new(child.stdout.take().expect("piped stdout")),
        );
        collect(
            stderr.clone(),
            Box::new(child.stderr.take().expect("piped stderr")),
        );
        Proc {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Wait until a stderr line contains `needle`, failing the test after `limit`.
    pub async fn wait_stderr(&self, needle: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no stderr line with {needle:?} within {limit:?}; stderr:\n{}",
                self.stderr_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("process still running") as i32;
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        let rc = unsafe { libc_kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Wait for exit (bounded), returning the exit code; collects the output's tail.
    pub async fn wait(&mut self, limit: Duration) -> Option<i32> {
        let status = within(limit, "eventferry to exit", self.child.wait())
            .await
            .expect("wait for eventferry");
        // Let the readers drain the pipes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        status.code()
    }
}

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Run `eventferry ARGS` to completion (bounded) and return (exit code, stdout, stderr).
pub async fn run_eventferry(
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> (Option<i32>, String, String) {
    let mut p = Proc::start(args, env);
    let code = p.wait(limit).await;
    (code, p.stdout_lines().join("\n"), p.stderr_text())
}

/// One request a [`RecordingHttpServer`] received.
#[derive(Debug, Clone)]
pub struct SinkRequest {
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
    /// The status the sink answered.
    pub status: u16,
    /// When the request arrived.
    pub at: std::time::Instant,
}

/// Which requests a [`RecordingHttpServer`] answers with a 500.
#[derive(Debug, Clone, Copy)]
enum Failing {
    /// The first N attempts of every `ce-id` (requests without one share the id "").
    PerEvent(u32),
    /// The first N requests, whatever they carry (a batch has no `ce-id` header).
    FirstRequests(usize),
}

/// An HTTP server on 127.0.0.1 that stands in for a sink: it records requests and fails some of
/// them with a 500 ([`RecordingHttpServer::start`], [`RecordingHttpServer::start_failing_requests`]).
pub struct RecordingHttpServer {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<SinkRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingHttpServer {
    /// Fails the first `fail_first` attempts of every `ce-id`.
    pub async fn start(fail_first: u32) -> RecordingHttpServer {
        Self::start_with(Failing::PerEvent(fail_first)).await
    }

    /// Fails the first `fail_first` requests, then answers 200.
    pub async fn start_failing_requests(fail_first: usize) -> RecordingHttpServer {
        Self::start_with(Failing::FirstRequests(fail_first)).await
    }

    async fn start_with(failing: Failing) -> RecordingHttpServer {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sink");
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let requests: std::sync::Arc<std::sync::Mutex<Vec<SinkRequest>>> = Default::default();
        let seen = requests.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let headers: std::collections::HashMap<String, String> = headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut seen = seen.lock().unwrap();
                let id = |h: &std::collections::HashMap<String, String>| {
                    h.get("ce-id").cloned().unwrap_or_default()
                };
                let fail = match failing {
                    Failing::PerEvent(n) => {
                        let this = id(&headers);
                        (seen.iter().filter(|r| id(&r.headers) == this).count() as u32) < n
                    }
                    Failing::FirstRequests(n) => seen.len() < n,
                };
                let status = if fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                };
                seen.push(SinkRequest {
                    headers,
                    body: body.to_vec(),
                    status: status.as_u16(),
                    at: std::time::Instant::now(),
                });
                status
            }
        };
        let app = axum::Router::new().route("/events", axum::routing::post(handler));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RecordingHttpServer {
            url,
            requests,
            task,
        }
    }

    /// Requests answered with 2xx.
    pub fn accepted(&self) -> Vec<SinkRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status < 300)
            .cloned()
            .collect()
    }
}

impl Drop for RecordingHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Put one event on a bus; returns its EventBridge id.
pub async fn put_event(
    config: &SdkConfig,
    bus: &str,
    source: &str,
    detail_type: &str,
    detail: &str,
) -> String {
    let client = aws_sdk_eventbridge::Client::new(config);
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(source)
        .detail_type(detail_type)
        .detail(detail)
        .build();
    let out = client
        .put_events()
        .entries(entry)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count, 0, "PutEvents failed: {out:?}");
    out.entries()[0].event_id().expect("event id").to_owned()
}

/// Names of rules on `bus` starting with `prefix`.
pub async fn rules_with_prefix(config: &SdkConfig, bus: &str, prefix: &str) -> Vec<String> {
    let client = aws_sdk_eventbridge::Client::new(config);
    let out = client
        .list_rules()
        .event_bus_name(bus)
        .name_prefix(prefix)
        .send()
        .await
        .expect("ListRules");
    out.rules()
        .iter()
        .filter_map(|r| r.name().map(str::to_owned))
        .collect()
}

/// URLs of queues whose names start with `prefix`.
pub async fn queues_with_prefix(config: &SdkConfig, prefix: &str) -> Vec<String> {
    let client = aws_sdk_sqs::Client::new(config);
    let out = client
        .list_queues()
        .queue_name_prefix(prefix)
        .send()
        .await
        .expect("ListQueues");
    out.queue_urls().to_vec()
}

/// A queue name unique to this run and short enough that the driver's default instance id (the
/// queue name) is not truncated: `<prefix>-<tag>-<pid>-<time>-<n>`.
pub fn short_queue_name(prefix: &str, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 100_000_000;
    format!(
        "{prefix}-{tag}-{}-{t}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Poll `probe` until it returns `Some`, failing the test after `limit`.
pub async fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No rule of the driver's instance `queue` on the default bus, and no queue named after it.
pub async fn assert_nothing_left(config: &SdkConfig, queue: &str) {
    assert_eq!(
        rules_with_prefix(config, "default", &format!("eventferry-{queue}")).await,
        Vec::<String>::new(),
        "rules left"
    );
    assert_eq!(
        queues_with_prefix(config, queue).await,
        Vec::<String>::new(),
        "queues left"
    );
}

// ---- Replicas (tests/it/replicas.rs, tests/chaos): what a deployment left on LocalStack. ----

/// The URL of queue `name`, or `None` when it does not exist.
pub async fn queue_url(config: &SdkConfig, name: &str) -> Option<String> {
    let client = aws_sdk_sqs::Client::new(config);
    match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url().map(str::to_owned),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains("NonExistentQueue") || text.contains("QueueDoesNotExist"),
                "GetQueueUrl {name}: {text}"
            );
            None
        }
    }
}

/// The tags of the queue at `url` (empty when it has none).
pub async fn queue_tags(
    config: &SdkConfig,
    url: &str,
) -> std::collections::HashMap<String, String> {
    let client = aws_sdk_sqs::Client::new(config);
    let out = client
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListQueueTags {url}: {e:?}"));
    out.tags().cloned().unwrap_or_default()
}

/// The Sids of the statements in the queue's policy (empty without a policy).
pub async fn queue_policy_sids(config: &SdkConfig, url: &str) -> Vec<String> {
    let client = aws_sdk_sqs::Client::new(config);
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetQueueAttributes {url}: {e:?}"));
    let Some(policy) = out
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
    else {
        return Vec::new();
    };
    let policy: serde_json::Value =
        serde_json::from_str(policy).unwrap_or_else(|e| panic!("policy of {url}: {e}: {policy}"));
    policy["Statement"]
        .as_array()
        .map(|sts| {
            sts.iter()
                .map(|s| s["Sid"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The target ids of rule `rule` on `bus`.
pub async fn rule_target_ids(config: &SdkConfig, bus: &str, rule: &str) -> Vec<String> {
    let client = aws_sdk_eventbridge::Client::new(config);
    let out = client
        .list_targets_by_rule()
        .event_bus_name(bus)
        .rule(rule)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListTargetsByRule {rule}: {e:?}"));
    out.targets().iter().map(|t| t.id().to_owned()).collect()
}

/// Whether `key` is a tag a replica of `instance` puts on the queue: its lease
/// (`eventferry-lease:<instance>:<replica>`) or its closing marker
/// (`eventferry-closing:<instance>:<replica>`).
pub fn is_replica_tag(key: &str, instance: &str) -> bool {
    ["eventferry-lease:", "eventferry-closing:"]
        .iter()
        .any(|p| {
            key.strip_prefix(p)
                .and_then(|rest| rest.strip_prefix(instance))
                .is_some_and(|rest| rest.starts_with(':'))
        })
}

/// What deployment `instance` on queue `queue` left on the default bus and in SQS, one line per
/// resource: its rules (and their targets), rules of any name targeting the queue, queues named
/// `queue` or `queue-dlq`, and on a queue that is not the instance's own (a foreign one, which
/// must stay) the replica tags and the instance's policy statements.
pub async fn leftovers(config: &SdkConfig, instance: &str, queue: &str) -> Vec<String> {
    let mut found = Vec::new();
    let prefix = format!("eventferry-{instance}");
    let rules = rules_with_prefix(config, "default", &prefix).await;
    for rule in &rules {
        found.push(format!("rule {rule}"));
        for target in rule_target_ids(config, "default", rule).await {
            found.push(format!("target {target} of rule {rule}"));
        }
    }
    let eb = aws_sdk_eventbridge::Client::new(config);
    let queue_arn = format!("arn:aws:sqs:us-east-1:000000000000:{queue}");
    let by_target = eb
        .list_rule_names_by_target()
        .target_arn(&queue_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListRuleNamesByTarget {queue_arn}: {e:?}"));
    for rule in by_target.rule_names() {
        if !rules.contains(rule) {
            found.push(format!("rule {rule} targeting {queue_arn}"));
        }
    }
    for name in [queue.to_owned(), format!("{queue}-dlq")] {
        let Some(url) = queue_url(config, &name).await else {
            continue;
        };
        let tags = queue_tags(config, &url).await;
        let ours = tags.get("managed-by").map(String::as_str) == Some("eventferry")
            && tags.get("eventferry-owner").map(String::as_str) == Some(instance);
        if ours {
            found.push(format!("queue {url}"));
            continue;
        }
        for key in tags.keys().filter(|k| is_replica_tag(k, instance)) {
            found.push(format!("tag {key} on foreign queue {url}"));
        }
        for sid in queue_policy_sids(config, &url).await {
            if sid.starts_with(&prefix) {
                found.push(format!("policy statement {sid} on foreign queue {url}"));
            }
        }
    }
    found
}
// ---- end of the replicas block ----

// ---- the driver's /metrics server ----

/// 127.0.0.1 and a port that was free a moment ago.
pub fn free_local_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A minimal HTTP/1.0 GET: (status, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within(
        Duration::from_secs(10),
        "connect to the metrics server",
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    within(
        Duration::from_secs(10),
        "the metrics server's answer",
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of metric `name` in Prometheus text (whatever its labels: the driver's carry
/// `replica="..."`), or -1 when it is absent.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            Some(value)
        })
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}
