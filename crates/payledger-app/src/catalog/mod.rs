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
//! - `records`: the stored Type and State records (the API writes its own
//!   JSON from them).
//! - `inputs`, `failures`: drafts and actions in, errors out. The rules a
//!   draft or action must pass, and their rejections, are the domain's
//!   (`payledger_domain::catalog_rules`); the use cases ask them first.
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
use payledger_domain::catalog_rules as rules;
use payledger_domain::payment::LocalizedString;
use payledger_domain::time::format_timestamp;
use payledger_domain::types::{
    FieldDefinition, FieldType, StateDefinition, StateType, TypeDefinition,
};
use payledger_domain::{Catalog, ProjectKey, ResourceRef, Timestamp};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Deref;

/// The limits, kinds and rejections of the catalog rules, which live in
/// the domain (`payledger_domain::catalog_rules`).
pub use payledger_domain::catalog_rules::{
    ACTIONS_PER_REQUEST_MAX, CatalogKind, CatalogRejection, ENUM_VALUES_MAX, FIELD_DEFINITIONS_MAX,
    FIELD_NAME_BYTES_MAX, FIELD_NAME_BYTES_MIN, FIELD_TYPE_DEPTH_MAX, KEY_BYTES_MAX, KEY_BYTES_MIN,
    REFERENCE_TYPE_IDS, RESOURCES_PER_KIND_MAX, TRANSITIONS_MAX,
};

mod definitions;
mod failures;
mod inputs;
mod records;
mod states;
mod storage;
#[cfg(test)]
mod tests;
mod types;

pub use definitions::*;
pub use failures::*;
pub use inputs::*;
pub use records::*;
pub use states::*;
pub use storage::*;
pub use types::*;
