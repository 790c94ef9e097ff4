//! The one bounded exponential backoff of payledger, used by every retry:
//! webhook deliveries, the Kafka relay and the PSP executor, refresh and
//! orphan tasks.
//!
//! Attempt `n` (1-based) failed → the ceiling is `min(max, min · 2^(n-1))`.
//! [`Backoff::ceiling`] is that wait exactly (for schedules that are
//! stored as due times and tested with a manual clock); [`Backoff::delay`]
//! scales it by a jitter factor in `[0.5, 1.0]`, so receivers recovering
//! from an outage are not hit by every retrier at the same instant. No
//! wait ever exceeds `max`.

use std::time::Duration;

/// The backoff schedule: first wait and longest wait, in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Backoff {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based) without jitter:
    /// `min(max, min · 2^(attempt-1))`; a zero `min` stays zero.
    pub fn ceiling(self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(63);
        self.min_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms)
    }

    /// The wait after failed attempt `attempt` (1-based); `jitter` in
    /// `[0, 1]` picks the point in the jitter range.
    pub fn delay(self, attempt: u32, jitter: f64) -> Duration {
        let max = self.max_ms.max(1);
        let min = self.min_ms.clamp(1, max);
        let ceiling = Self {
            min_ms: min,
            max_ms: max,
        }
        .ceiling(attempt);
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
    fn the_ceiling_doubles_exactly_and_stops_at_the_maximum() {
        let backoff = Backoff {
            min_ms: 1_000,
            max_ms: 300_000,
        };
        let waits: Vec<u64> = [1, 2, 3, 9, 10, 64, u32::MAX]
            .into_iter()
            .map(|n| backoff.ceiling(n))
            .collect();
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 256_000, 300_000, 300_000, 300_000]
        );
        assert_eq!(
            Backoff {
                min_ms: 0,
                max_ms: 10
            }
            .ceiling(5),
            0
        );
    }

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
