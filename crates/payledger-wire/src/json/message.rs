//! The Message each payment event yields (API.md Part B): exactly one per
//! event, with the commercetools envelope (`id`, `version: 1`,
//! `sequenceNumber` = `resourceVersion` = the event's stream version,
//! `resource`, `resourceUserProvidedIdentifiers {key}` when the payment has
//! a key, `type`, `createdAt` = `lastModifiedAt`, `createdBy` =
//! `lastModifiedBy`) and the payload fields of its type. Token values are
//! masked: all but the last four characters become `*`.
//!
//! A message is built from its event alone, so payload fields that would
//! need the state before the event (`oldInterfaceId`, `oldMethod`, …) are
//! omitted; they are optional in commercetools. For the same reason a
//! method-info custom field that gets a value is reported as
//! `PaymentMethodInfoCustomFieldChanged` (commercetools tells `…Added` from
//! `…Changed` by the previous value; both carry `{name, value}`).
//!
//! | event | message type | payload | |
//! |---|---|---|---|
//! | Created | PaymentCreated | `payment` | |
//! | TransactionAdded | PaymentTransactionAdded | `transaction` | |
//! | TransactionStateChanged | PaymentTransactionStateChanged | `transactionId, state` | |
//! | TransactionTimestampChanged | PaymentTransactionTimestampChanged | `transactionId, timestamp` | extension |
//! | TransactionInteractionIdChanged | PaymentTransactionInteractionIdChanged | `transactionId, interactionId` | extension |
//! | TransactionInterfaceIdSet | PaymentTransactionInterfaceIdSet | `transactionId, newInterfaceId?` | |
//! | TransactionCustomTypeSet | PaymentTransactionCustomTypeSet / …Removed | `transactionId, customFields` / `transactionId` | extension |
//! | TransactionCustomFieldSet | PaymentTransactionCustomFieldSet / …Removed | `transactionId, name, value` / `transactionId, name` | extension |
//! | InterfaceInteractionAdded | PaymentInteractionAdded | `interaction` | |
//! | AmountPlannedChanged | PaymentAmountPlannedChanged | `amountPlanned` | extension |
//! | KeySet | PaymentKeySet | `key?` | extension |
//! | CustomerSet | PaymentCustomerSet | `customer?` | extension |
//! | AnonymousIdSet | PaymentAnonymousIdSet | `anonymousId?` | extension |
//! | InterfaceIdSet | PaymentInterfaceIdSet | `interfaceId` | |
//! | MethodInfoInterfaceSet | PaymentMethodInfoInterfaceSet | `interface` | |
//! | MethodInfoMethodSet | PaymentMethodInfoMethodSet | `method?` | |
//! | MethodInfoNameSet | PaymentMethodInfoNameSet | `name?` | |
//! | MethodInfoTokenSet | PaymentMethodInfoTokenSet | `token?` (masked) | |
//! | MethodInfoInterfaceAccountSet | PaymentMethodInfoInterfaceAccountSet | `interfaceAccount?` | |
//! | MethodInfoCustomTypeSet | PaymentMethodInfoCustomTypeSet / …Removed | `customFields` / — | |
//! | MethodInfoCustomFieldSet | PaymentMethodInfoCustomFieldChanged / …Removed | `name, value` / `name` | |
//! | MethodInfoSet | PaymentMethodInfoSet | `paymentMethodInfo` (the given fields, token masked) | extension |
//! | StatusInterfaceCodeSet | PaymentStatusInterfaceCodeSet | `paymentId, interfaceCode?` | |
//! | StatusInterfaceTextSet | PaymentStatusInterfaceTextSet | `interfaceText?` | extension |
//! | CustomTypeSet | PaymentCustomTypeSet / …Removed | `customFields` / — | extension |
//! | CustomFieldSet | PaymentCustomFieldSet / …Removed | `name, value` / `name` | extension |
//! | StateTransitioned | PaymentStatusStateTransition | `state {typeId: "state", id}, force` | |
//! | AmountPaidSet | PaymentAmountPaidSet | `amountPaid?` | extension |
//! | AmountRefundedSet | PaymentAmountRefundedSet | `amountRefunded?` | extension |
//! | AuthorizationSet | PaymentAuthorizationSet | `amountAuthorized?, authorizedUntil?` | extension |
//! | ExternalIdSet | PaymentExternalIdSet | `externalId?` | extension |
//! | Deleted | PaymentDeleted | `dataErasure` | extension |
//! | Order Created | OrderCreated | `order` (as created, nothing paid) | |
//! | Order PaymentAdded | OrderPaymentAdded | `paymentRef` | |
//! | Order PaymentRemoved | OrderPaymentRemoved | `paymentRef, removedPaymentInfo: true` | |
//! | Order CustomerEmailSet | OrderCustomerEmailSet | `email?` | |
//! | Order KeySet | OrderKeySet | `key?` | extension |
//! | Order Cancelled | OrderStateChanged | `orderState: "Cancelled", oldOrderState: "Open"` | |
//! | Order PaymentStateChanged | OrderPaymentStateChanged | `paymentState, oldPaymentState` | |
//! | Order PaymentNotificationRequested | PaymentNotificationRequested | `paymentRef, amount, outcome, customerEmail?` | extension (seed 002) |
//! | Order Deleted | OrderDeleted | `dataErasure` | extension: commercetools' OrderDeleted carries the `order`, ours does not |
//!
//! Extensions are types commercetools does not define; their names follow
//! its `Payment<Field><Verb>` pattern.

use super::custom::{custom_fields_to_json, field_value_to_json, reference_to_json};
use super::money::money_to_json;
use super::order::order_to_json;
use super::payment::{actor_to_json, payment_to_json, put, token_to_json, transaction_to_json};
use payledger_domain::event::MethodInfoUpdate;
use payledger_domain::order::{OrderState, fold_order, order_totals};
use payledger_domain::payment::{CustomFields, FieldValue};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Event, EventEnvelope, OrderEvent, PaymentId, TransactionId, evolve};
use serde_json::{Map, Value, json};

/// Characters of a token left readable at its end.
const TOKEN_CHARS_VISIBLE: usize = 4;

/// The message types of [`message_type`] that commercetools defines; every
/// other type payledger emits is an extension.
pub const COMMERCETOOLS_MESSAGE_TYPES: [&str; 23] = [
    "OrderCreated",
    "OrderPaymentStateChanged",
    "OrderPaymentAdded",
    "OrderPaymentRemoved",
    "OrderCustomerEmailSet",
    "OrderStateChanged",
    "PaymentCreated",
    "PaymentTransactionAdded",
    "PaymentTransactionStateChanged",
    "PaymentTransactionInterfaceIdSet",
    "PaymentInteractionAdded",
    "PaymentInterfaceIdSet",
    "PaymentMethodInfoInterfaceSet",
    "PaymentMethodInfoMethodSet",
    "PaymentMethodInfoNameSet",
    "PaymentMethodInfoTokenSet",
    "PaymentMethodInfoInterfaceAccountSet",
    "PaymentMethodInfoCustomTypeSet",
    "PaymentMethodInfoCustomTypeRemoved",
    "PaymentMethodInfoCustomFieldChanged",
    "PaymentMethodInfoCustomFieldRemoved",
    "PaymentStatusInterfaceCodeSet",
    "PaymentStatusStateTransition",
];

/// Whether payledger invented this message type (commercetools does not
/// define it).
pub fn is_extension_message_type(message_type: &str) -> bool {
    !COMMERCETOOLS_MESSAGE_TYPES.contains(&message_type)
}

/// The Message an event yields (envelope per API.md Part B).
///
/// # Panics
/// On a `Created` event whose envelope is not version 1 of its stream
/// (see [`payledger_domain::evolve`]): stored streams never hold one.
pub fn message_to_json(envelope: &EventEnvelope, payment_key: Option<&str>) -> Value {
    let meta = &envelope.meta;
    let at = json!(format_timestamp(meta.recorded_at));
    let by = actor_to_json(&meta.actor);
    let mut out = Map::new();
    out.insert("id".into(), json!(meta.event_id.to_string()));
    out.insert("version".into(), json!(1));
    out.insert("sequenceNumber".into(), json!(envelope.version));
    out.insert(
        "resource".into(),
        reference_to_json(
            envelope.stream.kind.type_id(),
            &envelope.stream.id.to_string(),
        ),
    );
    out.insert("resourceVersion".into(), json!(envelope.version));
    put(
        &mut out,
        "resourceUserProvidedIdentifiers",
        payment_key.map(|key| json!({ "key": key })),
    );
    out.insert("type".into(), json!(message_type(&envelope.event)));
    out.insert("createdAt".into(), at.clone());
    out.insert("lastModifiedAt".into(), at);
    out.insert("createdBy".into(), by.clone());
    out.insert("lastModifiedBy".into(), by);
    out.extend(payload(envelope));
    Value::Object(out)
}

/// One event as the history API shows it: its place in the stream and the
/// partition log, who recorded it when and under which correlation and
/// idempotency key, its hash and the hash it links back to, and its
/// message type and payload (the fields its Message carries).
pub fn history_entry_to_json(envelope: &EventEnvelope, hash: &[u8; 32]) -> Value {
    let meta = &envelope.meta;
    let mut out = Map::new();
    out.insert("version".into(), json!(envelope.version));
    out.insert("eventId".into(), json!(meta.event_id.to_string()));
    out.insert("type".into(), json!(message_type(&envelope.event)));
    out.insert(
        "recordedAt".into(),
        json!(format_timestamp(meta.recorded_at)),
    );
    out.insert("actor".into(), actor_to_json(&meta.actor));
    put(
        &mut out,
        "correlationId",
        meta.correlation_id.as_deref().map(Value::from),
    );
    put(
        &mut out,
        "idempotencyKey",
        meta.idempotency_key.as_deref().map(Value::from),
    );
    out.insert("partition".into(), json!(envelope.partition));
    out.insert(
        "partitionSequence".into(),
        json!(envelope.partition_sequence),
    );
    out.insert("hash".into(), json!(hex::encode(hash)));
    out.insert(
        "previousHash".into(),
        json!(hex::encode(envelope.previous_hash)),
    );
    out.insert("payload".into(), Value::Object(payload(envelope)));
    Value::Object(out)
}

/// The commercetools `MessageDeliveryPayload` of `message`: what a
/// Platform-format Subscription delivery carries (the Message with
/// `notificationType` and `projectKey`).
pub fn message_delivery_payload(project: &str, message: Value) -> Value {
    let mut payload = message;
    if let Value::Object(fields) = &mut payload {
        fields.insert("notificationType".to_owned(), json!("Message"));
        fields.insert("projectKey".to_owned(), json!(project));
    }
    payload
}

/// Every message type [`message_type`] yields: what a Subscription's
/// `types` filter may name.
pub const MESSAGE_TYPES: [&str; 47] = [
    "OrderCreated",
    "OrderPaymentStateChanged",
    "OrderPaymentAdded",
    "OrderPaymentRemoved",
    "OrderCustomerEmailSet",
    "OrderKeySet",
    "OrderStateChanged",
    "OrderDeleted",
    "PaymentNotificationRequested",
    "PaymentCreated",
    "PaymentTransactionAdded",
    "PaymentTransactionStateChanged",
    "PaymentTransactionTimestampChanged",
    "PaymentTransactionInteractionIdChanged",
    "PaymentTransactionInterfaceIdSet",
    "PaymentTransactionCustomTypeSet",
    "PaymentTransactionCustomTypeRemoved",
    "PaymentTransactionCustomFieldSet",
    "PaymentTransactionCustomFieldRemoved",
    "PaymentInteractionAdded",
    "PaymentAmountPlannedChanged",
    "PaymentKeySet",
    "PaymentCustomerSet",
    "PaymentAnonymousIdSet",
    "PaymentInterfaceIdSet",
    "PaymentMethodInfoInterfaceSet",
    "PaymentMethodInfoMethodSet",
    "PaymentMethodInfoNameSet",
    "PaymentMethodInfoTokenSet",
    "PaymentMethodInfoInterfaceAccountSet",
    "PaymentMethodInfoCustomTypeSet",
    "PaymentMethodInfoCustomTypeRemoved",
    "PaymentMethodInfoCustomFieldChanged",
    "PaymentMethodInfoCustomFieldRemoved",
    "PaymentMethodInfoSet",
    "PaymentStatusInterfaceCodeSet",
    "PaymentStatusInterfaceTextSet",
    "PaymentCustomTypeSet",
    "PaymentCustomTypeRemoved",
    "PaymentCustomFieldSet",
    "PaymentCustomFieldRemoved",
    "PaymentStatusStateTransition",
    "PaymentAmountPaidSet",
    "PaymentAmountRefundedSet",
    "PaymentAuthorizationSet",
    "PaymentExternalIdSet",
    "PaymentDeleted",
];

/// The message type of an event (see the module table).
pub fn message_type(event: &Event) -> &'static str {
    let set_or_removed = |set: bool, set_name, removed_name| {
        if set { set_name } else { removed_name }
    };
    match event {
        Event::Order(event) => order_message_type(event),
        Event::Created(_) => "PaymentCreated",
        Event::TransactionAdded(_) => "PaymentTransactionAdded",
        Event::TransactionStateChanged { .. } => "PaymentTransactionStateChanged",
        Event::TransactionTimestampChanged { .. } => "PaymentTransactionTimestampChanged",
        Event::TransactionInteractionIdChanged { .. } => "PaymentTransactionInteractionIdChanged",
        Event::TransactionInterfaceIdSet { .. } => "PaymentTransactionInterfaceIdSet",
        Event::TransactionCustomTypeSet { custom, .. } => set_or_removed(
            custom.is_some(),
            "PaymentTransactionCustomTypeSet",
            "PaymentTransactionCustomTypeRemoved",
        ),
        Event::TransactionCustomFieldSet { value, .. } => set_or_removed(
            value.is_some(),
            "PaymentTransactionCustomFieldSet",
            "PaymentTransactionCustomFieldRemoved",
        ),
        Event::InterfaceInteractionAdded(_) => "PaymentInteractionAdded",
        Event::AmountPlannedChanged(_) => "PaymentAmountPlannedChanged",
        Event::KeySet(_) => "PaymentKeySet",
        Event::CustomerSet(_) => "PaymentCustomerSet",
        Event::AnonymousIdSet(_) => "PaymentAnonymousIdSet",
        Event::InterfaceIdSet(_) => "PaymentInterfaceIdSet",
        Event::MethodInfoInterfaceSet(_) => "PaymentMethodInfoInterfaceSet",
        Event::MethodInfoMethodSet(_) => "PaymentMethodInfoMethodSet",
        Event::MethodInfoNameSet(_) => "PaymentMethodInfoNameSet",
        Event::MethodInfoTokenSet(_) => "PaymentMethodInfoTokenSet",
        Event::MethodInfoInterfaceAccountSet(_) => "PaymentMethodInfoInterfaceAccountSet",
        Event::MethodInfoCustomTypeSet(custom) => set_or_removed(
            custom.is_some(),
            "PaymentMethodInfoCustomTypeSet",
            "PaymentMethodInfoCustomTypeRemoved",
        ),
        Event::MethodInfoCustomFieldSet { value, .. } => set_or_removed(
            value.is_some(),
            "PaymentMethodInfoCustomFieldChanged",
            "PaymentMethodInfoCustomFieldRemoved",
        ),
        Event::MethodInfoSet(_) => "PaymentMethodInfoSet",
        Event::StatusInterfaceCodeSet(_) => "PaymentStatusInterfaceCodeSet",
        Event::StatusInterfaceTextSet(_) => "PaymentStatusInterfaceTextSet",
        Event::CustomTypeSet(custom) => set_or_removed(
            custom.is_some(),
            "PaymentCustomTypeSet",
            "PaymentCustomTypeRemoved",
        ),
        Event::CustomFieldSet { value, .. } => set_or_removed(
            value.is_some(),
            "PaymentCustomFieldSet",
            "PaymentCustomFieldRemoved",
        ),
        Event::StateTransitioned { .. } => "PaymentStatusStateTransition",
        Event::AmountPaidSet(_) => "PaymentAmountPaidSet",
        Event::AmountRefundedSet(_) => "PaymentAmountRefundedSet",
        Event::AuthorizationSet { .. } => "PaymentAuthorizationSet",
        Event::ExternalIdSet(_) => "PaymentExternalIdSet",
        Event::Deleted { .. } => "PaymentDeleted",
    }
}

/// `value` with all but its last four characters replaced by `*`.
pub fn mask_token(value: &str) -> String {
    let count = value.chars().count();
    let hidden = count.saturating_sub(TOKEN_CHARS_VISIBLE);
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { c })
        .collect()
}

/// The payload fields of the event's message: one flat arm per event.
pub(crate) fn payload(envelope: &EventEnvelope) -> Map<String, Value> {
    let text = |value: &Option<String>| value.as_deref().map(Value::from);
    let money = |value: &Option<_>| value.as_ref().map(money_to_json);
    let tx = |id: &TransactionId| Some(json!(id.to_string()));
    match &envelope.event {
        Event::Created(_) => fields([("payment", Some(created_payment(envelope)))]),
        Event::TransactionAdded(t) => fields([("transaction", Some(transaction_to_json(t)))]),
        Event::TransactionStateChanged {
            transaction_id: id,
            state,
        } => fields([
            ("transactionId", tx(id)),
            ("state", Some(json!(state.as_str()))),
        ]),
        Event::TransactionTimestampChanged {
            transaction_id: id,
            timestamp: at,
        } => fields([
            ("transactionId", tx(id)),
            ("timestamp", Some(json!(format_timestamp(*at)))),
        ]),
        Event::TransactionInteractionIdChanged {
            transaction_id: id,
            interaction_id,
        } => fields([
            ("transactionId", tx(id)),
            ("interactionId", Some(json!(interaction_id))),
        ]),
        Event::TransactionInterfaceIdSet {
            transaction_id: id,
            interface_id,
        } => fields([
            ("transactionId", tx(id)),
            ("newInterfaceId", text(interface_id)),
        ]),
        Event::TransactionCustomTypeSet {
            transaction_id: id,
            custom,
        } => custom_type_payload(Some(id), custom.as_ref()),
        Event::TransactionCustomFieldSet {
            transaction_id: id,
            name,
            value,
        } => custom_field_payload(Some(id), name, value.as_ref()),
        Event::InterfaceInteractionAdded(i) => {
            fields([("interaction", Some(custom_fields_to_json(i)))])
        }
        Event::AmountPlannedChanged(amount) => {
            fields([("amountPlanned", Some(money_to_json(amount)))])
        }
        Event::KeySet(key) => fields([("key", text(key))]),
        Event::CustomerSet(customer) => fields([("customer", customer_reference(customer))]),
        Event::AnonymousIdSet(id) => fields([("anonymousId", text(id))]),
        Event::InterfaceIdSet(id) => fields([("interfaceId", Some(json!(id)))]),
        Event::MethodInfoInterfaceSet(interface) => fields([("interface", Some(json!(interface)))]),
        Event::MethodInfoMethodSet(method) => fields([("method", text(method))]),
        Event::MethodInfoNameSet(name) => fields([("name", name.as_ref().map(|n| json!(n)))]),
        Event::MethodInfoTokenSet(token) => fields([("token", masked_token(token.as_deref()))]),
        Event::MethodInfoInterfaceAccountSet(account) => {
            fields([("interfaceAccount", text(account))])
        }
        Event::MethodInfoCustomTypeSet(custom) => custom_type_payload(None, custom.as_ref()),
        Event::MethodInfoCustomFieldSet { name, value } => {
            custom_field_payload(None, name, value.as_ref())
        }
        Event::MethodInfoSet(update) => fields([(
            "paymentMethodInfo",
            Some(method_info_update_to_json(update)),
        )]),
        Event::StatusInterfaceCodeSet(code) => fields([
            ("paymentId", Some(json!(envelope.stream.id.to_string()))),
            ("interfaceCode", text(code)),
        ]),
        Event::StatusInterfaceTextSet(status_text) => {
            fields([("interfaceText", text(status_text))])
        }
        Event::CustomTypeSet(custom) => custom_type_payload(None, custom.as_ref()),
        Event::CustomFieldSet { name, value } => custom_field_payload(None, name, value.as_ref()),
        Event::StateTransitioned { state_id, force } => fields([
            ("state", Some(reference_to_json("state", state_id))),
            ("force", Some(json!(force))),
        ]),
        Event::AmountPaidSet(amount) => fields([("amountPaid", money(amount))]),
        Event::AmountRefundedSet(amount) => fields([("amountRefunded", money(amount))]),
        Event::AuthorizationSet { amount, until } => fields([
            ("amountAuthorized", money(amount)),
            ("authorizedUntil", until.map(|t| json!(format_timestamp(t)))),
        ]),
        Event::ExternalIdSet(id) => fields([("externalId", text(id))]),
        Event::Deleted { data_erasure } => fields([("dataErasure", Some(json!(data_erasure)))]),
        Event::Order(event) => order_payload(envelope, event),
    }
}

/// The message type of an order event.
fn order_message_type(event: &OrderEvent) -> &'static str {
    match event {
        OrderEvent::Created(_) => "OrderCreated",
        OrderEvent::PaymentAdded(_) => "OrderPaymentAdded",
        OrderEvent::PaymentRemoved(_) => "OrderPaymentRemoved",
        OrderEvent::CustomerEmailSet(_) => "OrderCustomerEmailSet",
        OrderEvent::KeySet(_) => "OrderKeySet",
        OrderEvent::Cancelled => "OrderStateChanged",
        OrderEvent::PaymentNotificationRequested(_) => "PaymentNotificationRequested",
        OrderEvent::PaymentStateChanged { .. } => "OrderPaymentStateChanged",
        OrderEvent::Deleted { .. } => "OrderDeleted",
    }
}

/// The payload fields of an order event's message.
fn order_payload(envelope: &EventEnvelope, event: &OrderEvent) -> Map<String, Value> {
    let text = |value: &Option<String>| value.as_deref().map(Value::from);
    let payment = |id: &PaymentId| Some(reference_to_json("payment", &id.to_string()));
    match event {
        OrderEvent::Created(_) => {
            let order = fold_order(std::slice::from_ref(envelope))
                .unwrap_or_else(|| unreachable!("a creation folds to an order"));
            let totals = order_totals(&order, &[]);
            fields([("order", Some(order_to_json(&order, &totals)))])
        }
        OrderEvent::PaymentAdded(id) => fields([("paymentRef", payment(id))]),
        // commercetools: whether the payment's PaymentInfo went with it
        // (the order keeps no other payment info).
        OrderEvent::PaymentRemoved(id) => fields([
            ("paymentRef", payment(id)),
            ("removedPaymentInfo", Some(json!(true))),
        ]),
        OrderEvent::CustomerEmailSet(email) => fields([("email", text(email))]),
        OrderEvent::KeySet(key) => fields([("key", text(key))]),
        OrderEvent::Cancelled => fields([
            ("orderState", Some(json!(OrderState::Cancelled.as_str()))),
            ("oldOrderState", Some(json!(OrderState::Open.as_str()))),
        ]),
        OrderEvent::PaymentNotificationRequested(notification) => fields([
            ("paymentRef", payment(&notification.payment)),
            (
                "amount",
                Some(super::money::money_to_json(&notification.amount)),
            ),
            ("outcome", Some(json!(notification.outcome))),
            ("customerEmail", text(&notification.customer_email)),
        ]),
        OrderEvent::PaymentStateChanged {
            payment_state,
            old_payment_state,
        } => fields([
            ("paymentState", Some(json!(payment_state.as_str()))),
            ("oldPaymentState", Some(json!(old_payment_state.as_str()))),
        ]),
        OrderEvent::Deleted { data_erasure } => {
            fields([("dataErasure", Some(json!(data_erasure)))])
        }
    }
}

fn customer_reference(customer: &Option<String>) -> Option<Value> {
    customer
        .as_deref()
        .map(|id| reference_to_json("customer", id))
}

/// The payment as created, token masked.
fn created_payment(envelope: &EventEnvelope) -> Value {
    let mut payment = evolve(None, envelope);
    let token = &mut payment.payment_method_info.token;
    *token = token.as_deref().map(mask_token);
    payment_to_json(&payment)
}

/// `{customFields}` when set, nothing when removed; with `transactionId`
/// for a transaction's custom fields.
fn custom_type_payload(
    transaction_id: Option<&TransactionId>,
    custom: Option<&CustomFields>,
) -> Map<String, Value> {
    fields([
        (
            "transactionId",
            transaction_id.map(|id| json!(id.to_string())),
        ),
        ("customFields", custom.map(custom_fields_to_json)),
    ])
}

/// `{name, value}` when set, `{name}` when removed; with `transactionId`
/// for a transaction's custom field.
fn custom_field_payload(
    transaction_id: Option<&TransactionId>,
    name: &str,
    value: Option<&FieldValue>,
) -> Map<String, Value> {
    fields([
        (
            "transactionId",
            transaction_id.map(|id| json!(id.to_string())),
        ),
        ("name", Some(json!(name))),
        ("value", value.map(field_value_to_json)),
    ])
}

/// The fields `setMethodInfo` gave, token masked.
fn method_info_update_to_json(update: &MethodInfoUpdate) -> Value {
    let MethodInfoUpdate {
        payment_interface,
        method,
        name,
        token,
        interface_account,
        custom,
    } = update;
    Value::Object(fields([
        (
            "paymentInterface",
            payment_interface.as_deref().map(Value::from),
        ),
        ("method", method.as_deref().map(Value::from)),
        ("name", name.as_ref().map(|n| json!(n))),
        ("token", masked_token(token.as_deref())),
        (
            "interfaceAccount",
            interface_account.as_deref().map(Value::from),
        ),
        ("custom", custom.as_ref().map(custom_fields_to_json)),
    ]))
}

fn masked_token(token: Option<&str>) -> Option<Value> {
    token.map(|value| token_to_json(&mask_token(value)))
}

/// An object of the present entries.
fn fields<const N: usize>(entries: [(&str, Option<Value>); N]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in entries {
        put(&mut out, key, value);
    }
    out
}

#[cfg(test)]
mod tests;
