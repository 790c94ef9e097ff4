//! `payledger serve`: open the store, bind, serve until Ctrl-C or SIGTERM.

use crate::cli::ServeArgs;
use anyhow::Context;
use payledger_api::{ApiConfig, AppState};
use payledger_rocksdb::{RocksConfig, RocksStore};
use std::sync::Arc;

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    std::fs::create_dir_all(&args.store.data)
        .with_context(|| format!("cannot create data directory {}", args.store.data.display()))?;
    let config = RocksConfig {
        partitions_for_new_store: args.store.partitions,
        ..RocksConfig::default()
    };
    let store = RocksStore::open(&args.store.data, &config)
        .with_context(|| format!("cannot open the store in {}", args.store.data.display()))?;
    let state = AppState::new(Arc::new(store), ApiConfig::default());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener.local_addr()?;
        tracing::info!(%bound, data = %args.store.data.display(), "payledger listening");
        println!("payledger listening on http://{bound}");
        payledger_api::serve(listener, payledger_api::router(state), shutdown_signal()).await?;
        Ok(())
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}
