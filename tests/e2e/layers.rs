//! The layering promises of the code map (ARCHITECTURE.md), checked on
//! the workspace itself: which crate may depend on which, that the server
//! binary carries no test-only feature, and that no source file grows past
//! the size a reader can hold.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Longest non-test source file, in lines.
const SOURCE_FILE_LINES_MAX: usize = 800;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `cargo tree` of `package` with `args`, as text.
fn tree(package: &str, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "--locked",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 tree")
}

fn crates_in(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

#[test]
fn the_outbound_consumers_are_siblings_of_the_api_and_the_app_has_no_http_or_kafka() {
    for sibling in ["payledger-kafka", "payledger-webhooks"] {
        let deps = tree(sibling, &["-e", "normal"]);
        assert!(
            !crates_in(&deps).contains(&"payledger-api"),
            "{sibling} depends on payledger-api"
        );
    }
    let app = tree("payledger-app", &["-e", "normal"]);
    for forbidden in ["reqwest", "axum", "rdkafka", "hyper"] {
        assert!(
            !crates_in(&app).contains(&forbidden),
            "payledger-app depends on {forbidden}"
        );
    }
}

/// The lines of a features tree that enable a `testing` feature.
fn testing_features(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter(|line| line.contains("feature \"testing\""))
        .collect()
}

#[test]
fn the_server_binary_enables_no_testing_feature() {
    // The host target only: `--target all` would need the packages of every
    // platform, and a build downloads those of its own.
    let built_from = ["-e", "normal,build,features"];
    let server = tree("payledger", &built_from);
    assert!(testing_features(&server).is_empty(), "{server}");
    // The check sees the feature where it is enabled: the app's tests use
    // the in-memory PSP.
    let app_tests = tree("payledger-app", &["-e", "features"]);
    assert!(!testing_features(&app_tests).is_empty());
}

#[test]
fn no_source_file_outside_tests_is_longer_than_the_limit() {
    let mut too_long = Vec::new();
    let mut pending = vec![root().join("crates")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "tests" && name != "target" {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                let lines = std::fs::read_to_string(&path)
                    .expect("read source")
                    .lines()
                    .count();
                if lines > SOURCE_FILE_LINES_MAX {
                    too_long.push(format!("{} ({lines} lines)", path.display()));
                }
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "longer than {SOURCE_FILE_LINES_MAX} lines: {too_long:?}"
    );
}

#[test]
fn the_domain_depends_on_no_serialization_io_or_store_crate() {
    let domain = tree("payledger-domain", &["-e", "normal"]);
    let crates = crates_in(&domain);
    for forbidden in [
        "serde",
        "serde_json",
        "prost",
        "tokio",
        "rocksdb",
        "payledger-store",
        "payledger-codec",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "payledger-domain depends on {forbidden}"
        );
    }
}
