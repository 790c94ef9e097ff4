//! Operating payledger: one configuration file under flags and
//! environment, `config check`, and what the server logs.

use payledger_e2e::{Api, Launch, Server, create_client, payledger_bin};
use std::path::Path;
use std::process::Command;

fn connect(server: &Server, data: &Path, project: &str) -> Api {
    let scope = format!("manage_project:{project}");
    create_client(data, "operator", "operator-secret-1", &scope);
    Api::connect(
        server.url(),
        project,
        "operator",
        "operator-secret-1",
        &scope,
    )
}

/// POSTs a payment draft padded with spaces to `bytes`; the status.
fn post_padded(api: &Api, bytes: usize) -> u16 {
    let draft = r#"{"amountPlanned": {"currencyCode": "EUR", "centAmount": 100}}"#;
    let body = format!("{draft}{}", " ".repeat(bytes - draft.len()));
    reqwest::blocking::Client::new()
        .post(format!("{}/{}/payments", api.base, api.project))
        .bearer_auth(api.bearer_token())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .expect("send")
        .status()
        .as_u16()
}

#[test]
fn a_configuration_file_sets_what_neither_flags_nor_environment_give() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = dir.path().join("payledger.toml");
    std::fs::write(
        &config,
        "data = \"/nonexistent/payledger\"\n\n[limits]\nrequest_body_bytes_max = 2000\n",
    )
    .expect("write config");
    let config = config.display().to_string();

    // The flag --data wins over the file's data; the file's limit holds.
    let server = Server::launch(
        &data,
        Launch {
            args: vec!["--config".into(), config.clone()],
            ..Launch::default()
        },
    );
    let api = connect(&server, &data, "ops");
    assert!(
        data.join("CURRENT").exists(),
        "the store is where the flag says"
    );
    assert_eq!(post_padded(&api, 1_500), 201);
    assert_eq!(post_padded(&api, 3_000), 413, "the file's limit");
    drop(server);

    // The environment wins over the file, and a flag over the environment.
    let env = vec![("PAYLEDGER_REQUEST_BODY_BYTES_MAX".into(), "5000".into())];
    let server = Server::launch(
        &data,
        Launch {
            args: vec!["--config".into(), config.clone()],
            env: env.clone(),
            ..Launch::default()
        },
    );
    let api = Api::connect(
        server.url(),
        "ops",
        "operator",
        "operator-secret-1",
        "manage_project:ops",
    );
    assert_eq!(post_padded(&api, 3_000), 201, "the environment's limit");
    drop(server);
    let server = Server::launch(
        &data,
        Launch {
            args: vec![
                "--config".into(),
                config,
                "--request-body-bytes-max".into(),
                "2500".into(),
            ],
            env,
            ..Launch::default()
        },
    );
    let api = Api::connect(
        server.url(),
        "ops",
        "operator",
        "operator-secret-1",
        "manage_project:ops",
    );
    assert_eq!(post_padded(&api, 3_000), 413, "the flag's limit");
    assert_eq!(post_padded(&api, 2_400), 201);
}

fn config_check(file: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(payledger_bin())
        .args(["config", "check"])
        .arg(file)
        .envs(env.iter().copied())
        .env_remove("PAYLEDGER_LISTEN")
        .output()
        .expect("run payledger config check")
}

#[test]
fn config_check_prints_the_effective_configuration_without_secrets_and_names_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("payledger.toml");
    let key_file = dir.path().join("kafka-password");
    std::fs::write(&key_file, "kafka-SECRET-from-file\n").expect("write secret");
    std::fs::write(
        &file,
        format!(
            r#"listen = "127.0.0.1:9400"
[kafka]
brokers = "k1:9092"
[kafka.producer_file]
"sasl.password" = {:?}
[psp.projects.shop.stripe]
api_base_url = "http://127.0.0.1:8420"
secret_key_env = "OPS_TEST_STRIPE_KEY"
webhook_secrets_env = "OPS_TEST_STRIPE_HOOKS"
"#,
            key_file.display().to_string()
        ),
    )
    .expect("write config");
    let env = [
        ("OPS_TEST_STRIPE_KEY", "sk_test_SECRET_VALUE"),
        ("OPS_TEST_STRIPE_HOOKS", "whsec_SECRET_A,whsec_SECRET_B"),
    ];
    let checked = config_check(&file, &env);
    let shown = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{checked:?}");
    assert!(shown.contains("listen = \"127.0.0.1:9400\""), "{shown}");
    assert!(shown.contains("brokers = \"k1:9092\""), "{shown}");
    assert!(
        shown.contains("\"sasl.password\" = \"<redacted>\""),
        "{shown}"
    );
    for secret in ["sk_test_SECRET_VALUE", "whsec_SECRET", "kafka-SECRET"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }

    let unset = config_check(&file, &env[..1]);
    assert!(!unset.status.success());
    let error = String::from_utf8_lossy(&unset.stderr);
    assert!(
        error.contains("OPS_TEST_STRIPE_HOOKS is not set"),
        "{error}"
    );

    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1\"\n[metrics]\nlisten_on = \"x\"\n",
    )
    .expect("write");
    let typo = config_check(&file, &[]);
    assert!(!typo.status.success());
    let error = String::from_utf8_lossy(&typo.stderr);
    assert!(
        error.contains("listen_on") && error.contains("line 3"),
        "{error}"
    );
}

/// The TOML files under `deploy/` (and below), in path order.
fn deploy_configurations() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let mut found = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read deploy/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn deploy_configurations_pass_config_check() {
    let files = deploy_configurations();
    assert!(
        files.len() >= 3,
        "deploy/ holds its configurations: {files:?}"
    );
    let env = [
        ("SHOP_STRIPE_SECRET_KEY", "sk_test_placeholder"),
        ("SHOP_STRIPE_WEBHOOK_SECRETS", "whsec_placeholder"),
        ("KAFKA_SASL_PASSWORD", "placeholder"),
    ];
    for file in files {
        let checked = config_check(&file, &env);
        assert!(
            checked.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

/// One sample of a scrape, as the Prometheus parser read it.
#[derive(Debug)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

impl Sample {
    fn from_json(line: &str) -> Self {
        let value: serde_json::Value = serde_json::from_str(line).expect("a sample");
        let text = |key: &str| value[key].as_str().expect("text").to_owned();
        Self {
            family: text("family"),
            kind: text("type"),
            name: text("name"),
            labels: (value["labels"].as_object().expect("labels").iter())
                .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_owned()))
                .collect(),
            value: value["value"].as_f64().expect("number"),
        }
    }
}

/// `GET url` parsed by the Prometheus project's OpenMetrics parser (which
/// refuses a malformed exposition).
fn scrape(url: &str) -> Vec<Sample> {
    let response = reqwest::blocking::get(url).expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().expect("body");
    let mut parser = Command::new(payledger_e2e::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics/parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the parser");
    use std::io::Write;
    parser
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let parsed = parser.wait_with_output().expect("parser output");
    assert!(
        parsed.status.success(),
        "the exposition does not parse: {}\n{text}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    String::from_utf8(parsed.stdout)
        .expect("utf-8")
        .lines()
        .map(Sample::from_json)
        .collect()
}

/// The sum of the samples named `name` whose labels include `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

#[test]
fn metrics_parse_with_the_prometheus_parser_and_move_with_traffic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let metrics_port = payledger_e2e::free_port();
    // Brokers nobody listens on: the relay runs and falls behind.
    let brokers = format!("127.0.0.1:{}", payledger_e2e::free_port());
    let server = Server::launch(
        &data,
        Launch {
            args: vec![
                "--metrics-listen".into(),
                format!("127.0.0.1:{metrics_port}"),
                "--kafka-brokers".into(),
                brokers,
            ],
            ..Launch::default()
        },
    );
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let before = scrape(&metrics_url);
    let api = connect(&server, &data, "metered");
    let refused = reqwest::blocking::Client::new()
        .post(format!("{}/oauth/token", server.url()))
        .basic_auth("operator", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .expect("token request");
    assert_eq!(refused.status().as_u16(), 401);
    // A receiver that hangs up on every delivery: each attempt fails, and
    // each one is a connection the test can wait for.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let hook = format!(
        "http://{}/hook",
        receiver.local_addr().expect("receiver address")
    );
    let (attempted, attempts) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for connection in receiver.incoming() {
            drop(connection);
            if attempted.send(()).is_err() {
                return;
            }
        }
    });
    let subscription = api.post(
        "/subscriptions",
        &serde_json::json!({"destination": {"type": "HTTP", "url": hook, "secret": "receiver-secret-0123"},
                            "messages": [{"resourceTypeId": "payment"}]}),
    );
    assert_eq!(subscription.status, 201, "{:?}", subscription.body);
    for n in 0..5 {
        let created = api.post(
            "/payments",
            &serde_json::json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 100 + n}}),
        );
        assert_eq!(created.status, 201);
    }
    assert_eq!(api.get("/payments/key=nobody").status, 404);

    // Each failed attempt is counted before its retry begins: after each
    // new attempt, look whether a failure was counted yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let after = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        attempts
            .recv_timeout(left)
            .expect("no delivery attempt within 30 s");
        let samples = scrape(&metrics_url);
        let failed = total(
            &samples,
            "payledger_webhook_deliveries_total",
            &[("outcome", "TemporaryError")],
        );
        if failed >= 1.0 {
            break samples;
        }
    };

    let moved = |name: &str, labels: &[(&str, &str)]| {
        total(&after, name, labels) - total(&before, name, labels)
    };
    let created = [
        ("route", "/{pk}/payments"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(moved("payledger_http_requests_total", &created), 5.0);
    let missing = [
        ("route", "/{pk}/payments/{id}"),
        ("method", "GET"),
        ("status", "404"),
    ];
    assert_eq!(moved("payledger_http_requests_total", &missing), 1.0);
    assert!(
        moved(
            "payledger_http_request_duration_seconds_count",
            &[("route", "/{pk}/payments")]
        ) >= 5.0
    );
    assert!(moved("payledger_events_appended_total", &[("kind", "Created")]) >= 5.0);
    assert!(moved("payledger_append_groups_total", &[]) >= 1.0);
    assert!(moved("payledger_append_commit_duration_seconds_count", &[]) >= 1.0);
    assert!(moved("payledger_append_duration_seconds_count", &[]) >= 5.0);
    assert!(moved("payledger_tokens_issued_total", &[]) >= 1.0);
    assert!(
        moved(
            "payledger_tokens_refused_total",
            &[("reason", "invalid_client")]
        ) >= 1.0
    );
    assert!(
        total(&after, "payledger_kafka_relay_lag_events", &[]) >= 5.0,
        "the relay is behind"
    );
    assert!(
        total(
            &after,
            "payledger_consumer_lag_events",
            &[("consumer", "kafka-relay")]
        ) >= 5.0
    );
    assert_eq!(total(&after, "payledger_webhook_subscriptions", &[]), 1.0);
    assert!(total(&after, "payledger_webhook_delivery_lag_events", &[]) >= 1.0);
    for sample in &after {
        assert!(sample.family.starts_with("payledger_"), "{sample:?}");
        if sample.kind == "counter" {
            assert!(
                sample.name.ends_with("_total") || sample.name.ends_with("_created"),
                "{sample:?}"
            );
        }
    }
    // The API port serves the same exposition.
    let api_port = scrape(&format!("{}/metrics", server.url()));
    assert!(total(&api_port, "payledger_http_requests_total", &created) >= 5.0);
}

#[test]
fn json_logs_carry_request_spans_and_never_a_secret() {
    const CLIENT_SECRET: &str = "operator-secret-1";
    const STRIPE_KEY: &str = "sk_test_LOGGED-NEVER-5f1e";
    const WEBHOOK_SECRET: &str = "whsec_LOGGED-NEVER-a7c3";
    const HOOK_SECRET: &str = "receiver-LOGGED-NEVER-91d2";
    const CARD_TOKEN: &str = "tok_LOGGED-NEVER-4242";
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let config = dir.path().join("payledger.toml");
    std::fs::write(
        &config,
        format!(
            "[logging]\nformat = \"json\"\nlevel = \"debug\"\n\n[psp.projects.logged.stripe]\n\
             api_base_url = \"http://127.0.0.1:{}\"\nsecret_key_env = \"OPS_LOG_STRIPE_KEY\"\n\
             webhook_secrets_env = \"OPS_LOG_STRIPE_HOOKS\"\n",
            payledger_e2e::free_port()
        ),
    )
    .expect("write config");
    let mut server = Server::launch(
        &data,
        Launch {
            args: vec!["--config".into(), config.display().to_string()],
            env: vec![
                ("OPS_LOG_STRIPE_KEY".into(), STRIPE_KEY.into()),
                ("OPS_LOG_STRIPE_HOOKS".into(), WEBHOOK_SECRET.into()),
            ],
            log_file: Some(log.clone()),
        },
    );
    let api = connect(&server, &data, "logged");
    let hook = format!("http://127.0.0.1:{}/hook", payledger_e2e::free_port());
    let subscription = api.post(
        "/subscriptions",
        &serde_json::json!({"destination": {"type": "HTTP", "url": hook, "secret": HOOK_SECRET},
                            "messages": [{"resourceTypeId": "payment"}]}),
    );
    assert_eq!(subscription.status, 201, "{:?}", subscription.body);
    let draft = serde_json::json!({
        "amountPlanned": {"currencyCode": "EUR", "centAmount": 700},
        "paymentMethodInfo": {"paymentInterface": "stripe", "token": {"value": CARD_TOKEN}},
        "transactions": [{"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 700}}]
    });
    let created = api.post_with(
        "/payments",
        &draft,
        &[("X-Correlation-ID", "ops-log-check-1")],
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let unrouted = api.post_with(
        "/no-such-resource",
        &serde_json::json!({}),
        &[("X-Correlation-ID", "ops-log-check-2")],
    );
    assert_eq!(unrouted.status, 404, "{:?}", unrouted.body);
    // A path that matched with a method it does not serve: labelled by
    // the route it matched.
    let wrong_method = api.delete("/payments");
    assert_eq!(wrong_method.status, 405, "{:?}", wrong_method.body);
    let token = api.bearer_token().to_owned();
    server.terminate();

    let text = std::fs::read_to_string(&log).expect("read the log");
    for secret in [
        CLIENT_SECRET,
        STRIPE_KEY,
        WEBHOOK_SECRET,
        HOOK_SECRET,
        CARD_TOKEN,
        &token,
    ] {
        assert!(!text.contains(secret), "the log holds a secret: {secret}");
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        !text.contains('\u{1b}'),
        "no terminal colour codes in a log file"
    );
    let answered = lines
        .iter()
        .find(|line| {
            line["fields"]["message"] == "answered"
                && line["span"]["correlation_id"] == "ops-log-check-1"
        })
        .unwrap_or_else(|| panic!("no answered line of the request in\n{text}"));
    let span = &answered["span"];
    assert_eq!(span["route"], "/{pk}/payments", "{answered}");
    assert_eq!(span["project"], "logged");
    assert_eq!(span["method"], "POST");
    assert_eq!(span["status"], 201);
    assert!(
        span["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{answered}"
    );
    let unrouted = lines
        .iter()
        .find(|line| {
            line["fields"]["message"] == "answered"
                && line["span"]["correlation_id"] == "ops-log-check-2"
        })
        .unwrap_or_else(|| panic!("no answered line of the unrouted request in\n{text}"));
    assert_eq!(unrouted["span"]["route"], "unmatched", "{unrouted}");
    assert_eq!(unrouted["span"]["status"], 404, "{unrouted}");
    let wrong_method = lines
        .iter()
        .find(|line| line["fields"]["message"] == "answered" && line["span"]["status"] == 405)
        .unwrap_or_else(|| panic!("no answered line of the 405 in\n{text}"));
    assert_eq!(
        wrong_method["span"]["route"], "/{pk}/payments",
        "{wrong_method}"
    );
    assert_eq!(wrong_method["span"]["method"], "DELETE", "{wrong_method}");
}
