//! The real commercetools Python SDK against the real server: create, get
//! by id and key, queries, update actions, a 409 with the SDK's
//! force-version retry, and delete (tests/sdk/sdk_flow.py).

use payledger_e2e::{Server, create_client, python};
use std::process::Command;

#[test]
fn the_commercetools_python_sdk_works_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(
        dir.path(),
        "sdk-client",
        "sdk-secret-1",
        "manage_project:sdk-shop",
    );
    let server = Server::start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/sdk_flow.py");
    let output = Command::new(python())
        .arg(script)
        .env("PAYLEDGER_URL", server.url())
        .env("PAYLEDGER_PROJECT", "sdk-shop")
        .env("PAYLEDGER_CLIENT_ID", "sdk-client")
        .env("PAYLEDGER_CLIENT_SECRET", "sdk-secret-1")
        .output()
        .expect("run the SDK flow");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("sdk flow ok"),
        "SDK flow failed:\n{stdout}\n{stderr}"
    );
}
