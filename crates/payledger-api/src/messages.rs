//! The Messages routes: every event of a payment yields one Message, with
//! a contiguous `sequenceNumber` per payment equal to the event's version.
//!
//! | route | scope |
//! |---|---|
//! | `GET /{pk}/messages` | view_messages (paged query, predicates over the Message JSON) |
//! | `GET\|HEAD /{pk}/messages/{id}` | view_messages |
//!
//! Messages are not stored twice: they are rendered from the events. A
//! query whose predicate pins `resource(id = "…")` reads that one stream;
//! any other reads the Message index of its project
//! ([`payledger_app::message_index`]), narrowed by the `type = …`,
//! `type in …` and `createdAt` comparisons among its top-level `and`
//! conjuncts (the rest of the predicate is evaluated on what it reads). A
//! query whose index range holds more than
//! [`ApiConfig::message_scan_events_max`](crate::ApiConfig) Messages
//! ([`MESSAGE_SCAN_EVENTS_MAX`] by default) is refused (400, naming the
//! limit and how to narrow it), never answered in part.

use crate::auth::{Scope, authorize};
use crate::query::QuerySpec;
use crate::request::{QueryPairs, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
pub use payledger_app::message_index::MESSAGE_SCAN_EVENTS_MAX;
use payledger_app::message_index::{MessageSelection, TextBound};
use payledger_domain::{EventId, PaymentId, ProjectKey, ResourceRef};
use payledger_query::{CompareOp, Literal, Operand, Predicate};
use payledger_store::VersionRange;
use payledger_wire::json::{MessageKeys, message_to_json};
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/messages", get(query))
        .route("/{pk}/messages/{id}", get(get_one).head(head_one))
}

/// The payment a predicate pins with a top-level `resource(id = "…")`.
fn pinned_resource(predicate: Option<&Predicate>) -> Option<PaymentId> {
    let parts: Vec<&Predicate> = match predicate? {
        Predicate::And(parts) => parts.iter().collect(),
        single => vec![single],
    };
    parts.into_iter().find_map(|part| match part {
        Predicate::Nested { field, inner } if field == "resource" => match inner.as_ref() {
            Predicate::Compare {
                field,
                op: CompareOp::Eq,
                value: Operand::Literal(Literal::String(id)),
            } if field == "id" => PaymentId::parse(id),
            _ => None,
        },
        _ => None,
    })
}

/// What the Message index can narrow `spec` to: the types its `type`
/// conjuncts allow and the bounds of its `createdAt` conjuncts.
fn selection(spec: &QuerySpec) -> MessageSelection {
    let Some(predicate) = &spec.predicate else {
        return MessageSelection::default();
    };
    let created_at = predicate
        .text_comparisons("createdAt", &spec.variables)
        .into_iter()
        .flat_map(|(op, text)| match op {
            CompareOp::Eq => vec![TextBound::AtLeast(text.clone()), TextBound::AtMost(text)],
            CompareOp::Lt => vec![TextBound::Below(text)],
            CompareOp::Le => vec![TextBound::AtMost(text)],
            CompareOp::Gt => vec![TextBound::Above(text)],
            CompareOp::Ge => vec![TextBound::AtLeast(text)],
            CompareOp::Ne => Vec::new(),
        })
        .collect();
    MessageSelection {
        types: predicate.required_values("type", &spec.variables),
        created_at,
    }
}

/// Every message of the project a query must consider.
fn candidates(
    state: &AppState,
    project: &ProjectKey,
    spec: &QuerySpec,
) -> Result<Vec<Value>, ApiError> {
    let Some(payment) = pinned_resource(spec.predicate.as_ref()) else {
        let max = state.config.message_scan_events_max;
        let found = state.ledger.messages(project, &selection(spec), max)?;
        return Ok(found
            .iter()
            .map(|m| message_to_json(&m.envelope, m.key.as_deref()))
            .collect());
    };
    // The id names a payment or an order (ids are random UUIDs, so at
    // most one of the two streams holds events).
    let mut events = state.store.read_stream(payment.into(), VersionRange::ALL)?;
    if events.is_empty() {
        let order = payledger_domain::OrderId::from_uuid(payment.uuid());
        events = state
            .store
            .read_stream(payledger_domain::StreamId::order(order), VersionRange::ALL)?;
    }
    let mut keys = MessageKeys::default();
    Ok(events
        .iter()
        .filter(|e| &e.meta.project == project)
        .map(|e| keys.render(e))
        .collect())
}

async fn query(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewMessages).await?;
    let spec = QuerySpec::parse(&params)?;
    let page = state
        .blocking(move |s| {
            let messages = candidates(&s, &project, &spec)?;
            spec.page(messages)
        })
        .await?;
    Ok(Json(page))
}

/// The message with this id (its event's id), if it belongs to `project`.
fn find(state: &AppState, project: &ProjectKey, id: &str) -> Result<Option<Value>, ApiError> {
    let Some(event_id) = EventId::parse(id) else {
        return Ok(None);
    };
    // The earlier events give the key the payment had then: one read.
    let Some(stream) = state.ledger.event_with_history(event_id)? else {
        return Ok(None);
    };
    let Some((event, earlier)) = stream
        .split_last()
        .filter(|(e, _)| &e.meta.project == project)
    else {
        return Ok(None);
    };
    let mut keys = MessageKeys::default();
    for before in earlier {
        keys.observe(before);
    }
    Ok(Some(keys.render(event)))
}

async fn get_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewMessages).await?;
    let wanted = id.clone();
    state
        .blocking(move |s| find(&s, &project, &wanted))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::resource_not_found(&ResourceRef::Id(id)))
}

async fn head_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewMessages).await?;
    let found = state.blocking(move |s| find(&s, &project, &id)).await?;
    Ok(if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}
