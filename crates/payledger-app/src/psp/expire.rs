//! Expiring a payment attempt its customer never finished (seed 000: a
//! retry after 15 minutes replaces the attempt in progress).
//!
//! The payment is brought up to date first (a refresh resumes in-doubt
//! calls and fetches every Pending status), so an attempt that succeeded
//! meanwhile is recorded as a success and not expired. Then, under the
//! payment's lock, each unfinished Authorization or Charge has its
//! PaymentIntent cancelled at the PSP and is set to Failure with an
//! `expire` interaction saying why. A PaymentIntent the PSP will not cancel
//! (it was paid in the meantime) is recorded as the PSP answers it.

use super::executor::{EXECUTOR_ACTOR, PspResult, idempotency_key, intent_outcome};
use super::interaction::{Interaction, Phase, Source};
use super::mapping::Operation;
use super::{PspFailure, PspService};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Payment, PaymentId, ProjectKey};
use payledger_psp::{ObjectKind, PspError};

/// The interaction `code` of an expired attempt.
pub const EXPIRED_CODE: &str = "attempt_expired";

impl PspService {
    /// Expires the unfinished Authorizations and Charges of a payment with
    /// `reason`; returns the payment after (`None` when it does not
    /// exist). A PSP that cannot be reached fails the call and changes
    /// nothing that was not already decided.
    #[tracing::instrument(skip_all, fields(project = %project, payment_id = %payment_id))]
    pub async fn expire_payment(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        reason: &str,
    ) -> Result<Option<Payment>, PspFailure> {
        let Some(refreshed) = self.refresh_payment(project, payment_id).await? else {
            return Ok(None);
        };
        if let Some(error) = refreshed.errors.first() {
            return Err(PspFailure::Psp(PspError::Network {
                message: format!("the attempt's status is unknown: {error}"),
            }));
        }
        let _guard = self.inner.locks.lock(payment_id).await;
        let Some(payment) = self.load(project, payment_id).await? else {
            return Ok(None);
        };
        let account = self.account(project, &payment);
        let unfinished: Vec<_> = payment
            .transactions
            .iter()
            .filter(|t| {
                matches!(
                    t.kind,
                    TransactionType::Charge | TransactionType::Authorization
                ) && !t.state.is_final()
            })
            .cloned()
            .collect();
        let mut last = payment.clone();
        for txn in unfinished {
            let operation = match txn.kind {
                TransactionType::Authorization => Operation::Authorize,
                _ => Operation::Charge,
            };
            let psp = account
                .as_ref()
                .map_or("none", |a| a.interface.as_str())
                .to_owned();
            let intent_id = txn.interface_id.clone().filter(|id| {
                account
                    .as_ref()
                    .is_some_and(|a| a.connector.object_kind(id) == ObjectKind::PaymentIntent)
            });
            let outcome = match (&account, intent_id) {
                (Some(account), Some(intent_id)) => {
                    let key = idempotency_key(txn.id, "expire");
                    match account
                        .connector
                        .cancel_payment_intent(&intent_id, &key)
                        .await
                    {
                        Ok(_) => expired(&psp, &txn.id.to_string(), Some(&intent_id), reason),
                        Err(PspError::InvalidRequest { .. }) => {
                            // Not cancellable: the PSP finished it. Record
                            // what it says instead.
                            let intent = account
                                .connector
                                .retrieve_payment_intent(&intent_id)
                                .await?;
                            intent_outcome(account, &txn, operation, &intent, Source::Refresh)
                        }
                        Err(other) => return Err(other.into()),
                    }
                }
                _ => expired(&psp, &txn.id.to_string(), None, reason),
            };
            if let Some(after) = self
                .record(project, payment_id, txn.id, outcome, EXECUTOR_ACTOR)
                .await?
                .payment()
            {
                last = after;
            }
        }
        Ok(Some(last))
    }
}

/// The outcome of an expired transaction: Failure, saying why.
fn expired(psp: &str, transaction_id: &str, intent_id: Option<&str>, reason: &str) -> PspResult {
    let mut interaction = Interaction::new(psp, Source::Executor, Phase::Response);
    interaction
        .set("operation", "expire")
        .set("transactionId", transaction_id)
        .set_some("interfaceId", intent_id.map(str::to_owned))
        .set("status", "canceled")
        .set("code", EXPIRED_CODE)
        .set("message", reason);
    PspResult {
        state: TransactionState::Failure,
        interface_id: None,
        status: Some("canceled".into()),
        interaction,
    }
}
