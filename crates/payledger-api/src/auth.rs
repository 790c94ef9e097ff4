//! OAuth2 client credentials at `POST /oauth/token`, and the bearer-token
//! check ([`authorize`]) every project route makes before it does anything.
//!
//! The token endpoint takes the client's credentials from HTTP Basic (or
//! `client_id`/`client_secret` fields of the form body, never the query
//! string) and `grant_type`/`scope` from the
//! form body or the query string, as the commercetools SDKs send them. Its
//! errors are OAuth errors (`invalid_client`, `invalid_scope`, …) in the
//! commercetools error body, with top-level `error` and `error_description`.
//! The granted `scope` echoes the requested text exactly: the Python SDK
//! raises when it differs.
//!
//! A token names scopes of one or more projects; [`authorize`] answers 401
//! `invalid_token` for an unknown, expired or revoked token and 403
//! `insufficient_scope` when the token holds no scope for the route's
//! project, so a token for project A never reaches project B. The clock is
//! read here, at the edge; the rules live in `payledger_app::auth`.

use crate::{ApiError, AppState};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use payledger_app::auth::{self as app, GrantType, Permission, Secret};
use payledger_domain::ProjectKey;
use serde_json::json;

/// Longest `Authorization` header value this module decodes, in bytes.
pub const AUTHORIZATION_BYTES_MAX: usize = 4_096;

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
    ViewOrders,
    ManageOrders,
    ViewAnalytics,
}

impl Scope {
    /// The app layer's permission of the same name.
    pub const fn permission(self) -> Permission {
        match self {
            Self::ViewPayments => Permission::ViewPayments,
            Self::ManagePayments => Permission::ManagePayments,
            Self::ViewMessages => Permission::ViewMessages,
            Self::ViewTypes => Permission::ViewTypes,
            Self::ManageTypes => Permission::ManageTypes,
            Self::ViewStates => Permission::ViewStates,
            Self::ManageStates => Permission::ManageStates,
            Self::ViewSubscriptions => Permission::ViewSubscriptions,
            Self::ManageSubscriptions => Permission::ManageSubscriptions,
            Self::ViewOrders => Permission::ViewOrders,
            Self::ManageOrders => Permission::ManageOrders,
            Self::ViewAnalytics => Permission::ViewAnalytics,
        }
    }
}

/// The authenticated caller.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Principal {
    pub client_id: String,
}

/// Checks the bearer token of a request for `scope` in `project`, and
/// takes one request from the client's rate when a per-client limit is
/// configured (429 past it, see [`crate::admission`]).
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    project: &ProjectKey,
    scope: Scope,
) -> Result<Principal, ApiError> {
    let token = bearer_token(headers).inspect_err(|_| refused("missing_bearer_token"))?;
    let now = now_ms();
    // A token checked before needs neither the store nor a blocking thread.
    let grant = match state.grants.cached(token.expose(), now) {
        Some(grant) => grant,
        None => state
            .blocking(move |s| {
                s.grants
                    .check(&*s.store, token.expose(), now)
                    .map_err(ApiError::bearer)
            })
            .await
            .inspect_err(|_| refused("invalid_token"))?,
    };
    let permission = scope.permission();
    if grant.allows(project, permission) {
        state
            .admission
            .take_client(&grant.client_id, tokio::time::Instant::now())?;
        Ok(Principal {
            client_id: grant.client_id,
        })
    } else {
        tracing::debug!(client_id = %grant.client_id, %project, %permission, "insufficient scope");
        refused("insufficient_scope");
        Err(ApiError::insufficient_scope(&format!(
            "{permission}:{project}"
        )))
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

/// Counts a refused token request or bearer token by `reason`.
fn refused(reason: &str) {
    payledger_metrics::metrics().token_refused(reason);
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(headers: &HeaderMap) -> Result<Secret, ApiError> {
    let value = authorization(headers).ok_or_else(|| {
        ApiError::invalid_token("This endpoint requires an access token: Authorization: Bearer …")
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Secret::new(token.trim()))
        }
        _ => Err(ApiError::invalid_token(
            "The Authorization header must use the Bearer scheme.",
        )),
    }
}

/// The `Authorization` header as text, if present and of sane size.
fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .filter(|v| v.len() <= AUTHORIZATION_BYTES_MAX)
        .and_then(|v| v.to_str().ok())
}

/// The parameters of a token request.
#[derive(Debug)]
struct TokenRequest {
    client_id: String,
    secret: Secret,
    scope: Option<String>,
}

/// `POST /oauth/token`.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = match body {
        Ok(body) => issue(&state, &headers, &uri, &body).await,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(
            ApiError::payload_too_large(state.config.request_body_bytes_max),
        ),
        Err(_) => Err(ApiError::invalid_request(
            "The request body could not be read.",
        )),
    };
    match result {
        Ok(response) => {
            payledger_metrics::metrics().tokens_issued.inc();
            response
        }
        Err(error) => {
            refused(match error.status {
                StatusCode::UNAUTHORIZED => "invalid_client",
                _ => "invalid_token_request",
            });
            let unauthorized = error.status == StatusCode::UNAUTHORIZED;
            let mut response = error.into_response();
            if unauthorized {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"payledger\""),
                );
            }
            response
        }
    }
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request = token_request(headers, uri, body)?;
    let now = now_ms();
    let ttl = state.config.token_ttl_seconds;
    let client_id = request.client_id.clone();
    let issued = state
        .blocking(move |s| {
            app::issue_token(
                &*s.store,
                &request.client_id,
                &request.secret,
                request.scope.as_deref(),
                now,
                ttl,
            )
            .map_err(|error| {
                tracing::debug!(client_id = %request.client_id, %error, "token refused");
                ApiError::token(error)
            })
        })
        .await?;
    tracing::info!(%client_id, scope = %issued.scope, "token issued");
    let body = json!({
        "access_token": issued.access_token.expose(),
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response_headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Reads credentials, grant type and scope; checks everything but the
/// credentials themselves.
fn token_request(headers: &HeaderMap, uri: &Uri, body: &Bytes) -> Result<TokenRequest, ApiError> {
    let params = Params::read(headers, uri, body)?;
    let (client_id, secret) = match basic_credentials(headers)? {
        Some(credentials) => credentials,
        // Never from the query string: URLs end up in logs.
        None => match (params.body("client_id"), params.body("client_secret")) {
            (Some(id), Some(secret)) => (id.to_owned(), Secret::new(secret)),
            _ => return Err(ApiError::invalid_client()),
        },
    };
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: grant_type."))?;
    match GrantType::parse(grant_type).map_err(ApiError::token)? {
        GrantType::ClientCredentials => {}
    }
    Ok(TokenRequest {
        client_id,
        secret,
        scope: params.get("scope").map(str::to_owned),
    })
}

/// `client_id:client_secret` of an `Authorization: Basic …` header, taken
/// verbatim (as HTTP clients send them, not form-encoded first).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, Secret)>, ApiError> {
    let Some(value) = authorization(headers) else {
        return Ok(None);
    };
    let encoded = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
        _ => return Err(ApiError::invalid_client()),
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(ApiError::invalid_client)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(ApiError::invalid_client)?;
    Ok(Some((id.to_owned(), Secret::new(secret))))
}

/// Form parameters of the body, then of the query string; the body wins
/// when a name appears in both. Values are secrets-in-waiting: no `Debug`.
struct Params {
    body: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Params(***)")
    }
}

impl Params {
    fn read(headers: &HeaderMap, uri: &Uri, body: &Bytes) -> Result<Self, ApiError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim());
        let body = match form {
            _ if body.is_empty() => Vec::new(),
            None => decode_form(body)?,
            Some(mime) if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") => {
                decode_form(body)?
            }
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "The body must be application/x-www-form-urlencoded.",
                ));
            }
        };
        let query = decode_form(uri.query().unwrap_or("").as_bytes())?;
        Ok(Self { body, query })
    }

    /// A parameter of the body only.
    fn body(&self, name: &str) -> Option<&str> {
        find(&self.body, name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        find(&self.body, name).or_else(|| find(&self.query, name))
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode_form(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|_| ApiError::invalid_request("The parameters are not valid form encoding."))
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
