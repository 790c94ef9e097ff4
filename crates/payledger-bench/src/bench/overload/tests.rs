//! The overload harness's own arithmetic.

use super::server_p99;

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
