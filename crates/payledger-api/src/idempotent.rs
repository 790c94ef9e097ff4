//! `Idempotency-Key` for routes whose writes are not payment commands
//! (Types, States and Subscriptions): the response of a successful POST or
//! DELETE is recorded, and a repeat of the same request with the same key
//! gets it back instead of running again.
//!
//! This middleware replays recorded answers and, for a key not seen yet,
//! hands the route an [`IdempotencyRow`]; the route turns it into the
//! use case's [`Answer`], which the use case writes in the same atomic
//! write as the resource (see `payledger_app::idempotency`). A crash
//! therefore leaves both or neither, and two requests with one key racing
//! each other change the resource once: the later one is answered 409
//! `IdempotencyKeyInFlight` and its repeat gets the recorded answer.
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
use payledger_app::idempotency::{self, Answer, IDEMPOTENCY_KEY_BYTES_MAX};
use payledger_domain::ProjectKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::any::Any;
use std::sync::Arc;

/// The idempotency row of a keyed request that was not answered yet: the
/// route records its answer there with the change it makes.
#[derive(Clone, Debug)]
pub struct IdempotencyRow {
    key: Vec<u8>,
    /// Hex SHA-256 of method, URI and body.
    hash: String,
}

/// The answer to record for `row`, if the request carried a key: `status`
/// with the body `body` renders from the resource the use case writes (or
/// deletes).
pub fn answer(
    row: Option<&IdempotencyRow>,
    status: StatusCode,
    body: impl Fn(&dyn Any) -> Value + Send + Sync + 'static,
) -> Option<Answer> {
    let row = row?;
    let hash = row.hash.clone();
    Some(Answer {
        key: row.key.clone(),
        render: Arc::new(move |answered| {
            let record = json!({"hash": hash, "status": status.as_u16(), "body": body(answered)});
            record.to_string().into_bytes()
        }),
    })
}

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
    let record_key = idempotency::resource_answer_key(&project, &key);

    let lookup_key = record_key.clone();
    let stored = state
        .blocking(move |s| Ok(idempotency::recorded_answer(&*s.store, &lookup_key)?))
        .await?;
    if let Some(stored) = stored {
        return replay(&stored, &hash);
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(IdempotencyRow {
        key: record_key,
        hash,
    });
    Ok(next.run(request).await)
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
