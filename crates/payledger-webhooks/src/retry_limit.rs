//! The bound on retrying one Message: after `attempts_max` failed
//! attempts, or once it has been failing for `retry_age_max_s`, its
//! subscription's deliveries stop (`ConfigurationErrorDeliveryStopped`)
//! instead of retrying forever. The cursor stays on the Message, so a
//! resume delivers it and everything after it; nothing is skipped.
//!
//! The defaults follow commercetools, which gives a failing destination
//! 24 hours: the age decides, and the attempts bound lies above the
//! attempts the default backoff makes in that time (about 1,450 at a
//! 60 s ceiling), so it only decides when the backoff is made shorter.

use std::fmt;

/// Default most attempts at one Message (`--webhook-attempts-max`).
pub const ATTEMPTS_MAX_DEFAULT: u32 = 2_000;
/// Default longest time one Message may keep failing, in seconds
/// (`--webhook-retry-age-max-s`): 24 hours.
pub const RETRY_AGE_MAX_S_DEFAULT: u64 = 86_400;

/// When retrying a Message gives way to stopping the deliveries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RetryLimit {
    /// Failed attempts at one Message that stop the deliveries (at least 1).
    pub attempts_max: u32,
    /// Seconds between a Message's first failed attempt and a failed
    /// attempt that stops the deliveries.
    pub retry_age_max_s: u64,
}

impl Default for RetryLimit {
    fn default() -> Self {
        Self {
            attempts_max: ATTEMPTS_MAX_DEFAULT,
            retry_age_max_s: RETRY_AGE_MAX_S_DEFAULT,
        }
    }
}

/// The Message a partition's deliveries are held back by.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Failing {
    /// Its log sequence.
    pub sequence: u64,
    /// Its failed attempts so far.
    pub attempts: u32,
    /// When its first attempt failed, in milliseconds since the Unix epoch.
    pub since_ms: i64,
}

impl Failing {
    /// `failing` after one more failed attempt at the Message of
    /// `sequence` at `now_ms`: its count goes on, or a new one starts
    /// when the Message is another.
    pub fn after(failing: Option<Self>, sequence: u64, now_ms: i64) -> Self {
        match failing {
            Some(failing) if failing.sequence == sequence => Self {
                attempts: failing.attempts.saturating_add(1),
                ..failing
            },
            _ => Self {
                sequence,
                attempts: 1,
                since_ms: now_ms,
            },
        }
    }

    /// The number the next attempt at the Message of `sequence` carries.
    pub fn next_attempt(failing: Option<Self>, sequence: u64) -> u32 {
        match failing {
            Some(failing) if failing.sequence == sequence => failing.attempts.saturating_add(1),
            _ => 1,
        }
    }
}

/// Which bound a failing Message passed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Passed {
    Attempts {
        attempts: u32,
        attempts_max: u32,
    },
    Age {
        failing_for_s: u64,
        retry_age_max_s: u64,
    },
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attempts {
                attempts,
                attempts_max,
            } => write!(
                f,
                "{attempts} attempts failed (webhooks.attempts_max = {attempts_max})"
            ),
            Self::Age {
                failing_for_s,
                retry_age_max_s,
            } => write!(
                f,
                "failing for {failing_for_s} s (webhooks.retry_age_max_s = {retry_age_max_s})"
            ),
        }
    }
}

impl RetryLimit {
    /// The bound `failing` passed at `now_ms`, if any: its attempts reached
    /// `attempts_max`, or its first failure is `retry_age_max_s` old.
    pub fn passed(&self, failing: &Failing, now_ms: i64) -> Option<Passed> {
        if failing.attempts >= self.attempts_max {
            return Some(Passed::Attempts {
                attempts: failing.attempts,
                attempts_max: self.attempts_max,
            });
        }
        let failing_for_ms = u64::try_from(now_ms.saturating_sub(failing.since_ms)).unwrap_or(0);
        let failing_for_s = failing_for_ms / 1_000;
        (failing_for_s >= self.retry_age_max_s).then_some(Passed::Age {
            failing_for_s,
            retry_age_max_s: self.retry_age_max_s,
        })
    }
}

#[cfg(test)]
mod tests;
