//! `payledger clients` while a server runs on the same data directory:
//! the commands go through the server's admin socket and take effect at
//! once; without a server (stopped, or killed and its socket file left
//! behind) they open the store themselves.

use payledger_e2e::{Api, Server, payledger_bin};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn clients(data: &Path, args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .arg("clients")
        .arg(args[0])
        .arg("--data")
        .arg(data)
        .args(&args[1..])
        .output()
        .expect("run payledger clients")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "payledger clients failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "expected a refusal: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn payment_draft(key: &str) -> serde_json::Value {
    json!({"key": key, "amountPlanned": {"currencyCode": "EUR", "centAmount": 100}})
}

#[test]
fn clients_are_created_listed_and_revoked_while_the_server_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);

    let socket = data.join("admin.sock");
    let mode = std::fs::metadata(&socket)
        .expect("admin socket")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the admin socket is for its owner only"
    );

    let created = stdout(&clients(
        &data,
        &[
            "create",
            "--id",
            "shop-app",
            "--secret",
            "s3cret-shop",
            "--scope",
            "manage_project:shop",
        ],
    ));
    assert!(created.contains("created client shop-app"), "{created}");

    // The token works at once, on the server that was running all along.
    let api = Api::connect(
        server.url(),
        "shop",
        "shop-app",
        "s3cret-shop",
        "manage_project:shop",
    );
    assert_eq!(api.post("/payments", &payment_draft("p-1")).status, 201);

    let listed = stdout(&clients(&data, &["list"]));
    assert!(
        listed.contains("shop-app") && listed.contains("manage_project:shop"),
        "{listed}"
    );

    // Refusals name what is wrong and change nothing.
    let duplicate = refused(&clients(
        &data,
        &[
            "create",
            "--id",
            "shop-app",
            "--secret",
            "other",
            "--scope",
            "manage_project:shop",
        ],
    ));
    assert!(duplicate.contains("already exists"), "{duplicate}");
    let bad_scope = refused(&clients(
        &data,
        &[
            "create",
            "--id",
            "second",
            "--secret",
            "s",
            "--scope",
            "manage_everything:shop",
        ],
    ));
    assert!(bad_scope.contains("manage_everything:shop"), "{bad_scope}");
    let listed = stdout(&clients(&data, &["list"]));
    assert!(!listed.contains("second"), "{listed}");
    assert_eq!(
        api.get("/payments/key=p-1").status,
        200,
        "the duplicate left the client alone"
    );

    let revoked = stdout(&clients(&data, &["revoke", "--id", "shop-app"]));
    assert!(revoked.contains("revoked client shop-app"), "{revoked}");
    let after = api.get("/payments/key=p-1");
    assert_eq!(
        after.status, 401,
        "a revoked client loses access at once: {:?}",
        after.body
    );
    let unknown = refused(&clients(&data, &["revoke", "--id", "shop-app"]));
    assert!(
        unknown.contains("no client with id `shop-app`"),
        "{unknown}"
    );

    // A graceful stop removes the socket; the commands then open the store.
    server.terminate();
    assert!(!socket.exists(), "the socket outlived the server");
    assert_eq!(stdout(&clients(&data, &["list"])).trim(), "no clients");
}

#[test]
fn a_socket_left_by_a_killed_server_is_not_mistaken_for_a_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    server.stop(); // SIGKILL: the socket file stays behind
    assert!(data.join("admin.sock").exists());

    let created = stdout(&clients(
        &data,
        &[
            "create",
            "--id",
            "offline",
            "--secret",
            "s3cret-off",
            "--scope",
            "view_payments:shop",
        ],
    ));
    assert!(created.contains("created client offline"), "{created}");

    // A new server replaces the stale socket and answers on it.
    let server = Server::start(&data);
    let created = stdout(&clients(
        &data,
        &[
            "create",
            "--id",
            "online",
            "--secret",
            "s3cret-on",
            "--scope",
            "manage_payments:shop",
        ],
    ));
    assert!(created.contains("created client online"), "{created}");
    let listed = stdout(&clients(&data, &["list"]));
    assert!(
        listed.contains("offline") && listed.contains("online"),
        "{listed}"
    );
    let api = Api::connect(
        server.url(),
        "shop",
        "offline",
        "s3cret-off",
        "view_payments:shop",
    );
    assert_eq!(api.get("/payments").status, 200);
}
