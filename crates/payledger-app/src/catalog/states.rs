//! The State use cases: create and update (with transitions resolved).

use super::*;

/// Creates a State (version 1, a new UUID id); transitions must name
/// existing States of the same type.
#[tracing::instrument(skip_all, fields(project = %project, key = %draft.key))]
pub fn create_state(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: StateDraft,
    meta: &CatalogMeta,
) -> Result<StateRecord, CatalogError> {
    rules::check_key(&draft.key)?;
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
    let _writes = crate::resource_writes::lock();
    check_room(store, project, CatalogKind::State)?;
    check_key_free(store, project, CatalogKind::State, &record.key, None)?;
    record.transitions = resolve_transitions(store, project, &record, draft.transitions)?;
    let writes = put_writes(project, &record, None)?;
    idempotency::write_answered(store, meta.answer.as_ref(), &record, writes)?;
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
    rules::check_action_count(actions.len())?;
    let _writes = crate::resource_writes::lock();
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
                rules::check_key(&key)?;
                after.key = key;
            }
        }
    }
    commit_update(store, project, &before, after, meta)
}

/// Resolves transition targets to references by id. `state` itself (as it
/// is being written) is a valid target.
pub(super) fn resolve_transitions(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    state: &StateRecord,
    targets: Option<Vec<ResourceRef>>,
) -> Result<Option<Vec<StateReference>>, CatalogError> {
    let Some(targets) = targets else {
        return Ok(None);
    };
    rules::check_transition_count(targets.len())?;
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
        rules::check_transition_target(state.state_type, &target.key, target.state_type)?;
        resolved.push(StateReference::to(&target.id));
    }
    Ok(Some(resolved))
}
