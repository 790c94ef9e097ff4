//! Retry payment (seed 000) over the fake PSP and a manual clock: when a
//! new attempt is allowed, how an old one expires, and that concurrent
//! retries make one attempt.

use super::{World, block, eur, project};
use payledger_app::clock::Clock;
use payledger_app::order_attempts::{MandateRequest, OrderAttempts, RetryOutcome, RetryRequest};
use payledger_app::psp::PspFailure;
use payledger_app::psp::card_payment::CardPayment;
use payledger_app::psp::expire::EXPIRED_CODE;
use payledger_app::psp::saved_methods;
use payledger_app::{AppError, CommandMeta, OrderCommand, OrderRef, OrderView, Orders};
use payledger_domain::payment::{FieldValue, TransactionState, TransactionType};
use payledger_domain::{Actor, OrderAction, OrderDraft, OrderPaymentState, Rejection};
use payledger_psp::IntentStatus;
use payledger_psp::config::OrderSettings;
use payledger_psp::testing::{CARD_3DS, CARD_DECLINED, CARD_OK, card_token};
use payledger_store::EventStore;
use std::collections::BTreeMap;

const MINUTE_MS: i64 = 60_000;

struct Shop {
    world: World,
    orders: Orders<dyn EventStore>,
    attempts: OrderAttempts,
}

impl Shop {
    fn new() -> Self {
        let world = World::new();
        let (orders, attempts) = world.order_attempts();
        Self {
            world,
            orders,
            attempts,
        }
    }

    fn meta(&self) -> CommandMeta {
        CommandMeta {
            project: project(),
            actor: Actor::Client("storefront".into()),
            now: self.world.clock.now(),
            correlation_id: None,
            idempotency: None,
        }
    }

    async fn order(&self, number: &str, cents: i64) -> OrderView {
        let draft = OrderDraft {
            order_number: number.into(),
            key: None,
            total_price: eur(cents),
            customer_id: Some("customer-7".into()),
            customer_email: Some("ada@example.com".into()),
            recurring: false,
        };
        self.orders
            .execute(self.meta(), None, OrderCommand::Create(draft))
            .await
            .expect("order")
    }

    fn read(&self, number: &str) -> OrderView {
        self.orders
            .get(&project(), &OrderRef::Number(number.into()))
            .expect("read")
            .expect("order")
    }

    async fn retry(&self, number: &str) -> Result<RetryOutcome, PspFailure> {
        self.retry_with(number, page_request()).await
    }

    async fn retry_with(
        &self,
        number: &str,
        request: RetryRequest,
    ) -> Result<RetryOutcome, PspFailure> {
        self.attempts
            .retry(self.meta(), None, OrderRef::Number(number.into()), request)
            .await
    }
}

fn page_request() -> RetryRequest {
    RetryRequest {
        provider: "stripe".into(),
        integration_type: Some("card".into()),
        return_url: Some("https://shop.example/return".into()),
        action: "paymentPage".into(),
        gateway_reference_id: Some("gw-1".into()),
        mandate: None,
    }
}

fn rejection(result: Result<RetryOutcome, PspFailure>) -> Rejection {
    match result {
        Err(PspFailure::App(AppError::Rejected(rejection))) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn charge_state(outcome: &RetryOutcome, shop: &Shop) -> TransactionState {
    shop.world.get(outcome.attempt.id).transactions[0].state
}

#[test]
fn a_first_retry_makes_an_attempt_for_the_outstanding_amount_that_the_shopper_pays() {
    block(async {
        let shop = Shop::new();
        shop.order("A-1", 4_200).await;
        let outcome = shop.retry("A-1").await.expect("retry");
        assert_eq!(outcome.attempt.amount_planned, eur(4_200));
        assert_eq!(outcome.order.order.payments, [outcome.attempt.id]);
        assert_eq!(
            outcome.order.totals.payment_state,
            OrderPaymentState::Pending
        );
        assert_eq!(charge_state(&outcome, &shop), TransactionState::Pending);
        let intent = shop.world.psp.intent(&outcome.intent_id).expect("intent");
        assert_eq!(intent.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(intent.amount, 4_200);
        assert_eq!(
            Some(outcome.client_secret.expose()),
            intent.client_secret.as_ref().map(|s| s.expose())
        );
        assert_eq!(outcome.publishable_key.as_deref(), Some("pk_test_app"));
        assert_eq!(outcome.environment, "test");
        assert_eq!(
            outcome.expires_at.0,
            shop.world.clock.now_ms() + 15 * MINUTE_MS
        );

        shop.world
            .psp
            .confirm_as_customer(&outcome.intent_id, CARD_OK)
            .expect("pay");
        shop.world.refresh(outcome.attempt.id).await;
        let order = shop.read("A-1");
        assert_eq!(order.totals.payment_state, OrderPaymentState::Paid);
        assert_eq!(order.totals.total_outstanding, eur(0));
        assert!(matches!(
            rejection(shop.retry("A-1").await),
            Rejection::NothingOutstanding { .. }
        ));
    });
}

#[test]
fn a_retry_is_allowed_at_once_after_a_declined_attempt() {
    block(async {
        let shop = Shop::new();
        shop.order("A-2", 1_000).await;
        let first = shop.retry("A-2").await.expect("first");
        let declined = shop
            .world
            .psp
            .confirm_as_customer(&first.intent_id, CARD_DECLINED);
        assert!(declined.is_err(), "the card is declined");
        shop.world.refresh(first.attempt.id).await;
        assert_eq!(charge_state(&first, &shop), TransactionState::Failure);
        assert_eq!(
            shop.read("A-2").totals.payment_state,
            OrderPaymentState::Failed
        );
        let second = shop.retry("A-2").await.expect("second");
        assert_ne!(second.attempt.id, first.attempt.id);
        assert_eq!(
            second.order.order.payments,
            [first.attempt.id, second.attempt.id]
        );
    });
}

#[test]
fn an_unfinished_attempt_blocks_a_retry_for_fifteen_minutes_and_is_then_expired() {
    block(async {
        let shop = Shop::new();
        shop.order("A-3", 2_500).await;
        let first = shop.retry("A-3").await.expect("first");
        shop.world.clock.advance(15 * MINUTE_MS - 1);
        match rejection(shop.retry("A-3").await) {
            Rejection::RetryNotYetAllowed {
                attempt,
                allowed_from,
                wait_ms,
            } => {
                assert_eq!(attempt, first.attempt.id);
                assert_eq!(allowed_from, first.expires_at);
                assert_eq!(wait_ms, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(shop.read("A-3").order.payments.len(), 1, "nothing changed");

        shop.world.clock.advance(1);
        let second = shop.retry("A-3").await.expect("second");
        let expired = shop.world.get(first.attempt.id);
        assert_eq!(expired.transactions[0].state, TransactionState::Failure);
        let reason = expired
            .interface_interactions
            .iter()
            .find(|i| i.fields.get("code") == Some(&FieldValue::String(EXPIRED_CODE.into())))
            .expect("the expiry is recorded");
        assert!(matches!(
            reason.fields.get("message"),
            Some(FieldValue::String(m)) if m.contains("A-3")
        ));
        let old_intent = shop.world.psp.intent(&first.intent_id).expect("old intent");
        assert_eq!(old_intent.status, IntentStatus::Canceled);
        assert_eq!(charge_state(&second, &shop), TransactionState::Pending);
    });
}

#[test]
fn an_attempt_paid_meanwhile_is_recorded_as_paid_not_expired() {
    block(async {
        let shop = Shop::new();
        shop.order("A-4", 900).await;
        let first = shop.retry("A-4").await.expect("first");
        // The shopper pays; no webhook or refresh has told payledger yet.
        shop.world
            .psp
            .confirm_as_customer(&first.intent_id, CARD_OK)
            .expect("pay");
        shop.world.clock.advance(20 * MINUTE_MS);
        assert!(matches!(
            rejection(shop.retry("A-4").await),
            Rejection::NothingOutstanding { .. }
        ));
        assert_eq!(charge_state(&first, &shop), TransactionState::Success);
        assert_eq!(
            shop.world
                .psp
                .intent(&first.intent_id)
                .expect("intent")
                .status,
            IntentStatus::Succeeded
        );
        assert_eq!(shop.read("A-4").order.payments.len(), 1);
    });
}

#[test]
fn concurrent_retries_of_one_order_make_one_attempt() {
    block(async {
        let shop = Shop::new();
        shop.order("A-5", 700).await;
        let (a, b) = tokio::join!(shop.retry("A-5"), shop.retry("A-5"));
        let made = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(made, 1, "{a:?} {b:?}");
        let refused = if a.is_ok() { b } else { a };
        assert!(matches!(
            rejection(refused),
            Rejection::RetryNotYetAllowed { .. }
        ));
        assert_eq!(shop.read("A-5").order.payments.len(), 1);
    });
}

#[test]
fn unknown_providers_pages_without_return_url_and_cancelled_orders_are_refused() {
    block(async {
        let shop = Shop::new();
        shop.order("A-6", 100).await;
        let mut unknown = page_request();
        unknown.provider = "adyen".into();
        assert_eq!(
            rejection(shop.retry_with("A-6", unknown).await),
            Rejection::UnknownPaymentProvider {
                slug: "adyen".into()
            }
        );
        let mut no_return = page_request();
        no_return.return_url = None;
        assert_eq!(
            rejection(shop.retry_with("A-6", no_return).await),
            Rejection::ReturnUrlRequired
        );
        let order = shop.read("A-6").order;
        shop.orders
            .execute(
                shop.meta(),
                None,
                OrderCommand::Update {
                    target: OrderRef::Id(order.id),
                    version: order.version,
                    actions: vec![OrderAction::Cancel],
                },
            )
            .await
            .expect("cancel");
        assert_eq!(
            rejection(shop.retry("A-6").await),
            Rejection::OrderCancelled { id: order.id }
        );
        assert!(shop.read("A-6").order.payments.is_empty());
        assert!(matches!(
            shop.retry("nope").await,
            Err(PspFailure::App(AppError::NotFound))
        ));
    });
}

#[test]
fn the_wait_before_an_unfinished_attempt_expires_is_a_project_setting() {
    block(async {
        let mut shop = Shop::new();
        let settings = OrderSettings {
            retry_after_ms: 2 * MINUTE_MS as u64,
            ..OrderSettings::default()
        };
        shop.attempts = shop
            .attempts
            .clone()
            .with_settings(BTreeMap::from([(project(), settings)]));
        shop.order("A-7", 100).await;
        let first = shop.retry("A-7").await.expect("first");
        assert_eq!(
            first.expires_at.0,
            shop.world.clock.now_ms() + 2 * MINUTE_MS
        );
        shop.world.clock.advance(2 * MINUTE_MS);
        shop.retry("A-7")
            .await
            .expect("second, after the project's wait");
    });
}

fn mandate_request() -> RetryRequest {
    RetryRequest {
        mandate: Some(MandateRequest {
            frequency: Some("monthly".into()),
            ..MandateRequest::default()
        }),
        ..page_request()
    }
}

/// A retry paid on the page with `method`; returns the outcome and what
/// the page submit said.
async fn pay_on_page(
    shop: &Shop,
    number: &str,
    request: RetryRequest,
    method: &str,
) -> (RetryOutcome, CardPayment) {
    let outcome = shop.retry_with(number, request).await.expect("retry");
    let page = shop
        .attempts
        .page(&outcome.link_token)
        .await
        .expect("page")
        .expect("the link is known");
    assert_eq!(page.attempt.id, outcome.attempt.id);
    assert_eq!(
        shop.attempts
            .client_secret(&page)
            .await
            .expect("client secret")
            .as_ref()
            .map(|s| s.expose()),
        Some(outcome.client_secret.expose())
    );
    let paid = shop
        .attempts
        .submit_page(&page.link, Some(&card_token(method)))
        .await
        .expect("submit")
        .expect("payment");
    (outcome, paid)
}

#[test]
fn the_page_pays_with_a_card_and_saves_it_for_reuse_only_with_a_mandate() {
    block(async {
        let shop = Shop::new();
        shop.order("P-1", 1_500).await;
        let (plain, paid) = pay_on_page(&shop, "P-1", page_request(), CARD_OK).await;
        assert_eq!(
            paid.payment.transactions[0].state,
            TransactionState::Success
        );
        assert!(paid.refusal.is_none() && paid.authenticate_with.is_none());
        assert_eq!(
            shop.read("P-1").totals.payment_state,
            OrderPaymentState::Paid
        );
        let saved = saved_methods::read(&*shop.world.store, &project(), plain.attempt.id)
            .expect("read")
            .expect("the card is recorded");
        assert!(!saved.reusable, "no mandate, no merchant-initiated reuse");
        assert_eq!(saved.last4.as_deref(), Some("4242"));

        shop.order("P-2", 1_500).await;
        let (with_mandate, _) = pay_on_page(&shop, "P-2", mandate_request(), CARD_OK).await;
        let saved = saved_methods::read(&*shop.world.store, &project(), with_mandate.attempt.id)
            .expect("read")
            .expect("saved");
        assert!(saved.reusable);
        assert!(saved.customer.starts_with("cus_"));
    });
}

#[test]
fn a_three_d_secure_card_is_authenticated_in_the_browser_then_refreshed() {
    block(async {
        let shop = Shop::new();
        shop.order("P-3", 800).await;
        let (outcome, submitted) = pay_on_page(&shop, "P-3", page_request(), CARD_3DS).await;
        assert_eq!(
            submitted.authenticate_with.as_ref().map(|s| s.expose()),
            Some(outcome.client_secret.expose())
        );
        assert_eq!(charge_state(&outcome, &shop), TransactionState::Pending);
        shop.world
            .psp
            .authenticate(&outcome.intent_id, true)
            .expect("3-D Secure");
        let page = shop
            .attempts
            .page(&outcome.link_token)
            .await
            .expect("page")
            .expect("link");
        let done = shop
            .attempts
            .submit_page(&page.link, None)
            .await
            .expect("refresh")
            .expect("payment");
        assert_eq!(
            done.payment.transactions[0].state,
            TransactionState::Success
        );
        let saved = saved_methods::read(&*shop.world.store, &project(), outcome.attempt.id)
            .expect("read")
            .expect("saved");
        assert!(saved.three_d_secure);
    });
}

#[test]
fn a_declined_card_on_the_page_fails_the_attempt_and_allows_a_retry() {
    block(async {
        let shop = Shop::new();
        shop.order("P-4", 800).await;
        let (outcome, submitted) = pay_on_page(&shop, "P-4", page_request(), CARD_DECLINED).await;
        assert!(submitted.refusal.is_some());
        assert_eq!(charge_state(&outcome, &shop), TransactionState::Failure);
        assert_eq!(
            shop.read("P-4").totals.payment_state,
            OrderPaymentState::Failed
        );
        shop.retry("P-4").await.expect("a retry at once");
    });
}

#[test]
fn collect_charges_the_saved_card_off_session_for_the_balance() {
    block(async {
        let shop = Shop::new();
        shop.order("C-1", 10_000).await;
        let (first, _) = pay_on_page(&shop, "C-1", mandate_request(), CARD_OK).await;
        assert!(matches!(
            shop.attempts
                .collect(shop.meta(), None, OrderRef::Number("C-1".into()), false)
                .await,
            Err(PspFailure::App(AppError::Rejected(
                Rejection::NothingOutstanding { .. }
            )))
        ));
        // A partial refund leaves a balance of 30.00.
        shop.world
            .add(first.attempt.id, TransactionType::Refund, 3_000)
            .await;
        shop.world.execute().await;
        assert_eq!(shop.read("C-1").totals.total_outstanding, eur(3_000));

        let collected = shop
            .attempts
            .collect(shop.meta(), None, OrderRef::Number("C-1".into()), false)
            .await
            .expect("collect");
        assert!(collected.settled);
        assert_eq!(
            collected.order.totals.payment_state,
            OrderPaymentState::Paid
        );
        let last = collected.attempts.last().expect("the new attempt");
        assert_eq!(last.payment.id, collected.collected);
        assert_eq!(last.payment.amount_planned, eur(3_000));
        assert_eq!(
            last.payment.transactions[0].state,
            TransactionState::Success
        );
        let saved = last.saved.as_ref().expect("the charged card");
        assert!(saved.off_session);
        let intent_id = last.payment.transactions[0]
            .interface_id
            .clone()
            .expect("intent");
        let intent = shop.world.psp.intent(&intent_id).expect("intent");
        assert_eq!(intent.customer.as_deref(), Some(saved.customer.as_str()));
    });
}

#[test]
fn collect_needs_a_method_saved_for_reuse_and_fails_cleanly_when_the_card_asks_for_authentication()
{
    block(async {
        let shop = Shop::new();
        shop.order("C-2", 5_000).await;
        let (first, _) = pay_on_page(&shop, "C-2", page_request(), CARD_OK).await;
        shop.world
            .add(first.attempt.id, TransactionType::Refund, 1_000)
            .await;
        shop.world.execute().await;
        assert!(matches!(
            shop.attempts
                .collect(shop.meta(), None, OrderRef::Number("C-2".into()), false)
                .await,
            Err(PspFailure::App(AppError::Rejected(
                Rejection::NoReusablePaymentMethod { .. }
            )))
        ));

        shop.order("C-3", 5_000).await;
        let (first, _) = pay_on_page(&shop, "C-3", mandate_request(), CARD_3DS).await;
        shop.world
            .psp
            .authenticate(&first.intent_id, true)
            .expect("3-D Secure");
        shop.world.refresh(first.attempt.id).await;
        shop.world
            .add(first.attempt.id, TransactionType::Refund, 1_000)
            .await;
        shop.world.execute().await;
        let collected = shop
            .attempts
            .collect(shop.meta(), None, OrderRef::Number("C-3".into()), true)
            .await
            .expect("collect");
        let last = collected.attempts.last().expect("attempt");
        assert_eq!(
            last.payment.transactions[0].state,
            TransactionState::Failure
        );
        // Something was paid: the order owes the balance, it did not fail.
        assert_eq!(
            collected.order.totals.payment_state,
            OrderPaymentState::BalanceDue
        );
        assert_eq!(collected.order.totals.total_outstanding, eur(1_000));
        // The shopper can still pay through a retry.
        shop.retry("C-3")
            .await
            .expect("retry after the failed collect");
    });
}

#[test]
fn a_changed_payment_state_is_announced_once_as_an_order_event() {
    use payledger_domain::{Event, OrderEvent, StreamId};
    use payledger_store::VersionRange;
    block(async {
        let shop = Shop::new();
        let created = shop.order("S-1", 1_200).await.order;
        let announce = || shop.orders.announce_payment_state(shop.meta(), created.id);
        assert_eq!(
            announce().await.expect("announce"),
            Some(false),
            "BalanceDue as created"
        );
        pay_on_page(&shop, "S-1", page_request(), CARD_OK).await;
        assert_eq!(announce().await.expect("announce"), Some(true));
        assert_eq!(
            announce().await.expect("announce"),
            Some(false),
            "nothing new"
        );
        let events = shop
            .world
            .store
            .read_stream(StreamId::order(created.id), VersionRange::new(1, u64::MAX))
            .expect("read");
        let announced: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::Order(OrderEvent::PaymentStateChanged {
                    payment_state,
                    old_payment_state,
                }) => Some((*old_payment_state, *payment_state)),
                _ => None,
            })
            .collect();
        assert_eq!(
            announced,
            [(OrderPaymentState::BalanceDue, OrderPaymentState::Paid)]
        );
        assert_eq!(
            shop.read("S-1").order.announced_payment_state,
            Some(OrderPaymentState::Paid)
        );
        let unknown = payledger_domain::OrderId::from_bytes([9; 16]);
        assert_eq!(
            shop.orders
                .announce_payment_state(shop.meta(), unknown)
                .await
                .expect("announce"),
            None
        );
    });
}
