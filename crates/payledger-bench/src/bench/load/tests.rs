//! The generator's own parts: CPU time, answers scanned, bodies, mixes.

use super::*;

#[test]
fn cpu_ticks_are_read_after_a_command_name_with_spaces_and_parentheses() {
    let stat = "4242 (pay (ledger) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                1234 567 0 0 20 0 9 0 100 2000000 500 18446744073709551615";
    assert_eq!(stat_cpu_ticks(stat), Some(1_801));
    assert_eq!(stat_cpu_ticks("4242 (x) S 1"), None);
}

#[test]
fn an_update_answer_is_scanned_for_its_version_and_last_transaction() {
    let first = "11111111-1111-4111-8111-111111111111";
    let last = "22222222-2222-4222-8222-222222222222";
    let sorted = format!(
        r#"{{"id":"{first}","transactions":[{{"id":"{first}"}},{{"id":"{last}","state":"Initial"}}],"version":12}}"#
    );
    assert_eq!(scan_update(sorted.as_bytes()), Some((12, last.to_owned())));
    let mock = format!(
        r#"{{"id":"{first}","version":7,"transactions":[{{"type":"Charge","id":"{last}"}}],"interfaceInteractions":[]}}"#
    );
    assert_eq!(scan_update(mock.as_bytes()), Some((7, last.to_owned())));
    assert_eq!(scan_update(br#"{"id":"short","version":3}"#), None);
    assert_eq!(scan_update(b"not json"), None);
}

#[test]
fn a_long_answer_is_scanned_wherever_its_version_is() {
    let last = "22222222-2222-4222-8222-222222222222";
    let others = r#"{"id":"11111111-1111-4111-8111-111111111111","state":"Success"},"#.repeat(100);
    let sorted = format!(r#"{{"transactions":[{others}{{"id":"{last}"}}],"version":345}}"#);
    assert_eq!(scan_update(sorted.as_bytes()), Some((345, last.to_owned())));
    let mock = format!(
        r#"{{"version":678,"transactions":[{others}{{"id":"{last}"}}],"interfaceInteractions":[]}}"#
    );
    assert!(mock.len() > 1_000);
    assert_eq!(scan_update(mock.as_bytes()), Some((678, last.to_owned())));
}

#[test]
fn an_update_body_is_the_two_actions_as_json() {
    let body: Value = serde_json::from_str(&update_body(7, "t-1")).unwrap();
    assert_eq!(
        body,
        json!({
            "version": 7,
            "actions": [
                {"action": "addTransaction", "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 100}}},
                {"action": "changeTransactionState", "transactionId": "t-1", "state": "Success"},
            ],
        })
    );
}

#[test]
fn mixed_sends_half_gets_and_a_tenth_creates() {
    let steps: Vec<Request> = (0..10).map(|n| Workload::Mixed.step(n)).collect();
    let count = |r| steps.iter().filter(|s| **s == r).count();
    assert_eq!(
        [
            count(Request::Get),
            count(Request::Update),
            count(Request::Query),
            count(Request::Create)
        ],
        [5, 2, 2, 1]
    );
    assert_eq!(Workload::Update.step(7), Request::Update);
}
