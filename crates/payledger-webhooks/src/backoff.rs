//! Bounded exponential backoff with jitter for failed deliveries.
//!
//! Attempt `n` (1-based) failed → wait `min(max, min · 2^(n-1))`, scaled
//! by a jitter factor in `[0.5, 1.0]`, so receivers recovering from an
//! outage are not hit by every subscription at the same instant, and no
//! wait ever exceeds `max`.

use std::time::Duration;

/// Default first wait after a failure, in milliseconds.
pub const BACKOFF_MS_MIN_DEFAULT: u64 = 250;
/// Default longest wait between attempts, in milliseconds.
pub const BACKOFF_MS_MAX_DEFAULT: u64 = 60_000;

/// The backoff schedule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Backoff {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min_ms: BACKOFF_MS_MIN_DEFAULT,
            max_ms: BACKOFF_MS_MAX_DEFAULT,
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based); `jitter` in
    /// `[0, 1]` picks the point in the jitter range.
    pub fn delay(self, attempt: u32, jitter: f64) -> Duration {
        let max = self.max_ms.max(1);
        let min = self.min_ms.clamp(1, max);
        let doublings = attempt.saturating_sub(1).min(63);
        let ceiling = min.saturating_mul(1u64 << doublings).min(max);
        let factor = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        // Milliseconds far below 2^52 convert to f64 exactly.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let millis = (ceiling as f64 * factor).round() as u64;
        Duration::from_millis(millis.clamp(1, max))
    }

    /// The wait after failed attempt `attempt`, with random jitter.
    pub fn next(self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_schedule_doubles_from_the_minimum_up_to_the_maximum() {
        let backoff = Backoff {
            min_ms: 100,
            max_ms: 1_000,
        };
        let full: Vec<u64> = (1..=6)
            .map(|n| backoff.delay(n, 1.0).as_millis() as u64)
            .collect();
        assert_eq!(full, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_millis(500));
    }

    proptest! {
        #[test]
        fn every_wait_is_within_half_and_all_of_its_bounded_ceiling(
            min_ms in 1u64..10_000,
            extra in 0u64..100_000,
            attempt in 1u32..200,
            jitter in 0.0f64..=1.0,
        ) {
            let backoff = Backoff { min_ms, max_ms: min_ms + extra };
            let wait = backoff.delay(attempt, jitter).as_millis() as u64;
            let ceiling = (min_ms.saturating_mul(1u64 << (attempt - 1).min(63))).min(min_ms + extra);
            prop_assert!(wait <= backoff.max_ms);
            prop_assert!(wait <= ceiling);
            prop_assert!(wait >= ceiling / 2);
        }
    }
}
