//! The callback side of the flows: the due rows the callback sender takes
//! (`payledger_webhooks::merchant_callbacks`), settling an outcome that
//! was pending, and what became of each attempt.

use super::records::{self, CallbackDue, OrderStatus, RequestRecord, ScheduledCallback};
use super::{
    Answered, CALLBACK_ATTEMPTS_MAX, CALLBACK_BATCH_MAX, CallbackWork, ResponseCode, Tokenization,
    TokenizationError, answer, blocking, pending_outcome, record_ids, reference_lock,
};
use crate::psp::PspFailure;

impl Tokenization {
    /// Up to [`CALLBACK_BATCH_MAX`] callbacks due now, and when the next
    /// one is due after them.
    pub async fn due_callbacks(&self) -> Result<(Vec<ScheduledCallback>, Option<i64>), PspFailure> {
        let store = self.store();
        let now = self.now();
        blocking(move || {
            let due = records::callbacks_due(&*store, now.0, CALLBACK_BATCH_MAX)?;
            let next = records::next_callback_ms(&*store)?;
            Ok((due, next))
        })
        .await
    }

    /// What to do with a due callback: settle the outcome first when it
    /// was pending, then the notify body.
    pub async fn prepare_callback(
        &self,
        callback: &ScheduledCallback,
    ) -> Result<CallbackWork, PspFailure> {
        let store = self.store();
        let (merchant, reference) = (callback.merchant, callback.reference.clone());
        let Some(record) =
            blocking(move || Ok(records::request(&*store, merchant, &reference)?)).await?
        else {
            return Ok(CallbackWork::Done);
        };
        let record = if record.outcome.is_some() {
            record
        } else {
            let _guard = self
                .references
                .lock(reference_lock(
                    record.merchant_id,
                    &record.merchant_reference,
                ))
                .await;
            // A resume executes what is left and settles what is final;
            // it answers pending otherwise.
            let answered = match self.resume_in_doubt(record).await {
                Ok(answered) => answered,
                Err(TokenizationError::Failed(failure)) => return Err(failure),
                Err(TokenizationError::Refused(refusal)) => {
                    tracing::warn!(message = %refusal.message, "a pending tokenization request cannot settle");
                    return Ok(CallbackWork::Done);
                }
            };
            if answered.outcome.status == OrderStatus::Pending {
                return Ok(CallbackWork::NotSettled);
            }
            answered.record
        };
        match (&record.notify_url, &record.outcome) {
            (Some(url), Some(outcome)) if !record.notified => Ok(CallbackWork::Send {
                url: url.clone(),
                body: serde_json::to_vec(&answer::render(&record, outcome))
                    .unwrap_or_else(|_| unreachable!("JSON serializes")),
            }),
            _ => Ok(CallbackWork::Done),
        }
    }

    /// A resume that also takes up PSP steps left in doubt; pending when
    /// the charge is still not final.
    async fn resume_in_doubt(&self, record: RequestRecord) -> Result<Answered, TokenizationError> {
        let (project, order_id) = record_ids(&record)?;
        let order = self.attempts.order(&project, order_id).await?;
        let Some(payment) = order.order.payments.last().copied() else {
            // The crash came before the attempt: start it now.
            return self.resume(record).await;
        };
        match self
            .attempts
            .psp()
            .process_payment(&project, payment, true)
            .await
        {
            Ok(_) | Err(PspFailure::Psp(_)) => {}
            Err(other) => return Err(other.into()),
        }
        match self.settle(record.clone(), &project, payment).await? {
            Some(answered) => Ok(answered),
            None => Ok(Answered {
                outcome: pending_outcome(ResponseCode::Pending, self.now()),
                record,
                replayed: false,
            }),
        }
    }

    /// Records how a callback went: a delivered (or pointless) one is
    /// removed; a failed or unsettled one is due again after the backoff,
    /// until [`CALLBACK_ATTEMPTS_MAX`] attempts.
    pub async fn callback_done(
        &self,
        callback: &ScheduledCallback,
        work: &CallbackWork,
        delivered: bool,
    ) -> Result<(), PspFailure> {
        let store = self.store();
        let now = self.now();
        let callback = callback.clone();
        let backoff = self.backoff;
        let sent = matches!(work, CallbackWork::Send { .. });
        let done = delivered || matches!(work, CallbackWork::Done);
        blocking(move || {
            let mut writes = vec![records::callback_remove(callback.key.clone())];
            if done && sent {
                if let Some(record) =
                    records::request(&*store, callback.merchant, &callback.reference)?
                {
                    writes.push(records::request_write(&RequestRecord {
                        notified: true,
                        ..record
                    }));
                }
            } else if !done {
                let attempts = callback.due.attempts.saturating_add(1);
                if attempts >= CALLBACK_ATTEMPTS_MAX {
                    tracing::error!(
                        merchant_id = callback.merchant,
                        attempts,
                        "merchant callback given up after {CALLBACK_ATTEMPTS_MAX} attempts"
                    );
                } else {
                    let wait =
                        i64::try_from(backoff.next(attempts).as_millis()).unwrap_or(i64::MAX);
                    writes.push(records::callback_write(
                        records::callback_key(
                            now.0.saturating_add(wait),
                            callback.merchant,
                            &callback.reference,
                        ),
                        &CallbackDue { attempts },
                    ));
                }
            }
            Ok(store.write(writes)?)
        })
        .await
    }
}
