//! The order payment flows of the seeds: `POST /{pk}/orders/{orderNumber}/retry-payment`
//! (seed `000_…`).
//!
//! The body is the seed's: `{"payment_method": {payment_provider_slug,
//! integration_type, return_url, action, gateway_reference_id}}`; the
//! answer is the seed's `{message, success, content: {payment_info,
//! order_expiry}}`. Refusals use payledger's error shape; a retry that comes
//! too early is a 400 `RetryNotYetAllowed` with `retryAllowedFrom` and a
//! `Retry-After` header. Scope `manage_orders`. `Idempotency-Key` replays
//! the first answer. Without a PSP configuration the route answers 404.

use crate::auth::{Scope, authorize};
use crate::idempotent::{IdempotencyRow, answer};
use crate::json::read::{Obj, Path as JsonPath, parse_body};
use crate::payments::not_found;
use crate::request::{Body, correlation, now, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use payledger_app::order_attempts::{OrderAttempts, RetryOutcome, RetryRequest};
use payledger_app::{CommandMeta, OrderRef};
use payledger_domain::Actor;
use payledger_domain::order::attempt_status;
use payledger_domain::time::format_timestamp;
use serde_json::{Map, Value, json};
use std::any::Any;

pub fn routes() -> Router<AppState> {
    Router::new().route("/{pk}/orders/{id}/retry-payment", post(retry))
}

async fn retry(
    State(state): State<AppState>,
    Path((pk, number)): Path<(String, String)>,
    attempts: Option<Extension<OrderAttempts>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let Some(Extension(attempts)) = attempts else {
        return Err(ApiError::not_found(
            "No PSP is configured on this server: orders cannot be paid through it.",
        ));
    };
    let request = parse_retry(&body)?;
    let meta = CommandMeta {
        project,
        actor: Actor::Client(principal.client_id),
        now: now(),
        correlation_id: correlation(&extensions),
        idempotency: None,
    };
    let answer = answer(row.as_deref(), StatusCode::OK, answered_json);
    let outcome = attempts
        .retry(meta, answer, OrderRef::Number(number.clone()), request)
        .await
        .map_err(|error| match error {
            payledger_app::psp::PspFailure::App(payledger_app::AppError::NotFound) => {
                not_found(&number)
            }
            other => ApiError::from(other),
        })?;
    Ok(Json(retry_to_json(&outcome)))
}

/// Renders a recorded idempotency answer from the use case's result.
fn answered_json(answered: &dyn Any) -> Value {
    answered
        .downcast_ref::<RetryOutcome>()
        .map_or(Value::Null, retry_to_json)
}

/// The seed's request body.
fn parse_retry(body: &[u8]) -> Result<RetryRequest, ApiError> {
    let value = parse_body(body)?;
    let root = Obj::new(&value, JsonPath::root())?;
    let method = root
        .opt_obj("payment_method")?
        .ok_or_else(|| root.at("payment_method").missing())?;
    Ok(RetryRequest {
        provider: method.req_string("payment_provider_slug")?,
        integration_type: method.opt_string("integration_type")?,
        return_url: method.opt_string("return_url")?,
        action: method.req_string("action")?,
        gateway_reference_id: method.opt_string("gateway_reference_id")?,
    })
}

/// The seed's answer: the attempt, its PaymentIntent's client secret for
/// the storefront SDK, and when it expires.
pub fn retry_to_json(outcome: &RetryOutcome) -> Value {
    let order = &outcome.order.order;
    let attempt = &outcome.attempt;
    let expiry = format_timestamp(outcome.expires_at);
    let mut payload = Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            payload.insert(name.into(), json!(value));
        }
    };
    put("merchantId", outcome.publishable_key.as_deref());
    put("clientAuthToken", Some(outcome.client_secret.expose()));
    put("clientAuthTokenExpiry", Some(&expiry));
    put("environment", Some(outcome.environment));
    put("orderId", Some(&order.order_number));
    put("amount", Some(&attempt.amount_planned.to_decimal()));
    put("currency", Some(attempt.amount_planned.currency.as_str()));
    put("action", Some(&outcome.request.action));
    put("customerId", order.customer_id.as_deref());
    put("customerEmail", order.customer_email.as_deref());
    put("returnUrl", outcome.request.return_url.as_deref());
    put(
        "description",
        Some(&format!("Order {}", order.order_number)),
    );
    let status = match attempt_status(attempt) {
        payledger_domain::order::AttemptStatus::Succeeded => "success",
        payledger_domain::order::AttemptStatus::Failed => "failed",
        _ => "pending",
    };
    json!({
        "message": "A new payment attempt was created for the order's outstanding amount.",
        "success": true,
        "content": {
            "payment_info": {
                "id": attempt.id.to_string(),
                "status": status,
                "order_id": order.id.to_string(),
                "order_number": order.order_number,
                "payment_links": {
                    "web": Value::Null,
                    "expiry": expiry,
                },
                "sdk_payload": {
                    "requestId": outcome.intent_id,
                    "service": outcome.request.provider,
                    "payload": payload,
                },
            },
            "order_expiry": expiry,
        },
    })
}
