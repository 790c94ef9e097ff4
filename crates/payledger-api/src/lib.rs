//! The HTTP front door of payledger: the commercetools-compatible Payments
//! API, OAuth2 tokens, Types, States, Messages and Subscriptions.
//!
//! The server is a library function, [`serve`], taking a bound listener and
//! a shutdown future, so tests start the real server on port 0 and stop it
//! explicitly; `main` only wires it up.
//!
//! - [`admission`]: admission control: in-flight slots, a bounded queue
//!   with a wait budget, early 503s (and 429s per client when configured).
//! - [`error`]: the one mapping from failures to HTTP and the error body.
//! - [`json`]: JSON ↔ domain (payments, drafts, update actions, messages).
//! - [`admin`]: API client management over the data directory's Unix
//!   socket, for `payledger clients` while the server runs.
//! - [`auth`]: `/oauth/token`, bearer tokens and per-route scopes.
//! - [`catalog`]: Types and States routes.
//! - [`payments`], [`messages`]: the payment and message routes;
//!   [`payment_texts`]: the JSON of payments recently answered, which the
//!   next answer on the same payment copies from.
//! - [`orders`]: the order routes.
//! - [`analytics`]: transaction counts and amounts by day, currency,
//!   PSP, type and state.
//! - [`history`]: the audit routes: events of a payment or an order, and
//!   as-of reads.
//! - [`psp_notifications`]: signed PSP notifications (inbound webhooks) and
//!   the payment refresh.
//! - [`subscriptions`]: outbound webhook Subscriptions and the Kafka
//!   relay's view.
//! - [`openapi`]: `GET /openapi.json`, the OpenAPI document of every
//!   route (`deploy/openapi.yaml`).
//! - [`tokenization`]: the signed tokenization API (seed 004): envelope,
//!   signature, request fields, response codes and their HTTP statuses.
//!   Its answer JSON is rendered by `payledger_app::tokenization::answer`,
//!   because the notify callbacks send the same bytes.
//!
//! Architecture invariant: JSON lives here and nowhere below; handlers turn
//! requests into typed commands and blocking store work runs off the async
//! workers.

pub mod admin;
pub mod admission;
pub mod analytics;
pub mod auth;
pub mod catalog;
pub mod connection_threads;
pub mod drain;
pub mod error;
pub mod expand;
pub mod history;
pub mod idempotent;
pub mod json;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod order_attempts;
pub mod orders;
pub mod payment_page;
pub mod payment_texts;
pub mod payments;
pub mod psp_notifications;
pub mod query;
pub mod request;
pub mod subscriptions;
#[cfg(test)]
mod test_http;
pub mod tokenization;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use payledger_app::{AppError, CommandMeta, Ledger, Orders, PaymentCommand};
use payledger_store::memory_only::memory_only;
use payledger_store::{EventStore, StoreError};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use error::ApiError;

/// Limits and settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest accepted request body; larger bodies get 413.
    pub request_body_bytes_max: usize,
    /// Lifetime of issued access tokens.
    pub token_ttl_seconds: u64,
    /// The Kafka relay the server runs, shown as a read-only Subscription.
    pub kafka_relay: Option<subscriptions::KafkaRelayInfo>,
    /// The limits of admission control.
    pub admission: admission::AdmissionConfig,
    /// Most Messages one Message query reads (its index range); a query
    /// past it is refused with 400. Tests set a small one.
    pub message_scan_events_max: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            request_body_bytes_max: 1 << 20,
            token_ttl_seconds: 172_800,
            kafka_relay: None,
            admission: admission::AdmissionConfig::default(),
            message_scan_events_max: messages::MESSAGE_SCAN_EVENTS_MAX,
        }
    }
}

/// What every request handler can reach: one shared [`Shared`], so the
/// clone that axum takes for every request and layer is one reference
/// count, not one per part.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub store: Arc<dyn EventStore>,
    pub ledger: Ledger<dyn EventStore>,
    /// The order use cases (beside the ledger, whose payment views they
    /// read).
    pub orders: Orders<dyn EventStore>,
    pub config: Arc<ApiConfig>,
    /// Counts Subscription creations, updates and deletions, so the
    /// delivery workers start, restart and stop without polling.
    pub subscription_changes: Arc<watch::Sender<u64>>,
    /// Grants of tokens already checked (most requests read no store to
    /// authenticate).
    pub grants: Arc<payledger_app::auth::GrantCache>,
    /// Admission control of the gated routes and the per-client rates.
    pub admission: Arc<admission::Gate>,
    /// The JSON of payments recently answered.
    pub payment_texts: Arc<payment_texts::PaymentTexts>,
}

impl AppState {
    pub fn new(store: Arc<dyn EventStore>, config: ApiConfig) -> Self {
        let ledger = Ledger::new(Arc::clone(&store));
        Self(Arc::new(Shared {
            orders: Orders::new(ledger.clone()),
            ledger,
            subscription_changes: Arc::new(watch::Sender::new(0)),
            grants: Arc::new(payledger_app::auth::GrantCache::new()),
            admission: Arc::new(admission::Gate::new(config.admission)),
            payment_texts: Arc::default(),
            store,
            config: Arc::new(config),
        }))
    }

    /// Tells the delivery workers that Subscriptions were created,
    /// updated or deleted.
    pub fn subscriptions_changed(&self) {
        self.subscription_changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Runs store reads here, on the async worker, when memory answers all
    /// of them (no hand-off to a blocking thread and back); when one needs
    /// the disk, runs them again off the async workers.
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl Fn(&AppState) -> Result<T, AppError> + Clone + Send + 'static,
    ) -> Result<T, ApiError> {
        match memory_only(|| work(self)) {
            Err(AppError::Store(StoreError::WouldBlock)) => {
                self.blocking(move |state| work(&state).map_err(ApiError::from))
                    .await
            }
            answer => answer.map_err(ApiError::from),
        }
    }

    /// Runs blocking store work off the async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(AppState) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || work(state))
            .await
            .map_err(|_| ApiError::general())?
    }

    /// Runs a payment command as every writer does: decides it off the
    /// async workers and awaits the durable commit (which wakes the log
    /// consumers).
    pub async fn execute(
        &self,
        meta: CommandMeta,
        command: PaymentCommand,
    ) -> Result<payledger_app::payments::Committed, ApiError> {
        Ok(self.ledger.execute(meta, command).await?)
    }
}

/// The routes of the server. Every route but health, readiness, metrics,
/// the OpenAPI document, the payment page and the tokenization API passes
/// admission control ([`admission::ShedLayer`], the outermost layer) first.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .merge(openapi::routes())
        .merge(auth::routes())
        .merge(payments::routes())
        .merge(messages::routes())
        .merge(history::routes())
        .merge(analytics::routes())
        .merge(
            catalog::routes()
                .merge(subscriptions::routes())
                .merge(orders::routes())
                .merge(order_attempts::routes())
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    idempotent::responses,
                ))
                // After the layer, so a method no route serves is answered
                // 405 without an idempotency check (the layer wraps axum's
                // own 405 fallback, which this replaces).
                .method_not_allowed_fallback(method_not_allowed),
        )
        .merge(psp_notifications::routes())
        .merge(payment_page::routes())
        .merge(tokenization::routes::routes())
        .route("/metrics", get(metrics::scrape))
        .layer(axum::middleware::from_fn(request::correlation_id))
        .layer(axum::Extension(request::BodyLimit(
            state.config.request_body_bytes_max,
        )))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.request_body_bytes_max,
        ));
    // The gate wraps the whole router (a layer on a router runs after its
    // route matched, once per route): a refusal costs no routing, no
    // per-route layers and no clone of the state.
    let gate = Arc::clone(&state.admission);
    let routes = routes.with_state(state);
    Router::new().fallback_service(tower::Layer::layer(
        &admission::ShedLayer::new(gate),
        routes,
    ))
}

/// The router of a separate metrics port (`serve --metrics-listen`): only
/// `GET /metrics`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::scrape))
        .with_state(state)
}

/// A method the path's routes do not serve (axum adds the `Allow` header).
async fn method_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Readiness: the store answers reads.
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, &'static str) {
    match state
        .blocking(|s| s.store.log_head(0).map_err(|_| ApiError::general()))
        .await
    {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

/// Most threads running blocking store work at once on the server's
/// runtime; the connection threads' runtimes share as many again.
pub const BLOCKING_THREADS_MAX: usize = 256;
/// How long an idle blocking thread is kept; store work arrives with every
/// request, so recreating threads would cost more than keeping them.
pub(crate) const BLOCKING_THREAD_KEEP_ALIVE: std::time::Duration =
    std::time::Duration::from_secs(600);

/// The runtime the server (and the benchmarks that measure it) runs on.
pub fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS_MAX)
        .thread_keep_alive(BLOCKING_THREAD_KEEP_ALIVE)
        .build()
}

/// Connections the kernel holds for the server before it accepts them
/// (the `listen(2)` backlog; the kernel caps it at `net.core.somaxconn`).
/// The standard library's 128 is too few for a burst of new connections,
/// such as a fleet of clients reconnecting at once: the kernel drops the
/// connection attempts past it and the clients retry them after a second.
pub const LISTEN_BACKLOG_CONNECTIONS_MAX: u32 = 4_096;

/// Binds the API's listening socket at `address`, with
/// [`LISTEN_BACKLOG_CONNECTIONS_MAX`].
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG_CONNECTIONS_MAX)
}
