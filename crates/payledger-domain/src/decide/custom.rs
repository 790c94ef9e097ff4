//! Custom fields: resolving a Type reference, checking values against the
//! Type's field definitions, and deciding whether a set-type or set-field
//! action changes anything. The same rules serve the payment, its method
//! info, its transactions and its interface interactions; only the
//! resource named in the Type's `resourceTypeIds` differs.

use crate::catalog::Catalog;
use crate::command::{CustomFieldsInput, ResourceRef};
use crate::payment::{CustomFields, FieldValue};
use crate::rejection::Rejection;
use crate::types::{CustomResource, TypeDefinition};

/// Resolves the Type, checks every given value and every required field.
pub(super) fn resolve(
    input: &CustomFieldsInput,
    resource: CustomResource,
    catalog: &dyn Catalog,
) -> Result<CustomFields, Rejection> {
    let definition = type_for(&input.type_ref, resource, catalog)?;
    for (name, value) in &input.fields {
        check_value(&definition, name, value)?;
    }
    if let Some(missing) = definition
        .required_fields()
        .find(|f| !input.fields.contains_key(&f.name))
    {
        return Err(Rejection::CustomFieldRequiredMissing {
            name: missing.name.clone(),
        });
    }
    Ok(CustomFields {
        type_id: definition.id,
        fields: input.fields.clone(),
    })
}

/// [`resolve`] for an optional input.
pub(super) fn resolve_optional(
    input: Option<&CustomFieldsInput>,
    resource: CustomResource,
    catalog: &dyn Catalog,
) -> Result<Option<CustomFields>, Rejection> {
    input.map(|i| resolve(i, resource, catalog)).transpose()
}

/// The new custom fields for a set-type action, or `None` when they equal
/// the current ones. An absent input removes the custom fields.
pub(super) fn set_type(
    current: &Option<CustomFields>,
    input: Option<&CustomFieldsInput>,
    resource: CustomResource,
    catalog: &dyn Catalog,
) -> Result<Option<Option<CustomFields>>, Rejection> {
    let target = resolve_optional(input, resource, catalog)?;
    Ok((*current != target).then_some(target))
}

/// Whether setting (`Some`) or removing (`None`) the field changes the
/// custom fields. Removing a field that is not set, or a required one, is
/// refused.
pub(super) fn set_field(
    current: Option<&CustomFields>,
    name: &str,
    value: Option<&FieldValue>,
    resource: CustomResource,
    catalog: &dyn Catalog,
) -> Result<bool, Rejection> {
    let Some(current) = current else {
        return Err(Rejection::CustomTypeNotSet { resource });
    };
    let by_id = ResourceRef::Id(current.type_id.clone());
    let definition = catalog
        .type_by_ref(&by_id)
        .ok_or(Rejection::TypeNotFound { by: by_id })?;
    let existing = current.fields.get(name);
    match value {
        Some(value) => {
            check_value(&definition, name, value)?;
            Ok(existing != Some(value))
        }
        None if existing.is_none() => Err(Rejection::RemovingMissingCustomField {
            name: name.to_owned(),
        }),
        None if definition.field(name).is_some_and(|f| f.required) => {
            Err(Rejection::CustomFieldRequiredMissing {
                name: name.to_owned(),
            })
        }
        None => Ok(true),
    }
}

/// Resolves a Type and checks it may be used on `resource`.
fn type_for(
    by: &ResourceRef,
    resource: CustomResource,
    catalog: &dyn Catalog,
) -> Result<TypeDefinition, Rejection> {
    let definition = catalog
        .type_by_ref(by)
        .ok_or_else(|| Rejection::TypeNotFound { by: by.clone() })?;
    if definition.is_for(resource) {
        Ok(definition)
    } else {
        Err(Rejection::TypeNotForResource {
            type_key: definition.key,
            resource,
        })
    }
}

fn check_value(
    definition: &TypeDefinition,
    name: &str,
    value: &FieldValue,
) -> Result<(), Rejection> {
    let Some(field) = definition.field(name) else {
        return Err(Rejection::CustomFieldUndefined {
            name: name.to_owned(),
            type_key: definition.key.clone(),
            value: value.clone(),
        });
    };
    if field.field_type.accepts(value) {
        Ok(())
    } else {
        Err(Rejection::CustomFieldInvalid {
            name: name.to_owned(),
            value: value.clone(),
            expected: field.field_type.clone(),
        })
    }
}
