//! payledger's use cases, generic over the event store.
//!
//! - [`payments`]: create, update, delete and read payments, with the inline
//!   projections (view, unique indexes) and idempotency records written in
//!   the same atomic append as the events.
//! - [`orders`]: create, update and read orders; their payments' totals
//!   are computed from the payment views when an order is read.
//! - [`claims`]: in-process claims that make cross-partition uniqueness safe.
//! - [`tables`]: the keys of the tables this layer owns.
//! - [`consumer`]: durable cursors of log consumers and the signal that
//!   wakes them.
//! - [`idempotency`]: durable idempotency records.
//! - [`message_index`]: the Message index by type and by time, written
//!   with the events, and the bounded reads of Message queries.
//! - [`psp`]: executing payments at PSPs, webhook intake, refresh and the
//!   due-time task table.
//! - [`subscriptions`]: outbound webhook subscriptions and their delivery
//!   state.
//! - [`backoff`]: the one retry schedule every retrier uses.
//! - [`error`]: the failures of a use case.
//!
//! Architecture invariant: no HTTP and no RocksDB here; the API crate turns
//! requests into commands, and the store crate owns the bytes on disk.

pub mod analytics;
pub mod auth;
pub mod backoff;
pub mod catalog;
pub mod clock;
pub mod consumer;
pub mod error;
#[cfg(test)]
mod golden;
pub mod history;
pub mod idempotency;
pub mod latest_cache;
pub mod merchants;
pub mod message_index;
pub mod order_attempts;
pub mod order_payment_states;
pub mod orders;
pub mod payment_reads;
pub mod payments;
pub mod projections;
pub mod psp;
pub mod resource_writes;
pub mod sealing;
pub mod signing;
pub mod snapshots;
pub mod subscriptions;
pub mod table_keys;
#[cfg(test)]
mod test_payments;
pub mod tokenization;
pub mod unique_claims;
pub mod views;

pub use error::AppError;
pub use idempotency::Idempotency;
pub use orders::{OrderCommand, OrderRef, OrderView, Orders};
pub use payments::{CommandMeta, Committed, Ledger, PaymentCommand, PaymentRef, Planned, Prepared};
