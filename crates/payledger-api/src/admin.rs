//! The operator's channel into a running server: API client management
//! over a Unix socket in the data directory.
//!
//! RocksDB lets one process open a store, so while `payledger serve` holds
//! a data directory, `payledger clients create|list|revoke --data DIR`
//! send their command here instead of opening the store. The server
//! carries it out on its own store, so a new client's token works at once
//! and a revoked client's tokens stop working at once.
//!
//! Who may: the socket is `<data>/admin.sock` ([`ADMIN_SOCKET_NAME`]),
//! created with mode 0600, and every connection's peer (SO_PEERCRED) must
//! run as the owner of the data directory or as root; others are dropped
//! before a byte is read. Whoever owns the data could open the store
//! anyway, so this grants nothing new, and nobody else gets in.
//!
//! The wire is HTTP/1.1 with JSON bodies and the API's error body:
//!
//! | request | answer |
//! |---|---|
//! | `GET /clients` | 200 `[{id, scope, createdAtMs}]` in id order |
//! | `POST /clients` `{id, secret, scope}` | 201 `{id, scope, createdAtMs}` |
//! | `DELETE /clients/{id}` | 200 `{id, tokensRemoved}` |
//! | `GET\|POST /merchants`, `POST /merchants/{id}/keys`, `DELETE /merchants/{id}/keys/{keyId}` | see [`merchants`] |
//! | `POST /backup` `{out}` | see [`backup`] |

pub mod backup;
pub mod merchants;

use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use payledger_app::auth::{self, ClientInfo, Secret};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

/// The socket's file name inside the data directory.
pub const ADMIN_SOCKET_NAME: &str = "admin.sock";
/// Longest socket path the kernel accepts (`sun_path` is 108 bytes with
/// its terminating NUL); a data directory with a longer path gets no admin
/// socket and `clients` then needs the server stopped.
pub const ADMIN_SOCKET_PATH_BYTES_MAX: usize = 107;
/// Largest admin request body.
pub const ADMIN_REQUEST_BYTES_MAX: usize = 16 * 1024;

/// The admin socket of the data directory `data`.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join(ADMIN_SOCKET_NAME)
}

/// Why the admin socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AdminSocketError {
    #[error(
        "the admin socket path {path} is {bytes} bytes long; the limit is \
         {ADMIN_SOCKET_PATH_BYTES_MAX} (ADMIN_SOCKET_PATH_BYTES_MAX): use a shorter data path"
    )]
    PathTooLong { path: PathBuf, bytes: usize },
    #[error("cannot open the admin socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A listener on the admin socket that accepts only the data directory's
/// owner and root.
#[derive(Debug)]
pub struct AdminListener {
    inner: UnixListener,
    path: PathBuf,
    owner_uid: u32,
}

impl AdminListener {
    /// Binds `<data>/admin.sock` (mode 0600). The caller holds the store's
    /// lock, so a socket file already there is a dead server's and is
    /// replaced.
    pub fn bind(data: &Path) -> Result<Self, AdminSocketError> {
        let path = socket_path(data);
        let bytes = path.as_os_str().len();
        if bytes > ADMIN_SOCKET_PATH_BYTES_MAX {
            return Err(AdminSocketError::PathTooLong { path, bytes });
        }
        let io = |source| AdminSocketError::Io {
            path: path.clone(),
            source,
        };
        let owner_uid = std::fs::metadata(data).map_err(io)?.uid();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(error)),
        }
        let inner = UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(io)?;
        Ok(Self {
            inner,
            path,
            owner_uid,
        })
    }

    /// The socket file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn admits(&self, stream: &UnixStream) -> bool {
        match stream.peer_cred() {
            Ok(peer) => peer.uid() == self.owner_uid || peer.uid() == 0,
            Err(_) => false,
        }
    }
}

impl axum::serve::Listener for AdminListener {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, address) = axum::serve::Listener::accept(&mut self.inner).await;
            if self.admits(&stream) {
                return (stream, address);
            }
            tracing::warn!(
                peer = ?stream.peer_cred().ok().map(|p| p.uid()),
                owner = self.owner_uid,
                "admin socket: refused a connection from another user"
            );
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Serves the admin routes (and `POST /backup` when given `backups`) on
/// `listener` until `shutdown` completes, then removes the socket file.
pub async fn serve(
    listener: AdminListener,
    state: AppState,
    backups: Option<backup::BackupHook>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let path = listener.path.clone();
    let mut router = routes();
    if let Some(hook) = backups {
        router = router.merge(backup::routes(hook));
    }
    let served = axum::serve(listener, router.with_state(state))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = std::fs::remove_file(&path);
    served
}

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/clients", get(list_clients).post(create_client))
        .route("/clients/{id}", delete(revoke_client))
        .route("/merchants", get(merchants::list).post(merchants::create))
        .route(
            "/merchants/{id}/keys",
            axum::routing::post(merchants::add_key),
        )
        .route("/merchants/{id}/keys/{key}", delete(merchants::revoke_key))
        .layer(axum::extract::DefaultBodyLimit::max(
            ADMIN_REQUEST_BYTES_MAX,
        ))
}

/// `POST /clients`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientDraft {
    pub id: String,
    pub secret: String,
    /// Allowed scopes, space separated.
    pub scope: String,
}

impl std::fmt::Debug for ClientDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientDraft")
            .field("id", &self.id)
            .field("secret", &"***")
            .field("scope", &self.scope)
            .finish()
    }
}

/// A client as the admin routes show it: never its secret.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientEntry {
    pub id: String,
    pub scope: String,
    pub created_at_ms: u64,
}

impl From<ClientInfo> for ClientEntry {
    fn from(info: ClientInfo) -> Self {
        Self {
            id: info.id,
            scope: info.scope,
            created_at_ms: info.created_at_ms,
        }
    }
}

/// The answer to `DELETE /clients/{id}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    pub id: String,
    /// Stored tokens deleted with the client (they stopped working either
    /// way).
    pub tokens_removed: usize,
}

async fn list_clients(
    State(state): State<AppState>,
) -> Result<axum::Json<Vec<ClientEntry>>, ApiError> {
    let clients = state
        .blocking(|s| auth::list_clients(&*s.store).map_err(ApiError::from))
        .await?;
    Ok(axum::Json(clients.into_iter().map(Into::into).collect()))
}

async fn create_client(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<ClientEntry>), ApiError> {
    let draft: ClientDraft =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_json(e.to_string()))?;
    let now_ms = crate::auth::now_ms();
    let created = state
        .blocking(move |s| {
            auth::create_client(
                &*s.store,
                &draft.id,
                &Secret::from(draft.secret.as_str()),
                &draft.scope,
                now_ms,
            )
            .map_err(ApiError::from)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

async fn revoke_client(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<axum::Json<Revocation>, ApiError> {
    let now_ms = crate::auth::now_ms();
    let revocation = state
        .blocking(move |s| {
            let tokens_removed =
                auth::revoke_client_and_purge(&*s.store, &id, now_ms).map_err(ApiError::from)?;
            Ok(Revocation { id, tokens_removed })
        })
        .await?;
    Ok(axum::Json(revocation))
}
