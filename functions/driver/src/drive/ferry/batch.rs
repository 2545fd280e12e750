//! `--sink-batch N`: events wait here until N have come, `--sink-batch-wait` has passed since the
//! first of them, or the driver stops receiving, then go to the sink in one call
//! ([`Sink::deliver_batch`]). Each event's own delivery task waits for its batch's answer: an
//! acknowledged batch lets every one of its messages be deleted, a failed one sends every one of
//! them down the failure path (backoff, redelivery, the DLQ), exactly as a single delivery would.
//! While it waits, the message is still in flight: it holds its `--max-in-flight` permit and its
//! visibility is extended as for any slow delivery.
//!
//! At shutdown (the poll tasks stop) a partly filled batch is sent at once, and so is anything
//! that arrives after it; at the drain timeout every wait is abandoned and its message, not
//! deleted, comes back. Nothing is deleted without its batch's acknowledgement.

use std::sync::Arc;
use std::time::Duration;

use cloudevents::Event;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deliver::{through_throttles, Subject};
use crate::drive::metrics::Metrics;
use crate::drive::sink::{DeliveryError, Sink};
use crate::drive::throttle::InvokeGate;

/// The answer every event of a batch gets.
pub type BatchOutcome = Result<(), Arc<DeliveryError>>;

/// One event waiting for its batch.
struct Waiting {
    event: Arc<Event>,
    reply: oneshot::Sender<BatchOutcome>,
}

/// How batches are cut.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Events per batch at most (`--sink-batch`, above 1).
    pub size: usize,
    /// The longest the first event of a batch waits for more (`--sink-batch-wait`).
    pub wait: Duration,
}

/// What a batch needs to go to the sink: the sink, its gate, the counters, and the token that
/// abandons everything at the drain timeout.
pub struct BatchSender<S> {
    pub sink: Arc<S>,
    pub gate: Arc<InvokeGate>,
    pub metrics: Arc<Metrics>,
    pub abort: CancellationToken,
}

impl<S> Clone for BatchSender<S> {
    fn clone(&self) -> Self {
        BatchSender {
            sink: self.sink.clone(),
            gate: self.gate.clone(),
            metrics: self.metrics.clone(),
            abort: self.abort.clone(),
        }
    }
}

/// Hands events to the collector; cheap to clone (one per delivery task).
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Waiting>,
}

impl Batcher {
    /// Start the collector. It ends once every `Batcher` is dropped and the batches it sent are
    /// answered; `stopping` (the poll tasks' shutdown) makes it send at once from then on.
    pub fn start<S: Sink>(
        settings: BatchSettings,
        sender: BatchSender<S>,
        stopping: CancellationToken,
    ) -> (Batcher, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.size.max(1) * 2);
        let task = tokio::spawn(collect(rx, settings, sender, stopping));
        (Batcher { tx }, task)
    }

    /// Put `event` in the batch being filled and wait for that batch's answer.
    pub async fn deliver(&self, event: Arc<Event>) -> BatchOutcome {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Waiting { event, reply }).await.is_err() {
            return Err(Arc::new(DeliveryError::Abandoned));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Arc::new(DeliveryError::Abandoned)))
    }
}

/// Fill batches from `rx`, send each when full, when its wait is over, or at once while stopping.
async fn collect<S: Sink>(
    mut rx: mpsc::Receiver<Waiting>,
    settings: BatchSettings,
    sender: BatchSender<S>,
    stopping: CancellationToken,
) {
    let mut pending: Vec<Waiting> = Vec::with_capacity(settings.size);
    // One timer, moved when a batch starts (the deleter's reason: ferry.rs).
    let send_at = tokio::time::sleep(settings.wait);
    tokio::pin!(send_at);
    let mut stopped = false;
    let mut sends = JoinSet::new();
    loop {
        let send_now = tokio::select! {
            item = rx.recv() => match item {
                Some(waiting) => {
                    if pending.is_empty() {
                        send_at.as_mut().reset(Instant::now() + settings.wait);
                    }
                    pending.push(waiting);
                    // Without a wait (0, or stopping): what has arrived, once nothing more is queued.
                    let no_wait = stopped || settings.wait.is_zero();
                    pending.len() >= settings.size || (no_wait && rx.is_empty())
                }
                None => break,
            },
            _ = &mut send_at, if !pending.is_empty() => true,
            _ = stopping.cancelled(), if !stopped => {
                stopped = true;
                true
            }
            Some(_) = sends.join_next(), if !sends.is_empty() => false,
        };
        if send_now && !pending.is_empty() {
            let batch = std::mem::replace(&mut pending, Vec::with_capacity(settings.size));
            sends.spawn(send(batch, sender.clone()));
        }
    }
    // Every Batcher is gone: whatever waited here belonged to abandoned deliveries.
    while sends.join_next().await.is_some() {}
}

/// One batch to the sink (through the gate, throttles waited out), and its answer to each event.
async fn send<S: Sink>(batch: Vec<Waiting>, sender: BatchSender<S>) {
    let (events, replies): (Vec<Arc<Event>>, Vec<oneshot::Sender<BatchOutcome>>) =
        batch.into_iter().map(|w| (w.event, w.reply)).unzip();
    Metrics::inc(&sender.metrics.sink_batches);
    let call = through_throttles(
        &sender.gate,
        &sender.metrics,
        Subject::Batch {
            events: events.len(),
        },
        || sender.sink.deliver_batch(&events),
    );
    let outcome = tokio::select! {
        // The drain timeout: nobody waits for the answer any more.
        _ = sender.abort.cancelled() => return,
        outcome = call => outcome.map_err(Arc::new),
    };
    for reply in replies {
        let _ = reply.send(outcome.clone());
    }
}
