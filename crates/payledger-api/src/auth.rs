//! OAuth2 client credentials and per-route scopes.
//!
//! INTERFACE PINNED BY THE LEAD: `Scope`, `Principal` and `authorize` are
//! used by every route module; the implementation is being written.

use crate::{ApiError, AppState};
use axum::http::HeaderMap;
use axum::Router;
use payledger_domain::ProjectKey;

/// A permission a route needs, within one project.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    ViewPayments,
    ManagePayments,
    ViewMessages,
    ViewTypes,
    ManageTypes,
    ViewStates,
    ManageStates,
    ViewSubscriptions,
    ManageSubscriptions,
}

/// The authenticated caller.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Principal {
    pub client_id: String,
}

/// Checks the bearer token of a request for `scope` in `project`.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    project: &ProjectKey,
    scope: Scope,
) -> Result<Principal, ApiError> {
    let _ = (state, headers, project, scope);
    Err(ApiError::invalid_token("authentication is being implemented"))
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
