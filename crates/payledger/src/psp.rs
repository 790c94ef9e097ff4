//! `payledger serve --psp-config FILE` (or the `[psp]` table of its TOML
//! configuration): read the PSP settings, build one connector per project
//! account, and start the executor and the task runner. Without settings no
//! PSP work runs and the PSP routes answer 404.

use anyhow::Context;
use payledger_api::AppState;
use payledger_api::order_attempts::PublicUrl;
use payledger_app::clock::SystemClock;
use payledger_app::consumer::LogConsumer;
use payledger_app::order_attempts::OrderAttempts;
use payledger_app::psp::{PspAccount, PspPolicy, PspRegistry, PspService};
use payledger_app::tokenization::Tokenization;
use payledger_domain::ProjectKey;
use payledger_psp::config::{PspConfig, STRIPE};
use payledger_stripe::StripeConnector;
use std::path::Path;
use std::sync::Arc;

/// The running PSP flows; stopping drops the payments in flight and aborts
/// the task runner (what was in flight is resumed from the task table and
/// the executor's cursor at the next start).
#[derive(Debug)]
pub struct PspRuntime {
    pub service: PspService,
    /// Retry and collect of order payments, over the service.
    pub attempts: OrderAttempts,
    /// The signed tokenization API's sale and recurring flows.
    pub tokenization: Tokenization,
    executor: LogConsumer,
    tasks: tokio::task::JoinHandle<()>,
}

impl PspRuntime {
    /// Adds the service and the order flows to every request, for the PSP
    /// routes; payment links start with `public_url`.
    pub fn layer(&self, router: axum::Router, public_url: &str) -> axum::Router {
        router
            .layer(axum::Extension(self.service.clone()))
            .layer(axum::Extension(self.attempts.clone()))
            .layer(axum::Extension(self.tokenization.clone()))
            .layer(axum::Extension(PublicUrl(public_url.to_owned())))
    }

    /// Stops the executor and the task runner at once (tasks stay stored
    /// and run after a restart).
    pub async fn stop(self) {
        self.tasks.abort();
        self.executor.stop().await;
    }
}

/// Reads the PSP settings file.
pub fn read_config(path: &Path) -> anyhow::Result<PspConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the PSP configuration {}", path.display()))?;
    PspConfig::parse(&text, |name| std::env::var(name).ok())
        .with_context(|| format!("invalid PSP configuration {}", path.display()))
}

/// The executor and task timing of a configuration.
pub fn policy(config: &PspConfig) -> PspPolicy {
    let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    PspPolicy {
        refresh_first_delay_ms: ms(config.refresh.first_delay_ms),
        refresh_backoff_max_ms: ms(config.refresh.backoff_max_ms),
        refresh_attempts_max: config.refresh.attempts_max,
        retry_delay_ms: ms(config.executor.retry_delay_ms),
        retry_delay_max_ms: ms(config.executor.retry_delay_max_ms),
        execute_attempts_max: config.executor.attempts_max,
        ..PspPolicy::default()
    }
}

/// One account per configured project and PSP.
pub fn registry(config: &PspConfig) -> anyhow::Result<PspRegistry> {
    let mut registry = PspRegistry::default();
    for (project, psps) in &config.projects {
        let key = ProjectKey::parse(project)
            .with_context(|| format!("{project:?} is not a valid project key"))?;
        if let Some(stripe) = &psps.stripe {
            let connector = StripeConnector::new(stripe)
                .with_context(|| format!("cannot set up Stripe for project {project}"))?;
            registry.insert(
                &key,
                PspAccount {
                    interface: STRIPE.to_owned(),
                    connector: Arc::new(connector),
                    webhook_secrets: stripe.webhook_secrets.clone(),
                    publishable_key: stripe.publishable_key.clone(),
                    js_url: Some(stripe.js_url.clone()),
                },
            );
            tracing::info!(project = %key, psp = STRIPE, base_url = %stripe.api_base_url, "PSP configured");
        }
    }
    Ok(registry)
}

/// The PSP settings of `serve`: the `--psp-config` JSON file, else the
/// `[psp]` table of the TOML configuration, else none.
pub fn config(args: &crate::cli::ServeArgs) -> anyhow::Result<Option<PspConfig>> {
    if let Some(path) = &args.psp_config {
        return read_config(path).map(Some);
    }
    let Some(file) = &args.psp_file else {
        return Ok(None);
    };
    PspConfig::resolve(file.clone(), |name| std::env::var(name).ok())
        .map(Some)
        .context("invalid [psp] configuration")
}

/// Starts the PSP flows when PSP settings are given. Must run inside the
/// server's runtime.
pub fn start(state: &AppState, config: Option<PspConfig>) -> anyhow::Result<Option<PspRuntime>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let service = PspService::new(
        state.ledger.clone(),
        registry(&config)?,
        Arc::new(SystemClock),
        policy(&config),
    );
    let settings = config
        .projects
        .iter()
        .filter_map(|(project, psps)| Some((ProjectKey::parse(project)?, psps.orders)))
        .collect();
    let attempts = OrderAttempts::new(state.orders.clone(), state.ledger.clone(), service.clone())
        .with_settings(settings);
    let (executor, tasks) = service.clone().spawn();
    let tokenization = Tokenization::new(attempts.clone());
    Ok(Some(PspRuntime {
        service,
        attempts,
        tokenization,
        executor,
        tasks,
    }))
}
