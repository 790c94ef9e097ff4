//! Mapping of the building blocks shared by events and views: ids, money,
//! actors, custom fields, transactions, method info, status and the payment
//! draft.
//!
//! Every pair is explicit: `*_to_pb` borrows a domain value and builds its
//! proto form, `*_from_pb` consumes a proto value and validates it back into
//! the domain (required fields present, ids 16 bytes, enums known, currencies
//! valid). Enum mappings are exhaustive `match`es without `_` arms so that a
//! new variant on either side is a compile error here.

use crate::error::CodecError;
use crate::pb;
use payledger_domain::money::{CurrencyCode, Money};
use payledger_domain::payment::{
    CustomFields, FieldValue, LocalizedString, PaymentDraft, PaymentMethodInfo, PaymentStatus,
    Transaction, TransactionState, TransactionType,
};
use payledger_domain::{Actor, Timestamp, TransactionId};
use std::collections::BTreeMap;

/// Length of a UUID in bytes.
pub(crate) const ID_BYTES: usize = 16;

/// Unwraps a field that every valid message carries.
pub(crate) fn required<T>(value: Option<T>, field: &'static str) -> Result<T, CodecError> {
    value.ok_or(CodecError::MissingField { field })
}

/// Checks the length of a fixed-size bytes field (ids, hashes).
pub(crate) fn fixed_bytes<const N: usize>(
    bytes: Vec<u8>,
    field: &'static str,
) -> Result<[u8; N], CodecError> {
    let actual = bytes.len();
    bytes.try_into().map_err(|_| CodecError::BadLength {
        field,
        expected: N,
        actual,
    })
}

/// Decodes a transaction id.
pub(crate) fn transaction_id_from_pb(
    bytes: Vec<u8>,
    field: &'static str,
) -> Result<TransactionId, CodecError> {
    fixed_bytes::<ID_BYTES>(bytes, field).map(TransactionId::from_bytes)
}

/// Decodes an optional timestamp.
pub(crate) fn timestamp_from_pb(millis: Option<i64>) -> Option<Timestamp> {
    millis.map(Timestamp)
}

pub(crate) fn money_to_pb(money: &Money) -> pb::Money {
    pb::Money {
        cent_amount: money.cent_amount,
        currency_code: money.currency.as_str().to_owned(),
    }
}

pub(crate) fn money_from_pb(money: pb::Money) -> Result<Money, CodecError> {
    let currency = CurrencyCode::from_stored(&money.currency_code).map_err(|reason| {
        CodecError::InvalidCurrency {
            code: money.currency_code.clone(),
            reason,
        }
    })?;
    Ok(Money::new(money.cent_amount, currency))
}

/// Decodes an optional money field.
pub(crate) fn option_money_from_pb(money: Option<pb::Money>) -> Result<Option<Money>, CodecError> {
    money.map(money_from_pb).transpose()
}

pub(crate) fn actor_to_pb(actor: &Actor) -> pb::Actor {
    let kind = match actor {
        Actor::Client(id) => pb::actor::Kind::ClientId(id.clone()),
        Actor::Internal(name) => pb::actor::Kind::InternalHandler(name.clone()),
    };
    pb::Actor { kind: Some(kind) }
}

pub(crate) fn actor_from_pb(actor: pb::Actor) -> Result<Actor, CodecError> {
    match required(actor.kind, "Actor.kind")? {
        pb::actor::Kind::ClientId(id) => Ok(Actor::Client(id)),
        pb::actor::Kind::InternalHandler(name) => Ok(Actor::Internal(name)),
    }
}

pub(crate) fn localized_to_pb(text: &LocalizedString) -> pb::LocalizedString {
    pb::LocalizedString {
        values: text.clone(),
    }
}

pub(crate) fn localized_from_pb(text: pb::LocalizedString) -> LocalizedString {
    text.values
}

pub(crate) fn field_value_to_pb(value: &FieldValue) -> pb::FieldValue {
    use pb::field_value::Kind;
    let kind = match value {
        FieldValue::Bool(b) => Kind::BoolValue(*b),
        FieldValue::Number(text) => Kind::Number(text.clone()),
        FieldValue::String(text) => Kind::StringValue(text.clone()),
        FieldValue::List(items) => Kind::List(pb::FieldValueList {
            values: items.iter().map(field_value_to_pb).collect(),
        }),
        FieldValue::Object(members) => Kind::Object(pb::FieldValueObject {
            fields: field_map_to_pb(members),
        }),
    };
    pb::FieldValue { kind: Some(kind) }
}

/// Decodes a field value. Nesting depth is bounded by prost's decode
/// recursion limit, so this recursion is bounded too.
pub(crate) fn field_value_from_pb(value: pb::FieldValue) -> Result<FieldValue, CodecError> {
    use pb::field_value::Kind;
    Ok(match required(value.kind, "FieldValue.kind")? {
        Kind::BoolValue(b) => FieldValue::Bool(b),
        Kind::Number(text) => FieldValue::Number(text),
        Kind::StringValue(text) => FieldValue::String(text),
        Kind::List(list) => FieldValue::List(
            list.values
                .into_iter()
                .map(field_value_from_pb)
                .collect::<Result<_, _>>()?,
        ),
        Kind::Object(object) => FieldValue::Object(field_map_from_pb(object.fields)?),
    })
}

/// Decodes an optional field value (`None` removes a custom field).
pub(crate) fn option_field_value_from_pb(
    value: Option<pb::FieldValue>,
) -> Result<Option<FieldValue>, CodecError> {
    value.map(field_value_from_pb).transpose()
}

fn field_map_to_pb(fields: &BTreeMap<String, FieldValue>) -> BTreeMap<String, pb::FieldValue> {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), field_value_to_pb(value)))
        .collect()
}

fn field_map_from_pb(
    fields: BTreeMap<String, pb::FieldValue>,
) -> Result<BTreeMap<String, FieldValue>, CodecError> {
    fields
        .into_iter()
        .map(|(name, value)| Ok((name, field_value_from_pb(value)?)))
        .collect()
}

pub(crate) fn custom_to_pb(custom: &CustomFields) -> pb::CustomFields {
    pb::CustomFields {
        type_id: custom.type_id.clone(),
        fields: field_map_to_pb(&custom.fields),
    }
}

pub(crate) fn custom_from_pb(custom: pb::CustomFields) -> Result<CustomFields, CodecError> {
    Ok(CustomFields {
        type_id: custom.type_id,
        fields: field_map_from_pb(custom.fields)?,
    })
}

/// Decodes optional custom fields (`None` means none, or removes them).
pub(crate) fn option_custom_from_pb(
    custom: Option<pb::CustomFields>,
) -> Result<Option<CustomFields>, CodecError> {
    custom.map(custom_from_pb).transpose()
}

/// Decodes a list of custom-field records (interface interactions).
pub(crate) fn customs_from_pb(
    customs: Vec<pb::CustomFields>,
) -> Result<Vec<CustomFields>, CodecError> {
    customs.into_iter().map(custom_from_pb).collect()
}

pub(crate) fn transaction_type_to_pb(kind: TransactionType) -> pb::TransactionType {
    match kind {
        TransactionType::Authorization => pb::TransactionType::Authorization,
        TransactionType::CancelAuthorization => pb::TransactionType::CancelAuthorization,
        TransactionType::Charge => pb::TransactionType::Charge,
        TransactionType::Refund => pb::TransactionType::Refund,
        TransactionType::Chargeback => pb::TransactionType::Chargeback,
    }
}

pub(crate) fn transaction_type_from_pb(
    value: i32,
    field: &'static str,
) -> Result<TransactionType, CodecError> {
    let unknown = CodecError::UnknownEnumValue { field, value };
    match pb::TransactionType::try_from(value) {
        Err(prost::UnknownEnumValue(_)) => Err(unknown),
        Ok(pb::TransactionType::Unspecified) => Err(unknown),
        Ok(pb::TransactionType::Authorization) => Ok(TransactionType::Authorization),
        Ok(pb::TransactionType::CancelAuthorization) => Ok(TransactionType::CancelAuthorization),
        Ok(pb::TransactionType::Charge) => Ok(TransactionType::Charge),
        Ok(pb::TransactionType::Refund) => Ok(TransactionType::Refund),
        Ok(pb::TransactionType::Chargeback) => Ok(TransactionType::Chargeback),
    }
}

pub(crate) fn transaction_state_to_pb(state: TransactionState) -> pb::TransactionState {
    match state {
        TransactionState::Initial => pb::TransactionState::Initial,
        TransactionState::Pending => pb::TransactionState::Pending,
        TransactionState::Success => pb::TransactionState::Success,
        TransactionState::Failure => pb::TransactionState::Failure,
    }
}

pub(crate) fn transaction_state_from_pb(
    value: i32,
    field: &'static str,
) -> Result<TransactionState, CodecError> {
    let unknown = CodecError::UnknownEnumValue { field, value };
    match pb::TransactionState::try_from(value) {
        Err(prost::UnknownEnumValue(_)) => Err(unknown),
        Ok(pb::TransactionState::Unspecified) => Err(unknown),
        Ok(pb::TransactionState::Initial) => Ok(TransactionState::Initial),
        Ok(pb::TransactionState::Pending) => Ok(TransactionState::Pending),
        Ok(pb::TransactionState::Success) => Ok(TransactionState::Success),
        Ok(pb::TransactionState::Failure) => Ok(TransactionState::Failure),
    }
}

pub(crate) fn transaction_to_pb(transaction: &Transaction) -> pb::Transaction {
    pb::Transaction {
        id: transaction.id.as_bytes().to_vec(),
        timestamp_ms: transaction.timestamp.map(Timestamp::millis),
        r#type: transaction_type_to_pb(transaction.kind).into(),
        amount: Some(money_to_pb(&transaction.amount)),
        interaction_id: transaction.interaction_id.clone(),
        interface_id: transaction.interface_id.clone(),
        state: transaction_state_to_pb(transaction.state).into(),
        custom: transaction.custom.as_ref().map(custom_to_pb),
    }
}

pub(crate) fn transaction_from_pb(transaction: pb::Transaction) -> Result<Transaction, CodecError> {
    Ok(Transaction {
        id: transaction_id_from_pb(transaction.id, "Transaction.id")?,
        timestamp: timestamp_from_pb(transaction.timestamp_ms),
        kind: transaction_type_from_pb(transaction.r#type, "Transaction.type")?,
        amount: money_from_pb(required(transaction.amount, "Transaction.amount")?)?,
        interaction_id: transaction.interaction_id,
        interface_id: transaction.interface_id,
        state: transaction_state_from_pb(transaction.state, "Transaction.state")?,
        custom: option_custom_from_pb(transaction.custom)?,
    })
}

pub(crate) fn transactions_from_pb(
    transactions: Vec<pb::Transaction>,
) -> Result<Vec<Transaction>, CodecError> {
    transactions.into_iter().map(transaction_from_pb).collect()
}

pub(crate) fn method_info_to_pb(info: &PaymentMethodInfo) -> pb::PaymentMethodInfo {
    pb::PaymentMethodInfo {
        payment_interface: info.payment_interface.clone(),
        method: info.method.clone(),
        name: info.name.as_ref().map(localized_to_pb),
        token: info.token.clone(),
        interface_account: info.interface_account.clone(),
        custom: info.custom.as_ref().map(custom_to_pb),
    }
}

pub(crate) fn method_info_from_pb(
    info: pb::PaymentMethodInfo,
) -> Result<PaymentMethodInfo, CodecError> {
    Ok(PaymentMethodInfo {
        payment_interface: info.payment_interface,
        method: info.method,
        name: info.name.map(localized_from_pb),
        token: info.token,
        interface_account: info.interface_account,
        custom: option_custom_from_pb(info.custom)?,
    })
}

pub(crate) fn status_to_pb(status: &PaymentStatus) -> pb::PaymentStatus {
    pb::PaymentStatus {
        interface_code: status.interface_code.clone(),
        interface_text: status.interface_text.clone(),
        state_id: status.state_id.clone(),
    }
}

pub(crate) fn status_from_pb(status: pb::PaymentStatus) -> PaymentStatus {
    PaymentStatus {
        interface_code: status.interface_code,
        interface_text: status.interface_text,
        state_id: status.state_id,
    }
}

pub(crate) fn draft_to_pb(draft: &PaymentDraft) -> pb::PaymentDraft {
    pb::PaymentDraft {
        key: draft.key.clone(),
        customer_id: draft.customer_id.clone(),
        anonymous_id: draft.anonymous_id.clone(),
        interface_id: draft.interface_id.clone(),
        external_id: draft.external_id.clone(),
        amount_planned: Some(money_to_pb(&draft.amount_planned)),
        amount_authorized: draft.amount_authorized.as_ref().map(money_to_pb),
        authorized_until_ms: draft.authorized_until.map(Timestamp::millis),
        amount_paid: draft.amount_paid.as_ref().map(money_to_pb),
        amount_refunded: draft.amount_refunded.as_ref().map(money_to_pb),
        payment_method_info: Some(method_info_to_pb(&draft.payment_method_info)),
        payment_status: Some(status_to_pb(&draft.payment_status)),
        transactions: draft.transactions.iter().map(transaction_to_pb).collect(),
        interface_interactions: draft
            .interface_interactions
            .iter()
            .map(custom_to_pb)
            .collect(),
        custom: draft.custom.as_ref().map(custom_to_pb),
    }
}

pub(crate) fn draft_from_pb(draft: pb::PaymentDraft) -> Result<PaymentDraft, CodecError> {
    let amount_planned = required(draft.amount_planned, "PaymentDraft.amount_planned")?;
    let method_info = required(
        draft.payment_method_info,
        "PaymentDraft.payment_method_info",
    )?;
    let status = required(draft.payment_status, "PaymentDraft.payment_status")?;
    Ok(PaymentDraft {
        key: draft.key,
        customer_id: draft.customer_id,
        anonymous_id: draft.anonymous_id,
        interface_id: draft.interface_id,
        external_id: draft.external_id,
        amount_planned: money_from_pb(amount_planned)?,
        amount_authorized: option_money_from_pb(draft.amount_authorized)?,
        authorized_until: timestamp_from_pb(draft.authorized_until_ms),
        amount_paid: option_money_from_pb(draft.amount_paid)?,
        amount_refunded: option_money_from_pb(draft.amount_refunded)?,
        payment_method_info: method_info_from_pb(method_info)?,
        payment_status: status_from_pb(status),
        transactions: transactions_from_pb(draft.transactions)?,
        interface_interactions: customs_from_pb(draft.interface_interactions)?,
        custom: option_custom_from_pb(draft.custom)?,
    })
}
