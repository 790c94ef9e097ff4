//! Reconciliation over the fake PSP: an authorization the PSP cancels on
//! its own (dashboard, expiry) is recorded once, whether a refresh or a
//! webhook's refresh finds it first, and a later Charge is refused
//! without a PSP call; over-amount Charges and Refunds never reach the PSP.

use super::{World, block, field, states};
use payledger_app::psp::interaction::Phase;
use payledger_app::psp::mapping::{
    self, CHARGE_ABOVE_AUTHORIZED, CHARGE_AFTER_CANCELLED_AUTHORIZATION, REFUND_ABOVE_REFUNDABLE,
};
use payledger_app::psp::notifications::NotificationOutcome;
use payledger_app::psp::reconcile::CANCELLED_AT_PSP_MESSAGE;
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Payment, PaymentId};
use payledger_psp::testing::CARD_OK;

/// A payment with a successful Authorization of `cents`, and its intent.
async fn authorized(w: &World, cents: i64) -> (PaymentId, String) {
    let payment = w
        .create(CARD_OK, "card", &[(TransactionType::Authorization, cents)])
        .await;
    w.execute().await;
    let payment = w.get(payment.id);
    assert_eq!(payment.transactions[0].state, TransactionState::Success);
    let intent = payment.transactions[0]
        .interface_id
        .clone()
        .expect("PaymentIntent");
    (payment.id, intent)
}

/// The PSP-initiated transactions of a payment.
fn psp_initiated(payment: &Payment) -> Vec<(TransactionType, TransactionState, i64)> {
    (payment.transactions.iter())
        .filter(|t| mapping::is_psp_initiated(t))
        .map(|t| (t.kind, t.state, t.amount.cent_amount))
        .collect()
}

/// The `message` of the last interaction about transaction `index`.
fn reason(payment: &Payment, index: usize) -> Option<String> {
    let id = payment.transactions[index].id.to_string();
    (payment.interface_interactions.iter().rev())
        .find(|i| field(i, "transactionId") == Some(id.as_str()))
        .and_then(|i| field(i, "message"))
        .map(str::to_owned)
}

#[test]
fn an_authorization_the_psp_cancelled_is_recorded_once_by_its_webhook() {
    block(async {
        use TransactionState::{Failure, Success};
        use TransactionType::{Authorization, CancelAuthorization, Charge};
        let w = World::new();
        let (id, intent) = authorized(&w, 3_300).await;
        // While the PSP holds the authorization, a refresh changes nothing.
        let before = w.get(id);
        assert_eq!(w.refresh(id).await.version, before.version);

        w.psp.cancel_at_psp(&intent, "automatic").expect("expire");
        let cancelled = w.psp.events().len() - 1;
        assert_eq!(
            w.deliver(cancelled).await,
            NotificationOutcome::Recorded { payment_id: id }
        );
        // The webhook only recorded a hint; its refresh records the change.
        assert_eq!(psp_initiated(&w.get(id)), []);
        assert!(w.run_tasks().await >= 1);
        let payment = w.get(id);
        assert_eq!(
            states(&payment),
            [(Authorization, Success), (CancelAuthorization, Success)]
        );
        assert_eq!(
            psp_initiated(&payment),
            [(CancelAuthorization, Success, 3_300)]
        );
        assert_eq!(
            payment.transactions[1].interaction_id.as_deref(),
            Some(format!("psp-initiated:{intent}").as_str())
        );
        assert_eq!(
            payment.payment_status.interface_code.as_deref(),
            Some("canceled")
        );
        let recorded = payment.interface_interactions.last().expect("interaction");
        for (name, value) in [
            ("source", "refresh"),
            ("operation", "cancel"),
            ("phase", Phase::Reconciliation.as_str()),
            ("status", "canceled"),
            ("code", "automatic"),
            ("amount", "3300"),
            ("message", CANCELLED_AT_PSP_MESSAGE),
        ] {
            assert_eq!(field(recorded, name), Some(value), "{name}");
        }
        assert_eq!(field(recorded, "interfaceId"), Some(intent.as_str()));

        // The same webhook again, more refreshes: nothing more.
        assert_eq!(w.deliver(cancelled).await, NotificationOutcome::Duplicate);
        let version = w.get(id).version;
        w.refresh(id).await;
        w.run_tasks().await;
        assert_eq!(w.get(id).version, version);

        // A later Charge is refused before any PSP call.
        let calls = w.psp.calls().len();
        w.add(id, Charge, 3_300).await;
        w.execute().await;
        let payment = w.get(id);
        assert_eq!(payment.transactions[2].state, Failure);
        assert_eq!(
            reason(&payment, 2).as_deref(),
            Some(CHARGE_AFTER_CANCELLED_AUTHORIZATION)
        );
        assert_eq!(w.psp.calls().len(), calls, "{:?}", w.psp.calls());
    });
}

#[test]
fn racing_refreshes_and_webhooks_record_one_cancellation() {
    block(async {
        let w = World::new();
        let (id, intent) = authorized(&w, 1_000).await;
        w.psp
            .cancel_at_psp(&intent, "requested_by_customer")
            .expect("cancel at the dashboard");
        let event = w.psp.events().len() - 1;
        let (_, _, hint) = tokio::join!(w.refresh(id), w.refresh(id), w.deliver(event));
        assert_eq!(hint, NotificationOutcome::Recorded { payment_id: id });
        w.run_tasks().await;
        let payment = w.get(id);
        assert_eq!(
            psp_initiated(&payment),
            [(
                TransactionType::CancelAuthorization,
                TransactionState::Success,
                1_000
            )]
        );
        let reconciliations = (payment.interface_interactions.iter())
            .filter(|i| field(i, "phase") == Some(Phase::Reconciliation.as_str()))
            .count();
        assert_eq!(reconciliations, 1);
        let reasons: Vec<_> = (payment.interface_interactions.iter())
            .filter_map(|i| field(i, "code"))
            .collect();
        assert_eq!(reasons, ["requested_by_customer"]);
    });
}

#[test]
fn a_cancel_payledger_executed_is_not_recorded_again() {
    block(async {
        use TransactionState::Success;
        use TransactionType::{Authorization, CancelAuthorization};
        let w = World::new();
        let (id, _) = authorized(&w, 500).await;
        w.add(id, CancelAuthorization, 500).await;
        w.execute().await;
        let payment = w.get(id);
        assert_eq!(
            states(&payment),
            [(Authorization, Success), (CancelAuthorization, Success)]
        );
        let calls = w.psp.calls().len();
        let refreshed = w.refresh(id).await;
        assert_eq!(refreshed.version, payment.version);
        assert_eq!(psp_initiated(&refreshed), []);
        // Settled authorizations are not even asked about.
        assert_eq!(w.psp.calls().len(), calls, "{:?}", w.psp.calls());
    });
}

#[test]
fn over_amount_charges_and_refunds_fail_without_a_psp_call() {
    block(async {
        use TransactionState::{Failure, Success};
        use TransactionType::{Authorization, Charge, Refund};
        let w = World::new();
        let (id, _) = authorized(&w, 3_300).await;
        let calls = w.psp.calls().len();
        w.add(id, Charge, 3_301).await;
        w.execute().await;
        let payment = w.get(id);
        assert_eq!(payment.transactions[1].state, Failure);
        assert_eq!(
            reason(&payment, 1).as_deref(),
            Some(CHARGE_ABOVE_AUTHORIZED)
        );
        assert_eq!(w.psp.calls().len(), calls, "{:?}", w.psp.calls());

        w.add(id, Charge, 3_300).await;
        w.execute().await;
        let refunds = w.psp.refunds().len();
        w.add(id, Refund, 9_999).await;
        w.execute().await;
        let payment = w.get(id);
        assert_eq!(
            states(&payment),
            [
                (Authorization, Success),
                (Charge, Failure),
                (Charge, Success),
                (Refund, Failure)
            ]
        );
        assert_eq!(
            reason(&payment, 3).as_deref(),
            Some(REFUND_ABOVE_REFUNDABLE)
        );
        assert_eq!(w.psp.refunds().len(), refunds);
    });
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever mix of refreshes, webhooks (repeated, reordered), task
    /// runs, clock moves and PSP faults follows a cancellation at the PSP,
    /// it is recorded exactly once.
    #[test]
    fn a_cancellation_at_the_psp_is_recorded_exactly_once_whatever_happens(
        steps in proptest::collection::vec(super::step(), 0..20),
    ) {
        block(async {
            let w = World::new();
            let (id, intent) = authorized(&w, 700).await;
            w.psp.cancel_at_psp(&intent, "automatic").expect("expire");
            for step in &steps {
                super::apply(&w, id, step).await;
            }
            // Quiesce: each refresh uses up at least one injected fault.
            for _ in 0..=steps.len() + 1 {
                let refreshed = w
                    .service
                    .refresh_payment(&super::project(), id)
                    .await
                    .expect("refresh")
                    .expect("payment");
                if refreshed.errors.is_empty() {
                    break;
                }
            }
            w.run_tasks().await;
            let payment = w.get(id);
            proptest::prop_assert_eq!(
                psp_initiated(&payment),
                vec![(TransactionType::CancelAuthorization, TransactionState::Success, 700)]
            );
            let reconciliations = (payment.interface_interactions.iter())
                .filter(|i| field(i, "phase") == Some(Phase::Reconciliation.as_str()))
                .count();
            proptest::prop_assert_eq!(reconciliations, 1);
            Ok(())
        })?;
    }
}
