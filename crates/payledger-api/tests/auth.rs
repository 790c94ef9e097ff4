//! `/oauth/token` and bearer-token checks, driven through the real router on
//! an in-memory store (token requests) and through `authorize` directly
//! (scopes per project).

// Test helpers fail loudly; they are not `#[test]` functions, so say so.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use payledger_api::auth::{Principal, Scope, authorize};
use payledger_api::{ApiConfig, ApiError, AppState};
use payledger_app::auth::{Secret, create_client, revoke_client};
use payledger_domain::ProjectKey;
use payledger_store::memory::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

const CLIENT: &str = "shop-backend";
const SECRET: &str = "s3cret";
const CLIENT_SCOPES: &str = "manage_project:shop view_payments:other";
const FORM: &str = "application/x-www-form-urlencoded";

/// A state whose store holds client `shop-backend` with [`CLIENT_SCOPES`].
fn state_with(config: ApiConfig) -> AppState {
    let store = Arc::new(MemoryStore::new());
    create_client(&*store, CLIENT, &Secret::from(SECRET), CLIENT_SCOPES, 0).unwrap();
    AppState::new(store, config)
}

fn state() -> AppState {
    state_with(ApiConfig::default())
}

fn basic(id: &str, secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// Sends `POST {uri}` with optional `Authorization` and form `body`.
async fn post_token(state: &AppState, uri: &str, authorization: Option<&str>, body: &str) -> Reply {
    let mut request = Request::post(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    if !body.is_empty() {
        request = request.header(header::CONTENT_TYPE, FORM);
    }
    send(state, request.body(Body::from(body.to_owned())).unwrap()).await
}

async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = payledger_api::router(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// A token for the test client, requested through Basic auth and a form
/// body like the commercetools SDK does.
async fn token(state: &AppState, scope: &str) -> String {
    let body = format!("grant_type=client_credentials&scope={scope}");
    let reply = post_token(state, "/oauth/token", Some(&basic(CLIENT, SECRET)), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// Checks an OAuth error reply: status, code in both places, description.
fn check_oauth_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    let body = &reply.body;
    assert_eq!(body["statusCode"], json!(status.as_u16()));
    assert_eq!(body["error"], json!(code));
    assert_eq!(body["errors"][0]["code"], json!(code));
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(body["message"], body["error_description"]);
}

#[tokio::test]
async fn basic_auth_and_form_body_get_a_bearer_token() {
    let state = state();
    let body = "grant_type=client_credentials&scope=manage_project%3Ashop";
    let reply = post_token(&state, "/oauth/token", Some(&basic(CLIENT, SECRET)), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 172_800);
    assert_eq!(reply.body["scope"], "manage_project:shop");
    assert_eq!(reply.body["access_token"].as_str().unwrap().len(), 43);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn grant_type_and_scope_may_come_in_the_query_string() {
    let state = state();
    let uri = "/oauth/token?grant_type=client_credentials&scope=view_payments:shop";
    let reply = post_token(&state, uri, Some(&basic(CLIENT, SECRET)), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["scope"], "view_payments:shop");
}

#[tokio::test]
async fn credentials_may_come_in_the_form_body() {
    let state = state();
    let body = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}");
    let reply = post_token(&state, "/oauth/token", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    // No scope requested: all of the client's.
    assert_eq!(reply.body["scope"], CLIENT_SCOPES);
    // Never in the URL, where proxies and logs would keep the secret.
    let uri = format!(
        "/oauth/token?grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}"
    );
    let reply = post_token(&state, &uri, None, "").await;
    check_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn the_scope_echoes_the_request_exactly() {
    let state = state();
    // The SDK joins its scope list with spaces and form-encodes them as `+`.
    let body = "grant_type=client_credentials&scope=view_payments%3Ashop+manage_types%3Ashop+view_payments%3Aother";
    let reply = post_token(&state, "/oauth/token", Some(&basic(CLIENT, SECRET)), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["scope"],
        "view_payments:shop manage_types:shop view_payments:other"
    );
}

#[tokio::test]
async fn bad_credentials_are_401_invalid_client() {
    let state = state();
    let grant = "grant_type=client_credentials";
    for authorization in [
        Some(basic(CLIENT, "wrong")),
        Some(basic("nobody", SECRET)),
        Some("Basic !!!not-base64".to_owned()),
        Some("Bearer something".to_owned()),
        None,
    ] {
        let reply = post_token(&state, "/oauth/token", authorization.as_deref(), grant).await;
        check_oauth_error(&reply, StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    }
}

#[tokio::test]
async fn other_grant_types_are_400_unsupported_grant_type() {
    let state = state();
    let auth = basic(CLIENT, SECRET);
    let reply = post_token(&state, "/oauth/token", Some(&auth), "grant_type=password").await;
    check_oauth_error(&reply, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let reply = post_token(
        &state,
        "/oauth/token",
        Some(&auth),
        "scope=view_payments:shop",
    )
    .await;
    check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn scopes_the_client_lacks_are_400_invalid_scope() {
    let state = state();
    let auth = basic(CLIENT, SECRET);
    for scope in [
        "manage_payments:other",
        "manage_project:third",
        "view_carts:shop",
        "manage_project",
    ] {
        let body = format!("grant_type=client_credentials&scope={scope}");
        let reply = post_token(&state, "/oauth/token", Some(&auth), &body).await;
        check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_scope");
    }
}

#[tokio::test]
async fn a_json_body_is_refused() {
    let state = state();
    let request = Request::post("/oauth/token")
        .header(header::AUTHORIZATION, basic(CLIENT, SECRET))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"grant_type":"client_credentials"}"#))
        .unwrap();
    let reply = send(&state, request).await;
    check_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request");
}

fn project(key: &str) -> ProjectKey {
    ProjectKey::parse(key).unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    headers.insert(header::AUTHORIZATION, value);
    headers
}

async fn check_authorize(
    state: &AppState,
    headers: &HeaderMap,
    project_key: &str,
    scope: Scope,
) -> Result<Principal, ApiError> {
    authorize(state, headers, &project(project_key), scope).await
}

fn assert_denied(result: Result<Principal, ApiError>, status: StatusCode, code: &str) {
    let error = result.unwrap_err();
    assert_eq!(error.status, status, "{error:?}");
    assert_eq!(error.errors[0].code, code);
    assert_eq!(error.oauth_error(), Some(code));
}

#[tokio::test]
async fn a_token_works_in_its_projects_only() {
    let state = state();
    let headers = bearer(&token(&state, "manage_project:shop+view_payments:other").await);
    let principal = check_authorize(&state, &headers, "shop", Scope::ManagePayments)
        .await
        .unwrap();
    assert_eq!(principal.client_id, CLIENT);
    for scope in [Scope::ManageTypes, Scope::ViewMessages, Scope::ManageStates] {
        assert!(
            check_authorize(&state, &headers, "shop", scope)
                .await
                .is_ok()
        );
    }
    assert!(
        check_authorize(&state, &headers, "other", Scope::ViewPayments)
            .await
            .is_ok()
    );
    for (project_key, scope) in [
        ("other", Scope::ManagePayments),
        ("other", Scope::ViewMessages),
        ("third", Scope::ViewPayments),
    ] {
        let result = check_authorize(&state, &headers, project_key, scope).await;
        assert_denied(result, StatusCode::FORBIDDEN, "insufficient_scope");
    }
}

#[tokio::test]
async fn a_token_holds_only_what_it_asked_for() {
    let state = state();
    let headers = bearer(&token(&state, "view_payments:shop").await);
    assert!(
        check_authorize(&state, &headers, "shop", Scope::ViewPayments)
            .await
            .is_ok()
    );
    let result = check_authorize(&state, &headers, "shop", Scope::ManagePayments).await;
    assert_denied(result, StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_are_401_invalid_token() {
    let state = state();
    let mut basic_headers = HeaderMap::new();
    basic_headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&basic(CLIENT, SECRET)).unwrap(),
    );
    for headers in [
        HeaderMap::new(),
        basic_headers,
        bearer("garbage"),
        bearer(&"A".repeat(43)),
    ] {
        let result = check_authorize(&state, &headers, "shop", Scope::ViewPayments).await;
        assert_denied(result, StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_401_invalid_token() {
    let expiring = state_with(ApiConfig {
        token_ttl_seconds: 0,
        ..ApiConfig::default()
    });
    let headers = bearer(&token(&expiring, "manage_project:shop").await);
    let result = check_authorize(&expiring, &headers, "shop", Scope::ViewPayments).await;
    assert_denied(result, StatusCode::UNAUTHORIZED, "invalid_token");

    let state = state();
    let headers = bearer(&token(&state, "manage_project:shop").await);
    assert!(
        check_authorize(&state, &headers, "shop", Scope::ViewPayments)
            .await
            .is_ok()
    );
    revoke_client(&*state.store, CLIENT).unwrap();
    let result = check_authorize(&state, &headers, "shop", Scope::ViewPayments).await;
    assert_denied(result, StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn routes_refuse_other_projects_tokens() {
    let state = state();
    let token = token(&state, "view_payments:other").await;
    let get = |path: &str, token: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let reply = send(&state, get("/shop/payments", Some(&token))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], "insufficient_scope");
    let reply = send(&state, get("/shop/payments", None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "invalid_token");
    let reply = send(&state, get("/other/payments", Some(&token))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}
