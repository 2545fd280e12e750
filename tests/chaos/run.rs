//! What every phase of the run shares: names from the seed, the log directory, the SDK
//! configuration, the sink, the proxy and the driver launcher.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::driver::Launcher;
use crate::log::log;
use crate::opts::{Mode, Opts};
use crate::proxy::{start_proxy, Proxy};
use crate::rng::Rng;
use crate::sink::{start_sink, Sink};

pub struct Chaos {
    pub opts: Opts,
    pub rng: Rng,
    pub started: Instant,
    pub run: String,
    pub queue: String,
    /// The driver's owner tag (the queue's name).
    pub instance: String,
    pub source: String,
    pub config: SdkConfig,
    pub sink: Arc<Sink>,
    pub proxy: Arc<Proxy>,
    pub launcher: Launcher,
}

impl Chaos {
    /// Names from the seed, the log directory, the sink and the proxy.
    pub async fn set_up(opts: Opts) -> Chaos {
        let started = Instant::now();
        let mut rng = Rng(opts.seed);
        let run = format!("{:x}", rng.next_u64() % 0xffff_ffff);
        let queue = format!("efchaos-{run}");
        let instance = queue.clone();
        let source = format!("chaos.{run}");
        log(format!(
            "mode={:?} seed={} run={run} queue={queue} events={} kills={} cycles={} fail_rate={} hang_rate={} hang={}s cut={}s",
            opts.mode, opts.seed, opts.events, opts.kills, opts.cycles, opts.fail_rate, opts.hang_rate, opts.hang_secs, opts.cut_secs
        ));
        if opts.mode == Mode::Replicas {
            log(format!(
                "replicas={} restarts={} lease_ttl={}s rate={}/s",
                opts.replicas, opts.restarts, opts.lease_ttl, opts.rate
            ));
        }
        let logs = PathBuf::from(std::env::var("CHAOS_LOG_DIR").unwrap_or_else(|_| {
            std::env::temp_dir()
                .join(format!("eventferry-chaos-{run}"))
                .display()
                .to_string()
        }));
        std::fs::create_dir_all(&logs).expect("log dir");
        log(format!("driver logs in {}", logs.display()));

        let config = eventferry_tests::localstack().await;
        let upstream = eventferry_tests::endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();

        let sink = Arc::new(Sink {
            state: Mutex::default(),
            rng: Mutex::new(Rng(rng.next_u64())),
            run: run.clone(),
            fail_rate: opts.fail_rate,
            hang_rate: opts.hang_rate,
            hang: Duration::from_secs(opts.hang_secs),
        });
        let sink_url = start_sink(sink.clone()).await;
        let proxy = Arc::new(start_proxy(upstream).await);
        log(format!(
            "sink {sink_url}, proxy 127.0.0.1:{} -> LocalStack",
            proxy.port
        ));
        let pattern = format!(r#"[{{"source":["{source}"]}}]"#);
        let launcher = Launcher::new(&pattern, &queue, proxy.port, &sink_url, logs);
        Chaos {
            opts,
            rng,
            started,
            run,
            queue,
            instance,
            source,
            config,
            sink,
            proxy,
            launcher,
        }
    }
}
