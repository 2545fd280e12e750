//! Three `eventferry drive` replicas on one queue (issue 15): a concurrent start provisions one
//! set of resources, a rolling restart with `--clean-up` on every replica removes nothing until
//! the last one leaves (and loses no event), a SIGKILLed replica's lease expires so the last
//! replica out still cleans up, and a replica joining while the last one leaves (at the signal,
//! at its closing marker, during its teardown) ends with a whole deployment.
//!
//! Every replica gets its own `--replica-id`, a short `--lease-ttl`, `--clean-up`, and the same
//! `--queue-name`, `--instance` and HTTP sink.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use eventferry_tests::{
    leftovers, localstack, put_event, queue_policy_sids, queue_tags, queue_url, queues_with_prefix,
    rule_target_ids, rules_with_prefix, Proc, RecordingHttpServer, SIGKILL, SIGTERM,
};

/// Provisioning, joining, and (when a queue of the same name was just deleted) waiting out
/// `QueueDeletedRecently`.
const START: Duration = Duration::from_secs(120);
/// Drain, the leave protocol (bounded by the lease TTL) and the teardown.
const STOP: Duration = Duration::from_secs(90);
/// From PutEvents to the sink.
const DELIVERY: Duration = Duration::from_secs(60);
const LEASE_TTL: &str = "6";
const SKIPPED: &str = "clean-up skipped";

/// One deployment: its names, its patterns and the sink its replicas deliver to.
struct Deployment {
    config: SdkConfig,
    queue: String,
    instance: String,
    sources: Vec<String>,
    patterns: String,
    sink: RecordingHttpServer,
}

impl Deployment {
    /// A unique queue (the instance is named after it) and one pattern per source.
    async fn new(tag: &str, n_patterns: usize) -> Deployment {
        let config = localstack().await;
        let queue = eventferry_tests::short_queue_name("efr", tag);
        let sources: Vec<String> = (0..n_patterns)
            .map(|i| format!("demo.{queue}.{i}"))
            .collect();
        let patterns = serde_json::Value::Array(
            sources
                .iter()
                .map(|s| serde_json::json!({"source": [s], "detail-type": ["OrderPlaced"]}))
                .collect(),
        )
        .to_string();
        Deployment {
            config,
            instance: queue.clone(),
            queue,
            sources,
            patterns,
            sink: RecordingHttpServer::start(0).await,
        }
    }

    /// Starts replica `id` (not waiting for it).
    fn start(&self, id: &str) -> Replica {
        let proc = Proc::start(
            &[
                "drive",
                "--event-patterns",
                &self.patterns,
                "--queue-name",
                &self.queue,
                "--instance",
                &self.instance,
                "--sink",
                &self.sink.url,
                "--duration",
                "1",
                "--drain-timeout",
                "10",
                "--clean-up",
                "--replica-id",
                id,
                "--lease-ttl",
                LEASE_TTL,
            ],
            &[],
        );
        Replica {
            id: id.to_owned(),
            proc,
        }
    }

    /// Puts event number `n` (round robin over the patterns); returns its id.
    async fn put(&self, n: usize) -> String {
        let source = &self.sources[n % self.sources.len()];
        put_event(
            &self.config,
            "default",
            source,
            "OrderPlaced",
            &format!(r#"{{"n":{n}}}"#),
        )
        .await
    }

    /// Waits (bounded) until every id in `ids` was accepted by the sink.
    async fn wait_delivered(&self, ids: &[String]) {
        let mut missing: Vec<String> = ids.to_vec();
        let deadline = tokio::time::Instant::now() + DELIVERY;
        loop {
            let accepted: HashSet<String> = self
                .sink
                .accepted()
                .iter()
                .filter_map(|r| r.headers.get("ce-id").cloned())
                .collect();
            missing.retain(|id| !accepted.contains(id));
            if missing.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {} events never reached the sink within {DELIVERY:?}: {missing:?}",
                missing.len(),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn rule_prefix(&self) -> String {
        format!("eventferry-{}", self.instance)
    }

    /// The deployment's resources are all there, once: one queue, one rule per pattern with one
    /// target each, and one policy statement for the instance.
    async fn assert_intact(&self, when: &str) {
        let queues = queues_with_prefix(&self.config, &self.queue).await;
        assert_eq!(queues.len(), 1, "{when}: exactly one queue: {queues:?}");
        let url = queue_url(&self.config, &self.queue)
            .await
            .unwrap_or_else(|| panic!("{when}: queue {} does not exist", self.queue));
        let rules = rules_with_prefix(&self.config, "default", &self.rule_prefix()).await;
        assert_eq!(
            rules.len(),
            self.sources.len(),
            "{when}: one rule per pattern: {rules:?}"
        );
        for rule in &rules {
            let targets = rule_target_ids(&self.config, "default", rule).await;
            assert_eq!(
                targets.len(),
                1,
                "{when}: one target on rule {rule}: {targets:?}"
            );
        }
        let sids = queue_policy_sids(&self.config, &url).await;
        let ours: Vec<&String> = sids
            .iter()
            .filter(|s| s.starts_with(&self.rule_prefix()))
            .collect();
        assert_eq!(
            ours,
            vec![&self.rule_prefix()],
            "{when}: one policy statement, Sid {}, for the instance; all Sids: {sids:?}",
            self.rule_prefix()
        );
    }

    /// Lease tag keys on the queue.
    async fn leases(&self) -> Vec<String> {
        let Some(url) = queue_url(&self.config, &self.queue).await else {
            return Vec::new();
        };
        let mut keys: Vec<String> = queue_tags(&self.config, &url)
            .await
            .into_keys()
            .filter(|k| k.starts_with("eventferry-lease:"))
            .collect();
        keys.sort();
        keys
    }

    /// Nothing of the deployment is left.
    async fn assert_nothing_left(&self, when: &str) {
        let left = leftovers(&self.config, &self.instance, &self.queue).await;
        assert!(left.is_empty(), "{when}: left behind: {left:?}");
    }
}

/// One `eventferry drive` process and its replica id.
struct Replica {
    id: String,
    proc: Proc,
}

impl Replica {
    async fn wait_ready(&self) {
        self.proc
            .wait_stderr(&format!("lease taken: replica {}", self.id), START)
            .await;
        self.proc.wait_stderr("receiving", START).await;
    }

    /// SIGTERM, then the exit status (bounded) and everything it wrote on stderr.
    async fn stop(&mut self) -> (Option<i32>, String) {
        self.proc.signal(SIGTERM);
        let code = self.proc.wait(STOP).await;
        (code, self.proc.stderr_text())
    }
}

#[tokio::test]
async fn a_concurrent_start_provisions_one_set_of_resources() {
    let d = Deployment::new("conc", 3).await;
    // All three spawned at the same moment.
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"].iter().map(|id| d.start(id)).collect();
    // Ready is awaited in turn; the processes started together.
    for r in &replicas {
        r.wait_ready().await;
    }
    d.assert_intact("after a concurrent start").await;
    assert_eq!(
        d.leases().await,
        ["r1", "r2", "r3"]
            .iter()
            .map(|r| format!("eventferry-lease:{}:{r}", d.instance))
            .collect::<Vec<_>>(),
        "every replica holds a lease"
    );

    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(d.put(n).await);
    }
    d.wait_delivered(&ids).await;

    // All three stopped at the same moment: whoever sees no other lease tears down; every
    // replica exits cleanly and nothing is left.
    for r in &replicas {
        r.proc.signal(SIGTERM);
    }
    // All were signalled: waiting for each in turn waits for them together.
    for r in &mut replicas {
        let code = r.proc.wait(STOP).await;
        assert_eq!(
            code,
            Some(0),
            "replica {} exit status; stderr:\n{}",
            r.id,
            r.proc.stderr_text()
        );
    }
    d.assert_nothing_left("after all three stopped together")
        .await;
}

#[tokio::test]
async fn a_rolling_restart_removes_nothing_until_the_last_replica_leaves() {
    let d = Arc::new(Deployment::new("roll", 2).await);
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"].iter().map(|id| d.start(id)).collect();
    for r in &replicas {
        r.wait_ready().await;
    }
    d.assert_intact("before the restart").await;

    // Events put all through the restart, one every 200 ms.
    let stop_sending = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let sender = {
        let (d, stop_sending, sent) = (d.clone(), stop_sending.clone(), sent.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop_sending.load(Ordering::SeqCst) {
                let id = d.put(n).await;
                sent.lock().unwrap().push(id);
                n += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    for (slot, next_id) in ["r1b", "r2b", "r3b"].iter().enumerate() {
        let leaving = &mut replicas[slot];
        let old_id = leaving.id.clone();
        let (code, stderr) = leaving.stop().await;
        assert_eq!(
            code,
            Some(0),
            "replica {old_id} exit status; stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(SKIPPED),
            "replica {old_id} left while two others held leases: it must skip the clean-up; stderr:\n{stderr}"
        );
        d.assert_intact(&format!("after {old_id} left")).await;
        let fresh = d.start(next_id);
        fresh.wait_ready().await;
        replicas[slot] = fresh;
    }
    d.assert_intact("after the rolling restart").await;

    stop_sending.store(true, Ordering::SeqCst);
    eventferry_tests::within(Duration::from_secs(30), "the sender to stop", sender)
        .await
        .expect("sender task");
    let ids = sent.lock().unwrap().clone();
    assert!(
        ids.len() >= 10,
        "the restart took long enough for some events"
    );
    d.wait_delivered(&ids).await;

    // Stopped one by one: the first two skip the clean-up, the last removes everything.
    let last = replicas.len() - 1;
    for (i, r) in replicas.iter_mut().enumerate() {
        let (code, stderr) = r.stop().await;
        assert_eq!(
            code,
            Some(0),
            "replica {} exit status; stderr:\n{stderr}",
            r.id
        );
        if i < last {
            assert!(stderr.contains(SKIPPED), "replica {}: {stderr}", r.id);
            d.assert_intact(&format!("after {} left", r.id)).await;
        } else {
            assert!(
                !stderr.contains(SKIPPED),
                "the last replica out must clean up; stderr:\n{stderr}"
            );
        }
    }
    d.assert_nothing_left("after the last replica left").await;
}

#[tokio::test]
async fn a_sigkilled_replica_does_not_block_the_final_clean_up() {
    let d = Deployment::new("kill", 2).await;
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"].iter().map(|id| d.start(id)).collect();
    for r in &replicas {
        r.wait_ready().await;
    }
    let before = d.put(0).await;
    d.wait_delivered(&[before]).await;

    replicas[0].proc.signal(SIGKILL);
    replicas[0].proc.wait(STOP).await;
    let after = d.put(1).await;
    d.wait_delivered(&[after]).await;

    // r2 leaves while r3 renews its lease: skipped, everything stays.
    let (code, stderr) = replicas[1].stop().await;
    assert_eq!(code, Some(0), "r2 exit status; stderr:\n{stderr}");
    assert!(
        stderr.contains(SKIPPED),
        "r2 with r3 alive; stderr:\n{stderr}"
    );
    d.assert_intact("after r2 left").await;

    // r3 is the last live replica: r1's lease is never renewed, so it tears down once that
    // lease expired (the stop is bounded by STOP, which is far above the TTL).
    let (code, stderr) = replicas[2].stop().await;
    assert_eq!(code, Some(0), "r3 exit status; stderr:\n{stderr}");
    assert!(
        !stderr.contains(SKIPPED),
        "r3 is the last live replica and must clean up; stderr:\n{stderr}"
    );
    d.assert_nothing_left("after the last live replica left")
        .await;
}

/// When the joiner of [`join_while_the_last_one_leaves`] starts.
enum JoinAt {
    /// As the leaver gets SIGTERM (it is still draining).
    Signal,
    /// Once the leaver's closing marker is on the queue (it is deciding whether to tear down).
    ClosingMarker,
    /// Once the leaver's teardown has begun (a rule or the queue is gone).
    Teardown,
}

#[tokio::test]
async fn a_replica_joining_as_the_last_one_gets_sigterm_ends_with_a_working_deployment() {
    join_while_the_last_one_leaves("joinsig", JoinAt::Signal).await;
}

#[tokio::test]
async fn a_replica_joining_as_the_last_one_closes_ends_with_a_working_deployment() {
    join_while_the_last_one_leaves("joinclose", JoinAt::ClosingMarker).await;
}

#[tokio::test]
async fn a_replica_joining_during_the_teardown_provisions_again() {
    join_while_the_last_one_leaves("jointear", JoinAt::Teardown).await;
}

/// The last replica leaves with --clean-up while another joins. Either the leaver sees the
/// joiner's lease and stays, or the joiner sees the closing marker, waits for the teardown and
/// provisions again (waiting out QueueDeletedRecently). Both must end with a whole deployment
/// that delivers, and nothing left once the joiner leaves too.
async fn join_while_the_last_one_leaves(tag: &str, at: JoinAt) {
    let d = Deployment::new(tag, 1).await;
    let mut leaver = d.start("r1");
    leaver.wait_ready().await;
    let url = queue_url(&d.config, &d.queue).await.expect("the queue");
    leaver.proc.signal(SIGTERM);
    match at {
        JoinAt::Signal => leaver.proc.wait_stderr("signal received", STOP).await,
        JoinAt::ClosingMarker => {
            let marker = format!("eventferry-closing:{}:r1", d.instance);
            let deadline = tokio::time::Instant::now() + STOP;
            while !queue_tags(&d.config, &url).await.contains_key(&marker) {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no closing marker {marker} within {STOP:?}; stderr:\n{}",
                    leaver.proc.stderr_text()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        JoinAt::Teardown => {
            let deadline = tokio::time::Instant::now() + STOP;
            loop {
                let rules = rules_with_prefix(&d.config, "default", &d.rule_prefix()).await;
                if rules.len() < d.sources.len() || queue_url(&d.config, &d.queue).await.is_none() {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no teardown within {STOP:?}; stderr:\n{}",
                    leaver.proc.stderr_text()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let mut joiner = d.start("r2");
    let code = leaver.proc.wait(STOP).await;
    assert_eq!(
        code,
        Some(0),
        "r1 exit status; stderr:\n{}",
        leaver.proc.stderr_text()
    );
    joiner.wait_ready().await;
    let path = if leaver.proc.stderr_text().contains(SKIPPED) {
        "the leaver saw the joiner and stayed"
    } else {
        "the leaver tore down; the joiner provisioned again"
    };
    eprintln!("race outcome: {path}");
    if matches!(at, JoinAt::Teardown) {
        assert!(
            !leaver.proc.stderr_text().contains(SKIPPED),
            "the teardown had begun: the leaver cannot have stayed"
        );
    }
    d.assert_intact(&format!("after the join ({path})")).await;
    assert_eq!(
        d.leases().await,
        vec![format!("eventferry-lease:{}:r2", d.instance)],
        "only the joiner holds a lease ({path})"
    );
    let id = d.put(0).await;
    d.wait_delivered(&[id]).await;

    let (code, stderr) = joiner.stop().await;
    assert_eq!(code, Some(0), "r2 exit status; stderr:\n{stderr}");
    d.assert_nothing_left("after the joiner left").await;
}
