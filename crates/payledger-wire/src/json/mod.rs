//! The commercetools JSON payledger writes: payments, Messages and their
//! parts. Reading requests is the HTTP API's business (`payledger-api`).
//!
//! - `payment`: Payment, transactions, method info, status, actors.
//! - `order`: Order with the totals of its payments.
//! - `payment_text`: the same Payment JSON written straight to bytes.
//! - `message`: event envelope → Message (with the message type table).
//! - `cloudevents`: a Message in a CloudEvents 1.0 envelope.
//! - `money`, `custom`: money, custom fields and references.
//! - `message_keys`: the key each payment had at each version.

mod cloudevents;
mod custom;
pub(crate) mod message;
mod message_keys;
mod money;
mod order;
mod payment;
mod payment_text;

pub use cloudevents::{CLOUDEVENTS_CONTENT_TYPE, CLOUDEVENTS_TYPE_PREFIX, cloudevent_to_json};
pub use custom::{
    custom_fields_to_json, field_value_from_json, field_value_to_json, reference_to_json,
};
pub use message::{
    COMMERCETOOLS_MESSAGE_TYPES, MESSAGE_TYPES, history_entry_to_json, is_extension_message_type,
    mask_token, message_delivery_payload, message_to_json, message_type,
};
pub use message_keys::{MessageKeys, message_key_after};
pub use money::{CENT_PRECISION, money_to_json};
pub use order::order_to_json;
pub use payment::{
    INTERNAL_CLIENT_PREFIX, actor_to_json, method_info_to_json, payment_to_json, status_to_json,
    token_to_json, transaction_to_json,
};
pub use payment_text::{EarlierText, TransactionSpans, payment_json_bytes, payment_json_reusing};
