//! The HTTP front door of payledger.
//!
//! The server is a library function, [`serve`], taking a bound listener and
//! a shutdown future, so tests start the real server on port 0 and stop it
//! explicitly; `main` only wires it up.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use payledger_store::EventStore;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every request handler can reach.
#[derive(Debug)]
pub struct AppState<S> {
    pub store: Arc<S>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
        }
    }
}

/// The routes of the server.
pub fn router<S: EventStore>(state: AppState<S>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready::<S>))
        .with_state(state)
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Readiness: the store answers reads.
async fn ready<S: EventStore>(
    axum::extract::State(state): axum::extract::State<AppState<S>>,
) -> (StatusCode, &'static str) {
    let store = Arc::clone(&state.store);
    let probe = tokio::task::spawn_blocking(move || store.log_head(0)).await;
    match probe {
        Ok(Ok(_)) => (StatusCode::OK, "ready"),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
