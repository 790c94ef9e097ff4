//! The order routes (API.md Part D, issue 12).
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/orders` | view_orders | paged query response (`expand=paymentInfo.payments[*]` embeds the payments) |
//! | `POST /{pk}/orders` | manage_orders | 201 Order |
//! | `GET /{pk}/orders/{id}`, `order-number={n}`, `key={k}` | view_orders | 200 / 404 (`asOfVersion`/`asOf`: as it was, see [`crate::history`]) |
//! | `POST /{pk}/orders/{id}` (and the same targets) | manage_orders | 200 updated Order |
//! | `DELETE /{pk}/orders/{id}?version=N[&dataErasure=true]` (and the same targets) | manage_orders | 200 the Order as it was deleted |
//!
//! Draft: `{orderNumber, totalPrice, key?, customerId?, customerEmail?}`.
//! Update actions: `addPayment` and `removePayment` (`payment`: a payment
//! ResourceIdentifier by `id`), `setCustomerEmail` (`email?`), `setKey`
//! (`key?`) and `cancel`. Queries run over the Order JSON the routes
//! answer (`paymentState`, `orderNumber`, `customerId`, `createdAt`, …),
//! scanning at most [`ORDERS_SCAN_MAX`] orders of the project; a project
//! with more is refused with a 400 rather than answered in part.
//! `Idempotency-Key` replays a recorded answer, like Types and States.

use crate::auth::{Scope, authorize};
use crate::catalog::{ActionParser, parse_update};
use crate::idempotent::{IdempotencyRow, answer};
use crate::json::money::parse_money;
use crate::json::read::{Obj, Path as JsonPath, parse_body, string};
use crate::payments::not_found;
use crate::query::QuerySpec;
use crate::request::{Body, QueryPairs, correlation, now, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use payledger_app::{CommandMeta, OrderCommand, OrderRef, OrderView};
use payledger_domain::{Actor, OrderAction, OrderDraft, OrderId, PaymentId, ProjectKey};
use payledger_wire::json::order_to_json;
use serde_json::Value;
use std::any::Any;

/// Most orders a query reads (a project with more is refused, never
/// answered in part).
pub const ORDERS_SCAN_MAX: usize = 100_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/orders", get(query).post(create))
        .route(
            "/{pk}/orders/{id}",
            get(get_one).post(update).delete(delete),
        )
}

/// `{id}`, `order-number={n}` or `key={k}` in a path.
pub(crate) fn target(segment: &str) -> Result<OrderRef, ApiError> {
    if let Some(number) = segment.strip_prefix("order-number=") {
        return Ok(OrderRef::Number(number.to_owned()));
    }
    if let Some(key) = segment.strip_prefix("key=") {
        return Ok(OrderRef::Key(key.to_owned()));
    }
    OrderId::parse(segment)
        .map(OrderRef::Id)
        .ok_or_else(|| not_found(segment))
}

fn to_json(view: &OrderView) -> Value {
    order_to_json(&view.order, &view.totals)
}

/// Renders a recorded idempotency answer from the use case's result.
fn answered_json(answered: &dyn Any) -> Value {
    answered
        .downcast_ref::<OrderView>()
        .map_or(Value::Null, to_json)
}

/// The metadata of an order command of `client_id` (no idempotency key:
/// order answers are recorded through the use case's `Answer`).
pub(crate) fn meta(
    project: ProjectKey,
    client_id: String,
    extensions: &axum::http::Extensions,
) -> CommandMeta {
    CommandMeta {
        project,
        actor: Actor::Client(client_id),
        now: now(),
        correlation_id: correlation(extensions),
        idempotency: None,
    }
}

async fn create(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let draft = parse_order_draft(&body)?;
    let answer = answer(row.as_deref(), StatusCode::CREATED, answered_json);
    let view = state
        .orders
        .execute(
            meta(project, principal.client_id, &extensions),
            answer,
            OrderCommand::Create(draft),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&view))).into_response())
}

async fn update(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let target = target(&id)?;
    let (version, actions) = parse_update(&body, ACTIONS)?;
    let answer = answer(row.as_deref(), StatusCode::OK, answered_json);
    let command = OrderCommand::Update {
        target,
        version,
        actions,
    };
    let view = state
        .orders
        .execute(
            meta(project, principal.client_id, &extensions),
            answer,
            command,
        )
        .await
        .map_err(|error| match error {
            payledger_app::AppError::NotFound => not_found(&id),
            other => ApiError::from(other),
        })?;
    Ok(Json(to_json(&view)))
}

/// Deletes an order: its view and indexes go (its number and key are free
/// again, its payments belong to no order), its events stay. With
/// `dataErasure=true` its customer id and e-mail are erased as a
/// payment's personal data is.
async fn delete(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    row: Option<Extension<IdempotencyRow>>,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let target = target(&id)?;
    let command = OrderCommand::Delete {
        target,
        version: params.required_version()?,
        data_erasure: params.boolean("dataErasure", false)?,
    };
    let answer = answer(row.as_deref(), StatusCode::OK, answered_json);
    let view = state
        .orders
        .execute(
            meta(project, principal.client_id, &extensions),
            answer,
            command,
        )
        .await
        .map_err(|error| match error {
            payledger_app::AppError::NotFound => not_found(&id),
            other => ApiError::from(other),
        })?;
    Ok(Json(to_json(&view)))
}

async fn get_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewOrders).await?;
    let target = target(&id)?;
    let key = project.clone();
    let view = match crate::history::as_of(&params)? {
        None => state
            .read(move |s| s.orders.get(&key, &target))
            .await?
            .ok_or_else(|| not_found(&id))?,
        Some(as_of) => {
            let answer = state
                .read(move |s| payledger_app::history::order_as_of(&s.orders, &key, &target, as_of))
                .await?;
            crate::history::found(answer, &id)?
        }
    };
    let expand: Vec<String> = params.all("expand").map(str::to_owned).collect();
    if expand.is_empty() {
        return Ok(Json(to_json(&view)));
    }
    Ok(Json(
        crate::expand::expand(&state, &project, to_json(&view), expand).await?,
    ))
}

async fn query(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewOrders).await?;
    let spec = QuerySpec::parse(&params)?;
    let expand = spec.expand.clone();
    let key = project.clone();
    let mut page = state
        .blocking(move |s| {
            let views = s.orders.list(&key, ORDERS_SCAN_MAX + 1)?;
            if views.len() > ORDERS_SCAN_MAX {
                return Err(ApiError::invalid_input(format!(
                    "The project has more than {ORDERS_SCAN_MAX} orders, more than a query \
                     reads (orders_scan_max); look an order up by id, order-number= or key=."
                )));
            }
            spec.page(views.iter().map(to_json))
        })
        .await?;
    crate::expand::expand_results(&state, &project, &mut page, &expand).await?;
    Ok(Json(page))
}

/// The order draft of `POST /{pk}/orders`.
pub(crate) fn parse_order_draft(body: &[u8]) -> Result<OrderDraft, ApiError> {
    let value = parse_body(body)?;
    let draft = Obj::new(&value, JsonPath::root())?;
    Ok(OrderDraft {
        order_number: draft.req_string("orderNumber")?,
        key: draft.opt_string("key")?,
        total_price: draft.req("totalPrice", parse_money)?,
        customer_id: draft.opt_string("customerId")?,
        customer_email: draft.opt_string("customerEmail")?,
        // Only the tokenization API makes recurring orders.
        recurring: false,
    })
}

/// A payment ResourceIdentifier: `{typeId?: "payment", id}`.
fn payment_ref(value: &Value, at: JsonPath) -> Result<PaymentId, ApiError> {
    let reference = Obj::new(value, at)?;
    if let Some(type_id) = reference.opt("typeId", string)?
        && type_id != "payment"
    {
        return Err(reference.at("typeId").unknown(&type_id, &["payment"]));
    }
    let id = reference.req("id", string)?;
    PaymentId::parse(&id).ok_or_else(|| not_found(&id))
}

/// Every order update action by its name.
pub(crate) const ACTIONS: &[(&str, ActionParser<OrderAction>)] = &[
    ("addPayment", |a| {
        Ok(OrderAction::AddPayment(a.req("payment", payment_ref)?))
    }),
    ("removePayment", |a| {
        Ok(OrderAction::RemovePayment(a.req("payment", payment_ref)?))
    }),
    ("setCustomerEmail", |a| {
        Ok(OrderAction::SetCustomerEmail(a.opt_string("email")?))
    }),
    ("setKey", |a| Ok(OrderAction::SetKey(a.opt_string("key")?))),
    ("cancel", |_| Ok(OrderAction::Cancel)),
];
