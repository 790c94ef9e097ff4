//! The payment routes of the commercetools-compatible API.
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/payments` | view_payments | paged query response |
//! | `HEAD /{pk}/payments?where=…` | view_payments | 200 if any match, else 404 |
//! | `POST /{pk}/payments` | manage_payments | 201 Payment |
//! | `GET\|HEAD /{pk}/payments/{id}` and `key={key}` | view_payments | 200 / 404 (`asOfVersion`/`asOf`: as it was, see [`crate::history`]) |
//! | `POST /{pk}/payments/{id}` and `key={key}` | manage_payments | 200 updated Payment |
//! | `DELETE /{pk}/payments/{id}?version=N[&dataErasure=true]` | manage_payments | 200 deleted Payment |
//!
//! Queries use an index when the predicate allows it (`id`, `key`,
//! `interfaceId`, `customer(id = …)`) and scan the project's views
//! otherwise; either way every candidate is checked against the whole
//! predicate.

use crate::auth::{Scope, authorize};
use crate::json::{parse_payment_draft, parse_update, payment_json_bytes, payment_to_json};
use crate::query::QuerySpec;
use crate::request::{Body, QueryPairs, correlation, now, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use payledger_app::payment_reads::PaymentIndex;
use payledger_app::{CommandMeta, Idempotency, PaymentCommand, PaymentRef};
use payledger_domain::{Actor, Payment, PaymentId, ProjectKey, ResourceRef};
use payledger_query::IndexHint;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/payments", get(query).head(exists).post(create))
        .route(
            "/{pk}/payments/{id}",
            get(get_one).head(head_one).post(update).delete(delete),
        )
}

/// `{id}` or `key={key}` in a path.
pub(crate) fn target(segment: &str) -> Result<PaymentRef, ApiError> {
    if let Some(key) = segment.strip_prefix("key=") {
        return Ok(PaymentRef::Key(key.to_owned()));
    }
    PaymentId::parse(segment)
        .map(PaymentRef::Id)
        .ok_or_else(|| not_found(segment))
}

pub(crate) fn not_found(what: &str) -> ApiError {
    ApiError::resource_not_found(&ResourceRef::Id(what.to_owned()))
}

/// Builds the metadata of a command: actor, clock, correlation and the
/// idempotency key with the hash of the request it guards.
fn command_meta(
    project: ProjectKey,
    client_id: String,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    request_line: &str,
    body: &[u8],
) -> CommandMeta {
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|key| {
            let mut hasher = Sha256::new();
            hasher.update(request_line.as_bytes());
            hasher.update(b"\n");
            hasher.update(body);
            Idempotency {
                key: key.to_owned(),
                request_hash: hasher.finalize().into(),
            }
        });
    CommandMeta {
        project,
        actor: Actor::Client(client_id),
        now: now(),
        correlation_id: correlation(extensions),
        idempotency,
    }
}

async fn create(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManagePayments).await?;
    let draft = parse_payment_draft(&body)?;
    let line = format!("POST /{pk}/payments");
    let meta = command_meta(
        project,
        principal.client_id,
        &headers,
        &extensions,
        &line,
        &body,
    );
    let committed = state
        .execute(meta, PaymentCommand::Create(Box::new(draft)))
        .await?;
    let json = state.payment_texts.written(&committed);
    Ok(payment_response(StatusCode::CREATED, json))
}

/// A Payment answer: its JSON, from [`crate::payment_texts`].
pub(crate) fn payment_response(status: StatusCode, json: axum::body::Bytes) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, content_type)], json).into_response()
}

async fn update(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManagePayments).await?;
    let target = target(&id)?;
    let request = parse_update(&body)?;
    let line = format!("POST /{pk}/payments/{id}");
    let meta = command_meta(
        project,
        principal.client_id,
        &headers,
        &extensions,
        &line,
        &body,
    );
    let command = PaymentCommand::Update {
        target,
        version: request.version,
        actions: request.actions,
    };
    let committed = state.execute(meta, command).await?;
    let json = state.payment_texts.written(&committed);
    Ok(payment_response(StatusCode::OK, json))
}

async fn delete(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    params: QueryPairs,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManagePayments).await?;
    let target = target(&id)?;
    let version = params.required_version()?;
    let data_erasure = params.boolean("dataErasure", false)?;
    let line = format!("DELETE /{pk}/payments/{id}?version={version}&dataErasure={data_erasure}");
    let meta = command_meta(
        project,
        principal.client_id,
        &headers,
        &extensions,
        &line,
        &[],
    );
    let command = PaymentCommand::Delete {
        target,
        version,
        data_erasure,
    };
    let committed = state.execute(meta, command).await?;
    Ok(payment_response(
        StatusCode::OK,
        state.payment_texts.written(&committed),
    ))
}

/// Loads one payment by id or key.
pub(crate) async fn load(
    state: &AppState,
    project: ProjectKey,
    target: PaymentRef,
) -> Result<Option<Payment>, ApiError> {
    state.read(move |s| s.ledger.get(&project, &target)).await
}

async fn get_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewPayments).await?;
    let target = target(&id)?;
    let as_of = crate::history::as_of(&params)?;
    let current = as_of.is_none();
    let payment = match as_of {
        None => {
            let project = project.clone();
            state
                .read(move |s| s.ledger.get_shared(&project, &target))
                .await?
                .ok_or_else(|| not_found(&id))?
        }
        Some(as_of) => {
            let project = project.clone();
            let answer = state
                .read(move |s| {
                    payledger_app::history::payment_as_of(&s.ledger, &project, &target, as_of)
                })
                .await?;
            std::sync::Arc::new(crate::history::found(answer, &id)?)
        }
    };
    let expand: Vec<String> = params.all("expand").map(str::to_owned).collect();
    if expand.is_empty() {
        // An earlier version is written afresh: after an erasure it reads
        // differently from what was answered at that version.
        let json = if current {
            state.payment_texts.current(&payment)
        } else {
            payment_json_bytes(&payment).into()
        };
        return Ok(payment_response(StatusCode::OK, json));
    }
    let json = crate::expand::expand(&state, &project, payment_to_json(&payment), expand).await?;
    Ok(Json(json).into_response())
}

async fn head_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewPayments).await?;
    let found = match target(&id) {
        Ok(target) => load(&state, project, target).await?.is_some(),
        Err(_) => false,
    };
    Ok(if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

async fn query(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewPayments).await?;
    let spec = QuerySpec::parse(&params)?;
    let expand = spec.expand.clone();
    let (spec, project_for_scan) = (std::sync::Arc::new(spec), project.clone());
    let scan_spec = std::sync::Arc::clone(&spec);
    let mut page = match indexed(&spec) {
        // A few payments an index names: read where memory allows.
        Some((index, values)) => {
            let project = project.clone();
            let documents = state
                .read(move |s| s.ledger.find_by(&project, index, &values))
                .await?;
            spec.page(documents.iter().map(payment_to_json))?
        }
        None => {
            state
                .blocking(move |s| {
                    let documents = s.ledger.all_views(&project_for_scan)?;
                    scan_spec.page(documents.iter().map(payment_to_json))
                })
                .await?
        }
    };
    crate::expand::expand_results(&state, &project, &mut page, &expand).await?;
    Ok(Json(page))
}

async fn exists(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewPayments).await?;
    let spec = QuerySpec::parse(&params)?;
    let any = state
        .blocking(move |s| {
            let payments = candidates(&s, &project, &spec)?;
            spec.matches_any(payments.iter().map(payment_to_json))
        })
        .await?;
    Ok(if any {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

/// The payments a query must look at: those the most selective index
/// names, or all views of the project when no index applies.
fn candidates(
    state: &AppState,
    project: &ProjectKey,
    spec: &QuerySpec,
) -> Result<Vec<Payment>, ApiError> {
    Ok(match indexed(spec) {
        Some((index, values)) => state.ledger.find_by(project, index, &values)?,
        None => state.ledger.all_views(project)?,
    })
}

/// The most selective index the predicate allows, with the values it
/// looks up.
fn indexed(spec: &QuerySpec) -> Option<(PaymentIndex, Vec<String>)> {
    let hints = spec.index_hints();
    let hint = hints.iter().min_by_key(|h| h.values().len())?;
    let index = match hint {
        IndexHint::Id(_) => PaymentIndex::Id,
        IndexHint::Key(_) => PaymentIndex::Key,
        IndexHint::InterfaceId(_) => PaymentIndex::InterfaceId,
        IndexHint::CustomerId(_) => PaymentIndex::CustomerId,
    };
    Some((index, hint.values().to_vec()))
}
