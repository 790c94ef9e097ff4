//! The shopper pays a waiting attempt with a card (the hosted payment
//! page): the PaymentIntent was created without a payment method, the
//! page turned the card into a PSP token in the browser, and the server
//! saves the card on a new PSP customer, sets it on the PaymentIntent and
//! confirms it.
//!
//! All of it runs under the payment's lock and ends in one append: the
//! outcome (interaction, state, PSP status) with the [`SavedMethod`] row in
//! the same batch. A card that asks for 3-D Secure leaves the transaction
//! Pending with the client secret for the browser; once the shopper has
//! authenticated, [`PspService::refresh_payment`] records the result. Every
//! PSP call carries an idempotency key derived from the transaction and the
//! token, so a repeated submit of the same token does not act twice at a
//! PSP that honours keys.

use super::executor::{Attempt, EXECUTOR_ACTOR, failed, intent_outcome, outcome_actions};
use super::interaction::Source;
use super::mapping::{Operation, awaits_customer};
use super::saved_methods::SavedMethod;
use super::{AppendWrites, PspFailure, PspService};
use payledger_domain::payment::{Transaction, TransactionState, TransactionType};
use payledger_domain::{Payment, PaymentId, ProjectKey};
use payledger_psp::{
    IntentStatus, METADATA_PAYMENT_ID, METADATA_PROJECT, METADATA_TRANSACTION_ID, SaveCard, Secret,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How the shopper's card is to be saved.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CardOptions {
    /// The shopper agreed to later merchant-initiated charges (a mandate).
    pub reusable: bool,
    /// Stored on the PSP customer.
    pub email: Option<String>,
}

/// Where a card payment stands after a submit.
#[derive(Clone, Debug)]
pub struct CardPayment {
    pub payment: Payment,
    /// Set when the shopper must authenticate (3-D Secure) in the browser.
    pub authenticate_with: Option<Secret>,
    /// The PSP's reason when the card was refused.
    pub refusal: Option<String>,
}

impl PspService {
    /// Pays the waiting PaymentIntent of `payment_id` with the card behind
    /// `card_token`. `None` when the payment does not exist. A payment with
    /// nothing waiting for a card comes back as it is.
    #[tracing::instrument(skip_all, fields(project = %project, payment_id = %payment_id))]
    pub async fn pay_with_card(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        card_token: &str,
        options: CardOptions,
    ) -> Result<Option<CardPayment>, PspFailure> {
        let _guard = self.inner.locks.lock(payment_id).await;
        let Some(payment) = self.load(project, payment_id).await? else {
            return Ok(None);
        };
        let as_is = |payment| {
            Ok(Some(CardPayment {
                payment,
                authenticate_with: None,
                refusal: None,
            }))
        };
        let Some(account) = self.account(project, &payment) else {
            return as_is(payment);
        };
        let Some((txn, intent_id)) = waiting(&payment) else {
            return as_is(payment);
        };
        let connector = &account.connector;
        let operation = match txn.kind {
            TransactionType::Authorization => Operation::Authorize,
            _ => Operation::Charge,
        };
        let intent = connector.retrieve_payment_intent(&intent_id).await?;
        if !awaits_customer(operation, &intent) {
            return as_is(payment);
        }
        let tag = token_tag(card_token);
        let key = |step: &str| format!("payledger-{}-{step}-{tag}", txn.id);
        let save = SaveCard {
            card_token: card_token.to_owned(),
            email: options.email.clone(),
            metadata: BTreeMap::from([
                (METADATA_TRANSACTION_ID.to_owned(), txn.id.to_string()),
                (METADATA_PAYMENT_ID.to_owned(), payment.id.to_string()),
                (METADATA_PROJECT.to_owned(), project.as_str().to_owned()),
            ]),
            idempotency_key: key("card"),
        };
        let mut row = None;
        let attempt = match connector.save_card(&save).await {
            Err(error) => failed(&account, &txn, operation, Some(&intent_id), error).await,
            Ok(card) => {
                row = Some(SavedMethod::saved(
                    &account.interface,
                    &card,
                    options.reusable,
                ));
                let confirmed = match connector
                    .set_payment_method(&intent_id, &card, &key("method"))
                    .await
                {
                    Ok(_) => {
                        connector
                            .confirm_payment_intent(&intent_id, &key("confirm"))
                            .await
                    }
                    Err(error) => Err(error),
                };
                match confirmed {
                    Ok(intent) => Attempt::Done(intent_outcome(
                        &account,
                        &txn,
                        operation,
                        &intent,
                        Source::PaymentPage,
                    )),
                    Err(error) => failed(&account, &txn, operation, Some(&intent_id), error).await,
                }
            }
        };
        let outcome = match attempt {
            Attempt::Done(outcome) => outcome,
            Attempt::Retry(error) => return Err(PspFailure::Psp(error)),
        };
        let authenticate = outcome.status.as_deref() == Some(IntentStatus::RequiresAction.as_str());
        let refusal = (outcome.state == TransactionState::Failure).then(|| refusal_text(&outcome));
        let inline = row
            .map(|mut row| {
                row.three_d_secure = authenticate;
                vec![row.write(project, payment_id)]
            })
            .unwrap_or_default();
        let transaction_id = txn.id;
        let written = self
            .append(
                project,
                payment_id,
                EXECUTOR_ACTOR,
                AppendWrites {
                    inline,
                    dedupe: None,
                },
                move |payment, type_id| outcome_actions(payment, transaction_id, &outcome, type_id),
            )
            .await?;
        let Some(payment) = written.payment() else {
            return Ok(None);
        };
        // The secret the intent was read with before paying: it never
        // changes, so the PSP is not asked again.
        let authenticate_with = intent.client_secret.filter(|_| authenticate);
        Ok(Some(CardPayment {
            payment,
            authenticate_with,
            refusal,
        }))
    }
}

/// The Pending Charge or Authorization whose PaymentIntent waits for the
/// customer, with the intent's id.
fn waiting(payment: &Payment) -> Option<(Transaction, String)> {
    payment.transactions.iter().find_map(|t| {
        let kind = matches!(
            t.kind,
            TransactionType::Charge | TransactionType::Authorization
        );
        (kind && t.state == TransactionState::Pending)
            .then(|| t.interface_id.clone().map(|id| (Transaction::clone(t), id)))
            .flatten()
    })
}

/// A short tag of a card token for idempotency keys (the token itself is
/// single-use and stays out of keys and logs).
fn token_tag(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..8])
}

/// What the PSP said when it refused the card.
fn refusal_text(outcome: &super::executor::PspResult) -> String {
    outcome
        .interaction
        .get("message")
        .or_else(|| outcome.interaction.get("code"))
        .unwrap_or("The card was refused.")
        .to_owned()
}
