//! The signed tokenization API's flows (seed 004) over the fake PSP and a
//! manual clock: a sale saves a token, recurring charges spend it, every
//! request is an order with numbers of its merchant, the same request text
//! is answered once, and notify callbacks are settled and retried. (The
//! signature checks are the API's; these flows start after them.)

use super::{World, block, eur, project};
use payledger_app::clock::Clock;
use payledger_app::merchants::Merchant;
use payledger_app::tokenization::records::{self, OrderStatus};
use payledger_app::tokenization::{
    Answered, CallbackUrls, CallbackWork, RecurringRequest, ResponseCode, SaleRequest,
    Tokenization, TokenizationError, answer,
};
use payledger_app::{OrderRef, Orders};
use payledger_domain::OrderPaymentState;
use payledger_psp::PspError;
use payledger_psp::testing::{CARD_3DS, CARD_DECLINED, CARD_OK, Fault};
use payledger_store::EventStore;

const MERCHANT: u64 = 3;

struct Gateway {
    world: World,
    orders: Orders<dyn EventStore>,
    tokenization: Tokenization,
}

impl Gateway {
    fn new() -> Self {
        let world = World::new();
        let (orders, attempts) = world.order_attempts();
        Self {
            world,
            orders,
            tokenization: Tokenization::new(attempts),
        }
    }

    async fn sale(&self, reference: &str, method: &str) -> Result<Answered, TokenizationError> {
        let request = sale_request(reference, method);
        self.tokenization
            .sale(&merchant(MERCHANT), &sale_text(&request), &request)
            .await
    }

    async fn recurring(&self, request: &RecurringRequest) -> Result<Answered, TokenizationError> {
        self.tokenization
            .recurring(
                &merchant(request.merchant_id),
                &recurring_text(request),
                request,
            )
            .await
    }

    fn creates(&self) -> usize {
        self.world
            .psp
            .calls()
            .iter()
            .filter(|c| c.as_str() == "create")
            .count()
    }
}

fn merchant(id: u64) -> Merchant {
    Merchant {
        merchant_id: id,
        project: project().as_str().to_owned(),
        created_at_ms: 0,
        keys: Vec::new(),
    }
}

fn sale_request(reference: &str, method: &str) -> SaleRequest {
    SaleRequest {
        merchant_id: MERCHANT,
        user_id: "user1".into(),
        merchant_reference: reference.into(),
        amount: eur(3_000),
        payment_method: method.into(),
        email: Some("ada@example.com".into()),
        callback_urls: CallbackUrls::default(),
    }
}

/// A request text standing for the signed one: the flows only hash it.
fn sale_text(request: &SaleRequest) -> String {
    format!("{request:?}")
}

fn recurring_text(request: &RecurringRequest) -> String {
    format!("{request:?}")
}

fn recurring_request(reference: &str, token: u64, parent: u64) -> RecurringRequest {
    RecurringRequest {
        merchant_id: MERCHANT,
        user_id: "user1".into(),
        token_id: token,
        reason: "monthly plan".into(),
        amount_hundredths: 3_000,
        merchant_reference: reference.into(),
        parent_order_id: parent,
        callback_urls: CallbackUrls::default(),
    }
}

fn refusal(result: Result<Answered, TokenizationError>) -> ResponseCode {
    match result {
        Err(TokenizationError::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_sale_saves_a_token_that_a_recurring_request_charges_off_session() {
    block(async {
        let gateway = Gateway::new();
        let sale = gateway.sale("sale-1", CARD_OK).await.expect("sale");
        assert_eq!(sale.outcome.code, "0000");
        assert_eq!(sale.outcome.status, OrderStatus::Success);
        assert_eq!(
            (sale.record.order_number, sale.record.transaction_number),
            (1, 1)
        );
        assert_eq!((sale.record.token, sale.record.stan), (1, 1));
        let json = answer::render(&sale.record, &sale.outcome);
        assert_eq!(json["token"]["id"], 1);
        assert_eq!(json["token"]["maskedPan"], "XXXXXXXXXXXX4242");
        assert_eq!(json["order"]["cardType"], "VISA");
        assert_eq!(json["order"]["amount"], 30);
        assert_eq!(json["order"]["recurring"], false);

        let token = records::token(&*gateway.world.store, MERCHANT, 1)
            .unwrap()
            .expect("token saved");
        assert_eq!(token.sale_order, 1);
        assert_eq!(token.user_id, "user1");
        assert!(token.customer.starts_with("cus_"));
        assert_eq!(
            token.payment_method, CARD_OK,
            "a reference, never card data"
        );

        let recurring = gateway
            .recurring(&recurring_request("monthly-1", 1, 1))
            .await
            .expect("recurring");
        assert_eq!(recurring.outcome.code, "0000");
        assert_eq!(
            (
                recurring.record.order_number,
                recurring.record.transaction_number,
                recurring.record.stan
            ),
            (2, 2, 2)
        );
        let json = answer::render(&recurring.record, &recurring.outcome);
        assert_eq!(json["order"]["recurring"], true);
        assert_eq!(json["transaction"]["type"], "SALE");
        assert_eq!(json["transaction"]["stan"], "2");
        assert!(json.get("token").is_none());

        let order = gateway
            .orders
            .get(&project(), &OrderRef::Number("tok-3-2".into()))
            .unwrap()
            .expect("the recurring charge is an order");
        assert!(order.order.recurring);
        assert_eq!(order.totals.payment_state, OrderPaymentState::Paid);
        assert_eq!(order.order.customer_id.as_deref(), Some("user1"));
        let payment = gateway.world.get(order.order.payments[0]);
        let intent_id = payment.transactions[0]
            .interface_id
            .clone()
            .expect("executed");
        let intent = gateway.world.psp.intent(&intent_id).expect("intent");
        assert_eq!(intent.customer.as_deref(), Some(token.customer.as_str()));
        assert_eq!(
            intent.metadata.get("__off_session").map(String::as_str),
            Some("true")
        );
    });
}

#[test]
fn the_same_request_text_is_answered_once_and_other_text_with_its_reference_is_refused() {
    block(async {
        let gateway = Gateway::new();
        let first = gateway.sale("sale-1", CARD_OK).await.expect("sale");
        let creates = gateway.creates();
        let again = gateway.sale("sale-1", CARD_OK).await.expect("replay");
        assert!(again.replayed);
        assert_eq!(again.record, first.record);
        assert_eq!(
            answer::render(&again.record, &again.outcome),
            answer::render(&first.record, &first.outcome)
        );
        assert_eq!(gateway.creates(), creates, "nothing charged again");

        let mut other = sale_request("sale-1", CARD_OK);
        other.amount = eur(3_100);
        let refused = gateway
            .tokenization
            .sale(&merchant(MERCHANT), &sale_text(&other), &other)
            .await;
        assert_eq!(refusal(refused), ResponseCode::DuplicateReference);
        // A recurring request cannot reuse the sale's reference either.
        let reused = gateway.recurring(&recurring_request("sale-1", 1, 1)).await;
        assert_eq!(refusal(reused), ResponseCode::DuplicateReference);
        // Another merchant has references of its own.
        let mut elsewhere = sale_request("sale-1", CARD_OK);
        elsewhere.merchant_id = 4;
        let answered = gateway
            .tokenization
            .sale(&merchant(4), &sale_text(&elsewhere), &elsewhere)
            .await
            .expect("other merchant");
        assert_eq!(answered.record.order_number, 1, "numbers are per merchant");
    });
}

#[test]
fn fifty_identical_requests_at_once_make_one_charge() {
    block(async {
        let gateway = Gateway::new();
        gateway.sale("sale-1", CARD_OK).await.expect("sale");
        let creates = gateway.creates();
        let request = recurring_request("monthly-1", 1, 1);
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (tokenization, request) = (gateway.tokenization.clone(), request.clone());
            running.spawn(async move {
                tokenization
                    .recurring(&merchant(MERCHANT), &recurring_text(&request), &request)
                    .await
                    .expect("answered")
            });
        }
        let answers = running.join_all().await;
        assert_eq!(answers.len(), 50);
        assert!(answers.iter().all(|a| a.record == answers[0].record));
        assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
        assert_eq!(gateway.creates(), creates + 1, "one PaymentIntent");
    });
}

#[test]
fn tokens_are_refused_alike_when_unknown_foreign_or_another_users() {
    block(async {
        let gateway = Gateway::new();
        gateway.sale("sale-1", CARD_OK).await.expect("sale");
        let unknown = gateway.recurring(&recurring_request("r-1", 99, 1)).await;
        assert_eq!(refusal(unknown), ResponseCode::UnknownToken);
        let mut other_user = recurring_request("r-2", 1, 1);
        other_user.user_id = "user2".into();
        assert_eq!(
            refusal(gateway.recurring(&other_user).await),
            ResponseCode::UnknownToken
        );
        let mut other_merchant = recurring_request("r-3", 1, 1);
        other_merchant.merchant_id = 4;
        assert_eq!(
            refusal(gateway.recurring(&other_merchant).await),
            ResponseCode::UnknownToken
        );
        let wrong_parent = gateway.recurring(&recurring_request("r-4", 1, 2)).await;
        assert_eq!(refusal(wrong_parent), ResponseCode::ParentOrderMismatch);
        // User ids compare without case (the API lowers them).
        let counters = records::counters(&*gateway.world.store, MERCHANT).unwrap();
        assert_eq!(counters.last_order, 1, "refusals take no numbers");
    });
}

#[test]
fn a_declined_card_fails_the_order_with_the_psps_code() {
    block(async {
        let gateway = Gateway::new();
        let declined = gateway
            .sale("sale-1", CARD_DECLINED)
            .await
            .expect("answered");
        assert_eq!(declined.outcome.code, ResponseCode::Declined.code());
        assert_eq!(declined.outcome.status, OrderStatus::Failed);
        assert_eq!(
            declined.outcome.decline_code.as_deref(),
            Some("generic_decline"),
            "the fake PSP's decline code"
        );
        let order = gateway
            .orders
            .get(&project(), &OrderRef::Number("tok-3-1".into()))
            .unwrap()
            .expect("order");
        assert_eq!(order.totals.payment_state, OrderPaymentState::Failed);
        assert!(
            records::token(&*gateway.world.store, MERCHANT, 1)
                .unwrap()
                .is_none(),
            "a declined sale saves no token"
        );
        let three_d_secure = gateway.sale("sale-2", CARD_3DS).await.expect("answered");
        assert_eq!(
            three_d_secure.outcome.code,
            ResponseCode::AuthenticationRequired.code()
        );
    });
}

#[test]
fn a_charge_whose_answer_was_lost_is_resumed_by_the_repeat_without_a_second_charge() {
    block(async {
        let gateway = Gateway::new();
        gateway.sale("sale-1", CARD_OK).await.expect("sale");
        let creates = gateway.creates();
        // The PSP charges, then the answer is lost on the way back.
        gateway.world.psp.inject(Fault::AnswerLost);
        let request = recurring_request("monthly-1", 1, 1);
        let first = gateway.recurring(&request).await.expect("answered");
        assert_eq!(first.outcome.code, ResponseCode::PspUnavailable.code());
        assert_eq!(first.outcome.status, OrderStatus::Pending);
        let again = gateway.recurring(&request).await.expect("answered");
        assert_eq!(again.outcome.code, "0000");
        assert_eq!(again.record.order_number, first.record.order_number);
        assert_eq!(
            gateway.creates(),
            creates + 1,
            "found again, not charged twice"
        );
    });
}

#[test]
fn trace_numbers_restart_every_day_and_stay_unique_within_it() {
    block(async {
        let gateway = Gateway::new();
        let first = gateway.sale("sale-1", CARD_OK).await.expect("sale");
        let second = gateway.sale("sale-2", CARD_OK).await.expect("sale");
        assert_eq!((first.record.stan, second.record.stan), (1, 2));
        gateway.world.clock.advance(records::DAY_MS);
        let next_day = gateway.sale("sale-3", CARD_OK).await.expect("sale");
        assert_eq!(next_day.record.stan, 1);
        assert_eq!(next_day.record.order_number, 3, "orders keep counting");
        assert_eq!(next_day.record.token, 3);
    });
}

#[test]
fn a_notify_callback_is_due_at_once_and_due_again_after_a_failure() {
    block(async {
        let gateway = Gateway::new();
        let mut request = sale_request("sale-1", CARD_OK);
        request.callback_urls.notify = Some("https://merchant.example/notify".into());
        let answered = gateway
            .tokenization
            .sale(&merchant(MERCHANT), &sale_text(&request), &request)
            .await
            .expect("sale");
        let (due, _) = gateway.tokenization.due_callbacks().await.expect("due");
        assert_eq!(due.len(), 1);
        let work = gateway
            .tokenization
            .prepare_callback(&due[0])
            .await
            .expect("prepared");
        let CallbackWork::Send { url, body } = &work else {
            panic!("expected a send, got {work:?}");
        };
        assert_eq!(url, "https://merchant.example/notify");
        let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(sent, answer::render(&answered.record, &answered.outcome));

        gateway
            .tokenization
            .callback_done(&due[0], &work, false)
            .await
            .expect("recorded");
        let (due_now, next) = gateway.tokenization.due_callbacks().await.expect("due");
        assert!(due_now.is_empty(), "a failed callback waits");
        let next = next.expect("scheduled again");
        assert!(next > gateway.world.clock.now_ms());
        gateway
            .world
            .clock
            .advance(next - gateway.world.clock.now_ms());
        let (again, _) = gateway.tokenization.due_callbacks().await.expect("due");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].due.attempts, 1);
        gateway
            .tokenization
            .callback_done(&again[0], &work, true)
            .await
            .expect("recorded");
        let (_, next) = gateway.tokenization.due_callbacks().await.expect("due");
        assert_eq!(next, None, "delivered: nothing left");
        let record = records::request(&*gateway.world.store, MERCHANT, "sale-1")
            .unwrap()
            .expect("record");
        assert!(record.notified);
        let work = gateway
            .tokenization
            .prepare_callback(&again[0])
            .await
            .expect("prepared");
        assert_eq!(work, CallbackWork::Done, "notified once");
    });
}

#[test]
fn a_psp_outage_before_the_charge_answers_unavailable_and_the_callback_settles_it() {
    block(async {
        let gateway = Gateway::new();
        gateway.sale("sale-1", CARD_OK).await.expect("sale");
        gateway.world.psp.inject(Fault::Before(PspError::Network {
            message: "connection refused".into(),
        }));
        let mut request = recurring_request("monthly-1", 1, 1);
        request.callback_urls.notify = Some("https://merchant.example/notify".into());
        let first = gateway.recurring(&request).await.expect("answered");
        assert_eq!(first.outcome.code, ResponseCode::PspUnavailable.code());
        let (_, next) = gateway.tokenization.due_callbacks().await.expect("due");
        gateway
            .world
            .clock
            .advance(next.expect("settle scheduled") - gateway.world.clock.now_ms());
        let (due, _) = gateway.tokenization.due_callbacks().await.expect("due");
        let work = gateway
            .tokenization
            .prepare_callback(&due[0])
            .await
            .expect("prepared");
        let CallbackWork::Send { body, .. } = work else {
            panic!("expected the settled outcome to be sent, got {work:?}");
        };
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["responseCode"], "0000");
        assert_eq!(sent["order"]["status"], "SUCCESS");
        let replay = gateway.recurring(&request).await.expect("answered");
        assert_eq!(
            replay.outcome.code, "0000",
            "the settled outcome is the answer now"
        );
    });
}
