//! The README's quick start, run as written: `make run` (through the
//! Makefile, with only the address, the data directory and the build step
//! overridden), then every shell block of the quick start and of the curl
//! walk-through in a second "terminal", against that server. A README
//! edit that breaks a step fails here.

use payledger_e2e::Api;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The address and data directory the README uses.
const README_URL: &str = "http://127.0.0.1:8080";
const README_DATA: &str = "--data ./data";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// The fenced `sh` blocks of the README section that starts at the line
/// `heading`, up to the next heading of the same or a higher level.
fn shell_blocks(readme: &str, heading: &str) -> Vec<String> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut lines = readme
        .lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            !(hashes > 0 && hashes <= level && line[hashes..].starts_with(' '))
        });
    let mut blocks = Vec::new();
    while lines.by_ref().any(|line| line.trim() == "```sh") {
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|line| line.trim() != "```")
            .collect();
        blocks.push(block.join("\n"));
    }
    assert!(!blocks.is_empty(), "no ```sh block under {heading:?}");
    blocks
}

/// `make run` in its own process group, stopped (SIGTERM to the group:
/// make and the server) when dropped.
struct MakeRun {
    child: Child,
    stopped: bool,
}

impl MakeRun {
    fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for MakeRun {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn the_readme_quick_start_works_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let mut quick_start = shell_blocks(&readme, "## Quick start");
    let setup = quick_start.remove(0);
    let commands: Vec<&str> = setup
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(
        commands,
        ["make run", "make test"],
        "the two set-up commands"
    );
    let mut steps = quick_start;
    steps.extend(shell_blocks(&readme, "### Walk-through with curl"));
    let script = steps.join("\n\n");
    assert!(
        script.contains(README_URL) && script.contains(README_DATA),
        "{script}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // Terminal 1: `make run`. The build step is a no-op (`make test`
    // built the binary), everything else is the Makefile's own.
    let mut make = Command::new("make");
    make.current_dir(repo_root())
        .args(["run", "CARGO=true", "LISTEN=127.0.0.1:0"])
        .arg(format!("DATA={}", data.display()))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    std::os::unix::process::CommandExt::process_group(&mut make, 0);
    let mut run = MakeRun {
        child: make.spawn().expect("run make"),
        stopped: false,
    };
    let mut lines = BufReader::new(run.child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("make run ended before the server listened")
            .expect("read make run's output");
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("payledger listening on ") {
            break url.trim().to_owned();
        }
    };
    // Then it says what to run next, with this data directory.
    let next: Vec<String> = lines
        .by_ref()
        .take(3)
        .map(|line| line.expect("read make run's output"))
        .collect();
    assert!(
        next[0].starts_with("next, in a second terminal"),
        "{printed:?} {next:?}"
    );
    assert!(
        next[1].contains(&format!("clients create --data {}", data.display())),
        "{next:?}"
    );
    assert!(next[2].contains(&format!("{url}/oauth/token")), "{next:?}");
    let drain = std::thread::spawn(move || lines.for_each(drop));

    // Terminal 2: the README's commands, on this server and data.
    let script = script
        .replace(README_URL, &url)
        .replace(README_DATA, &format!("--data {}", data.display()));
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(repo_root())
        .output()
        .expect("run the README's commands");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a README step failed ({}):\n{out}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("created client merchant"), "{out}");
    assert!(out.contains(r#""key":"order-1001""#), "{out}");
    assert!(out.contains(r#""type":"PaymentTransactionAdded""#), "{out}");

    // What the walk-through did is in the store, seen by the same client.
    let api = Api::connect(
        &url,
        "shop",
        "merchant",
        "s3cret-merchant",
        "manage_project:shop",
    );
    let payment = api.get("/payments/key=order-1001");
    assert_eq!(payment.status, 200);
    assert_eq!(payment.body["version"], 3);
    assert_eq!(payment.body["transactions"][0]["type"], "Charge");
    assert_eq!(payment.body["paymentStatus"]["interfaceCode"], "succeeded");

    run.stop();
    drain.join().expect("make run's output");
}
