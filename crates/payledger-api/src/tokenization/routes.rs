//! The tokenization routes: read the envelope, find the merchant, check
//! the signature, then read the rest and run the sale or recurring flow
//! ([`payledger_app::tokenization::Tokenization`], present when the server
//! has a PSP). Answers are the seed's JSON with the status of
//! [`http_status`]; a failure of payledger itself is the usual API error.

use super::{
    Refusal, ResponseCode, http_status, merchant_id, parse_envelope, parse_recurring, parse_sale,
    verify,
};
use crate::request::Body;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use payledger_app::merchants::{self, Merchant};
use payledger_app::tokenization::{Answered, Tokenization, TokenizationError, answer};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokenization/sale", post(sale))
        .route("/tokenization/recurring", post(recurring))
        .route("/{pk}/tokenization/sale", post(sale_in_project))
        .route("/{pk}/tokenization/recurring", post(recurring_in_project))
}

#[derive(Clone, Copy)]
enum Endpoint {
    Sale,
    Recurring,
}

async fn sale(
    State(state): State<AppState>,
    flows: Option<Extension<Tokenization>>,
    Body(body): Body,
) -> Response {
    run(state, flows, None, Endpoint::Sale, &body).await
}

async fn recurring(
    State(state): State<AppState>,
    flows: Option<Extension<Tokenization>>,
    Body(body): Body,
) -> Response {
    run(state, flows, None, Endpoint::Recurring, &body).await
}

async fn sale_in_project(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    flows: Option<Extension<Tokenization>>,
    Body(body): Body,
) -> Response {
    run(state, flows, Some(pk), Endpoint::Sale, &body).await
}

async fn recurring_in_project(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    flows: Option<Extension<Tokenization>>,
    Body(body): Body,
) -> Response {
    run(state, flows, Some(pk), Endpoint::Recurring, &body).await
}

async fn run(
    state: AppState,
    flows: Option<Extension<Tokenization>>,
    project: Option<String>,
    endpoint: Endpoint,
    body: &[u8],
) -> Response {
    match answer_request(state, flows, project, endpoint, body).await {
        Ok(answered) => answered_response(&answered),
        Err(TokenizationError::Refused(refusal)) => refused_response(&refusal),
        Err(TokenizationError::Failed(failure)) => ApiError::from(failure).into_response(),
    }
}

async fn answer_request(
    state: AppState,
    flows: Option<Extension<Tokenization>>,
    project: Option<String>,
    endpoint: Endpoint,
    body: &[u8],
) -> Result<Answered, TokenizationError> {
    let refused = |refusal: Refusal| TokenizationError::Refused(refusal);
    let signed = parse_envelope(body).map_err(refused)?;
    let id = merchant_id(&signed.text).map_err(refused)?;
    let merchant = find_merchant(&state, id).await?;
    // A merchant of another project is as unknown as no merchant.
    let merchant = merchant
        .filter(|m| project.as_deref().is_none_or(|pk| pk == m.project))
        .ok_or_else(|| {
            refused(Refusal::new(
                ResponseCode::UnknownMerchant,
                "merchantId names no merchant here.",
            ))
        })?;
    verify(&merchant, &signed).map_err(refused)?;
    let Some(Extension(flows)) = flows else {
        return Err(refused(Refusal::new(
            ResponseCode::PspUnavailable,
            "No PSP is configured on this server.",
        )));
    };
    match endpoint {
        Endpoint::Sale => {
            let request = parse_sale(&signed.text).map_err(refused)?;
            flows.sale(&merchant, &signed.text, &request).await
        }
        Endpoint::Recurring => {
            let request = parse_recurring(&signed.text).map_err(refused)?;
            flows.recurring(&merchant, &signed.text, &request).await
        }
    }
}

async fn find_merchant(state: &AppState, id: u64) -> Result<Option<Merchant>, TokenizationError> {
    tokio::task::spawn_blocking({
        let store = std::sync::Arc::clone(&state.store);
        move || merchants::get(&*store, id)
    })
    .await
    .map_err(|_| TokenizationError::Failed(payledger_app::psp::PspFailure::Join))?
    .map_err(TokenizationError::from)
}

fn answered_response(answered: &Answered) -> Response {
    let code = ResponseCode::ALL
        .into_iter()
        .find(|c| c.code() == answered.outcome.code)
        .unwrap_or(ResponseCode::Success);
    (
        http_status(code),
        Json(answer::render(&answered.record, &answered.outcome)),
    )
        .into_response()
}

fn refused_response(refusal: &Refusal) -> Response {
    (
        http_status(refusal.code),
        Json(answer::render_refusal(
            refusal.code.code(),
            &refusal.message,
        )),
    )
        .into_response()
}
