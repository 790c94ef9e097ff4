//! The pure payment domain of payledger.
//!
//! Everything here is plain data and pure functions: no IO, no clock, no
//! randomness, no serialization framework. Time, ids and PSP facts arrive as
//! arguments, which keeps replay deterministic and lets the rules be tested
//! without a store.
//!
//! - [`ids`]: newtypes for identifiers (payments, transactions, projects).
//! - [`money`]: integer money with ISO 4217 fraction digits.
//! - [`payment`]: the Payment aggregate and its parts.
//! - [`transaction_list`]: a payment's transactions, shared between versions.
//! - [`order`]: the Order aggregate: its events, rules, fold and derived totals.
//! - [`stream`]: stream identity (aggregate kind + id).
//! - [`event`]: the events that make up a payment's stream, and their envelope.
//! - [`command`]: typed commands: the payment draft and the update actions.
//! - [`types`]: custom field Types and PaymentState States as the rules see them.
//! - [`catalog`]: the read-only lookup of Types and States while deciding.
//! - [`catalog_rules`]: the rules of the Type and State resources themselves.
//! - [`subscription_rules`]: the rules of outbound webhook Subscriptions.
//! - [`rejection`]: one named variant per business rule that can say no.
//! - [`time`]: ISO 8601 text of [`Timestamp`]s (calendar arithmetic, no clock).
//! - [`decide`](mod@decide): command + state → events or rejection.
//! - [`evolve`](mod@evolve): state + event → state; replaying a stream.

pub mod catalog;
pub mod catalog_rules;
pub mod command;
pub mod decide;
pub mod event;
pub mod evolve;
pub mod ids;
pub mod money;
pub mod order;
pub mod payment;
pub mod rejection;
#[cfg(feature = "testing")]
pub mod strategies;
pub mod stream;
pub mod subscription_rules;
pub mod time;
pub mod transaction_list;
pub mod types;

#[cfg(test)]
mod testkit;

pub use catalog::{Catalog, InMemoryCatalog};
pub use command::{Command, ResourceRef, UpdateAction};
pub use decide::{
    Context, IdSource, decide_create, decide_delete, decide_update, decide_update_with_state,
};
pub use event::{Actor, Event, EventEnvelope, EventMeta};
pub use evolve::{Recorded, evolve, evolve_recorded, fold, stamp_decided};
pub use ids::{EventId, OrderId, PaymentId, ProjectKey, TransactionId};
pub use money::{CurrencyCode, Money};
pub use order::{
    Order, OrderAction, OrderDraft, OrderEvent, OrderPaymentState, OrderTotals, PaymentNotification,
};
pub use payment::{Payment, Timestamp};
pub use rejection::{Rejection, RejectionCode};
pub use stream::{StreamId, StreamKind};
