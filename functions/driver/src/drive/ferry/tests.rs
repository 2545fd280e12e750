//! The loop's guarantees, in-process: an in-memory queue with SQS's visibility semantics behind
//! `MessageQueue`, and sinks that succeed, fail or hang on demand. Time is paused, so backoffs and
//! visibility timeouts run instantly and deterministically.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use eventferry_aws::AwsError;

use super::*;
use crate::drive::sink::DeliveryError;

#[derive(Default)]
struct Stored {
    body: String,
    visible_at: Option<Instant>,
    receives: u32,
    deleted: bool,
}

/// Messages with visibility timeouts and receive counts, like SQS.
#[derive(Default)]
struct MemQueue {
    messages: Mutex<Vec<Stored>>,
    visibility: Duration,
    visibility_changes: Mutex<Vec<(String, i32)>>,
    delete_calls: Mutex<Vec<usize>>,
    /// How long one DeleteMessageBatch takes, and how many ran at once at most.
    delete_delay: Duration,
    deleting: std::sync::atomic::AtomicUsize,
    max_deleting: std::sync::atomic::AtomicUsize,
    /// ReceiveMessage calls so far.
    receive_calls: std::sync::atomic::AtomicUsize,
    /// The `AWSTraceHeader` of message `i`, for the first messages.
    trace_headers: Vec<&'static str>,
}

impl MemQueue {
    fn with(bodies: &[String], visibility: Duration) -> Self {
        MemQueue {
            messages: Mutex::new(
                bodies
                    .iter()
                    .map(|b| Stored {
                        body: b.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            visibility,
            ..Default::default()
        }
    }
    fn deleted(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.body.clone())
            .collect()
    }
    fn receives(&self, body: &str) -> u32 {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.body == body)
            .map_or(0, |m| m.receives)
    }
}

fn index(receipt_handle: &str) -> usize {
    receipt_handle.split('#').next().unwrap().parse().unwrap()
}

impl MessageQueue for MemQueue {
    async fn receive(&self, max: i32, wait_secs: i32) -> Result<Vec<ReceivedMessage>, AwsError> {
        self.receive_calls.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(wait_secs as u64);
        loop {
            let now = Instant::now();
            let mut out = Vec::new();
            for (i, m) in self.messages.lock().unwrap().iter_mut().enumerate() {
                if out.len() as i32 == max {
                    break;
                }
                if !m.deleted && m.visible_at.is_none_or(|t| t <= now) {
                    m.receives += 1;
                    m.visible_at = Some(now + self.visibility);
                    let mut attributes = HashMap::from([
                        ("ApproximateReceiveCount".into(), m.receives.to_string()),
                        ("SentTimestamp".into(), "1700000000000".into()),
                    ]);
                    if let Some(header) = self.trace_headers.get(i) {
                        attributes.insert("AWSTraceHeader".into(), (*header).to_owned());
                    }
                    out.push(ReceivedMessage {
                        message_id: format!("mid-{i}"),
                        receipt_handle: format!("{i}#{}", m.receives),
                        body: m.body.clone(),
                        attributes,
                    });
                }
            }
            if !out.is_empty() || now >= deadline {
                return Ok(out);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn delete_batch(&self, receipts: &[Receipt]) -> Result<Vec<String>, AwsError> {
        self.delete_calls.lock().unwrap().push(receipts.len());
        if !self.delete_delay.is_zero() {
            let now = self.deleting.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_deleting.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delete_delay).await;
            self.deleting.fetch_sub(1, Ordering::SeqCst);
        }
        let mut messages = self.messages.lock().unwrap();
        for r in receipts {
            messages[index(&r.receipt_handle)].deleted = true;
        }
        Ok(Vec::new())
    }

    async fn change_visibility(&self, receipt_handle: &str, secs: i32) -> Result<(), AwsError> {
        self.visibility_changes
            .lock()
            .unwrap()
            .push((receipt_handle.to_owned(), secs));
        self.messages.lock().unwrap()[index(receipt_handle)].visible_at =
            Some(Instant::now() + Duration::from_secs(secs as u64));
        Ok(())
    }
}

/// Fails the first `fail_first` attempts of each event, takes `delay` per delivery, and records
/// what it acknowledged, noting whether the message was already deleted at that moment.
struct TestSink {
    fail_first: u32,
    delay: Duration,
    attempts: Mutex<HashMap<String, u32>>,
    acked: Mutex<Vec<String>>,
}

impl TestSink {
    fn new(fail_first: u32, delay: Duration) -> Self {
        TestSink {
            fail_first,
            delay,
            attempts: Mutex::default(),
            acked: Mutex::default(),
        }
    }
}

impl Sink for TestSink {
    async fn deliver(&self, event: &cloudevents::Event) -> Result<(), DeliveryError> {
        tokio::time::sleep(self.delay).await;
        let id = event.id().to_owned();
        let n = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        if n <= self.fail_first {
            return Err(DeliveryError::Status { status: 503 });
        }
        self.acked.lock().unwrap().push(id);
        Ok(())
    }
}

fn config(peek: bool) -> FerryConfig {
    FerryConfig {
        concurrency: 2,
        wait_secs: 1,
        visibility_timeout: 30,
        max_in_flight: 20,
        drain_timeout: Duration::from_secs(60),
        peek,
        delete_interval: Duration::from_millis(50),
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
        mapping: MappingOptions::default(),
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        trace_new: false,
        spans: None,
        max_rate: None,
        sink_batch: 1,
        sink_batch_wait: Duration::from_millis(50),
    }
}

fn envelope(i: usize) -> String {
    format!(
        r#"{{"version":"0","id":"ev-{i}","detail-type":"Demo","source":"demo.app","account":"000000000000","time":"2026-11-23T10:00:00Z","region":"us-east-1","resources":[],"detail":{{"n":{i}}}}}"#
    )
}

/// Run the loop until `done` holds (checked every 100 ms of paused time), then shut it down.
async fn run_until<S: Sink>(
    queue: Arc<MemQueue>,
    sink: Arc<S>,
    config: FerryConfig,
    done: impl Fn(&MemQueue, &S) -> bool,
) -> (DrainReport, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        queue.clone(),
        sink.clone(),
        config,
        metrics.clone(),
        shutdown.clone(),
    ));
    let limit = Instant::now() + Duration::from_secs(3600);
    while !done(&queue, &sink) {
        assert!(
            Instant::now() < limit,
            "condition not reached within an hour of paused time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    (task.await.unwrap(), metrics)
}

#[tokio::test(start_paused = true)]
async fn every_message_is_delivered_once_then_deleted_in_batches() {
    let bodies: Vec<String> = (0..25).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::from_millis(5)));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.deleted().len() == 25
    })
    .await;

    let acked: HashSet<String> = sink.acked.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        acked,
        (0..25).map(|i| format!("ev-{i}")).collect(),
        "CloudEvent id is the EventBridge id"
    );
    assert_eq!(
        sink.acked.lock().unwrap().len(),
        25,
        "no duplicates when nothing fails"
    );
    assert!(queue
        .delete_calls
        .lock()
        .unwrap()
        .iter()
        .all(|&n| (1..=10).contains(&n)));
    assert!(
        queue.delete_calls.lock().unwrap().len() < 25,
        "deletes are batched"
    );
    assert_eq!(Metrics::get(&metrics.deleted), 25);
    assert_eq!(Metrics::get(&metrics.delivery_failures), 0);
}

/// A slow DeleteMessageBatch must not cap throughput: up to one delete per poll task runs at
/// once, never more, and every message is still deleted exactly once.
#[tokio::test(start_paused = true)]
async fn deletes_run_in_parallel_up_to_the_concurrency() {
    let bodies: Vec<String> = (0..200).map(envelope).collect();
    let mut queue = MemQueue::with(&bodies, Duration::from_secs(30));
    queue.delete_delay = Duration::from_millis(200);
    let queue = Arc::new(queue);
    let sink = Arc::new(TestSink::new(0, Duration::from_millis(1)));
    let mut cfg = config(false);
    cfg.concurrency = 4;
    cfg.max_in_flight = 40;
    let (_, metrics) = run_until(queue.clone(), sink.clone(), cfg, |q, _| {
        q.deleted().len() == 200
    })
    .await;
    let most = queue.max_deleting.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "{most} deletes at once");
    assert_eq!(Metrics::get(&metrics.deleted), 200);
    assert_eq!(sink.acked.lock().unwrap().len(), 200, "no redeliveries");
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_keeps_the_message_until_it_acknowledges() {
    let bodies = vec![envelope(7)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(3, Duration::ZERO));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        !q.deleted().is_empty()
    })
    .await;

    assert_eq!(
        sink.attempts.lock().unwrap()["ev-7"],
        4,
        "three failures, then success"
    );
    assert_eq!(
        queue.receives(&bodies[0]),
        4,
        "each retry is a redelivery from the queue"
    );
    assert_eq!(*sink.acked.lock().unwrap(), vec!["ev-7".to_string()]);
    // Backoffs grow: 1 s, 2 s, 4 s (±20%), set through ChangeMessageVisibility.
    let backoffs: Vec<i32> = queue
        .visibility_changes
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(backoffs.len(), 3, "{backoffs:?}");
    assert!(backoffs.windows(2).all(|w| w[0] <= w[1]), "{backoffs:?}");
    assert_eq!(Metrics::get(&metrics.delivery_failures), 3);
}

#[tokio::test(start_paused = true)]
async fn slow_deliveries_extend_visibility_so_they_are_not_redelivered() {
    let bodies = vec![envelope(1)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    // Four visibility timeouts long.
    let sink = Arc::new(TestSink::new(0, Duration::from_secs(120)));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        !q.deleted().is_empty()
    })
    .await;

    assert_eq!(queue.receives(&bodies[0]), 1, "never handed out twice");
    assert!(
        Metrics::get(&metrics.visibility_extensions) >= 7,
        "extended every 15 s for 120 s"
    );
    assert_eq!(sink.acked.lock().unwrap().len(), 1);
}

/// `ev-0` fails at once on its first attempt; every other event succeeds after two minutes.
struct OneFastFailure;

impl Sink for OneFastFailure {
    async fn deliver(&self, event: &cloudevents::Event) -> Result<(), DeliveryError> {
        if event.id() == "ev-0" {
            static FAILED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if !FAILED.swap(true, Ordering::SeqCst) {
                return Err(DeliveryError::Status { status: 503 });
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(120)).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn only_messages_still_in_delivery_are_kept_hidden() {
    // One receive: ev-0 fails at once and backs off, ev-1 takes four visibility timeouts.
    let bodies = vec![envelope(0), envelope(1)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    run_until(
        queue.clone(),
        Arc::new(OneFastFailure),
        config(false),
        |q, _| q.deleted().len() == 2,
    )
    .await;

    let changes = queue.visibility_changes.lock().unwrap().clone();
    let of = |receipt: &str| -> Vec<i32> {
        changes
            .iter()
            .filter(|(r, _)| r == receipt)
            .map(|(_, secs)| *secs)
            .collect()
    };
    // The failed message's only change is its backoff (1 s, jittered): the slow one's
    // extensions every 15 s never override it.
    assert_eq!(of("0#1").len(), 1, "{changes:?}");
    assert!(of("0#1")[0] <= 1, "{changes:?}");
    let extended = of("1#1");
    assert!(
        extended.len() >= 7,
        "extended every 15 s for 120 s: {changes:?}"
    );
    assert!(extended.iter().all(|secs| *secs == 30), "{changes:?}");
    assert_eq!(queue.receives(&bodies[1]), 1, "never handed out twice");
    assert_eq!(
        queue.receives(&bodies[0]),
        2,
        "redelivered once after its backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_in_flight_deliveries_and_flushes_deletes() {
    let bodies: Vec<String> = (0..5).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::from_secs(10)));
    // Signal as soon as all five are in flight, long before any finishes.
    let (report, _) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.messages.lock().unwrap().iter().all(|m| m.receives == 1)
    })
    .await;
    assert_eq!(report.in_flight_at_signal, 5);
    assert_eq!(report.abandoned, 0);
    assert_eq!(
        queue.deleted().len(),
        5,
        "drained deliveries are deleted before the loop returns"
    );
}

#[tokio::test(start_paused = true)]
async fn the_drain_timeout_abandons_deliveries_without_deleting() {
    let bodies = vec![envelope(1)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::from_secs(600)));
    let mut cfg = config(false);
    cfg.drain_timeout = Duration::from_secs(5);
    let (report, _) = run_until(queue.clone(), sink.clone(), cfg, |q, _| {
        q.receives(&bodies[0]) == 1
    })
    .await;
    assert_eq!(report.abandoned, 1);
    assert!(
        queue.deleted().is_empty(),
        "an unacknowledged message is never deleted"
    );
    assert!(sink.acked.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn peek_never_delivers_or_deletes() {
    let bodies: Vec<String> = (0..3).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::ZERO));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(true), |q, _| {
        q.messages.lock().unwrap().iter().all(|m| m.receives >= 2)
    })
    .await;
    assert!(queue.deleted().is_empty());
    assert!(sink.acked.lock().unwrap().is_empty());
    assert!(
        Metrics::get(&metrics.received) >= 6,
        "messages come back after their visibility timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn hostile_bodies_are_delivered_as_sqs_messages() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let bodies = vec![
        "not json at all".to_string(),
        "x".repeat(256 * 1024),
        deep,
        r#"{"version":"0","id":5,"detail-type":[],"source":{},"account":1,"time":"yesterday","region":null,"detail":"x"}"#.into(),
        r#"{"specversion":"1.0","type":"t"}"#.into(),
        "\u{0}\u{feff}\u{1F600}\u{202E}ütf\u{10FFFF}".into(),
    ];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::ZERO));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.deleted().len() == 6
    })
    .await;
    let acked: HashSet<String> = sink.acked.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        acked,
        (0..6).map(|i| format!("mid-{i}")).collect(),
        "id = MessageId for non-EventBridge bodies"
    );
    assert_eq!(Metrics::get(&metrics.conversion_failures), 0);
}

/// A sink that throttles like Lambda: the first `throttle_first` calls of each event, and any
/// call beyond `capacity` at once, answer [`DeliveryError::Throttled`] (the function did not
/// run). Each call takes `delay`.
struct ThrottlingSink {
    throttle_first: u32,
    capacity: usize,
    retry_after: Option<Duration>,
    delay: Duration,
    calls: Mutex<HashMap<String, u32>>,
    running: std::sync::atomic::AtomicUsize,
    most_running: std::sync::atomic::AtomicUsize,
    acked: Mutex<Vec<String>>,
}

impl ThrottlingSink {
    fn new(throttle_first: u32, capacity: usize, retry_after: Option<Duration>) -> Self {
        ThrottlingSink {
            throttle_first,
            capacity,
            retry_after,
            delay: Duration::from_millis(100),
            calls: Mutex::default(),
            running: Default::default(),
            most_running: Default::default(),
            acked: Mutex::default(),
        }
    }
}

impl Sink for ThrottlingSink {
    async fn deliver(&self, event: &cloudevents::Event) -> Result<(), DeliveryError> {
        let id = event.id().to_owned();
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(running, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        if call <= self.throttle_first || running > self.capacity {
            return Err(DeliveryError::Throttled {
                retry_after: self.retry_after,
                detail: "Rate Exceeded.".into(),
            });
        }
        self.acked.lock().unwrap().push(id);
        Ok(())
    }
}

/// A throttle is not a failed delivery: the message is not given back to the queue (no
/// redelivery, no step towards the DLQ), it stays hidden while the delivery waits out
/// `Retry-After`, and the throttles are counted.
#[tokio::test(start_paused = true)]
async fn throttled_deliveries_are_retried_in_process_not_failed() {
    let bodies: Vec<String> = (0..10).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    // Two throttles per event, each asking for 20 s: 40 s, longer than the visibility timeout.
    let sink = Arc::new(ThrottlingSink::new(
        2,
        usize::MAX,
        Some(Duration::from_secs(20)),
    ));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.deleted().len() == 10
    })
    .await;

    for body in &bodies {
        assert_eq!(queue.receives(body), 1, "never handed out again");
    }
    assert!(sink.calls.lock().unwrap().values().all(|&n| n == 3));
    assert_eq!(sink.acked.lock().unwrap().len(), 10);
    assert_eq!(Metrics::get(&metrics.delivery_failures), 0);
    assert_eq!(Metrics::get(&metrics.sink_throttles), 20);
    assert!(
        Metrics::get(&metrics.visibility_extensions) >= 10,
        "kept hidden while waiting"
    );
    // Every visibility change was an extension to the timeout, none a retry backoff.
    assert!(queue
        .visibility_changes
        .lock()
        .unwrap()
        .iter()
        .all(|(_, secs)| *secs == 30));
}

/// A function that can run 3 at once, behind `max_in_flight` 20: the limit comes down, so most
/// calls go through rather than being throttled, and every event is delivered exactly once.
#[tokio::test(start_paused = true)]
async fn calls_at_once_adapt_to_the_functions_capacity() {
    let bodies: Vec<String> = (0..200).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(ThrottlingSink::new(0, 3, None));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.deleted().len() == 200
    })
    .await;

    assert_eq!(sink.acked.lock().unwrap().len(), 200, "each exactly once");
    assert!(bodies.iter().all(|b| queue.receives(b) == 1));
    assert_eq!(Metrics::get(&metrics.delivery_failures), 0);
    let throttles = Metrics::get(&metrics.sink_throttles);
    // At a fixed 20 at once, 17 of every 20 calls would be throttled (thousands in all).
    assert!(
        (1..200).contains(&throttles),
        "{throttles} throttles for 200 events"
    );
    assert!(sink.most_running.load(Ordering::SeqCst) <= 20);
    let limit = metrics.sink_concurrency_limit.load(Ordering::Relaxed);
    assert!((1..20).contains(&limit), "limit {limit}");
}

/// A sink that throttles for longer than THROTTLE_PATIENCE: then it is a failed delivery after
/// all (backoff, redelivery, the DLQ eventually).
#[tokio::test(start_paused = true)]
async fn a_throttle_that_never_ends_becomes_a_failed_delivery() {
    let bodies = vec![envelope(3)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(ThrottlingSink::new(
        u32::MAX,
        usize::MAX,
        Some(Duration::from_secs(30)),
    ));
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config(false), |q, _| {
        q.visibility_changes
            .lock()
            .unwrap()
            .iter()
            .any(|(_, secs)| *secs < 30)
    })
    .await;
    assert_eq!(Metrics::get(&metrics.delivery_failures), 1);
    // 15 minutes of waits of 30 to 37.5 s.
    let throttles = Metrics::get(&metrics.sink_throttles);
    assert!((24..=31).contains(&throttles), "{throttles}");
    assert!(sink.acked.lock().unwrap().is_empty());
}

/// A function error (the function ran) is a failed delivery at once, as before.
#[tokio::test(start_paused = true)]
async fn a_function_error_is_not_a_throttle() {
    struct Failing;
    impl Sink for Failing {
        async fn deliver(&self, _: &cloudevents::Event) -> Result<(), DeliveryError> {
            Err(DeliveryError::Function {
                error: "Unhandled".into(),
            })
        }
    }
    let bodies = vec![envelope(4)];
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let (_, metrics) = run_until(queue.clone(), Arc::new(Failing), config(false), |q, _| {
        q.receives(&bodies[0]) >= 2
    })
    .await;
    assert!(Metrics::get(&metrics.delivery_failures) >= 1);
    assert_eq!(Metrics::get(&metrics.sink_throttles), 0);
    assert_eq!(metrics.sink_concurrency_limit.load(Ordering::Relaxed), 20);
}

#[test]
fn the_idle_pause_doubles_from_100_ms_to_2_s() {
    let mut pause = Duration::ZERO;
    let mut seen = Vec::new();
    for _ in 0..7 {
        pause = next_idle_pause(pause);
        seen.push(pause.as_millis());
    }
    assert_eq!(seen, [100, 200, 400, 800, 1600, 2000, 2000]);
}

/// `--duration 0` (short polls) on an empty queue: the poll task pauses between empty receives
/// instead of spinning, and a message that arrives is still received (within the longest pause).
#[tokio::test(start_paused = true)]
async fn empty_short_polls_back_off_and_a_message_still_arrives() {
    let queue = Arc::new(MemQueue::with(&[], Duration::from_secs(30)));
    let sink = Arc::new(TestSink::new(0, Duration::ZERO));
    let mut short = config(false);
    short.wait_secs = 0;
    short.concurrency = 1;
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        queue.clone(),
        sink.clone(),
        short,
        metrics.clone(),
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Pauses of 0.1, 0.2, 0.4, 0.8, 1.6, then 2 s: 9 receives in 10 s (a spinning loop makes
    // millions, and paused time would never advance).
    let idle_calls = queue.receive_calls.load(Ordering::SeqCst);
    assert!((5..=12).contains(&idle_calls), "{idle_calls} receives");
    queue.messages.lock().unwrap().push(Stored {
        body: envelope(7),
        ..Default::default()
    });
    let limit = Instant::now() + Duration::from_secs(60);
    while queue.deleted().is_empty() {
        assert!(Instant::now() < limit, "the message was not delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(*sink.acked.lock().unwrap(), ["ev-7"]);
}

/// Records each delivered event's `traceparent`, by event id.
#[derive(Default)]
struct TraceSink {
    traces: Mutex<HashMap<String, Option<String>>>,
}

impl Sink for TraceSink {
    async fn deliver(&self, event: &cloudevents::Event) -> Result<(), DeliveryError> {
        let trace = event.extension("traceparent").map(|v| v.to_string());
        self.traces
            .lock()
            .unwrap()
            .insert(event.id().to_owned(), trace);
        Ok(())
    }
}

async fn traces_of(trace_new: bool) -> HashMap<String, Option<String>> {
    let bodies: Vec<String> = (0..3).map(envelope).collect();
    let queue = Arc::new(MemQueue {
        trace_headers: vec![
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "not an X-Ray header",
        ],
        ..MemQueue::with(&bodies, Duration::from_secs(30))
    });
    let sink = Arc::new(TraceSink::default());
    let config = FerryConfig {
        trace_new,
        ..config(false)
    };
    run_until(queue, sink.clone(), config, |q, _| q.deleted().len() == 3).await;
    let traces = sink.traces.lock().unwrap().clone();
    traces
}

#[tokio::test(start_paused = true)]
async fn the_aws_trace_header_reaches_the_sink_as_traceparent() {
    let traces = traces_of(false).await;
    assert_eq!(
        traces["ev-0"].as_deref(),
        Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
    );
    assert_eq!(traces["ev-1"], None, "an invalid header is no trace");
    assert_eq!(
        traces["ev-2"], None,
        "no header, no trace without --trace-new"
    );
}

#[tokio::test(start_paused = true)]
async fn trace_new_starts_a_sampled_root_only_where_there_is_no_trace() {
    let traces = traces_of(true).await;
    assert_eq!(
        traces["ev-0"].as_deref(),
        Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
    );
    let (one, two) = (
        traces["ev-1"].clone().unwrap(),
        traces["ev-2"].clone().unwrap(),
    );
    for new in [&one, &two] {
        let ctx = eventferry_core::trace::TraceContext::from_traceparent(new).unwrap();
        assert!(ctx.sampled(), "{new}");
    }
    assert_ne!(one[3..35], two[3..35], "each new root has its own trace id");
}

/// A sink that notes when each delivery arrives (paused time).
#[derive(Default)]
struct ClockSink {
    arrivals: Mutex<Vec<Duration>>,
    fail_every: usize,
    start: std::sync::OnceLock<Instant>,
}

impl Sink for ClockSink {
    async fn deliver(&self, _event: &cloudevents::Event) -> Result<(), DeliveryError> {
        let start = *self.start.get_or_init(Instant::now);
        let mut arrivals = self.arrivals.lock().unwrap();
        arrivals.push(start.elapsed());
        if self.fail_every > 0 && arrivals.len().is_multiple_of(self.fail_every) {
            return Err(DeliveryError::Status { status: 503 });
        }
        Ok(())
    }
}

/// --max-rate: a backlog of 60 drains at 5 per second (after one burst of 5), failures and their
/// retries included, and every message is still delivered and deleted.
#[tokio::test(start_paused = true)]
async fn max_rate_paces_a_backlog_and_loses_nothing() {
    let bodies: Vec<String> = (0..60).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(ClockSink {
        fail_every: 7,
        ..ClockSink::default()
    });
    let config = FerryConfig {
        max_rate: Some(5.0),
        concurrency: 4,
        base_backoff: Duration::from_millis(100),
        ..config(false)
    };
    let (_, metrics) = run_until(queue.clone(), sink.clone(), config, |q, _| {
        q.deleted().len() == 60
    })
    .await;
    assert_eq!(Metrics::get(&metrics.deleted), 60);
    let arrivals = sink.arrivals.lock().unwrap().clone();
    assert!(arrivals.len() > 60, "the failed deliveries were retried");
    // Arrivals in any one-second window: at most the rate plus the burst.
    for (i, first) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|t| **t < *first + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 10,
            "{in_window} arrivals within 1 s from {first:?}"
        );
    }
    let last = *arrivals.last().unwrap();
    assert!(
        last >= Duration::from_secs(((arrivals.len() - 5) / 5) as u64 - 1),
        "{} arrivals by {last:?}: faster than 5 per second",
        arrivals.len()
    );
}

/// Records each batch (event ids) and when it came; fails the first `fail_batches` batches, and
/// takes `delay` per batch.
#[derive(Default)]
struct BatchSink {
    fail_batches: usize,
    delay: Duration,
    batches: Mutex<Vec<(Vec<String>, Instant)>>,
    singles: std::sync::atomic::AtomicUsize,
}

impl Sink for BatchSink {
    async fn deliver(&self, _: &cloudevents::Event) -> Result<(), DeliveryError> {
        self.singles.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn deliver_batch(&self, events: &[Arc<cloudevents::Event>]) -> Result<(), DeliveryError> {
        tokio::time::sleep(self.delay).await;
        let mut batches = self.batches.lock().unwrap();
        batches.push((
            events.iter().map(|e| e.id().to_owned()).collect(),
            Instant::now(),
        ));
        if batches.len() <= self.fail_batches {
            return Err(DeliveryError::Status { status: 500 });
        }
        Ok(())
    }
}

fn batched(size: usize, wait: Duration) -> FerryConfig {
    FerryConfig {
        sink_batch: size,
        sink_batch_wait: wait,
        max_in_flight: 40,
        ..config(false)
    }
}

/// --sink-batch 10: 25 messages go in batches of at most 10, one call each (never the single
/// path), the first batch fails as a whole (none of its messages deleted: each comes back), and in
/// the end every event was acknowledged and every message deleted.
#[tokio::test(start_paused = true)]
async fn a_failed_batch_keeps_all_its_messages_and_they_come_back() {
    let bodies: Vec<String> = (0..25).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(BatchSink {
        fail_batches: 1,
        ..BatchSink::default()
    });
    let (_, metrics) = run_until(
        queue.clone(),
        sink.clone(),
        batched(10, Duration::from_millis(50)),
        |q, _| q.deleted().len() == 25,
    )
    .await;
    let batches = sink.batches.lock().unwrap().clone();
    assert_eq!(sink.singles.load(Ordering::SeqCst), 0);
    assert!(batches.iter().all(|(ids, _)| (1..=10).contains(&ids.len())));
    let failed = &batches[0].0;
    for id in failed {
        let i: usize = id.trim_start_matches("ev-").parse().unwrap();
        assert_eq!(queue.receives(&bodies[i]), 2, "{id} came back once");
        assert!(
            batches[1..].iter().any(|(ids, _)| ids.contains(id)),
            "{id} was delivered again"
        );
    }
    let acked: HashSet<&String> = batches[1..].iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(acked.len(), 25, "every event acknowledged");
    assert_eq!(
        Metrics::get(&metrics.delivery_failures),
        failed.len() as u64
    );
    assert_eq!(Metrics::get(&metrics.delivered), 25);
    assert_eq!(Metrics::get(&metrics.deleted), 25);
    assert_eq!(Metrics::get(&metrics.sink_batches), batches.len() as u64);
    // Deletes still go in batches of at most 10 (SQS's limit).
    assert!(queue
        .delete_calls
        .lock()
        .unwrap()
        .iter()
        .all(|&n| (1..=10).contains(&n)));
}

/// A batch that is not full goes after --sink-batch-wait; at shutdown a partly filled batch is
/// sent at once (not after its wait), and its messages are deleted before the loop returns.
#[tokio::test(start_paused = true)]
async fn shutdown_sends_a_partly_filled_batch_at_once() {
    let bodies: Vec<String> = (0..5).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(BatchSink::default());
    let wait = Duration::from_secs(10);
    let started = Instant::now();
    let (report, metrics) = run_until(queue.clone(), sink.clone(), batched(10, wait), |q, _| {
        q.messages.lock().unwrap().iter().all(|m| m.receives == 1)
    })
    .await;
    assert_eq!(report.abandoned, 0);
    assert_eq!(queue.deleted().len(), 5);
    assert_eq!(Metrics::get(&metrics.deleted), 5);
    let batches = sink.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!(batches[0].0.len(), 5);
    assert!(
        batches[0].1 - started < wait,
        "sent at the shutdown, not after the wait"
    );

    // Without a shutdown, the wait sends it.
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(BatchSink::default());
    let started = Instant::now();
    run_until(queue.clone(), sink.clone(), batched(10, wait), |q, _| {
        q.deleted().len() == 5
    })
    .await;
    let batches = sink.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), 1);
    assert!(batches[0].1 - started >= wait, "waited for more events");
}

/// A batch still at the sink when the drain timeout ends: none of its messages is deleted.
#[tokio::test(start_paused = true)]
async fn the_drain_timeout_abandons_a_batch_without_deleting() {
    let bodies: Vec<String> = (0..4).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(BatchSink {
        delay: Duration::from_secs(600),
        ..BatchSink::default()
    });
    let mut cfg = batched(10, Duration::from_millis(50));
    cfg.drain_timeout = Duration::from_secs(5);
    let (report, metrics) = run_until(queue.clone(), sink.clone(), cfg, |q, _| {
        q.messages.lock().unwrap().iter().all(|m| m.receives == 1)
    })
    .await;
    assert_eq!(report.abandoned, 4);
    assert!(queue.deleted().is_empty());
    assert_eq!(Metrics::get(&metrics.deleted), 0);
}

/// --max-rate counts events, not batches: a backlog of 40 in batches of 10 still arrives at
/// 5 events per second.
#[tokio::test(start_paused = true)]
async fn max_rate_counts_the_events_of_a_batch() {
    let bodies: Vec<String> = (0..40).map(envelope).collect();
    let queue = Arc::new(MemQueue::with(&bodies, Duration::from_secs(30)));
    let sink = Arc::new(BatchSink::default());
    let config = FerryConfig {
        max_rate: Some(5.0),
        ..batched(10, Duration::from_millis(50))
    };
    let started = Instant::now();
    run_until(queue.clone(), sink.clone(), config, |q, _| {
        q.deleted().len() == 40
    })
    .await;
    let batches = sink.batches.lock().unwrap().clone();
    let events: usize = batches.iter().map(|(ids, _)| ids.len()).sum();
    assert_eq!(events, 40);
    let last = batches.last().unwrap().1 - started;
    // 5 at once (the bucket), then 35 more at 5 per second.
    assert!(last >= Duration::from_secs(6), "{last:?}");
}

/// Records each delivered event's data; says it sends data as it is when `as_is`.
struct DataSink {
    as_is: bool,
    data: Mutex<Vec<Option<cloudevents::Data>>>,
}

impl Sink for DataSink {
    fn sends_data_as_is(&self) -> bool {
        self.as_is
    }

    async fn deliver(&self, event: &cloudevents::Event) -> Result<(), DeliveryError> {
        self.data.lock().unwrap().push(event.data().cloned());
        Ok(())
    }
}

async fn data_of(
    as_is: bool,
    sink_batch: usize,
    bodies: &[String],
) -> Vec<Option<cloudevents::Data>> {
    let queue = Arc::new(MemQueue::with(bodies, Duration::from_secs(30)));
    let sink = Arc::new(DataSink {
        as_is,
        data: Mutex::default(),
    });
    let config = FerryConfig {
        sink_batch,
        ..config(false)
    };
    let n = bodies.len();
    run_until(queue, sink.clone(), config, |q, _| q.deleted().len() == n).await;
    let data = sink.data.lock().unwrap().clone();
    data
}

/// A sink that sends the data as it is gets a JSON body's own bytes (member order, whitespace
/// and escapes as sent); one that writes the structured form, or a batch, gets the parsed value.
#[tokio::test(start_paused = true)]
async fn json_bodies_reach_a_sink_that_sends_data_as_is_byte_for_byte() {
    let spaced = r#"{ "z": 1, "a": "caf\u00e9" }"#.to_owned();
    let bodies = vec![envelope(1), spaced.clone(), "plain text".to_owned()];
    let kinds = |data: &[Option<cloudevents::Data>]| {
        let mut kinds: Vec<String> = data
            .iter()
            .map(|d| match d {
                Some(cloudevents::Data::Binary(b)) => {
                    format!("bytes {}", String::from_utf8_lossy(b))
                }
                Some(cloudevents::Data::Json(v)) => format!("json {v}"),
                Some(cloudevents::Data::String(s)) => format!("text {s}"),
                None => "none".into(),
            })
            .collect();
        kinds.sort();
        kinds
    };
    let mut verbatim = vec![
        format!("bytes {}", envelope(1)),
        format!("bytes {spaced}"),
        "text plain text".to_owned(),
    ];
    verbatim.sort();
    assert_eq!(kinds(&data_of(true, 1, &bodies).await), verbatim);
    let parsed = |body: &str| {
        format!(
            "json {}",
            serde_json::from_str::<serde_json::Value>(body).unwrap()
        )
    };
    let mut values = vec![
        parsed(&envelope(1)),
        parsed(&spaced),
        "text plain text".to_owned(),
    ];
    values.sort();
    assert_eq!(kinds(&data_of(false, 1, &bodies).await), values);
    // Batched (the default deliver_batch calls deliver one by one): parsed, whatever the sink says.
    assert_eq!(kinds(&data_of(true, 3, &bodies).await), values);
}
