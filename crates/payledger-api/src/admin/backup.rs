//! The admin route of backups (`payledger backup` while a server runs):
//!
//! | request | answer |
//! |---|---|
//! | `POST /backup` `{out}` | 201 [`BackupReport`] |
//!
//! `out` is an absolute path that does not exist yet; the server writes
//! the backup there (as its own user, which is the data directory's owner
//! or root, like every admin caller). How a backup is taken is the
//! binary's business ([`BackupHook`]): this crate knows no RocksDB.

use crate::ApiError;
use axum::extract::Extension;
use axum::http::StatusCode;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Takes a backup of the served store into a directory that does not
/// exist yet. Runs on a blocking thread.
pub type BackupHook = Arc<dyn Fn(&Path) -> Result<BackupReport, BackupFailure> + Send + Sync>;

/// `POST /backup`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupRequest {
    /// Absolute path of the backup directory to make.
    pub out: PathBuf,
}

/// What a backup holds.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    pub out: PathBuf,
    /// Files of the store's copy.
    pub store_files: u64,
    /// Their size in bytes.
    pub store_bytes: u64,
    /// Other files of the data directory copied beside the store.
    pub copied: Vec<String>,
    /// How long taking it took, in milliseconds.
    pub took_ms: u64,
}

/// Why a backup was not taken.
#[derive(Debug, thiserror::Error)]
pub enum BackupFailure {
    /// The request cannot be carried out as given (the directory exists,
    /// its parent does not); the text says why and is shown to the caller.
    #[error("{0}")]
    Refused(String),
    /// The store or the disk failed; logged, answered without details.
    #[error("{0}")]
    Failed(String),
}

/// The backup route, carrying out requests with `hook`.
pub fn routes<S: Clone + Send + Sync + 'static>(hook: BackupHook) -> axum::Router<S> {
    axum::Router::new()
        .route("/backup", post(take))
        .layer(Extension(hook))
}

async fn take(
    Extension(hook): Extension<BackupHook>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<BackupReport>), ApiError> {
    let request: BackupRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_json(e.to_string()))?;
    if !request.out.is_absolute() {
        return Err(ApiError::invalid_input(format!(
            "the backup directory {} is not an absolute path",
            request.out.display()
        )));
    }
    let taken = tokio::task::spawn_blocking(move || hook(&request.out))
        .await
        .map_err(|_| ApiError::general())?;
    match taken {
        Ok(report) => Ok((StatusCode::CREATED, axum::Json(report))),
        Err(BackupFailure::Refused(message)) => Err(ApiError::invalid_input(message)),
        Err(BackupFailure::Failed(failure)) => {
            tracing::error!(%failure, "the backup failed");
            Err(ApiError::general())
        }
    }
}
