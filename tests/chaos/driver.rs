//! The `eventferry drive` processes: started with the harness's arguments (stderr to a log
//! file, "receiving" means ready), signalled, waited for.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::log::log;

/// target/<profile>/eventferry, next to this binary.
pub fn eventferry_bin() -> PathBuf {
    // target/<profile>/chaos -> target/<profile>/eventferry
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.parent().expect("target dir").join("eventferry");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p eventferry-driver`",
        bin.display()
    );
    bin
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

pub struct Driver {
    child: tokio::process::Child,
    ready: Arc<AtomicBool>,
    /// Every line it wrote on stderr.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Driver {
    fn start(args: &[String], log_path: PathBuf) -> Driver {
        let mut child = tokio::process::Command::new(eventferry_bin())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start eventferry drive");
        let ready = Arc::new(AtomicBool::new(false));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (ready.clone(), stderr.clone());
        let pipe = child.stderr.take().expect("piped stderr");
        tokio::spawn(async move {
            let mut file = std::fs::File::create(&log_path).ok();
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("receiving") {
                    r.store(true, Ordering::SeqCst);
                }
                if line.contains("panicked") {
                    log(format!("DRIVER PANIC: {line}"));
                }
                if let Some(f) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
                s.lock().unwrap().push(line);
            }
        });
        Driver {
            child,
            ready,
            stderr,
        }
    }

    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.ready.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the PID of our own child, not yet reaped.
            unsafe { kill(pid as i32, sig) };
        }
    }

    /// Wait for exit (bounded); SIGKILL if it does not come. Returns the exit code.
    pub async fn wait(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                log(format!("driver did not exit within {limit:?}: SIGKILL"));
                self.signal(SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
                None
            }
        }
    }

    /// Whether a stderr line so far contains `needle`.
    pub fn said(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    /// The last `n` stderr lines.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.stderr.lock().unwrap();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub async fn kill(&mut self) {
        self.signal(SIGKILL);
        self.wait(Duration::from_secs(10)).await;
    }
}

/// Starts drivers with the same arguments, numbering their logs `driver-NN.log`.
pub struct Launcher {
    args: Vec<String>,
    /// The fault-injecting proxy in front of LocalStack.
    proxy_url: String,
    logs: PathBuf,
    /// Drivers started so far.
    pub starts: u32,
}

impl Launcher {
    pub fn new(
        pattern: &str,
        queue: &str,
        proxy_port: u16,
        sink_url: &str,
        logs: PathBuf,
    ) -> Launcher {
        let args = [
            "drive",
            "--event-patterns",
            pattern,
            "--queue-name",
            queue,
            "--region",
            "us-east-1",
            "--sink",
            sink_url,
            "--visibility-timeout",
            "10",
            "--concurrency",
            "4",
            "--duration",
            "5",
            "--sink-timeout",
            "30",
            "--drain-timeout",
            "20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Launcher {
            args,
            proxy_url: format!("http://127.0.0.1:{proxy_port}"),
            logs,
            starts: 0,
        }
    }

    /// A new driver talking to LocalStack through the proxy, with `--clean-up` when `clean_up`.
    pub fn start(&mut self, clean_up: bool) -> Driver {
        let mut extra = vec!["--endpoint-url".to_owned(), self.proxy_url.clone()];
        if clean_up {
            extra.push("--clean-up".into());
        }
        self.start_with(&extra, "")
    }

    /// A replica of deployment `instance` with `--clean-up`: replica id `id`, lease TTL
    /// `lease_ttl`, through the proxy when `via_proxy`, else straight to LocalStack. Its log is
    /// `driver-NN-<id>.log`.
    pub fn start_replica(
        &mut self,
        instance: &str,
        id: &str,
        lease_ttl: u64,
        via_proxy: bool,
    ) -> Driver {
        let endpoint = if via_proxy {
            self.proxy_url.clone()
        } else {
            eventferry_tests::endpoint()
        };
        let extra: Vec<String> = [
            "--endpoint-url",
            &endpoint,
            "--instance",
            instance,
            "--replica-id",
            id,
            "--lease-ttl",
            &lease_ttl.to_string(),
            "--clean-up",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        self.start_with(&extra, &format!("-{id}"))
    }

    fn start_with(&mut self, extra: &[String], log_suffix: &str) -> Driver {
        self.starts += 1;
        let mut args = self.args.clone();
        args.extend_from_slice(extra);
        Driver::start(
            &args,
            self.logs
                .join(format!("driver-{:02}{log_suffix}.log", self.starts)),
        )
    }
}
