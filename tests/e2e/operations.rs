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
