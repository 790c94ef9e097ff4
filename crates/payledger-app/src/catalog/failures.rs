//! Why a catalog use case says no: the kinds of resource, one rejection
//! per rule, and the use cases' error.

use super::*;

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
    pub(super) const fn record_tag(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::State => "state",
        }
    }

    /// The key component of the key index.
    pub(super) const fn key_tag(self) -> &'static str {
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
    /// A request with the same `Idempotency-Key` was answered meanwhile.
    #[error("a request with this Idempotency-Key was answered meanwhile")]
    AnswerRecorded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AnswerError> for CatalogError {
    fn from(error: AnswerError) -> Self {
        match error {
            AnswerError::Recorded => Self::AnswerRecorded,
            AnswerError::Store(failure) => Self::Store(failure),
        }
    }
}

impl From<CatalogRejection> for CatalogError {
    fn from(rejection: CatalogRejection) -> Self {
        Self::Rejected(rejection)
    }
}
