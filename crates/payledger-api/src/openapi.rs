//! `GET /openapi.json`: payledger's OpenAPI 3.0 document, which describes
//! every route of the HTTP server (not the admin socket's).
//!
//! The document is written by hand as YAML in `deploy/openapi.yaml`, the
//! one checked-in copy, and compiled into the binary; it is converted to
//! JSON once, at the first request (YAML merge keys `<<` applied), and
//! served without a token. The commercetools schemas at its end are copied
//! from the vendor's description by `tests/openapi/vendor_schemas.py`.
//!
//! The document and the router cannot drift, and a test checks it
//! (`openapi/tests.rs`). axum cannot list the routes of a `Router`, so the
//! test reads the route registrations where they are written: every
//! `.route("…", get(…).post(…))` call in this crate's sources (and the
//! binary's), parsed for the path template and the method-router calls
//! (`get`, `post`, `head`, …). It then checks both directions: every
//! registered method and path has an operation on the same template
//! (path parameters compared without their names), and every documented
//! operation is served by a registered route (a documented
//! `…/key={key}` is served by the registered `…/{id}`; a documented HEAD
//! by a GET, which axum answers for HEAD too). Reading the sources, rather
//! than keeping one table that every module would have to route from,
//! leaves each module's `routes()` as it is and still sees a route that a
//! change registers anywhere in those sources. Only `/metrics` may be
//! documented before its route exists (issue 15 adds it beside this).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;

/// The document as checked in.
pub const DOCUMENT_YAML: &str = include_str!("../../../deploy/openapi.yaml");

/// The document as JSON bytes, converted at first use.
static DOCUMENT_JSON: LazyLock<Result<Vec<u8>, String>> =
    LazyLock::new(|| document_json(DOCUMENT_YAML));

/// `yaml` (an OpenAPI document) as JSON, with its merge keys applied.
pub fn document_json(yaml: &str) -> Result<Vec<u8>, String> {
    let mut value: serde_norway::Value =
        serde_norway::from_str(yaml).map_err(|e| format!("the document is not YAML: {e}"))?;
    value
        .apply_merge()
        .map_err(|e| format!("the document's merge keys do not apply: {e}"))?;
    serde_json::to_vec(&value).map_err(|e| format!("the document is not JSON data: {e}"))
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/openapi.json", get(document))
}

async fn document() -> Response {
    match &*DOCUMENT_JSON {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json.clone(),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the OpenAPI document does not convert");
            crate::ApiError::general().into_response()
        }
    }
}

#[cfg(test)]
mod tests;
