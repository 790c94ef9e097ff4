//! Reference expansion (`expand=paymentStatus.state`, `custom.type`,
//! `paymentMethodInfo.custom.type`, `transactions[*].custom.type`,
//! `interfaceInteractions[*].type`, and an order's
//! `paymentInfo.payments[*]`).
//!
//! An expanded reference keeps `typeId` and `id` and gains `obj`, the
//! referenced Type, State or Payment as its own endpoint returns it.
//! References that no longer resolve stay unexpanded, as commercetools
//! does.

use crate::{ApiError, AppState};
use payledger_app::catalog::{self, StateRecord, TypeRecord};
use payledger_domain::{PaymentId, ProjectKey, ResourceRef};
use serde_json::Value;

/// Most `expand` paths one request may name.
pub const EXPAND_PATHS_MAX: usize = 10;

/// Expands the requested reference paths of a document.
pub async fn expand(
    state: &AppState,
    project: &ProjectKey,
    document: Value,
    paths: Vec<String>,
) -> Result<Value, ApiError> {
    if paths.len() > EXPAND_PATHS_MAX {
        return Err(ApiError::invalid_input(format!(
            "At most {EXPAND_PATHS_MAX} expand paths are accepted (expand_paths_max)."
        )));
    }
    let project = project.clone();
    state
        .blocking(move |s| {
            let mut document = document;
            for path in &paths {
                let segments: Vec<&str> = path.split('.').collect();
                expand_at(&s, &project, &mut document, &segments);
            }
            Ok(document)
        })
        .await
}

/// Expands the requested paths in every result of a paged query response.
pub async fn expand_results(
    state: &AppState,
    project: &ProjectKey,
    page: &mut Value,
    paths: &[String],
) -> Result<(), ApiError> {
    if paths.is_empty() {
        return Ok(());
    }
    if let Some(results) = page.get_mut("results").and_then(Value::as_array_mut) {
        for result in results.iter_mut() {
            let taken = std::mem::take(result);
            *result = expand(state, project, taken, paths.to_vec()).await?;
        }
    }
    Ok(())
}

/// Walks `segments` (a `name[*]` segment walks every element) and expands
/// the reference at the end.
fn expand_at(state: &AppState, project: &ProjectKey, node: &mut Value, segments: &[&str]) {
    let Some((first, rest)) = segments.split_first() else {
        expand_reference(state, project, node);
        return;
    };
    if let Some(name) = first.strip_suffix("[*]") {
        if let Some(items) = node.get_mut(name).and_then(Value::as_array_mut) {
            for item in items {
                expand_at(state, project, item, rest);
            }
        }
    } else if let Some(child) = node.get_mut(*first) {
        expand_at(state, project, child, rest);
    }
}

fn expand_reference(state: &AppState, project: &ProjectKey, reference: &mut Value) {
    let (Some(type_id), Some(id)) = (
        reference.get("typeId").and_then(Value::as_str),
        reference.get("id").and_then(Value::as_str),
    ) else {
        return;
    };
    let by = ResourceRef::Id(id.to_owned());
    let store = &*state.store;
    let found = match type_id {
        "type" => catalog::get::<TypeRecord>(store, project, &by)
            .ok()
            .and_then(|r| serde_json::to_value(r).ok()),
        "state" => catalog::get::<StateRecord>(store, project, &by)
            .ok()
            .and_then(|r| serde_json::to_value(r).ok()),
        "payment" => PaymentId::parse(id)
            .and_then(|id| state.ledger.view(project, id).ok().flatten())
            .map(|payment| crate::json::payment_to_json(&payment)),
        _ => None,
    };
    if let (Some(object), Some(found)) = (reference.as_object_mut(), found) {
        object.insert("obj".into(), found);
    }
}
