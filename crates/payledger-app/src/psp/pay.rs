//! Authorizing or charging at the PSP: create the PaymentIntent (unless a
//! resume finds the one created before a crash) and confirm it. Without a
//! token the intent waits for the customer (a payment page or an SDK
//! confirms it); off-session (a collect of a saved card) it is confirmed at
//! creation, and a card that asks for authentication fails, since nobody is
//! there to authenticate.

use super::PspAccount;
use super::executor::{Attempt, failed, first_step, idempotency_key, intent_outcome};
use super::interaction::Source;
use super::mapping::{self, Operation};
use super::saved_methods::SavedMethod;
use payledger_domain::Payment;
use payledger_domain::payment::Transaction;
use payledger_psp::{CaptureMethod, CreateIntent, IntentStatus, PaymentIntent, PspError};
use std::collections::BTreeMap;

/// How to authorize or charge.
pub(super) struct PayRequest {
    pub operation: Operation,
    pub metadata: BTreeMap<String, String>,
    /// Charge this saved card without the customer (a collect).
    pub off_session: Option<SavedMethod>,
}

/// Authorize or charge: create (unless resuming finds one) and confirm.
/// Off-session, the intent is confirmed at creation and a card that asks
/// for authentication fails (nobody is there to authenticate).
pub(super) async fn pay(
    account: &PspAccount,
    payment: &Payment,
    txn: &Transaction,
    request: PayRequest,
    resume: bool,
) -> Attempt {
    let PayRequest {
        operation,
        metadata,
        off_session,
    } = request;
    let connector = &*account.connector;
    // Without a token the customer supplies the method: the intent waits
    // for them (a payment page or an SDK confirms it with its secret).
    let token = payment.payment_method_info.token.clone();
    let found = if resume {
        match connector.find_payment_intent(&txn.id.to_string()).await {
            Ok(found) => found,
            Err(error) => return Attempt::Retry(error),
        }
    } else {
        None
    };
    let intent = match found {
        Some(intent) => intent,
        None => {
            let request = create_request(
                payment,
                txn,
                operation,
                token,
                metadata,
                off_session.as_ref(),
            );
            match connector.create_payment_intent(&request).await {
                Ok(intent) => intent,
                Err(error) => return failed(account, txn, operation, None, error).await,
            }
        }
    };
    if off_session.is_some() && intent.status == IntentStatus::RequiresAction {
        return authentication_required(account, txn, operation, &intent).await;
    }
    let intent = if intent.status == IntentStatus::RequiresConfirmation
        && payment.payment_method_info.token.is_some()
    {
        let key = idempotency_key(txn.id, "confirm");
        match connector.confirm_payment_intent(&intent.id, &key).await {
            Ok(intent) => intent,
            Err(error) => {
                return failed(account, txn, operation, Some(&intent.id), error).await;
            }
        }
    } else {
        intent
    };
    Attempt::Done(intent_outcome(
        account,
        txn,
        operation,
        &intent,
        Source::Executor,
    ))
}

/// An off-session intent that asks for authentication: cancelled, and the
/// transaction fails saying why (the shopper can pay through a retry).
async fn authentication_required(
    account: &PspAccount,
    txn: &Transaction,
    operation: Operation,
    intent: &PaymentIntent,
) -> Attempt {
    let key = idempotency_key(txn.id, "cancel-unauthenticated");
    if let Err(error) = account
        .connector
        .cancel_payment_intent(&intent.id, &key)
        .await
    {
        return Attempt::Retry(error);
    }
    let refused = PspError::Declined {
        code: "authentication_required".into(),
        decline_code: Some("authentication_required".into()),
        message: Some(
            "The card asks for the shopper's authentication, which an off-session charge \
             cannot give."
                .into(),
        ),
        payment_intent: Some(intent.id.clone()),
    };
    failed(account, txn, operation, Some(&intent.id), refused).await
}

fn create_request(
    payment: &Payment,
    txn: &Transaction,
    operation: Operation,
    token: Option<String>,
    metadata: BTreeMap<String, String>,
    off_session: Option<&SavedMethod>,
) -> CreateIntent {
    CreateIntent {
        amount: txn.amount.cent_amount,
        currency: txn.amount.currency.as_str().to_ascii_lowercase(),
        // Off-session the saved card and its customer pay, confirmed at
        // creation (nobody is there to confirm later).
        payment_method: off_session.map_or(token, |s| Some(s.payment_method.clone())),
        payment_method_types: mapping::payment_method_types(payment),
        customer: off_session
            .map_or_else(|| mapping::customer(payment), |s| Some(s.customer.clone())),
        capture_method: match operation {
            Operation::Authorize => CaptureMethod::Manual,
            _ => CaptureMethod::Automatic,
        },
        confirm: off_session.is_some(),
        off_session: off_session.is_some(),
        metadata,
        idempotency_key: idempotency_key(txn.id, first_step(operation)),
    }
}
