//! Request plumbing shared by every route: the `X-Correlation-ID` header
//! (echoed when the client sent one, generated otherwise), one tracing span
//! per request, the HTTP metrics, and body limits.
//!
//! The span (`request`) carries the correlation id, method, route template
//! and project; every log line written while the request is handled
//! carries them too (with `--log-format json`, in its `spans`). At debug
//! level each request ends with one `answered` line, whose span also has
//! the status and latency (a request that matched no route gets its span
//! only for that line).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// Longest accepted correlation id, in bytes; longer ones are replaced.
pub const CORRELATION_ID_BYTES_MAX: usize = 256;

/// The correlation id of a request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct CorrelationId(pub String);

/// What [`correlation_id`] labels requests that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Echoes or generates `X-Correlation-ID` and hands it to handlers, runs a
/// request that matched a route in its span (with the route template, and
/// the project of a `/{pk}/…` route), counts the request in the metrics,
/// and at debug level ends it with one `answered` line in its span.
///
/// A layer of the router, so it runs once a route matched (axum has set
/// the [`MatchedPath`] by then) and for the fallback of requests that
/// matched none.
pub async fn correlation_id(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = correlation_id_of(request.headers());
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let span = route.as_ref().map(|route| {
        let project = route
            .as_str()
            .starts_with("/{pk}")
            .then(|| request.uri().path().split('/').nth(1).unwrap_or_default());
        request_span(&id, &method, route.as_str(), project)
    });
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let mut response = match &span {
        Some(span) => next.run(request).instrument(span.clone()).await,
        None => next.run(request).await,
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    // Only the debug `answered` line shows these two; recording a field
    // formats it into the span, which a request at info level never reads.
    if tracing::enabled!(tracing::Level::DEBUG) {
        let span = span.unwrap_or_else(|| request_span(&id, &method, UNMATCHED_ROUTE, None));
        span.record("status", status);
        span.record("latency_ms", elapsed.as_secs_f64() * 1e3);
        span.in_scope(|| tracing::debug!("answered"));
    }
    payledger_metrics::metrics().http_answered(
        route,
        method.as_str(),
        status,
        elapsed.as_secs_f64(),
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlation-id", value);
    }
    response
}

/// The span of one request. Made once the route is known, with every field
/// but status and latency: a field recorded later is formatted into the
/// span a second time.
fn request_span(
    correlation_id: &str,
    method: &axum::http::Method,
    route: &str,
    project: Option<&str>,
) -> tracing::Span {
    tracing::info_span!(
        "request",
        correlation_id = %correlation_id,
        method = %method,
        route = %route,
        project = project,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

/// The request's `X-Correlation-ID` when it sent a usable one, a new one
/// otherwise.
pub fn correlation_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= CORRELATION_ID_BYTES_MAX)
        .map_or_else(new_correlation_id, str::to_owned)
}

/// `payledger-` and a random UUID, written without the formatting
/// machinery (this runs for every request that sent no id).
fn new_correlation_id() -> String {
    const PREFIX: &str = "payledger-";
    let mut buffer = uuid::Uuid::encode_buffer();
    let uuid = uuid::Uuid::new_v4().hyphenated();
    let mut id = String::with_capacity(PREFIX.len() + uuid::fmt::Hyphenated::LENGTH);
    id.push_str(PREFIX);
    id.push_str(uuid.encode_lower(&mut buffer));
    id
}

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use payledger_domain::{ProjectKey, Timestamp};

/// A request body within `request_body_bytes_max`; larger bodies answer 413
/// in the commercetools error shape.
///
/// An oversized body is read and discarded (up to
/// [`OVERSIZED_BODY_DRAIN_BYTES_MAX`]) before the 413 is sent: closing a
/// connection with unread data makes the kernel reset it, and the client
/// would see a broken connection instead of the answer.
#[derive(Debug)]
pub struct Body(pub Bytes);

/// Most bytes of an oversized body read and discarded before answering 413;
/// beyond that the connection is closed.
pub const OVERSIZED_BODY_DRAIN_BYTES_MAX: usize = 16 << 20;

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        use http_body_util::BodyExt;
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.0);
        let mut body = request.into_body();
        let mut kept = Vec::new();
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::invalid_input(format!("Unreadable request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                kept.extend_from_slice(&data);
            } else if seen > limit.saturating_add(OVERSIZED_BODY_DRAIN_BYTES_MAX) {
                break;
            }
        }
        if seen > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        Ok(Self(Bytes::from(kept)))
    }
}

/// The configured body limit, put into request extensions by the router.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The decoded query string as ordered `(name, value)` pairs; names repeat.
#[derive(Clone, Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(Self)
            .map_err(|e| ApiError::invalid_input(format!("Malformed query string: {e}")))
    }
}

impl QueryPairs {
    /// Every value of a repeated parameter.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of a parameter.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An unsigned integer parameter within `max`, or `default` when absent.
    pub fn number(&self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        match self.last(name) {
            None => Ok(default),
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(ApiError::invalid_input(format!(
                    "Malformed parameter: {name}: expected an integer between 0 and {max}, got '{text}'."
                ))),
            },
        }
    }

    /// A `true`/`false` parameter (any case), `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.last(name) {
            None => Ok(false),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(text) => Err(ApiError::invalid_input(format!(
                "Malformed parameter: {name}: expected true or false, got '{text}'."
            ))),
        }
    }

    /// The `version` a DELETE must name.
    pub fn required_version(&self) -> Result<u64, ApiError> {
        if self.last("version").is_none() {
            return Err(ApiError::invalid_input(
                "Missing required parameter: version.",
            ));
        }
        self.number("version", 0, u64::MAX)
    }

    /// A boolean parameter, parsed case-insensitively.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.last(name) {
            None => Ok(default),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(text) => Err(ApiError::invalid_input(format!(
                "Malformed parameter: {name}: expected true or false, got '{text}'."
            ))),
        }
    }
}

/// The project of a path, or 404 when the key cannot name a project.
pub fn project_key(text: &str) -> Result<ProjectKey, ApiError> {
    ProjectKey::parse(text)
        .ok_or_else(|| ApiError::not_found(format!("The project '{text}' does not exist.")))
}

/// The wall clock, read only at the edge.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(millis)
}

/// The correlation id a handler runs under.
pub fn correlation(parts: &axum::http::Extensions) -> Option<String> {
    parts.get::<CorrelationId>().map(|c| c.0.clone())
}

#[cfg(test)]
mod tests {
    use super::{CORRELATION_ID_BYTES_MAX, correlation_id_of};
    use axum::http::{HeaderMap, HeaderValue};

    fn sent(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-correlation-id",
            HeaderValue::from_str(value).expect("value"),
        );
        headers
    }

    #[test]
    fn a_usable_correlation_id_is_echoed_and_any_other_replaced_by_a_new_one() {
        assert_eq!(correlation_id_of(&sent("order-17")), "order-17");
        let longest = "x".repeat(CORRELATION_ID_BYTES_MAX);
        assert_eq!(correlation_id_of(&sent(&longest)), longest);
        for replaced in [HeaderMap::new(), sent(""), sent(&format!("{longest}x"))] {
            let id = correlation_id_of(&replaced);
            let uuid = id.strip_prefix("payledger-").expect("prefix");
            let parsed = uuid::Uuid::parse_str(uuid).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(
                uuid,
                parsed.hyphenated().to_string(),
                "lowercase, hyphenated"
            );
        }
        assert_ne!(
            correlation_id_of(&HeaderMap::new()),
            correlation_id_of(&HeaderMap::new())
        );
    }
}
