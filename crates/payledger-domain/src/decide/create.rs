//! Creating a payment: the draft is checked by the same rules as the
//! update actions that could have built it (key format, currency, unique
//! transaction interface ids, custom fields, PaymentState), and transaction
//! ids are assigned. The payment id and the creation time are the store's
//! and the envelope's, not the event's.

use super::{Context, custom, method_info, status, transaction, validate_key};
use crate::command::{PaymentDraftInput, TransactionDraftInput};
use crate::event::Event;
use crate::money::CurrencyCode;
use crate::payment::{PaymentDraft, Transaction};
use crate::rejection::Rejection;
use crate::types::CustomResource;

/// Decides the creation of a payment from its draft.
pub fn decide_create(draft: &PaymentDraftInput, ctx: &mut Context<'_>) -> Result<Event, Rejection> {
    if let Some(key) = &draft.key {
        validate_key(key)?;
    }
    let catalog = ctx.catalog;
    let custom = custom::resolve_optional(draft.custom.as_ref(), CustomResource::Payment, catalog)?;
    let payment_method_info = method_info::from_input(&draft.payment_method_info, catalog)?;
    let payment_status = status::from_input(&draft.payment_status, catalog)?;
    let interface_interactions = draft
        .interface_interactions
        .iter()
        .map(|i| custom::resolve(i, CustomResource::PaymentInterfaceInteraction, catalog))
        .collect::<Result<Vec<_>, _>>()?;
    let currency = &draft.amount_planned.currency;
    let transactions = transactions(&draft.transactions, currency, ctx)?;
    Ok(Event::Created(Box::new(PaymentDraft {
        key: draft.key.clone(),
        customer_id: draft.customer_id.clone(),
        anonymous_id: draft.anonymous_id.clone(),
        interface_id: draft.interface_id.clone(),
        external_id: draft.external_id.clone(),
        amount_planned: draft.amount_planned.clone(),
        amount_authorized: draft.amount_authorized.clone(),
        authorized_until: draft.authorized_until,
        amount_paid: draft.amount_paid.clone(),
        amount_refunded: draft.amount_refunded.clone(),
        payment_method_info,
        payment_status,
        transactions,
        interface_interactions,
        custom,
    })))
}

/// Builds the draft's transactions in order, each checked against the
/// ones before it.
fn transactions(
    drafts: &[TransactionDraftInput],
    currency: &CurrencyCode,
    ctx: &mut Context<'_>,
) -> Result<Vec<Transaction>, Rejection> {
    let mut built = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let transaction = transaction::build(draft, currency, built.iter(), ctx)?;
        assert!(
            built.iter().all(|t| t.id != transaction.id),
            "id source repeated transaction id {}",
            transaction.id
        );
        built.push(transaction);
    }
    Ok(built)
}
