//! Reference expansion (`expand=paymentStatus.state`, `custom.type`, …) and
//! the catalog that deciding consults for a project.

use crate::{ApiError, AppState};
use payledger_domain::{Catalog, InMemoryCatalog, ProjectKey};
use serde_json::Value;

/// The Types and States a command of `project` may reference.
pub fn catalog_for(state: &AppState, project: &ProjectKey) -> impl Catalog + use<> {
    let _ = (state, project);
    InMemoryCatalog::default()
}

/// Expands the requested reference paths of a document.
pub async fn expand(
    state: &AppState,
    project: &ProjectKey,
    document: Value,
    paths: Vec<String>,
) -> Result<Value, ApiError> {
    let _ = (state, project, paths);
    Ok(document)
}
