//! Protobuf encoding of everything payledger stores: event envelopes (the
//! `events` column family), Payment views (whole, or as a header in
//! `views` plus a row per transaction and interaction in `view_rows`) and
//! Order views (`order_views`).
//!
//! The schema lives in `proto/payledger/v1/*.proto` and is compiled by
//! `build.rs` (protox + prost-build, no system `protoc`) into [`pb`]. This
//! crate is the only place that knows the stored wire format (architecture
//! invariant 5); the mapping between the generated types and the domain is
//! written out by hand in the `building_blocks`, `envelope`, `view` and `order_view` modules, with
//! exhaustive matches so a new domain variant cannot go unmapped.
//!
//! Architecture invariants of this crate:
//!
//! - **Stored bytes are a contract forever.** Field numbers are never reused
//!   or renumbered; the golden corpus in `tests/golden/v1/` must keep decoding
//!   to the same values and re-encoding to the same bytes.
//! - **Encoding is deterministic.** The same value always gives the same
//!   bytes: fields are written in field-number order and maps are `BTreeMap`s
//!   (sorted keys). Replay relies on this to rebuild byte-identical views, and
//!   the previous-event hash chain hashes these bytes.
//! - **Decoding validates.** Bytes decode to a domain value only if some
//!   encoder of ours could have written them; otherwise a [`CodecError`] says
//!   which field is wrong.
//! - No IO, no clock, no store: bytes in, values out.
//!
//! # Golden corpus
//!
//! `tests/codec.rs` checks every file in `tests/golden/v1/` against a value
//! built in the test code. A missing file fails the test. To write missing
//! files (for a new event variant or case), run once with
//! `PAYLEDGER_BLESS=1 cargo test -p payledger-codec` and check the new files
//! in. Bless never overwrites an existing file: a released file that no
//! longer matches is a broken contract, not a file to refresh.

mod building_blocks;
mod envelope;
mod error;
mod order_view;
mod view;

#[cfg(test)]
mod fuzz;

pub use error::CodecError;
pub use view::{HeaderPeek, PaymentHeader};

use payledger_domain::payment::{CustomFields, Payment, Transaction};
use payledger_domain::{EventEnvelope, Order};
use prost::Message;

/// The prost types generated from `proto/payledger/v1/*.proto` (package
/// `payledger.v1`). Exposed for tests and tools that need to build or
/// inspect raw messages; application code uses the functions of this crate.
// The payload oneof holds the whole draft in one case and a bool in another;
// the size difference is harmless for a value that lives only while encoding.
#[allow(clippy::large_enum_variant)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/payledger.v1.rs"));
}

/// Encodes a stored event envelope. Deterministic: equal envelopes give
/// equal bytes.
pub fn encode_envelope(envelope: &EventEnvelope) -> Vec<u8> {
    envelope::envelope_to_pb(envelope).encode_to_vec()
}

/// Decodes and validates a stored event envelope.
pub fn decode_envelope(bytes: &[u8]) -> Result<EventEnvelope, CodecError> {
    envelope::envelope_from_pb(pb::EventEnvelope::decode(bytes)?)
}

/// Encodes a Payment view. Deterministic: equal payments give equal bytes.
pub fn encode_payment(payment: &Payment) -> Vec<u8> {
    view::payment_to_pb(payment).encode_to_vec()
}

/// Decodes and validates a Payment view stored whole (a header that
/// counts rows is [`CodecError::StoredAsRows`]).
pub fn decode_payment(bytes: &[u8]) -> Result<Payment, CodecError> {
    view::payment_from_pb(pb::PaymentView::decode(bytes)?)
}

/// Encodes the header of a Payment view stored as rows: every field but
/// the lists, and how many rows of each list follow.
pub fn encode_payment_header(payment: &Payment) -> Vec<u8> {
    view::header_to_pb(payment).encode_to_vec()
}

/// Decodes a view header; a view stored whole decodes too (with its lists
/// inline and no rows).
pub fn decode_payment_header(bytes: &[u8]) -> Result<PaymentHeader, CodecError> {
    view::header_from_pb(pb::PaymentView::decode(bytes)?)
}

/// Reads a view header's id, version and whether it is whole, without
/// decoding the rest: enough to find the payment in a cache. See
/// [`HeaderPeek`] for what it does not check.
pub fn peek_payment_header(bytes: &[u8]) -> Result<HeaderPeek, CodecError> {
    view::peek_header(bytes)
}

/// Encodes one transaction row of a view stored as rows.
pub fn encode_transaction_row(transaction: &Transaction) -> Vec<u8> {
    building_blocks::transaction_to_pb(transaction).encode_to_vec()
}

/// Decodes one transaction row.
pub fn decode_transaction_row(bytes: &[u8]) -> Result<Transaction, CodecError> {
    building_blocks::transaction_from_pb(pb::Transaction::decode(bytes)?)
}

/// Encodes one interface interaction row of a view stored as rows.
pub fn encode_interaction_row(interaction: &CustomFields) -> Vec<u8> {
    building_blocks::custom_to_pb(interaction).encode_to_vec()
}

/// Decodes one interface interaction row.
pub fn decode_interaction_row(bytes: &[u8]) -> Result<CustomFields, CodecError> {
    building_blocks::custom_from_pb(pb::CustomFields::decode(bytes)?)
}

/// Encodes an Order view. Deterministic: equal orders give equal bytes.
pub fn encode_order(order: &Order) -> Vec<u8> {
    order_view::order_to_pb(order).encode_to_vec()
}

/// Decodes and validates an Order view.
pub fn decode_order(bytes: &[u8]) -> Result<Order, CodecError> {
    order_view::order_from_pb(pb::OrderView::decode(bytes)?)
}
