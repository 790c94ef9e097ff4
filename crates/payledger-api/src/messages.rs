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
//! other queries scan the partition logs of the store, and are refused
//! (400, naming [`MESSAGE_SCAN_EVENTS_MAX`]) when the logs hold more
//! events than that, never answered in part.

use crate::auth::{Scope, authorize};
use crate::query::QuerySpec;
use crate::request::{QueryPairs, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use payledger_domain::{EventId, PaymentId, ProjectKey, ResourceRef};
use payledger_query::{CompareOp, Literal, Operand, Predicate};
use payledger_store::VersionRange;
use payledger_wire::json::MessageKeys;
use serde_json::Value;

/// Most events a message query reads when no stream is pinned.
pub const MESSAGE_SCAN_EVENTS_MAX: usize = 1_000_000;

/// Refuses a log scan over `heads` (events per partition) when the logs
/// hold more than `max` events.
fn log_scan_allowed(heads: &[u64], max: usize) -> Result<(), payledger_app::AppError> {
    let stored: u64 = heads.iter().sum();
    if stored > max as u64 {
        return Err(payledger_app::AppError::ScanLimit {
            what: "a Message query without resource(id = \"…\")",
            limit: "MESSAGE_SCAN_EVENTS_MAX",
            max,
            narrow: "pin one payment or order with resource(id = \"…\")",
        });
    }
    Ok(())
}

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

/// Every message of the project a query must consider.
fn candidates(
    state: &AppState,
    project: &ProjectKey,
    spec: &QuerySpec,
) -> Result<Vec<Value>, ApiError> {
    let mut keys = MessageKeys::default();
    let events = match pinned_resource(spec.predicate.as_ref()) {
        // The id names a payment or an order (ids are random UUIDs, so at
        // most one of the two streams holds events).
        Some(payment) => {
            let events = state.store.read_stream(payment.into(), VersionRange::ALL)?;
            if events.is_empty() {
                let order = payledger_domain::OrderId::from_uuid(payment.uuid());
                state
                    .store
                    .read_stream(payledger_domain::StreamId::order(order), VersionRange::ALL)?
            } else {
                events
            }
        }
        None => {
            log_scan_allowed(&state.store.log_heads()?, MESSAGE_SCAN_EVENTS_MAX)?;
            let mut events = Vec::new();
            for partition in 0..state.store.partition_count() {
                let budget = MESSAGE_SCAN_EVENTS_MAX.saturating_sub(events.len());
                events.extend(state.store.read_log(partition, 1, budget)?);
            }
            events
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_scan_past_the_limit_is_refused_naming_it() {
        assert!(log_scan_allowed(&[3, 4], 7).is_ok());
        let refused = ApiError::from(log_scan_allowed(&[3, 5], 7).expect_err("past"));
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        let text = format!("{refused:?}");
        assert!(
            text.contains("MESSAGE_SCAN_EVENTS_MAX") && text.contains("resource(id"),
            "{text}"
        );
    }
}
