//! The PSP flows over the in-memory store, the fake PSP and a manual
//! clock: execution, webhooks, refresh, retries, crash recovery, and the
//! property that any interleaving of them ends in the PSP's final state.

use payledger_app::clock::{Clock, ManualClock};
use payledger_app::consumer::Cursor;
use payledger_app::psp::interaction::INTERACTION_TYPE_KEY;
use payledger_app::psp::notifications::NotificationOutcome;
use payledger_app::psp::tasks;
use payledger_app::psp::{PspAccount, PspPolicy, PspRegistry, PspService, mapping};
use payledger_app::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput};
use payledger_domain::payment::{FieldValue, TransactionState, TransactionType};
use payledger_domain::{
    Actor, CurrencyCode, Event, Money, Payment, PaymentId, ProjectKey, UpdateAction,
};
use payledger_psp::testing::{
    CARD_3DS, CARD_DECLINED, CARD_OK, FakePsp, Fault, SEPA_FAIL, SEPA_OK,
};
use payledger_psp::{IntentStatus, PspConnector, PspError, PspFuture, Secret};
use payledger_store::memory::MemoryStore;
use payledger_store::{EventStore, VersionRange};
use proptest::prelude::*;
use std::sync::Arc;

#[path = "psp/order_attempts.rs"]
mod order_attempts;
#[path = "psp/reconcile.rs"]
mod reconcile;
#[path = "psp/tokenization.rs"]
mod tokenization;

const START_MS: i64 = 1_767_225_600_000;

fn project() -> ProjectKey {
    ProjectKey::parse("shop").expect("project")
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").expect("EUR"))
}

fn policy() -> PspPolicy {
    PspPolicy {
        refresh_first_delay_ms: 60_000,
        refresh_backoff_max_ms: 600_000,
        refresh_attempts_max: 3,
        retry_delay_ms: 1_000,
        retry_delay_max_ms: 8_000,
        execute_attempts_max: 4,
        orphan_delay_ms: 5_000,
        orphan_attempts_max: 3,
    }
}

/// A ledger with the PSP flows over a fake PSP, one partition.
struct World {
    store: Arc<dyn EventStore>,
    ledger: Ledger<dyn EventStore>,
    psp: Arc<FakePsp>,
    clock: Arc<ManualClock>,
    service: PspService,
}

impl World {
    fn new() -> Self {
        Self::with_connector(Arc::new(FakePsp::new()), None)
    }

    /// A world whose service reaches the PSP through `connector` (a
    /// wrapper of `psp`), on `store` if given (a restart).
    fn with_connector(psp: Arc<FakePsp>, reuse: Option<(&World, Arc<dyn PspConnector>)>) -> Self {
        let (store, connector): (Arc<dyn EventStore>, Arc<dyn PspConnector>) = match reuse {
            Some((world, connector)) => (Arc::clone(&world.store), connector),
            None => (Arc::new(MemoryStore::with_partitions(1)), psp.clone()),
        };
        let clock = Arc::new(ManualClock::new(START_MS));
        let ledger = Ledger::new(Arc::clone(&store));
        let mut registry = PspRegistry::default();
        registry.insert(
            &project(),
            PspAccount {
                interface: "stripe".into(),
                connector,
                webhook_secrets: vec![Secret::new("whsec_test")],
                publishable_key: Some("pk_test_app".into()),
                js_url: None,
            },
        );
        let service = PspService::new(
            ledger.clone(),
            registry,
            Arc::clone(&clock) as Arc<dyn Clock>,
            policy(),
        );
        Self {
            store,
            ledger,
            psp,
            clock,
            service,
        }
    }

    /// The order use cases over this world's ledger and PSP service.
    fn order_attempts(
        &self,
    ) -> (
        payledger_app::Orders<dyn EventStore>,
        payledger_app::order_attempts::OrderAttempts,
    ) {
        let orders = payledger_app::Orders::new(self.ledger.clone());
        let attempts = payledger_app::order_attempts::OrderAttempts::new(
            orders.clone(),
            self.ledger.clone(),
            self.service.clone(),
        );
        (orders, attempts)
    }

    async fn command(&self, command: PaymentCommand) -> Payment {
        let meta = CommandMeta {
            project: project(),
            actor: Actor::Client("merchant".into()),
            now: self.clock.now(),
            correlation_id: None,
            idempotency: None,
        };
        std::sync::Arc::unwrap_or_clone(
            self.ledger
                .execute(meta, command)
                .await
                .expect("command")
                .payment,
        )
    }

    async fn create(&self, token: &str, method: &str, kinds: &[(TransactionType, i64)]) -> Payment {
        let mut draft = PaymentDraftInput::new(eur(10_000));
        draft.payment_method_info.payment_interface = Some("stripe".into());
        draft.payment_method_info.token = Some(token.into());
        draft.payment_method_info.method = Some(method.into());
        draft.transactions = kinds
            .iter()
            .map(|(kind, cents)| TransactionDraftInput::new(*kind, eur(*cents)))
            .collect();
        self.command(PaymentCommand::Create(Box::new(draft))).await
    }

    async fn add(&self, id: PaymentId, kind: TransactionType, cents: i64) -> Payment {
        let payment = self.get(id);
        let action = UpdateAction::AddTransaction(TransactionDraftInput::new(kind, eur(cents)));
        self.command(PaymentCommand::Update {
            target: PaymentRef::Id(id),
            version: payment.version,
            actions: vec![action],
        })
        .await
    }

    fn get(&self, id: PaymentId) -> Payment {
        self.ledger
            .view(&project(), id)
            .expect("view")
            .expect("payment")
    }

    /// Runs the executor until it has consumed the whole log.
    async fn execute(&self) {
        let mut cursor = Cursor::load(&*self.store, "psp-executor", 0).expect("cursor");
        while self
            .service
            .execute_batch(&mut cursor)
            .await
            .expect("batch")
            > 0
        {}
    }

    async fn run_tasks(&self) -> usize {
        self.service.run_due_tasks().await.expect("tasks")
    }

    /// Delivers the fake PSP's `index`-th event as a verified webhook.
    async fn deliver(&self, index: usize) -> NotificationOutcome {
        let event = self.psp.events()[index].clone();
        let body = format!(
            r#"{{"id":"{}","type":"payment_intent.{}","created":{},
            "data":{{"object":{{"id":"{}","object":"payment_intent","status":"{}"}}}}}}"#,
            event.id,
            event.status.as_str(),
            self.clock.now_ms() / 1_000,
            event.payment_intent,
            event.status.as_str(),
        );
        let header = payledger_psp::signature::sign(
            &Secret::new("whsec_test"),
            self.clock.now_ms() / 1_000,
            body.as_bytes(),
        );
        let verified = self
            .service
            .verify_stripe_webhook(&project(), Some(&header), body.as_bytes())
            .expect("verified");
        self.service
            .receive_webhook(&project(), "stripe", &verified)
            .await
            .expect("intake")
    }

    async fn refresh(&self, id: PaymentId) -> Payment {
        self.service
            .refresh_payment(&project(), id)
            .await
            .expect("refresh")
            .expect("payment")
            .payment
    }
}

fn states(payment: &Payment) -> Vec<(TransactionType, TransactionState)> {
    payment
        .transactions
        .iter()
        .map(|t| (t.kind, t.state))
        .collect()
}

fn field<'a>(fields: &'a payledger_domain::payment::CustomFields, name: &str) -> Option<&'a str> {
    match fields.fields.get(name) {
        Some(FieldValue::String(text)) => Some(text),
        _ => None,
    }
}

/// `(source, operation, phase, status)` of every interaction.
fn interactions(payment: &Payment) -> Vec<[String; 4]> {
    payment
        .interface_interactions
        .iter()
        .map(|i| {
            ["source", "operation", "phase", "status"]
                .map(|name| field(i, name).unwrap_or("-").to_owned())
        })
        .collect()
}

fn row(source: &str, operation: &str, phase: &str, status: &str) -> [String; 4] {
    [source, operation, phase, status].map(str::to_owned)
}

fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn authorize_capture_and_partially_refund() {
    block(async {
        use TransactionState::{Initial, Success};
        use TransactionType::{Authorization, Charge, Refund};
        let w = World::new();
        let payment = w.create(CARD_OK, "card", &[(Authorization, 10_000)]).await;
        assert_eq!(states(&payment), [(Authorization, Initial)]);
        w.execute().await;
        let payment = w.get(payment.id);
        assert_eq!(states(&payment), [(Authorization, Success)]);
        let intent = payment.transactions[0]
            .interface_id
            .clone()
            .expect("interface id");
        assert_eq!(
            payment.payment_status.interface_code.as_deref(),
            Some("requires_capture")
        );

        w.add(payment.id, Charge, 10_000).await;
        w.execute().await;
        let payment = w.add(payment.id, Refund, 2_500).await;
        w.execute().await;
        let payment = w.get(payment.id);
        assert_eq!(
            states(&payment),
            [
                (Authorization, Success),
                (Charge, Success),
                (Refund, Success)
            ]
        );
        let charge = payment.transactions[1]
            .interface_id
            .clone()
            .expect("charge id");
        assert!(charge.starts_with("ch_"), "{charge}");
        assert!(
            payment.transactions[2]
                .interface_id
                .as_deref()
                .is_some_and(|id| id.starts_with("re_"))
        );
        assert_eq!(
            payment.payment_status.interface_code.as_deref(),
            Some("succeeded")
        );
        assert_eq!(
            interactions(&payment),
            [
                row("executor", "authorize", "request", "-"),
                row("executor", "authorize", "response", "requires_capture"),
                row("executor", "capture", "request", "-"),
                row("executor", "capture", "response", "succeeded"),
                row("executor", "refund", "request", "-"),
                row("executor", "refund", "response", "succeeded"),
            ]
        );
        let fake = w.psp.intent(&intent).expect("intent");
        assert_eq!(fake.status, IntentStatus::Succeeded);
        assert_eq!(w.psp.refunds()[0].amount, 2_500);
        assert_eq!(
            w.psp
                .intents_for(&payment.transactions[0].id.to_string())
                .len(),
            1
        );
        // Nothing was left to do: the watchdogs were removed, no refresh is due.
        w.clock.advance(3_600_000);
        assert_eq!(w.run_tasks().await, 0);
        // Every PSP object finds its payment.
        assert_eq!(
            tasks::next_due_ms(&*w.store).expect("tasks"),
            None,
            "no task is left"
        );
    });
}

#[test]
fn three_d_secure_success_arrives_by_webhook_and_failure_by_refresh() {
    block(async {
        use TransactionState::{Failure, Pending, Success};
        let w = World::new();
        let ok = w
            .create(CARD_3DS, "card", &[(TransactionType::Charge, 5_000)])
            .await;
        let bad = w
            .create(CARD_3DS, "card", &[(TransactionType::Authorization, 5_000)])
            .await;
        w.execute().await;
        for id in [ok.id, bad.id] {
            let payment = w.get(id);
            assert_eq!(payment.transactions[0].state, Pending);
            let response = &payment.interface_interactions[1];
            assert_eq!(field(response, "status"), Some("requires_action"));
            assert!(field(response, "clientSecret").is_some_and(|s| s.contains("_secret_")));
        }
        let intent = w.get(ok.id).transactions[0]
            .interface_id
            .clone()
            .expect("intent");
        w.psp.authenticate(&intent, true).expect("authenticate");
        let last = w.psp.events().len() - 1;
        assert_eq!(
            w.deliver(last).await,
            NotificationOutcome::Recorded { payment_id: ok.id }
        );
        // The webhook changed nothing but an interaction; the refresh it
        // scheduled (due now) settles the transaction.
        assert_eq!(w.get(ok.id).transactions[0].state, Pending);
        assert_eq!(w.run_tasks().await, 1);
        assert_eq!(w.get(ok.id).transactions[0].state, Success);

        let intent = w.get(bad.id).transactions[0]
            .interface_id
            .clone()
            .expect("intent");
        w.psp.authenticate(&intent, false).expect("authenticate");
        let payment = w.refresh(bad.id).await;
        assert_eq!(payment.transactions[0].state, Failure);
        let last = payment.interface_interactions.last().expect("interaction");
        assert_eq!(field(last, "source"), Some("refresh"));
        assert_eq!(
            field(last, "code"),
            Some("payment_intent_authentication_failure")
        );
    });
}

#[test]
fn a_declined_card_fails_with_its_decline_code() {
    block(async {
        let w = World::new();
        let payment = w
            .create(
                CARD_DECLINED,
                "card",
                &[(TransactionType::Authorization, 700)],
            )
            .await;
        w.execute().await;
        let payment = w.get(payment.id);
        assert_eq!(payment.transactions[0].state, TransactionState::Failure);
        assert!(payment.transactions[0].interface_id.is_some());
        assert_eq!(
            payment.payment_status.interface_code.as_deref(),
            Some("requires_payment_method")
        );
        let response = payment.interface_interactions.last().expect("response");
        assert_eq!(field(response, "code"), Some("card_declined"));
        assert_eq!(field(response, "declineCode"), Some("generic_decline"));
    });
}

#[test]
fn sepa_stays_pending_until_the_psp_settles_it() {
    block(async {
        let w = World::new();
        let failing = w
            .create(SEPA_FAIL, "sepa_debit", &[(TransactionType::Charge, 900)])
            .await;
        let paying = w
            .create(SEPA_OK, "sepa_debit", &[(TransactionType::Charge, 900)])
            .await;
        w.execute().await;
        for id in [failing.id, paying.id] {
            assert_eq!(w.get(id).transactions[0].state, TransactionState::Pending);
        }
        for id in [failing.id, paying.id] {
            let intent = w.get(id).transactions[0]
                .interface_id
                .clone()
                .expect("intent");
            w.psp.settle(&intent).expect("settle");
        }
        // No webhook: the scheduled refresh finds both outcomes.
        w.clock.advance(60_000);
        assert_eq!(w.run_tasks().await, 2);
        assert_eq!(
            w.get(failing.id).transactions[0].state,
            TransactionState::Failure
        );
        assert_eq!(
            w.get(paying.id).transactions[0].state,
            TransactionState::Success
        );
    });
}

#[test]
fn refreshes_back_off_and_give_up_saying_why() {
    block(async {
        let w = World::new();
        let payment = w
            .create(SEPA_OK, "sepa_debit", &[(TransactionType::Charge, 900)])
            .await;
        w.execute().await;
        // Attempts 1, 2 and 3 at +60 s, +120 s, +240 s after the previous.
        for (wait, expected) in [(59_999, 0), (1, 1), (119_999, 0), (1, 1), (240_000, 1)] {
            w.clock.advance(wait);
            assert_eq!(w.run_tasks().await, expected, "after {wait} ms");
        }
        let payment = w.get(payment.id);
        assert_eq!(payment.transactions[0].state, TransactionState::Pending);
        let text = payment
            .payment_status
            .interface_text
            .expect("interface text");
        assert!(
            text.contains("stopped refreshing after 3 attempts"),
            "{text}"
        );
        w.clock.advance(10_000_000);
        assert_eq!(w.run_tasks().await, 0);
    });
}

#[test]
fn a_psp_outage_is_retried_with_backoff_until_it_succeeds() {
    block(async {
        let w = World::new();
        for _ in 0..3 {
            w.psp.inject(Fault::Before(PspError::Network {
                message: "connection refused".into(),
            }));
        }
        let payment = w
            .create(CARD_OK, "card", &[(TransactionType::Authorization, 100)])
            .await;
        w.execute().await;
        assert_eq!(
            w.get(payment.id).transactions[0].state,
            TransactionState::Pending
        );
        // The watchdog at +1 s fails again (find), then +2 s fails, then +4 s works.
        for (wait, state) in [
            (1_000, TransactionState::Pending),
            (2_000, TransactionState::Pending),
            (4_000, TransactionState::Success),
        ] {
            w.clock.advance(wait);
            assert_eq!(w.run_tasks().await, 1);
            assert_eq!(
                w.get(payment.id).transactions[0].state,
                state,
                "after {wait} ms"
            );
        }
        let payment = w.get(payment.id);
        let errors = payment
            .interface_interactions
            .iter()
            .filter(|i| field(i, "phase") == Some("error"))
            .count();
        assert_eq!(errors, 3);
        assert_eq!(
            w.psp
                .intents_for(&payment.transactions[0].id.to_string())
                .len(),
            1
        );
        w.clock.advance(100_000);
        assert_eq!(w.run_tasks().await, 0, "the chain ended");
    });
}

#[test]
fn an_endless_outage_stops_after_the_bounded_attempts() {
    block(async {
        let w = World::new();
        for _ in 0..10 {
            w.psp.inject(Fault::Before(PspError::RateLimited));
        }
        let payment = w
            .create(CARD_OK, "card", &[(TransactionType::Charge, 100)])
            .await;
        w.execute().await;
        for _ in 0..4 {
            w.clock.advance(8_000);
            assert_eq!(w.run_tasks().await, 1);
        }
        let payment = w.get(payment.id);
        let text = payment.payment_status.interface_text.expect("text");
        assert!(
            text.contains("stopped retrying the PSP after 4 attempts"),
            "{text}"
        );
        w.clock.advance(100_000);
        assert_eq!(w.run_tasks().await, 0);
    });
}

/// A connector that acts at the PSP and then never answers: the process
/// "crashes" between the PSP call and the append.
#[derive(Debug)]
struct Stall {
    inner: Arc<FakePsp>,
    acted: Arc<tokio::sync::Notify>,
}

impl PspConnector for Stall {
    fn object_kind(&self, id: &str) -> payledger_psp::ObjectKind {
        self.inner.object_kind(id)
    }
    fn create_payment_intent<'a>(
        &'a self,
        request: &'a payledger_psp::CreateIntent,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        Box::pin(async move {
            let _ = self.inner.create_payment_intent(request).await;
            self.acted.notify_one();
            std::future::pending().await
        })
    }
    fn save_card<'a>(
        &'a self,
        request: &'a payledger_psp::SaveCard,
    ) -> PspFuture<'a, payledger_psp::SavedCard> {
        self.inner.save_card(request)
    }
    fn set_payment_method<'a>(
        &'a self,
        id: &'a str,
        card: &'a payledger_psp::SavedCard,
        key: &'a str,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        self.inner.set_payment_method(id, card, key)
    }
    fn confirm_payment_intent<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        self.inner.confirm_payment_intent(id, key)
    }
    fn capture_payment_intent<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        key: &'a str,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        self.inner.capture_payment_intent(id, amount, key)
    }
    fn cancel_payment_intent<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        self.inner.cancel_payment_intent(id, key)
    }
    fn retrieve_payment_intent<'a>(
        &'a self,
        id: &'a str,
    ) -> PspFuture<'a, payledger_psp::PaymentIntent> {
        self.inner.retrieve_payment_intent(id)
    }
    fn find_payment_intent<'a>(
        &'a self,
        txn: &'a str,
    ) -> PspFuture<'a, Option<payledger_psp::PaymentIntent>> {
        self.inner.find_payment_intent(txn)
    }
    fn create_refund<'a>(
        &'a self,
        request: &'a payledger_psp::CreateRefund,
    ) -> PspFuture<'a, payledger_psp::Refund> {
        self.inner.create_refund(request)
    }
    fn retrieve_refund<'a>(&'a self, id: &'a str) -> PspFuture<'a, payledger_psp::Refund> {
        self.inner.retrieve_refund(id)
    }
    fn find_refund<'a>(
        &'a self,
        charged: &'a str,
        txn: &'a str,
    ) -> PspFuture<'a, Option<payledger_psp::Refund>> {
        self.inner.find_refund(charged, txn)
    }
}

#[test]
fn a_crash_between_the_psp_call_and_the_append_creates_one_intent() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let psp = Arc::new(FakePsp::new());
        let acted = Arc::new(tokio::sync::Notify::new());
        let plain = World::with_connector(Arc::clone(&psp), None);
        let stalling: Arc<dyn PspConnector> = Arc::new(Stall {
            inner: Arc::clone(&psp),
            acted: Arc::clone(&acted),
        });
        let crashing = World::with_connector(Arc::clone(&psp), Some((&plain, stalling)));
        let payment = plain
            .create(CARD_OK, "card", &[(TransactionType::Authorization, 100)])
            .await;
        let running = tokio::spawn(async move { crashing.execute().await });
        acted.notified().await;
        running.abort();
        let _ = running.await;
        let txn = payment.transactions[0].id.to_string();
        assert_eq!(psp.intents_for(&txn).len(), 1);
        // Claimed and in doubt: Pending without an interface id.
        let stuck = plain.get(payment.id);
        assert_eq!(stuck.transactions[0].state, TransactionState::Pending);
        assert_eq!(stuck.transactions[0].interface_id, None);

        // "Restart": a new service on the same store. The executor's log
        // pass leaves the claimed transaction alone; the watchdog resumes it.
        let restarted = World::with_connector(Arc::clone(&psp), Some((&plain, psp.clone())));
        restarted.execute().await;
        restarted.clock.advance(1_000);
        assert_eq!(restarted.run_tasks().await, 1);
        let payment = restarted.get(payment.id);
        assert_eq!(payment.transactions[0].state, TransactionState::Success);
        let intents = psp.intents_for(&txn);
        assert_eq!(intents.len(), 1, "exactly one PaymentIntent");
        assert_eq!(
            payment.transactions[0].interface_id.as_deref(),
            Some(intents[0].id.as_str())
        );
        assert!(
            !psp.calls().iter().skip(1).any(|c| c == "create"),
            "{:?}",
            psp.calls()
        );
    });
}

#[test]
fn duplicate_and_orphan_webhooks_are_recorded_once() {
    block(async {
        let w = World::new();
        let payment = w
            .create(CARD_3DS, "card", &[(TransactionType::Charge, 100)])
            .await;
        // A webhook about an intent no payment knows yet: orphaned; the
        // same event again is a duplicate of the orphan held.
        w.psp.inject(Fault::AnswerLost);
        w.execute().await;
        assert_eq!(w.deliver(0).await, NotificationOutcome::Orphaned);
        assert_eq!(w.deliver(0).await, NotificationOutcome::Duplicate);
        // The watchdog (+1 s) resumes the execution; the orphan (+5 s)
        // then finds the payment; its refresh is due at once.
        w.clock.advance(1_000);
        assert_eq!(w.run_tasks().await, 1);
        assert!(w.get(payment.id).transactions[0].interface_id.is_some());
        w.clock.advance(4_000);
        assert_eq!(w.run_tasks().await, 1);
        assert!(w.run_tasks().await >= 1);
        let notifications = |p: &Payment| {
            p.interface_interactions
                .iter()
                .filter(|i| field(i, "phase") == Some("notification"))
                .count()
        };
        assert_eq!(notifications(&w.get(payment.id)), 1);
        assert_eq!(w.deliver(0).await, NotificationOutcome::Duplicate);
        assert_eq!(notifications(&w.get(payment.id)), 1);
    });
}

#[test]
fn forged_and_stale_webhooks_are_refused() {
    let w = World::new();
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1","object":"payment_intent"}}}"#;
    let now = w.clock.now_ms() / 1_000;
    let good = payledger_psp::signature::sign(&Secret::new("whsec_test"), now, body);
    assert!(
        w.service
            .verify_stripe_webhook(&project(), Some(&good), body)
            .is_ok()
    );
    let forged = payledger_psp::signature::sign(&Secret::new("whsec_other"), now, body);
    let stale = payledger_psp::signature::sign(&Secret::new("whsec_test"), now - 301, body);
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    for (header, body) in [
        (Some(forged.as_str()), &body[..]),
        (Some(&stale), &body[..]),
        (Some(&good), &tampered[..]),
        (None, &body[..]),
    ] {
        assert!(
            w.service
                .verify_stripe_webhook(&project(), header, body)
                .is_err()
        );
    }
    let other = ProjectKey::parse("other").expect("project");
    assert!(
        w.service
            .verify_stripe_webhook(&other, Some(&good), body)
            .is_err()
    );
}

#[test]
fn the_interaction_type_is_created_in_the_project() {
    block(async {
        let w = World::new();
        let payment = w
            .create(CARD_OK, "card", &[(TransactionType::Authorization, 100)])
            .await;
        w.execute().await;
        let record: payledger_app::catalog::TypeRecord = payledger_app::catalog::get(
            &*w.store,
            &project(),
            &payledger_domain::ResourceRef::Key(INTERACTION_TYPE_KEY.into()),
        )
        .expect("type");
        assert_eq!(
            w.get(payment.id).interface_interactions[0].type_id,
            record.id
        );
        assert_eq!(record.resource_type_ids, ["payment-interface-interaction"]);
    });
}

/// What may happen, in any order, to one payment.
#[derive(Clone, Debug)]
enum Step {
    Execute,
    RunTasks,
    Refresh,
    /// Deliver the n-th PSP event (modulo how many there are).
    Deliver(usize),
    /// The customer finishes 3-D Secure.
    Authenticate(bool),
    /// A SEPA payment settles.
    Settle,
    Advance(i64),
    /// The next PSP call fails: its answer is lost, or it never arrives.
    Fault(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Execute),
        Just(Step::RunTasks),
        Just(Step::Refresh),
        (0usize..8).prop_map(Step::Deliver),
        any::<bool>().prop_map(Step::Authenticate),
        Just(Step::Settle),
        (0i64..120_000).prop_map(Step::Advance),
        any::<bool>().prop_map(Step::Fault),
    ]
}

async fn apply(w: &World, id: PaymentId, step: &Step) {
    let intent = || w.get(id).transactions[0].interface_id.clone();
    match step {
        Step::Execute => w.execute().await,
        Step::RunTasks => drop(w.run_tasks().await),
        Step::Refresh => drop(w.refresh(id).await),
        Step::Deliver(n) => {
            let count = w.psp.events().len();
            if count > 0 {
                w.deliver(n % count).await;
            }
        }
        Step::Authenticate(success) => {
            if let Some(intent) = intent() {
                let _ = w.psp.authenticate(&intent, *success);
            }
        }
        Step::Settle => {
            if let Some(intent) = intent() {
                let _ = w.psp.settle(&intent);
            }
        }
        Step::Advance(ms) => w.clock.advance(*ms),
        Step::Fault(lost) => w.psp.inject(if *lost {
            Fault::AnswerLost
        } else {
            Fault::Before(PspError::Network {
                message: "refused".into(),
            })
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever order executor passes, webhooks (duplicated, reordered),
    /// refreshes and PSP-side changes come in, the transaction ends in the
    /// state the PSP's final status means, and no final state ever changed.
    #[test]
    fn any_interleaving_ends_in_the_psps_final_state(
        card in proptest::sample::select(vec![CARD_OK, CARD_3DS, CARD_DECLINED, SEPA_OK, SEPA_FAIL]),
        authorize in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..24),
    ) {
        block(async {
            let w = World::new();
            let kind = if authorize { TransactionType::Authorization } else { TransactionType::Charge };
            let method = if card.starts_with("pm_sepa") { "sepa_debit" } else { "card" };
            let payment = w.create(card, method, &[(kind, 1_000)]).await;
            for step in &steps {
                apply(&w, payment.id, step).await;
            }
            // Quiesce: execute, then refresh until a refresh meets no
            // failure and nothing is in doubt (each refresh uses up at least
            // one injected fault).
            w.execute().await;
            let mut last = None;
            for _ in 0..=steps.len() + 1 {
                let refreshed = w
                    .service
                    .refresh_payment(&project(), payment.id)
                    .await
                    .expect("refresh")
                    .expect("payment");
                let settled = refreshed.errors.is_empty()
                    && refreshed.payment.transactions[0].interface_id.is_some();
                last = Some(refreshed.payment);
                if settled {
                    break;
                }
            }
            let last = last.expect("refreshed");
            let txn = &last.transactions[0];
            let intent = w.psp.intent(txn.interface_id.as_deref().expect("interface id")).expect("intent");
            let operation = if authorize { mapping::Operation::Authorize } else { mapping::Operation::Charge };
            let expected = mapping::intent_state(operation, intent.status);
            prop_assert_eq!(txn.state, expected, "PSP says {:?}", intent.status);
            prop_assert_eq!(w.psp.intents_for(&txn.id.to_string()).len(), 1);
            // No event moved the transaction out of a final state.
            let events = w.store.read_stream(payment.id.into(), VersionRange::ALL).expect("stream");
            let mut state = TransactionState::Initial;
            for envelope in events {
                if let Event::TransactionStateChanged { state: next, .. } = envelope.event {
                    prop_assert!(!state.is_final(), "{:?} -> {:?}", state, next);
                    state = next;
                }
            }
            Ok(())
        })?;
    }
}
