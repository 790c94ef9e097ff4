//! The rules of the catalog resources, custom field Types and States: their
//! limits, what a valid key, field definition or field type is, what a
//! Type's update actions may do, and which transitions a State may have.
//!
//! Pure like the payment rules: the app layer reads and writes the
//! resources and asks these functions before it changes anything. Every
//! refusal is one [`CatalogRejection`] variant; the API maps each to its
//! commercetools error in one place.

use crate::command::ResourceRef;
use crate::types::{CustomResource, FieldDefinition, FieldType, StateType};
use std::collections::BTreeSet;
use std::fmt;

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

/// Whether `text` is `min..=max` bytes of `A-Za-z0-9_-`.
pub fn is_identifier(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A Type's or State's key.
pub fn check_key(key: &str) -> Result<(), CatalogRejection> {
    if is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX) {
        Ok(())
    } else {
        Err(CatalogRejection::InvalidKey {
            key: key.to_owned(),
        })
    }
}

/// The `resourceTypeIds` payledger hosts custom fields on.
pub fn hosted_resource_type_ids() -> Vec<&'static str> {
    CustomResource::ALL
        .iter()
        .map(|r| r.resource_type_id())
        .collect()
}

/// A Type's `resourceTypeIds`: at least one, each hosted, none twice.
pub fn check_resource_type_ids(ids: &[String]) -> Result<(), CatalogRejection> {
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

/// One field definition: its name and its type.
pub fn check_field_definition(definition: &FieldDefinition) -> Result<(), CatalogRejection> {
    if !is_identifier(&definition.name, FIELD_NAME_BYTES_MIN, FIELD_NAME_BYTES_MAX) {
        return Err(CatalogRejection::InvalidFieldName {
            name: definition.name.clone(),
        });
    }
    check_field_type(&definition.field_type)
}

/// A field type: nested at most [`FIELD_TYPE_DEPTH_MAX`] deep, valid enum
/// keys, a known reference type.
pub fn check_field_type(field_type: &FieldType) -> Result<(), CatalogRejection> {
    check_field_type_at(field_type, 1)
}

fn check_field_type_at(field_type: &FieldType, depth: usize) -> Result<(), CatalogRejection> {
    if depth > FIELD_TYPE_DEPTH_MAX {
        return Err(CatalogRejection::FieldTypeTooDeep {
            max: FIELD_TYPE_DEPTH_MAX,
        });
    }
    match field_type {
        FieldType::Boolean
        | FieldType::Number
        | FieldType::String
        | FieldType::LocalizedString
        | FieldType::Money
        | FieldType::Date
        | FieldType::Time
        | FieldType::DateTime => Ok(()),
        FieldType::Enum { keys } | FieldType::LocalizedEnum { keys } => check_enum_keys(keys),
        FieldType::Reference { reference_type_id } => {
            if REFERENCE_TYPE_IDS.contains(&reference_type_id.as_str()) {
                Ok(())
            } else {
                Err(CatalogRejection::UnknownReferenceTypeId {
                    value: reference_type_id.clone(),
                })
            }
        }
        FieldType::Set(element_type) => check_field_type_at(element_type, depth + 1),
    }
}

fn check_enum_keys(keys: &[String]) -> Result<(), CatalogRejection> {
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

/// A Type draft's field definitions: at most [`FIELD_DEFINITIONS_MAX`],
/// each valid, names unique.
pub fn check_field_definitions(definitions: &[FieldDefinition]) -> Result<(), CatalogRejection> {
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

/// `addFieldDefinition` on a Type whose fields are named `existing`: the
/// definition is valid, its name is new, and the Type has room.
pub fn check_field_addition(
    existing: &[&str],
    definition: &FieldDefinition,
) -> Result<(), CatalogRejection> {
    check_field_definition(definition)?;
    if existing.contains(&definition.name.as_str()) {
        return Err(CatalogRejection::DuplicateFieldName {
            name: definition.name.clone(),
        });
    }
    if existing.len() >= FIELD_DEFINITIONS_MAX {
        return Err(CatalogRejection::TooManyFieldDefinitions {
            max: FIELD_DEFINITIONS_MAX,
        });
    }
    Ok(())
}

/// The position of the field an action names (`removeFieldDefinition`,
/// `changeLabel`) among a Type's fields named `existing`.
pub fn field_position(existing: &[&str], name: &str) -> Result<usize, CatalogRejection> {
    existing
        .iter()
        .position(|field| *field == name)
        .ok_or_else(|| CatalogRejection::UnknownFieldName {
            name: name.to_owned(),
        })
}

/// An update request's number of actions.
pub fn check_action_count(count: usize) -> Result<(), CatalogRejection> {
    if count > ACTIONS_PER_REQUEST_MAX {
        return Err(CatalogRejection::TooManyActions {
            max: ACTIONS_PER_REQUEST_MAX,
        });
    }
    Ok(())
}

/// A new resource of `kind` in a project that holds `held` of them.
pub fn check_room(kind: CatalogKind, held: usize) -> Result<(), CatalogRejection> {
    if held >= RESOURCES_PER_KIND_MAX {
        return Err(CatalogRejection::TooManyResources {
            kind,
            max: RESOURCES_PER_KIND_MAX,
        });
    }
    Ok(())
}

/// A State's number of transitions.
pub fn check_transition_count(count: usize) -> Result<(), CatalogRejection> {
    if count > TRANSITIONS_MAX {
        return Err(CatalogRejection::TooManyTransitions {
            max: TRANSITIONS_MAX,
        });
    }
    Ok(())
}

/// A transition of a State of `state_type` to the State `target_key` of
/// `target_type`: both States must be of one type.
pub fn check_transition_target(
    state_type: StateType,
    target_key: &str,
    target_type: StateType,
) -> Result<(), CatalogRejection> {
    if target_type == state_type {
        Ok(())
    } else {
        Err(CatalogRejection::TransitionToOtherType {
            target_key: target_key.to_owned(),
            target_type,
            state_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, field_type: FieldType) -> FieldDefinition {
        FieldDefinition {
            name: name.to_owned(),
            field_type,
            required: false,
        }
    }

    fn enum_of(keys: &[&str]) -> FieldType {
        FieldType::Enum {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn keys_are_two_to_256_bytes_of_a_safe_alphabet() {
        assert_eq!(check_key("ab"), Ok(()));
        assert_eq!(check_key(&"k".repeat(KEY_BYTES_MAX)), Ok(()));
        for bad in ["a", "a b", "ä-b", &"k".repeat(KEY_BYTES_MAX + 1)] {
            assert_eq!(
                check_key(bad),
                Err(CatalogRejection::InvalidKey {
                    key: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn resource_type_ids_are_hosted_present_and_unique() {
        let ids = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_resource_type_ids(&ids(&["payment", "transaction"])),
            Ok(())
        );
        assert_eq!(
            check_resource_type_ids(&[]),
            Err(CatalogRejection::MissingResourceTypeIds)
        );
        assert_eq!(
            check_resource_type_ids(&ids(&["order"])),
            Err(CatalogRejection::UnknownResourceTypeId {
                value: "order".into()
            })
        );
        assert_eq!(
            check_resource_type_ids(&ids(&["payment", "payment"])),
            Err(CatalogRejection::DuplicateResourceTypeId {
                value: "payment".into()
            })
        );
    }

    #[test]
    fn field_types_nest_three_deep_with_valid_enums_and_references() {
        let set = |inner| FieldType::Set(Box::new(inner));
        assert_eq!(check_field_type(&set(set(FieldType::Money))), Ok(()));
        assert_eq!(
            check_field_type(&set(set(set(FieldType::Money)))),
            Err(CatalogRejection::FieldTypeTooDeep {
                max: FIELD_TYPE_DEPTH_MAX
            })
        );
        assert_eq!(
            check_field_type(&enum_of(&["a", "b", "a", "c", "b"])),
            Err(CatalogRejection::DuplicateEnumKeys {
                duplicates: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            check_field_type(&enum_of(&[""])),
            Err(CatalogRejection::InvalidEnumKey { key: String::new() })
        );
        let many: Vec<String> = (0..=ENUM_VALUES_MAX).map(|n| n.to_string()).collect();
        assert_eq!(
            check_field_type(&FieldType::LocalizedEnum { keys: many }),
            Err(CatalogRejection::TooManyEnumValues {
                max: ENUM_VALUES_MAX
            })
        );
        let reference = |id: &str| FieldType::Reference {
            reference_type_id: id.to_owned(),
        };
        assert_eq!(check_field_type(&reference("customer")), Ok(()));
        assert_eq!(
            check_field_type(&reference("payment-x")),
            Err(CatalogRejection::UnknownReferenceTypeId {
                value: "payment-x".into()
            })
        );
    }

    #[test]
    fn a_types_fields_have_valid_unique_names_and_are_bounded() {
        let ok = [
            field("first", FieldType::String),
            field("second", FieldType::Number),
        ];
        assert_eq!(check_field_definitions(&ok), Ok(()));
        assert_eq!(
            check_field_definitions(&[field("x", FieldType::String)]),
            Err(CatalogRejection::InvalidFieldName { name: "x".into() })
        );
        assert_eq!(
            check_field_definitions(&[
                field("dup", FieldType::String),
                field("dup", FieldType::Date)
            ]),
            Err(CatalogRejection::DuplicateFieldName { name: "dup".into() })
        );
        let too_many: Vec<_> = (0..=FIELD_DEFINITIONS_MAX)
            .map(|n| field(&format!("f{n}"), FieldType::Boolean))
            .collect();
        assert_eq!(
            check_field_definitions(&too_many),
            Err(CatalogRejection::TooManyFieldDefinitions {
                max: FIELD_DEFINITIONS_MAX
            })
        );
    }

    #[test]
    fn an_added_field_is_valid_new_and_fits_and_actions_name_existing_fields() {
        let existing = ["first", "second"];
        assert_eq!(
            check_field_addition(&existing, &field("third", FieldType::Time)),
            Ok(())
        );
        assert_eq!(
            check_field_addition(&existing, &field("second", FieldType::Time)),
            Err(CatalogRejection::DuplicateFieldName {
                name: "second".into()
            })
        );
        assert_eq!(
            check_field_addition(&existing, &field("bad name", FieldType::Time)),
            Err(CatalogRejection::InvalidFieldName {
                name: "bad name".into()
            })
        );
        let full: Vec<String> = (0..FIELD_DEFINITIONS_MAX)
            .map(|n| format!("f{n}"))
            .collect();
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        assert_eq!(
            check_field_addition(&full, &field("one-more", FieldType::Time)),
            Err(CatalogRejection::TooManyFieldDefinitions {
                max: FIELD_DEFINITIONS_MAX
            })
        );
        assert_eq!(field_position(&existing, "second"), Ok(1));
        assert_eq!(
            field_position(&existing, "third"),
            Err(CatalogRejection::UnknownFieldName {
                name: "third".into()
            })
        );
    }

    #[test]
    fn limits_on_actions_resources_and_transitions() {
        assert_eq!(check_action_count(ACTIONS_PER_REQUEST_MAX), Ok(()));
        assert_eq!(
            check_action_count(ACTIONS_PER_REQUEST_MAX + 1),
            Err(CatalogRejection::TooManyActions {
                max: ACTIONS_PER_REQUEST_MAX
            })
        );
        assert_eq!(
            check_room(CatalogKind::State, RESOURCES_PER_KIND_MAX - 1),
            Ok(())
        );
        assert_eq!(
            check_room(CatalogKind::State, RESOURCES_PER_KIND_MAX),
            Err(CatalogRejection::TooManyResources {
                kind: CatalogKind::State,
                max: RESOURCES_PER_KIND_MAX
            })
        );
        assert_eq!(check_transition_count(TRANSITIONS_MAX), Ok(()));
        assert!(check_transition_count(TRANSITIONS_MAX + 1).is_err());
    }

    #[test]
    fn transitions_stay_within_one_state_type() {
        assert_eq!(
            check_transition_target(StateType::PaymentState, "paid", StateType::PaymentState),
            Ok(())
        );
        assert_eq!(
            check_transition_target(StateType::PaymentState, "shipped", StateType::OrderState),
            Err(CatalogRejection::TransitionToOtherType {
                target_key: "shipped".into(),
                target_type: StateType::OrderState,
                state_type: StateType::PaymentState,
            })
        );
    }
}
