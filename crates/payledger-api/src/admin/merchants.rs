//! The admin routes of merchants (`payledger merchants …` while a server
//! runs):
//!
//! | request | answer |
//! |---|---|
//! | `GET /merchants` | 200 `[MerchantEntry]` by merchant number |
//! | `POST /merchants` `{merchantId, project, publicKey}` | 201 `MerchantEntry` |
//! | `POST /merchants/{id}/keys` `{publicKey}` | 200 `MerchantEntry` |
//! | `DELETE /merchants/{id}/keys/{keyId}` | 200 `MerchantEntry` |
//!
//! `publicKey` is PEM text (SPKI or PKCS#1). Entries show key ids and
//! times, not the keys.

use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use payledger_app::merchants::{self, Merchant};
use payledger_domain::ProjectKey;
use serde::{Deserialize, Serialize};

/// `POST /merchants`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MerchantDraft {
    pub merchant_id: u64,
    pub project: String,
    pub public_key: String,
}

/// `POST /merchants/{id}/keys`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyDraft {
    pub public_key: String,
}

/// A key as the admin routes show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyEntry {
    pub id: String,
    pub added_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
}

/// A merchant as the admin routes show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantEntry {
    pub merchant_id: u64,
    pub project: String,
    pub created_at_ms: i64,
    pub keys: Vec<KeyEntry>,
}

impl From<Merchant> for MerchantEntry {
    fn from(merchant: Merchant) -> Self {
        Self {
            merchant_id: merchant.merchant_id,
            project: merchant.project,
            created_at_ms: merchant.created_at_ms,
            keys: merchant
                .keys
                .into_iter()
                .map(|k| KeyEntry {
                    id: k.id,
                    added_at_ms: k.added_at_ms,
                    revoked_at_ms: k.revoked_at_ms,
                })
                .collect(),
        }
    }
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(e.to_string()))
}

fn now_ms() -> i64 {
    i64::try_from(crate::auth::now_ms()).unwrap_or(i64::MAX)
}

pub(super) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<MerchantEntry>>, ApiError> {
    let merchants = state
        .blocking(|s| merchants::list(&*s.store).map_err(ApiError::from))
        .await?;
    Ok(Json(merchants.into_iter().map(Into::into).collect()))
}

pub(super) async fn create(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<MerchantEntry>), ApiError> {
    let draft: MerchantDraft = json(&body)?;
    let project = ProjectKey::parse(&draft.project).ok_or_else(|| {
        ApiError::invalid_input(format!("'{}' is not a project key.", draft.project))
    })?;
    let now = now_ms();
    let created = state
        .blocking(move |s| {
            merchants::create(
                &*s.store,
                &project,
                draft.merchant_id,
                &draft.public_key,
                now,
            )
            .map_err(ApiError::from)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

pub(super) async fn add_key(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<u64>,
    body: axum::body::Bytes,
) -> Result<Json<MerchantEntry>, ApiError> {
    let draft: KeyDraft = json(&body)?;
    let now = now_ms();
    let merchant = state
        .blocking(move |s| {
            merchants::add_key(&*s.store, id, &draft.public_key, now).map_err(ApiError::from)
        })
        .await?;
    Ok(Json(merchant.into()))
}

pub(super) async fn revoke_key(
    State(state): State<AppState>,
    UrlPath((id, key)): UrlPath<(u64, String)>,
) -> Result<Json<MerchantEntry>, ApiError> {
    let now = now_ms();
    let merchant = state
        .blocking(move |s| merchants::revoke_key(&*s.store, id, &key, now).map_err(ApiError::from))
        .await?;
    Ok(Json(merchant.into()))
}
