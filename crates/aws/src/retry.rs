//! Retrying AWS calls, once for every caller: a transient failure ([`ErrorKind::Transient`]:
//! throttling, 5xx, timeouts) is tried again after an exponentially growing, jittered wait; any
//! other failure, or the last attempt's, comes back as a [`StepError`] that names what the caller
//! was doing ("create queue orders"), so callers only `?` it into their own error type.
//!
//! Light on purpose: the SDK already retries some errors itself.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::error::{AwsError, ErrorKind};

/// How [`retry_with`] backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Calls at most, the first included.
    pub attempts: u32,
    /// The wait before the second call; it doubles for each further call.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// What [`retry`] uses: 5 attempts, waits from 200 ms doubling up to 3 s.
    pub const DEFAULT: Backoff = Backoff {
        attempts: 5,
        base: Duration::from_millis(200),
        max: Duration::from_secs(3),
    };
}

/// An AWS call that failed while the caller was doing `step`, e.g.
/// `create queue orders: CreateQueue: Access denied (AccessDenied)`.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct StepError {
    /// What the caller was doing, in its own words.
    pub step: Cow<'static, str>,
    pub source: AwsError,
}

impl StepError {
    pub fn new(step: impl Into<Cow<'static, str>>, source: AwsError) -> Self {
        StepError {
            step: step.into(),
            source,
        }
    }

    /// The kind of the failed call.
    pub fn kind(&self) -> ErrorKind {
        self.source.kind
    }
}

/// Run `call` with [`Backoff::DEFAULT`]; a failure names `step` (see [`retry_with`]).
pub async fn retry<T, F, Fut>(step: impl Into<Cow<'static, str>>, call: F) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_with(Backoff::DEFAULT, step, call).await
}

/// Run `call` until it succeeds, fails with an error that is not transient, or has failed
/// `backoff.attempts` times; the waits between calls grow from `backoff.base`, doubling, up to
/// `backoff.max`, each one drawn from `[wait/2, wait]` ("equal jitter") so that callers that
/// failed together do not retry together.
pub async fn retry_with<T, F, Fut>(
    backoff: Backoff,
    step: impl Into<Cow<'static, str>>,
    mut call: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = backoff.base;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && attempt < backoff.attempts => {
                let wait = jitter(delay);
                tracing::warn!(
                    operation = err.operation,
                    attempt,
                    error = %err,
                    wait_ms = wait.as_millis() as u64,
                    "transient AWS error, retrying"
                );
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(backoff.max);
                attempt += 1;
            }
            Err(err) => return Err(StepError::new(step, err)),
        }
    }
}

/// How long [`retry_until`] keeps trying a call whose failure passes with time (a queue deleted
/// less than 60 s ago, a queue created a moment ago and not yet visible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    /// How long to keep trying, from the first such failure.
    pub limit: Duration,
    /// The wait between calls (jittered: drawn from `[interval/2, interval]`).
    pub interval: Duration,
}

/// Run `call` (transient errors retried as [`retry`] does); while it fails with an error that
/// `passes` says will pass with time, call `waiting` (once, at the first such failure: to say why
/// it waits) and try again every `patience.interval` until `patience.limit` has gone by since that
/// failure. A failure after the limit names the step and how long it waited.
pub async fn retry_until<T, F, Fut>(
    patience: Patience,
    step: impl Into<Cow<'static, str>>,
    passes: impl Fn(&AwsError) -> bool,
    mut waiting: impl FnMut(&AwsError),
    mut call: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let step: Cow<'static, str> = step.into();
    let mut first_failure: Option<tokio::time::Instant> = None;
    let mut slept = false;
    loop {
        let err = match retry_with(Backoff::DEFAULT, step.clone(), &mut call).await {
            Ok(value) => return Ok(value),
            Err(err) if passes(&err.source) => err,
            Err(err) => return Err(err),
        };
        let since = *first_failure.get_or_insert_with(|| {
            waiting(&err.source);
            tokio::time::Instant::now()
        });
        let left = patience.limit.saturating_sub(since.elapsed());
        if left.is_zero() {
            if !slept {
                return Err(err);
            }
            let waited = since.elapsed().as_secs_f64();
            return Err(StepError::new(
                format!("{step} (still refused after waiting {waited:.1} s)"),
                err.source,
            ));
        }
        slept = true;
        tokio::time::sleep(jitter(patience.interval).min(left)).await;
    }
}

/// A random duration in `[lo, hi]` (`lo` when `hi` is not above it), e.g. a pause that racing
/// callers should not take in step.
pub fn jittered(lo: Duration, hi: Duration) -> Duration {
    lo + jitter(hi.saturating_sub(lo) * 2).saturating_sub(hi.saturating_sub(lo))
}

/// A random duration in `[d/2, d]`.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(d.as_nanos());
    let fraction = (h.finish() % 1001) as f64 / 1000.0;
    d / 2 + d.mul_f64(fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn transient() -> AwsError {
        AwsError {
            operation: "Test",
            kind: ErrorKind::Transient,
            code: Some("ThrottlingException".into()),
            message: "slow down".into(),
        }
    }

    const FAST: Backoff = Backoff {
        attempts: 5,
        base: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn retry_retries_transient_errors_only() {
        let calls = AtomicU32::new(0);
        let out = retry_with(FAST, "test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(transient())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_with(FAST, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError {
                kind: ErrorKind::AccessDenied,
                ..transient()
            })
        })
        .await;
        assert_eq!(out.unwrap_err().kind(), ErrorKind::AccessDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_with(FAST, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(transient())
        })
        .await;
        assert!(out.unwrap_err().source.is_transient());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "gives up after the attempts"
        );
    }

    #[tokio::test]
    async fn a_failure_names_the_step_then_the_call() {
        let err = retry_with(FAST, format!("create queue {}", "q"), || async {
            Err::<(), _>(AwsError {
                operation: "CreateQueue",
                kind: ErrorKind::Other,
                code: None,
                message: "no".into(),
            })
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "create queue q: CreateQueue: no");
        assert_eq!(err.step, "create queue q");
    }

    fn deleted_recently() -> AwsError {
        AwsError {
            operation: "CreateQueue",
            kind: ErrorKind::Other,
            code: Some("AWS.SimpleQueueService.QueueDeletedRecently".into()),
            message: "wait 60 seconds".into(),
        }
    }

    const PATIENT: Patience = Patience {
        limit: Duration::from_millis(200),
        interval: Duration::from_millis(5),
    };

    fn passes(e: &AwsError) -> bool {
        e.has_code("QueueDeletedRecently")
    }

    #[tokio::test]
    async fn retry_until_waits_out_an_error_that_passes_and_says_why_once() {
        let calls = AtomicU32::new(0);
        let told = AtomicU32::new(0);
        let out = retry_until(
            PATIENT,
            "create queue q",
            passes,
            |e| {
                assert!(passes(e));
                told.fetch_add(1, Ordering::SeqCst);
            },
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(deleted_recently())
                } else {
                    Ok("url")
                }
            },
        )
        .await;
        assert_eq!(out.unwrap(), "url");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(told.load(Ordering::SeqCst), 1, "one line says why");
    }

    #[tokio::test]
    async fn retry_until_gives_up_after_the_limit_naming_the_wait() {
        let calls = AtomicU32::new(0);
        let err = retry_until(
            PATIENT,
            "create queue q",
            passes,
            |_| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(deleted_recently())
            },
        )
        .await
        .unwrap_err();
        assert!(calls.load(Ordering::SeqCst) > 1, "tried again");
        let text = err.to_string();
        assert!(
            text.starts_with("create queue q (still refused after waiting "),
            "{text}"
        );
        assert!(text.ends_with("CreateQueue: wait 60 seconds"), "{text}");

        // An error that does not pass with time is returned at once, unchanged.
        let calls = AtomicU32::new(0);
        let told = AtomicU32::new(0);
        let err = retry_until(
            PATIENT,
            "create queue q",
            passes,
            |_| {
                told.fetch_add(1, Ordering::SeqCst);
            },
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(AwsError {
                    kind: ErrorKind::AccessDenied,
                    code: Some("AccessDenied".into()),
                    ..deleted_recently()
                })
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.step, "create queue q");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(told.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn jittered_stays_within_its_bounds() {
        let (lo, hi) = (Duration::from_millis(100), Duration::from_millis(500));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let j = jittered(lo, hi);
            assert!(j >= lo && j <= hi, "{j:?}");
            seen.insert(j);
        }
        assert!(seen.len() > 1, "not a constant");
        assert_eq!(jittered(hi, lo), hi);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let d = Duration::from_millis(800);
        for _ in 0..100 {
            let j = jitter(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
    }
}
