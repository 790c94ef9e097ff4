//! The callback side of the flows: the due rows the callback sender takes
//! (`payledger_webhooks::merchant_callbacks`), settling an outcome that
//! was pending, and what became of each attempt.

use super::records::{self, CallbackDue, RequestRecord, ScheduledCallback};
use super::{
    CALLBACK_ATTEMPTS_MAX, CALLBACK_BACKOFF, CALLBACK_BATCH_MAX, CallbackWork, Tokenization,
    TokenizationError, answer, blocking, reference_lock,
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

    /// Milliseconds from now (on the flows' clock) until `at_ms`, at
    /// least 1.
    pub fn ms_until(&self, at_ms: i64) -> u64 {
        u64::try_from(at_ms.saturating_sub(self.now().0))
            .unwrap_or(0)
            .max(1)
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
            // Executes what is left and settles what is final; the row
            // comes back later otherwise.
            match self.advance(record, None).await {
                Ok(Ok(answered)) => answered.record,
                Ok(Err(_pending)) => return Ok(CallbackWork::NotSettled),
                Err(TokenizationError::Failed(failure)) => return Err(failure),
                Err(TokenizationError::Refused(refusal)) => {
                    tracing::warn!(message = %refusal.message, "a pending tokenization request cannot settle");
                    return Ok(CallbackWork::Done);
                }
            }
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
                    let wait = i64::try_from(CALLBACK_BACKOFF.next(attempts).as_millis())
                        .unwrap_or(i64::MAX);
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
