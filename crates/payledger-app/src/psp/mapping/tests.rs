//! Which operation each transaction calls for, and how every PSP status
//! maps to a transaction state.

use super::*;
use payledger_domain::{CurrencyCode, Money, TransactionId};
use proptest::prelude::*;

fn txn(
    n: u8,
    kind: TransactionType,
    state: TransactionState,
    interface_id: Option<&str>,
) -> Transaction {
    Transaction {
        id: TransactionId::from_bytes([n; 16]),
        timestamp: None,
        kind,
        amount: Money::new(100, CurrencyCode::parse("EUR").unwrap()),
        interaction_id: None,
        interface_id: interface_id.map(str::to_owned),
        state,
        custom: None,
    }
}

fn payment(transactions: Vec<Transaction>) -> Payment {
    crate::test_payments::payment([9; 16], transactions.into())
}

fn kind_of(id: &str) -> ObjectKind {
    payledger_psp::stripe_wire::object_kind(id)
}

/// `check(transactions, index of the one decided, expected)`.
fn check(transactions: Vec<Transaction>, index: usize, expected: Decision) {
    let payment = payment(transactions);
    let decided = decide(&payment, &payment.transactions[index], kind_of);
    assert_eq!(decided, expected, "{:?}", payment.transactions[index].kind);
}

fn execute(operation: Operation, target: Option<&str>) -> Decision {
    Decision::Execute {
        operation,
        target: target.map(str::to_owned),
    }
}

#[test]
fn each_transaction_type_calls_for_its_operation() {
    use TransactionState::{Failure, Initial, Pending, Success};
    use TransactionType::*;
    check(
        vec![txn(1, Authorization, Initial, None)],
        0,
        execute(Operation::Authorize, None),
    );
    check(
        vec![txn(1, Charge, Initial, None)],
        0,
        execute(Operation::Charge, None),
    );
    let authorized = txn(1, Authorization, Success, Some("pi_1"));
    check(
        vec![authorized.clone(), txn(2, Charge, Initial, None)],
        1,
        execute(Operation::Capture, Some("pi_1")),
    );
    check(
        vec![
            txn(1, Authorization, Pending, Some("pi_1")),
            txn(2, Charge, Initial, None),
        ],
        1,
        Decision::Wait,
    );
    check(
        vec![
            txn(1, Authorization, Failure, Some("pi_1")),
            txn(2, Charge, Initial, None),
        ],
        1,
        execute(Operation::Charge, None),
    );
    check(
        vec![
            authorized.clone(),
            txn(2, Charge, Success, Some("ch_1")),
            txn(3, Refund, Initial, None),
        ],
        2,
        execute(Operation::Refund, Some("ch_1")),
    );
    check(
        vec![txn(3, Refund, Initial, None)],
        0,
        Decision::Reject("nothing was charged at the PSP to refund"),
    );
    check(
        vec![
            txn(2, Charge, Pending, Some("pi_2")),
            txn(3, Refund, Initial, None),
        ],
        1,
        Decision::Wait,
    );
    check(
        vec![authorized, txn(4, CancelAuthorization, Initial, None)],
        1,
        execute(Operation::Cancel, Some("pi_1")),
    );
    check(
        vec![
            txn(1, Authorization, Pending, Some("pi_1")),
            txn(4, CancelAuthorization, Initial, None),
        ],
        1,
        execute(Operation::Cancel, Some("pi_1")),
    );
    check(
        vec![txn(4, CancelAuthorization, Initial, None)],
        0,
        Decision::Reject("no authorization to cancel"),
    );
    check(vec![txn(5, Chargeback, Initial, None)], 0, Decision::Skip);
}

#[test]
fn a_charge_was_a_capture_when_its_interface_id_is_a_charge() {
    let charge = txn(2, TransactionType::Charge, TransactionState::Pending, None);
    assert_eq!(
        executed_operation(&charge, "ch_1", kind_of),
        Some(Operation::Capture)
    );
    assert_eq!(
        executed_operation(&charge, "pi_1", kind_of),
        Some(Operation::Charge)
    );
    assert_eq!(executed_operation(&charge, "cus_1", kind_of), None);
}

#[test]
fn statuses_map_to_states_per_operation() {
    use IntentStatus as S;
    use TransactionState::{Failure, Pending, Success};
    let expected = [
        // status, authorize, charge, capture, cancel
        (S::RequiresPaymentMethod, Failure, Failure, Failure, Pending),
        (S::RequiresConfirmation, Pending, Pending, Pending, Pending),
        (S::RequiresAction, Pending, Pending, Pending, Pending),
        (S::Processing, Pending, Pending, Pending, Pending),
        (S::RequiresCapture, Success, Pending, Pending, Pending),
        (S::Canceled, Failure, Failure, Failure, Success),
        (S::Succeeded, Success, Success, Success, Failure),
    ];
    assert_eq!(expected.len(), IntentStatus::ALL.len());
    for (status, authorize, charge, capture, cancel) in expected {
        assert_eq!(
            intent_state(Operation::Authorize, status),
            authorize,
            "{status:?}"
        );
        assert_eq!(
            intent_state(Operation::Charge, status),
            charge,
            "{status:?}"
        );
        assert_eq!(
            intent_state(Operation::Capture, status),
            capture,
            "{status:?}"
        );
        assert_eq!(
            intent_state(Operation::Cancel, status),
            cancel,
            "{status:?}"
        );
    }
    assert_eq!(refund_state(RefundStatus::Succeeded), Success);
    assert_eq!(refund_state(RefundStatus::Pending), Pending);
    assert_eq!(refund_state(RefundStatus::Failed), Failure);
}

proptest! {
    /// Whatever the PSP reports, a final state stays.
    #[test]
    fn a_final_state_never_changes(
        current in proptest::sample::select(TransactionState::ALL.to_vec()),
        observed in proptest::sample::select(TransactionState::ALL.to_vec()),
    ) {
        let next = next_state(current, observed);
        if current.is_final() {
            prop_assert_eq!(next, current);
        } else {
            prop_assert_eq!(next, observed);
        }
    }
}

/// `txn` with an amount of `cents`.
fn priced(mut transaction: Transaction, cents: i64) -> Transaction {
    transaction.amount.cent_amount = cents;
    transaction
}

#[test]
fn a_capture_above_the_authorized_amount_is_refused_before_any_psp_call() {
    use TransactionState::{Initial, Success};
    use TransactionType::{Authorization, Charge};
    let authorized = priced(txn(1, Authorization, Success, Some("pi_1")), 3_300);
    check(
        vec![
            authorized.clone(),
            priced(txn(2, Charge, Initial, None), 3_301),
        ],
        1,
        Decision::Reject(CHARGE_ABOVE_AUTHORIZED),
    );
    check(
        vec![authorized, priced(txn(2, Charge, Initial, None), 3_300)],
        1,
        Decision::Execute {
            operation: Operation::Capture,
            target: Some("pi_1".into()),
        },
    );
}

#[test]
fn a_refund_above_what_is_left_to_refund_is_refused_before_any_psp_call() {
    use TransactionState::{Initial, Pending, Success};
    use TransactionType::{Charge, Refund};
    let charged = priced(txn(1, Charge, Success, Some("ch_1")), 3_300);
    check(
        vec![
            charged.clone(),
            priced(txn(2, Refund, Initial, None), 9_999),
        ],
        1,
        Decision::Reject(REFUND_ABOVE_REFUNDABLE),
    );
    // 3,300 charged, 2,000 refunded and 1,000 under way: 300 left.
    let earlier = vec![
        charged,
        priced(txn(2, Refund, Success, Some("re_1")), 2_000),
        priced(txn(3, Refund, Pending, Some("re_2")), 1_000),
    ];
    let with = |cents| {
        let mut all = earlier.clone();
        all.push(priced(txn(4, Refund, Initial, None), cents));
        all
    };
    check(with(301), 3, Decision::Reject(REFUND_ABOVE_REFUNDABLE));
    check(
        with(300),
        3,
        Decision::Execute {
            operation: Operation::Refund,
            target: Some("ch_1".into()),
        },
    );
}

/// `txn` marked as PSP-initiated for `object`.
fn psp_initiated(mut transaction: Transaction, object: &str) -> Transaction {
    transaction.interaction_id = Some(psp_initiated_interaction_id(object));
    transaction
}

#[test]
fn a_charge_after_a_cancelled_authorization_is_refused_before_any_psp_call() {
    use TransactionState::{Failure, Initial, Success};
    use TransactionType::{Authorization, CancelAuthorization, Charge};
    let authorized = txn(1, Authorization, Success, Some("pi_1"));
    let cancelled_at_psp = psp_initiated(txn(2, CancelAuthorization, Success, None), "pi_1");
    check(
        vec![
            authorized.clone(),
            cancelled_at_psp.clone(),
            txn(3, Charge, Initial, None),
        ],
        2,
        Decision::Reject(CHARGE_AFTER_CANCELLED_AUTHORIZATION),
    );
    // A cancel payledger executed counts the same; one that failed does not.
    check(
        vec![
            authorized.clone(),
            txn(2, CancelAuthorization, Success, None),
            txn(3, Charge, Initial, None),
        ],
        2,
        Decision::Reject(CHARGE_AFTER_CANCELLED_AUTHORIZATION),
    );
    check(
        vec![
            authorized.clone(),
            txn(2, CancelAuthorization, Failure, None),
            txn(3, Charge, Initial, None),
        ],
        2,
        execute(Operation::Capture, Some("pi_1")),
    );
    // A new authorization after the cancel: the Charge waits for it, then
    // captures it.
    let again = txn(4, Authorization, Initial, None);
    check(
        vec![
            authorized.clone(),
            cancelled_at_psp.clone(),
            again.clone(),
            txn(3, Charge, Initial, None),
        ],
        3,
        Decision::Wait,
    );
    check(
        vec![
            authorized,
            cancelled_at_psp,
            txn(4, Authorization, Success, Some("pi_4")),
            txn(3, Charge, Initial, None),
        ],
        3,
        execute(Operation::Capture, Some("pi_4")),
    );
}

/// `check` for [`authorization_to_reconcile`]: the PaymentIntent a
/// refresh asks about, if any.
fn check_reconcile(transactions: Vec<Transaction>, expected: Option<&str>) {
    let payment = payment(transactions);
    let found = authorization_to_reconcile(&payment, kind_of).map(|(_, intent)| intent);
    assert_eq!(found, expected, "{:?}", states_of(&payment));
}

fn states_of(payment: &Payment) -> Vec<(TransactionType, TransactionState)> {
    payment
        .transactions
        .iter()
        .map(|t| (t.kind, t.state))
        .collect()
}

#[test]
fn only_an_open_authorization_is_reconciled_and_only_once() {
    use TransactionState::{Failure, Initial, Pending, Success};
    use TransactionType::{Authorization, CancelAuthorization, Charge, Refund};
    let authorized = txn(1, Authorization, Success, Some("pi_1"));
    check_reconcile(vec![authorized.clone()], Some("pi_1"));
    // Not authorized (yet), or not by a PaymentIntent.
    check_reconcile(vec![txn(1, Authorization, Pending, Some("pi_1"))], None);
    check_reconcile(vec![txn(1, Authorization, Failure, Some("pi_1"))], None);
    check_reconcile(vec![txn(1, Authorization, Success, Some("seti_1"))], None);
    check_reconcile(vec![txn(1, Authorization, Success, None)], None);
    // Captured: nothing left to cancel.
    check_reconcile(
        vec![authorized.clone(), txn(2, Charge, Success, Some("ch_1"))],
        None,
    );
    // A capture that failed or is under way leaves it open.
    for state in [Initial, Pending, Failure] {
        check_reconcile(
            vec![authorized.clone(), txn(2, Charge, state, None)],
            Some("pi_1"),
        );
    }
    // Cancelled by payledger, or being cancelled: the executor's business.
    for state in [Initial, Pending, Success] {
        check_reconcile(
            vec![authorized.clone(), txn(2, CancelAuthorization, state, None)],
            None,
        );
    }
    check_reconcile(
        vec![
            authorized.clone(),
            txn(2, CancelAuthorization, Failure, None),
        ],
        Some("pi_1"),
    );
    // Recorded as cancelled by the PSP already: never twice.
    let recorded = psp_initiated(txn(2, CancelAuthorization, Success, None), "pi_1");
    assert!(is_psp_initiated(&recorded));
    assert!(!is_psp_initiated(&authorized));
    check_reconcile(vec![authorized.clone(), recorded.clone()], None);
    // A later authorization is reconciled on its own.
    check_reconcile(
        vec![
            authorized,
            recorded,
            txn(3, Authorization, Success, Some("pi_3")),
        ],
        Some("pi_3"),
    );
    check_reconcile(vec![txn(1, Refund, Success, Some("re_1"))], None);
}
