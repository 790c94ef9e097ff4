//! The content of a verified Stripe webhook event, typed: the event id (the
//! dedupe key), its type, its creation time, and the object it is about.
//!
//! Only the fields payledger uses are read; the object's status is a hint
//! (the refresh fetches the authoritative status from the PSP).

use crate::model::{IntentStatus, ObjectKind};
use serde::Deserialize;

/// Longest event or object id accepted, in bytes.
pub const WEBHOOK_ID_BYTES_MAX: usize = 255;

/// A verified webhook event.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WebhookEvent {
    /// `evt_…`, unique per event at the PSP.
    pub id: String,
    /// e.g. `payment_intent.succeeded`.
    pub event_type: String,
    /// Unix seconds.
    pub created: i64,
    pub object_kind: ObjectKind,
    /// The object's id (`pi_…`, `ch_…`, `re_…`).
    pub object_id: String,
    /// The PaymentIntent the object belongs to: the object itself, or the
    /// `payment_intent` field of a charge or refund.
    pub payment_intent: Option<String>,
    /// The PaymentIntent status in the event, when it is one (a hint).
    pub intent_status: Option<IntentStatus>,
}

/// Why a verified body could not be read as an event.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum WebhookParseError {
    #[error("the webhook body is not a Stripe event: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct WireEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created: i64,
    data: WireData,
}

#[derive(Deserialize)]
struct WireData {
    object: WireObject,
}

#[derive(Deserialize)]
struct WireObject {
    id: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_intent: Option<crate::stripe_wire::Expandable>,
}

/// Reads a verified Stripe event body.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookParseError> {
    let wire: WireEvent =
        serde_json::from_slice(body).map_err(|e| WebhookParseError::Malformed(e.to_string()))?;
    let too_long = |id: &str| id.is_empty() || id.len() > WEBHOOK_ID_BYTES_MAX;
    if too_long(&wire.id) || too_long(&wire.data.object.id) {
        return Err(WebhookParseError::Malformed(
            "bad event or object id".into(),
        ));
    }
    let object = wire.data.object;
    let object_kind = match object.object.as_str() {
        "payment_intent" => ObjectKind::PaymentIntent,
        "charge" => ObjectKind::Charge,
        "refund" => ObjectKind::Refund,
        _ => ObjectKind::Other,
    };
    let (payment_intent, intent_status) = match object_kind {
        ObjectKind::PaymentIntent => (
            Some(object.id.clone()),
            object.status.as_deref().and_then(IntentStatus::parse),
        ),
        ObjectKind::Charge | ObjectKind::Refund => (
            object
                .payment_intent
                .map(crate::stripe_wire::Expandable::into_id),
            None,
        ),
        ObjectKind::Other => (None, None),
    };
    Ok(WebhookEvent {
        id: wire.id,
        event_type: wire.event_type,
        created: wire.created,
        object_kind,
        object_id: object.id,
        payment_intent: payment_intent.filter(|id| !too_long(id)),
        intent_status,
    })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_intent_event_names_its_intent_and_status() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1700000000,
            "data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded",
            "latest_charge":{"id":"ch_1","object":"charge"}}}}"#;
        let event = parse_event(body).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.object_kind, ObjectKind::PaymentIntent);
        assert_eq!(event.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(event.intent_status, Some(IntentStatus::Succeeded));
    }

    #[test]
    fn a_charge_event_names_its_intent_by_id_or_object() {
        for intent in [r#""pi_2""#, r#"{"id":"pi_2","object":"payment_intent"}"#] {
            let body = format!(
                r#"{{"id":"evt_2","type":"charge.refunded","created":1,
                "data":{{"object":{{"id":"ch_2","object":"charge","payment_intent":{intent}}}}}}}"#
            );
            let event = parse_event(body.as_bytes()).unwrap();
            assert_eq!(event.object_kind, ObjectKind::Charge);
            assert_eq!(event.payment_intent.as_deref(), Some("pi_2"));
            assert_eq!(event.intent_status, None);
        }
    }

    #[test]
    fn bodies_that_are_not_events_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"id":"evt_3"}"#,
            br#"{"id":"","type":"x","data":{"object":{"id":"pi"}}}"#,
        ] {
            assert!(parse_event(body).is_err());
        }
    }
}
