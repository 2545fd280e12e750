//! `--max-rate`: at most so many events per second reach the sink from this replica, so a fragile
//! sink is not flooded when a backlog drains after an outage.
//!
//! A token bucket shared by the poll tasks, applied before each ReceiveMessage: a poll task waits
//! for the tokens of [`GATHER`] (at least one, at most 10), takes what is there up to 10, asks SQS
//! for that many messages, and gives back the tokens of messages that did not come. Waiting for
//! 50 ms worth rather than one token keeps receives full at high rates (at 200 events/s a receive
//! asks for 10, not 1, and the client CPU per message stays that of an unlimited run) while the
//! pacing stays within 50 ms, or one token at low rates. Messages held back are therefore never
//! received: they stay visible in the queue (to other replicas too), do not age toward the
//! visibility timeout, and their receive count does not grow, so the limit can't push anything to
//! the DLQ. Every received message takes a token, retries included, so the sink never sees more
//! than the rate plus one burst (the bucket holds at most one second of tokens, at most 10).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A poll task waits until this much time's worth of tokens is there (at least one) before it
/// receives.
pub const GATHER: Duration = Duration::from_millis(50);

/// The bucket: pure arithmetic over the instants it is given.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` tokens per second, starting full; holds one second of tokens, between 1 and 10.
    pub fn new(rate: f64, now: Instant) -> Self {
        let capacity = rate.clamp(1.0, 10.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Tokens a taker waits for: [`GATHER`]'s worth, at least 1, at most `want` and the capacity.
    fn needed(&self, want: usize) -> f64 {
        (self.rate * GATHER.as_secs_f64())
            .floor()
            .min(self.capacity.floor())
            .min(want as f64)
            .max(1.0)
    }

    /// Take up to `want` whole tokens once [`GATHER`]'s worth is there: `Ok(n)` with
    /// `1 <= n <= want`, or `Err(wait)` until enough are.
    pub fn take(&mut self, want: usize, now: Instant) -> Result<usize, Duration> {
        self.refill(now);
        let needed = self.needed(want);
        if self.tokens >= needed {
            let n = (self.tokens.floor() as usize).min(want).max(1);
            self.tokens -= n as f64;
            return Ok(n);
        }
        Err(Duration::from_secs_f64((needed - self.tokens) / self.rate))
    }

    /// Return `n` tokens that were taken but not used.
    pub fn give_back(&mut self, n: usize) {
        self.tokens = (self.tokens + n as f64).min(self.capacity);
    }
}

/// The bucket behind a lock, for the poll tasks to share.
#[derive(Debug)]
pub struct RateLimit {
    bucket: Mutex<TokenBucket>,
}

impl RateLimit {
    pub fn new(rate: f64) -> Self {
        RateLimit {
            bucket: Mutex::new(TokenBucket::new(rate, Instant::now())),
        }
    }

    /// Wait for [`GATHER`]'s worth of tokens (at least one) and take up to `want`.
    pub async fn acquire(&self, want: usize) -> usize {
        loop {
            let taken = self
                .bucket
                .lock()
                .expect("the bucket lock is never poisoned")
                .take(want, Instant::now());
            match taken {
                Ok(n) => return n,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    pub fn give_back(&self, n: usize) {
        if n > 0 {
            self.bucket
                .lock()
                .expect("the bucket lock is never poisoned")
                .give_back(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_gives_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0, t0);
        assert_eq!(b.take(10, t0), Ok(5), "one second of tokens");
        let wait = b.take(10, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        assert_eq!(b.take(10, t0 + Duration::from_millis(200)), Ok(1));
        assert_eq!(b.take(10, t0 + Duration::from_millis(1200)), Ok(5));
    }

    #[test]
    fn unused_tokens_come_back_up_to_the_capacity() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0, t0);
        assert_eq!(
            b.take(10, t0),
            Ok(10),
            "capacity is capped at a batch of 10"
        );
        b.give_back(7);
        assert_eq!(b.take(10, t0), Ok(7));
        b.give_back(50);
        assert_eq!(b.take(3, t0), Ok(3), "never more than asked");
        assert_eq!(b.take(10, t0), Ok(7), "and never more than the capacity");
    }

    #[test]
    fn a_slow_rate_waits_for_whole_tokens() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.5, t0);
        assert_eq!(b.take(10, t0), Ok(1), "capacity at least 1");
        assert_eq!(b.take(10, t0), Err(Duration::from_secs(2)));
        assert_eq!(
            b.take(10, t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(1))
        );
        assert_eq!(b.take(10, t0 + Duration::from_secs(2)), Ok(1));
    }

    #[test]
    fn high_rates_gather_fifty_milliseconds_of_tokens_per_receive() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(200.0, t0);
        assert_eq!(b.take(10, t0), Ok(10), "the burst");
        // 10 tokens (50 ms at 200/s) before the next receive, not 1 after 5 ms.
        assert_eq!(b.take(10, t0), Err(Duration::from_millis(50)));
        assert_eq!(
            b.take(10, t0 + Duration::from_millis(5)),
            Err(Duration::from_millis(45))
        );
        assert_eq!(b.take(10, t0 + Duration::from_millis(50)), Ok(10));
        // Asking for fewer waits for fewer.
        assert_eq!(b.take(2, t0 + Duration::from_millis(60)), Ok(2));
        // 100/s: 5 tokens (50 ms).
        let mut b = TokenBucket::new(100.0, t0);
        b.take(10, t0).unwrap();
        assert_eq!(b.take(10, t0), Err(Duration::from_millis(50)));
        assert_eq!(b.take(10, t0 + Duration::from_millis(50)), Ok(5));
    }

    #[tokio::test(start_paused = true)]
    async fn over_ten_seconds_the_limit_lets_through_the_rate_plus_one_burst() {
        let limit = RateLimit::new(4.0);
        let start = Instant::now();
        let mut taken = 0;
        while start.elapsed() < Duration::from_secs(10) {
            taken += limit.acquire(10).await;
        }
        // 4 at the start (the burst), then 4 per second.
        assert!((40..=44).contains(&taken), "{taken}");
    }
}
