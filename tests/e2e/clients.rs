//! `payledger clients` and `payledger merchants` while a server runs on
//! the same data directory: the commands go through the server's admin
//! socket and take effect at once; without a server (stopped, or killed
//! and its socket file left behind) they open the store themselves.

use payledger_e2e::{Api, Server, payledger_bin};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn clients(data: &Path, args: &[&str]) -> Output {
    admin_command(data, "clients", args)
}

/// `payledger COMMAND ACTION --data DATA ARGS…`.
fn admin_command(data: &Path, command: &str, args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .arg(command)
        .arg(args[0])
        .arg("--data")
        .arg(data)
        .args(&args[1..])
        .output()
        .expect("run payledger")
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

/// A test key of the merchant tests (`crates/payledger-app/src/merchants/testdata`).
fn test_key(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/payledger-app/src/merchants/testdata")
        .join(name)
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

/// The id of the `n`-th key line of a merchant's listing.
fn key_id(listing: &str, n: usize) -> String {
    listing
        .lines()
        .filter_map(|line| line.trim().strip_prefix("key "))
        .nth(n)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a key line")
        .to_owned()
}

#[test]
fn merchants_and_their_keys_are_managed_with_and_without_a_running_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let merchants = |args: &[&str]| admin_command(&data, "merchants", args);
    let a = test_key("a.pub");
    let b = test_key("b.pkcs1.pub");

    // No server: the command opens the store.
    let created = stdout(&merchants(&[
        "create",
        "--project",
        "shop",
        "--merchant-id",
        "7",
        "--public-key",
        &a,
    ]));
    assert!(created.contains("merchant 7 (project shop"), "{created}");
    let first = key_id(&created, 0);
    assert!(created.contains("active"), "{created}");
    let too_small = refused(&merchants(&[
        "create",
        "--project",
        "shop",
        "--merchant-id",
        "8",
        "--public-key",
        &test_key("small.pub"),
    ]));
    assert!(too_small.contains("1024 bits"), "{too_small}");

    // A running server: through its admin socket, at once.
    let server = Server::start(&data);
    let rotated = stdout(&merchants(&[
        "add-key",
        "--merchant-id",
        "7",
        "--public-key",
        &b,
    ]));
    assert_eq!(key_id(&rotated, 0), first);
    let second = key_id(&rotated, 1);
    let duplicate = refused(&merchants(&[
        "create",
        "--project",
        "shop",
        "--merchant-id",
        "7",
        "--public-key",
        &b,
    ]));
    assert!(duplicate.contains("exists already"), "{duplicate}");
    let revoked = stdout(&merchants(&[
        "revoke-key",
        "--merchant-id",
        "7",
        "--key",
        &first,
    ]));
    assert!(revoked.contains(&format!("key {first}")), "{revoked}");
    let listed = stdout(&merchants(&["list"]));
    let lines: Vec<&str> = listed.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&first) && l.contains("revoked")),
        "{listed}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&second) && l.contains("active")),
        "{listed}"
    );
    let unknown = refused(&merchants(&[
        "revoke-key",
        "--merchant-id",
        "9",
        "--key",
        &first,
    ]));
    assert!(unknown.contains("no merchant 9"), "{unknown}");
    drop(server);

    // Stopped again: what the server wrote is there.
    let listed = stdout(&merchants(&["list"]));
    assert!(listed.contains(&second), "{listed}");
}
