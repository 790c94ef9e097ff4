//! Folding events into a Payment: the only code that changes a payment.
//!
//! [`evolve`] applies one stored event to the state before it; [`fold`]
//! replays a whole stream. Creation builds the payment at version 1; every
//! other event bumps the version by one and stamps `lastModifiedAt/By` from
//! the envelope. Events are facts that were already decided, so a fold never
//! refuses one: an event that cannot apply (a transaction that does not
//! exist, a version gap, anything after deletion) means the log or the
//! decider is broken, and the fold panics rather than invent a state.

use crate::event::{Event, EventEnvelope, EventMeta, MethodInfoUpdate};
use crate::ids::{PaymentId, TransactionId};
use crate::payment::{
    CustomFields, FieldValue, Payment, PaymentDraft, PaymentMethodInfo, Transaction,
    TransactionList,
};
use std::sync::Arc;

/// What a fold needs of an event: its stream, its version there, who
/// recorded it and when, and the event. A stored envelope has all of it;
/// so has an event that is decided but not appended yet (the ledger folds
/// those into the new view, and the store stamps log positions and
/// hashes once, on append).
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    pub payment_id: PaymentId,
    pub version: u64,
    pub meta: &'a EventMeta,
    pub event: &'a Event,
}

impl EventEnvelope {
    /// What a payment fold reads of this envelope.
    ///
    /// # Panics
    /// If the envelope is not from a payment's stream: folding another
    /// kind's events into a payment is a broken invariant of the caller.
    pub fn recorded(&self) -> Recorded<'_> {
        Recorded {
            payment_id: self
                .payment_id()
                .unwrap_or_else(|| panic!("{} is not a payment stream", self.stream)),
            version: self.version,
            meta: &self.meta,
            event: &self.event,
        }
    }
}

/// Applies one stored event to the state before it.
///
/// # Panics
/// As [`evolve_recorded`].
pub fn evolve(state: Option<Payment>, envelope: &EventEnvelope) -> Payment {
    evolve_recorded(state, envelope.recorded())
}

/// Applies one event to the state before it.
///
/// # Panics
/// If the event cannot follow the state: `Created` on an existing payment,
/// another event before `Created` or after `Deleted`, or a version that is
/// not the next one. These are broken invariants, not user errors.
pub fn evolve_recorded(state: Option<Payment>, envelope: Recorded<'_>) -> Payment {
    let version = envelope.version;
    let payment = match (state, envelope.event) {
        (None, Event::Created(draft)) => created(envelope, draft),
        (Some(mut payment), event) if !matches!(event, Event::Created(_)) => {
            assert!(!payment.deleted, "event v{version} after deletion");
            apply(&mut payment, event);
            payment.version += 1;
            payment.last_modified_at = envelope.meta.recorded_at;
            payment.last_modified_by = envelope.meta.actor.clone();
            payment
        }
        (state, event) => panic!(
            "{} cannot apply at v{version} (payment exists: {})",
            event.kind(),
            state.is_some()
        ),
    };
    assert_eq!(payment.version, version, "stream version gap");
    assert_eq!(payment.id, envelope.payment_id, "event of another stream");
    payment
}

/// The payment after `last` (an event at `version`, decided with the
/// events before it against the payment [`decide_update_with_state`]
/// returned as `working`): the working copy with the version and the
/// modification stamps [`evolve_recorded`] would give it.
///
/// [`decide_update_with_state`]: crate::decide::decide_update_with_state
pub fn stamp_decided(mut working: Payment, version: u64, last: &EventMeta) -> Payment {
    working.version = version;
    working.last_modified_at = last.recorded_at;
    working.last_modified_by = last.actor.clone();
    working
}

/// Replays a stream from its first event; `None` for an empty stream.
pub fn fold<'a>(envelopes: impl IntoIterator<Item = &'a EventEnvelope>) -> Option<Payment> {
    envelopes
        .into_iter()
        .fold(None, |state, envelope| Some(evolve(state, envelope)))
}

fn created(envelope: Recorded<'_>, draft: &PaymentDraft) -> Payment {
    let draft = draft.clone();
    Payment {
        id: envelope.payment_id,
        version: 1,
        key: draft.key,
        customer_id: draft.customer_id,
        anonymous_id: draft.anonymous_id,
        interface_id: draft.interface_id,
        external_id: draft.external_id,
        amount_planned: draft.amount_planned,
        amount_authorized: draft.amount_authorized,
        authorized_until: draft.authorized_until,
        amount_paid: draft.amount_paid,
        amount_refunded: draft.amount_refunded,
        payment_method_info: draft.payment_method_info,
        payment_status: draft.payment_status,
        transactions: draft.transactions.into_iter().map(Arc::new).collect(),
        interface_interactions: draft.interface_interactions,
        custom: draft.custom,
        created_at: envelope.meta.recorded_at,
        last_modified_at: envelope.meta.recorded_at,
        created_by: envelope.meta.actor.clone(),
        last_modified_by: envelope.meta.actor.clone(),
        deleted: false,
    }
}

/// [`apply`] for an event `decide` has just made: a transaction it adds
/// has an id the id source drew fresh (a random UUID in production), so
/// it joins the list without the pass over every id that [`apply`] makes
/// of a stored event (which, for every transaction an update adds, would
/// read the whole payment: BENCHMARKS.md "HTTP API", twelfth session).
pub(crate) fn apply_decided(payment: &mut Payment, event: &Event) {
    match event {
        Event::TransactionAdded(transaction) => {
            debug_assert!(!payment.transactions.contains(transaction.id));
            payment.transactions.push(Arc::new(transaction.clone()));
        }
        _ => apply(payment, event),
    }
}

/// Changes the payment's fields as the event says; version and
/// modification stamps are the caller's business. Deciding uses this on its
/// working copy so that action N sees the effect of actions 1..N-1.
///
/// # Panics
/// On `Created` and on events naming a missing transaction or custom type.
pub(crate) fn apply(payment: &mut Payment, event: &Event) {
    let info = &mut payment.payment_method_info;
    let status = &mut payment.payment_status;
    let txns = &mut payment.transactions;
    match event {
        Event::Created(_) => panic!("Created cannot apply to an existing payment"),
        Event::Order(event) => panic!("{} cannot apply to a payment", event.kind()),
        Event::TransactionAdded(transaction) => add_transaction(txns, transaction),
        Event::TransactionStateChanged {
            transaction_id: id,
            state,
        } => change_transaction(txns, *id, |t| t.state = *state),
        Event::TransactionTimestampChanged {
            transaction_id: id,
            timestamp,
        } => change_transaction(txns, *id, |t| t.timestamp = Some(*timestamp)),
        Event::TransactionInteractionIdChanged {
            transaction_id: id,
            interaction_id,
        } => change_transaction(txns, *id, |t| {
            t.interaction_id = Some(interaction_id.clone())
        }),
        Event::TransactionInterfaceIdSet {
            transaction_id: id,
            interface_id,
        } => change_transaction(txns, *id, |t| t.interface_id = interface_id.clone()),
        Event::TransactionCustomTypeSet {
            transaction_id: id,
            custom,
        } => change_transaction(txns, *id, |t| t.custom = custom.clone()),
        Event::TransactionCustomFieldSet {
            transaction_id: id,
            name,
            value,
        } => change_transaction(txns, *id, |t| set_field(&mut t.custom, name, value)),
        Event::InterfaceInteractionAdded(interaction) => {
            payment.interface_interactions.push(interaction.clone())
        }
        Event::AmountPlannedChanged(amount) => payment.amount_planned = amount.clone(),
        Event::KeySet(key) => payment.key = key.clone(),
        Event::CustomerSet(customer) => payment.customer_id = customer.clone(),
        Event::AnonymousIdSet(id) => payment.anonymous_id = id.clone(),
        Event::InterfaceIdSet(id) => payment.interface_id = Some(id.clone()),
        Event::MethodInfoInterfaceSet(name) => info.payment_interface = Some(name.clone()),
        Event::MethodInfoMethodSet(method) => info.method = method.clone(),
        Event::MethodInfoNameSet(name) => info.name = name.clone(),
        Event::MethodInfoTokenSet(token) => info.token = token.clone(),
        Event::MethodInfoInterfaceAccountSet(account) => info.interface_account = account.clone(),
        Event::MethodInfoCustomTypeSet(custom) => info.custom = custom.clone(),
        Event::MethodInfoCustomFieldSet { name, value } => set_field(&mut info.custom, name, value),
        Event::MethodInfoSet(update) => merge_method_info(info, update),
        Event::StatusInterfaceCodeSet(code) => status.interface_code = code.clone(),
        Event::StatusInterfaceTextSet(text) => status.interface_text = text.clone(),
        Event::CustomTypeSet(custom) => payment.custom = custom.clone(),
        Event::CustomFieldSet { name, value } => set_field(&mut payment.custom, name, value),
        Event::StateTransitioned { state_id, .. } => status.state_id = Some(state_id.clone()),
        Event::AmountPaidSet(amount) => payment.amount_paid = amount.clone(),
        Event::AmountRefundedSet(amount) => payment.amount_refunded = amount.clone(),
        Event::AuthorizationSet { amount, until } => {
            payment.amount_authorized = amount.clone();
            payment.authorized_until = amount.as_ref().and(*until);
        }
        Event::ExternalIdSet(id) => payment.external_id = id.clone(),
        Event::Deleted { .. } => payment.deleted = true,
    }
}

/// Adds a transaction that a stored event names.
///
/// # Panics
/// When the payment has a transaction with that id already.
fn add_transaction(transactions: &mut TransactionList, transaction: &Transaction) {
    let id = transaction.id;
    assert!(!transactions.contains(id), "transaction {id} added twice");
    transactions.push(Arc::new(transaction.clone()));
}

/// Changes transaction `id`, copied first if an earlier version shares it.
fn change_transaction(
    transactions: &mut TransactionList,
    id: TransactionId,
    change: impl FnOnce(&mut Transaction),
) {
    if transactions.update(id, change).is_none() {
        panic!("event names transaction {id}, which the payment does not have");
    }
}

/// Sets (`Some`) or removes (`None`) one custom field.
fn set_field(custom: &mut Option<CustomFields>, name: &str, value: &Option<FieldValue>) {
    let Some(custom) = custom else {
        panic!("custom field {name} set on a resource without a custom type");
    };
    match value {
        Some(value) => custom.fields.insert(name.to_owned(), value.clone()),
        None => custom.fields.remove(name),
    };
}

/// Given fields replace, omitted ones stay.
fn merge_method_info(info: &mut PaymentMethodInfo, update: &MethodInfoUpdate) {
    let MethodInfoUpdate {
        payment_interface,
        method,
        name,
        token,
        interface_account,
        custom,
    } = update;
    replace_if_given(&mut info.payment_interface, payment_interface);
    replace_if_given(&mut info.method, method);
    replace_if_given(&mut info.name, name);
    replace_if_given(&mut info.token, token);
    replace_if_given(&mut info.interface_account, interface_account);
    replace_if_given(&mut info.custom, custom);
}

fn replace_if_given<T: Clone>(field: &mut Option<T>, given: &Option<T>) {
    if given.is_some() {
        field.clone_from(given);
    }
}

#[cfg(test)]
mod tests;
