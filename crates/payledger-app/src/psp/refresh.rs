//! The refresh: fetch the PSP status of every Pending transaction of a
//! payment and record what changed. It is the only path (besides the
//! executor's own answers) by which a PSP status moves a transaction, and
//! it never moves one out of Success or Failure.
//!
//! A refresh first resumes the executor's in-doubt transactions (and runs
//! Initial ones), then, under the payment's lock, retrieves each Pending
//! transaction's PaymentIntent or refund, and last the PaymentIntent of an
//! open authorization, to record a cancellation the PSP made on its own
//! ([`super::reconcile`]). An unchanged status appends nothing.

use super::executor::{PspResult, intent_outcome, outcome_actions, refund_outcome};
use super::interaction::Source;
use super::mapping::{self, Operation};
use super::{AppendWrites, PspAccount, PspFailure, PspService};
use payledger_domain::payment::{Transaction, TransactionState, TransactionType};
use payledger_domain::{Payment, PaymentId, ProjectKey, TransactionId};
use payledger_psp::{ObjectKind, PspError};

/// The actor of the refresh's events.
pub const REFRESH_ACTOR: &str = "psp-refresh";

/// What a refresh left.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refreshed {
    pub payment: Payment,
    /// Transactions still Pending, with their last known PSP status.
    pub pending: Vec<(TransactionId, Option<String>)>,
    /// PSP calls that failed (retried by the next refresh).
    pub errors: Vec<String>,
}

impl PspService {
    /// Refreshes a payment now. `None` when it does not exist; a payment
    /// of no configured PSP comes back unchanged.
    #[tracing::instrument(skip_all, fields(project = %project, payment_id = %payment_id))]
    pub async fn refresh_payment(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
    ) -> Result<Option<Refreshed>, PspFailure> {
        let resumed = self.process_payment(project, payment_id, true).await?;
        let mut errors: Vec<String> = resumed.last_error.into_iter().collect();
        let _guard = self.inner.locks.lock(payment_id).await;
        let Some(payment) = self.load(project, payment_id).await? else {
            return Ok(None);
        };
        let Some(account) = self.account(project, &payment) else {
            return Ok(Some(Refreshed {
                pending: Vec::new(),
                payment,
                errors,
            }));
        };
        let mut last = payment.clone();
        for txn in payment
            .transactions
            .iter()
            .filter(|t| t.state == TransactionState::Pending)
        {
            let Some(outcome) = (match fetch(&account, &payment, txn).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(%error, transaction_id = %txn.id, "refresh could not fetch");
                    errors.push(error.to_string());
                    continue;
                }
            }) else {
                continue;
            };
            let appended = self
                .record_if_changed(project, payment_id, txn.id, outcome)
                .await?;
            if let Some(payment) = appended {
                last = payment;
            }
        }
        match self.reconcile_authorization(project, &account, &last).await {
            Ok(Some(payment)) => last = payment,
            Ok(None) => {}
            Err(PspFailure::Psp(error)) => {
                tracing::warn!(%error, "refresh could not read the authorization");
                errors.push(error.to_string());
            }
            Err(failure) => return Err(failure),
        }
        let pending = last
            .transactions
            .iter()
            .filter(|t| t.state == TransactionState::Pending)
            .map(|t| (t.id, last.payment_status.interface_code.clone()))
            .collect();
        Ok(Some(Refreshed {
            payment: last,
            pending,
            errors,
        }))
    }

    /// Records a fetched outcome when it changes the state or the PSP
    /// status; returns the payment after it. The check runs on the view
    /// the append decides on, so no extra read is needed.
    async fn record_if_changed(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        transaction_id: TransactionId,
        outcome: PspResult,
    ) -> Result<Option<Payment>, PspFailure> {
        let appended = self
            .append(
                project,
                payment_id,
                REFRESH_ACTOR,
                AppendWrites::default(),
                move |payment, type_id| {
                    let txn = payment
                        .transactions
                        .iter()
                        .find(|t| t.id == transaction_id)?;
                    let same_state = mapping::next_state(txn.state, outcome.state) == txn.state;
                    let same_status = payment.payment_status.interface_code == outcome.status;
                    if same_state && same_status {
                        return None;
                    }
                    outcome_actions(payment, transaction_id, &outcome, type_id)
                },
            )
            .await?;
        Ok(appended.payment())
    }
}

/// Fetches what the PSP says about a Pending transaction; `None` when
/// there is nothing to ask (no interface id, or not payledger's kind).
async fn fetch(
    account: &PspAccount,
    payment: &Payment,
    txn: &Transaction,
) -> Result<Option<PspResult>, PspError> {
    let connector = &*account.connector;
    let kind_of = |id: &str| connector.object_kind(id);
    let Some(interface_id) = txn.interface_id.as_deref() else {
        return Ok(None);
    };
    let Some(operation) = mapping::executed_operation(txn, interface_id, kind_of) else {
        return Ok(None);
    };
    let intent_id = match operation {
        Operation::Refund => {
            let refund = connector.retrieve_refund(interface_id).await?;
            return Ok(Some(refund_outcome(account, txn, &refund, Source::Refresh)));
        }
        Operation::Authorize | Operation::Charge => interface_id.to_owned(),
        Operation::Capture | Operation::Cancel => match authorization_intent(payment, kind_of) {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    let intent = connector.retrieve_payment_intent(&intent_id).await?;
    let mut outcome = intent_outcome(account, txn, operation, &intent, Source::Refresh);
    // The transaction keeps the interface id it has.
    outcome.interface_id = None;
    Ok(Some(outcome))
}

/// The PaymentIntent of the payment's latest authorization.
fn authorization_intent(payment: &Payment, kind_of: impl Fn(&str) -> ObjectKind) -> Option<String> {
    payment
        .transactions
        .iter()
        .rev()
        .filter(|t| t.kind == TransactionType::Authorization)
        .filter_map(|t| t.interface_id.clone())
        .find(|id| kind_of(id) == ObjectKind::PaymentIntent)
}
