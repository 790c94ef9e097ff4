//! Reading a commercetools `PaymentDraft` (the body of `POST /payments`)
//! and the draft parts that update actions share with it: transaction
//! drafts, method info, localized strings, tokens, timestamps and the
//! transaction enums.
//!
//! Decoding only checks the shape (required fields, JSON types, enum
//! names, money, datetimes); business rules (key syntax, Types, States,
//! currencies of transactions) are the domain's.

use super::custom::{parse_custom_fields_draft, parse_customer, parse_resource_ref};
use super::money::parse_money;
use super::read::{Obj, Path, parse_body, string};
use crate::ApiError;
use payledger_domain::command::{
    MethodInfoInput, PaymentDraftInput, PaymentStatusInput, TransactionDraftInput,
};
use payledger_domain::payment::{LocalizedString, TransactionState, TransactionType};
use payledger_domain::time::parse_timestamp;
use payledger_domain::{ResourceRef, Timestamp};
use serde_json::Value;

/// Parses a PaymentDraft body.
pub fn parse_payment_draft(body: &[u8]) -> Result<PaymentDraftInput, ApiError> {
    let value = parse_body(body)?;
    let draft = Obj::new(&value, Path::root())?;
    let mut input = PaymentDraftInput::new(draft.req("amountPlanned", parse_money)?);
    input.key = draft.opt_string("key")?;
    input.customer_id = draft.opt("customer", parse_customer)?;
    input.anonymous_id = draft.opt_string("anonymousId")?;
    input.interface_id = draft.opt_string("interfaceId")?;
    input.external_id = draft.opt_string("externalId")?;
    input.amount_authorized = draft.opt("amountAuthorized", parse_money)?;
    input.authorized_until = draft.opt("authorizedUntil", datetime)?;
    input.amount_paid = draft.opt("amountPaid", parse_money)?;
    input.amount_refunded = draft.opt("amountRefunded", parse_money)?;
    if let Some(info) = draft.opt_obj("paymentMethodInfo")? {
        input.payment_method_info = parse_method_info(&info)?;
    }
    if let Some(status) = draft.opt_obj("paymentStatus")? {
        input.payment_status = parse_status(&status)?;
    }
    input.transactions = draft
        .array("transactions")?
        .into_iter()
        .map(|(v, p)| parse_transaction_draft(v, p))
        .collect::<Result<_, _>>()?;
    input.interface_interactions = draft
        .array("interfaceInteractions")?
        .into_iter()
        .map(|(v, p)| parse_custom_fields_draft(v, p))
        .collect::<Result<_, _>>()?;
    input.custom = draft.opt("custom", parse_custom_fields_draft)?;
    Ok(input)
}

/// Reads a `PaymentMethodInfoDraft`, or the fields of `setMethodInfo`.
pub(crate) fn parse_method_info(info: &Obj<'_>) -> Result<MethodInfoInput, ApiError> {
    Ok(MethodInfoInput {
        payment_interface: info.opt_string("paymentInterface")?,
        method: info.opt_string("method")?,
        name: info.opt("name", localized_string)?,
        token: info.opt("token", token)?,
        interface_account: info.opt_string("interfaceAccount")?,
        custom: info.opt("custom", parse_custom_fields_draft)?,
    })
}

fn parse_status(status: &Obj<'_>) -> Result<PaymentStatusInput, ApiError> {
    Ok(PaymentStatusInput {
        interface_code: status.opt_string("interfaceCode")?,
        interface_text: status.opt_string("interfaceText")?,
        state: status.opt("state", state_ref)?,
    })
}

/// Reads a `TransactionDraft` at `path`.
pub(crate) fn parse_transaction_draft(
    value: &Value,
    path: Path,
) -> Result<TransactionDraftInput, ApiError> {
    let draft = Obj::new(value, path)?;
    let kind = draft.req("type", transaction_type)?;
    let amount = draft.req("amount", parse_money)?;
    let mut input = TransactionDraftInput::new(kind, amount);
    input.timestamp = draft.opt("timestamp", datetime)?;
    input.interaction_id = draft.opt_string("interactionId")?;
    input.interface_id = draft.opt_string("interfaceId")?;
    input.state = draft.opt("state", transaction_state)?;
    input.custom = draft.opt("custom", parse_custom_fields_draft)?;
    Ok(input)
}

/// A StateResourceIdentifier.
pub(crate) fn state_ref(value: &Value, path: Path) -> Result<ResourceRef, ApiError> {
    parse_resource_ref(value, path, "state")
}

/// A LocalizedString: locale → text.
pub(crate) fn localized_string(value: &Value, path: Path) -> Result<LocalizedString, ApiError> {
    let object = Obj::new(value, path)?;
    object
        .entries()
        .map(|(locale, text)| Ok((locale.clone(), string(text, object.at(locale))?)))
        .collect()
}

/// A PaymentMethodToken `{value}`, as its value.
pub(crate) fn token(value: &Value, path: Path) -> Result<String, ApiError> {
    Obj::new(value, path)?.req_string("value")
}

/// An ISO 8601 datetime string.
pub(crate) fn datetime(value: &Value, path: Path) -> Result<Timestamp, ApiError> {
    let text = string(value, path.clone())?;
    parse_timestamp(&text).ok_or_else(|| {
        path.error(&format!(
            "Invalid datetime '{text}'; expected ISO 8601 such as 2026-01-01T00:00:00.000Z."
        ))
    })
}

/// A TransactionType name.
pub(crate) fn transaction_type(value: &Value, path: Path) -> Result<TransactionType, ApiError> {
    let text = string(value, path.clone())?;
    TransactionType::parse(&text)
        .ok_or_else(|| path.unknown(&text, &TransactionType::ALL.map(|t| t.as_str())))
}

/// A TransactionState name.
pub(crate) fn transaction_state(value: &Value, path: Path) -> Result<TransactionState, ApiError> {
    let text = string(value, path.clone())?;
    TransactionState::parse(&text)
        .ok_or_else(|| path.unknown(&text, &TransactionState::ALL.map(|s| s.as_str())))
}
