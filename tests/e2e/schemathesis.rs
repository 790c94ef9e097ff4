//! Schema-driven API testing: schemathesis (PyPI, pinned by
//! `scripts/ensure-test-peers.sh`) reads the OpenAPI document the real
//! server serves at `GET /openapi.json`, generates requests for every
//! operation in it (the document's examples, boundary and invalid values,
//! then random ones) and checks every answer: never a 5xx, a documented
//! status, the documented content type, a body matching the documented
//! schema, and 405 for a method the document does not list. Its settings
//! (checks, seed, cases per operation) are in
//! `tests/schemathesis/schemathesis.toml`.
//!
//! The server runs with a PSP configuration (so the PSP routes exist) and a
//! bearer token for the whole project; a Type, a State, a payment, an order
//! and a Subscription exist under the key (and order number)
//! [`FIXTURE_KEY`], which the `key=`/`order-number=` operations address,
//! so generated updates, reads and histories reach real resources. DELETE
//! operations address [`DELETED_FIXTURE_KEY`] instead, so a generated
//! delete that succeeds leaves the others their resources. Operations
//! addressed by id are left to generated ids.

use payledger_e2e::{Api, ChildGuard, Server, create_client, python};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROJECT: &str = "shop";
const CLIENT_ID: &str = "schemathesis";
const CLIENT_SECRET: &str = "schemathesis-secret-1";
/// The key and order number of the resources the `key=` and
/// `order-number=` operations address (set in schemathesis.toml).
const FIXTURE_KEY: &str = "schemathesis";
/// The key and order number the DELETE operations address.
const DELETED_FIXTURE_KEY: &str = "schemathesis-delete";
/// The longest a run may take before the test gives up on it; it takes
/// about a minute on the project's two-core machines.
const RUN_TIMEOUT_S: u64 = 900;
/// The exit status of coreutils `timeout` when the time ran out.
const TIMEOUT_FIRED: i32 = 124;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Creates, under `key`, every kind of resource an operation addresses by
/// key or order number.
fn create_fixtures(api: &Api, key: &str) {
    let money = json!({"currencyCode": "EUR", "centAmount": 4200});
    let drafts = [
        (
            "/types",
            json!({"key": key, "name": {"en": "Schemathesis"}, "resourceTypeIds": ["payment"],
                "fieldDefinitions": [{"name": "note", "label": {"en": "Note"}, "required": false,
                    "type": {"name": "String"}, "inputHint": "SingleLine"}]}),
        ),
        (
            "/states",
            json!({"key": key, "type": "PaymentState", "initial": true}),
        ),
        (
            "/payments",
            json!({"key": key, "amountPlanned": money,
                "paymentMethodInfo": {"paymentInterface": "invoice", "method": "bank"},
                "transactions": [{"type": "Charge", "state": "Success", "amount": money}]}),
        ),
        (
            "/orders",
            json!({"orderNumber": key, "key": key, "totalPrice": money,
                "customerEmail": "ann@example.com"}),
        ),
        (
            "/subscriptions",
            json!({"key": key, "messages": [{"resourceTypeId": "payment"}],
                "destination": {"type": "HTTP", "url": "http://127.0.0.1:9/hook",
                    "secret": "whsec_schemathesis_subscription"}}),
        ),
    ];
    for (path, draft) in drafts {
        let created = api.post(path, &draft);
        assert_eq!(created.status, 201, "POST {path}: {}", created.body);
    }
}

/// Every operation of the served document as schemathesis names it
/// (`GET /{projectKey}/payments`), less `GET /openapi.json`, the document
/// itself, which schemathesis does not test.
fn documented_operations(document: &Value) -> Vec<String> {
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let known = ["get", "head", "post", "put", "delete", "patch", "options"];
            if known.contains(&method.as_str()) && path != "/openapi.json" {
                operations.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations.sort();
    operations
}

/// The operations a JUnit report of schemathesis has a test case for.
fn reported_operations(junit: &str) -> Vec<String> {
    let mut operations: Vec<String> = (junit.split("<testcase name=\"").skip(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    operations.sort();
    operations.dedup();
    operations
}

/// Runs schemathesis against `server` as schemathesis.toml says, writing its
/// output and JUnit report into `dir`; returns whether it passed and its
/// output.
fn run_schemathesis(server: &Server, token: &str, dir: &Path) -> (bool, String) {
    let output_path = dir.join("schemathesis.out");
    let output = std::fs::File::create(&output_path).expect("create the output file");
    let config = root().join("tests/schemathesis/schemathesis.toml");
    // coreutils `timeout` bounds the run (exit status 124 when it fired),
    // so the test waits on the process itself.
    let mut child = ChildGuard::spawn(
        Command::new("timeout")
            .args(["--kill-after=10", &RUN_TIMEOUT_S.to_string()])
            .arg(python())
            .args(["-m", "schemathesis.cli", "--config-file"])
            .arg(&config)
            .arg("run")
            .arg(format!("{}/openapi.json", server.url()))
            .args(["--no-color", "--report", "junit", "--report-junit-path"])
            .arg(dir.join("junit.xml"))
            .current_dir(dir)
            .env("PAYLEDGER_BASE_URL", server.url())
            .env("PAYLEDGER_TOKEN", token)
            .env("PAYLEDGER_CLIENT_ID", CLIENT_ID)
            .env("PAYLEDGER_CLIENT_SECRET", CLIENT_SECRET)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clone the output file"))
            .stderr(output),
    );
    let status = child.0.wait().expect("wait for schemathesis");
    let text = std::fs::read_to_string(&output_path).expect("read the output");
    assert_ne!(
        status.code(),
        Some(TIMEOUT_FIRED),
        "schemathesis did not finish within {RUN_TIMEOUT_S} s:\n{text}"
    );
    (status.success(), text)
}

#[test]
fn generated_requests_get_documented_answers_and_never_a_server_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let scope = format!("manage_project:{PROJECT}");
    create_client(&data, CLIENT_ID, CLIENT_SECRET, &scope);
    let psp = super::openapi::psp_config(dir.path(), PROJECT);
    let server = Server::start_with(&data, &["--psp-config", &psp]);
    let api = Api::connect(server.url(), PROJECT, CLIENT_ID, CLIENT_SECRET, &scope);
    create_fixtures(&api, FIXTURE_KEY);
    create_fixtures(&api, DELETED_FIXTURE_KEY);

    let (passed, output) = run_schemathesis(&server, api.token(), dir.path());
    assert!(
        passed,
        "schemathesis found answers the document does not allow (above: each failing \
         request, with a curl command that reproduces it while the server runs). \
         The run is deterministic (seed and settings in tests/schemathesis/schemathesis.toml): \
         `cargo test --release -p payledger-e2e --test e2e schemathesis` repeats it.\n{output}"
    );

    let document: Value = reqwest::blocking::get(format!("{}/openapi.json", server.url()))
        .and_then(|response| response.json())
        .expect("GET /openapi.json");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("the JUnit report");
    assert_eq!(
        reported_operations(&junit),
        documented_operations(&document),
        "schemathesis tested other operations than the document has"
    );
}
