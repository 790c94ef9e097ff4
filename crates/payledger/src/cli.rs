//! The command line contract. Operators and later tooling rely on these
//! names; `--help` documents every flag.

use clap::{Args, Parser, Subcommand};
use payledger_app::auth::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "payledger",
    version,
    about = "An event-sourced payment ledger."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API on a RocksDB store.
    Serve(Box<ServeArgs>),
    /// Manage API clients (create, list, revoke); while a server runs on
    /// the data directory, through its admin socket, taking effect at once.
    Clients(ClientsArgs),
    /// Manage merchants of the signed tokenization API and their RSA
    /// public keys (create, list, add-key, revoke-key); while a server runs
    /// on the data directory, through its admin socket, taking effect at
    /// once.
    Merchants(MerchantsArgs),
    /// payledger's own key pair, which signs the notify callbacks of the
    /// tokenization API (`keys show` prints the public key merchants
    /// verify with; the pair is made on first use).
    Keys(KeysArgs),
    /// Show each log consumer's cursor, lag and last error per partition
    /// (opens the store: run it while the server is stopped).
    Status(StatusArgs),
    /// Check the stored history: every stream's hash chain and head, every
    /// partition log, and (unless --no-views) every view and index against
    /// the events; print the root digest over all stream heads. Runs beside
    /// a serving server. Exit status 1 names the first broken link.
    Verify(VerifyArgs),
    /// Rebuild every derived table (views, indexes, event-id lookups,
    /// order views) from the events (stop the server first), or with
    /// --check report every row that differs from what the events give.
    Replay(ReplayArgs),
    /// Write every event as one flat row to an NDJSON or Parquet file
    /// (beside a running server too); see the README for the columns.
    Export(ExportArgs),
    /// Check a TOML configuration file of `serve` and print the effective
    /// configuration (secrets redacted).
    Config(ConfigArgs),
    /// Take a consistent copy of the store into a new directory: through
    /// the admin socket of a server running on the data directory (it keeps
    /// serving writes), or by opening the store when none runs. The master
    /// key is not copied.
    Backup(BackupArgs),
    /// Copy a backup into an empty (or new) data directory, with no server
    /// running on it; refuses a directory that holds anything.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Directory of the RocksDB store.
    #[arg(long, default_value = "./data", env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
    /// Directory to make for the backup; it must not exist yet, its
    /// parent must.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory `payledger backup` made.
    #[arg(long)]
    pub from: PathBuf,
    /// Data directory to restore into: missing or empty.
    #[arg(long, env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate FILE (unknown keys, inline secrets, unset variables,
    /// unreadable files) and print what `serve --config FILE` would use.
    Check {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    Text,
    /// One JSON object per line, with the fields of its spans.
    Json,
}

impl LogFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Parquet,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Directory of the RocksDB store.
    #[arg(long, default_value = "./data", env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The file to write (written as PATH.partial, renamed when complete).
    #[arg(long)]
    pub out: PathBuf,
    /// Only this project's events.
    #[arg(long)]
    pub project: Option<String>,
    /// Only events recorded at or after this ISO 8601 date-time.
    #[arg(long)]
    pub from: Option<String>,
    /// Only events recorded before this ISO 8601 date-time.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub master: MasterKeyArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Report differences instead of rebuilding (runs beside a serving
    /// server); exit status 1 when there is any.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Directory of the RocksDB store.
    #[arg(long, default_value = "./data", env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
    /// Check the events, heads and logs only, not the views and indexes
    /// they derive.
    #[arg(long)]
    pub no_views: bool,
    /// Fail unless the root digest equals this one (hex), kept from an
    /// earlier run.
    #[arg(long, value_name = "HEX")]
    pub expect_root: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory of the RocksDB store (created if missing).
    #[arg(long, default_value = "./data", env = "PAYLEDGER_DATA")]
    pub data: PathBuf,
    /// Partitions of a new store (ignored for an existing store, which keeps
    /// the count it was created with).
    #[arg(long, default_value_t = payledger_store::PARTITIONS_DEFAULT)]
    pub partitions: u16,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file of every setting below (see the README); flags and
    /// environment variables given as well win over it.
    #[arg(long, env = "PAYLEDGER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Address to listen on, for example 127.0.0.1:8080 (port 0 picks a free
    /// port; the bound address is printed on startup).
    #[arg(long, default_value = "127.0.0.1:8080", env = "PAYLEDGER_LISTEN")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// JSON file of PSP accounts per project (Stripe keys, webhook signing
    /// secrets, refresh timing); see the README. Without it payledger
    /// executes nothing at PSPs.
    #[arg(long, env = "PAYLEDGER_PSP_CONFIG")]
    pub psp_config: Option<PathBuf>,
    /// The URL shoppers reach this server at (payment links of
    /// retry-payment start with it); default: http:// and the bound address.
    #[arg(long, env = "PAYLEDGER_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub admission: AdmissionArgs,
    /// Seconds between purges of stored tokens that expired or whose
    /// client was revoked (they stop working at once either way; the
    /// purge reclaims their rows). The first purge runs at start.
    #[arg(long, default_value_t = payledger_app::auth::purger::TOKEN_PURGE_INTERVAL_S_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub token_purge_interval_s: u64,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, default_value_t = payledger_api::ApiConfig::default().request_body_bytes_max,
        env = "PAYLEDGER_REQUEST_BODY_BYTES_MAX")]
    pub request_body_bytes_max: usize,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = payledger_api::ApiConfig::default().token_ttl_seconds,
        env = "PAYLEDGER_TOKEN_TTL_S", value_parser = clap::value_parser!(u64).range(1..))]
    pub token_ttl_s: u64,
    /// Threads serving the API's connections, each connection on one of
    /// them (1 to 256; default: one more than the cores this process may
    /// run on).
    #[arg(long, env = "PAYLEDGER_CONNECTION_THREADS",
        value_parser = clap::value_parser!(u16).range(1..=payledger_api::connection_threads::CONNECTION_THREADS_MAX))]
    pub connection_threads: Option<u16>,
    /// Log line format: text (coloured only on a terminal) or json.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "PAYLEDGER_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Which log lines to write, as a filter: `info`, `debug`,
    /// `info,payledger_kafka=debug`, …
    #[arg(long, default_value = "info", env = "RUST_LOG")]
    pub log_level: String,
    /// Serve `GET /metrics` on this address as well as on the API port.
    #[arg(long, env = "PAYLEDGER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The `[psp]` table of the configuration file (when no --psp-config).
    #[arg(skip)]
    pub psp_file: Option<payledger_psp::config::PspFile>,
}

/// Admission control (see the README's "Overload"): how much work the
/// server takes on at once, and what it refuses early.
#[derive(Debug, Args)]
pub struct AdmissionArgs {
    /// HTTP requests running at once; more wait in the queue or get 503.
    /// 0 turns admission control off.
    #[arg(long, default_value_t = payledger_api::admission::REQUESTS_IN_FLIGHT_MAX_DEFAULT as u64,
        env = "PAYLEDGER_REQUESTS_IN_FLIGHT_MAX",
        value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub requests_in_flight_max: u64,
    /// HTTP requests waiting for a slot at once; more get 503 at once.
    #[arg(long, default_value_t = payledger_api::admission::REQUESTS_QUEUED_MAX_DEFAULT as u64,
        env = "PAYLEDGER_REQUESTS_QUEUED_MAX",
        value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub requests_queued_max: u64,
    /// Longest an HTTP request waits for a slot, in milliseconds from its
    /// arrival; past it, 503 and nothing done.
    #[arg(long, default_value_t = payledger_api::admission::QUEUE_WAIT_MS_MAX_DEFAULT,
        env = "PAYLEDGER_QUEUE_WAIT_MS_MAX",
        value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub queue_wait_ms_max: u64,
    /// Requests per second each API client may send (429 past it); 0 is
    /// no per-client limit.
    #[arg(long, default_value_t = 0, env = "PAYLEDGER_CLIENT_REQUESTS_PER_S_MAX")]
    pub client_requests_per_s_max: u32,
    /// Requests a client may send at once (its bucket); 0: one second of
    /// --client-requests-per-s-max.
    #[arg(long, default_value_t = 0, env = "PAYLEDGER_CLIENT_BURST_REQUESTS_MAX")]
    pub client_burst_requests_max: u32,
    /// Share of the process's CPUs, in percent, above which the admission
    /// slots shrink (down to 4) until the CPU has headroom again; 0 keeps
    /// --requests-in-flight-max fixed.
    #[arg(long, default_value_t = payledger_api::admission::CPU_PERCENT_MAX_DEFAULT,
        env = "PAYLEDGER_CPU_PERCENT_MAX",
        value_parser = clap::value_parser!(u32).range(0..=100))]
    pub cpu_percent_max: u32,
    /// Mean time admitted requests may take, in milliseconds, before a
    /// flood (half the requests refused) shrinks the admission slots
    /// (down to 4); 0 keeps --requests-in-flight-max fixed.
    #[arg(long, default_value_t = payledger_api::admission::LATENCY_TARGET_MS_DEFAULT,
        env = "PAYLEDGER_LATENCY_TARGET_MS",
        value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_target_ms: u64,
    /// Appends waiting for the writer, per partition; one more is refused
    /// with 503.
    #[arg(long, default_value_t = payledger_rocksdb::APPEND_QUEUE_REQUESTS_MAX as u64,
        env = "PAYLEDGER_APPEND_QUEUE_REQUESTS_MAX",
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub append_queue_requests_max: u64,
}

impl AdmissionArgs {
    /// The API's admission limits.
    pub fn config(&self) -> payledger_api::admission::AdmissionConfig {
        let requests = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        payledger_api::admission::AdmissionConfig {
            requests_in_flight_max: requests(self.requests_in_flight_max),
            requests_queued_max: requests(self.requests_queued_max),
            queue_wait_ms_max: self.queue_wait_ms_max,
            client_requests_per_s_max: self.client_requests_per_s_max,
            client_burst_requests_max: self.client_burst_requests_max,
            cpu_percent_max: self.cpu_percent_max,
            latency_target_ms: self.latency_target_ms,
        }
    }
}

/// Deliveries to webhook Subscriptions (always on; idle without any).
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// First wait after a failed delivery, in milliseconds; it doubles per
    /// attempt (with jitter) up to --webhook-backoff-max-ms.
    #[arg(long, default_value_t = payledger_webhooks::backoff::BACKOFF_MS_MIN_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_backoff_min_ms: u64,
    /// Longest wait between two attempts of a delivery, in milliseconds.
    #[arg(long, default_value_t = payledger_webhooks::backoff::BACKOFF_MS_MAX_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_backoff_max_ms: u64,
    /// Longest time one delivery request may take, in milliseconds.
    #[arg(long, default_value_t = payledger_webhooks::worker::REQUEST_TIMEOUT_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub webhook_timeout_ms: u64,
    /// PEM file of CA certificates trusted for https:// destinations
    /// besides the Mozilla roots (repeatable), e.g. an internal CA.
    #[arg(long)]
    pub webhook_ca_file: Vec<PathBuf>,
    /// Failed attempts at one Message after which its Subscription's
    /// deliveries stop (status ConfigurationErrorDeliveryStopped) until an
    /// update resumes them from that Message.
    #[arg(long, default_value_t = payledger_webhooks::retry_limit::ATTEMPTS_MAX_DEFAULT,
          env = "PAYLEDGER_WEBHOOK_ATTEMPTS_MAX",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(WEBHOOK_ATTEMPTS_MAX_LIMIT)))]
    pub webhook_attempts_max: u32,
    /// Seconds one Message may keep failing (from its first failed
    /// attempt) before its Subscription's deliveries stop, as with
    /// --webhook-attempts-max.
    #[arg(long, default_value_t = payledger_webhooks::retry_limit::RETRY_AGE_MAX_S_DEFAULT,
          env = "PAYLEDGER_WEBHOOK_RETRY_AGE_MAX_S",
          value_parser = clap::value_parser!(u64).range(1..=WEBHOOK_RETRY_AGE_MAX_S_LIMIT))]
    pub webhook_retry_age_max_s: u64,
}

/// Largest `--webhook-attempts-max` accepted.
pub const WEBHOOK_ATTEMPTS_MAX_LIMIT: u32 = 1_000_000;
/// Largest `--webhook-retry-age-max-s` accepted: 30 days, in seconds.
pub const WEBHOOK_RETRY_AGE_MAX_S_LIMIT: u64 = 2_592_000;

impl WebhookArgs {
    pub fn delivery_config(&self) -> anyhow::Result<payledger_webhooks::DeliveryConfig> {
        let mut extra_root_certificates_pem = Vec::new();
        for path in &self.webhook_ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("cannot read --webhook-ca-file {}: {e}", path.display())
            })?;
            extra_root_certificates_pem.push(pem);
        }
        // The file's values pass no flag parser: checked here.
        let attempts = self.webhook_attempts_max;
        anyhow::ensure!(
            (1..=WEBHOOK_ATTEMPTS_MAX_LIMIT).contains(&attempts),
            "webhooks.attempts_max must be 1 to {WEBHOOK_ATTEMPTS_MAX_LIMIT}, not {attempts}"
        );
        let age = self.webhook_retry_age_max_s;
        anyhow::ensure!(
            (1..=WEBHOOK_RETRY_AGE_MAX_S_LIMIT).contains(&age),
            "webhooks.retry_age_max_s must be 1 to {WEBHOOK_RETRY_AGE_MAX_S_LIMIT}, not {age}"
        );
        Ok(payledger_webhooks::DeliveryConfig {
            extra_root_certificates_pem,
            retry_limit: payledger_webhooks::RetryLimit {
                attempts_max: self.webhook_attempts_max,
                retry_age_max_s: self.webhook_retry_age_max_s,
            },
            backoff: payledger_webhooks::Backoff {
                min_ms: self.webhook_backoff_min_ms,
                max_ms: self.webhook_backoff_max_ms.max(self.webhook_backoff_min_ms),
            },
            request_timeout_ms: self.webhook_timeout_ms,
            ..payledger_webhooks::DeliveryConfig::default()
        })
    }
}

/// The Kafka relay: on when brokers are given (flag, environment or
/// `--kafka-config` file). Flags override the file; the file overrides the
/// defaults.
#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// JSON file of relay settings (brokers, topics, formats, producer
    /// properties); see the README. Flags given as well win over it.
    #[arg(long, env = "PAYLEDGER_KAFKA_CONFIG")]
    pub kafka_config: Option<PathBuf>,
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…]. Without brokers
    /// the relay is off.
    #[arg(long, env = "PAYLEDGER_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic of a project's payment Messages; `{projectKey}` is replaced
    /// [default: payledger.{projectKey}.payments].
    #[arg(long)]
    pub kafka_topic_template: Option<String>,
    /// Partitions of the topics the relay creates when they are missing
    /// [default: 8].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_topic_partitions: Option<i32>,
    /// Replication factor of the topics the relay creates [default: 1].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_topic_replication: Option<i32>,
    /// Record value format: json (the Message), cloudevents or protobuf
    /// [default: json].
    #[arg(long)]
    pub kafka_format: Option<payledger_kafka::MessageFormat>,
    /// Format of one topic, TOPIC=FORMAT (repeatable); overrides
    /// --kafka-format for that topic.
    #[arg(long, value_parser = parse_topic_format)]
    pub kafka_topic_format: Vec<(String, payledger_kafka::MessageFormat)>,
    /// How long the producer tries to deliver a message before the relay
    /// retries its batch, in milliseconds [default: 30000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub kafka_message_timeout_ms: Option<u64>,
    /// The `[kafka]` table of the configuration file (when no
    /// --kafka-config).
    #[arg(skip)]
    pub file: Option<payledger_kafka::config::RelayFile>,
}

impl KafkaArgs {
    /// The relay's configuration, or `None` when no brokers are given.
    pub fn relay_config(&self) -> anyhow::Result<Option<payledger_kafka::RelayConfig>> {
        let mut config = payledger_kafka::RelayConfig::new("");
        let env = |name: &str| std::env::var(name).ok();
        if let Some(path) = &self.kafka_config {
            payledger_kafka::config::RelayFile::load(path)?
                .apply(&mut config, env)
                .map_err(|what| anyhow::anyhow!("{}: {what}", path.display()))?;
        } else if let Some(file) = &self.file {
            file.apply(&mut config, env)
                .map_err(|what| anyhow::anyhow!("[kafka]: {what}"))?;
        }
        if let Some(brokers) = &self.kafka_brokers {
            config.brokers.clone_from(brokers);
        }
        config.brokers = config.brokers.trim().to_owned();
        if config.brokers.is_empty() {
            return Ok(None);
        }
        if let Some(template) = &self.kafka_topic_template {
            config.topic_template.clone_from(template);
        }
        if let Some(partitions) = self.kafka_topic_partitions {
            config.topic_partitions = partitions;
        }
        if let Some(replication) = self.kafka_topic_replication {
            config.topic_replication = replication;
        }
        if let Some(format) = self.kafka_format {
            config.format = format;
        }
        config
            .topic_formats
            .extend(self.kafka_topic_format.iter().cloned());
        if let Some(timeout) = self.kafka_message_timeout_ms {
            config.message_timeout_ms = timeout;
        }
        Ok(Some(config))
    }
}

fn parse_topic_format(text: &str) -> Result<(String, payledger_kafka::MessageFormat), String> {
    let (topic, format) = text
        .split_once('=')
        .ok_or_else(|| format!("expected TOPIC=FORMAT, got {text:?}"))?;
    let format = format.parse().map_err(|e| format!("{e}"))?;
    Ok((topic.to_owned(), format))
}

// `payledger clients …`

#[derive(Debug, Args)]
pub struct ClientsArgs {
    #[command(subcommand)]
    pub action: ClientsAction,
}

#[derive(Debug, Subcommand)]
pub enum ClientsAction {
    /// Create an API client allowed the given scopes.
    Create(CreateArgs),
    /// List API clients (ids, scopes, creation time; never secrets).
    List(ListArgs),
    /// Revoke an API client: it and its tokens stop working.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Client id: letters, digits, `.`, `_` and `-`.
    #[arg(long)]
    pub id: String,
    /// Client secret (prefer the environment variable: command lines are
    /// visible to other users). Never printed.
    #[arg(
        long,
        env = "PAYLEDGER_CLIENT_SECRET",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub secret: Secret,
    /// Allowed scope `permission:projectKey`, for example
    /// `manage_project:my-shop` or `view_payments:my-shop`; repeat the flag
    /// or separate scopes with spaces. Permissions: manage_project,
    /// view_payments, manage_payments, view_messages, view_types,
    /// manage_types, view_states, manage_states, view_subscriptions,
    /// manage_subscriptions.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Id of the client to revoke.
    #[arg(long)]
    pub id: String,
}

fn parse_secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::from(text))
}

// `payledger merchants …`

#[derive(Debug, Args)]
pub struct MerchantsArgs {
    #[command(subcommand)]
    pub action: MerchantsAction,
}

#[derive(Debug, Subcommand)]
pub enum MerchantsAction {
    /// Register a merchant of a project with its first public key.
    Create(MerchantCreateArgs),
    /// List merchants with their key ids (never the keys).
    List(ListArgs),
    /// Add a public key to a merchant (a rotation keeps both active).
    AddKey(MerchantKeyArgs),
    /// Revoke one key of a merchant: it stops verifying at once.
    RevokeKey(MerchantRevokeArgs),
}

#[derive(Debug, Args)]
pub struct MerchantCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The project the merchant's orders belong to.
    #[arg(long)]
    pub project: String,
    /// The merchant's number (`merchantId` of its requests).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub merchant_id: u64,
    /// PEM file of an RSA public key of 2048 to 8192 bits (SPKI `BEGIN
    /// PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`).
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct MerchantKeyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub merchant_id: u64,
    /// PEM file of the new RSA public key.
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct MerchantRevokeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub merchant_id: u64,
    /// The key's id, as `merchants list` shows it.
    #[arg(long)]
    pub key: String,
}

// `payledger keys …`

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Print the id and the public key (SPKI PEM) of the callback signing
    /// key of the data directory, making the pair if there is none.
    Show(KeysShowArgs),
    /// Make a new master key and wrap every payment's data key with it
    /// (stop the server first); then serve with the new file.
    RotateMaster(KeysRotateArgs),
}

/// Where the master key that wraps every payment's data key is.
#[derive(Debug, Args, Clone)]
pub struct MasterKeyArgs {
    /// File of the master key (64 hex digits; `serve` makes it, mode 0600,
    /// when missing). Default: `master.key` in the data directory. Keep a
    /// copy apart from the data: without it no sealed personal data can be
    /// read.
    #[arg(long, env = "PAYLEDGER_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl MasterKeyArgs {
    /// The file, given the data directory.
    pub fn path(&self, data: &std::path::Path) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| data.join("master.key"))
    }
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub master: MasterKeyArgs,
    /// Where to make the new master key (must not exist yet).
    #[arg(long)]
    pub new_master_key_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct KeysShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}
