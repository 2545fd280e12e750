//! `cargo lambda watch` serving the workspace's functions (router, recorder, flaky), and SQS
//! queues the example subscribers write to: the harness of the router and pipeline tests.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker, Lambda};
use eventferry_aws::sqs::{MessageQueue, Receipt, Sqs};
use eventferry_aws::AwsOptions;
use serde_json::Value;

use crate::{endpoint, localstack, unique_name, within};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Removes the variables `cargo test` sets for this test binary (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, ...) from a cargo child's environment. Build scripts track some of them (ring's
/// tracks `CARGO_MANIFEST_DIR`), so with them a cargo run from a test and one from a shell
/// would keep rebuilding ring and everything above it for each other.
fn without_test_cargo_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .iter()
        .any(|p| key.starts_with(p))
        {
            command.env_remove(key.as_ref());
        }
    }
    command
}

/// Builds the three functions once, exactly as `cargo lambda watch` will run them
/// (`cargo run --bin NAME`), so that the invokes below don't wait for a compiler.
fn build_functions() {
    static BUILT: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_none() {
        let mut result = Ok(());
        for bin in ["router", "recorder", "flaky"] {
            let mut child = without_test_cargo_env(&mut Command::new(
                std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            ))
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
pub struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    pub async fn start(port: u16, env: &[(&str, String)]) -> Watch {
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
        without_test_cargo_env(&mut command);
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

    pub async fn lambda(&self) -> Lambda {
        let config = eventferry_aws::load(&AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some(format!("http://127.0.0.1:{}", self.port)),
        })
        .await;
        Lambda::without_retries(&config)
    }

    /// The port of watch's Invoke endpoint.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything watch and the functions logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Invokes the router synchronously; the first call starts the function.
    pub async fn invoke_router(&self, payload: &Value) -> InvokeOutcome {
        let lambda = self.lambda().await;
        within(
            Duration::from_secs(300),
            "the router to answer",
            lambda.invoke(
                "router",
                payload.to_string().into_bytes().into(),
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
pub struct Queues {
    sqs: Sqs,
    urls: BTreeMap<&'static str, String>,
}

impl Queues {
    pub async fn create(names: &[&'static str]) -> Queues {
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

    pub fn url(&self, name: &str) -> String {
        self.urls[name].clone()
    }

    /// Receives (and deletes) messages until `count` arrived, then makes sure no more come.
    pub async fn take(&self, name: &str, count: usize) -> Vec<Value> {
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

    pub async fn cleanup(self) {
        for url in self.urls.values() {
            let _ = self.sqs.delete_queue(url).await;
        }
    }
}
