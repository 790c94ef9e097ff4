//! JSON ↔ domain conversions for the commercetools wire format.
//!
//! Reading requests happens here; writing payments and Messages is
//! `payledger_wire::json`, re-exported below so route modules find both in
//! one place. Input is parsed into a [`serde_json::Value`] and walked by
//! hand, so every error names its place (`transactions -> amount ->
//! centAmount: Missing required value`) and explicit `null` reads as absent
//! everywhere.
//!
//! - `draft`: PaymentDraft → [`PaymentDraftInput`].
//! - `actions`: `{version, actions}` → [`UpdateRequest`].
//! - `money`, `custom`: money drafts, custom fields drafts and resource
//!   identifiers.
//! - `read`: the path-aware reader behind all input decoding.
//! - `catalog`: Types and States as the API answers them (apart from how
//!   they are stored).

mod actions;
pub mod catalog;
mod custom;
pub(crate) mod draft;
pub(crate) mod money;
pub(crate) mod read;
pub(crate) mod subscription;

#[cfg(test)]
mod fuzz;

use payledger_domain::UpdateAction;

pub use actions::parse_update;
pub use draft::parse_payment_draft;
pub use payledger_wire::json::{
    CLOUDEVENTS_CONTENT_TYPE, COMMERCETOOLS_MESSAGE_TYPES, INTERNAL_CLIENT_PREFIX, MESSAGE_TYPES,
    actor_to_json, cloudevent_to_json, custom_fields_to_json, field_value_from_json,
    field_value_to_json, is_extension_message_type, mask_token, message_delivery_payload,
    message_to_json, message_type, method_info_to_json, money_to_json, payment_json_bytes,
    payment_to_json, reference_to_json, status_to_json, token_to_json, transaction_to_json,
};

/// The body of `POST /{pk}/payments/{id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest {
    pub version: u64,
    pub actions: Vec<UpdateAction>,
}
