//! `Idempotency-Key` for routes whose writes are not payment commands
//! (Types, States and Subscriptions): the response of a successful POST or DELETE is
//! recorded, and a repeat of the same request with the same key gets it
//! back instead of running again.
//!
//! Payment commands keep their records inside the command's own atomic
//! append (see `payledger_app::idempotency`); here the record is written
//! right after the resource's own write. A crash between the two means the
//! repeat runs again, which for these keyed resources answers
//! `DuplicateField` rather than creating a second one.
//!
//! Records live in the idempotency table under the project, keyed by
//! `\u{1}` + the client's key (header values cannot contain control
//! characters, so they never collide with payment records), as JSON
//! `{"hash": hex SHA-256 of method, URI and body, "status", "body"}`.

use crate::request::BodyLimit;
use crate::{ApiError, AppState};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payledger_app::AppError;
use payledger_app::idempotency::IDEMPOTENCY_KEY_BYTES_MAX;
use payledger_app::tables;
use payledger_domain::ProjectKey;
use payledger_store::{KvWrite, Table};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Most bytes of a recorded response body.
pub const RECORDED_RESPONSE_BYTES_MAX: usize = 1 << 20;

/// The middleware: records and replays responses of keyed POST/DELETE.
pub async fn responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match replay_or_run(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn replay_or_run(
    state: &AppState,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let project = request
        .uri()
        .path()
        .split('/')
        .nth(1)
        .and_then(ProjectKey::parse);
    let (Some(key), Some(project), true) = (
        key,
        project,
        matches!(*request.method(), Method::POST | Method::DELETE),
    ) else {
        return Ok(next.run(request).await);
    };
    if key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
        return Err(ApiError::from(AppError::IdempotencyKeyTooLong {
            max: IDEMPOTENCY_KEY_BYTES_MAX,
        }));
    }
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map_or(usize::MAX, |l| l.0);
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    let record_key = tables::idempotency_key(&project, &format!("\u{1}{key}"));

    let lookup_key = record_key.clone();
    let stored = state
        .blocking(move |s| Ok(s.store.get(Table::Idempotency, &lookup_key)?))
        .await?;
    if let Some(stored) = stored {
        return replay(&stored, &hash);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !response.status().is_success() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, RECORDED_RESPONSE_BYTES_MAX)
        .await
        .map_err(|_| ApiError::general())?;
    let recorded: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let record = json!({"hash": hash, "status": parts.status.as_u16(), "body": recorded});
    let write = KvWrite {
        table: Table::Idempotency,
        key: record_key,
        value: Some(record.to_string().into_bytes()),
    };
    state
        .blocking(move |s| Ok(s.store.write(vec![write])?))
        .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The recorded answer, or 409 when the key was used for another request.
fn replay(stored: &[u8], hash: &str) -> Result<Response, ApiError> {
    let record: Value = serde_json::from_slice(stored).map_err(|_| ApiError::general())?;
    if record["hash"].as_str() != Some(hash) {
        return Err(ApiError::from(AppError::IdempotencyKeyReused));
    }
    let status = record["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(ApiError::general)?;
    Ok((status, axum::Json(record["body"].clone())).into_response())
}
