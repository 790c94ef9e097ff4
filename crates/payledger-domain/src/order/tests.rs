//! The order's rules, its fold and its derived totals, as specifications.

use super::*;
use crate::StreamId;
use crate::event::EventEnvelope;
use crate::ids::{EventId, ProjectKey, TransactionId};
use crate::payment::Transaction;
use crate::testkit::{eur, payment, usd};
use proptest::prelude::*;
use std::sync::Arc;

const ORDER_ID: OrderId = OrderId::from_bytes([0x0d; 16]);

fn draft(total: Money) -> OrderDraft {
    OrderDraft {
        order_number: "A-1".into(),
        key: None,
        total_price: total,
        customer_id: Some("c-1".into()),
        customer_email: Some("ann@example.com".into()),
        recurring: false,
    }
}

fn envelope(version: u64, event: OrderEvent) -> EventEnvelope {
    EventEnvelope {
        meta: EventMeta {
            event_id: EventId::from_bytes(u128::from(version).to_be_bytes()),
            project: ProjectKey::parse("test").unwrap(),
            recorded_at: Timestamp(1_000 * version as i64),
            actor: Actor::Client(format!("client-{version}")),
            correlation_id: None,
            idempotency_key: None,
        },
        stream: StreamId::order(ORDER_ID),
        version,
        partition: 0,
        partition_sequence: version,
        previous_hash: [0; 32],
        event: Event::Order(event),
    }
}

/// The order after `events`, folded from version 1.
fn order_of(events: Vec<OrderEvent>) -> Order {
    let envelopes: Vec<_> = events
        .into_iter()
        .zip(1..)
        .map(|(e, v)| envelope(v, e))
        .collect();
    fold_order(&envelopes).unwrap()
}

fn order(total: Money) -> Order {
    order_of(vec![decide_order_create(&draft(total)).unwrap()])
}

/// A EUR payment of `planned` with these (kind, cents, state) transactions.
fn attempt(id: u8, txns: &[(TransactionType, i64, TransactionState)]) -> Payment {
    let mut p = payment();
    p.id = PaymentId::from_bytes([id; 16]);
    p.transactions = txns
        .iter()
        .zip(1u128..)
        .map(|(&(kind, cents, state), n)| {
            Arc::new(Transaction {
                id: TransactionId::from_bytes(n.to_be_bytes()),
                timestamp: None,
                kind,
                amount: eur(cents),
                interaction_id: None,
                interface_id: None,
                state,
                custom: None,
            })
        })
        .collect();
    p
}

use TransactionState::{Failure, Initial, Pending, Success};
use TransactionType::{Authorization, Charge, Chargeback, Refund};

fn state(total: i64, attempts: &[&Payment]) -> (OrderPaymentState, i64, i64, i64) {
    let totals = order_totals(&order(eur(total)), attempts);
    (
        totals.payment_state,
        totals.total_paid.cent_amount,
        totals.total_refunded.cent_amount,
        totals.total_outstanding.cent_amount,
    )
}

#[test]
fn a_new_order_has_its_total_outstanding_and_a_balance_due() {
    assert_eq!(
        state(3300, &[]),
        (OrderPaymentState::BalanceDue, 0, 0, 3300)
    );
    let o = order(eur(3300));
    assert_eq!(o.version, 1);
    assert_eq!(o.order_state, OrderState::Open);
    assert_eq!(o.payments, Vec::<PaymentId>::new());
}

#[test]
fn an_order_of_nothing_is_paid() {
    assert_eq!(state(0, &[]), (OrderPaymentState::Paid, 0, 0, 0));
}

#[test]
fn an_attempt_in_progress_makes_the_order_pending() {
    let initial = attempt(1, &[(Charge, 3300, Initial)]);
    let pending = attempt(2, &[(Charge, 3300, Pending)]);
    let authorized = attempt(3, &[(Authorization, 3300, Success)]);
    for p in [&initial, &pending, &authorized] {
        assert_eq!(state(3300, &[p]).0, OrderPaymentState::Pending);
    }
}

#[test]
fn a_successful_charge_pays_and_a_partial_refund_leaves_a_balance() {
    let charged = attempt(1, &[(Charge, 3300, Success)]);
    assert_eq!(
        state(3300, &[&charged]),
        (OrderPaymentState::Paid, 3300, 0, 0)
    );
    let refunded = attempt(1, &[(Charge, 3300, Success), (Refund, 1000, Success)]);
    assert_eq!(
        state(3300, &[&refunded]),
        (OrderPaymentState::BalanceDue, 3300, 1000, 1000)
    );
    let charged_back = attempt(1, &[(Charge, 3300, Success), (Chargeback, 300, Success)]);
    assert_eq!(state(3300, &[&charged_back]).2, 300);
}

#[test]
fn only_successful_transactions_count() {
    let p = attempt(
        1,
        &[
            (Charge, 1000, Failure),
            (Charge, 1000, Pending),
            (Refund, 500, Failure),
        ],
    );
    assert_eq!(state(3300, &[&p]), (OrderPaymentState::Pending, 0, 0, 3300));
}

#[test]
fn a_failed_latest_attempt_fails_the_order_only_when_nothing_was_paid() {
    let failed = attempt(1, &[(Charge, 3300, Failure)]);
    assert_eq!(state(3300, &[&failed]).0, OrderPaymentState::Failed);
    let partly = attempt(2, &[(Charge, 1000, Success)]);
    let failed_rest = attempt(3, &[(Charge, 2300, Failure)]);
    assert_eq!(
        state(3300, &[&partly, &failed_rest]),
        (OrderPaymentState::BalanceDue, 1000, 0, 2300)
    );
}

#[test]
fn a_later_attempt_decides_over_an_earlier_failure() {
    let failed = attempt(1, &[(Charge, 3300, Failure)]);
    let retry = attempt(2, &[(Charge, 3300, Pending)]);
    assert_eq!(
        state(3300, &[&failed, &retry]).0,
        OrderPaymentState::Pending
    );
    let paid = attempt(2, &[(Charge, 3300, Success)]);
    assert_eq!(state(3300, &[&failed, &paid]).0, OrderPaymentState::Paid);
}

#[test]
fn paying_more_than_the_total_owes_credit() {
    let twice = attempt(1, &[(Charge, 3300, Success), (Charge, 100, Success)]);
    assert_eq!(
        state(3300, &[&twice]),
        (OrderPaymentState::CreditOwed, 3400, 0, -100)
    );
}

#[test]
fn attempt_status_reads_the_latest_charge_or_authorization() {
    assert_eq!(attempt_status(&attempt(1, &[])), AttemptStatus::NotStarted);
    assert_eq!(
        attempt_status(&attempt(1, &[(Refund, 1, Pending)])),
        AttemptStatus::NotStarted
    );
    assert_eq!(
        attempt_status(&attempt(1, &[(Charge, 1, Failure), (Charge, 1, Pending)])),
        AttemptStatus::InProgress
    );
    assert_eq!(
        attempt_status(&attempt(1, &[(Charge, 1, Pending), (Charge, 1, Failure)])),
        AttemptStatus::Failed
    );
    assert_eq!(
        attempt_status(&attempt(1, &[(Charge, 1, Success), (Charge, 1, Failure)])),
        AttemptStatus::Succeeded
    );
}

#[test]
fn creation_validates_the_draft() {
    let bad_number = OrderDraft {
        order_number: "A 1/2".into(),
        ..draft(eur(1))
    };
    assert!(matches!(
        decide_order_create(&bad_number),
        Err(Rejection::OrderNumberInvalid { .. })
    ));
    let long = OrderDraft {
        order_number: "n".repeat(ORDER_NUMBER_BYTES_MAX + 1),
        ..draft(eur(1))
    };
    assert!(decide_order_create(&long).is_err());
    for email in ["no-at", "@x", "a@", "a b@x", "a@b@c"] {
        let d = OrderDraft {
            customer_email: Some(email.into()),
            ..draft(eur(1))
        };
        assert!(
            matches!(
                decide_order_create(&d),
                Err(Rejection::CustomerEmailInvalid { .. })
            ),
            "{email}"
        );
    }
    assert_eq!(
        decide_order_create(&draft(eur(-1))),
        Err(Rejection::TotalPriceNegative { cent_amount: -1 })
    );
    let bad_key = OrderDraft {
        key: Some("k".into()),
        ..draft(eur(1))
    };
    assert!(matches!(
        decide_order_create(&bad_key),
        Err(Rejection::KeyInvalid { .. })
    ));
}

fn lookup(payments: Vec<Payment>) -> impl Fn(PaymentId) -> Option<Payment> {
    move |id| payments.iter().find(|p| p.id == id).cloned()
}

#[test]
fn add_payment_links_an_existing_payment_of_the_same_currency_once() {
    let o = order(eur(3300));
    let p = attempt(1, &[]);
    let events = decide_order_update(
        &o,
        &[OrderAction::AddPayment(p.id)],
        &lookup(vec![p.clone()]),
    )
    .unwrap();
    assert_eq!(events, vec![OrderEvent::PaymentAdded(p.id)]);
    let linked = order_of(vec![
        decide_order_create(&draft(eur(3300))).unwrap(),
        OrderEvent::PaymentAdded(p.id),
    ]);
    assert_eq!(linked.payments, vec![p.id]);
    assert_eq!(
        decide_order_update(
            &linked,
            &[OrderAction::AddPayment(p.id)],
            &lookup(vec![p.clone()])
        ),
        Err(Rejection::PaymentAlreadyInOrder {
            payment: p.id,
            order: Some(ORDER_ID)
        })
    );
}

#[test]
fn add_payment_refuses_unknown_deleted_and_foreign_currency_payments() {
    let o = order(eur(3300));
    let unknown = PaymentId::from_bytes([9; 16]);
    assert_eq!(
        decide_order_update(&o, &[OrderAction::AddPayment(unknown)], &lookup(vec![])),
        Err(Rejection::PaymentNotFound { id: unknown })
    );
    let mut deleted = attempt(1, &[]);
    deleted.deleted = true;
    assert!(matches!(
        decide_order_update(
            &o,
            &[OrderAction::AddPayment(deleted.id)],
            &lookup(vec![deleted])
        ),
        Err(Rejection::PaymentNotFound { .. })
    ));
    let mut dollars = attempt(2, &[]);
    dollars.amount_planned = usd(3300);
    assert!(matches!(
        decide_order_update(
            &o,
            &[OrderAction::AddPayment(dollars.id)],
            &lookup(vec![dollars])
        ),
        Err(Rejection::OrderCurrencyMismatch { .. })
    ));
}

#[test]
fn a_cancelled_order_keeps_its_payments_but_other_fields_may_change() {
    let p = attempt(1, &[]);
    let o = order_of(vec![
        decide_order_create(&draft(eur(3300))).unwrap(),
        OrderEvent::PaymentAdded(p.id),
        OrderEvent::Cancelled,
    ]);
    assert_eq!(o.order_state, OrderState::Cancelled);
    let none = lookup(vec![p.clone()]);
    for action in [
        OrderAction::AddPayment(PaymentId::from_bytes([2; 16])),
        OrderAction::RemovePayment(p.id),
    ] {
        assert_eq!(
            decide_order_update(&o, &[action], &none),
            Err(Rejection::OrderCancelled { id: ORDER_ID })
        );
    }
    assert_eq!(
        decide_order_update(&o, &[OrderAction::Cancel], &none),
        Ok(vec![]),
        "cancelling twice changes nothing"
    );
    assert_eq!(
        decide_order_update(
            &o,
            &[OrderAction::SetCustomerEmail(Some("b@example.com".into()))],
            &none
        ),
        Ok(vec![OrderEvent::CustomerEmailSet(Some(
            "b@example.com".into()
        ))])
    );
}

#[test]
fn actions_that_change_nothing_record_nothing_and_one_bad_action_refuses_all() {
    let o = order(eur(3300));
    let none = lookup(vec![]);
    assert_eq!(
        decide_order_update(
            &o,
            &[
                OrderAction::SetCustomerEmail(Some("ann@example.com".into())),
                OrderAction::SetKey(None),
            ],
            &none
        ),
        Ok(vec![])
    );
    assert!(
        decide_order_update(
            &o,
            &[
                OrderAction::SetKey(Some("order-key".into())),
                OrderAction::RemovePayment(PaymentId::from_bytes([1; 16])),
            ],
            &none
        )
        .is_err()
    );
}

#[test]
fn remove_payment_unlinks_it() {
    let a = attempt(1, &[]);
    let b = attempt(2, &[]);
    let o = order_of(vec![
        decide_order_create(&draft(eur(3300))).unwrap(),
        OrderEvent::PaymentAdded(a.id),
        OrderEvent::PaymentAdded(b.id),
    ]);
    let events =
        decide_order_update(&o, &[OrderAction::RemovePayment(a.id)], &lookup(vec![])).unwrap();
    assert_eq!(events, vec![OrderEvent::PaymentRemoved(a.id)]);
}

#[test]
#[should_panic(expected = "OrderPaymentAdded cannot apply at v1")]
fn a_stream_must_start_with_its_creation() {
    order_of(vec![OrderEvent::PaymentAdded(PaymentId::from_bytes(
        [1; 16],
    ))]);
}

fn stored_event(envelope: &EventEnvelope) -> OrderEvent {
    match &envelope.event {
        Event::Order(event) => event.clone(),
        other => panic!("not an order event: {}", other.kind()),
    }
}

fn action() -> impl Strategy<Value = OrderAction> {
    let payment = (1u8..6).prop_map(|n| PaymentId::from_bytes([n; 16]));
    prop_oneof![
        payment.clone().prop_map(OrderAction::AddPayment),
        payment.prop_map(OrderAction::RemovePayment),
        prop::option::of("[a-c]@x").prop_map(OrderAction::SetCustomerEmail),
        prop::option::of("k[a-c]").prop_map(OrderAction::SetKey),
        Just(OrderAction::Cancel),
    ]
}

proptest! {
    /// Whatever requests are accepted, folding the recorded events from the
    /// start gives the order that deciding worked on.
    #[test]
    fn replaying_the_recorded_events_gives_the_decided_order(
        requests in prop::collection::vec(prop::collection::vec(action(), 1..4), 0..12)
    ) {
        let payments: Vec<Payment> = (1u8..6).map(|n| attempt(n, &[])).collect();
        let find = lookup(payments);
        let mut events = vec![decide_order_create(&draft(eur(3300))).unwrap()];
        let mut current = order_of(events.clone());
        for actions in requests {
            if let Ok(decided) = decide_order_update(&current, &actions, &find) {
                for event in decided {
                    let version = current.version + 1;
                    let stored = envelope(version, event.clone());
                    let Event::Order(event) = &stored.event else { unreachable!() };
                    current = evolve_order(Some(current), OrderRecorded {
                        order_id: ORDER_ID,
                        version,
                        meta: &stored.meta,
                        event,
                    });
                    events.push(stored_event(&stored));
                }
            }
        }
        prop_assert_eq!(&order_of(events.clone()), &current);
        prop_assert_eq!(current.version, events.len() as u64);
        let mut linked = current.payments.clone();
        linked.dedup();
        prop_assert_eq!(linked.len(), current.payments.len(), "a payment is linked once");
    }
}
