//! Child processes under measurement: the AWS environment they get, reaping with rusage, and the
//! "reporting child" protocol of the floor and the Python peer (`first` on stdout when the first
//! batch arrives, then one JSON line when done; alive until its stdin closes).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::ctx::{Ctx, REGION};
use super::measure::{window, Row, Sample};
use super::queue::delete_queue;
use crate::common::{self, Usage};

/// Static test credentials, the region and the endpoint; no profile.
pub fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_PROFILE");
}

/// Waits for a child with wait4 off the runtime; SIGKILL if it does not exit within `limit`.
pub async fn reap(child: Child, limit: Duration) -> Usage {
    let pid = child.id();
    let mut handle = tokio::task::spawn_blocking(move || common::wait4(child));
    match tokio::time::timeout(limit, &mut handle).await {
        Ok(r) => r.expect("wait4 thread"),
        Err(_) => {
            eprintln!("warning: pid {pid} did not exit within {limit:?}; SIGKILL");
            common::signal(pid, libc::SIGKILL);
            handle.await.expect("wait4 thread")
        }
    }
}

/// Whether `pid` is running (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with(|c| c != 'Z')))
        .unwrap_or(false)
}

/// What a reporting child yields.
pub struct Reported {
    /// Its JSON line.
    pub value: Value,
    /// Its CPU between `first` and the JSON line.
    pub window_cpu: Option<Duration>,
    /// LocalStack's CPU over the same window, as a share of one core.
    pub localstack_cpu: Option<f64>,
    pub usage: Usage,
    pub peak_rss_kib: Option<u64>,
}

impl Reported {
    /// The table row, with the child's `seconds`.
    pub fn row(
        self,
        who: &'static str,
        sink: &'static str,
        concurrency: usize,
        messages: usize,
        sink_deliveries: Option<u64>,
    ) -> Row {
        Row {
            who,
            sink,
            concurrency,
            messages,
            seconds: self.value["seconds"].as_f64().expect("seconds"),
            window_cpu: self.window_cpu,
            usage: self.usage,
            peak_rss_kib: self.peak_rss_kib,
            localstack_cpu: self.localstack_cpu,
            sink_deliveries,
            flags: Vec::new(),
            rounds_us: Vec::new(),
        }
    }
}

/// Runs the reporting child `cmd` on the queue `url` with the AWS environment, its stderr in
/// `<logs>/<name>.log`, then deletes the queue.
pub async fn run_on_queue(ctx: &Ctx, name: &str, url: &str, mut cmd: Command) -> Reported {
    aws_env(&mut cmd, &ctx.opts.endpoint);
    let reported = run_reporting_child(ctx, cmd, ctx.opts.logs.join(format!("{name}.log"))).await;
    delete_queue(ctx, url).await;
    reported
}

/// A child that prints `first` when its first batch arrives, then one JSON line when done.
/// Returns the JSON, the child's window CPU and LocalStack's, sampled at those two lines.
async fn run_reporting_child(ctx: &Ctx, mut cmd: Command, log: PathBuf) -> Reported {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("create log"));
    let mut child = cmd.spawn().expect("spawn the child");
    let pid = child.id();
    // The child waits for this to close after printing its result, so /proc still has it.
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut rx = stdout_lines(stdout);
    let mut start = None;
    let mut result = None;
    let mut hwm = None;
    let deadline = tokio::time::sleep(Duration::from_secs(900));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) if line == "first" => {
                    start = Some(Sample::take(ctx, pid));
                }
                Some(line) => {
                    let end = Sample::take(ctx, pid);
                    hwm = common::proc_hwm_kib(pid);
                    result = Some((serde_json::from_str::<Value>(&line)
                        .unwrap_or_else(|e| panic!("child printed {line:?}: {e}")), end));
                    break;
                }
                None => break,
            },
            _ = &mut deadline => {
                eprintln!("warning: child {pid} did not finish within 900 s");
                common::signal(pid, libc::SIGKILL);
                break;
            }
        }
    }
    drop(stdin);
    let usage = reap(child, Duration::from_secs(60)).await;
    let Some((value, end)) = result else {
        panic!(
            "the child exited without a result (status {}); see {}",
            usage.status,
            log.display()
        );
    };
    let start = start.expect("the child printed `first`");
    let (window_cpu, localstack_cpu) = window(&start, &end);
    Reported {
        value,
        window_cpu,
        localstack_cpu,
        usage,
        peak_rss_kib: hwm,
    }
}

/// The child's stdout, line by line, read on a thread of its own.
fn stdout_lines(stdout: std::process::ChildStdout) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
