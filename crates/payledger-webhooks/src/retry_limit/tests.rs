use super::*;

const LIMIT: RetryLimit = RetryLimit {
    attempts_max: 3,
    retry_age_max_s: 60,
};

/// The bound passed after `attempts` failures of one Message, the first
/// at 0 ms and the last at `last_ms`.
fn check(attempts: u32, last_ms: i64) -> Option<Passed> {
    let failing = Failing {
        sequence: 7,
        attempts,
        since_ms: 0,
    };
    LIMIT.passed(&failing, last_ms)
}

#[test]
fn retries_stop_at_the_attempts_bound_or_the_age_bound_whichever_comes_first() {
    assert_eq!(check(1, 0), None);
    assert_eq!(check(2, 59_999), None);
    assert_eq!(
        check(3, 1_000),
        Some(Passed::Attempts {
            attempts: 3,
            attempts_max: 3
        })
    );
    assert_eq!(
        check(1, 60_000),
        Some(Passed::Age {
            failing_for_s: 60,
            retry_age_max_s: 60
        })
    );
    assert_eq!(
        check(4, 120_000),
        Some(Passed::Attempts {
            attempts: 4,
            attempts_max: 3
        }),
        "the attempts bound is named first"
    );
    assert_eq!(check(2, -5_000), None, "a clock that went back is no age");
}

#[test]
fn the_count_and_the_age_follow_one_message_and_start_again_at_the_next() {
    let first = Failing::after(None, 7, 1_000);
    assert_eq!(
        first,
        Failing {
            sequence: 7,
            attempts: 1,
            since_ms: 1_000
        }
    );
    assert_eq!(Failing::next_attempt(Some(first), 7), 2);
    let second = Failing::after(Some(first), 7, 5_000);
    assert_eq!(second.attempts, 2);
    assert_eq!(
        second.since_ms, 1_000,
        "the age counts from the first failure"
    );
    let other = Failing::after(Some(second), 8, 9_000);
    assert_eq!(
        other,
        Failing {
            sequence: 8,
            attempts: 1,
            since_ms: 9_000
        }
    );
    assert_eq!(Failing::next_attempt(Some(other), 9), 1);
    assert_eq!(Failing::next_attempt(None, 9), 1);
}

#[test]
fn the_passed_bound_names_its_setting() {
    let attempts = check(3, 0).unwrap().to_string();
    assert_eq!(attempts, "3 attempts failed (webhooks.attempts_max = 3)");
    let age = check(1, 61_500).unwrap().to_string();
    assert_eq!(age, "failing for 61 s (webhooks.retry_age_max_s = 60)");
}
