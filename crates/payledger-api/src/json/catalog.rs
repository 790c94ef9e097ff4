//! Types and States as the API answers them (commercetools `Type` and
//! `State`), written field by field: the stored rows
//! (`payledger_app::catalog`, their own golden files) can change without
//! changing what clients see, and the other way round.

use payledger_app::catalog::{
    EnumValueRecord, FieldDefinitionRecord, FieldTypeRecord, InputHint, LocalizedEnumValueRecord,
    ModifiedBy, StateRecord, StateRole, TypeRecord,
};
use serde_json::{Map, Value, json};
use std::any::Any;

/// The JSON of a Type or State record (`Null` for anything else).
pub fn catalog_to_json(record: &dyn Any) -> Value {
    if let Some(record) = record.downcast_ref::<TypeRecord>() {
        type_to_json(record)
    } else if let Some(record) = record.downcast_ref::<StateRecord>() {
        state_to_json(record)
    } else {
        Value::Null
    }
}

/// A commercetools `Type`.
pub fn type_to_json(record: &TypeRecord) -> Value {
    let mut object = resource_fields(
        &record.id,
        record.version,
        &record.created_at,
        &record.last_modified_at,
        record.created_by.as_ref(),
        record.last_modified_by.as_ref(),
    );
    object.insert("key".into(), json!(record.key));
    object.insert("name".into(), json!(record.name));
    if let Some(description) = &record.description {
        object.insert("description".into(), json!(description));
    }
    object.insert("resourceTypeIds".into(), json!(record.resource_type_ids));
    let fields: Vec<Value> = record.field_definitions.iter().map(field_to_json).collect();
    object.insert("fieldDefinitions".into(), Value::Array(fields));
    Value::Object(object)
}

/// A commercetools `State`.
pub fn state_to_json(record: &StateRecord) -> Value {
    let mut object = resource_fields(
        &record.id,
        record.version,
        &record.created_at,
        &record.last_modified_at,
        record.created_by.as_ref(),
        record.last_modified_by.as_ref(),
    );
    object.insert("key".into(), json!(record.key));
    object.insert("type".into(), json!(record.state_type.as_str()));
    if let Some(name) = &record.name {
        object.insert("name".into(), json!(name));
    }
    if let Some(description) = &record.description {
        object.insert("description".into(), json!(description));
    }
    object.insert("initial".into(), json!(record.initial));
    object.insert("builtIn".into(), json!(record.built_in));
    let roles: Vec<&str> = record.roles.iter().map(|r| role_name(*r)).collect();
    object.insert("roles".into(), json!(roles));
    if let Some(transitions) = &record.transitions {
        let references: Vec<Value> = transitions
            .iter()
            .map(|t| json!({"typeId": t.type_id, "id": t.id}))
            .collect();
        object.insert("transitions".into(), Value::Array(references));
    }
    Value::Object(object)
}

/// `id`, `version`, timestamps and who created and last changed it.
pub(crate) fn resource_fields(
    id: &str,
    version: u64,
    created_at: &str,
    last_modified_at: &str,
    created_by: Option<&ModifiedBy>,
    last_modified_by: Option<&ModifiedBy>,
) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("id".into(), json!(id));
    object.insert("version".into(), json!(version));
    object.insert("createdAt".into(), json!(created_at));
    object.insert("lastModifiedAt".into(), json!(last_modified_at));
    let by = |who: &ModifiedBy| json!({"clientId": who.client_id, "isPlatformClient": who.is_platform_client});
    if let Some(who) = created_by {
        object.insert("createdBy".into(), by(who));
    }
    if let Some(who) = last_modified_by {
        object.insert("lastModifiedBy".into(), by(who));
    }
    object
}

fn field_to_json(field: &FieldDefinitionRecord) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(field.name));
    object.insert("label".into(), json!(field.label));
    object.insert("required".into(), json!(field.required));
    object.insert("type".into(), field_type_to_json(&field.field_type));
    if let Some(hint) = field.input_hint {
        let name = match hint {
            InputHint::SingleLine => "SingleLine",
            InputHint::MultiLine => "MultiLine",
        };
        object.insert("inputHint".into(), json!(name));
    }
    Value::Object(object)
}

fn field_type_to_json(field_type: &FieldTypeRecord) -> Value {
    let named = |name: &str| json!({ "name": name });
    match field_type {
        FieldTypeRecord::Boolean => named("Boolean"),
        FieldTypeRecord::Number => named("Number"),
        FieldTypeRecord::String => named("String"),
        FieldTypeRecord::LocalizedString => named("LocalizedString"),
        FieldTypeRecord::Enum { values } => {
            let values: Vec<Value> = values.iter().map(enum_value_to_json).collect();
            json!({"name": "Enum", "values": values})
        }
        FieldTypeRecord::LocalizedEnum { values } => {
            let values: Vec<Value> = values.iter().map(localized_enum_value_to_json).collect();
            json!({"name": "LocalizedEnum", "values": values})
        }
        FieldTypeRecord::Money => named("Money"),
        FieldTypeRecord::Date => named("Date"),
        FieldTypeRecord::Time => named("Time"),
        FieldTypeRecord::DateTime => named("DateTime"),
        FieldTypeRecord::Reference { reference_type_id } => {
            json!({"name": "Reference", "referenceTypeId": reference_type_id})
        }
        FieldTypeRecord::Set { element_type } => {
            json!({"name": "Set", "elementType": field_type_to_json(element_type)})
        }
    }
}

fn enum_value_to_json(value: &EnumValueRecord) -> Value {
    json!({"key": value.key, "label": value.label})
}

fn localized_enum_value_to_json(value: &LocalizedEnumValueRecord) -> Value {
    json!({"key": value.key, "label": value.label})
}

const fn role_name(role: StateRole) -> &'static str {
    match role {
        StateRole::ReviewIncludedInStatistics => "ReviewIncludedInStatistics",
        StateRole::Return => "Return",
    }
}
