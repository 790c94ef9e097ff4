//! Transaction rules: adding transactions (ids assigned here), changing
//! their state, timestamp, interaction id, interface id and custom fields,
//! and the currency rule that ties transactions to `amountPlanned`.
//!
//! **Decision:** every transaction is in the currency of `amountPlanned`,
//! and `changeAmountPlanned` cannot change the currency of a payment that
//! has transactions; otherwise totals paid and refunded would mix
//! currencies.

use super::custom;
use super::{Context, when_changed};
use crate::catalog::Catalog;
use crate::command::{CustomFieldsInput, TransactionDraftInput};
use crate::event::Event;
use crate::ids::TransactionId;
use crate::money::{CurrencyCode, Money};
use crate::payment::{FieldValue, Payment, Timestamp, Transaction, TransactionState};
use crate::rejection::Rejection;
use crate::types::CustomResource;

/// `addTransaction`: always a change.
pub(super) fn add(
    p: &Payment,
    draft: &TransactionDraftInput,
    ctx: &mut Context<'_>,
) -> Result<Event, Rejection> {
    let currency = &p.amount_planned.currency;
    let existing = p.transactions.iter().map(|t| &**t);
    build(draft, currency, existing, ctx).map(Event::TransactionAdded)
}

/// Builds a transaction from its draft next to `existing` ones: checks the
/// currency, the interface id's uniqueness and the custom fields, then
/// draws a fresh id. (That the id is fresh is checked where the
/// transaction joins the others: by `create` among the draft's, by the fold
/// for a payment's, which reads the list's ids rather than every
/// transaction.)
pub(super) fn build<'t>(
    draft: &TransactionDraftInput,
    currency: &CurrencyCode,
    existing: impl Iterator<Item = &'t Transaction>,
    ctx: &mut Context<'_>,
) -> Result<Transaction, Rejection> {
    ensure_currency(currency, &draft.amount.currency)?;
    if let Some(interface_id) = &draft.interface_id {
        ensure_interface_id_free(existing, None, interface_id)?;
    }
    let custom = custom::resolve_optional(
        draft.custom.as_ref(),
        CustomResource::Transaction,
        ctx.catalog,
    )?;
    Ok(Transaction {
        id: ctx.ids.next_transaction_id(),
        timestamp: draft.timestamp,
        kind: draft.kind,
        amount: draft.amount.clone(),
        interaction_id: draft.interaction_id.clone(),
        interface_id: draft.interface_id.clone(),
        state: draft.state.unwrap_or_default(),
        custom,
    })
}

/// Any state may change to any other state, as in commercetools.
pub(super) fn change_state(
    p: &Payment,
    id: TransactionId,
    state: TransactionState,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    Ok(
        (t.state != state).then_some(Event::TransactionStateChanged {
            transaction_id: id,
            state,
        }),
    )
}

pub(super) fn change_timestamp(
    p: &Payment,
    id: TransactionId,
    timestamp: Timestamp,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    Ok(
        (t.timestamp != Some(timestamp)).then_some(Event::TransactionTimestampChanged {
            transaction_id: id,
            timestamp,
        }),
    )
}

pub(super) fn change_interaction_id(
    p: &Payment,
    id: TransactionId,
    interaction_id: &str,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    let unchanged = t.interaction_id.as_deref() == Some(interaction_id);
    Ok(
        (!unchanged).then(|| Event::TransactionInteractionIdChanged {
            transaction_id: id,
            interaction_id: interaction_id.to_owned(),
        }),
    )
}

/// Interface ids are unique among the payment's transactions.
pub(super) fn set_interface_id(
    p: &Payment,
    id: TransactionId,
    interface_id: &Option<String>,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    if let Some(value) = interface_id {
        let existing = p.transactions.iter().map(|t| &**t);
        ensure_interface_id_free(existing, Some(id), value)?;
    }
    Ok(when_changed(
        &t.interface_id,
        interface_id,
        |interface_id| Event::TransactionInterfaceIdSet {
            transaction_id: id,
            interface_id,
        },
    ))
}

pub(super) fn set_custom_type(
    p: &Payment,
    id: TransactionId,
    input: Option<&CustomFieldsInput>,
    catalog: &dyn Catalog,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    let change = custom::set_type(&t.custom, input, CustomResource::Transaction, catalog)?;
    Ok(change.map(|custom| Event::TransactionCustomTypeSet {
        transaction_id: id,
        custom,
    }))
}

pub(super) fn set_custom_field(
    p: &Payment,
    id: TransactionId,
    name: &str,
    value: Option<&FieldValue>,
    catalog: &dyn Catalog,
) -> Result<Option<Event>, Rejection> {
    let t = find(p, id)?;
    let resource = CustomResource::Transaction;
    let changed = custom::set_field(t.custom.as_ref(), name, value, resource, catalog)?;
    Ok(changed.then(|| Event::TransactionCustomFieldSet {
        transaction_id: id,
        name: name.to_owned(),
        value: value.cloned(),
    }))
}

/// `changeAmountPlanned`: the currency stays once transactions exist.
pub(super) fn change_amount_planned(
    p: &Payment,
    amount: &Money,
) -> Result<Option<Event>, Rejection> {
    if !p.transactions.is_empty() {
        ensure_currency(&p.amount_planned.currency, &amount.currency)?;
    }
    Ok(when_changed(
        &p.amount_planned,
        amount,
        Event::AmountPlannedChanged,
    ))
}

fn find(p: &Payment, id: TransactionId) -> Result<&Transaction, Rejection> {
    (p.transactions.find(id))
        .map(|t| &**t)
        .ok_or_else(|| Rejection::TransactionNotFound { id: id.to_string() })
}

fn ensure_currency(expected: &CurrencyCode, actual: &CurrencyCode) -> Result<(), Rejection> {
    if expected == actual {
        Ok(())
    } else {
        Err(Rejection::CurrencyMismatch {
            expected: expected.clone(),
            actual: actual.clone(),
        })
    }
}

/// No transaction other than `except` has this interface id.
fn ensure_interface_id_free<'t>(
    mut transactions: impl Iterator<Item = &'t Transaction>,
    except: Option<TransactionId>,
    interface_id: &str,
) -> Result<(), Rejection> {
    let taken = transactions
        .any(|t| Some(t.id) != except && t.interface_id.as_deref() == Some(interface_id));
    if taken {
        Err(Rejection::DuplicateTransactionInterfaceId {
            interface_id: interface_id.to_owned(),
        })
    } else {
        Ok(())
    }
}
