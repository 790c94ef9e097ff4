//! The TOML configuration file of `payledger serve` (`--config FILE` or
//! `PAYLEDGER_CONFIG`), and `payledger config check FILE`.
//!
//! One file covers every setting of `serve`. A setting is taken from the
//! first of: its flag, its environment variable, the file, its default
//! (the README's "Configuration" table lists all four). `[kafka]` and
//! `[psp]` have the shape of the older `--kafka-config` and `--psp-config`
//! JSON files, which keep working: given as a flag or in the environment,
//! such a file replaces the table of the TOML file.
//!
//! Secrets are never written in the file: a Stripe key or webhook secret
//! is named by `…_env` (an environment variable) or `…_file` (a file, such
//! as a mounted Secret), and so is a Kafka producer property that holds a
//! secret (`producer_env`, `producer_file`). A file with a secret inline is
//! refused, naming where. Unknown keys are refused with their line.

use crate::cli::{LogFormat, ServeArgs};
use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use payledger_kafka::config::RelayFile;
use payledger_psp::config::PspFile;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file as written; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    pub partitions: Option<u16>,
    pub master_key_file: Option<PathBuf>,
    pub public_url: Option<String>,
    pub token_purge_interval_s: Option<u64>,
    pub connection_threads: Option<u16>,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub admission: AdmissionFile,
    #[serde(default)]
    pub logging: LoggingFile,
    #[serde(default)]
    pub metrics: MetricsFile,
    pub kafka: Option<RelayFile>,
    #[serde(default)]
    pub webhooks: WebhooksFile,
    pub psp: Option<PspFile>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub request_body_bytes_max: Option<usize>,
    pub token_ttl_s: Option<u64>,
}

/// `[admission]`: admission control (the README's "Overload").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionFile {
    pub requests_in_flight_max: Option<u64>,
    pub requests_queued_max: Option<u64>,
    pub queue_wait_ms_max: Option<u64>,
    pub client_requests_per_s_max: Option<u32>,
    pub client_burst_requests_max: Option<u32>,
    pub cpu_percent_max: Option<u32>,
    pub latency_target_ms: Option<u64>,
    pub append_queue_requests_max: Option<u64>,
}

/// `[logging]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingFile {
    pub format: Option<LogFormat>,
    pub level: Option<String>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    pub listen: Option<SocketAddr>,
}

/// `[webhooks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksFile {
    pub backoff_min_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub ca_files: Option<Vec<PathBuf>>,
    pub attempts_max: Option<u32>,
    pub retry_age_max_s: Option<u64>,
}

impl ConfigFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid configuration {}", path.display()))
    }

    /// Parses and checks the text of a file.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: Self = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        file.check_admission()?;
        if let Some(threads) = file.connection_threads {
            let max = payledger_api::connection_threads::CONNECTION_THREADS_MAX;
            anyhow::ensure!(
                (1..=max).contains(&i64::from(threads)),
                "connection_threads = {threads} is outside 1 to {max}"
            );
        }
        let mut inline: Vec<String> = Vec::new();
        if let Some(kafka) = &file.kafka {
            kafka
                .check()
                .map_err(|what| anyhow::anyhow!("[kafka]: {what}"))?;
            inline.extend(
                kafka
                    .inline_secrets()
                    .into_iter()
                    .map(|at| format!("kafka.{at}")),
            );
        }
        if let Some(psp) = &file.psp {
            inline.extend(
                psp.inline_secrets()
                    .into_iter()
                    .map(|at| format!("psp.{at}")),
            );
        }
        anyhow::ensure!(
            inline.is_empty(),
            "secrets are not written in the configuration file: {} (name an environment \
             variable with …_env or a file with …_file instead)",
            inline.join(", ")
        );
        Ok(file)
    }
}

impl ConfigFile {
    /// The `[admission]` values within the bounds the flags take.
    fn check_admission(&self) -> anyhow::Result<()> {
        let a = &self.admission;
        for (name, value, max) in [
            (
                "requests_in_flight_max",
                a.requests_in_flight_max,
                1_000_000,
            ),
            ("requests_queued_max", a.requests_queued_max, 1_000_000),
            ("queue_wait_ms_max", a.queue_wait_ms_max, 60_000),
            ("cpu_percent_max", a.cpu_percent_max.map(u64::from), 100),
            ("latency_target_ms", a.latency_target_ms, 60_000),
            (
                "append_queue_requests_max",
                a.append_queue_requests_max,
                1_000_000,
            ),
        ] {
            if let Some(value) = value {
                anyhow::ensure!(
                    value <= max,
                    "[admission]: {name} = {value} is above its bound {max}"
                );
            }
        }
        anyhow::ensure!(
            a.append_queue_requests_max != Some(0),
            "[admission]: append_queue_requests_max must be at least 1"
        );
        Ok(())
    }
}

/// Whether `id` was given on the command line or in the environment (so
/// the file does not override it).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// Sets `target` from the file when the flag and its variable were not
/// given.
fn take<T>(matches: &ArgMatches, id: &str, target: &mut T, from_file: Option<T>) {
    if let Some(value) = from_file
        && !given(matches, id)
    {
        *target = value;
    }
}

/// Fills `args` (parsed from flags, environment and defaults, with their
/// sources in `matches`) from the file where no flag or variable was given.
pub fn apply(args: &mut ServeArgs, file: ConfigFile, matches: &ArgMatches) {
    take(matches, "listen", &mut args.listen, file.listen);
    take(matches, "data", &mut args.store.data, file.data);
    take(
        matches,
        "partitions",
        &mut args.store.partitions,
        file.partitions,
    );
    take(
        matches,
        "master_key_file",
        &mut args.master.master_key_file,
        file.master_key_file.map(Some),
    );
    take(
        matches,
        "public_url",
        &mut args.public_url,
        file.public_url.map(Some),
    );
    take(
        matches,
        "token_purge_interval_s",
        &mut args.token_purge_interval_s,
        file.token_purge_interval_s,
    );
    take(
        matches,
        "connection_threads",
        &mut args.connection_threads,
        file.connection_threads.map(Some),
    );
    take(
        matches,
        "request_body_bytes_max",
        &mut args.request_body_bytes_max,
        file.limits.request_body_bytes_max,
    );
    take(
        matches,
        "token_ttl_s",
        &mut args.token_ttl_s,
        file.limits.token_ttl_s,
    );
    take(
        matches,
        "log_format",
        &mut args.log_format,
        file.logging.format,
    );
    take(
        matches,
        "log_level",
        &mut args.log_level,
        file.logging.level,
    );
    take(
        matches,
        "metrics_listen",
        &mut args.metrics_listen,
        file.metrics.listen.map(Some),
    );
    let admission = &mut args.admission;
    let file_admission = file.admission;
    take(
        matches,
        "requests_in_flight_max",
        &mut admission.requests_in_flight_max,
        file_admission.requests_in_flight_max,
    );
    take(
        matches,
        "requests_queued_max",
        &mut admission.requests_queued_max,
        file_admission.requests_queued_max,
    );
    take(
        matches,
        "queue_wait_ms_max",
        &mut admission.queue_wait_ms_max,
        file_admission.queue_wait_ms_max,
    );
    take(
        matches,
        "client_requests_per_s_max",
        &mut admission.client_requests_per_s_max,
        file_admission.client_requests_per_s_max,
    );
    take(
        matches,
        "client_burst_requests_max",
        &mut admission.client_burst_requests_max,
        file_admission.client_burst_requests_max,
    );
    take(
        matches,
        "cpu_percent_max",
        &mut admission.cpu_percent_max,
        file_admission.cpu_percent_max,
    );
    take(
        matches,
        "latency_target_ms",
        &mut admission.latency_target_ms,
        file_admission.latency_target_ms,
    );
    take(
        matches,
        "append_queue_requests_max",
        &mut admission.append_queue_requests_max,
        file_admission.append_queue_requests_max,
    );
    let hooks = &mut args.webhooks;
    take(
        matches,
        "webhook_backoff_min_ms",
        &mut hooks.webhook_backoff_min_ms,
        file.webhooks.backoff_min_ms,
    );
    take(
        matches,
        "webhook_backoff_max_ms",
        &mut hooks.webhook_backoff_max_ms,
        file.webhooks.backoff_max_ms,
    );
    take(
        matches,
        "webhook_timeout_ms",
        &mut hooks.webhook_timeout_ms,
        file.webhooks.timeout_ms,
    );
    take(
        matches,
        "webhook_ca_file",
        &mut hooks.webhook_ca_file,
        file.webhooks.ca_files,
    );
    take(
        matches,
        "webhook_attempts_max",
        &mut hooks.webhook_attempts_max,
        file.webhooks.attempts_max,
    );
    take(
        matches,
        "webhook_retry_age_max_s",
        &mut hooks.webhook_retry_age_max_s,
        file.webhooks.retry_age_max_s,
    );
    // A JSON file given as a flag or variable replaces the table.
    if !given(matches, "kafka_config") {
        args.kafka.file = file.kafka;
    }
    if !given(matches, "psp_config") {
        args.psp_file = file.psp;
    }
}

/// `payledger config check FILE`: the effective configuration (the file
/// over the defaults, under the environment), secrets resolved and shown
/// redacted, or the first error.
pub fn check(path: &Path) -> anyhow::Result<()> {
    use clap::{CommandFactory, FromArgMatches};
    let file = ConfigFile::load(path)?;
    let matches = crate::cli::Cli::command()
        .try_get_matches_from(["payledger", "serve"])
        .context("the serve defaults")?;
    let serve = matches.subcommand_matches("serve").context("serve")?;
    let mut args = ServeArgs::from_arg_matches(serve).context("the serve defaults")?;
    apply(&mut args, file, serve);
    let relay = args.kafka.relay_config()?;
    let psp = crate::psp::config(&args)?;
    args.webhooks.delivery_config()?;
    println!(
        "# effective configuration of {} (secrets redacted)",
        path.display()
    );
    print!("{}", effective(&args, relay.as_ref(), psp.as_ref()));
    Ok(())
}

/// The effective settings as TOML, secrets redacted.
fn effective(
    args: &ServeArgs,
    relay: Option<&payledger_kafka::RelayConfig>,
    psp: Option<&payledger_psp::config::PspConfig>,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let text = |value: &str| toml::Value::String(value.to_owned()).to_string();
    let path = |value: &Path| text(&value.display().to_string());
    let _ = writeln!(out, "listen = {}", text(&args.listen.to_string()));
    let _ = writeln!(out, "data = {}", path(&args.store.data));
    let _ = writeln!(out, "partitions = {}", args.store.partitions);
    let _ = writeln!(
        out,
        "master_key_file = {}",
        path(&args.master.path(&args.store.data))
    );
    if let Some(url) = &args.public_url {
        let _ = writeln!(out, "public_url = {}", text(url));
    }
    let _ = writeln!(
        out,
        "token_purge_interval_s = {}",
        args.token_purge_interval_s
    );
    let threads = args.connection_threads.map_or_else(
        || payledger_api::connection_threads::connection_threads_default().get(),
        usize::from,
    );
    let _ = writeln!(out, "connection_threads = {threads}");
    let _ = writeln!(out, "\n[limits]");
    let _ = writeln!(
        out,
        "request_body_bytes_max = {}",
        args.request_body_bytes_max
    );
    let _ = writeln!(out, "token_ttl_s = {}", args.token_ttl_s);
    let a = &args.admission;
    let _ = writeln!(out, "\n[admission]");
    let _ = writeln!(out, "requests_in_flight_max = {}", a.requests_in_flight_max);
    let _ = writeln!(out, "requests_queued_max = {}", a.requests_queued_max);
    let _ = writeln!(out, "queue_wait_ms_max = {}", a.queue_wait_ms_max);
    let _ = writeln!(
        out,
        "client_requests_per_s_max = {}",
        a.client_requests_per_s_max
    );
    let _ = writeln!(
        out,
        "client_burst_requests_max = {}",
        a.client_burst_requests_max
    );
    let _ = writeln!(out, "cpu_percent_max = {}", a.cpu_percent_max);
    let _ = writeln!(out, "latency_target_ms = {}", a.latency_target_ms);
    let _ = writeln!(
        out,
        "append_queue_requests_max = {}",
        a.append_queue_requests_max
    );
    let _ = writeln!(out, "\n[logging]");
    let _ = writeln!(out, "format = {}", text(args.log_format.as_str()));
    let _ = writeln!(out, "level = {}", text(&args.log_level));
    let _ = writeln!(out, "\n[metrics]");
    match &args.metrics_listen {
        Some(listen) => writeln!(out, "listen = {}", text(&listen.to_string())),
        None => writeln!(out, "# served on the API port"),
    }
    .ok();
    let hooks = &args.webhooks;
    let _ = writeln!(out, "\n[webhooks]");
    let _ = writeln!(out, "backoff_min_ms = {}", hooks.webhook_backoff_min_ms);
    let _ = writeln!(out, "backoff_max_ms = {}", hooks.webhook_backoff_max_ms);
    let _ = writeln!(out, "timeout_ms = {}", hooks.webhook_timeout_ms);
    let files: Vec<String> = hooks.webhook_ca_file.iter().map(|p| path(p)).collect();
    let _ = writeln!(out, "ca_files = [{}]", files.join(", "));
    let _ = writeln!(out, "attempts_max = {}", hooks.webhook_attempts_max);
    let _ = writeln!(out, "retry_age_max_s = {}", hooks.webhook_retry_age_max_s);
    match relay {
        None => {
            let _ = writeln!(out, "\n# [kafka]: no brokers, the relay is off");
        }
        Some(relay) => {
            let _ = writeln!(out, "\n[kafka]");
            let _ = writeln!(out, "brokers = {}", text(&relay.brokers));
            let _ = writeln!(out, "topic_template = {}", text(&relay.topic_template));
            let _ = writeln!(out, "topic_partitions = {}", relay.topic_partitions);
            let _ = writeln!(out, "topic_replication = {}", relay.topic_replication);
            let _ = writeln!(out, "create_topics = {}", relay.create_topics);
            let _ = writeln!(out, "format = {}", text(relay.format.name()));
            let _ = writeln!(out, "message_timeout_ms = {}", relay.message_timeout_ms);
            let _ = writeln!(out, "\n[kafka.producer]");
            for (property, value) in &relay.producer_overrides {
                let shown = match payledger_kafka::config::is_secret_property(property) {
                    true => text("<redacted>"),
                    false => text(value),
                };
                let _ = writeln!(out, "{} = {shown}", text(property));
            }
        }
    }
    match psp {
        None => {
            let _ = writeln!(
                out,
                "\n# [psp]: no PSP accounts, nothing is executed at a PSP"
            );
        }
        Some(psp) => {
            for (project, psps) in &psp.projects {
                let Some(stripe) = &psps.stripe else { continue };
                let _ = writeln!(out, "\n[psp.projects.{}.stripe]", text(project));
                let _ = writeln!(out, "api_base_url = {}", text(&stripe.api_base_url));
                let _ = writeln!(out, "secret_key = {}", text("<redacted>"));
                if let Some(key) = &stripe.publishable_key {
                    let _ = writeln!(out, "publishable_key = {}", text(key));
                }
                let _ = writeln!(
                    out,
                    "webhook_secrets = [{}]",
                    vec![text("<redacted>"); stripe.webhook_secrets.len()].join(", ")
                );
                let _ = writeln!(out, "request_timeout_ms = {}", stripe.request_timeout_ms);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
