//! The audit routes (API.md Part E): a payment's or an order's events a
//! page at a time, and reads of either as it was.
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/payments/{id}/events` and `key={key}` | view_payments | page of events |
//! | `GET /{pk}/orders/{id}/events`, `order-number={n}`, `key={k}` | view_orders | page of events |
//! | `GET /{pk}/payments/{id}?asOfVersion=N` or `?asOf=<ISO 8601>` (and `key=`) | view_payments | the Payment as it was |
//! | `GET /{pk}/orders/{id}?asOfVersion=N` or `?asOf=…` (and the other targets) | view_orders | the Order as it was |
//!
//! A page is `{limit, count, total, fromVersion, nextFromVersion?,
//! results}`: `total` is the stream's current version, `fromVersion`
//! (default 1) the first version asked for, `limit` at most
//! [`HISTORY_PAGE_EVENTS_MAX`] (default [`HISTORY_PAGE_EVENTS_DEFAULT`]),
//! and `nextFromVersion` is there while later events remain. Each result
//! is written by [`history_entry_to_json`].
//!
//! An as-of read is 404 before the aggregate was created and after a
//! payment was deleted; asked as of a moment before the deletion, it
//! answers the payment as it was then. A key or order number names the
//! aggregate that holds it now. A version past the current one is a 400
//! naming the current version.

use crate::auth::{Scope, authorize};
use crate::request::{QueryPairs, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use payledger_app::history::{
    AsOf, AsOfAnswer, HISTORY_PAGE_EVENTS_DEFAULT, HISTORY_PAGE_EVENTS_MAX, HistoryPage,
    history_page,
};
use payledger_app::{OrderRef, PaymentRef};
use payledger_domain::time::parse_timestamp;
use payledger_domain::{ProjectKey, StreamId};
use payledger_wire::json::history_entry_to_json;
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/payments/{id}/events", get(payment_events))
        .route("/{pk}/orders/{id}/events", get(order_events))
}

/// The page a request asks for: first version and size.
#[derive(Clone, Copy)]
struct PageRequest {
    from_version: u64,
    limit: u64,
}

impl PageRequest {
    fn parse(params: &QueryPairs) -> Result<Self, ApiError> {
        let from_version = params.number("fromVersion", 1, u64::MAX)?;
        if from_version == 0 {
            return Err(ApiError::invalid_input(
                "Malformed parameter: fromVersion: versions start at 1.",
            ));
        }
        let limit = params.number(
            "limit",
            HISTORY_PAGE_EVENTS_DEFAULT,
            HISTORY_PAGE_EVENTS_MAX,
        )?;
        Ok(Self {
            from_version,
            limit,
        })
    }
}

async fn payment_events(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let target = crate::payments::target(&id)?;
    events_of(
        &state,
        &pk,
        &id,
        &headers,
        &params,
        Scope::ViewPayments,
        move |s, project| {
            Ok(match &target {
                PaymentRef::Id(id) => Some(StreamId::payment(*id)),
                PaymentRef::Key(_) => {
                    (s.ledger.get(project, &target)?).map(|p| StreamId::payment(p.id))
                }
            })
        },
    )
    .await
}

async fn order_events(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let target = crate::orders::target(&id)?;
    events_of(
        &state,
        &pk,
        &id,
        &headers,
        &params,
        Scope::ViewOrders,
        move |s, project| {
            Ok(match &target {
                OrderRef::Id(id) => Some(StreamId::order(*id)),
                _ => (s.orders.get(project, &target)?).map(|view| StreamId::order(view.order.id)),
            })
        },
    )
    .await
}

/// A page of the events of the stream `stream` names (`None`: no such
/// aggregate), for a caller holding `scope`.
async fn events_of(
    state: &AppState,
    pk: &str,
    id: &str,
    headers: &HeaderMap,
    params: &QueryPairs,
    scope: Scope,
    stream: impl Fn(&AppState, &ProjectKey) -> Result<Option<StreamId>, payledger_app::AppError>
    + Clone
    + Send
    + 'static,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(pk)?;
    authorize(state, headers, &project, scope).await?;
    let request = PageRequest::parse(params)?;
    let page = state
        .read(move |s| match stream(s, &project)? {
            Some(stream) => page_of(s, &project, stream, &request),
            None => Ok(None),
        })
        .await?;
    page.ok_or_else(|| crate::payments::not_found(id))
}

fn page_of(
    state: &AppState,
    project: &ProjectKey,
    stream: StreamId,
    request: &PageRequest,
) -> Result<Option<Json<Value>>, payledger_app::AppError> {
    let page = history_page(
        &**state.ledger.store(),
        project,
        stream,
        request.from_version,
        request.limit,
    )?;
    Ok(page.map(|page| Json(page_json(&page, request))))
}

fn page_json(page: &HistoryPage, request: &PageRequest) -> Value {
    let results: Vec<Value> = (page.events.iter())
        .map(|(event, hash)| history_entry_to_json(event, hash))
        .collect();
    let mut out = json!({
        "limit": request.limit,
        "count": results.len(),
        "total": page.current_version,
        "fromVersion": request.from_version,
    });
    if let Some((last, _)) = page.events.last()
        && last.version < page.current_version
    {
        out["nextFromVersion"] = json!(last.version + 1);
    }
    out["results"] = Value::Array(results);
    out
}

/// The moment an as-of read asks for, if it asks for one.
pub(crate) fn as_of(params: &QueryPairs) -> Result<Option<AsOf>, ApiError> {
    match (params.last("asOfVersion"), params.last("asOf")) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::invalid_input(
            "Give asOfVersion or asOf, not both.",
        )),
        (Some(_), None) => Ok(Some(AsOf::Version(params.number(
            "asOfVersion",
            0,
            u64::MAX,
        )?))),
        (None, Some(text)) => parse_timestamp(text)
            .map(AsOf::Time)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "Malformed parameter: asOf: expected an ISO 8601 date-time such as \
                 2026-12-06T10:00:00.000Z, got '{text}'."
                ))
            }),
    }
}

/// The found value of an as-of answer, or the error it is.
pub(crate) fn found<T>(answer: AsOfAnswer<T>, id: &str) -> Result<T, ApiError> {
    match answer {
        AsOfAnswer::Found(value) => Ok(value),
        AsOfAnswer::NotFound => Err(crate::payments::not_found(id)),
        AsOfAnswer::PastCurrent { current_version } => Err(ApiError::invalid_input(format!(
            "asOfVersion is past the current version {current_version} of '{id}'."
        ))
        .with("currentVersion", current_version)),
    }
}
