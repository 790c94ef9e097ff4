//! Records: the stored representation of Types and States (serde structs
//! in commercetools' field names, pinned by the golden files). The API
//! writes its answers from them field by field (`payledger-api`
//! `json::catalog`), so this format and the API's can change apart.

use super::*;

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

pub(super) mod state_type_format {
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
