//! Request plumbing shared by every route: the `X-Correlation-ID` header
//! (echoed when the client sent one, generated otherwise) and body limits.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Longest accepted correlation id, in bytes; longer ones are replaced.
pub const CORRELATION_ID_BYTES_MAX: usize = 256;

/// The correlation id of a request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct CorrelationId(pub String);

/// Echoes or generates `X-Correlation-ID` and hands it to handlers.
pub async fn correlation_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= CORRELATION_ID_BYTES_MAX)
        .map_or_else(
            || format!("payledger-{}", uuid::Uuid::new_v4()),
            str::to_owned,
        );
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlation-id", value);
    }
    response
}
