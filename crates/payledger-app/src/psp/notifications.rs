//! Intake of PSP notifications: the webhooks a PSP sends payledger
//! (architecture invariant 8: they are hints). Not to be confused with
//! payledger's own outbound deliveries (`payledger-webhooks`).
//!
//! The HTTP edge verifies the signature on the raw body
//! ([`PspService::verify_stripe_webhook`]); nothing unverified goes
//! further. A verified event about a PaymentIntent is recorded as a
//! `notification` interaction on the payment one of whose transactions has
//! the PaymentIntent as interface id, together with its dedupe record and
//! an immediate refresh task in the same atomic append: the
//! refresh, not the event, changes transaction states. An event whose
//! PaymentIntent no payment knows yet is kept as an orphan task and
//! retried with backoff. No PSP call happens in the request.
//!
//! | table         | key                                  | value |
//! |---------------|--------------------------------------|-------|
//! | WebhookEvents | project · interface · event id       | recorded at (unix ms, u64 BE) · payment id (16) |

use super::interaction::{Interaction, Phase, Source};
use super::tasks::{self, OrphanEvent, Task};
use super::{AppendWrites, PspFailure, PspService, PspWrite, backoff_ms};
use crate::table_keys;
use payledger_domain::{PaymentId, ProjectKey};
use payledger_psp::config::STRIPE;
use payledger_psp::signature::{self, SIGNATURE_TOLERANCE_SECONDS, SignatureError};
use payledger_psp::webhook::{WebhookEvent, WebhookParseError, parse_event};
use payledger_store::{KvWrite, Table};

/// The actor of the events webhooks cause.
pub const WEBHOOK_ACTOR: &str = "psp-webhook";

/// Why a webhook was refused (400, nothing recorded).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum NotificationRejected {
    #[error("no {0} account is configured for this project")]
    NotConfigured(&'static str),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Malformed(#[from] WebhookParseError),
}

/// The `WebhookEvents` row that marks an event held as an orphan (its
/// value: when it arrived, ms big-endian): the event's own row key followed
/// by this byte, so the recorded row stays what "already recorded" means.
const ORPHAN_MARKER_SUFFIX: u8 = 0xFF;

/// The orphan marker row key of the event whose row key is `dedupe`.
fn orphan_marker_key(dedupe: &[u8]) -> Vec<u8> {
    let mut key = dedupe.to_vec();
    key.push(ORPHAN_MARKER_SUFFIX);
    key
}

/// What became of a verified webhook.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NotificationOutcome {
    /// Recorded on the payment; a refresh is scheduled.
    Recorded { payment_id: PaymentId },
    /// The event was recorded before.
    Duplicate,
    /// No payment knows the object yet; kept for a retry.
    Orphaned,
    /// Not about a PaymentIntent; acknowledged only.
    Ignored,
}

impl PspService {
    /// Verifies a Stripe webhook of `project` on its raw body and reads it.
    pub fn verify_stripe_webhook(
        &self,
        project: &ProjectKey,
        signature_header: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookEvent, NotificationRejected> {
        let account = self
            .inner
            .registry
            .get(project, STRIPE)
            .ok_or(NotificationRejected::NotConfigured(STRIPE))?;
        let now_seconds = self.inner.clock.now_ms().div_euclid(1_000);
        signature::verify(
            signature_header,
            body,
            &account.webhook_secrets,
            now_seconds,
            SIGNATURE_TOLERANCE_SECONDS,
        )?;
        Ok(parse_event(body)?)
    }

    /// Takes a verified event: records it, or keeps it as an orphan.
    #[tracing::instrument(skip_all, fields(project = %project, event_id = %event.id))]
    pub async fn receive_webhook(
        &self,
        project: &ProjectKey,
        interface: &str,
        event: &WebhookEvent,
    ) -> Result<NotificationOutcome, PspFailure> {
        let Some(intent) = event.payment_intent.clone() else {
            return Ok(NotificationOutcome::Ignored);
        };
        let orphan = OrphanEvent {
            interface: interface.to_owned(),
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            object_id: event.object_id.clone(),
            payment_intent: intent,
            created: event.created,
        };
        // An event held as an orphan already is a duplicate too: its task
        // records it once a payment knows the PaymentIntent.
        let marker = orphan_marker_key(&table_keys::webhook_event_key(
            project, interface, &event.id,
        ));
        let key = marker.clone();
        let held = self
            .blocking(move |s| Ok(s.store().get(Table::WebhookEvents, &key)?.is_some()))
            .await?;
        if held {
            return Ok(NotificationOutcome::Duplicate);
        }
        let outcome = self.record_webhook(project, &orphan).await?;
        if outcome == NotificationOutcome::Orphaned {
            let task = Task::Orphan {
                project: project.clone(),
                event: orphan,
                attempt: 1,
            };
            let now = self.inner.clock.now_ms();
            let due = now + self.inner.policy.orphan_delay_ms;
            let marker = KvWrite {
                table: Table::WebhookEvents,
                key: marker,
                value: Some(now.max(0).to_be_bytes().to_vec()),
            };
            self.schedule(task, due, vec![marker]).await?;
        }
        Ok(outcome)
    }

    /// Records an event on the payment of its PaymentIntent and schedules
    /// an immediate refresh; `Orphaned` (nothing written) when no payment
    /// knows the PaymentIntent.
    pub async fn record_webhook(
        &self,
        project: &ProjectKey,
        event: &OrphanEvent,
    ) -> Result<NotificationOutcome, PspFailure> {
        let dedupe = table_keys::webhook_event_key(project, &event.interface, &event.id);
        let (key, p, intent) = (
            dedupe.clone(),
            project.clone(),
            event.payment_intent.clone(),
        );
        let (seen, payment) = self
            .blocking(move |s| {
                let seen = s.store().get(Table::WebhookEvents, &key)?.is_some();
                let prefix = table_keys::transaction_interface_prefix(&p, &intent);
                // The first payment holding the PSP object is the one.
                let rows = s.store().scan(
                    Table::TransactionInterfaceIndex,
                    &prefix,
                    &table_keys::prefix_end(&prefix),
                    1,
                )?;
                let payment = rows
                    .first()
                    .and_then(|(k, _)| table_keys::view_key_payment(k));
                Ok((seen, payment))
            })
            .await?;
        if seen {
            return Ok(NotificationOutcome::Duplicate);
        }
        let Some(payment_id) = payment else {
            return Ok(NotificationOutcome::Orphaned);
        };
        let refresh = Task::Refresh {
            project: project.clone(),
            payment_id,
            attempt: 0,
            follow_up: false,
        };
        // The dedupe record and the refresh task commit with the
        // interaction, in one synced batch.
        let (_, refresh) = tasks::schedule(&refresh, self.inner.clock.now_ms());
        let mut record = self.inner.clock.now_ms().max(0).to_be_bytes().to_vec();
        record.extend_from_slice(payment_id.as_bytes());
        let write = AppendWrites {
            inline: vec![
                KvWrite {
                    table: Table::WebhookEvents,
                    key: dedupe.clone(),
                    value: Some(record),
                },
                refresh,
            ],
            dedupe: Some(dedupe),
        };
        let mut interaction =
            Interaction::new(&event.interface, Source::Webhook, Phase::Notification);
        interaction
            .set("eventId", event.id.clone())
            .set("eventType", event.event_type.clone())
            .set("interfaceId", event.payment_intent.clone());
        let appended = self
            .append(
                project,
                payment_id,
                WEBHOOK_ACTOR,
                write,
                move |_, type_id| Some(vec![interaction.action(type_id)]),
            )
            .await?;
        if matches!(appended, PspWrite::Changed(_)) {
            self.inner.tasks_due.notify_one();
        }
        Ok(match appended {
            PspWrite::Changed(_) | PspWrite::Unchanged(_) => {
                NotificationOutcome::Recorded { payment_id }
            }
            PspWrite::Duplicate => NotificationOutcome::Duplicate,
            PspWrite::Missing => NotificationOutcome::Ignored,
        })
    }

    /// Retries an orphan; the follow-up task, if it is still orphaned.
    pub(super) async fn retry_orphan(
        &self,
        project: &ProjectKey,
        event: &OrphanEvent,
        attempt: u32,
    ) -> Result<Option<(Task, i64)>, PspFailure> {
        let outcome = self.record_webhook(project, event).await?;
        if outcome != NotificationOutcome::Orphaned {
            return Ok(None);
        }
        let policy = self.inner.policy;
        if attempt >= policy.orphan_attempts_max {
            tracing::warn!(
                event_id = %event.id,
                payment_intent = %event.payment_intent,
                attempts = attempt,
                "orphan webhook dropped: no payment knows its PaymentIntent"
            );
            return Ok(None);
        }
        let next = attempt + 1;
        let delay = backoff_ms(policy.orphan_delay_ms, policy.refresh_backoff_max_ms, next);
        let task = Task::Orphan {
            project: project.clone(),
            event: event.clone(),
            attempt: next,
        };
        Ok(Some((task, self.inner.clock.now_ms() + delay)))
    }
}
