//! Custom field Types and States: the small catalog resources payments
//! refer to, stored beside the events and read by the payment rules.
//!
//! A record is the commercetools JSON representation of the resource (id,
//! version, key, timestamps, …) as serde structs with explicit field names:
//! it is the stored format (a golden test proves old records load); the
//! API writes its own JSON from it. [`StoredCatalog`] turns records into the domain's
//! [`TypeDefinition`] and [`StateDefinition`] for the payment rules.
//!
//! Writes hold [`crate::resource_writes::lock`]; under it a write checks
//! the version and the key index and then commits the record, its index
//! entries and its idempotency answer in one atomic batch.
//!
//! | table   | key                              | value |
//! |---------|----------------------------------|-------|
//! | Catalog | project · `type` · id            | [`TypeRecord`] (JSON) |
//! | Catalog | project · `type-key` · key       | type id (UTF-8) |
//! | Catalog | project · `state` · id           | [`StateRecord`] (JSON) |
//! | Catalog | project · `state-key` · key      | state id (UTF-8) |
//!
//! - `records`: the stored (and returned) Type and State records.
//! - `inputs`, `failures`: drafts and actions in, rejections and errors out.
//! - `validation`: the rules a draft must pass.
//! - `storage`: key layout and the generic reads and writes of records.
//! - `types`, `states`: the use cases.
//! - `definitions`: [`StoredCatalog`], what the payment rules consult.
//!
//! Decisions where commercetools leaves room or payledger differs:
//! - `resourceTypeIds` may only name the payment resources payledger hosts
//!   ([`CustomResource`]); other ids are an `InvalidField`.
//! - A Type's field names are unique within the Type; whether another Type
//!   for the same resource uses the name with another type is not checked.
//! - An update request that changes something raises the version by one
//!   (as commercetools does for these resources); one that changes nothing
//!   keeps it.
//! - Deleting a Type or State that payments or other States still refer to
//!   is allowed; the rules then treat those references as unresolvable.

use crate::idempotency::{self, Answer, AnswerError};
use crate::table_keys::{prefix_end, project_prefix, push_text};
use parking_lot::Mutex;
use payledger_domain::payment::LocalizedString;
use payledger_domain::time::format_timestamp;
use payledger_domain::types::{
    CustomResource, FieldDefinition, FieldType, StateDefinition, StateType, TypeDefinition,
};
use payledger_domain::{Catalog, ProjectKey, ResourceRef, Timestamp};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Deref;

/// Most Types (and, separately, most States) one project may hold; a list
/// therefore always returns every resource of a kind.
pub const RESOURCES_PER_KIND_MAX: usize = 1_000;
/// Shortest key of a Type or State, in bytes.
pub const KEY_BYTES_MIN: usize = 2;
/// Longest key of a Type or State, in bytes.
pub const KEY_BYTES_MAX: usize = 256;
/// Shortest field definition name, in bytes.
pub const FIELD_NAME_BYTES_MIN: usize = 2;
/// Longest field definition name, in bytes.
pub const FIELD_NAME_BYTES_MAX: usize = 36;
/// Most field definitions of one Type.
pub const FIELD_DEFINITIONS_MAX: usize = 256;
/// Most values of one Enum or LocalizedEnum field type.
pub const ENUM_VALUES_MAX: usize = 500;
/// Deepest field type: `Set` of `Set` of a plain type is depth 3.
pub const FIELD_TYPE_DEPTH_MAX: usize = 3;
/// Most transitions of one State.
pub const TRANSITIONS_MAX: usize = RESOURCES_PER_KIND_MAX;
/// Most update actions in one request.
pub const ACTIONS_PER_REQUEST_MAX: usize = 500;

/// The `referenceTypeId`s a `Reference` field type may name (commercetools
/// `CustomFieldReferenceValue`).
pub const REFERENCE_TYPE_IDS: [&str; 19] = [
    "approval-flow",
    "approval-rule",
    "associate-role",
    "business-unit",
    "cart",
    "cart-discount",
    "category",
    "channel",
    "customer",
    "customer-group",
    "key-value-document",
    "order",
    "product",
    "product-type",
    "review",
    "state",
    "shipping-method",
    "variant",
    "zone",
];

mod definitions;
mod failures;
mod inputs;
mod records;
mod states;
mod storage;
#[cfg(test)]
mod tests;
mod types;
mod validation;

pub use definitions::*;
pub use failures::*;
pub use inputs::*;
pub use records::*;
pub use states::*;
pub use storage::*;
pub use types::*;
pub(crate) use validation::*;
