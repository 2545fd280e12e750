//! A sink that throttles (Lambda's `TooManyRequestsException`: the function did not run) gets
//! fewer calls at once, and a throttled call is tried again after a wait instead of counting as a
//! failed delivery.
//!
//! [`Aimd`] is the pure rule: additive increase (one more call at once per window of successes),
//! multiplicative decrease (half as many on a throttle, once per window), between 1 and
//! `--max-in-flight`. [`InvokeGate`] applies it to concurrent calls; [`throttle_wait`] says how
//! long a throttled call waits. No I/O here.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

/// The most a throttled call waits before it is tried again, whatever `Retry-After` says.
pub const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(30);

/// How long a delivery keeps trying a sink that throttles it. After that the throttle counts as
/// a failed delivery (the message goes back to the queue, and towards the DLQ).
pub const THROTTLE_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// Without `Retry-After`: the first wait, doubled per throttle in a row, up to the second.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The least wait, so that `Retry-After: 0` does not make a busy loop.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// Additive increase, multiplicative decrease of the number of calls at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Aimd {
    limit: f64,
    max: f64,
    /// Counts the decreases. A throttle of a call that started before the last decrease says
    /// nothing new (the limit was higher when it started), so it does not decrease again.
    epoch: u64,
}

impl Aimd {
    /// Starts at `max` (a function that never throttles is never held back); `max` is at least 1.
    pub fn new(max: usize) -> Aimd {
        let max = max.max(1) as f64;
        Aimd {
            limit: max,
            max,
            epoch: 0,
        }
    }

    /// Calls allowed at once now: between 1 and `max`.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Stamp a call with this when it starts, and give it back to [`Aimd::on_throttle`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A call succeeded: `limit` successes raise the limit by one, up to `max`.
    pub fn on_success(&mut self) {
        self.limit = (self.limit + 1.0 / self.limit).min(self.max);
    }

    /// A call that started in `epoch` was throttled: halve the limit (at least 1), unless a
    /// throttle of a call started since has already done so. Says whether the limit went down.
    pub fn on_throttle(&mut self, epoch: u64) -> bool {
        if epoch != self.epoch {
            return false;
        }
        self.limit = (self.limit / 2.0).max(1.0);
        self.epoch += 1;
        true
    }
}

/// How long to wait before trying a call again after its `attempt`-th throttle in a row (from 1):
/// Lambda's `Retry-After` when it sent one (at most [`MAX_THROTTLE_WAIT`]), else 100 ms doubled
/// per attempt up to 10 s; plus up to a quarter more by `jitter` (0 to 1), so calls throttled
/// together do not all come back at the same moment.
pub fn throttle_wait(retry_after: Option<Duration>, attempt: u32, jitter: f64) -> Duration {
    let base = match retry_after {
        Some(wait) => wait.min(MAX_THROTTLE_WAIT),
        None => BACKOFF_BASE
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(BACKOFF_MAX),
    };
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base.max(MIN_WAIT).mul_f64(1.0 + 0.25 * jitter)
}

/// Lets at most [`Aimd::limit`] calls through at once; the others wait for a [`Pass`].
#[derive(Debug)]
pub struct InvokeGate {
    state: Mutex<GateState>,
    changed: Notify,
}

#[derive(Debug)]
struct GateState {
    aimd: Aimd,
    running: usize,
}

/// One call through the gate. Say how it went with [`Pass::succeeded`] or [`Pass::throttled`];
/// any other end (dropped) leaves the limit as it is. The slot is free again either way.
#[derive(Debug)]
pub struct Pass<'a> {
    gate: &'a InvokeGate,
    epoch: u64,
}

impl InvokeGate {
    /// At most `max` calls at once (at least 1), fewer after throttles.
    pub fn new(max: usize) -> InvokeGate {
        InvokeGate {
            state: Mutex::new(GateState {
                aimd: Aimd::new(max),
                running: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, GateState> {
        // Nothing panics while holding the lock; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls allowed at once now.
    pub fn limit(&self) -> usize {
        self.state().aimd.limit()
    }

    /// Wait until fewer than the limit are running, then take a slot.
    pub async fn enter(&self) -> Pass<'_> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check: a slot freed in between still wakes this waiter.
            changed.as_mut().enable();
            {
                let mut state = self.state();
                if state.running < state.aimd.limit() {
                    state.running += 1;
                    return Pass {
                        gate: self,
                        epoch: state.aimd.epoch(),
                    };
                }
            }
            changed.await;
        }
    }
}

impl Pass<'_> {
    /// The call went through (the sink took it): the limit grows. Returns the new limit.
    pub fn succeeded(self) -> usize {
        let mut state = self.gate.state();
        state.aimd.on_success();
        state.aimd.limit()
    }

    /// The call was throttled: the limit shrinks (once per window). Returns the new limit when
    /// it went down.
    pub fn throttled(self) -> Option<usize> {
        let mut state = self.gate.state();
        state
            .aimd
            .on_throttle(self.epoch)
            .then(|| state.aimd.limit())
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gate.state().running -= 1;
        self.gate.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn starts_at_the_maximum_and_halves_on_a_throttle() {
        let mut aimd = Aimd::new(100);
        assert_eq!(aimd.limit(), 100);
        assert!(aimd.on_throttle(aimd.epoch()));
        assert_eq!(aimd.limit(), 50);
        assert!(aimd.on_throttle(aimd.epoch()));
        assert_eq!(aimd.limit(), 25);
        assert!(aimd.on_throttle(aimd.epoch()));
        assert_eq!(aimd.limit(), 12);
    }

    #[test]
    fn throttles_of_calls_started_before_a_decrease_do_not_decrease_again() {
        let mut aimd = Aimd::new(100);
        // 100 calls started together, all throttled: one halving, not a hundred.
        let started = aimd.epoch();
        let decreases = (0..100).filter(|_| aimd.on_throttle(started)).count();
        assert_eq!(decreases, 1);
        assert_eq!(aimd.limit(), 50);
        // A call started after the decrease and throttled too: the limit was still too high.
        assert!(aimd.on_throttle(aimd.epoch()));
        assert_eq!(aimd.limit(), 25);
    }

    #[test]
    fn never_below_one() {
        let mut aimd = Aimd::new(8);
        for _ in 0..20 {
            aimd.on_throttle(aimd.epoch());
        }
        assert_eq!(aimd.limit(), 1);
        // A throttled call at one at a time still gets one at a time.
        assert!(aimd.on_throttle(aimd.epoch()));
        assert_eq!(aimd.limit(), 1);
        assert_eq!(Aimd::new(0).limit(), 1, "a maximum of 0 means 1");
    }

    #[test]
    fn successes_raise_the_limit_by_one_per_window_up_to_the_maximum() {
        let mut aimd = Aimd::new(100);
        while aimd.limit() > 10 {
            aimd.on_throttle(aimd.epoch());
        }
        let at = aimd.limit();
        assert_eq!(at, 6);
        // Six successes (one window of 6 calls) give one more call at once.
        for _ in 0..at {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 7);
        // Back to the maximum, and never above it.
        let mut successes = 0;
        while aimd.limit() < 100 {
            aimd.on_success();
            successes += 1;
            assert!(successes < 10_000, "stuck at {}", aimd.limit());
        }
        for _ in 0..1000 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 100);
    }

    #[test]
    fn waits_honour_retry_after_else_back_off() {
        let secs = Duration::from_secs;
        // Retry-After is the least wait; jitter adds at most a quarter.
        assert_eq!(throttle_wait(Some(secs(1)), 1, 0.0), secs(1));
        assert_eq!(
            throttle_wait(Some(secs(1)), 5, 1.0),
            Duration::from_millis(1250)
        );
        for jitter in [0.0, 0.3, 0.999, 1.0] {
            let wait = throttle_wait(Some(secs(2)), 3, jitter);
            assert!(
                wait >= secs(2) && wait <= Duration::from_millis(2500),
                "{wait:?}"
            );
        }
        // An absurd Retry-After is capped; zero is not a busy loop.
        assert_eq!(throttle_wait(Some(secs(3600)), 1, 0.0), MAX_THROTTLE_WAIT);
        assert_eq!(throttle_wait(Some(Duration::ZERO), 1, 0.0), MIN_WAIT);
        // Without it: 100 ms, doubling, up to 10 s.
        let backoff: Vec<Duration> = (1..=9).map(|n| throttle_wait(None, n, 0.0)).collect();
        assert_eq!(backoff[0], Duration::from_millis(100));
        assert_eq!(backoff[1], Duration::from_millis(200));
        assert_eq!(backoff[6], Duration::from_millis(6400));
        assert_eq!(backoff[7], secs(10));
        assert_eq!(throttle_wait(None, u32::MAX, 0.0), secs(10));
        assert_eq!(throttle_wait(None, 0, 0.0), Duration::from_millis(100));
        // Jitter out of range is clamped, NaN ignored.
        assert_eq!(throttle_wait(Some(secs(4)), 1, 7.0), secs(5));
        assert_eq!(throttle_wait(Some(secs(4)), 1, f64::NAN), secs(4));
    }

    /// Many tasks through a gate whose limit drops: never more at once than the limit allowed
    /// when each entered, and every task gets through.
    #[tokio::test(start_paused = true)]
    async fn the_gate_lets_through_at_most_the_limit() {
        let gate = Arc::new(InvokeGate::new(8));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));

        // Two throttles: 8 -> 4 -> 2.
        gate.enter().await.throttled();
        gate.enter().await.throttled();
        assert_eq!(gate.limit(), 2);

        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (gate, running, most, done) =
                (gate.clone(), running.clone(), most.clone(), done.clone());
            tasks.spawn(async move {
                let pass = gate.enter().await;
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                // A function error: the limit stays.
                drop(pass);
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        while tasks.join_next().await.is_some() {}
        assert_eq!(done.load(Ordering::SeqCst), 20);
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(gate.limit(), 2, "dropped passes leave the limit alone");
    }

    /// A success frees the slot and raises the limit: both waiters get in, at the same time.
    #[tokio::test(start_paused = true)]
    async fn a_success_lets_more_waiters_in() {
        let gate = Arc::new(InvokeGate::new(2));
        gate.enter().await.throttled();
        assert_eq!(gate.limit(), 1);
        let first = gate.enter().await;
        let both_inside = Arc::new(tokio::sync::Barrier::new(2));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (gate, both_inside) = (gate.clone(), both_inside.clone());
                tokio::spawn(async move {
                    let _pass = gate.enter().await;
                    both_inside.wait().await;
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(waiters.iter().all(|w| !w.is_finished()), "one at a time");
        assert_eq!(first.succeeded(), 2);
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(1), waiter)
                .await
                .expect("two at once after the success")
                .unwrap();
        }
    }
}
