//! The overload harness's own arithmetic.

use super::{buckets, server_p99};

#[test]
fn the_server_p99_is_the_first_bound_holding_99_percent_of_the_updates_between_two_scrapes() {
    let before = [(0.001, 10), (0.002, 20), (0.004, 30), (f64::INFINITY, 30)];
    // 100 more: 50 within 1 ms, 98 within 2 ms, 99 within 4 ms.
    let after = [
        (0.001, 60),
        (0.002, 118),
        (0.004, 129),
        (f64::INFINITY, 130),
    ];
    assert_eq!(server_p99(&before, &after), Some(0.004));
    assert_eq!(server_p99(&after, &after), None, "no update between");
}

#[test]
fn buckets_of_a_histogram_sum_its_label_sets_and_pass_over_other_metrics() {
    let text = "\
# TYPE payledger_append_duration_seconds histogram
payledger_append_duration_seconds_bucket{le=\"0.001\",partition=\"0\"} 3
payledger_append_duration_seconds_bucket{le=\"+Inf\",partition=\"0\"} 4
payledger_append_duration_seconds_bucket{le=\"0.001\",partition=\"1\"} 5
payledger_append_duration_seconds_bucket{le=\"+Inf\",partition=\"1\"} 5
payledger_append_duration_seconds_count{partition=\"1\"} 5
payledger_append_commit_duration_seconds_bucket{le=\"0.001\",partition=\"0\"} 9
";
    let all = buckets(text, "payledger_append_duration_seconds_bucket", |_| true);
    assert_eq!(all, vec![(0.001, 8), (f64::INFINITY, 9)]);
    let one = buckets(text, "payledger_append_duration_seconds_bucket", |line| {
        line.contains(r#"partition="1""#)
    });
    assert_eq!(one, vec![(0.001, 5), (f64::INFINITY, 5)]);
}
