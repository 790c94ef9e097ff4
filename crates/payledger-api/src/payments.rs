//! Placeholder: routes of this module are being written.

use axum::Router;

pub fn routes() -> Router<crate::AppState> {
    Router::new()
}
