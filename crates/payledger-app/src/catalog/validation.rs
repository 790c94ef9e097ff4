//! The rules a Type or State draft must pass: keys, resource type ids,
//! field definitions and field types.

use super::*;

/// `^[A-Za-z0-9_-]+$` within the byte bounds.
pub(crate) fn is_identifier(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn check_key(key: &str) -> Result<(), CatalogRejection> {
    if is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX) {
        Ok(())
    } else {
        Err(CatalogRejection::InvalidKey {
            key: key.to_owned(),
        })
    }
}

pub(super) fn hosted_resource_type_ids() -> Vec<&'static str> {
    CustomResource::ALL
        .iter()
        .map(|r| r.resource_type_id())
        .collect()
}

pub(super) fn check_resource_type_ids(ids: &[String]) -> Result<(), CatalogRejection> {
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

pub(super) fn check_field_definition(
    definition: &FieldDefinitionRecord,
) -> Result<(), CatalogRejection> {
    if !is_identifier(&definition.name, FIELD_NAME_BYTES_MIN, FIELD_NAME_BYTES_MAX) {
        return Err(CatalogRejection::InvalidFieldName {
            name: definition.name.clone(),
        });
    }
    check_field_type(&definition.field_type, 1)
}

pub(super) fn check_field_type(
    field_type: &FieldTypeRecord,
    depth: usize,
) -> Result<(), CatalogRejection> {
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

pub(super) fn check_enum_keys<'a>(
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

pub(super) fn check_field_definitions(
    definitions: &[FieldDefinitionRecord],
) -> Result<(), CatalogRejection> {
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
