//! The PSP-facing routes: signed notifications (webhooks) from Stripe, and
//! the refresh a merchant can ask for. Inbound only: outbound deliveries
//! are `payledger-webhooks`.
//!
//! | route | auth | success |
//! |---|---|---|
//! | `POST /webhooks/stripe/{pk}` | `Stripe-Signature` over the raw body | 200 `{received, outcome}` |
//! | `POST /{pk}/payments/{id}/refresh` (and `key={key}`) | manage_payments | 200 the updated Payment |
//!
//! A webhook is verified on the exact bytes received before anything is
//! parsed; a forged, tampered or stale one answers 400 and records
//! nothing. A verified one is recorded and a refresh scheduled; no PSP is
//! called inside the request, so it answers within milliseconds. The
//! routes need the PSP service (`serve --psp-config`); without it they
//! answer 404 (webhooks) or return the payment unchanged (refresh).

use crate::auth::{Scope, authorize};
use crate::payments::{load, not_found, payment_response, target};
use crate::request::{Body, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Json, Router};
use payledger_app::psp::PspService;
use payledger_app::psp::notifications::NotificationOutcome;
use serde_json::{Value, json};

/// The `paymentInterface` name of Stripe.
const STRIPE: &str = "stripe";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/stripe/{pk}", post(stripe_webhook))
        .route("/{pk}/payments/{id}/refresh", post(refresh))
}

async fn stripe_webhook(
    Path(pk): Path<String>,
    service: Option<Extension<PspService>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let Some(Extension(service)) = service else {
        return Err(ApiError::not_found("No PSP is configured on this server."));
    };
    let project = project_key(&pk)?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let event = service
        .verify_stripe_webhook(&project, signature, &body)
        .map_err(|rejected| {
            tracing::info!(project = %project, reason = %rejected, "webhook refused");
            ApiError::invalid_input(format!("The webhook was refused: {rejected}."))
        })?;
    let outcome = service
        .receive_webhook(&project, STRIPE, &event)
        .await
        .map_err(ApiError::from)?;
    let outcome = match outcome {
        NotificationOutcome::Recorded { .. } => "recorded",
        NotificationOutcome::Duplicate => "duplicate",
        NotificationOutcome::Orphaned => "orphaned",
        NotificationOutcome::Ignored => "ignored",
    };
    Ok(Json(json!({"received": true, "outcome": outcome})))
}

async fn refresh(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    service: Option<Extension<PspService>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ManagePayments).await?;
    let found = load(&state, project.clone(), target(&id)?).await?;
    let found = found.ok_or_else(|| not_found(&id))?;
    let payment = match service {
        Some(Extension(service)) => service
            .refresh_payment(&project, found.id)
            .await
            .map_err(ApiError::from)?
            .map(|refreshed| refreshed.payment),
        // No PSP configured: the payment as it is.
        None => Some(found),
    };
    let payment = payment.ok_or_else(|| not_found(&id))?;
    Ok(payment_response(
        StatusCode::OK,
        state.payment_texts.read(&payment),
    ))
}
