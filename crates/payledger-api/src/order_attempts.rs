//! The order payment flows of the seeds:
//!
//! | route | scope | success |
//! |---|---|---|
//! | `POST /{pk}/orders/{orderNumber}/retry-payment` | manage_orders | 200, seed 000's answer |
//! | `POST /{pk}/orders/{orderNumber}/collect-payment?send_payment_notification=bool` | manage_orders | 200, seed 002's order |
//!
//! Retry body (seed 000): `{"payment_method": {payment_provider_slug,
//! integration_type, return_url, action, gateway_reference_id, mandate?}}`;
//! `mandate` (`{max_amount, start_date, end_date, frequency, rule_value}`,
//! all optional text) saves the shopper's card for collect-payment. The
//! answer carries the hosted page's link (`payment_links.web`) and the SDK
//! payload. Refusals use payledger's error shape; a retry that comes too
//! early is a 400 `RetryNotYetAllowed` with `retryAllowedFrom` and a
//! `Retry-After` header. `Idempotency-Key` replays the first answer.
//! Without a PSP configuration both routes answer 404.

use crate::auth::{Scope, authorize};
use crate::idempotent::{IdempotencyRow, answer};
use crate::json::read::{Obj, Path as JsonPath, parse_body};
use crate::orders::meta;
use crate::payments::not_found;
use crate::request::{Body, QueryPairs, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use payledger_app::order_attempts::{
    CollectOutcome, MandateRequest, OrderAttempts, RetryOutcome, RetryRequest,
};
use payledger_app::psp::PspFailure;
use payledger_app::{AppError, OrderRef};
use payledger_domain::OrderPaymentState;
use payledger_domain::payment::{Transaction, TransactionState, TransactionType};
use payledger_domain::time::format_timestamp;
use serde_json::{Map, Value, json};
use std::any::Any;

/// Longest accepted `return_url`, in bytes.
pub const RETURN_URL_BYTES_MAX: usize = 2048;
/// Longest accepted text of a request field other than the URL, in bytes.
pub const RETRY_FIELD_BYTES_MAX: usize = 256;

/// The base URL links to this server start with (`--public-url`, else
/// `http://` and the bound address).
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/orders/{id}/retry-payment", post(retry))
        .route("/{pk}/orders/{id}/collect-payment", post(collect))
}

/// The flows of a server with a PSP configuration (404 without one).
pub(crate) fn flows(attempts: Option<Extension<OrderAttempts>>) -> Result<OrderAttempts, ApiError> {
    attempts.map(|Extension(a)| a).ok_or_else(|| {
        ApiError::not_found(
            "No PSP is configured on this server: orders cannot be paid through it.",
        )
    })
}

/// A failure of a flow; an unknown order names the order number.
fn failure(number: &str) -> impl Fn(PspFailure) -> ApiError + '_ {
    move |error| match error {
        PspFailure::App(AppError::NotFound) => not_found(number),
        other => ApiError::from(other),
    }
}

#[allow(clippy::too_many_arguments)]
async fn retry(
    State(state): State<AppState>,
    Path((pk, number)): Path<(String, String)>,
    attempts: Option<Extension<OrderAttempts>>,
    public: Option<Extension<PublicUrl>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let attempts = flows(attempts)?;
    let request = parse_retry(&body)?;
    let base = public.map(|Extension(p)| p.0).unwrap_or_default();
    let render_base = base.clone();
    let answer = answer(row.as_deref(), StatusCode::OK, move |answered| {
        answered
            .downcast_ref::<RetryOutcome>()
            .map_or(Value::Null, |o| retry_to_json(o, &render_base))
    });
    let outcome = attempts
        .retry(
            meta(project, principal.client_id, &extensions),
            answer,
            OrderRef::Number(number.clone()),
            request,
        )
        .await
        .map_err(failure(&number))?;
    Ok(Json(retry_to_json(&outcome, &base)))
}

async fn collect(
    State(state): State<AppState>,
    Path((pk, number)): Path<(String, String)>,
    attempts: Option<Extension<OrderAttempts>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    params: QueryPairs,
    row: Option<Extension<IdempotencyRow>>,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageOrders).await?;
    let attempts = flows(attempts)?;
    let notify = params.flag("send_payment_notification")?;
    let answer = answer(row.as_deref(), StatusCode::OK, collected_json);
    let outcome = attempts
        .collect(
            meta(project, principal.client_id, &extensions),
            answer,
            OrderRef::Number(number.clone()),
            notify,
        )
        .await
        .map_err(failure(&number))?;
    Ok(Json(collect_to_json(&outcome)))
}

fn collected_json(answered: &dyn Any) -> Value {
    answered
        .downcast_ref::<CollectOutcome>()
        .map_or(Value::Null, collect_to_json)
}

/// A text field of the request, at most [`RETRY_FIELD_BYTES_MAX`] bytes.
fn short(object: &Obj<'_>, name: &str) -> Result<Option<String>, ApiError> {
    let value = object.opt_string(name)?;
    match value {
        Some(text) if text.len() > RETRY_FIELD_BYTES_MAX => Err(object.at(name).error(&format!(
            "is longer than {RETRY_FIELD_BYTES_MAX} bytes (retry_field_bytes_max)"
        ))),
        other => Ok(other),
    }
}

/// The seed's request body.
pub(crate) fn parse_retry(body: &[u8]) -> Result<RetryRequest, ApiError> {
    let value = parse_body(body)?;
    let root = Obj::new(&value, JsonPath::root())?;
    let method = root
        .opt_obj("payment_method")?
        .ok_or_else(|| root.at("payment_method").missing())?;
    let provider = short(&method, "payment_provider_slug")?
        .ok_or_else(|| method.at("payment_provider_slug").missing())?;
    let action = short(&method, "action")?.ok_or_else(|| method.at("action").missing())?;
    let return_url = method.opt_string("return_url")?;
    if let Some(url) = &return_url {
        let web = url.starts_with("https://") || url.starts_with("http://");
        let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !web || !clean || url.len() > RETURN_URL_BYTES_MAX {
            return Err(ApiError::invalid_field(
                "payment_method.return_url",
                json!(url),
                format!(
                    "payment_method.return_url must be an http(s) URL without spaces, at most \
                     {RETURN_URL_BYTES_MAX} bytes (return_url_bytes_max)."
                ),
            ));
        }
    }
    let mandate = match method.opt_obj("mandate")? {
        None => None,
        Some(mandate) => Some(MandateRequest {
            max_amount: short(&mandate, "max_amount")?,
            start_date: short(&mandate, "start_date")?,
            end_date: short(&mandate, "end_date")?,
            frequency: short(&mandate, "frequency")?,
            rule_value: short(&mandate, "rule_value")?,
        }),
    };
    Ok(RetryRequest {
        provider,
        integration_type: short(&method, "integration_type")?,
        return_url,
        action,
        gateway_reference_id: short(&method, "gateway_reference_id")?,
        mandate,
    })
}

/// The seed's answer: the attempt, the hosted page's link, what a
/// storefront SDK needs to let the shopper pay, and when it expires.
pub fn retry_to_json(outcome: &RetryOutcome, public_url: &str) -> Value {
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
    let description = format!("Order {}", order.order_number);
    put("description", Some(&description));
    if let Some(mandate) = &outcome.request.mandate {
        put("mandate.maxAmount", mandate.max_amount.as_deref());
        put("mandate.start_date", mandate.start_date.as_deref());
        put("mandate.end_date", mandate.end_date.as_deref());
        put("mandate.frequency", mandate.frequency.as_deref());
        put("mandate.rule_value", mandate.rule_value.as_deref());
        payload.insert("options.createMandate".into(), json!(true));
    }
    json!({
        "message": "A new payment attempt was created for the order's outstanding amount.",
        "success": true,
        "content": {
            "payment_info": {
                "id": attempt.id.to_string(),
                "status": "pending",
                "order_id": order.id.to_string(),
                "payment_links": {
                    "web": format!("{}/pay/{}", public_url.trim_end_matches('/'), outcome.link_token),
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

/// Seed 002's `payment_status` for an order.
fn payment_status(outcome: &CollectOutcome) -> &'static str {
    let totals = &outcome.order.totals;
    match totals.payment_state {
        OrderPaymentState::Paid => "paid",
        OrderPaymentState::CreditOwed => "credit_owed",
        OrderPaymentState::Pending => "pending",
        OrderPaymentState::Failed => "failed",
        OrderPaymentState::BalanceDue if totals.total_paid.cent_amount > 0 => "partially_paid",
        OrderPaymentState::BalanceDue => "unpaid",
    }
}

/// Seed 002's status of a transaction.
fn transaction_status(state: TransactionState) -> &'static str {
    match state {
        TransactionState::Success => "succeeded",
        TransactionState::Failure => "failed",
        TransactionState::Initial | TransactionState::Pending => "pending",
    }
}

/// Seed 002's `response_code`: 0 approved, 1 pending, 2 declined.
fn response_code(state: TransactionState) -> u8 {
    match state {
        TransactionState::Success => 0,
        TransactionState::Initial | TransactionState::Pending => 1,
        TransactionState::Failure => 2,
    }
}

/// The order after a collect, in seed 002's shape as far as payledger has
/// the data: its Charge and Refund transactions over every attempt.
pub fn collect_to_json(outcome: &CollectOutcome) -> Value {
    let order = &outcome.order.order;
    let totals = &outcome.order.totals;
    let mut transactions = Vec::new();
    for attempt in &outcome.attempts {
        let payment = &attempt.payment;
        let charge_of = |t: &Transaction| {
            (t.kind == TransactionType::Refund)
                .then(|| {
                    payment
                        .transactions
                        .iter()
                        .find(|c| c.kind == TransactionType::Charge)
                        .map(|c| c.id.to_string())
                })
                .flatten()
        };
        for t in payment
            .transactions
            .iter()
            .filter(|t| matches!(t.kind, TransactionType::Charge | TransactionType::Refund))
        {
            let saved = attempt.saved.as_ref();
            let gateway = payment
                .payment_method_info
                .payment_interface
                .clone()
                .unwrap_or_default();
            transactions.push(json!({
                "id": t.id.to_string(),
                "payment_id": payment.id.to_string(),
                "type": if t.kind == TransactionType::Refund { "refund" } else { "sale" },
                "amount": t.amount.to_decimal(),
                "currency": t.amount.currency.as_str(),
                "status": transaction_status(t.state),
                "payment_method": payment.payment_method_info.method.clone().unwrap_or_else(|| "card".into()),
                "payment_details": {
                    "gateway": {"name": gateway, "type": gateway},
                    "card_brand": saved.and_then(|s| s.brand.clone()),
                    "bankcard_last_four": saved.and_then(|s| s.last4.clone()),
                    "card_token": saved.map(|s| s.payment_method.clone()),
                    "is_3ds": saved.is_some_and(|s| s.three_d_secure),
                },
                "response_code": response_code(t.state),
                "external_id": t.interface_id,
                "date_created": format_timestamp(t.timestamp.unwrap_or(payment.created_at)),
                "is_external": false,
                "parent_id": charge_of(t),
            }));
        }
    }
    json!({
        "id": order.id.to_string(),
        "number": order.order_number,
        "currency": order.total_price.currency.as_str(),
        "total_incl_tax": order.total_price.to_decimal(),
        "total_paid": totals.total_paid.to_decimal(),
        "total_refunded": totals.total_refunded.to_decimal(),
        "total_outstanding": totals.total_outstanding.to_decimal(),
        "payment_status": payment_status(outcome),
        "collected_payment_id": outcome.collected.to_string(),
        "collect_settled": outcome.settled,
        "transactions": transactions,
        "created_at": format_timestamp(order.created_at),
    })
}
