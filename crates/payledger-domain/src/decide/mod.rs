//! Deciding: from a payment and a command to the events that record it, or
//! to the named [`Rejection`] that refuses it.
//!
//! Deciding is pure. Transaction ids come from an [`IdSource`] and Types and
//! States from a [`Catalog`], both handed in through a [`Context`]; nothing
//! reads a clock. Update actions apply in order to a working copy of the
//! payment, so an action sees the effect of the ones before it, and the
//! whole request is all or nothing: the first rejection discards every event
//! decided so far. An action that would change nothing yields no event, so
//! the version counts real changes only.
//!
//! Project-wide uniqueness (the `key`, and `interfaceId` per payment
//! interface) needs the app layer's indexes; the events say when either
//! changes (`KeySet`, `InterfaceIdSet`, `MethodInfoInterfaceSet`,
//! `MethodInfoSet`), and the app reports a clash as
//! [`Rejection::DuplicateKey`] or [`Rejection::DuplicateInterfaceId`].

mod create;
mod custom;
mod method_info;
mod status;
mod transaction;

use crate::catalog::Catalog;
use crate::command::UpdateAction;
use crate::event::Event;
use crate::evolve::apply_decided;
use crate::ids::TransactionId;
use crate::money::Money;
use crate::payment::{Payment, Timestamp};
use crate::rejection::Rejection;
use crate::types::CustomResource;
use std::fmt;

pub use create::decide_create;

/// Most update actions one request may carry.
pub const ACTIONS_PER_REQUEST_MAX: usize = 500;
/// Shortest accepted payment key, in characters.
pub const KEY_CHARS_MIN: usize = 2;
/// Longest accepted payment key, in characters.
pub const KEY_CHARS_MAX: usize = 256;

/// Hands out fresh transaction ids. Production draws random UUIDs outside
/// the domain; tests and simulations use [`CountingIds`].
pub trait IdSource {
    fn next_transaction_id(&mut self) -> TransactionId;
}

/// A deterministic [`IdSource`]: ids 1, 2, 3, … as big-endian UUID bytes.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CountingIds {
    issued: u128,
}

impl CountingIds {
    /// Starts after `issued` ids, so the next id is `issued + 1`.
    pub const fn starting_after(issued: u128) -> Self {
        Self { issued }
    }
}

impl IdSource for CountingIds {
    fn next_transaction_id(&mut self) -> TransactionId {
        self.issued += 1;
        TransactionId::from_bytes(self.issued.to_be_bytes())
    }
}

/// What deciding may consult besides the payment and the command.
pub struct Context<'a> {
    pub catalog: &'a dyn Catalog,
    pub ids: &'a mut dyn IdSource,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Decides a list of update actions against `payment`: the events of the
/// actions that change something, in order, or the first rejection.
pub fn decide_update(
    payment: &Payment,
    actions: &[UpdateAction],
    ctx: &mut Context<'_>,
) -> Result<Vec<Event>, Rejection> {
    decide_update_with_state(payment, actions, ctx).map(|(events, _)| events)
}

/// As [`decide_update`], also returning the working copy the actions were
/// decided against: the payment after the events, fields only (version and
/// modification stamps are not touched; [`crate::evolve::stamp_decided`]
/// sets them), so a caller need not fold the events again.
pub fn decide_update_with_state(
    payment: &Payment,
    actions: &[UpdateAction],
    ctx: &mut Context<'_>,
) -> Result<(Vec<Event>, Payment), Rejection> {
    ensure_live(payment)?;
    if actions.len() > ACTIONS_PER_REQUEST_MAX {
        return Err(Rejection::TooManyActions {
            count: actions.len(),
            max: ACTIONS_PER_REQUEST_MAX,
        });
    }
    let mut working = payment.clone();
    let mut events = Vec::with_capacity(actions.len());
    for action in actions {
        if let Some(event) = decide_action(&working, action, ctx)? {
            apply_decided(&mut working, &event);
            events.push(event);
        }
    }
    Ok((events, working))
}

/// Decides the deletion of `payment`.
pub fn decide_delete(payment: &Payment, data_erasure: bool) -> Result<Event, Rejection> {
    ensure_live(payment)?;
    Ok(Event::Deleted { data_erasure })
}

/// Checks a payment key: `^[A-Za-z0-9_-]+$`, [`KEY_CHARS_MIN`] to
/// [`KEY_CHARS_MAX`] characters.
pub fn validate_key(key: &str) -> Result<(), Rejection> {
    let ok = (KEY_CHARS_MIN..=KEY_CHARS_MAX).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Rejection::KeyInvalid {
            key: key.to_owned(),
        })
    }
}

fn ensure_live(payment: &Payment) -> Result<(), Rejection> {
    if payment.deleted {
        Err(Rejection::PaymentDeleted { id: payment.id })
    } else {
        Ok(())
    }
}

/// One action against the working copy: `None` when it changes nothing.
fn decide_action(
    p: &Payment,
    action: &UpdateAction,
    ctx: &mut Context<'_>,
) -> Result<Option<Event>, Rejection> {
    use CustomResource as R;
    use UpdateAction as A;
    let catalog = ctx.catalog;
    let info = &p.payment_method_info;
    match action {
        A::AddTransaction(draft) => transaction::add(p, draft, ctx).map(Some),
        A::ChangeTransactionState {
            transaction_id: id,
            state,
        } => transaction::change_state(p, *id, *state),
        A::ChangeTransactionTimestamp {
            transaction_id: id,
            timestamp,
        } => transaction::change_timestamp(p, *id, *timestamp),
        A::ChangeTransactionInteractionId {
            transaction_id: id,
            interaction_id,
        } => transaction::change_interaction_id(p, *id, interaction_id),
        A::SetTransactionInterfaceId {
            transaction_id: id,
            interface_id,
        } => transaction::set_interface_id(p, *id, interface_id),
        A::SetTransactionCustomType {
            transaction_id: id,
            custom,
        } => transaction::set_custom_type(p, *id, custom.as_ref(), catalog),
        A::SetTransactionCustomField {
            transaction_id: id,
            name,
            value,
        } => transaction::set_custom_field(p, *id, name, value.as_ref(), catalog),
        A::AddInterfaceInteraction(input) => {
            custom::resolve(input, R::PaymentInterfaceInteraction, catalog)
                .map(|interaction| Some(Event::InterfaceInteractionAdded(interaction)))
        }
        A::ChangeAmountPlanned(amount) => transaction::change_amount_planned(p, amount),
        A::SetKey(key) => set_key(p, key),
        A::SetCustomer(customer) => Ok(when_changed(&p.customer_id, customer, Event::CustomerSet)),
        A::SetAnonymousId(id) => set_anonymous_id(p, id),
        A::SetInterfaceId(id) => set_interface_id(p, id),
        A::SetMethodInfoInterface(name) => {
            Ok(method_info::interface_change(info, name)?.map(Event::MethodInfoInterfaceSet))
        }
        A::SetMethodInfoMethod(method) => Ok(when_changed(
            &info.method,
            method,
            Event::MethodInfoMethodSet,
        )),
        A::SetMethodInfoName(name) => Ok(when_changed(&info.name, name, Event::MethodInfoNameSet)),
        A::SetMethodInfoToken(token) => {
            Ok(when_changed(&info.token, token, Event::MethodInfoTokenSet))
        }
        A::SetMethodInfoInterfaceAccount(account) => Ok(when_changed(
            &info.interface_account,
            account,
            Event::MethodInfoInterfaceAccountSet,
        )),
        A::SetMethodInfoCustomType(input) => {
            custom::set_type(&info.custom, input.as_ref(), R::PaymentMethodInfo, catalog)
                .map(|change| change.map(Event::MethodInfoCustomTypeSet))
        }
        A::SetMethodInfoCustomField { name, value } => custom::set_field(
            info.custom.as_ref(),
            name,
            value.as_ref(),
            R::PaymentMethodInfo,
            catalog,
        )
        .map(|changed| {
            changed.then(|| Event::MethodInfoCustomFieldSet {
                name: name.clone(),
                value: value.clone(),
            })
        }),
        A::SetMethodInfo(input) => method_info::set_all(info, input, catalog),
        A::SetStatusInterfaceCode(code) => Ok(when_changed(
            &p.payment_status.interface_code,
            code,
            Event::StatusInterfaceCodeSet,
        )),
        A::SetStatusInterfaceText(text) => Ok(status::set_interface_text(&p.payment_status, text)),
        A::SetCustomType(input) => custom::set_type(&p.custom, input.as_ref(), R::Payment, catalog)
            .map(|change| change.map(Event::CustomTypeSet)),
        A::SetCustomField { name, value } => {
            custom::set_field(p.custom.as_ref(), name, value.as_ref(), R::Payment, catalog).map(
                |changed| {
                    changed.then(|| Event::CustomFieldSet {
                        name: name.clone(),
                        value: value.clone(),
                    })
                },
            )
        }
        A::TransitionState { state, force } => {
            status::transition(&p.payment_status, state, *force, catalog)
        }
        A::SetAmountPaid(amount) => Ok(when_changed(&p.amount_paid, amount, Event::AmountPaidSet)),
        A::SetAmountRefunded(amount) => Ok(when_changed(
            &p.amount_refunded,
            amount,
            Event::AmountRefundedSet,
        )),
        A::SetAuthorization { amount, until } => Ok(set_authorization(p, amount, until)),
        A::SetExternalId(id) => Ok(when_changed(&p.external_id, id, Event::ExternalIdSet)),
    }
}

/// The event for setting `current` to `target`, or `None` if they are equal.
fn when_changed<T: PartialEq + Clone>(
    current: &T,
    target: &T,
    event: impl FnOnce(T) -> Event,
) -> Option<Event> {
    (current != target).then(|| event(target.clone()))
}

fn set_key(p: &Payment, key: &Option<String>) -> Result<Option<Event>, Rejection> {
    if let Some(key) = key {
        validate_key(key)?;
    }
    Ok(when_changed(&p.key, key, Event::KeySet))
}

fn set_anonymous_id(p: &Payment, id: &Option<String>) -> Result<Option<Event>, Rejection> {
    if id.is_some() && p.customer_id.is_some() {
        return Err(Rejection::AnonymousIdWithCustomer);
    }
    Ok(when_changed(&p.anonymous_id, id, Event::AnonymousIdSet))
}

/// `interfaceId` is set once: the same value again is a no-op.
fn set_interface_id(p: &Payment, id: &str) -> Result<Option<Event>, Rejection> {
    match &p.interface_id {
        None => Ok(Some(Event::InterfaceIdSet(id.to_owned()))),
        Some(current) if current == id => Ok(None),
        Some(current) => Err(Rejection::InterfaceIdAlreadySet {
            current: current.clone(),
        }),
    }
}

/// A `None` amount removes the authorization, `until` included.
fn set_authorization(
    p: &Payment,
    amount: &Option<Money>,
    until: &Option<Timestamp>,
) -> Option<Event> {
    let until = amount.as_ref().and(*until);
    let unchanged = p.amount_authorized == *amount && p.authorized_until == until;
    (!unchanged).then(|| Event::AuthorizationSet {
        amount: amount.clone(),
        until,
    })
}

#[cfg(test)]
mod tests;
