//! The Type use cases: create and update (with the update actions).

use super::*;

/// Creates a Type (version 1, a new UUID id).
#[tracing::instrument(skip_all, fields(project = %project, key = %draft.key))]
pub fn create_type(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: TypeDraft,
    meta: &CatalogMeta,
) -> Result<TypeRecord, CatalogError> {
    rules::check_key(&draft.key)?;
    rules::check_resource_type_ids(&draft.resource_type_ids)?;
    let definitions: Vec<FieldDefinition> = draft
        .field_definitions
        .iter()
        .map(FieldDefinitionRecord::to_definition)
        .collect();
    rules::check_field_definitions(&definitions)?;
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
    let _writes = crate::resource_writes::lock();
    check_room(store, project, CatalogKind::Type)?;
    check_key_free(store, project, CatalogKind::Type, &record.key, None)?;
    let writes = put_writes(project, &record, None)?;
    idempotency::write_answered(store, meta.answer.as_ref(), &record, writes)?;
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
    rules::check_action_count(actions.len())?;
    let _writes = crate::resource_writes::lock();
    let before: TypeRecord = current(store, project, by, version)?;
    let mut after = before.clone();
    for action in actions {
        apply_type_action(&mut after, action)?;
    }
    commit_update(store, project, &before, after, meta)
}

pub(super) fn apply_type_action(
    record: &mut TypeRecord,
    action: TypeAction,
) -> Result<(), CatalogRejection> {
    match action {
        TypeAction::ChangeName(name) => record.name = name,
        TypeAction::SetDescription(description) => record.description = description,
        TypeAction::AddFieldDefinition(definition) => {
            rules::check_field_addition(&record.field_names(), &definition.to_definition())?;
            record.field_definitions.push(definition);
        }
        TypeAction::RemoveFieldDefinition { field_name } => {
            let position = rules::field_position(&record.field_names(), &field_name)?;
            record.field_definitions.remove(position);
        }
        TypeAction::ChangeLabel { field_name, label } => {
            let position = rules::field_position(&record.field_names(), &field_name)?;
            record.field_definitions[position].label = label;
        }
        TypeAction::ChangeKey(key) => {
            rules::check_key(&key)?;
            record.key = key;
        }
    }
    Ok(())
}

/// Things every record has that an update stamps.
pub(super) trait Stamped: CatalogRecord + PartialEq {
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
pub(super) fn commit_update<R: Stamped>(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    before: &R,
    mut after: R,
    meta: &CatalogMeta,
) -> Result<R, CatalogError> {
    if after == *before {
        // Nothing changes; the answer is still recorded.
        idempotency::write_answered(store, meta.answer.as_ref(), &after, Vec::new())?;
        return Ok(after);
    }
    if after.key() != before.key() {
        check_key_free(store, project, R::KIND, after.key(), Some(before.id()))?;
    }
    after.stamp(before.version() + 1, meta.now_text(), meta.modified_by());
    let writes = put_writes(project, &after, Some(before.key()))?;
    idempotency::write_answered(store, meta.answer.as_ref(), &after, writes)?;
    Ok(after)
}
