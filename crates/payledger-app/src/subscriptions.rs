//! Outbound webhook Subscriptions: HTTP destinations that receive the
//! Messages of one project, signed with a secret, in order per payment.
//!
//! This module holds the stored records, the rules a draft must pass, and
//! the delivery state read back from the cursors; the worker that delivers
//! lives in `payledger-webhooks`. A subscription is a log consumer named
//! [`consumer_name`]: one durable cursor per partition.
//!
//! | table         | key                                 | value |
//! |---------------|-------------------------------------|-------|
//! | Subscriptions | project · subscription id           | [`SubscriptionRecord`] (JSON) |
//! | Cursors       | `subscription:{id}` · partition     | see [`crate::consumer`] |
//!
//! Decisions where commercetools leaves room or payledger differs:
//! - The only destination is `{type:"HTTP", url, secret}`; only `messages`
//!   of `resourceTypeId` `payment` are delivered (`changes` and `events`
//!   must be empty).
//! - A new subscription delivers the Messages committed after it was
//!   created: its cursors start at the log heads, written in the same batch
//!   as the record. Deleting it removes record and cursors together.
//! - Update actions `changeDestination`, `setKey` and `setMessages` keep
//!   the cursors: a URL or secret can change (or a refusing destination be
//!   fixed) without losing or repeating the Messages still to deliver.
//!   `format` cannot change (commercetools has no such action either).
//! - Destinations are `http://` or `https://` URLs; HTTPS certificates are
//!   verified (Mozilla roots, plus extra roots the server is given).
//! - No test notification is sent on creation; a destination that does not
//!   answer shows up in `status` instead.
//! - `status` is derived from the cursors: a delivery failure holding any
//!   partition back makes it `TemporaryError` or `ConfigurationError`
//!   (the status of the [`DeliveryFailure`] decoded from the cursor's
//!   error); a later success clears it (`Healthy`).
//!
//! Modules: `records` (the stored row), `drafts` (drafts and actions, and
//! the adapter to the domain's `subscription_rules`, which decide), `storage` (reads and the use cases), `delivery` (status).

use crate::catalog::ModifiedBy;
use crate::consumer::{Cursor, CursorError};
use crate::idempotency::{self, Answer, AnswerError};
use crate::table_keys::{prefix_end, project_prefix, push_text, split_text};
use payledger_domain::subscription_rules::{self as rules, MessageSelection, SubscriptionShape};
use payledger_domain::{ProjectKey, ResourceRef};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The limits and rejections of the subscription rules, which live in the
/// domain (`payledger_domain::subscription_rules`).
pub use payledger_domain::subscription_rules::{
    CLOUD_EVENTS_VERSION, MESSAGE_TYPES_MAX, PAYMENT_RESOURCE_TYPE_ID, SECRET_BYTES_MAX,
    SECRET_BYTES_MIN, SUBSCRIPTIONS_PER_PROJECT_MAX, SubscriptionRejection, URL_BYTES_MAX,
};

/// Most subscriptions of all projects that [`list_all`] reads.
pub const SUBSCRIPTIONS_LISTED_MAX: usize = 100_000;
/// Prefix of the log consumer name of every subscription.
pub const CONSUMER_PREFIX: &str = "subscription:";

/// The log consumer (cursor owner) of subscription `id`.
pub fn consumer_name(id: &str) -> String {
    format!("{CONSUMER_PREFIX}{id}")
}

mod delivery;
mod drafts;
mod records;
mod storage;

pub use delivery::*;
pub use drafts::*;
pub use records::*;
pub use storage::*;

#[cfg(test)]
mod tests;
