//! The file's keys, what it refuses, and its place between the flags and
//! the defaults.

use super::*;
use clap::{CommandFactory, FromArgMatches};

/// `serve` parsed from `flags` (no environment is set by these tests), then
/// the file `text` applied.
fn serve(flags: &[&str], text: &str) -> ServeArgs {
    let argv = ["payledger", "serve"].iter().chain(flags);
    let matches = crate::cli::Cli::command()
        .try_get_matches_from(argv)
        .expect("flags parse");
    let serve = matches.subcommand_matches("serve").expect("serve");
    let mut args = ServeArgs::from_arg_matches(serve).expect("serve args");
    apply(
        &mut args,
        ConfigFile::parse(text).expect("file parses"),
        serve,
    );
    args
}

const FILE: &str = r#"
listen = "127.0.0.1:9100"
data = "/srv/payledger"
partitions = 4
public_url = "https://pay.example.com"

[limits]
token_ttl_s = 600

[admission]
requests_in_flight_max = 32
queue_wait_ms_max = 5
client_requests_per_s_max = 100
cpu_percent_max = 85
latency_target_ms = 7

[logging]
format = "json"
level = "debug"

[metrics]
listen = "127.0.0.1:9190"

[kafka]
brokers = "k1:9092"
format = "cloudevents"
[kafka.producer]
"compression.type" = "lz4"
[kafka.producer_env]
"sasl.password" = "PAYLEDGER_TEST_UNSET_KAFKA_PASSWORD"

[webhooks]
timeout_ms = 2500

[psp.projects.shop.stripe]
api_base_url = "http://127.0.0.1:8420"
secret_key_env = "PAYLEDGER_TEST_UNSET_STRIPE_KEY"
"#;

#[test]
fn the_file_fills_what_no_flag_gives_and_flags_win() {
    let args = serve(&[], FILE);
    assert_eq!(args.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(args.store.data, PathBuf::from("/srv/payledger"));
    assert_eq!(args.store.partitions, 4);
    assert_eq!(args.public_url.as_deref(), Some("https://pay.example.com"));
    assert_eq!(args.token_ttl_s, 600);
    assert_eq!(args.log_format, LogFormat::Json);
    assert_eq!(args.log_level, "debug");
    assert_eq!(
        args.metrics_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9190")
    );
    assert_eq!(args.webhooks.webhook_timeout_ms, 2500);
    assert!(args.kafka.file.is_some() && args.psp_file.is_some());
    // Not in the file: the defaults.
    assert_eq!(
        args.request_body_bytes_max,
        payledger_api::ApiConfig::default().request_body_bytes_max
    );

    let flagged = serve(
        &[
            "--listen",
            "127.0.0.1:9200",
            "--partitions",
            "8",
            "--log-format",
            "text",
        ],
        FILE,
    );
    assert_eq!(flagged.listen.to_string(), "127.0.0.1:9200");
    assert_eq!(flagged.store.partitions, 8);
    assert_eq!(flagged.log_format, LogFormat::Text);
    assert_eq!(
        flagged.store.data,
        PathBuf::from("/srv/payledger"),
        "the rest from the file"
    );

    let json_psp = serve(&["--psp-config", "psp.json"], FILE);
    assert!(
        json_psp.psp_file.is_none(),
        "a JSON file given as a flag replaces [psp]"
    );
}

#[test]
fn unknown_keys_are_refused_with_their_name_and_line() {
    let error = ConfigFile::parse("listen = \"127.0.0.1:1\"\n\n[logging]\nformt = \"json\"\n")
        .expect_err("a typo")
        .to_string();
    assert!(
        error.contains("formt") && error.contains("line 4"),
        "{error}"
    );
    let error = ConfigFile::parse("[kafka]\nbroker = \"k:9092\"\n")
        .expect_err("a typo in a table")
        .to_string();
    assert!(
        error.contains("broker") && error.contains("line 2"),
        "{error}"
    );
}

#[test]
fn secrets_written_in_the_file_are_refused_naming_where() {
    let error = ConfigFile::parse(
        "[psp.projects.shop.stripe]\nsecret_key = \"sk_live_123\"\n\n[kafka.producer]\n\"sasl.password\" = \"p\"\n",
    )
    .expect_err("inline secrets")
    .to_string();
    assert!(
        error.contains("psp.projects.shop.stripe.secret_key")
            && error.contains("kafka.producer.\"sasl.password\""),
        "{error}"
    );
    assert!(
        !error.contains("sk_live_123"),
        "the secret itself is not repeated: {error}"
    );
    let pinned = ConfigFile::parse("[kafka.producer]\n\"acks\" = \"1\"\n")
        .expect_err("a pinned property")
        .to_string();
    assert!(
        pinned.contains("producer.acks is set by the relay"),
        "{pinned}"
    );
}

#[test]
fn the_effective_configuration_shows_settings_and_hides_secrets() {
    let args = serve(&[], "[webhooks]\ntimeout_ms = 2500\n");
    let mut relay = payledger_kafka::RelayConfig::new("k1:9092");
    relay
        .producer_overrides
        .insert("sasl.password".into(), "hunter2".into());
    relay
        .producer_overrides
        .insert("compression.type".into(), "lz4".into());
    let psp = payledger_psp::config::PspConfig::parse(
        r#"{"projects": {"shop": {"stripe": {"secret_key": "sk_test_SECRET", "webhook_secrets": ["whsec_SECRET"]}}}}"#,
        |_| None,
    )
    .expect("psp");
    let shown = effective(&args, Some(&relay), Some(&psp));
    assert!(shown.contains("timeout_ms = 2500"), "{shown}");
    assert!(shown.contains("\"compression.type\" = \"lz4\""), "{shown}");
    assert!(shown.contains("[psp.projects.\"shop\".stripe]"), "{shown}");
    for secret in ["hunter2", "sk_test_SECRET", "whsec_SECRET"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    let reparsed: toml::Table = toml::from_str(&shown).expect("the output is TOML");
    assert_eq!(reparsed["webhooks"]["timeout_ms"].as_integer(), Some(2500));
}

#[test]
fn admission_limits_come_from_the_file_unless_a_flag_gives_them() {
    let args = serve(&["--queue-wait-ms-max", "7"], FILE);
    let config = args.admission.config();
    assert_eq!(config.requests_in_flight_max, 32);
    assert_eq!(config.queue_wait_ms_max, 7, "the flag wins");
    assert_eq!(config.client_requests_per_s_max, 100);
    assert_eq!(config.cpu_percent_max, 85);
    assert_eq!(config.latency_target_ms, 7);
    assert_eq!(
        config.requests_queued_max,
        payledger_api::admission::REQUESTS_QUEUED_MAX_DEFAULT,
        "the default where neither gives it"
    );
    let shown = effective(&args, None, None);
    let reparsed: toml::Table = toml::from_str(&shown).expect("the output is TOML");
    assert_eq!(
        reparsed["admission"]["requests_in_flight_max"].as_integer(),
        Some(32)
    );
    assert_eq!(
        reparsed["admission"]["cpu_percent_max"].as_integer(),
        Some(85)
    );
}

#[test]
fn admission_limits_beyond_their_bounds_are_refused_naming_the_setting() {
    let error = ConfigFile::parse("[admission]\nqueue_wait_ms_max = 600000\n")
        .expect_err("too long a wait")
        .to_string();
    assert!(error.contains("queue_wait_ms_max"), "{error}");
    let error = ConfigFile::parse("[admission]\nappend_queue_requests_max = 0\n")
        .expect_err("no queue")
        .to_string();
    assert!(error.contains("append_queue_requests_max"), "{error}");
    let error = ConfigFile::parse("[admission]\nlatency_target_ms = 120000\n")
        .expect_err("a target past a minute")
        .to_string();
    assert!(error.contains("latency_target_ms"), "{error}");
    let error = ConfigFile::parse("[admission]\ncpu_percent_max = 150\n")
        .expect_err("more than every CPU")
        .to_string();
    assert!(error.contains("cpu_percent_max"), "{error}");
}

#[test]
fn the_retry_bound_of_deliveries_comes_from_the_file_and_is_checked() {
    let defaults = serve(&[], "").webhooks.delivery_config().expect("defaults");
    assert_eq!(
        defaults.retry_limit,
        payledger_webhooks::RetryLimit::default()
    );
    let file = "[webhooks]\nattempts_max = 5\nretry_age_max_s = 600\n";
    let bounded = serve(&[], file)
        .webhooks
        .delivery_config()
        .expect("bounded");
    assert_eq!(
        bounded.retry_limit,
        payledger_webhooks::RetryLimit {
            attempts_max: 5,
            retry_age_max_s: 600
        }
    );
    let flagged = serve(&["--webhook-attempts-max", "7"], file);
    assert_eq!(flagged.webhooks.webhook_attempts_max, 7, "the flag wins");
    assert_eq!(flagged.webhooks.webhook_retry_age_max_s, 600);
    let shown = effective(&flagged, None, None);
    assert!(shown.contains("attempts_max = 7"), "{shown}");
    assert!(shown.contains("retry_age_max_s = 600"), "{shown}");

    for (text, named) in [
        ("[webhooks]\nattempts_max = 0\n", "webhooks.attempts_max"),
        (
            "[webhooks]\nretry_age_max_s = 0\n",
            "webhooks.retry_age_max_s",
        ),
    ] {
        let error = serve(&[], text)
            .webhooks
            .delivery_config()
            .expect_err("out of range")
            .to_string();
        assert!(error.contains(named), "{error}");
    }
}

#[test]
fn connection_threads_come_from_the_file_unless_a_flag_gives_them_and_are_bounded() {
    let default = serve(&[], "");
    assert_eq!(default.connection_threads, None, "cores + 1 when not given");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let shown = effective(&default, None, None);
    assert!(
        shown.contains(&format!("connection_threads = {}", cores + 1)),
        "{shown}"
    );
    let from_file = serve(&[], "connection_threads = 6\n");
    assert_eq!(from_file.connection_threads, Some(6));
    assert!(effective(&from_file, None, None).contains("connection_threads = 6"));
    let flagged = serve(&["--connection-threads", "2"], "connection_threads = 6\n");
    assert_eq!(flagged.connection_threads, Some(2), "the flag wins");

    for text in ["connection_threads = 0\n", "connection_threads = 257\n"] {
        let error = ConfigFile::parse(text)
            .expect_err("out of bounds")
            .to_string();
        assert!(error.contains("connection_threads"), "{error}");
    }
    for flag in ["0", "257"] {
        let refused = crate::cli::Cli::command().try_get_matches_from([
            "payledger",
            "serve",
            "--connection-threads",
            flag,
        ]);
        assert!(refused.is_err(), "--connection-threads {flag} is refused");
    }
}
