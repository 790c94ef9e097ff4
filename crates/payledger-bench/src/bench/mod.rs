//! The benchmarks: each prints figures for BENCHMARKS.md.
//!
//! Every benchmark measures its own baseline in the same run, because these
//! machines are noisy and only ratios travel between them.

mod append;
pub(crate) mod audit;
mod http;
pub(crate) mod load;
pub(crate) mod messages;
pub(crate) mod overload;
pub(crate) mod psp;
mod relay;
pub(crate) mod tokenization;
pub(crate) mod webhooks;
mod wire;

pub(crate) use append::run as append;
pub(crate) use audit::run as audit;
pub(crate) use http::run as http;
pub(crate) use load::run as load;
pub(crate) use messages::run as messages;
pub(crate) use overload::run as overload;
pub(crate) use psp::run as psp;
pub(crate) use relay::run as relay;
pub(crate) use tokenization::run as tokenization;
pub(crate) use webhooks::run as webhooks;

use anyhow::Context;
use hdrhistogram::Histogram;
use payledger_app::auth::{self, Secret};
use payledger_store::EventStore;
use std::time::Duration;

/// Longest a benchmark's server takes to stop once asked to.
const LOCAL_SERVER_STOP_MS_MAX: u64 = 5_000;

/// The API server of a benchmark, in this process on 127.0.0.1.
pub(crate) struct LocalServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<payledger_api::drain::Drained>>,
}

impl LocalServer {
    /// Serves `router` on a free port, on connection threads as
    /// `payledger serve` does.
    pub async fn start(router: axum::Router) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(payledger_api::drain::serve_draining(
            listener,
            router,
            async {
                let _ = stopped.await;
            },
            Duration::from_millis(LOCAL_SERVER_STOP_MS_MAX),
            payledger_api::connection_threads::connection_threads_default(),
        ));
        Ok(Self { base, stop, task })
    }

    /// Stops serving and waits until the server is down.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// Creates an API client in a benchmark's own store.
pub(crate) fn create_client<S: EventStore + ?Sized>(
    store: &S,
    id: &str,
    secret: &str,
    scope: &str,
) -> anyhow::Result<()> {
    use payledger_app::clock::{Clock, SystemClock};
    let now_ms = u64::try_from(SystemClock.now_ms()).unwrap_or(0);
    auth::create_client(store, id, &Secret::from(secret), scope, now_ms)
        .with_context(|| format!("cannot create client `{id}`"))?;
    Ok(())
}

/// A latency histogram in microseconds, 1 µs to 60 s.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Formats microseconds as milliseconds with three decimals.
pub(crate) fn ms(micros: u64) -> String {
    format!("{:.3}", micros as f64 / 1_000.0)
}
