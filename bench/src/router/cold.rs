//! Cold start, size, memory: the release router exec'd against [`super::api`] until its first
//! event is handled, repeated; the bootstrap's size and architecture.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::api::{serve_api, ApiState, Cold};
use super::workload::subscriptions;
use crate::common;

/// One cold start of `bin` with `subs`, its stderr in `log`.
async fn cold_start(bin: &Path, subs: &Subs, log: &Path) -> Cold {
    let state = Arc::new(ApiState::default());
    let event = json!({
        "specversion": "1.0", "id": "cold-1", "source": "urn:eventferry:bench",
        "type": "com.example.cold", "time": "2026-11-23T10:00:00Z",
        "datacontenttype": "application/json", "data": {"hello": "world"}
    });
    let (port, server) = serve_api(state.clone(), event).await;
    let mut cmd = router_command(bin, port, subs, log);
    let t0 = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("exec {}: {e}", bin.display()));
    *state.t0.lock().unwrap() = Some(t0);
    let pid = child.id();
    if tokio::time::timeout(Duration::from_secs(30), state.done.notified())
        .await
        .is_err()
    {
        common::signal(pid, libc::SIGKILL);
        panic!(
            "the router never answered its first event; see {}",
            log.display()
        );
    }
    // VmHWM, not wait4's ru_maxrss: that one includes the forked copy of this process.
    let max_rss_kib = common::proc_hwm_kib(pid).unwrap_or(0);
    common::signal(pid, libc::SIGTERM);
    tokio::task::spawn_blocking(move || common::wait4(child))
        .await
        .expect("wait4 thread");
    server.abort();
    state.cold(t0, max_rss_kib)
}

/// The release router as Lambda starts it, against the Runtime API on 127.0.0.1:`port`, with the
/// `cold` subscription (HTTP to `/sink` there) and, for [`Subs::File`], the generated ones.
fn router_command(bin: &Path, port: u16, subs: &Subs, log: &Path) -> Command {
    let sink = format!("http://127.0.0.1:{port}/sink");
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/router")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("LAMBDA_TASK_ROOT", std::env::temp_dir())
        .env("RUST_LOG", "info")
        .env("EVENTFERRY_SYSTEM_EVENTS", "log")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create log"));
    let cold = json!({"name": "cold", "types": ["com.example.cold"], "http": sink});
    match subs {
        Subs::One => {
            cmd.env("EVENTFERRY_SUBSCRIPTIONS", json!([cold]).to_string());
        }
        Subs::File(n, path) => {
            let mut all = subscriptions(*n);
            all.as_array_mut().unwrap().push(cold);
            std::fs::write(path, all.to_string()).expect("write subscriptions");
            cmd.env("EVENTFERRY_SUBSCRIPTIONS_FILE", path);
        }
    }
    cmd
}

/// The subscriptions of a cold start: the `cold` one inline, or `n` generated ones plus `cold`
/// in a file.
enum Subs {
    One,
    File(usize, PathBuf),
}

/// The ELF machine of `path`.
fn elf_machine(path: &Path) -> Option<&'static str> {
    let bytes = std::fs::read(path).ok()?;
    match bytes.get(18..20)? {
        [0x3e, 0] => Some("x86_64"),
        [0xb7, 0] => Some("aarch64"),
        _ => Some("other"),
    }
}

/// Size, architecture and `reps` cold starts (1 and 1,001 subscriptions) of the build `bin`.
pub fn build_figures(label: &str, bin: &Path, reps: usize, root: &Path) -> Value {
    assert!(
        bin.is_file(),
        "{} not found: build it with `cargo build --release -p eventferry-router --bin router`",
        bin.display()
    );
    let size = std::fs::metadata(bin).expect("stat the router").len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let logs = root.join("target/bench/logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let mut variants = Vec::new();
    for (what, subs) in [
        ("1 subscription (inline)", Subs::One),
        (
            "1,001 subscriptions (file)",
            Subs::File(
                1_000,
                root.join("target/bench/router-subscriptions-1000.json"),
            ),
        ),
    ] {
        let runs: Vec<Cold> = (0..reps)
            .map(|i| {
                rt.block_on(cold_start(
                    bin,
                    &subs,
                    &logs.join(format!("router-{label}-cold-{i}.log")),
                ))
            })
            .collect();
        let mut init: Vec<f64> = runs.iter().map(|r| r.init_ms).collect();
        let mut first: Vec<f64> = runs.iter().map(|r| r.first_event_ms).collect();
        init.sort_by(f64::total_cmp);
        first.sort_by(f64::total_cmp);
        let rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
        variants.push(json!({
            "subscriptions": what,
            "runs": reps,
            "init_ms_p50": common::percentile(&init, 50.0),
            "init_ms_max": init.last(),
            "first_event_ms_p50": common::percentile(&first, 50.0),
            "first_event_ms_p95": common::percentile(&first, 95.0),
            "first_event_ms_max": first.last(),
            "max_rss_kib": rss,
        }));
    }
    json!({
        "label": label,
        "path": bin.display().to_string(),
        "arch": elf_machine(bin),
        "bytes": size,
        "cold_start": variants,
    })
}

/// The arm64 bootstrap `make validate` builds, when it is there.
pub fn arm64_bootstrap(root: &Path) -> Value {
    let path = root.join("target/lambda/router/bootstrap");
    match std::fs::metadata(&path) {
        Ok(m) if elf_machine(&path) == Some("aarch64") => {
            let age = m
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs());
            json!({"path": "target/lambda/router/bootstrap", "bytes": m.len(), "built_seconds_ago": age})
        }
        _ => Value::Null,
    }
}
