//! Stripe's JSON: the objects and error bodies it answers with, their
//! mapping to [`crate::model`] and [`PspError`], and what an id's prefix
//! says about its object. Pure: the HTTP connector (`payledger-stripe`)
//! and the webhook intake ([`crate::webhook`]) both read through here.
//!
//! Fields that Stripe may return either as an id or as an expanded object
//! (`latest_charge`, `customer`, `payment_intent`) are read as
//! [`Expandable`] and reduced to the id.

use crate::error::PspError;
use crate::model::{IntentStatus, ObjectKind, PaymentError, PaymentIntent, Refund, RefundStatus};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A field holding an id or the expanded object with that id.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object(ObjectId),
}

/// The `id` of an expanded object; other fields are ignored.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct ObjectId {
    pub id: String,
}

impl Expandable {
    pub fn into_id(self) -> String {
        match self {
            Self::Id(id) => id,
            Self::Object(object) => object.id,
        }
    }
}

/// A PaymentIntent as Stripe answers it.
#[derive(Deserialize)]
pub struct WirePaymentIntent {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    amount_received: Option<i64>,
    currency: String,
    #[serde(default)]
    capture_method: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    latest_charge: Option<Expandable>,
    #[serde(default)]
    last_payment_error: Option<WirePaymentError>,
    #[serde(default)]
    next_action: Option<WireNextAction>,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    cancellation_reason: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Deserialize)]
struct WirePaymentError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireNextAction {
    #[serde(rename = "type", default)]
    action_type: Option<String>,
}

/// A refund as Stripe answers it.
#[derive(Debug, Deserialize)]
pub struct WireRefund {
    id: String,
    status: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    charge: Option<Expandable>,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, Value>>,
}

/// A card (a customer's source) as Stripe answers it.
#[derive(Debug, Deserialize)]
pub struct WireCard {
    pub id: String,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
}

/// A PaymentMethod as Stripe answers it (after an attach).
#[derive(Debug, Deserialize)]
pub struct WirePaymentMethod {
    pub id: String,
    #[serde(default)]
    pub card: Option<WireCardDetails>,
}

/// The card of a PaymentMethod.
#[derive(Debug, Default, Deserialize)]
pub struct WireCardDetails {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
}

/// A page of a list or search answer.
#[derive(Debug, Deserialize)]
pub struct WireList<T> {
    /// The objects of this page.
    pub data: Vec<T>,
    /// Whether a next page exists.
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Deserialize)]
struct WireErrorBody {
    error: WireError,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    error_type: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_intent: Option<Expandable>,
}

fn metadata(map: Option<BTreeMap<String, Value>>) -> BTreeMap<String, String> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect()
}

fn unknown_status(kind: &str, status: &str) -> PspError {
    PspError::Api {
        status: None,
        message: format!("unknown {kind} status {status:?}"),
        retryable: false,
    }
}

impl TryFrom<WirePaymentIntent> for PaymentIntent {
    type Error = PspError;

    fn try_from(wire: WirePaymentIntent) -> Result<Self, PspError> {
        let status = IntentStatus::parse(&wire.status)
            .ok_or_else(|| unknown_status("PaymentIntent", &wire.status))?;
        Ok(Self {
            id: wire.id,
            status,
            amount: wire.amount,
            amount_received: wire.amount_received,
            currency: wire.currency,
            capture_method: wire.capture_method,
            client_secret: wire.client_secret.map(Secret::new),
            latest_charge: wire.latest_charge.map(Expandable::into_id),
            last_payment_error: wire.last_payment_error.map(|e| PaymentError {
                code: e.code,
                decline_code: e.decline_code,
                message: e.message,
            }),
            next_action: wire.next_action.and_then(|a| a.action_type),
            customer: wire.customer.map(Expandable::into_id),
            cancellation_reason: wire.cancellation_reason,
            metadata: metadata(wire.metadata),
        })
    }
}

impl TryFrom<WireRefund> for Refund {
    type Error = PspError;

    fn try_from(wire: WireRefund) -> Result<Self, PspError> {
        let status = RefundStatus::parse(&wire.status)
            .ok_or_else(|| unknown_status("refund", &wire.status))?;
        Ok(Self {
            id: wire.id,
            status,
            amount: wire.amount,
            currency: wire.currency,
            payment_intent: wire.payment_intent.map(Expandable::into_id),
            charge: wire.charge.map(Expandable::into_id),
            failure_reason: wire.failure_reason,
            metadata: metadata(wire.metadata),
        })
    }
}

/// Longest error message kept from a PSP answer, in bytes.
pub const ERROR_MESSAGE_BYTES_MAX: usize = 512;

fn clip(mut text: String) -> String {
    if text.len() > ERROR_MESSAGE_BYTES_MAX {
        let mut end = ERROR_MESSAGE_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Maps a non-2xx answer to a typed failure. `should_retry` is Stripe's
/// `Stripe-Should-Retry` header, which overrides the status-based guess.
pub fn map_error(status: u16, should_retry: Option<bool>, body: &[u8]) -> PspError {
    let error = serde_json::from_slice::<WireErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let error_type = error.as_ref().and_then(|e| e.error_type.clone());
    let message = error.as_ref().and_then(|e| e.message.clone()).map(clip);
    match (status, error_type.as_deref()) {
        (402, _) | (_, Some("card_error")) => {
            let error = error.unwrap_or(WireError {
                error_type: None,
                code: None,
                decline_code: None,
                message: None,
                payment_intent: None,
            });
            PspError::Declined {
                code: error.code.unwrap_or_else(|| "card_declined".into()),
                decline_code: error.decline_code,
                message,
                payment_intent: error.payment_intent.map(Expandable::into_id),
            }
        }
        (401 | 403, _) | (_, Some("authentication_error")) => PspError::Authentication { status },
        (429, _) | (_, Some("rate_limit_error")) => PspError::RateLimited,
        (400..=499, Some("idempotency_error")) => PspError::InvalidRequest {
            status,
            code: Some("idempotency_error".into()),
            message,
        },
        // Stripe answers 409 for a request racing another with the same
        // idempotency key; it may be sent again.
        (409, _) => PspError::Api {
            status: Some(status),
            message: message.unwrap_or_else(|| "conflict".into()),
            retryable: should_retry.unwrap_or(true),
        },
        (400..=499, _) => PspError::InvalidRequest {
            status,
            code: error.and_then(|e| e.code),
            message,
        },
        _ => PspError::Api {
            status: Some(status),
            message: message.unwrap_or_else(|| format!("HTTP {status}")),
            retryable: should_retry.unwrap_or(true),
        },
    }
}

/// Names the object and its status only: the client secret stays out of
/// logs.
impl std::fmt::Debug for WirePaymentIntent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WirePaymentIntent")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl WirePaymentIntent {
    /// The object's id (`pi_…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A metadata value, if it is text.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }
}

impl WireRefund {
    /// The object's id (`re_…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A metadata value, if it is text.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }
}

/// The kind of object a Stripe id names, by its prefix.
pub fn object_kind(id: &str) -> ObjectKind {
    let prefix = id.split_once('_').map_or("", |(prefix, _)| prefix);
    match prefix {
        "pi" => ObjectKind::PaymentIntent,
        "ch" | "py" => ObjectKind::Charge,
        "re" | "pyr" => ObjectKind::Refund,
        _ => ObjectKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a PaymentIntent as Stripe's JSON gives it.
    fn intent(json: &str) -> PaymentIntent {
        let wire: WirePaymentIntent = serde_json::from_str(json).expect("PaymentIntent JSON");
        PaymentIntent::try_from(wire).expect("known status")
    }

    #[test]
    fn a_cancelled_intent_says_why_and_an_intent_without_a_reason_has_none() {
        let expired = intent(
            r#"{"id":"pi_1","object":"payment_intent","status":"canceled","amount":3300,
            "currency":"eur","cancellation_reason":"automatic","metadata":{}}"#,
        );
        assert_eq!(expired.status, IntentStatus::Canceled);
        assert_eq!(expired.cancellation_reason.as_deref(), Some("automatic"));
        let voided = intent(
            r#"{"id":"pi_2","status":"canceled","amount":3300,"currency":"eur",
            "cancellation_reason":null}"#,
        );
        assert_eq!(voided.cancellation_reason, None);
        let open =
            intent(r#"{"id":"pi_3","status":"requires_capture","amount":1,"currency":"eur"}"#);
        assert_eq!(open.cancellation_reason, None);
    }
}
