//! PSP settings per project, read from a JSON file (`payledger serve
//! --psp-config FILE`). Secrets may sit in the file or, better, in
//! environment variables the file names.
//!
//! ```json
//! {
//!   "projects": {
//!     "shop": {
//!       "stripe": {
//!         "api_base_url": "https://api.stripe.com",
//!         "secret_key_env": "SHOP_STRIPE_SECRET_KEY",
//!         "publishable_key": "pk_test_…",
//!         "js_url": "https://js.stripe.com/v3/",
//!         "webhook_secrets_env": "SHOP_STRIPE_WEBHOOK_SECRETS",
//!         "request_timeout_ms": 10000
//!       },
//!       "orders": { "retry_after_ms": 900000, "collect_wait_ms": 20000 }
//!     }
//!   },
//!   "refresh": { "first_delay_ms": 60000, "backoff_max_ms": 3600000, "attempts_max": 10 },
//!   "executor": { "retry_delay_ms": 1000, "attempts_max": 8 }
//! }
//! ```
//!
//! `webhook_secrets` (or the comma-separated `webhook_secrets_env` or
//! `webhook_secrets_file`) may list several secrets: during a rotation both
//! the old and the new one verify. `secret_key_file` and
//! `webhook_secrets_file` read a secret from a file (trimmed), such as a
//! mounted Kubernetes Secret. Unknown fields are refused so a typo never
//! silently drops a setting.
//!
//! The same shape is the `[psp]` table of payledger's TOML configuration
//! ([`PspFile`]), which allows secrets only by reference
//! ([`PspFile::inline_secrets`]).

use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The name under which the Stripe connector is configured, and the value of
/// `paymentMethodInfo.paymentInterface` that selects it.
pub const STRIPE: &str = "stripe";

/// Default time to establish a connection to the PSP, in milliseconds.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 2_000;
/// Default time for a whole PSP request, in milliseconds.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default most pages (of 100 objects) read when a PSP without a search API
/// is searched for an object by metadata.
pub const FIND_PAGES_MAX_DEFAULT: u32 = 100;

/// Settings of one Stripe account, secrets resolved.
#[derive(Clone, Debug)]
pub struct StripeSettings {
    /// e.g. `https://api.stripe.com`, or an emulator's `http://127.0.0.1:PORT`.
    pub api_base_url: String,
    pub secret_key: Secret,
    pub publishable_key: Option<String>,
    /// Where the hosted payment page loads Stripe.js from (an emulator
    /// serves its own).
    pub js_url: String,
    /// Every secret a webhook may be signed with.
    pub webhook_secrets: Vec<Secret>,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub find_pages_max: u32,
}

/// Default of [`StripeSettings::js_url`].
pub const STRIPE_JS_URL_DEFAULT: &str = "https://js.stripe.com/v3/";

impl StripeSettings {
    /// Settings with default timeouts.
    pub fn new(api_base_url: impl Into<String>, secret_key: Secret) -> Self {
        Self {
            api_base_url: api_base_url.into(),
            secret_key,
            publishable_key: None,
            js_url: STRIPE_JS_URL_DEFAULT.to_owned(),
            webhook_secrets: Vec::new(),
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            find_pages_max: FIND_PAGES_MAX_DEFAULT,
        }
    }
}

/// Default of [`OrderSettings::retry_after_ms`]: 15 minutes (seed 000).
pub const RETRY_AFTER_MS_DEFAULT: u64 = 15 * 60 * 1000;
/// Default of [`OrderSettings::collect_wait_ms`].
pub const COLLECT_WAIT_MS_DEFAULT: u64 = 20_000;

/// The order payment flows of one project, in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderSettings {
    /// How long an unfinished attempt blocks a retry-payment.
    pub retry_after_ms: u64,
    /// How long a collect-payment waits for the PSP's outcome.
    pub collect_wait_ms: u64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            retry_after_ms: RETRY_AFTER_MS_DEFAULT,
            collect_wait_ms: COLLECT_WAIT_MS_DEFAULT,
        }
    }
}

/// The PSPs of one project.
#[derive(Clone, Debug, Default)]
pub struct ProjectPsps {
    pub stripe: Option<StripeSettings>,
    pub orders: OrderSettings,
}

/// Timing of the refresh of Pending transactions, in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshSettings {
    pub first_delay_ms: u64,
    pub backoff_max_ms: u64,
    pub attempts_max: u32,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        Self {
            first_delay_ms: 60_000,
            backoff_max_ms: 3_600_000,
            attempts_max: 10,
        }
    }
}

/// Timing of the executor's retries after an unknown outcome, in
/// milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorSettings {
    pub retry_delay_ms: u64,
    pub retry_delay_max_ms: u64,
    pub attempts_max: u32,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        Self {
            retry_delay_ms: 1_000,
            retry_delay_max_ms: 300_000,
            attempts_max: 8,
        }
    }
}

/// The whole file.
#[derive(Clone, Debug, Default)]
pub struct PspConfig {
    pub projects: BTreeMap<String, ProjectPsps>,
    pub refresh: RefreshSettings,
    pub executor: ExecutorSettings,
}

/// Why the file was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the PSP configuration is not valid JSON of the expected shape: {0}")]
    Syntax(String),
    #[error("project {project}: {message}")]
    Invalid { project: String, message: String },
}

/// The settings as written, before secrets are resolved: the JSON file, or
/// the `[psp]` table of the TOML configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PspFile {
    #[serde(default)]
    projects: BTreeMap<String, ProjectWire>,
    #[serde(default)]
    refresh: RefreshSettings,
    #[serde(default)]
    executor: ExecutorSettings,
}

impl std::fmt::Debug for PspFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PspFile")
            .field("projects", &self.projects.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PspFile {
    /// Where the settings hold a secret itself rather than a reference to
    /// one (`projects.shop.stripe.secret_key`, …).
    pub fn inline_secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (project, psps) in &self.projects {
            if let Some(stripe) = &psps.stripe {
                if stripe.secret_key.is_some() {
                    found.push(format!("projects.{project}.stripe.secret_key"));
                }
                if !stripe.webhook_secrets.is_empty() {
                    found.push(format!("projects.{project}.stripe.webhook_secrets"));
                }
            }
        }
        found
    }

    /// The projects configured.
    pub fn project_names(&self) -> impl Iterator<Item = &str> {
        self.projects.keys().map(String::as_str)
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectWire {
    #[serde(default)]
    stripe: Option<StripeWire>,
    #[serde(default)]
    orders: OrderSettings,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StripeWire {
    api_base_url: Option<String>,
    secret_key: Option<String>,
    secret_key_env: Option<String>,
    secret_key_file: Option<std::path::PathBuf>,
    publishable_key: Option<String>,
    js_url: Option<String>,
    #[serde(default)]
    webhook_secrets: Vec<String>,
    webhook_secrets_env: Option<String>,
    webhook_secrets_file: Option<std::path::PathBuf>,
    connect_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    find_pages_max: Option<u32>,
}

impl PspConfig {
    /// Parses the file; `env` reads environment variables named by it.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let wire: PspFile =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Self::resolve(wire, env)
    }

    /// The settings of `wire` with their secrets read (from the
    /// environment through `env`, or from files).
    pub fn resolve(
        wire: PspFile,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut projects = BTreeMap::new();
        for (project, psps) in wire.projects {
            let stripe = psps
                .stripe
                .map(|s| stripe_settings(&project, s, &env))
                .transpose()?;
            projects.insert(
                project,
                ProjectPsps {
                    stripe,
                    orders: psps.orders,
                },
            );
        }
        Ok(Self {
            projects,
            refresh: wire.refresh,
            executor: wire.executor,
        })
    }
}

fn stripe_settings(
    project: &str,
    wire: StripeWire,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<StripeSettings, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        project: project.to_owned(),
        message,
    };
    let from_env = |name: &str| {
        env(name).ok_or_else(|| invalid(format!("environment variable {name} is not set")))
    };
    let from_file = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|e| {
                invalid(format!(
                    "cannot read the secret file {}: {e}",
                    path.display()
                ))
            })
    };
    let secret_key = match (wire.secret_key, wire.secret_key_env, wire.secret_key_file) {
        (Some(key), None, None) => key,
        (None, Some(name), None) => from_env(&name)?,
        (None, None, Some(path)) => from_file(&path)?,
        _ => {
            return Err(invalid(
                "stripe needs exactly one of secret_key, secret_key_env and secret_key_file".into(),
            ));
        }
    };
    if secret_key.is_empty() {
        return Err(invalid("the stripe secret key is empty".into()));
    }
    let mut webhook_secrets = wire.webhook_secrets;
    let listed = |joined: String| -> Vec<String> {
        joined.split(',').map(|s| s.trim().to_owned()).collect()
    };
    if let Some(name) = wire.webhook_secrets_env {
        webhook_secrets.extend(listed(from_env(&name)?));
    }
    if let Some(path) = wire.webhook_secrets_file {
        webhook_secrets.extend(listed(from_file(&path)?));
    }
    webhook_secrets.retain(|s| !s.is_empty());
    let mut settings = StripeSettings::new(
        wire.api_base_url
            .unwrap_or_else(|| "https://api.stripe.com".into()),
        Secret::new(secret_key),
    );
    settings.api_base_url = settings.api_base_url.trim_end_matches('/').to_owned();
    settings.publishable_key = wire.publishable_key;
    if let Some(url) = wire.js_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(format!(
                "stripe js_url must be an http(s) URL, not {url:?}"
            )));
        }
        settings.js_url = url;
    }
    settings.webhook_secrets = webhook_secrets.into_iter().map(Secret::new).collect();
    if let Some(ms) = wire.connect_timeout_ms {
        settings.connect_timeout_ms = ms;
    }
    if let Some(ms) = wire.request_timeout_ms {
        settings.request_timeout_ms = ms;
    }
    if let Some(pages) = wire.find_pages_max {
        settings.find_pages_max = pages;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk_env".into()),
            "HOOKS" => Some("whsec_a, whsec_b".into()),
            _ => None,
        }
    }

    #[test]
    fn a_project_reads_secrets_from_the_file_or_the_environment() {
        let text = r#"{
            "projects": {
                "shop": {"stripe": {"api_base_url": "http://127.0.0.1:9/",
                    "secret_key_env": "KEY", "webhook_secrets_env": "HOOKS",
                    "webhook_secrets": ["whsec_c"], "request_timeout_ms": 500}},
                "other": {"stripe": {"secret_key": "sk_file", "publishable_key": "pk_x"},
                    "orders": {"retry_after_ms": 60000}}
            },
            "refresh": {"first_delay_ms": 100}
        }"#;
        let config = PspConfig::parse(text, env).unwrap();
        let shop = config.projects["shop"].stripe.as_ref().unwrap();
        assert_eq!(shop.api_base_url, "http://127.0.0.1:9");
        assert_eq!(shop.secret_key.expose(), "sk_env");
        let hooks: Vec<&str> = shop.webhook_secrets.iter().map(Secret::expose).collect();
        assert_eq!(hooks, ["whsec_c", "whsec_a", "whsec_b"]);
        assert_eq!(shop.request_timeout_ms, 500);
        assert_eq!(shop.connect_timeout_ms, CONNECT_TIMEOUT_MS_DEFAULT);
        let other = config.projects["other"].stripe.as_ref().unwrap();
        assert_eq!(other.api_base_url, "https://api.stripe.com");
        assert_eq!(other.publishable_key.as_deref(), Some("pk_x"));
        assert_eq!(other.js_url, STRIPE_JS_URL_DEFAULT);
        assert_eq!(config.projects["shop"].orders, OrderSettings::default());
        assert_eq!(config.projects["other"].orders.retry_after_ms, 60_000);
        assert_eq!(
            config.projects["other"].orders.collect_wait_ms,
            COLLECT_WAIT_MS_DEFAULT
        );
        assert_eq!(config.refresh.first_delay_ms, 100);
        assert_eq!(
            config.refresh.attempts_max,
            RefreshSettings::default().attempts_max
        );
        // Secrets never show in the debug form.
        assert!(!format!("{config:?}").contains("sk_env"));
    }

    #[test]
    fn typos_missing_secrets_and_unset_variables_are_refused() {
        for text in [
            r#"{"projects": {"shop": {"stripe": {"secret_kye": "sk"}}}}"#,
            r#"{"projects": {"shop": {"stripe": {}}}}"#,
            r#"{"projects": {"shop": {"stripe": {"secret_key": "sk", "secret_key_env": "KEY"}}}}"#,
            r#"{"projects": {"shop": {"stripe": {"secret_key_env": "UNSET"}}}}"#,
            r#"{"refresh": {"first_delay": 1}}"#,
            r#"{"projects": {"shop": {"orders": {"retry_after": 1}}}}"#,
            r#"{"projects": {"shop": {"stripe": {"secret_key": "sk", "js_url": "javascript:x"}}}}"#,
            r#"{"projects": {"shop": {"stripe": {"secret_key_file": "/nonexistent/key"}}}}"#,
        ] {
            assert!(PspConfig::parse(text, env).is_err(), "{text}");
        }
    }

    #[test]
    fn secrets_read_from_files_are_trimmed_and_inline_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("psp-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, hooks) = (dir.join("key"), dir.join("hooks"));
        std::fs::write(&key, "sk_from_file\n").unwrap();
        std::fs::write(&hooks, "whsec_1,whsec_2\n").unwrap();
        let text = format!(
            r#"{{"projects": {{"shop": {{"stripe": {{"secret_key_file": {:?},
                "webhook_secrets_file": {:?}}}}},
                "inline": {{"stripe": {{"secret_key": "sk", "webhook_secrets": ["w"]}}}}}}}}"#,
            key.display().to_string(),
            hooks.display().to_string()
        );
        let file: PspFile = serde_json::from_str(&text).unwrap();
        assert_eq!(
            file.inline_secrets(),
            [
                "projects.inline.stripe.secret_key",
                "projects.inline.stripe.webhook_secrets"
            ]
        );
        let config = PspConfig::resolve(file, env).unwrap();
        let shop = config.projects["shop"].stripe.as_ref().unwrap();
        assert_eq!(shop.secret_key.expose(), "sk_from_file");
        let hooks: Vec<&str> = shop.webhook_secrets.iter().map(Secret::expose).collect();
        assert_eq!(hooks, ["whsec_1", "whsec_2"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
