//! Retries without re-invoking successes: after the invocations for one event, what happens
//! to each failed (event, subscription) pair — retried on its own, dead-lettered, left to the
//! input's redelivery, or dropped — and to the input itself.
//!
//! See [`decide`]: a failed pair is retried as a [`RetryMessage`] naming that one subscription,
//! so a retry never invokes a subscriber that already succeeded for the event. The input itself
//! is redelivered only when no subscriber succeeded. The retry message's wire format is in
//! [`message`].

pub mod message;

use std::sync::Arc;

use crate::invocation::InvocationResult;

pub use message::{RetryMessage, RetryMessageError, RETRY_KEY};

/// How failed pairs are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Whether a retry queue is configured.
    pub retry_queue: bool,
    /// Whether a dead-letter queue is configured.
    pub dead_letter_queue: bool,
    /// Attempts per (event, subscription), the first included. At least 1.
    pub max_attempts: u32,
    /// Delay before attempt 2; doubles per attempt, capped at `max_delay_secs`.
    pub base_delay_secs: u32,
    /// At most 900 (SQS's limit).
    pub max_delay_secs: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_queue: false,
            dead_letter_queue: false,
            max_attempts: 3,
            base_delay_secs: 10,
            max_delay_secs: 900,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `next` (2 or more).
    pub fn delay_before(&self, next: u32) -> u32 {
        let doublings = next.saturating_sub(2).min(20);
        self.base_delay_secs
            .saturating_mul(1 << doublings)
            .min(self.max_delay_secs.min(900))
    }

    /// With a retry queue: what follows failed attempt `attempt` of a pair.
    fn next_attempt(&self, attempt: u32) -> PairAction {
        if attempt < self.max_attempts.max(1) {
            PairAction::Retry {
                attempt: attempt + 1,
                delay_secs: self.delay_before(attempt + 1),
            }
        } else if self.dead_letter_queue {
            PairAction::DeadLetter
        } else {
            PairAction::Drop {
                reason: format!(
                    "{attempt} attempts used up and no dead-letter queue is configured"
                ),
            }
        }
    }
}

/// What to do with one failed (event, subscription) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairAction {
    /// Write a retry message for attempt `attempt`, delayed by `delay_secs`.
    Retry { attempt: u32, delay_secs: u32 },
    /// Write it to the dead-letter queue: attempts are used up.
    DeadLetter,
    /// Leave it to the input's redelivery (nothing succeeded, so that re-invokes no success).
    Redeliver,
    /// Record it and give up (no queue to put it in, and redelivery would re-invoke a success).
    Drop { reason: String },
}

impl PairAction {
    /// What happens next, in words: what the system event and the response say about it.
    pub fn next_step(&self) -> String {
        match self {
            PairAction::Retry {
                attempt,
                delay_secs,
            } => {
                format!("retry queued (attempt {attempt}, in {delay_secs}s)")
            }
            PairAction::DeadLetter => "dead-lettered: attempts used up".into(),
            PairAction::Redeliver => "redelivered by the input".into(),
            PairAction::Drop { reason } => format!("dropped: {reason}"),
        }
    }
}

/// What to do with the input (message, invoke or request) once its pairs are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Acknowledge: delete the SQS message, return success.
    Ack,
    /// Fail the input so its source delivers it again (batchItemFailures, an error result, 5xx).
    Redeliver,
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub disposition: Disposition,
    /// One action per failed result, by subscription name.
    pub failed: Vec<(Arc<str>, PairAction)>,
}

/// Decides what happens after `results` for one event.
///
/// - No failure: acknowledge.
/// - With a retry queue: each failed pair gets its own retry message (attempt + 1, with
///   backoff), or goes to the dead-letter queue once `max_attempts` are used (dropped, and
///   reported, without one); then the input is acknowledged.
/// - Without a retry queue: if no subscriber succeeded, the input is redelivered (which
///   re-invokes only failed subscribers); otherwise the failures are dropped and reported:
///   redelivering would re-invoke a subscriber that succeeded.
///
/// Every input the router takes can be delivered again by its source (an SQS message, a Lambda
/// invoke, an HTTP request), so redelivery is always available.
pub fn decide(results: &[InvocationResult], policy: &RetryPolicy) -> Decision {
    let failures: Vec<&InvocationResult> = results.iter().filter(|r| r.failed()).collect();
    let (disposition, failed) = if failures.is_empty() {
        (Disposition::Ack, Vec::new())
    } else if policy.retry_queue {
        let failed = failures
            .iter()
            .map(|r| (r.subscription.clone(), policy.next_attempt(r.attempt)))
            .collect();
        (Disposition::Ack, failed)
    } else if failures.len() == results.len() {
        let failed = failures
            .iter()
            .map(|r| (r.subscription.clone(), PairAction::Redeliver))
            .collect();
        (Disposition::Redeliver, failed)
    } else {
        let reason = "no retry queue is configured, and redelivering the input would re-invoke \
                      the subscribers that succeeded";
        let failed = failures
            .iter()
            .map(|r| {
                let drop = PairAction::Drop {
                    reason: reason.into(),
                };
                (r.subscription.clone(), drop)
            })
            .collect();
        (Disposition::Ack, failed)
    };
    Decision {
        disposition,
        failed,
    }
}

/// When writing a retry or dead-letter message failed for some pairs: redeliver the input if
/// that is safe (no subscriber succeeded), else drop those pairs.
pub fn after_write_failure(results: &[InvocationResult], error: &str) -> (Disposition, PairAction) {
    let any_success = results.iter().any(|r| !r.failed());
    if !any_success {
        (Disposition::Redeliver, PairAction::Redeliver)
    } else {
        (
            Disposition::Ack,
            PairAction::Drop {
                reason: format!(
                    "could not write the retry message ({error}); redelivering would \
                     re-invoke the subscribers that succeeded"
                ),
            },
        )
    }
}

#[cfg(test)]
mod tests;
