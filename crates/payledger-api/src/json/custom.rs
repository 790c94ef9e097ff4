//! Custom fields and resource identifiers read from requests (their
//! output side is `payledger_wire::json`). Resource identifiers in drafts
//! are read as `{typeId?, id | key}`.

use super::field_value_from_json;
use super::read::{Obj, Path};
use crate::ApiError;
use payledger_domain::ResourceRef;
use payledger_domain::command::CustomFieldsInput;
use payledger_domain::payment::FieldValue;
use serde_json::Value;
use std::collections::BTreeMap;

/// Reads a resource identifier `{typeId?, id | key}` whose `typeId`, when
/// given, must be `type_id`. Exactly one of `id` and `key` must be set.
pub(crate) fn parse_resource_ref(
    value: &Value,
    path: Path,
    type_id: &str,
) -> Result<ResourceRef, ApiError> {
    let object = Obj::new(value, path)?;
    if let Some(given) = object.opt_string("typeId")?
        && given != type_id
    {
        return Err(object
            .at("typeId")
            .error(&format!("Expected typeId '{type_id}', found '{given}'.")));
    }
    match (object.opt_string("id")?, object.opt_string("key")?) {
        (Some(id), None) => Ok(ResourceRef::Id(id)),
        (None, Some(key)) => Ok(ResourceRef::Key(key)),
        (Some(_), Some(_)) => Err(object
            .path()
            .error("Either 'id' or 'key' must be set, not both.")),
        (None, None) => Err(object.path().error("Either 'id' or 'key' must be set.")),
    }
}

/// Reads a customer resource identifier as the customer's id. Customers
/// live outside payledger, so a reference by key cannot be resolved.
pub(crate) fn parse_customer(value: &Value, path: Path) -> Result<String, ApiError> {
    match parse_resource_ref(value, path, "customer")? {
        ResourceRef::Id(id) => Ok(id),
        ResourceRef::Key(key) => {
            let message = format!(
                "The referenced object of type 'customer' with key '{key}' was not found. \
                 Customers are referenced by id."
            );
            Err(ApiError::referenced_not_found(
                "customer",
                &ResourceRef::Key(key),
                message,
            ))
        }
    }
}

/// Reads the `fields` of a custom fields draft or action; absent is empty.
pub(crate) fn parse_fields(object: &Obj<'_>) -> Result<BTreeMap<String, FieldValue>, ApiError> {
    let fields = object.opt_obj("fields")?;
    Ok(fields
        .map(|fields| {
            fields
                .entries()
                .filter_map(|(k, v)| Some((k.clone(), field_value_from_json(v)?)))
                .collect()
        })
        .unwrap_or_default())
}

/// Reads a `CustomFieldsDraft` `{type, fields?}` at `path`.
pub(crate) fn parse_custom_fields_draft(
    value: &Value,
    path: Path,
) -> Result<CustomFieldsInput, ApiError> {
    let object = Obj::new(value, path)?;
    custom_from_object(&object)?.ok_or_else(|| object.at("type").missing())
}

/// Reads `{type?, fields?}` from an object (a draft or a `set…CustomType`
/// action): no `type` means no custom fields, and `fields` are ignored.
pub(crate) fn custom_from_object(object: &Obj<'_>) -> Result<Option<CustomFieldsInput>, ApiError> {
    let Some(type_ref) = object.opt("type", |v, p| parse_resource_ref(v, p, "type"))? else {
        return Ok(None);
    };
    Ok(Some(CustomFieldsInput {
        type_ref,
        fields: parse_fields(object)?,
    }))
}
