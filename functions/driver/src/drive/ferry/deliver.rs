//! One sink call through the throttle gate: while the sink throttles (the function did not run),
//! wait (`Retry-After`, else a backoff) and call again, for up to [`THROTTLE_PATIENCE`]. Shared by
//! single deliveries and batches, so a batch is throttled, gated and retried as one call.

use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use crate::drive::metrics::Metrics;
use crate::drive::sink::DeliveryError;
use crate::drive::throttle::{throttle_wait, InvokeGate, THROTTLE_PATIENCE};

/// What a sink call carries, for the log lines of its throttles (formatted only then).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    One { id: &'a str, message_id: &'a str },
    Batch { events: usize },
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::One { id, message_id } => write!(f, "event {id} (message {message_id})"),
            Subject::Batch { events } => write!(f, "a batch of {events} events"),
        }
    }
}

/// Call the sink through the gate; while it throttles, wait and call again, for up to
/// [`THROTTLE_PATIENCE`]. A throttle that outlasts it is returned (a failed delivery); every
/// other answer is returned at once.
pub async fn through_throttles<F, Fut>(
    gate: &InvokeGate,
    metrics: &Metrics,
    subject: Subject<'_>,
    call: F,
) -> Result<(), DeliveryError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    let started = Instant::now();
    let mut throttles = 0u32;
    loop {
        let pass = gate.enter().await;
        let (error, retry_after) = match call().await {
            Ok(()) => {
                let limit = pass.succeeded();
                metrics
                    .sink_concurrency_limit
                    .store(limit as i64, Ordering::Relaxed);
                return Ok(());
            }
            Err(DeliveryError::Throttled {
                retry_after,
                detail,
            }) => (
                DeliveryError::Throttled {
                    retry_after,
                    detail,
                },
                retry_after,
            ),
            // The sink took the call and failed: no sign of its capacity either way.
            Err(error) => return Err(error),
        };
        Metrics::inc(&metrics.sink_throttles);
        if let Some(limit) = pass.throttled() {
            metrics
                .sink_concurrency_limit
                .store(limit as i64, Ordering::Relaxed);
            tracing::info!(
                limit,
                "the sink throttles: at most {limit} calls at once until it keeps up"
            );
        }
        throttles += 1;
        let wait = throttle_wait(retry_after, throttles, rand::random_range(0.0..=1.0));
        if started.elapsed() + wait > THROTTLE_PATIENCE {
            tracing::warn!(
                throttles,
                "the sink kept throttling {subject} for {THROTTLE_PATIENCE:?}; it counts as a failed delivery"
            );
            return Err(error);
        }
        tracing::debug!(throttles, retry_in = ?wait, %error, "{subject}: throttled; trying again");
        tokio::time::sleep(wait).await;
    }
}
