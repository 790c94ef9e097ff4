//! A payment as commercetools writes it: the `Payment` resource with its
//! `paymentMethodInfo`, `paymentStatus`, `transactions` and
//! `interfaceInteractions`, and the `createdBy`/`lastModifiedBy` actors.
//!
//! Optional fields are omitted when unset (never `null`); the deprecated
//! fields (`amountAuthorized`, `authorizedUntil`, `amountPaid`,
//! `amountRefunded`, `externalId`) appear only when set. An API client is
//! `{clientId, isPlatformClient: false}`; an internal handler of payledger
//! is written the same way with the client id `payledger:<handler>`, so
//! consumers can tell the two apart by the prefix.

use super::custom::{custom_fields_to_json, reference_to_json};
use super::money::money_to_json;
use payledger_domain::payment::{PaymentMethodInfo, PaymentStatus, Transaction};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Actor, Payment};
use serde_json::{Map, Value, json};

/// The client id prefix of payledger's own handlers.
pub const INTERNAL_CLIENT_PREFIX: &str = "payledger:";

/// A payment in the commercetools representation.
pub fn payment_to_json(payment: &Payment) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(payment.id.to_string()));
    out.insert("version".into(), json!(payment.version));
    put(&mut out, "key", payment.key.as_deref().map(Value::from));
    put(
        &mut out,
        "customer",
        payment
            .customer_id
            .as_deref()
            .map(|id| reference_to_json("customer", id)),
    );
    put_str(&mut out, "anonymousId", payment.anonymous_id.as_deref());
    put_str(&mut out, "externalId", payment.external_id.as_deref());
    put_str(&mut out, "interfaceId", payment.interface_id.as_deref());
    out.insert(
        "amountPlanned".into(),
        money_to_json(&payment.amount_planned),
    );
    put(
        &mut out,
        "amountAuthorized",
        payment.amount_authorized.as_ref().map(money_to_json),
    );
    put(
        &mut out,
        "authorizedUntil",
        payment.authorized_until.map(|t| json!(format_timestamp(t))),
    );
    put(
        &mut out,
        "amountPaid",
        payment.amount_paid.as_ref().map(money_to_json),
    );
    put(
        &mut out,
        "amountRefunded",
        payment.amount_refunded.as_ref().map(money_to_json),
    );
    out.insert(
        "paymentMethodInfo".into(),
        method_info_to_json(&payment.payment_method_info),
    );
    out.insert(
        "paymentStatus".into(),
        status_to_json(&payment.payment_status),
    );
    out.insert(
        "transactions".into(),
        payment
            .transactions
            .iter()
            .map(|t| transaction_to_json(t))
            .collect(),
    );
    out.insert(
        "interfaceInteractions".into(),
        payment
            .interface_interactions
            .iter()
            .map(custom_fields_to_json)
            .collect(),
    );
    put(
        &mut out,
        "custom",
        payment.custom.as_ref().map(custom_fields_to_json),
    );
    out.insert(
        "createdAt".into(),
        json!(format_timestamp(payment.created_at)),
    );
    out.insert(
        "lastModifiedAt".into(),
        json!(format_timestamp(payment.last_modified_at)),
    );
    out.insert("createdBy".into(), actor_to_json(&payment.created_by));
    out.insert(
        "lastModifiedBy".into(),
        actor_to_json(&payment.last_modified_by),
    );
    Value::Object(out)
}

/// A transaction: `{id, timestamp?, type, amount, interactionId?,
/// interfaceId?, state, custom?}`.
pub fn transaction_to_json(transaction: &Transaction) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(transaction.id.to_string()));
    put(
        &mut out,
        "timestamp",
        transaction.timestamp.map(|t| json!(format_timestamp(t))),
    );
    out.insert("type".into(), json!(transaction.kind.as_str()));
    out.insert("amount".into(), money_to_json(&transaction.amount));
    put_str(
        &mut out,
        "interactionId",
        transaction.interaction_id.as_deref(),
    );
    put_str(&mut out, "interfaceId", transaction.interface_id.as_deref());
    out.insert("state".into(), json!(transaction.state.as_str()));
    put(
        &mut out,
        "custom",
        transaction.custom.as_ref().map(custom_fields_to_json),
    );
    Value::Object(out)
}

/// The payment method info; `{}` when nothing is set.
pub fn method_info_to_json(info: &PaymentMethodInfo) -> Value {
    let mut out = Map::new();
    put_str(
        &mut out,
        "paymentInterface",
        info.payment_interface.as_deref(),
    );
    put_str(&mut out, "method", info.method.as_deref());
    put(&mut out, "name", info.name.as_ref().map(|name| json!(name)));
    put(&mut out, "token", info.token.as_deref().map(token_to_json));
    put_str(
        &mut out,
        "interfaceAccount",
        info.interface_account.as_deref(),
    );
    put(
        &mut out,
        "custom",
        info.custom.as_ref().map(custom_fields_to_json),
    );
    Value::Object(out)
}

/// The payment status; `{}` when nothing is set.
pub fn status_to_json(status: &PaymentStatus) -> Value {
    let mut out = Map::new();
    put_str(&mut out, "interfaceCode", status.interface_code.as_deref());
    put_str(&mut out, "interfaceText", status.interface_text.as_deref());
    put(
        &mut out,
        "state",
        status
            .state_id
            .as_deref()
            .map(|id| reference_to_json("state", id)),
    );
    Value::Object(out)
}

/// A `PaymentMethodToken` `{value}`.
pub fn token_to_json(value: &str) -> Value {
    json!({ "value": value })
}

/// `{clientId, isPlatformClient: false}`; internal handlers get the client
/// id `payledger:<handler>`.
pub fn actor_to_json(actor: &Actor) -> Value {
    let client_id = match actor {
        Actor::Client(id) => id.clone(),
        Actor::Internal(handler) => format!("{INTERNAL_CLIENT_PREFIX}{handler}"),
    };
    json!({ "clientId": client_id, "isPlatformClient": false })
}

/// Inserts `value` under `key` when present.
pub(crate) fn put(out: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        out.insert(key.to_owned(), value);
    }
}

/// Inserts a string under `key` when present.
pub(crate) fn put_str(out: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    put(out, key, value.map(Value::from));
}
