//! `payledger serve`: open the store, bind, start the log consumers (Kafka
//! relay, webhook deliveries, PSP executor) and the token purge, serve
//! until Ctrl-C or SIGTERM, then drain within `SHUTDOWN_DRAIN_MS_MAX`
//! (`shutdown`).

use crate::cli::{LogFormat, ServeArgs};
use crate::shutdown::{self, SHUTDOWN_DRAIN_MS_MAX, Stopping};
use anyhow::Context;
use payledger_api::{ApiConfig, AppState};
use payledger_app::auth::purger::TokenPurger;
use payledger_app::clock::SystemClock;
use payledger_rocksdb::{RocksConfig, RocksStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    init_tracing(args.log_format, &args.log_level)?;
    std::fs::create_dir_all(&args.store.data)
        .with_context(|| format!("cannot create data directory {}", args.store.data.display()))?;
    let config = RocksConfig {
        partitions_for_new_store: args.store.partitions,
        append_queue_requests_max: usize::try_from(args.admission.append_queue_requests_max)
            .unwrap_or(usize::MAX),
    };
    let store = RocksStore::open(&args.store.data, &config)
        .with_context(|| format!("cannot open the store in {}", args.store.data.display()))?;
    anyhow::ensure!(
        !store.rebuild_unfinished()?,
        "a replay of {} was interrupted and left its views and indexes half written: run \
         `payledger replay --data {}` to finish it before serving",
        args.store.data.display(),
        args.store.data.display()
    );
    let (layout, serves) = (
        store.derived_layout()?,
        payledger_rocksdb::DERIVED_LAYOUT_VERSION,
    );
    anyhow::ensure!(
        layout <= serves,
        "the views and indexes of {} were written by a newer payledger (layout {layout}; this \
         one serves layout {serves})",
        args.store.data.display()
    );
    anyhow::ensure!(
        layout == serves,
        "the views and indexes of {} have layout {layout}, this payledger serves layout {serves} \
         (layout 1 added the Message index): run `payledger replay --data {}` once to rebuild \
         them from the events before serving",
        args.store.data.display(),
        args.store.data.display()
    );
    let relay_config = args.kafka.relay_config()?;
    let api_config = ApiConfig {
        kafka_relay: relay_config.as_ref().map(relay_info),
        request_body_bytes_max: args.request_body_bytes_max,
        token_ttl_seconds: args.token_ttl_s,
        admission: args.admission.config(),
        ..ApiConfig::default()
    };
    let psp_config = crate::psp::config(args)?;
    let master_path = args.master.path(&args.store.data);
    let (master, made) = payledger_app::sealing::MasterKey::load_or_create(&master_path)
        .context("cannot use the master key")?;
    if made {
        tracing::warn!(
            path = %master_path.display(),
            "made a new master key: keep a copy apart from the data; without it no sealed personal data can be read"
        );
    }
    let store = Arc::new(store);
    let backups = backup_hook(&store, &args.store.data);
    let sealed = payledger_app::sealing::SealedStore::new(store, master);
    let state = AppState::new(Arc::new(sealed), api_config);
    let runtime = payledger_api::server_runtime().context("cannot start the async runtime")?;
    let (outcome, deadline) = runtime.block_on(async move {
        let listener = payledger_api::bind(args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let relay = start_relay(&state, relay_config)?;
        let psp = crate::psp::start(&state, psp_config)?;
        let order_states = payledger_app::order_payment_states::spawn(
            Arc::clone(&state.store),
            state.orders.clone(),
        );
        let analytics = payledger_app::analytics::spawn(Arc::clone(&state.store));
        let delivery_config = args.webhooks.delivery_config()?;
        let callbacks = match &psp {
            Some(psp) => Some(
                payledger_webhooks::MerchantCallbacks::start(
                    psp.tokenization.clone(),
                    args.store.data.clone(),
                    &delivery_config,
                )
                .context("cannot start the merchant callbacks")?,
            ),
            None => None,
        };
        let deliveries = payledger_webhooks::Deliveries::start(
            Arc::clone(&state.store),
            state.subscription_changes.subscribe(),
            delivery_config,
        )
        .context("cannot start the webhook deliveries")?;
        let purger = TokenPurger::start(
            Arc::clone(&state.store),
            Arc::new(SystemClock),
            Duration::from_secs(args.token_purge_interval_s),
        );
        let (stop_admin, admin_stopped) = tokio::sync::watch::channel(false);
        let metrics = start_metrics(&state, args.metrics_listen, admin_stopped.clone()).await?;
        let admin = start_admin(&state, &args.store.data, backups, admin_stopped.clone());
        tokio::spawn(payledger_api::admission::adapt_to_load(
            Arc::clone(&state.admission),
            admin_stopped,
        ));
        let bound = listener.local_addr()?;
        tracing::info!(%bound, data = %args.store.data.display(), "payledger listening");
        print_ready(&state, bound, &args.store.data, admin.is_some()).await;
        let mut router = payledger_api::router(state);
        if let Some(psp) = &psp {
            let public_url = args
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{bound}"));
            router = psp.layer(router, &public_url);
        }
        let shutdown = async move {
            shutdown_signal().await;
            let _ = stop_admin.send(true);
        };
        let bound = Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX);
        let threads = args
            .connection_threads
            .and_then(|threads| std::num::NonZeroUsize::new(usize::from(threads)))
            .unwrap_or_else(payledger_api::connection_threads::connection_threads_default);
        let drained =
            payledger_api::drain::serve_draining(listener, router, shutdown, bound, threads).await;
        let (began, connections_cut) = match &drained {
            Ok(drained) => (drained.began, drained.connections_cut),
            Err(_) => (tokio::time::Instant::now(), 0),
        };
        let deadline = began + bound;
        let mut parts: Vec<Stopping> = vec![
            ("order payment states", Box::pin(order_states.stop())),
            ("analytics", Box::pin(analytics.stop())),
            ("webhook deliveries", Box::pin(deliveries.stop())),
            ("token purge", Box::pin(purger.stop())),
        ];
        if let Some(admin) = admin {
            parts.push((
                "admin socket",
                Box::pin(async move {
                    let _ = admin.await;
                }),
            ));
        }
        if let Some(metrics) = metrics {
            parts.push((
                "metrics listener",
                Box::pin(async move {
                    let _ = metrics.await;
                }),
            ));
        }
        if let Some(callbacks) = callbacks {
            parts.push(("merchant callbacks", Box::pin(callbacks.stop())));
        }
        if let Some(psp) = psp {
            parts.push(("PSP executor", Box::pin(psp.stop())));
        }
        if let Some(relay) = relay {
            parts.push(("Kafka relay", Box::pin(relay.stop())));
        }
        let cut = shutdown::stop_by(deadline, parts).await;
        let outcome = drained
            .map_err(anyhow::Error::from)
            .and_then(|_| drain_outcome(began, connections_cut, &cut));
        Ok::<_, anyhow::Error>((outcome, deadline))
    })?;
    // Blocking work of parts cut short may still run: wait no longer than
    // the bound for it.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    runtime.shutdown_timeout(left);
    outcome
}

/// Logs how the drain ended; an error when the bound cut it short.
fn drain_outcome(
    began: tokio::time::Instant,
    connections_cut: usize,
    cut: &[&str],
) -> anyhow::Result<()> {
    let drain_ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
    if connections_cut == 0 && cut.is_empty() {
        tracing::info!(
            drain_ms,
            "stopped: every request answered, every consumer stopped"
        );
        return Ok(());
    }
    let cut = cut.join(", ");
    tracing::error!(
        drain_ms,
        connections_cut,
        parts_cut = %cut,
        "the drain passed SHUTDOWN_DRAIN_MS_MAX; exiting without waiting further"
    );
    anyhow::bail!(
        "the shutdown drain passed {SHUTDOWN_DRAIN_MS_MAX} ms (SHUTDOWN_DRAIN_MS_MAX): \
         {connections_cut} connections still open, not stopped: [{cut}]; acknowledged writes \
         are durable and consumers resume from their cursors"
    )
}

/// How the admin socket's `POST /backup` reaches the store: a checkpoint
/// taken by this process, which holds the store's lock.
fn backup_hook(store: &Arc<RocksStore>, data: &Path) -> payledger_api::admin::backup::BackupHook {
    let (store, data) = (Arc::clone(store), data.to_path_buf());
    Arc::new(move |out: &Path| {
        let report = crate::backup::take(&store, &data, out)?;
        tracing::info!(
            out = %report.out.display(),
            files = report.store_files,
            bytes = report.store_bytes,
            took_ms = report.took_ms,
            "backup taken"
        );
        Ok(report)
    })
}

/// Serves `GET /metrics` on `listen`, when given, until `stopped` turns
/// true.
async fn start_metrics(
    state: &AppState,
    listen: Option<SocketAddr>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics"))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, "metrics listening");
    println!("payledger metrics on http://{bound}/metrics");
    let router = payledger_api::metrics_router(state.clone());
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    Ok(Some(tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .into_future(),
    )))
}

/// Serves the admin socket (`payledger clients` while the server runs)
/// until `stopped` turns true. Without it the server still serves the API;
/// `clients` then says to stop the server first.
fn start_admin(
    state: &AppState,
    data: &Path,
    backups: payledger_api::admin::backup::BackupHook,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = match payledger_api::admin::AdminListener::bind(data) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "no admin socket: `payledger clients` needs the server stopped");
            return None;
        }
    };
    tracing::info!(socket = %listener.path().display(), "admin socket ready");
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    Some(tokio::spawn(payledger_api::admin::serve(
        listener,
        state.clone(),
        Some(backups),
        shutdown,
    )))
}

/// Prints, once the server accepts connections, where it is and what to
/// do next: the quick start's second terminal reads this.
async fn print_ready(state: &AppState, bound: SocketAddr, data: &Path, admin: bool) {
    println!("payledger listening on http://{bound}");
    let any_client = state
        .blocking(|s| {
            payledger_app::auth::any_client(&*s.store)
                .map_err(|_| payledger_api::ApiError::general())
        })
        .await
        .unwrap_or(false);
    let me = own_command();
    let data = data.display();
    if any_client {
        println!("API clients exist; list them with: {me} clients list --data {data}");
        return;
    }
    let when = if admin {
        "in a second terminal"
    } else {
        "after stopping the server"
    };
    println!("next, {when}: create an API client and get a token");
    println!(
        "  {me} clients create --data {data} --id merchant --secret s3cret-merchant --scope manage_project:shop"
    );
    println!(
        "  curl -s -u merchant:s3cret-merchant -X POST 'http://{bound}/oauth/token?grant_type=client_credentials&scope=manage_project:shop'"
    );
}

/// How to run this binary from the current directory: `./target/…` when
/// it lies below it, its absolute path otherwise.
fn own_command() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "payledger".to_owned();
    };
    match std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf))
    {
        Some(relative) => format!("./{}", relative.display()),
        None => exe.display().to_string(),
    }
}

/// Starts the Kafka relay when brokers are configured. It only reads the
/// log, so an unreachable broker never slows the API down.
fn start_relay(
    state: &AppState,
    config: Option<payledger_kafka::RelayConfig>,
) -> anyhow::Result<Option<payledger_kafka::Relay>> {
    let Some(config) = config else {
        return Ok(None);
    };
    tracing::info!(brokers = %config.brokers, format = %config.format, "starting the Kafka relay");
    let relay = payledger_kafka::Relay::start(Arc::clone(&state.store), config)
        .context("cannot start the Kafka relay")?;
    Ok(Some(relay))
}

/// What the API shows of the relay (`GET /{pk}/subscriptions/kafka-relay`).
fn relay_info(
    config: &payledger_kafka::RelayConfig,
) -> payledger_api::subscriptions::KafkaRelayInfo {
    payledger_api::subscriptions::KafkaRelayInfo {
        consumer: config.consumer_name.clone(),
        brokers: config.brokers.clone(),
        topic_template: config.topic_template.clone(),
        placeholder: payledger_kafka::config::TOPIC_TEMPLATE_PROJECT.to_owned(),
        topic_formats: config
            .topic_formats
            .iter()
            .map(|(topic, format)| (topic.clone(), format.name().to_owned()))
            .collect(),
        default_format: config.format.name().to_owned(),
        started_at_ms: payledger_api::request::now().millis(),
    }
}

/// Log lines on stderr: `format` text (coloured only on a terminal) or
/// one JSON object per line with the fields of the spans it is in;
/// `filter` as `RUST_LOG` takes it.
fn init_tracing(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("--log-level {filter:?} is not a valid filter"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(text_fields())
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    Ok(())
}

/// The fields of a text log line and of its spans: `name=value`, apart by
/// spaces, the message bare, as the default formatter writes them without
/// colour. Every request's span is formatted when it is made, and the
/// default formatter styles each name (even with colour off) at twice the
/// cost.
fn text_fields() -> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        if field.name() == "message" {
            write!(writer, "{value:?}")
        } else {
            write!(writer, "{field}={value:?}")
        }
    })
    .delimited(" ")
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
