//! Custom field Types and States: the small catalog resources payments
//! refer to, stored beside the events and read by the payment rules.
//!
//! A record is the commercetools JSON representation of the resource (id,
//! version, key, timestamps, …) as serde structs with explicit field names:
//! it is both the stored format (a golden test proves old records load) and
//! what the API returns. [`StoredCatalog`] turns records into the domain's
//! [`TypeDefinition`] and [`StateDefinition`] for the payment rules.
//!
//! Writes are rare, so one process-wide lock serialises them; under it a
//! write checks the version and the key index and then commits the record
//! and its index entries in one atomic batch. One process serves a store
//! (see [`crate::claims`]), so an in-process lock is enough.
//!
//! | table   | key                              | value |
//! |---------|----------------------------------|-------|
//! | Catalog | project · `type` · id            | [`TypeRecord`] (JSON) |
//! | Catalog | project · `type-key` · key       | type id (UTF-8) |
//! | Catalog | project · `state` · id           | [`StateRecord`] (JSON) |
//! | Catalog | project · `state-key` · key      | state id (UTF-8) |
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

use crate::tables::{prefix_end, project_prefix, push_text};
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

/// Serialises every catalog write of the process (see the module docs).
static WRITES: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------
// Records: the stored and returned representation.

/// `{clientId, isPlatformClient}` of `createdBy` / `lastModifiedBy`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedBy {
    pub client_id: String,
    pub is_platform_client: bool,
}

/// A custom field Type.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeRecord {
    pub id: String,
    pub version: u64,
    pub created_at: String,
    pub last_modified_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<ModifiedBy>,
    pub key: String,
    pub name: LocalizedString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedString>,
    pub resource_type_ids: Vec<String>,
    pub field_definitions: Vec<FieldDefinitionRecord>,
}

/// One field of a Type; also the draft form (`fieldDefinitions[]`,
/// `addFieldDefinition`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDefinitionRecord {
    pub name: String,
    pub label: LocalizedString,
    pub required: bool,
    #[serde(rename = "type")]
    pub field_type: FieldTypeRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hint: Option<InputHint>,
}

/// A field's value type, tagged by `name` as in commercetools.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum FieldTypeRecord {
    Boolean,
    Number,
    String,
    LocalizedString,
    Enum {
        values: Vec<EnumValueRecord>,
    },
    LocalizedEnum {
        values: Vec<LocalizedEnumValueRecord>,
    },
    Money,
    Date,
    Time,
    DateTime,
    Reference {
        #[serde(rename = "referenceTypeId")]
        reference_type_id: String,
    },
    Set {
        #[serde(rename = "elementType")]
        element_type: Box<FieldTypeRecord>,
    },
}

/// `{key, label}` of an Enum field type.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnumValueRecord {
    pub key: String,
    pub label: String,
}

/// `{key, label}` of a LocalizedEnum field type.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalizedEnumValueRecord {
    pub key: String,
    pub label: LocalizedString,
}

/// commercetools `TypeTextInputHint`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum InputHint {
    SingleLine,
    MultiLine,
}

impl InputHint {
    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "SingleLine" => Some(Self::SingleLine),
            "MultiLine" => Some(Self::MultiLine),
            _ => None,
        }
    }
}

/// A State.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateRecord {
    pub id: String,
    pub version: u64,
    pub created_at: String,
    pub last_modified_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<ModifiedBy>,
    pub key: String,
    #[serde(rename = "type", with = "state_type_format")]
    pub state_type: StateType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<LocalizedString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedString>,
    pub initial: bool,
    pub built_in: bool,
    #[serde(default)]
    pub roles: Vec<StateRole>,
    /// `None` allows every transition; `Some([])` makes the State final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<StateReference>>,
}

/// `{typeId: "state", id}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReference {
    pub type_id: String,
    pub id: String,
}

impl StateReference {
    /// A reference to the State `id`.
    pub fn to(id: &str) -> Self {
        Self {
            type_id: CatalogKind::State.type_id().to_owned(),
            id: id.to_owned(),
        }
    }
}

/// commercetools `StateRoleEnum`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum StateRole {
    ReviewIncludedInStatistics,
    Return,
}

impl StateRole {
    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ReviewIncludedInStatistics" => Some(Self::ReviewIncludedInStatistics),
            "Return" => Some(Self::Return),
            _ => None,
        }
    }
}

mod state_type_format {
    //! `StateType` as its commercetools name: the domain has no serde, so
    //! the record field uses these functions (`#[serde(with = …)]`).

    use payledger_domain::types::StateType;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &StateType, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<StateType, D::Error> {
        let text = String::deserialize(deserializer)?;
        StateType::parse(&text).ok_or_else(|| D::Error::custom(format!("unknown StateType {text}")))
    }
}

// ---------------------------------------------------------------------------
// Inputs.

/// Who changes the catalog, and when.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CatalogMeta {
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The API client, for `createdBy` / `lastModifiedBy`.
    pub client_id: Option<String>,
}

impl CatalogMeta {
    /// `now_ms` as stored in `createdAt` / `lastModifiedAt`.
    pub(crate) fn now_text(&self) -> String {
        format_timestamp(Timestamp(self.now_ms))
    }

    pub(crate) fn modified_by(&self) -> Option<ModifiedBy> {
        self.client_id.as_ref().map(|client_id| ModifiedBy {
            client_id: client_id.clone(),
            is_platform_client: false,
        })
    }
}

/// A `TypeDraft`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TypeDraft {
    pub key: String,
    pub name: LocalizedString,
    pub description: Option<LocalizedString>,
    pub resource_type_ids: Vec<String>,
    pub field_definitions: Vec<FieldDefinitionRecord>,
}

/// An update action on a Type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TypeAction {
    ChangeName(LocalizedString),
    /// `None` removes the description.
    SetDescription(Option<LocalizedString>),
    AddFieldDefinition(FieldDefinitionRecord),
    RemoveFieldDefinition {
        field_name: String,
    },
    /// `changeLabel` of a field definition.
    ChangeLabel {
        field_name: String,
        label: LocalizedString,
    },
    ChangeKey(String),
}

/// A `StateDraft`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateDraft {
    pub key: String,
    pub state_type: StateType,
    pub name: Option<LocalizedString>,
    pub description: Option<LocalizedString>,
    /// commercetools defaults this to `true`.
    pub initial: bool,
    pub roles: Vec<StateRole>,
    /// `None` allows every transition; `Some([])` makes the State final.
    pub transitions: Option<Vec<ResourceRef>>,
}

/// An update action on a State.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StateAction {
    /// `None` removes the name.
    SetName(Option<LocalizedString>),
    /// `None` removes the description.
    SetDescription(Option<LocalizedString>),
    ChangeInitial(bool),
    /// `None` allows every transition again.
    SetTransitions(Option<Vec<ResourceRef>>),
    ChangeKey(String),
}

// ---------------------------------------------------------------------------
// Failures.

/// The two kinds of catalog resource.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CatalogKind {
    Type,
    State,
}

impl CatalogKind {
    /// The commercetools `typeId` (`type`, `state`).
    pub const fn type_id(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::State => "state",
        }
    }

    /// The key component of the records.
    const fn record_tag(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::State => "state",
        }
    }

    /// The key component of the key index.
    const fn key_tag(self) -> &'static str {
        match self {
            Self::Type => "type-key",
            Self::State => "state-key",
        }
    }
}

impl fmt::Display for CatalogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Type => "Type",
            Self::State => "State",
        })
    }
}

/// One variant per catalog rule that can say no.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CatalogRejection {
    /// The key is not 2–256 characters of `A-Za-z0-9_-`.
    InvalidKey {
        key: String,
    },
    /// Another resource of the kind already has the key.
    DuplicateKey {
        key: String,
    },
    /// A Type needs at least one `resourceTypeIds` entry.
    MissingResourceTypeIds,
    /// A `resourceTypeIds` entry payledger does not host.
    UnknownResourceTypeId {
        value: String,
    },
    DuplicateResourceTypeId {
        value: String,
    },
    /// A field name is not 2–36 characters of `A-Za-z0-9_-`.
    InvalidFieldName {
        name: String,
    },
    DuplicateFieldName {
        name: String,
    },
    /// An action names a field the Type does not define.
    UnknownFieldName {
        name: String,
    },
    TooManyFieldDefinitions {
        max: usize,
    },
    /// An enum value key is empty or longer than [`KEY_BYTES_MAX`].
    InvalidEnumKey {
        key: String,
    },
    DuplicateEnumKeys {
        duplicates: Vec<String>,
    },
    TooManyEnumValues {
        max: usize,
    },
    UnknownReferenceTypeId {
        value: String,
    },
    FieldTypeTooDeep {
        max: usize,
    },
    /// A transition names no existing State.
    TransitionNotFound {
        by: ResourceRef,
    },
    /// A transition names a State of another type.
    TransitionToOtherType {
        target_key: String,
        target_type: StateType,
        state_type: StateType,
    },
    TooManyTransitions {
        max: usize,
    },
    /// The project already holds the most resources of the kind.
    TooManyResources {
        kind: CatalogKind,
        max: usize,
    },
    TooManyActions {
        max: usize,
    },
}

impl CatalogRejection {
    /// A message for the client.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidKey { key } => format!(
                "The key '{key}' must be {KEY_BYTES_MIN} to {KEY_BYTES_MAX} characters of A-Z, a-z, 0-9, '_' and '-'."
            ),
            Self::DuplicateKey { key } => {
                format!("A resource with the key '{key}' already exists.")
            }
            Self::MissingResourceTypeIds => {
                "A Type needs at least one resourceTypeIds entry.".to_owned()
            }
            Self::UnknownResourceTypeId { value } => format!(
                "The resourceTypeId '{value}' is not supported; payledger hosts custom fields on {}.",
                hosted_resource_type_ids().join(", ")
            ),
            Self::DuplicateResourceTypeId { value } => {
                format!("The resourceTypeId '{value}' is listed twice.")
            }
            Self::InvalidFieldName { name } => format!(
                "The field name '{name}' must be {FIELD_NAME_BYTES_MIN} to {FIELD_NAME_BYTES_MAX} characters of A-Z, a-z, 0-9, '_' and '-'."
            ),
            Self::DuplicateFieldName { name } => {
                format!("A field definition with the name '{name}' already exists.")
            }
            Self::UnknownFieldName { name } => {
                format!("The Type has no field definition with the name '{name}'.")
            }
            Self::TooManyFieldDefinitions { max } => {
                format!("A Type has at most {max} field definitions.")
            }
            Self::InvalidEnumKey { key } => {
                format!("The enum value key '{key}' must be 1 to {KEY_BYTES_MAX} characters long.")
            }
            Self::DuplicateEnumKeys { duplicates } => format!(
                "The enum value keys must be unique; duplicates: {}.",
                duplicates.join(", ")
            ),
            Self::TooManyEnumValues { max } => {
                format!("An enum field type has at most {max} values.")
            }
            Self::UnknownReferenceTypeId { value } => {
                format!("The referenceTypeId '{value}' is not a valid reference type.")
            }
            Self::FieldTypeTooDeep { max } => {
                format!("Field types nest at most {max} levels deep.")
            }
            Self::TransitionNotFound { by } => {
                format!("A State with {by} was not found.")
            }
            Self::TransitionToOtherType {
                target_key,
                target_type,
                state_type,
            } => format!(
                "The transition target '{target_key}' is a {target_type}, not a {state_type}."
            ),
            Self::TooManyTransitions { max } => {
                format!("A State has at most {max} transitions.")
            }
            Self::TooManyResources { kind, max } => {
                format!("A project holds at most {max} resources of type {kind}.")
            }
            Self::TooManyActions { max } => {
                format!("An update request carries at most {max} actions.")
            }
        }
    }
}

impl fmt::Display for CatalogRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why a catalog use case did not complete. Nothing was written in every
/// case.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("rejected: {0}")]
    Rejected(CatalogRejection),
    #[error("the {0} was not found")]
    NotFound(CatalogKind),
    #[error(
        "object {id} has a different version than expected (expected {expected}, actual {current_version})"
    )]
    Conflict {
        id: String,
        expected: u64,
        current_version: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CatalogRejection> for CatalogError {
    fn from(rejection: CatalogRejection) -> Self {
        Self::Rejected(rejection)
    }
}

// ---------------------------------------------------------------------------
// Generic storage of records.

/// What every catalog record offers to the generic store code.
pub trait CatalogRecord: Serialize + DeserializeOwned + Clone + Send + 'static {
    const KIND: CatalogKind;
    fn id(&self) -> &str;
    fn key(&self) -> &str;
    fn version(&self) -> u64;
    fn created_at(&self) -> &str;
}

impl CatalogRecord for TypeRecord {
    const KIND: CatalogKind = CatalogKind::Type;
    fn id(&self) -> &str {
        &self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
}

impl CatalogRecord for StateRecord {
    const KIND: CatalogKind = CatalogKind::State;
    fn id(&self) -> &str {
        &self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
}

/// The key prefix of every record of a kind in a project.
pub fn records_prefix(project: &ProjectKey, kind: CatalogKind) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, kind.record_tag());
    key
}

/// The key of one record.
pub fn record_key(project: &ProjectKey, kind: CatalogKind, id: &str) -> Vec<u8> {
    let mut key = records_prefix(project, kind);
    push_text(&mut key, id);
    key
}

/// The key prefix of a kind's key index in a project.
pub fn key_index_prefix(project: &ProjectKey, kind: CatalogKind) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, kind.key_tag());
    key
}

/// The key index entry of one key.
pub fn key_index_key(project: &ProjectKey, kind: CatalogKind, resource_key: &str) -> Vec<u8> {
    let mut key = key_index_prefix(project, kind);
    push_text(&mut key, resource_key);
    key
}

fn corrupt(kind: CatalogKind, what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("catalog {kind}: {what}"))
}

fn encode<R: CatalogRecord>(record: &R) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| corrupt(R::KIND, e))
}

/// Reads a record by id; checks it is the record the key names.
fn read_by_id<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    id: &str,
) -> Result<Option<R>, StoreError> {
    if id.is_empty() || id.len() > KEY_BYTES_MAX {
        return Ok(None); // Such an id is never assigned.
    }
    let Some(bytes) = store.get(Table::Catalog, &record_key(project, R::KIND, id))? else {
        return Ok(None);
    };
    let record: R = serde_json::from_slice(&bytes).map_err(|e| corrupt(R::KIND, e))?;
    if record.id() != id {
        return Err(corrupt(
            R::KIND,
            format!("record {id} names id {}", record.id()),
        ));
    }
    Ok(Some(record))
}

/// Reads the id the key index holds for `resource_key`.
fn id_by_key(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
    resource_key: &str,
) -> Result<Option<String>, StoreError> {
    if resource_key.is_empty() || resource_key.len() > KEY_BYTES_MAX {
        return Ok(None); // Such a key is never stored.
    }
    match store.get(Table::Catalog, &key_index_key(project, kind, resource_key))? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| corrupt(kind, e)),
    }
}

/// Reads a record by id or key.
fn read<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<Option<R>, StoreError> {
    match by {
        ResourceRef::Id(id) => read_by_id(store, project, id),
        ResourceRef::Key(key) => {
            let Some(id) = id_by_key(store, project, R::KIND, key)? else {
                return Ok(None);
            };
            let record: Option<R> = read_by_id(store, project, &id)?;
            match record {
                Some(record) if record.key() != key => Err(corrupt(
                    R::KIND,
                    format!("key index {key} points at {id} with key {}", record.key()),
                )),
                // A missing record behind an index entry is corruption too.
                None => Err(corrupt(R::KIND, format!("key index {key} points at {id}"))),
                found => Ok(found),
            }
        }
    }
}

/// The writes that store `record` and move its key index entry from
/// `previous_key` (if any and different).
fn put_writes<R: CatalogRecord>(
    project: &ProjectKey,
    record: &R,
    previous_key: Option<&str>,
) -> Result<Vec<KvWrite>, StoreError> {
    let mut writes = vec![KvWrite {
        table: Table::Catalog,
        key: record_key(project, R::KIND, record.id()),
        value: Some(encode(record)?),
    }];
    if previous_key != Some(record.key()) {
        if let Some(previous) = previous_key {
            writes.push(KvWrite {
                table: Table::Catalog,
                key: key_index_key(project, R::KIND, previous),
                value: None,
            });
        }
        writes.push(KvWrite {
            table: Table::Catalog,
            key: key_index_key(project, R::KIND, record.key()),
            value: Some(record.id().as_bytes().to_vec()),
        });
    }
    Ok(writes)
}

/// Fails when another resource of the kind holds `resource_key`.
fn check_key_free(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
    resource_key: &str,
    own_id: Option<&str>,
) -> Result<(), CatalogError> {
    match id_by_key(store, project, kind, resource_key)? {
        Some(holder) if Some(holder.as_str()) != own_id => Err(CatalogRejection::DuplicateKey {
            key: resource_key.to_owned(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Fails when the project already holds the most resources of the kind.
fn check_room(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    kind: CatalogKind,
) -> Result<(), CatalogError> {
    let from = key_index_prefix(project, kind);
    let held = store
        .scan(
            Table::Catalog,
            &from,
            &prefix_end(&from),
            RESOURCES_PER_KIND_MAX,
        )?
        .len();
    if held >= RESOURCES_PER_KIND_MAX {
        return Err(CatalogRejection::TooManyResources {
            kind,
            max: RESOURCES_PER_KIND_MAX,
        }
        .into());
    }
    Ok(())
}

/// Loads the record a write targets and checks its version.
fn current<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
) -> Result<R, CatalogError> {
    let record: R = read(store, project, by)?.ok_or(CatalogError::NotFound(R::KIND))?;
    if record.version() != version {
        return Err(CatalogError::Conflict {
            id: record.id().to_owned(),
            expected: version,
            current_version: record.version(),
        });
    }
    Ok(record)
}

/// Reads a Type or State by id or key.
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND))]
pub fn get<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<R, CatalogError> {
    read(store, project, by)?.ok_or(CatalogError::NotFound(R::KIND))
}

/// Every Type or State of a project (at most [`RESOURCES_PER_KIND_MAX`]),
/// oldest first.
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND))]
pub fn list<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
) -> Result<Vec<R>, CatalogError> {
    let from = records_prefix(project, R::KIND);
    let rows = store.scan(
        Table::Catalog,
        &from,
        &prefix_end(&from),
        RESOURCES_PER_KIND_MAX,
    )?;
    let mut records = rows
        .iter()
        .map(|(_, value)| serde_json::from_slice::<R>(value).map_err(|e| corrupt(R::KIND, e)))
        .collect::<Result<Vec<R>, StoreError>>()?;
    // Timestamps have a fixed width, so text order is time order.
    records.sort_by(|a, b| {
        a.created_at()
            .cmp(b.created_at())
            .then_with(|| a.id().cmp(b.id()))
    });
    Ok(records)
}

/// Deletes a Type or State at `version`; returns the deleted record.
#[tracing::instrument(skip_all, fields(project = %project, kind = %R::KIND, version))]
pub fn delete<R: CatalogRecord>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
) -> Result<R, CatalogError> {
    let _writes = WRITES.lock();
    let record: R = current(store, project, by, version)?;
    store.write(vec![
        KvWrite {
            table: Table::Catalog,
            key: record_key(project, R::KIND, record.id()),
            value: None,
        },
        KvWrite {
            table: Table::Catalog,
            key: key_index_key(project, R::KIND, record.key()),
            value: None,
        },
    ])?;
    Ok(record)
}

// ---------------------------------------------------------------------------
// Validation.

/// `^[A-Za-z0-9_-]+$` within the byte bounds.
pub(crate) fn is_identifier(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_key(key: &str) -> Result<(), CatalogRejection> {
    if is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX) {
        Ok(())
    } else {
        Err(CatalogRejection::InvalidKey {
            key: key.to_owned(),
        })
    }
}

fn hosted_resource_type_ids() -> Vec<&'static str> {
    CustomResource::ALL
        .iter()
        .map(|r| r.resource_type_id())
        .collect()
}

fn check_resource_type_ids(ids: &[String]) -> Result<(), CatalogRejection> {
    if ids.is_empty() {
        return Err(CatalogRejection::MissingResourceTypeIds);
    }
    let hosted = hosted_resource_type_ids();
    let mut seen = BTreeSet::new();
    for id in ids {
        if !hosted.contains(&id.as_str()) {
            return Err(CatalogRejection::UnknownResourceTypeId { value: id.clone() });
        }
        if !seen.insert(id.as_str()) {
            return Err(CatalogRejection::DuplicateResourceTypeId { value: id.clone() });
        }
    }
    Ok(())
}

fn check_field_definition(definition: &FieldDefinitionRecord) -> Result<(), CatalogRejection> {
    if !is_identifier(&definition.name, FIELD_NAME_BYTES_MIN, FIELD_NAME_BYTES_MAX) {
        return Err(CatalogRejection::InvalidFieldName {
            name: definition.name.clone(),
        });
    }
    check_field_type(&definition.field_type, 1)
}

fn check_field_type(field_type: &FieldTypeRecord, depth: usize) -> Result<(), CatalogRejection> {
    if depth > FIELD_TYPE_DEPTH_MAX {
        return Err(CatalogRejection::FieldTypeTooDeep {
            max: FIELD_TYPE_DEPTH_MAX,
        });
    }
    match field_type {
        FieldTypeRecord::Boolean
        | FieldTypeRecord::Number
        | FieldTypeRecord::String
        | FieldTypeRecord::LocalizedString
        | FieldTypeRecord::Money
        | FieldTypeRecord::Date
        | FieldTypeRecord::Time
        | FieldTypeRecord::DateTime => Ok(()),
        FieldTypeRecord::Enum { values } => check_enum_keys(values.iter().map(|v| &v.key)),
        FieldTypeRecord::LocalizedEnum { values } => check_enum_keys(values.iter().map(|v| &v.key)),
        FieldTypeRecord::Reference { reference_type_id } => {
            if REFERENCE_TYPE_IDS.contains(&reference_type_id.as_str()) {
                Ok(())
            } else {
                Err(CatalogRejection::UnknownReferenceTypeId {
                    value: reference_type_id.clone(),
                })
            }
        }
        FieldTypeRecord::Set { element_type } => check_field_type(element_type, depth + 1),
    }
}

fn check_enum_keys<'a>(
    keys: impl ExactSizeIterator<Item = &'a String>,
) -> Result<(), CatalogRejection> {
    if keys.len() > ENUM_VALUES_MAX {
        return Err(CatalogRejection::TooManyEnumValues {
            max: ENUM_VALUES_MAX,
        });
    }
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for key in keys {
        if key.is_empty() || key.len() > KEY_BYTES_MAX {
            return Err(CatalogRejection::InvalidEnumKey { key: key.clone() });
        }
        if !seen.insert(key) {
            duplicates.insert(key.clone());
        }
    }
    if duplicates.is_empty() {
        Ok(())
    } else {
        Err(CatalogRejection::DuplicateEnumKeys {
            duplicates: duplicates.into_iter().collect(),
        })
    }
}

fn check_field_definitions(definitions: &[FieldDefinitionRecord]) -> Result<(), CatalogRejection> {
    if definitions.len() > FIELD_DEFINITIONS_MAX {
        return Err(CatalogRejection::TooManyFieldDefinitions {
            max: FIELD_DEFINITIONS_MAX,
        });
    }
    let mut names = BTreeSet::new();
    for definition in definitions {
        check_field_definition(definition)?;
        if !names.insert(definition.name.as_str()) {
            return Err(CatalogRejection::DuplicateFieldName {
                name: definition.name.clone(),
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Types.

/// Creates a Type (version 1, a new UUID id).
#[tracing::instrument(skip_all, fields(project = %project, key = %draft.key))]
pub fn create_type(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: TypeDraft,
    meta: &CatalogMeta,
) -> Result<TypeRecord, CatalogError> {
    check_key(&draft.key)?;
    check_resource_type_ids(&draft.resource_type_ids)?;
    check_field_definitions(&draft.field_definitions)?;
    let now = meta.now_text();
    let record = TypeRecord {
        id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        created_at: now.clone(),
        last_modified_at: now,
        created_by: meta.modified_by(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        name: draft.name,
        description: draft.description,
        resource_type_ids: draft.resource_type_ids,
        field_definitions: draft.field_definitions,
    };
    let _writes = WRITES.lock();
    check_room(store, project, CatalogKind::Type)?;
    check_key_free(store, project, CatalogKind::Type, &record.key, None)?;
    store.write(put_writes(project, &record, None)?)?;
    Ok(record)
}

/// Applies update actions to a Type at `version`, all or nothing.
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn update_type(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    actions: Vec<TypeAction>,
    meta: &CatalogMeta,
) -> Result<TypeRecord, CatalogError> {
    check_action_count(actions.len())?;
    let _writes = WRITES.lock();
    let before: TypeRecord = current(store, project, by, version)?;
    let mut after = before.clone();
    for action in actions {
        apply_type_action(&mut after, action)?;
    }
    commit_update(store, project, &before, after, meta)
}

fn check_action_count(count: usize) -> Result<(), CatalogRejection> {
    if count > ACTIONS_PER_REQUEST_MAX {
        return Err(CatalogRejection::TooManyActions {
            max: ACTIONS_PER_REQUEST_MAX,
        });
    }
    Ok(())
}

fn apply_type_action(record: &mut TypeRecord, action: TypeAction) -> Result<(), CatalogRejection> {
    match action {
        TypeAction::ChangeName(name) => record.name = name,
        TypeAction::SetDescription(description) => record.description = description,
        TypeAction::AddFieldDefinition(definition) => {
            check_field_definition(&definition)?;
            if record
                .field_definitions
                .iter()
                .any(|f| f.name == definition.name)
            {
                return Err(CatalogRejection::DuplicateFieldName {
                    name: definition.name,
                });
            }
            if record.field_definitions.len() >= FIELD_DEFINITIONS_MAX {
                return Err(CatalogRejection::TooManyFieldDefinitions {
                    max: FIELD_DEFINITIONS_MAX,
                });
            }
            record.field_definitions.push(definition);
        }
        TypeAction::RemoveFieldDefinition { field_name } => {
            let before = record.field_definitions.len();
            record.field_definitions.retain(|f| f.name != field_name);
            if record.field_definitions.len() == before {
                return Err(CatalogRejection::UnknownFieldName { name: field_name });
            }
        }
        TypeAction::ChangeLabel { field_name, label } => {
            let Some(definition) = record
                .field_definitions
                .iter_mut()
                .find(|f| f.name == field_name)
            else {
                return Err(CatalogRejection::UnknownFieldName { name: field_name });
            };
            definition.label = label;
        }
        TypeAction::ChangeKey(key) => {
            check_key(&key)?;
            record.key = key;
        }
    }
    Ok(())
}

/// Things every record has that an update stamps.
trait Stamped: CatalogRecord + PartialEq {
    fn stamp(&mut self, version: u64, now: String, by: Option<ModifiedBy>);
}

impl Stamped for TypeRecord {
    fn stamp(&mut self, version: u64, now: String, by: Option<ModifiedBy>) {
        self.version = version;
        self.last_modified_at = now;
        self.last_modified_by = by;
    }
}

impl Stamped for StateRecord {
    fn stamp(&mut self, version: u64, now: String, by: Option<ModifiedBy>) {
        self.version = version;
        self.last_modified_at = now;
        self.last_modified_by = by;
    }
}

/// Writes an updated record (if it changed) with the next version.
fn commit_update<R: Stamped>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    before: &R,
    mut after: R,
    meta: &CatalogMeta,
) -> Result<R, CatalogError> {
    if after == *before {
        return Ok(after);
    }
    if after.key() != before.key() {
        check_key_free(store, project, R::KIND, after.key(), Some(before.id()))?;
    }
    after.stamp(before.version() + 1, meta.now_text(), meta.modified_by());
    store.write(put_writes(project, &after, Some(before.key()))?)?;
    Ok(after)
}

// ---------------------------------------------------------------------------
// States.

/// Creates a State (version 1, a new UUID id); transitions must name
/// existing States of the same type.
#[tracing::instrument(skip_all, fields(project = %project, key = %draft.key))]
pub fn create_state(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: StateDraft,
    meta: &CatalogMeta,
) -> Result<StateRecord, CatalogError> {
    check_key(&draft.key)?;
    let now = meta.now_text();
    let mut record = StateRecord {
        id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        created_at: now.clone(),
        last_modified_at: now,
        created_by: meta.modified_by(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        state_type: draft.state_type,
        name: draft.name,
        description: draft.description,
        initial: draft.initial,
        built_in: false,
        roles: draft.roles,
        transitions: None,
    };
    let _writes = WRITES.lock();
    check_room(store, project, CatalogKind::State)?;
    check_key_free(store, project, CatalogKind::State, &record.key, None)?;
    record.transitions = resolve_transitions(store, project, &record, draft.transitions)?;
    store.write(put_writes(project, &record, None)?)?;
    Ok(record)
}

/// Applies update actions to a State at `version`, all or nothing.
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn update_state(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    actions: Vec<StateAction>,
    meta: &CatalogMeta,
) -> Result<StateRecord, CatalogError> {
    check_action_count(actions.len())?;
    let _writes = WRITES.lock();
    let before: StateRecord = current(store, project, by, version)?;
    let mut after = before.clone();
    for action in actions {
        match action {
            StateAction::SetName(name) => after.name = name,
            StateAction::SetDescription(description) => after.description = description,
            StateAction::ChangeInitial(initial) => after.initial = initial,
            StateAction::SetTransitions(transitions) => {
                after.transitions = resolve_transitions(store, project, &after, transitions)?;
            }
            StateAction::ChangeKey(key) => {
                check_key(&key)?;
                after.key = key;
            }
        }
    }
    commit_update(store, project, &before, after, meta)
}

/// Resolves transition targets to references by id. `state` itself (as it
/// is being written) is a valid target.
fn resolve_transitions(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    state: &StateRecord,
    targets: Option<Vec<ResourceRef>>,
) -> Result<Option<Vec<StateReference>>, CatalogError> {
    let Some(targets) = targets else {
        return Ok(None);
    };
    if targets.len() > TRANSITIONS_MAX {
        return Err(CatalogRejection::TooManyTransitions {
            max: TRANSITIONS_MAX,
        }
        .into());
    }
    let mut resolved = Vec::with_capacity(targets.len());
    for by in targets {
        let is_self = match &by {
            ResourceRef::Id(id) => *id == state.id,
            ResourceRef::Key(key) => *key == state.key,
        };
        if is_self {
            resolved.push(StateReference::to(&state.id));
            continue;
        }
        let Some(target) = read::<StateRecord>(store, project, &by)? else {
            return Err(CatalogRejection::TransitionNotFound { by }.into());
        };
        if target.state_type != state.state_type {
            return Err(CatalogRejection::TransitionToOtherType {
                target_key: target.key,
                target_type: target.state_type,
                state_type: state.state_type,
            }
            .into());
        }
        resolved.push(StateReference::to(&target.id));
    }
    Ok(Some(resolved))
}

// ---------------------------------------------------------------------------
// The domain's view.

impl TypeRecord {
    /// What the payment rules need of this Type.
    pub fn to_definition(&self) -> TypeDefinition {
        TypeDefinition {
            id: self.id.clone(),
            key: self.key.clone(),
            resource_type_ids: self.resource_type_ids.clone(),
            field_definitions: self
                .field_definitions
                .iter()
                .map(|f| FieldDefinition {
                    name: f.name.clone(),
                    field_type: f.field_type.to_field_type(),
                    required: f.required,
                })
                .collect(),
        }
    }
}

impl FieldTypeRecord {
    /// The domain's field type.
    pub fn to_field_type(&self) -> FieldType {
        match self {
            Self::Boolean => FieldType::Boolean,
            Self::Number => FieldType::Number,
            Self::String => FieldType::String,
            Self::LocalizedString => FieldType::LocalizedString,
            Self::Enum { values } => FieldType::Enum {
                keys: values.iter().map(|v| v.key.clone()).collect(),
            },
            Self::LocalizedEnum { values } => FieldType::LocalizedEnum {
                keys: values.iter().map(|v| v.key.clone()).collect(),
            },
            Self::Money => FieldType::Money,
            Self::Date => FieldType::Date,
            Self::Time => FieldType::Time,
            Self::DateTime => FieldType::DateTime,
            Self::Reference { reference_type_id } => FieldType::Reference {
                reference_type_id: reference_type_id.clone(),
            },
            Self::Set { element_type } => FieldType::Set(Box::new(element_type.to_field_type())),
        }
    }
}

impl StateRecord {
    /// What the payment rules need of this State.
    pub fn to_definition(&self) -> StateDefinition {
        StateDefinition {
            id: self.id.clone(),
            key: self.key.clone(),
            state_type: self.state_type,
            initial: self.initial,
            transitions: self
                .transitions
                .as_ref()
                .map(|refs| refs.iter().map(|r| r.id.clone()).collect()),
        }
    }
}

/// The [`Catalog`] of one project, read from the store on every lookup.
/// A store failure reads as "not found" (the rules then reject the
/// reference) and is logged.
///
/// `S` is any handle to a store: `&MemoryStore`, `&dyn EventStore` or an
/// owned `Arc<dyn EventStore>` (for a catalog that borrows nothing).
#[derive(Clone, Debug)]
pub struct StoredCatalog<S> {
    pub store: S,
    pub project: ProjectKey,
}

impl<S, T> StoredCatalog<S>
where
    S: Deref<Target = T>,
    T: EventStore + ?Sized,
{
    pub fn new(store: S, project: ProjectKey) -> Self {
        Self { store, project }
    }

    fn lookup<R: CatalogRecord>(&self, by: &ResourceRef) -> Option<R> {
        match read(&*self.store, &self.project, by) {
            Ok(found) => found,
            Err(failure) => {
                tracing::error!(%failure, kind = %R::KIND, "catalog lookup failed");
                None
            }
        }
    }
}

impl<S, T> Catalog for StoredCatalog<S>
where
    S: Deref<Target = T>,
    T: EventStore + ?Sized,
{
    fn type_by_id(&self, id: &str) -> Option<TypeDefinition> {
        self.lookup::<TypeRecord>(&ResourceRef::Id(id.to_owned()))
            .map(|t| t.to_definition())
    }

    fn type_by_key(&self, key: &str) -> Option<TypeDefinition> {
        self.lookup::<TypeRecord>(&ResourceRef::Key(key.to_owned()))
            .map(|t| t.to_definition())
    }

    fn state_by_id(&self, id: &str) -> Option<StateDefinition> {
        self.lookup::<StateRecord>(&ResourceRef::Id(id.to_owned()))
            .map(|s| s.to_definition())
    }

    fn state_by_key(&self, key: &str) -> Option<StateDefinition> {
        self.lookup::<StateRecord>(&ResourceRef::Key(key.to_owned()))
            .map(|s| s.to_definition())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::memory::MemoryStore;
    use serde_json::{Value, json};

    /// A Type record as payledger stored it at format version 1. Never
    /// edit: a failing decode means stored data no longer loads.
    const GOLDEN_TYPE_V1: &str = r#"{
        "id": "6f1c9c1e-4a52-4d8e-9f57-0a4e3c1b2d01",
        "version": 3,
        "createdAt": "2026-01-02T03:04:05.006Z",
        "lastModifiedAt": "2026-01-03T00:00:00.000Z",
        "createdBy": {"clientId": "client-1", "isPlatformClient": false},
        "lastModifiedBy": {"clientId": "client-2", "isPlatformClient": false},
        "key": "payment-extras",
        "name": {"en": "Payment extras", "de": "Zahlungsextras"},
        "description": {"en": "Order data on payments"},
        "resourceTypeIds": ["payment", "transaction"],
        "fieldDefinitions": [
            {"name": "orderNumber", "label": {"en": "Order number"}, "required": true,
             "type": {"name": "String"}, "inputHint": "SingleLine"},
            {"name": "channel", "label": {"en": "Channel"}, "required": false,
             "type": {"name": "Enum", "values": [{"key": "web", "label": "Web"}]}},
            {"name": "tier", "label": {"en": "Tier"}, "required": false,
             "type": {"name": "LocalizedEnum", "values": [{"key": "gold", "label": {"en": "Gold"}}]}},
            {"name": "tags", "label": {"en": "Tags"}, "required": false,
             "type": {"name": "Set", "elementType": {"name": "Reference", "referenceTypeId": "customer"}}},
            {"name": "fee", "label": {"en": "Fee"}, "required": false, "type": {"name": "Money"}},
            {"name": "due", "label": {"en": "Due"}, "required": false, "type": {"name": "DateTime"}}
        ]
    }"#;

    /// A State record as payledger stored it at format version 1.
    const GOLDEN_STATE_V1: &str = r#"{
        "id": "0b7c5e0a-1d0e-4f11-8c55-6f3a9e2b7c10",
        "version": 2,
        "createdAt": "2026-01-02T03:04:05.006Z",
        "lastModifiedAt": "2026-01-02T03:04:06.000Z",
        "key": "paid",
        "type": "PaymentState",
        "name": {"en": "Paid"},
        "initial": false,
        "builtIn": false,
        "roles": [],
        "transitions": [{"typeId": "state", "id": "5d3a1b2c-0000-4000-8000-000000000001"}]
    }"#;

    fn project(text: &str) -> ProjectKey {
        ProjectKey::parse(text).unwrap()
    }

    fn meta(now_ms: i64) -> CatalogMeta {
        CatalogMeta {
            now_ms,
            client_id: Some("client-1".to_owned()),
        }
    }

    fn localized(text: &str) -> LocalizedString {
        [("en".to_owned(), text.to_owned())].into()
    }

    fn field(name: &str, field_type: FieldTypeRecord) -> FieldDefinitionRecord {
        FieldDefinitionRecord {
            name: name.to_owned(),
            label: localized(name),
            required: false,
            field_type,
            input_hint: None,
        }
    }

    fn type_draft(key: &str) -> TypeDraft {
        TypeDraft {
            key: key.to_owned(),
            name: localized("Extras"),
            description: None,
            resource_type_ids: vec!["payment".to_owned()],
            field_definitions: vec![field("orderNumber", FieldTypeRecord::String)],
        }
    }

    fn state_draft(key: &str, initial: bool, transitions: Option<Vec<ResourceRef>>) -> StateDraft {
        StateDraft {
            key: key.to_owned(),
            state_type: StateType::PaymentState,
            name: Some(localized(key)),
            description: None,
            initial,
            roles: Vec::new(),
            transitions,
        }
    }

    fn key(text: &str) -> ResourceRef {
        ResourceRef::Key(text.to_owned())
    }

    fn id(text: &str) -> ResourceRef {
        ResourceRef::Id(text.to_owned())
    }

    fn rejection(result: Result<impl fmt::Debug, CatalogError>) -> CatalogRejection {
        match result {
            Err(CatalogError::Rejected(rejection)) => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn golden_records_still_decode_and_encode_the_same() {
        let record: TypeRecord = serde_json::from_str(GOLDEN_TYPE_V1).unwrap();
        assert_eq!(record.version, 3);
        assert_eq!(record.field_definitions.len(), 6);
        assert_eq!(
            record.field_definitions[3].field_type,
            FieldTypeRecord::Set {
                element_type: Box::new(FieldTypeRecord::Reference {
                    reference_type_id: "customer".to_owned()
                })
            }
        );
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::from_str::<Value>(GOLDEN_TYPE_V1).unwrap()
        );

        let state: StateRecord = serde_json::from_str(GOLDEN_STATE_V1).unwrap();
        assert_eq!(state.state_type, StateType::PaymentState);
        assert_eq!(
            state.to_definition().transitions,
            Some(vec!["5d3a1b2c-0000-4000-8000-000000000001".to_owned()])
        );
        assert_eq!(
            serde_json::to_value(&state).unwrap(),
            serde_json::from_str::<Value>(GOLDEN_STATE_V1).unwrap()
        );
    }

    #[test]
    fn a_type_is_created_read_and_listed() {
        let store = MemoryStore::new();
        let p = project("shop");
        let created = create_type(&store, &p, type_draft("extras"), &meta(1_000)).unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(created.created_at, "1970-01-01T00:00:01.000Z");
        assert_eq!(created.created_by.as_ref().unwrap().client_id, "client-1");
        assert!(uuid::Uuid::parse_str(&created.id).is_ok());

        assert_eq!(
            get::<TypeRecord>(&store, &p, &id(&created.id)).unwrap(),
            created
        );
        assert_eq!(
            get::<TypeRecord>(&store, &p, &key("extras")).unwrap(),
            created
        );
        let second = create_type(&store, &p, type_draft("second"), &meta(500)).unwrap();
        let listed: Vec<TypeRecord> = list(&store, &p).unwrap();
        assert_eq!(listed, vec![second, created.clone()], "oldest first");

        // Another project sees nothing, and may reuse the key.
        let other = project("shop-2");
        assert!(matches!(
            get::<TypeRecord>(&store, &other, &id(&created.id)),
            Err(CatalogError::NotFound(CatalogKind::Type))
        ));
        assert!(list::<TypeRecord>(&store, &other).unwrap().is_empty());
        create_type(&store, &other, type_draft("extras"), &meta(1)).unwrap();
        // States live apart from Types: the same key is free there.
        create_state(&store, &p, state_draft("extras", true, None), &meta(1)).unwrap();
    }

    #[test]
    fn type_keys_are_unique_per_project() {
        let store = MemoryStore::new();
        let p = project("shop");
        create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
        assert_eq!(
            rejection(create_type(&store, &p, type_draft("extras"), &meta(2))),
            CatalogRejection::DuplicateKey {
                key: "extras".to_owned()
            }
        );
        assert_eq!(list::<TypeRecord>(&store, &p).unwrap().len(), 1);
    }

    #[test]
    fn invalid_type_drafts_are_rejected_by_name() {
        let store = MemoryStore::new();
        let p = project("shop");
        let check = |edit: &dyn Fn(&mut TypeDraft), expected: CatalogRejection| {
            let mut draft = type_draft("extras");
            edit(&mut draft);
            assert_eq!(
                rejection(create_type(&store, &p, draft, &meta(1))),
                expected
            );
        };
        let text = |s: &str| s.to_owned();
        check(
            &|d| d.key = text("x"),
            CatalogRejection::InvalidKey { key: text("x") },
        );
        check(
            &|d| d.key = text("a b"),
            CatalogRejection::InvalidKey { key: text("a b") },
        );
        check(
            &|d| d.resource_type_ids.clear(),
            CatalogRejection::MissingResourceTypeIds,
        );
        check(
            &|d| d.resource_type_ids = vec![text("order")],
            CatalogRejection::UnknownResourceTypeId {
                value: text("order"),
            },
        );
        check(
            &|d| d.resource_type_ids = vec![text("payment"), text("payment")],
            CatalogRejection::DuplicateResourceTypeId {
                value: text("payment"),
            },
        );
        check(
            &|d| {
                d.field_definitions
                    .push(field("orderNumber", FieldTypeRecord::Number))
            },
            CatalogRejection::DuplicateFieldName {
                name: text("orderNumber"),
            },
        );
        check(
            &|d| d.field_definitions = vec![field("a", FieldTypeRecord::Number)],
            CatalogRejection::InvalidFieldName { name: text("a") },
        );
        check(
            &|d| {
                d.field_definitions = vec![field(
                    "kind",
                    FieldTypeRecord::Enum {
                        values: ["a", "b", "a"]
                            .map(|k| EnumValueRecord {
                                key: text(k),
                                label: text(k),
                            })
                            .to_vec(),
                    },
                )]
            },
            CatalogRejection::DuplicateEnumKeys {
                duplicates: vec![text("a")],
            },
        );
        check(
            &|d| {
                d.field_definitions = vec![field(
                    "ref",
                    FieldTypeRecord::Reference {
                        reference_type_id: text("payment"),
                    },
                )]
            },
            CatalogRejection::UnknownReferenceTypeId {
                value: text("payment"),
            },
        );
        let set = |inner| FieldTypeRecord::Set {
            element_type: Box::new(inner),
        };
        check(
            &|d| d.field_definitions = vec![field("deep", set(set(set(FieldTypeRecord::String))))],
            CatalogRejection::FieldTypeTooDeep {
                max: FIELD_TYPE_DEPTH_MAX,
            },
        );
        // Depth at the limit is fine.
        let mut draft = type_draft("nested");
        draft.field_definitions = vec![field("sets", set(set(FieldTypeRecord::String)))];
        create_type(&store, &p, draft, &meta(1)).unwrap();
    }

    #[test]
    fn type_updates_apply_in_order_and_check_the_version() {
        let store = MemoryStore::new();
        let p = project("shop");
        let created = create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
        let by = id(&created.id);
        let updated = update_type(
            &store,
            &p,
            &by,
            1,
            vec![
                TypeAction::ChangeName(localized("Renamed")),
                TypeAction::SetDescription(Some(localized("About"))),
                TypeAction::AddFieldDefinition(field("paid", FieldTypeRecord::Boolean)),
                TypeAction::RemoveFieldDefinition {
                    field_name: "orderNumber".to_owned(),
                },
                TypeAction::ChangeLabel {
                    field_name: "paid".to_owned(),
                    label: localized("Paid?"),
                },
                TypeAction::ChangeKey("extras-2".to_owned()),
            ],
            &meta(2_000),
        )
        .unwrap();
        assert_eq!(updated.version, 2, "one version per request");
        assert_eq!(updated.last_modified_at, "1970-01-01T00:00:02.000Z");
        assert_eq!(updated.created_at, created.created_at);
        assert_eq!(updated.name, localized("Renamed"));
        assert_eq!(updated.field_definitions.len(), 1);
        assert_eq!(updated.field_definitions[0].label, localized("Paid?"));
        // The key index moved with the key.
        assert_eq!(
            get::<TypeRecord>(&store, &p, &key("extras-2")).unwrap(),
            updated
        );
        assert!(get::<TypeRecord>(&store, &p, &key("extras")).is_err());
        create_type(&store, &p, type_draft("extras"), &meta(3)).unwrap();

        // A stale version is a conflict and changes nothing.
        let stale = update_type(
            &store,
            &p,
            &by,
            1,
            vec![TypeAction::ChangeName(localized("x"))],
            &meta(4),
        );
        assert!(matches!(
            stale,
            Err(CatalogError::Conflict {
                expected: 1,
                current_version: 2,
                ..
            })
        ));
        // A failing action aborts the whole request.
        assert_eq!(
            rejection(update_type(
                &store,
                &p,
                &by,
                2,
                vec![
                    TypeAction::ChangeName(localized("x")),
                    TypeAction::RemoveFieldDefinition {
                        field_name: "missing".to_owned()
                    },
                ],
                &meta(5),
            )),
            CatalogRejection::UnknownFieldName {
                name: "missing".to_owned()
            }
        );
        assert_eq!(
            rejection(update_type(
                &store,
                &p,
                &by,
                2,
                vec![TypeAction::ChangeKey("extras".to_owned())],
                &meta(5),
            )),
            CatalogRejection::DuplicateKey {
                key: "extras".to_owned()
            }
        );
        assert_eq!(get::<TypeRecord>(&store, &p, &by).unwrap(), updated);
        // An update that changes nothing keeps the version.
        let same = update_type(
            &store,
            &p,
            &by,
            2,
            vec![TypeAction::ChangeName(localized("Renamed"))],
            &meta(6),
        )
        .unwrap();
        assert_eq!(same, updated);
    }

    #[test]
    fn concurrent_creates_of_one_key_leave_one_winner() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let p = project("shop");
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let (store, p) = (std::sync::Arc::clone(&store), p.clone());
                std::thread::spawn(move || {
                    create_type(&*store, &p, type_draft("race"), &meta(n)).is_ok()
                })
            })
            .collect();
        let winners = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);
        assert_eq!(list::<TypeRecord>(&*store, &p).unwrap().len(), 1);
    }

    #[test]
    fn deletes_check_the_version_and_free_the_key() {
        let store = MemoryStore::new();
        let p = project("shop");
        let created = create_type(&store, &p, type_draft("extras"), &meta(1)).unwrap();
        assert!(matches!(
            delete::<TypeRecord>(&store, &p, &key("extras"), 7),
            Err(CatalogError::Conflict {
                current_version: 1,
                ..
            })
        ));
        let deleted: TypeRecord = delete(&store, &p, &key("extras"), 1).unwrap();
        assert_eq!(deleted, created);
        assert!(matches!(
            get::<TypeRecord>(&store, &p, &id(&created.id)),
            Err(CatalogError::NotFound(CatalogKind::Type))
        ));
        assert!(matches!(
            delete::<TypeRecord>(&store, &p, &id(&created.id), 1),
            Err(CatalogError::NotFound(CatalogKind::Type))
        ));
        create_type(&store, &p, type_draft("extras"), &meta(2)).unwrap();
    }

    #[test]
    fn states_resolve_transitions_and_feed_the_stored_catalog() {
        let store = MemoryStore::new();
        let p = project("shop");
        let paid = create_state(
            &store,
            &p,
            state_draft("paid", false, Some(vec![])),
            &meta(1),
        )
        .unwrap();
        let open = create_state(
            &store,
            &p,
            state_draft("open", true, Some(vec![key("paid"), id(&paid.id)])),
            &meta(2),
        )
        .unwrap();
        assert_eq!(
            open.transitions,
            Some(vec![
                StateReference::to(&paid.id),
                StateReference::to(&paid.id)
            ])
        );
        let any = create_state(&store, &p, state_draft("any", false, None), &meta(3)).unwrap();

        let catalog = StoredCatalog::new(&store, p.clone());
        assert_eq!(
            catalog.state_by_key("open"),
            Some(StateDefinition {
                id: open.id.clone(),
                key: "open".to_owned(),
                state_type: StateType::PaymentState,
                initial: true,
                transitions: Some(vec![paid.id.clone(), paid.id.clone()]),
            })
        );
        let paid_definition = catalog.state_by_id(&paid.id).unwrap();
        assert!(!paid_definition.initial);
        assert_eq!(paid_definition.transitions, Some(vec![]));
        assert_eq!(catalog.state_by_id(&any.id).unwrap().transitions, None);
        assert_eq!(catalog.state_by_key("missing"), None);
        assert_eq!(
            StoredCatalog::new(&store, project("other")).state_by_key("open"),
            None
        );

        // Unknown targets and targets of another type are refused.
        assert_eq!(
            rejection(create_state(
                &store,
                &p,
                state_draft("x1", true, Some(vec![key("nope")])),
                &meta(4)
            )),
            CatalogRejection::TransitionNotFound { by: key("nope") }
        );
        let mut order_state = state_draft("shipped", false, None);
        order_state.state_type = StateType::OrderState;
        create_state(&store, &p, order_state, &meta(5)).unwrap();
        assert_eq!(
            rejection(create_state(
                &store,
                &p,
                state_draft("x2", true, Some(vec![key("shipped")])),
                &meta(6)
            )),
            CatalogRejection::TransitionToOtherType {
                target_key: "shipped".to_owned(),
                target_type: StateType::OrderState,
                state_type: StateType::PaymentState,
            }
        );
        assert_eq!(
            rejection(create_state(
                &store,
                &p,
                state_draft("paid", true, None),
                &meta(7)
            )),
            CatalogRejection::DuplicateKey {
                key: "paid".to_owned()
            }
        );
    }

    #[test]
    fn state_updates_change_initial_transitions_and_key() {
        let store = MemoryStore::new();
        let p = project("shop");
        let paid = create_state(&store, &p, state_draft("paid", false, None), &meta(1)).unwrap();
        let open = create_state(&store, &p, state_draft("open", true, None), &meta(2)).unwrap();
        let updated = update_state(
            &store,
            &p,
            &key("open"),
            1,
            vec![
                StateAction::ChangeInitial(false),
                StateAction::ChangeKey("pending".to_owned()),
                // The State itself is a valid target, by its new key.
                StateAction::SetTransitions(Some(vec![key("paid"), key("pending")])),
                StateAction::SetName(None),
                StateAction::SetDescription(Some(localized("Waiting"))),
            ],
            &meta(3),
        )
        .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.name, None);
        let definition = StoredCatalog::new(&store, p.clone())
            .state_by_key("pending")
            .unwrap();
        assert!(!definition.initial);
        assert_eq!(
            definition.transitions,
            Some(vec![paid.id.clone(), open.id.clone()])
        );
        assert!(definition.allows_transition_to(&paid.id));
        let reopened = update_state(
            &store,
            &p,
            &id(&open.id),
            2,
            vec![StateAction::SetTransitions(None)],
            &meta(4),
        )
        .unwrap();
        assert_eq!(reopened.transitions, None);
        assert_eq!(reopened.version, 3);
    }

    #[test]
    fn stored_catalog_converts_types_for_the_rules() {
        let store = MemoryStore::new();
        let p = project("shop");
        let mut draft = type_draft("extras");
        draft.resource_type_ids = vec!["payment-interface-interaction".to_owned()];
        draft.field_definitions = vec![
            FieldDefinitionRecord {
                required: true,
                ..field("orderNumber", FieldTypeRecord::String)
            },
            field(
                "tier",
                FieldTypeRecord::LocalizedEnum {
                    values: vec![LocalizedEnumValueRecord {
                        key: "gold".to_owned(),
                        label: localized("Gold"),
                    }],
                },
            ),
        ];
        let created = create_type(&store, &p, draft, &meta(1)).unwrap();
        let catalog = StoredCatalog::new(&store, p.clone());
        let definition = catalog.type_by_key("extras").unwrap();
        assert_eq!(catalog.type_by_id(&created.id), Some(definition.clone()));
        assert!(definition.is_for(CustomResource::PaymentInterfaceInteraction));
        assert!(!definition.is_for(CustomResource::Payment));
        assert_eq!(
            definition.field_definitions,
            vec![
                FieldDefinition {
                    name: "orderNumber".to_owned(),
                    field_type: FieldType::String,
                    required: true,
                },
                FieldDefinition {
                    name: "tier".to_owned(),
                    field_type: FieldType::LocalizedEnum {
                        keys: vec!["gold".to_owned()]
                    },
                    required: false,
                },
            ]
        );
        assert_eq!(catalog.type_by_key("missing"), None);
    }

    #[test]
    fn a_project_holds_a_bounded_number_of_resources() {
        let store = MemoryStore::new();
        let p = project("shop");
        for n in 0..RESOURCES_PER_KIND_MAX {
            create_state(
                &store,
                &p,
                state_draft(&format!("s{n}"), true, None),
                &meta(1),
            )
            .unwrap();
        }
        assert_eq!(
            rejection(create_state(
                &store,
                &p,
                state_draft("last", true, None),
                &meta(2)
            )),
            CatalogRejection::TooManyResources {
                kind: CatalogKind::State,
                max: RESOURCES_PER_KIND_MAX,
            }
        );
        assert_eq!(
            list::<StateRecord>(&store, &p).unwrap().len(),
            RESOURCES_PER_KIND_MAX
        );
        // Types are counted apart.
        create_type(&store, &p, type_draft("extras"), &meta(3)).unwrap();
    }

    #[test]
    fn records_render_as_commercetools_json() {
        let store = MemoryStore::new();
        let p = project("shop");
        let state = create_state(
            &store,
            &p,
            state_draft("open", true, Some(vec![])),
            &meta(0),
        )
        .unwrap();
        let rendered = serde_json::to_value(&state).unwrap();
        assert_eq!(
            rendered,
            json!({
                "id": state.id,
                "version": 1,
                "createdAt": "1970-01-01T00:00:00.000Z",
                "lastModifiedAt": "1970-01-01T00:00:00.000Z",
                "createdBy": {"clientId": "client-1", "isPlatformClient": false},
                "lastModifiedBy": {"clientId": "client-1", "isPlatformClient": false},
                "key": "open",
                "type": "PaymentState",
                "name": {"en": "open"},
                "initial": true,
                "builtIn": false,
                "roles": [],
                "transitions": [],
            })
        );
    }
}
