//! Reconciliation: what the PSP did to a payment's objects on its own.
//!
//! An authorization can end at the PSP without payledger asking: the
//! merchant cancels it in the PSP's dashboard, or the PSP lets it expire
//! (Stripe: after 7 days, `cancellation_reason: automatic`). Each refresh
//! therefore also reads the PaymentIntent of the payment's open
//! authorization ([`mapping::authorization_to_reconcile`]); when the PSP
//! says `canceled`, one append records it:
//!
//! - a `CancelAuthorization` transaction in `Success` for the authorized
//!   amount, marked as PSP-initiated by its `interactionId`
//!   ([`mapping::psp_initiated_interaction_id`]: `psp-initiated:pi_…`);
//! - an interaction (`source` refresh, `operation` cancel, `phase`
//!   reconciliation, the PaymentIntent as `interfaceId`, its status, the
//!   PSP's cancellation reason as `code`);
//! - `paymentStatus.interfaceCode` set to the PSP status (`canceled`).
//!
//! Exactly once: the actions are derived from the payment the append
//! decides on, under its expected version, and derive nothing once the
//! marked transaction exists; a refresh and a webhook's refresh racing, or
//! repeated ones, add one transaction. A Charge after it is refused before
//! any PSP call ([`mapping::CHARGE_AFTER_CANCELLED_AUTHORIZATION`]).

use super::interaction::{Interaction, Phase, Source};
use super::mapping::{self, Operation};
use super::refresh::REFRESH_ACTOR;
use super::{AppendWrites, PspAccount, PspFailure, PspService, PspWrite};
use payledger_domain::command::TransactionDraftInput;
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Payment, ProjectKey, UpdateAction};
use payledger_psp::{IntentStatus, ObjectKind, PaymentIntent, PspConnector};
use std::sync::Arc;

/// The interaction `message` of an authorization the PSP cancelled.
pub const CANCELLED_AT_PSP_MESSAGE: &str = "the PSP cancelled the authorization on its own (dashboard or expiry); payledger did not ask for it";

impl PspService {
    /// Asks the PSP about the payment's open authorization and records a
    /// cancellation it made on its own. The caller holds the payment's
    /// lock. `Ok(None)`: nothing to ask or nothing changed; a PSP that
    /// cannot be asked is `Err(PspFailure::Psp)`.
    pub(super) async fn reconcile_authorization(
        &self,
        project: &ProjectKey,
        account: &PspAccount,
        payment: &Payment,
    ) -> Result<Option<Payment>, PspFailure> {
        let connector = Arc::clone(&account.connector);
        let kind_of = |id: &str| connector.object_kind(id);
        let Some((_, intent_id)) = mapping::authorization_to_reconcile(payment, kind_of) else {
            return Ok(None);
        };
        let intent = connector.retrieve_payment_intent(intent_id).await?;
        if intent.status != IntentStatus::Canceled {
            return Ok(None);
        }
        tracing::info!(
            payment_id = %payment.id,
            payment_intent = %intent.id,
            reason = intent.cancellation_reason.as_deref().unwrap_or_default(),
            "the PSP cancelled an authorization on its own"
        );
        let interface = account.interface.clone();
        let appended = self
            .append(
                project,
                payment.id,
                REFRESH_ACTOR,
                AppendWrites::default(),
                move |current, type_id| {
                    cancelled_at_psp(current, &*connector, &interface, &intent, type_id)
                },
            )
            .await?;
        Ok(match appended {
            PspWrite::Changed(payment) => Some(payment),
            PspWrite::Unchanged(_) | PspWrite::Duplicate | PspWrite::Missing => None,
        })
    }
}

/// The actions that record `intent`, cancelled at the PSP, on `payment`:
/// none unless its authorization is still the open one (it was not
/// recorded meanwhile).
fn cancelled_at_psp(
    payment: &Payment,
    connector: &dyn PspConnector,
    interface: &str,
    intent: &PaymentIntent,
    type_id: &str,
) -> Option<Vec<UpdateAction>> {
    let kind_of = |id: &str| connector.object_kind(id);
    let (authorization, open) = mapping::authorization_to_reconcile(payment, kind_of)?;
    if open != intent.id || kind_of(&intent.id) != ObjectKind::PaymentIntent {
        return None;
    }
    let amount = authorization.amount.clone();
    let mut interaction = Interaction::new(interface, Source::Refresh, Phase::Reconciliation);
    interaction
        .set("operation", Operation::Cancel.as_str())
        .set("interfaceId", intent.id.clone())
        .set("status", intent.status.as_str())
        .set("amount", amount.cent_amount.to_string())
        .set_some("code", intent.cancellation_reason.clone())
        .set("message", CANCELLED_AT_PSP_MESSAGE);
    let mut draft = TransactionDraftInput::new(TransactionType::CancelAuthorization, amount);
    draft.state = Some(TransactionState::Success);
    draft.interaction_id = Some(mapping::psp_initiated_interaction_id(&intent.id));
    let mut actions = vec![
        UpdateAction::AddTransaction(draft),
        interaction.action(type_id),
    ];
    let status = Some(intent.status.as_str().to_owned());
    if payment.payment_status.interface_code != status {
        actions.push(UpdateAction::SetStatusInterfaceCode(status));
    }
    Some(actions)
}
