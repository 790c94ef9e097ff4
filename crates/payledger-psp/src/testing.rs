//! An in-memory PSP with Stripe's PaymentIntent state machine, for tests
//! and benchmarks of the executor, the refresh and the webhook intake
//! without a network.
//!
//! Payment methods script the outcome: [`CARD_OK`] authorizes,
//! [`CARD_DECLINED`] is declined at confirmation, [`CARD_3DS`] needs
//! authentication ([`FakePsp::authenticate`]), [`SEPA_OK`] and
//! [`SEPA_FAIL`] stay `processing` until [`FakePsp::settle`]. Idempotency
//! keys are honoured as Stripe does (a repeated key returns the first
//! object). Faults are injected per call: fail before acting, or act and
//! lose the answer. Every state change is kept as a webhook-like event.

use crate::error::PspError;
use crate::model::{
    CaptureMethod, CreateIntent, CreateRefund, IntentStatus, ObjectKind, PaymentError,
    PaymentIntent, Refund, RefundStatus, SaveCard, SavedCard,
};
use crate::secret::Secret;
use crate::{METADATA_TRANSACTION_ID, PspConnector, PspFuture};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};

pub const CARD_OK: &str = "pm_card_visa";
pub const CARD_DECLINED: &str = "pm_card_chargeDeclined";
pub const CARD_3DS: &str = "pm_card_threeDSecure";
pub const SEPA_OK: &str = "pm_sepa_ok";
pub const SEPA_FAIL: &str = "pm_sepa_fail";

/// The browser token of a card that charges like the test method `method`
/// (one of the `CARD_…` constants), for [`PspConnector::save_card`].
pub fn card_token(method: &str) -> String {
    format!("tok_{method}")
}

/// A fault for the next call.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Fail with this error without acting.
    Before(PspError),
    /// Act, then lose the answer (a network error reaches the caller).
    AnswerLost,
}

/// A state change, as a webhook would announce it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FakeEvent {
    pub id: String,
    pub payment_intent: String,
    pub status: IntentStatus,
}

#[derive(Debug, Default)]
struct State {
    intents: BTreeMap<String, PaymentIntent>,
    refunds: BTreeMap<String, Refund>,
    /// Idempotency key → object id.
    keys: HashMap<String, String>,
    faults: VecDeque<Fault>,
    events: Vec<FakeEvent>,
    calls: Vec<String>,
    next_id: u64,
    /// The sum captured per intent, for refunds.
    captured: HashMap<String, i64>,
    refunded: HashMap<String, i64>,
    /// Saved card id → the test method it charges like.
    cards: HashMap<String, String>,
}

/// The in-memory PSP.
#[derive(Debug, Default)]
pub struct FakePsp {
    state: Mutex<State>,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:06}", self.next_id)
    }

    fn changed(&mut self, intent: &PaymentIntent) {
        let id = self.id("evt");
        self.events.push(FakeEvent {
            id,
            payment_intent: intent.id.clone(),
            status: intent.status,
        });
    }

    fn intent(&self, id: &str) -> Result<PaymentIntent, PspError> {
        self.intents.get(id).cloned().ok_or_else(not_found)
    }

    fn store(&mut self, intent: PaymentIntent) -> PaymentIntent {
        self.intents.insert(intent.id.clone(), intent.clone());
        self.changed(&intent);
        intent
    }

    /// Refuses `intent` at confirmation as Stripe does: the intent waits
    /// for another payment method, with the error as its last one.
    fn decline(
        &mut self,
        mut intent: PaymentIntent,
        code: &str,
        decline_code: &str,
        message: &str,
    ) -> PspError {
        intent.last_payment_error = Some(PaymentError {
            code: Some(code.into()),
            decline_code: Some(decline_code.into()),
            message: Some(message.into()),
        });
        let intent = self.store(IntentWith::status(
            intent,
            IntentStatus::RequiresPaymentMethod,
        ));
        PspError::Declined {
            code: code.into(),
            decline_code: Some(decline_code.into()),
            message: Some(message.into()),
            payment_intent: Some(intent.id),
        }
    }

    fn confirm(&mut self, mut intent: PaymentIntent) -> Result<PaymentIntent, PspError> {
        if intent.status != IntentStatus::RequiresConfirmation {
            return Err(invalid("payment_intent_unexpected_state"));
        }
        let method = intent.metadata.get("__method").cloned().unwrap_or_default();
        let manual = intent.capture_method.as_deref() == Some("manual");
        intent.status = match method.as_str() {
            CARD_DECLINED => {
                return Err(self.decline(
                    intent,
                    "card_declined",
                    "generic_decline",
                    "Your card was declined.",
                ));
            }
            CARD_3DS if intent.metadata.contains_key("__off_session") => {
                // Nobody is there to authenticate: the PSP declines.
                return Err(self.decline(
                    intent,
                    "authentication_required",
                    "authentication_required",
                    "This payment requires authentication.",
                ));
            }
            CARD_3DS => {
                intent.next_action = Some("use_stripe_sdk".into());
                IntentStatus::RequiresAction
            }
            SEPA_OK | SEPA_FAIL => IntentStatus::Processing,
            _ if manual => IntentStatus::RequiresCapture,
            _ => {
                self.captured.insert(intent.id.clone(), intent.amount);
                IntentStatus::Succeeded
            }
        };
        intent.latest_charge = Some(format!("ch_{}", &intent.id[3..]));
        Ok(self.store(intent))
    }
}

/// Builder helpers for intents.
struct IntentWith;

impl IntentWith {
    fn status(mut intent: PaymentIntent, status: IntentStatus) -> PaymentIntent {
        intent.status = status;
        intent
    }
}

fn not_found() -> PspError {
    PspError::InvalidRequest {
        status: 404,
        code: Some("resource_missing".into()),
        message: None,
    }
}

fn invalid(code: &str) -> PspError {
    PspError::InvalidRequest {
        status: 400,
        code: Some(code.into()),
        message: None,
    }
}

fn lost() -> PspError {
    PspError::Network {
        message: "answer lost (injected)".into(),
    }
}

impl FakePsp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a fault for the next call.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push_back(fault);
    }

    /// Every call so far, by name (`create`, `confirm`, `retrieve`, …).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().calls.clone()
    }

    /// Every state change so far, oldest first.
    pub fn events(&self) -> Vec<FakeEvent> {
        self.state.lock().events.clone()
    }

    /// The intent as the PSP holds it.
    pub fn intent(&self, id: &str) -> Option<PaymentIntent> {
        self.state.lock().intents.get(id).cloned()
    }

    /// Every intent created for a payledger transaction.
    pub fn intents_for(&self, transaction_id: &str) -> Vec<PaymentIntent> {
        self.state
            .lock()
            .intents
            .values()
            .filter(|i| {
                i.metadata.get(METADATA_TRANSACTION_ID).map(String::as_str) == Some(transaction_id)
            })
            .cloned()
            .collect()
    }

    /// Every refund.
    pub fn refunds(&self) -> Vec<Refund> {
        self.state.lock().refunds.values().cloned().collect()
    }

    /// What a shopper's browser does with an intent created without a
    /// payment method: supplies `method` and confirms it.
    pub fn confirm_as_customer(&self, id: &str, method: &str) -> Result<PaymentIntent, PspError> {
        let mut state = self.state.lock();
        let mut intent = state.intent(id)?;
        if intent.status != IntentStatus::RequiresPaymentMethod {
            return Err(invalid("payment_intent_unexpected_state"));
        }
        intent.metadata.insert("__method".into(), method.into());
        intent.last_payment_error = None;
        let intent = state.store(IntentWith::status(
            intent,
            IntentStatus::RequiresConfirmation,
        ));
        state.confirm(intent)
    }

    /// Finishes 3-D Secure of an intent in `requires_action`.
    pub fn authenticate(&self, id: &str, success: bool) -> Result<PaymentIntent, PspError> {
        let mut state = self.state.lock();
        let mut intent = state.intent(id)?;
        if intent.status != IntentStatus::RequiresAction {
            return Err(invalid("payment_intent_unexpected_state"));
        }
        intent.next_action = None;
        intent.status = if !success {
            intent.last_payment_error = Some(PaymentError {
                code: Some("payment_intent_authentication_failure".into()),
                decline_code: None,
                message: Some("The provided PaymentMethod has failed authentication.".into()),
            });
            IntentStatus::RequiresPaymentMethod
        } else if intent.capture_method.as_deref() == Some("manual") {
            IntentStatus::RequiresCapture
        } else {
            state.captured.insert(intent.id.clone(), intent.amount);
            IntentStatus::Succeeded
        };
        Ok(state.store(intent))
    }

    /// Settles an intent in `processing` (SEPA): succeeds or fails as its
    /// payment method says.
    pub fn settle(&self, id: &str) -> Result<PaymentIntent, PspError> {
        let mut state = self.state.lock();
        let mut intent = state.intent(id)?;
        if intent.status != IntentStatus::Processing {
            return Err(invalid("payment_intent_unexpected_state"));
        }
        let fails = intent.metadata.get("__method").map(String::as_str) == Some(SEPA_FAIL);
        intent.status = if fails {
            intent.last_payment_error = Some(PaymentError {
                code: Some("payment_method_provider_decline".into()),
                decline_code: None,
                message: Some("The payment was declined.".into()),
            });
            IntentStatus::RequiresPaymentMethod
        } else {
            state.captured.insert(intent.id.clone(), intent.amount);
            IntentStatus::Succeeded
        };
        Ok(state.store(intent))
    }

    /// Cancels an authorized intent at the PSP on its own, as the
    /// dashboard or the expiry of an uncaptured authorization does
    /// (`reason`: `requested_by_customer`, `automatic`, …). Not an API
    /// call: it is not recorded in [`FakePsp::calls`].
    pub fn cancel_at_psp(&self, id: &str, reason: &str) -> Result<PaymentIntent, PspError> {
        let mut state = self.state.lock();
        let mut intent = state.intent(id)?;
        if intent.status != IntentStatus::RequiresCapture {
            return Err(invalid("payment_intent_unexpected_state"));
        }
        intent.status = IntentStatus::Canceled;
        intent.cancellation_reason = Some(reason.to_owned());
        Ok(state.store(intent))
    }

    /// Runs one call: records it, applies an injected fault, honours the
    /// idempotency key.
    fn run<T>(
        &self,
        name: &str,
        key: Option<&str>,
        replay: impl FnOnce(&State, &str) -> Option<Result<T, PspError>>,
        act: impl FnOnce(&mut State) -> Result<(T, Option<String>), PspError>,
    ) -> Result<T, PspError> {
        let mut state = self.state.lock();
        state.calls.push(name.to_owned());
        let fault = state.faults.pop_front();
        if let Some(Fault::Before(error)) = fault {
            return Err(error);
        }
        if let Some(key) = key
            && let Some(object) = state.keys.get(key).cloned()
            && let Some(answer) = replay(&state, &object)
        {
            return answer;
        }
        let (answer, object) = act(&mut state)?;
        if let (Some(key), Some(object)) = (key, object) {
            state.keys.insert(key.to_owned(), object);
        }
        match fault {
            Some(Fault::AnswerLost) => Err(lost()),
            _ => Ok(answer),
        }
    }

    fn intent_call(
        &self,
        name: &str,
        key: Option<&str>,
        act: impl FnOnce(&mut State) -> Result<PaymentIntent, PspError>,
    ) -> Result<PaymentIntent, PspError> {
        self.run(
            name,
            key,
            |state, id| Some(state.intent(id)),
            |state| {
                let intent = act(state)?;
                let id = intent.id.clone();
                Ok((intent, Some(id)))
            },
        )
    }
}

fn ready<'a, T: Send + 'a>(result: Result<T, PspError>) -> PspFuture<'a, T> {
    Box::pin(std::future::ready(result))
}

impl PspConnector for FakePsp {
    fn object_kind(&self, id: &str) -> ObjectKind {
        crate::stripe_wire::object_kind(id)
    }

    fn create_payment_intent<'a>(
        &'a self,
        request: &'a CreateIntent,
    ) -> PspFuture<'a, PaymentIntent> {
        let key = request.idempotency_key.clone();
        ready(self.intent_call("create", Some(&key), |state| {
            let id = state.id("pi");
            let mut metadata = request.metadata.clone();
            if let Some(method) = &request.payment_method {
                let method = state.cards.get(method).unwrap_or(method).clone();
                metadata.insert("__method".into(), method);
            }
            if request.off_session {
                metadata.insert("__off_session".into(), "true".into());
            }
            let status = if request.payment_method.is_some() {
                IntentStatus::RequiresConfirmation
            } else {
                IntentStatus::RequiresPaymentMethod
            };
            let intent = PaymentIntent {
                client_secret: Some(Secret::new(format!("{id}_secret_fake"))),
                id,
                status,
                amount: request.amount,
                amount_received: None,
                currency: request.currency.to_ascii_lowercase(),
                capture_method: Some(request.capture_method.as_str().into()),
                latest_charge: None,
                last_payment_error: None,
                next_action: None,
                customer: request.customer.clone(),
                cancellation_reason: None,
                metadata,
            };
            let intent = state.store(intent);
            if request.confirm {
                state.confirm(intent)
            } else {
                Ok(intent)
            }
        }))
    }

    fn save_card<'a>(&'a self, request: &'a SaveCard) -> PspFuture<'a, SavedCard> {
        let mut state = self.state.lock();
        state.calls.push("save_card".into());
        // A token saves a new card; a payment method (one of the test
        // methods) is attached as it is.
        let (method, id) = match request.card_token.strip_prefix("tok_") {
            Some(method) => (method.to_owned(), state.id("card")),
            None if request.card_token.starts_with("pm_") => {
                (request.card_token.clone(), request.card_token.clone())
            }
            None => return ready(Err(invalid("token_invalid"))),
        };
        let method = method.as_str();
        let card = SavedCard {
            id,
            customer: state.id("cus"),
            brand: Some("visa".into()),
            last4: Some(
                match method {
                    CARD_3DS => "3155",
                    CARD_DECLINED => "0341",
                    _ => "4242",
                }
                .to_owned(),
            ),
        };
        state.cards.insert(card.id.clone(), method.to_owned());
        ready(Ok(card))
    }

    fn set_payment_method<'a>(
        &'a self,
        id: &'a str,
        card: &'a SavedCard,
        key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        ready(self.intent_call("set_payment_method", Some(key), |state| {
            let mut intent = state.intent(id)?;
            if intent.status != IntentStatus::RequiresPaymentMethod {
                return Err(invalid("payment_intent_unexpected_state"));
            }
            let method = state.cards.get(&card.id).cloned().ok_or_else(not_found)?;
            intent.metadata.insert("__method".into(), method);
            intent.customer = Some(card.customer.clone());
            intent.last_payment_error = None;
            Ok(state.store(IntentWith::status(
                intent,
                IntentStatus::RequiresConfirmation,
            )))
        }))
    }

    fn confirm_payment_intent<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        ready(self.intent_call("confirm", Some(key), |state| {
            let intent = state.intent(id)?;
            state.confirm(intent)
        }))
    }

    fn capture_payment_intent<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        ready(self.intent_call("capture", Some(key), |state| {
            let mut intent = state.intent(id)?;
            if intent.status != IntentStatus::RequiresCapture {
                return Err(invalid("payment_intent_unexpected_state"));
            }
            let amount = amount.unwrap_or(intent.amount);
            if amount <= 0 || amount > intent.amount {
                return Err(invalid("amount_too_large"));
            }
            state.captured.insert(id.to_owned(), amount);
            intent.amount_received = Some(amount);
            intent.status = IntentStatus::Succeeded;
            Ok(state.store(intent))
        }))
    }

    fn cancel_payment_intent<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        ready(self.intent_call("cancel", Some(key), |state| {
            let mut intent = state.intent(id)?;
            match intent.status {
                IntentStatus::RequiresPaymentMethod
                | IntentStatus::RequiresConfirmation
                | IntentStatus::RequiresAction
                | IntentStatus::RequiresCapture => {}
                IntentStatus::Processing | IntentStatus::Canceled | IntentStatus::Succeeded => {
                    return Err(invalid("payment_intent_unexpected_state"));
                }
            }
            intent.status = IntentStatus::Canceled;
            intent.next_action = None;
            Ok(state.store(intent))
        }))
    }

    fn retrieve_payment_intent<'a>(&'a self, id: &'a str) -> PspFuture<'a, PaymentIntent> {
        ready(self.intent_call("retrieve", None, |state| state.intent(id)))
    }

    fn find_payment_intent<'a>(
        &'a self,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<PaymentIntent>> {
        ready(self.run(
            "find",
            None,
            |_, _| None,
            |state| {
                let found = state
                    .intents
                    .values()
                    .find(|i| {
                        i.metadata.get(METADATA_TRANSACTION_ID).map(String::as_str)
                            == Some(transaction_id)
                    })
                    .cloned();
                Ok((found, None))
            },
        ))
    }

    fn create_refund<'a>(&'a self, request: &'a CreateRefund) -> PspFuture<'a, Refund> {
        let key = request.idempotency_key.clone();
        ready(self.run(
            "refund",
            Some(&key),
            |state, id| Some(state.refunds.get(id).cloned().ok_or_else(not_found)),
            |state| {
                let intent_id = if request.charged.starts_with("ch_") {
                    format!("pi_{}", &request.charged[3..])
                } else {
                    request.charged.clone()
                };
                let intent = state.intent(&intent_id)?;
                let captured = state.captured.get(&intent_id).copied().unwrap_or(0);
                let refunded = state.refunded.get(&intent_id).copied().unwrap_or(0);
                let amount = request.amount.unwrap_or(captured - refunded);
                if captured == 0 || amount <= 0 || refunded + amount > captured {
                    return Err(invalid("charge_already_refunded"));
                }
                state.refunded.insert(intent_id.clone(), refunded + amount);
                let id = state.id("re");
                let refund = Refund {
                    id: id.clone(),
                    status: RefundStatus::Succeeded,
                    amount,
                    currency: intent.currency,
                    payment_intent: Some(intent_id),
                    charge: intent.latest_charge,
                    failure_reason: None,
                    metadata: request.metadata.clone(),
                };
                state.refunds.insert(id.clone(), refund.clone());
                Ok((refund, Some(id)))
            },
        ))
    }

    fn retrieve_refund<'a>(&'a self, id: &'a str) -> PspFuture<'a, Refund> {
        ready(self.run(
            "retrieve_refund",
            None,
            |_, _| None,
            |state| {
                let refund = state.refunds.get(id).cloned().ok_or_else(not_found)?;
                Ok((refund, None))
            },
        ))
    }

    fn find_refund<'a>(
        &'a self,
        _charged: &'a str,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<Refund>> {
        ready(self.run(
            "find_refund",
            None,
            |_, _| None,
            |state| {
                let found = state
                    .refunds
                    .values()
                    .find(|r| {
                        r.metadata.get(METADATA_TRANSACTION_ID).map(String::as_str)
                            == Some(transaction_id)
                    })
                    .cloned();
                Ok((found, None))
            },
        ))
    }
}

/// A manual-capture authorization request for tests.
pub fn authorization(transaction_id: &str, amount: i64, method: &str) -> CreateIntent {
    CreateIntent {
        amount,
        currency: "eur".into(),
        payment_method: Some(method.into()),
        payment_method_types: Vec::new(),
        customer: None,
        capture_method: CaptureMethod::Manual,
        confirm: false,
        off_session: false,
        metadata: BTreeMap::from([(METADATA_TRANSACTION_ID.into(), transaction_id.into())]),
        idempotency_key: format!("payledger-{transaction_id}-create"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(future: PspFuture<'_, T>) -> Result<T, PspError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_repeated_idempotency_key_returns_the_first_intent() {
        let psp = FakePsp::new();
        let request = authorization("t1", 100, CARD_OK);
        let first = block(psp.create_payment_intent(&request)).unwrap();
        let again = block(psp.create_payment_intent(&request)).unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(psp.intents_for("t1").len(), 1);
        let confirmed = block(psp.confirm_payment_intent(&first.id, "c")).unwrap();
        assert_eq!(confirmed.status, IntentStatus::RequiresCapture);
    }

    #[test]
    fn a_lost_answer_still_acts() {
        let psp = FakePsp::new();
        psp.inject(Fault::AnswerLost);
        let request = authorization("t2", 100, CARD_3DS);
        assert!(block(psp.create_payment_intent(&request)).is_err());
        let found = block(psp.find_payment_intent("t2")).unwrap().unwrap();
        let confirmed = block(psp.confirm_payment_intent(&found.id, "c")).unwrap();
        assert_eq!(confirmed.status, IntentStatus::RequiresAction);
        let done = psp.authenticate(&found.id, true).unwrap();
        assert_eq!(done.status, IntentStatus::RequiresCapture);
    }
}
