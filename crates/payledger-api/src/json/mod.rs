//! JSON ↔ domain conversions for the commercetools wire format.
//!
//! Only this module knows the wire format of payments; route modules call
//! the functions re-exported here. Input is parsed into a
//! [`serde_json::Value`] and walked by hand, so every error names its place
//! (`transactions -> amount -> centAmount: Missing required value`) and
//! explicit `null` reads as absent everywhere.
//!
//! - `payment`: Payment, transactions, method info, status, actors → JSON.
//! - `draft`: PaymentDraft → [`PaymentDraftInput`].
//! - `actions`: `{version, actions}` → [`UpdateRequest`].
//! - `message`: event envelope → Message (with the message type table).
//! - `cloudevents`: a Message in a CloudEvents 1.0 envelope.
//! - `money`, `custom`, `time`: money, custom fields and references,
//!   timestamps.
//! - `read`: the path-aware reader behind all input decoding.

mod actions;
mod cloudevents;
mod custom;
pub(crate) mod draft;
mod message;
mod money;
mod payment;
pub(crate) mod read;

use payledger_domain::UpdateAction;

pub use actions::parse_update;
pub use cloudevents::{CLOUDEVENTS_CONTENT_TYPE, cloudevent_to_json};
pub use custom::{
    custom_fields_to_json, field_value_from_json, field_value_to_json, reference_to_json,
};
pub use draft::parse_payment_draft;
pub use message::{
    COMMERCETOOLS_MESSAGE_TYPES, MESSAGE_TYPES, is_extension_message_type, mask_token,
    message_delivery_payload, message_to_json, message_type,
};
pub use money::money_to_json;
pub use payment::{
    INTERNAL_CLIENT_PREFIX, actor_to_json, method_info_to_json, payment_to_json, status_to_json,
    token_to_json, transaction_to_json,
};

/// The body of `POST /{pk}/payments/{id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest {
    pub version: u64,
    pub actions: Vec<UpdateAction>,
}
