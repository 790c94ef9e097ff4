//! Backup and restore under write load, and the graceful shutdown under
//! write load.
//!
//! Writer threads create and update payments over keep-alive connections
//! and record every acknowledged answer (201 or 200 with the version it
//! reached). Every request's fate is one of: an answer; a refused connect
//! (reqwest's `is_connect`: no connection, so no request bytes left the
//! client); or anything else — a request that may have been sent and got
//! no answer, which these tests count as a failure. What they cannot tell
//! apart is whether such a request's bytes reached the server; they do not
//! need to, since none may occur.

use payledger_e2e::{Api, Server, create_client, payledger_bin};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PROJECT: &str = "backup";
const SCOPE: &str = "manage_project:backup";
const CLIENT: (&str, &str) = ("loader", "loader-secret-1");
/// Longest wait for the writers to reach a condition.
const WAIT_MAX: Duration = Duration::from_secs(120);
/// `SHUTDOWN_DRAIN_MS_MAX` of the server.
const SHUTDOWN_DRAIN_MAX: Duration = Duration::from_secs(30);

/// What the writers saw.
#[derive(Default)]
struct Seen {
    /// Payment id → highest acknowledged version.
    acknowledged: HashMap<String, u64>,
    acknowledgements: usize,
    /// Writers with at least one acknowledgement.
    writers_acknowledged: usize,
    /// Requests answered with another status.
    other_answers: Vec<u16>,
    /// Connections refused (the server no longer listened).
    refused: usize,
    /// Requests that got no answer: must stay empty.
    unanswered: Vec<String>,
}

struct Load {
    seen: Mutex<Seen>,
    changed: Condvar,
    stop: AtomicBool,
}

enum Fate {
    Answered(u16, serde_json::Value),
    Refused,
    Unanswered,
}

impl Load {
    fn start(
        base: &str,
        token: &str,
        writers: usize,
    ) -> (Arc<Self>, Vec<std::thread::JoinHandle<()>>) {
        let load = Arc::new(Self {
            seen: Mutex::new(Seen::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let threads = (0..writers)
            .map(|_| {
                let (load, base, token) = (Arc::clone(&load), base.to_owned(), token.to_owned());
                std::thread::spawn(move || load.write(&base, &token))
            })
            .collect();
        (load, threads)
    }

    /// Creates a payment and updates it three times, again and again,
    /// until stopped, refused or unanswered.
    fn write(&self, base: &str, token: &str) {
        let http = reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(WAIT_MAX)
            .build()
            .expect("client");
        let url = format!("{base}/{PROJECT}/payments");
        let mut first = true;
        while !self.stop.load(Ordering::Acquire) {
            let draft =
                serde_json::json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1000}});
            let Some(created) =
                self.send(http.post(&url).bearer_auth(token).json(&draft), &mut first)
            else {
                return;
            };
            let Some(id) = created["id"].as_str().map(str::to_owned) else {
                continue;
            };
            let mut version = created["version"].as_u64().expect("version");
            for _ in 0..3 {
                let update = serde_json::json!({"version": version, "actions": [{"action": "addTransaction",
                    "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 10}}}]});
                let request = http
                    .post(format!("{url}/{id}"))
                    .bearer_auth(token)
                    .json(&update);
                let Some(updated) = self.send(request, &mut first) else {
                    return;
                };
                match updated["version"].as_u64() {
                    Some(next) => version = next,
                    None => break,
                }
            }
        }
    }

    /// Sends a request and records its fate: the acknowledged body, or
    /// `Null` for another answer; `None` ends the writer.
    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        first: &mut bool,
    ) -> Option<serde_json::Value> {
        let fate = match request.send() {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.json::<serde_json::Value>() {
                    Ok(body) => Fate::Answered(status, body),
                    Err(_) => Fate::Unanswered,
                }
            }
            Err(error) if error.is_connect() => Fate::Refused,
            Err(error) => {
                self.seen
                    .lock()
                    .expect("seen")
                    .unanswered
                    .push(format!("{error:?}"));
                Fate::Unanswered
            }
        };
        let mut seen = self.seen.lock().expect("seen");
        let answer = match fate {
            Fate::Answered(200 | 201, body) => {
                let id = body["id"].as_str().expect("id").to_owned();
                let version = body["version"].as_u64().expect("version");
                let known = seen.acknowledged.entry(id).or_insert(0);
                *known = (*known).max(version);
                seen.acknowledgements += 1;
                if std::mem::take(first) {
                    seen.writers_acknowledged += 1;
                }
                Some(body)
            }
            Fate::Answered(status, _) => {
                seen.other_answers.push(status);
                Some(serde_json::Value::Null)
            }
            Fate::Refused => {
                seen.refused += 1;
                None
            }
            Fate::Unanswered => None,
        };
        self.changed.notify_all();
        answer
    }

    /// Waits until every writer and `count` requests were acknowledged.
    fn wait_for(&self, count: usize, writers: usize) -> HashMap<String, u64> {
        let seen = self.seen.lock().expect("seen");
        let (seen, timeout) = self
            .changed
            .wait_timeout_while(seen, WAIT_MAX, |seen| {
                seen.unanswered.is_empty()
                    && (seen.acknowledgements < count || seen.writers_acknowledged < writers)
            })
            .expect("seen");
        assert!(
            !timeout.timed_out(),
            "the writers did not get {count} acknowledgements"
        );
        assert!(
            seen.unanswered.is_empty(),
            "unanswered: {:?}",
            seen.unanswered
        );
        seen.acknowledged.clone()
    }
}

fn connect(server: &Server) -> Api {
    Api::connect(server.url(), PROJECT, CLIENT.0, CLIENT.1, SCOPE)
}

fn payledger(args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .args(args)
        .output()
        .expect("run payledger")
}

/// A path as an argument (temporary directories have UTF-8 paths).
fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The root digest `payledger verify` printed.
fn root_digest(verify: &Output) -> String {
    let out = String::from_utf8_lossy(&verify.stdout);
    out.lines()
        .find_map(|line| line.strip_prefix("root digest: "))
        .expect("a root digest")
        .to_owned()
}

/// Every payment of `expected` reads at its acknowledged version or later.
fn assert_present(api: &Api, expected: &HashMap<String, u64>) {
    for (id, version) in expected {
        let reply = api.get(&format!("/payments/{id}"));
        assert_eq!(reply.status, 200, "payment {id} is missing");
        let found = reply.body["version"].as_u64().expect("version");
        assert!(
            found >= *version,
            "payment {id} at {found}, acknowledged at {version}"
        );
    }
}

#[test]
fn a_backup_under_write_load_holds_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, backup, restored) = (
        dir.path().join("data"),
        dir.path().join("backup"),
        dir.path().join("restored"),
    );
    let server = Server::start(&data);
    create_client(&data, CLIENT.0, CLIENT.1, SCOPE);
    let api = connect(&server);
    let writers = 4;
    let (load, threads) = Load::start(server.url(), api.bearer_token(), writers);
    let before = load.wait_for(200, writers);

    let started = Instant::now();
    let taken = payledger(&["backup", "--data", arg(&data), "--out", arg(&backup)]);
    let took = started.elapsed();
    let taken_text = text(&taken);
    assert!(taken.status.success(), "{taken_text}");
    assert!(
        taken_text.contains("through the running server"),
        "{taken_text}"
    );
    assert!(
        taken_text.contains("is not in the backup"),
        "names the master key: {taken_text}"
    );
    // The writers went on while it was taken and after.
    let so_far = load.seen.lock().expect("seen").acknowledgements;
    load.wait_for(so_far + 50, writers);
    load.stop.store(true, Ordering::Release);
    threads.into_iter().for_each(|t| t.join().expect("writer"));
    let seen = load.seen.lock().expect("seen");
    assert!(
        seen.unanswered.is_empty(),
        "unanswered: {:?}",
        seen.unanswered
    );
    eprintln!(
        "backup of a store with {} payments ({} writes) under load took {took:?} ({taken_text})",
        seen.acknowledged.len(),
        seen.acknowledgements
    );

    let restore = payledger(&["restore", "--from", arg(&backup), "--data", arg(&restored)]);
    assert!(restore.status.success(), "{}", text(&restore));
    let master = data.join("master.key");
    let verify = payledger(&[
        "verify",
        "--data",
        arg(&restored),
        "--master-key-file",
        arg(&master),
    ]);
    assert!(verify.status.success(), "{}", text(&verify));
    // The restored store is the backed-up history, digest for digest.
    let of_backup = payledger(&[
        "verify",
        "--data",
        arg(&backup),
        "--master-key-file",
        arg(&master),
    ]);
    assert!(of_backup.status.success(), "{}", text(&of_backup));
    assert_eq!(root_digest(&verify), root_digest(&of_backup));

    let master = master.display().to_string();
    let copy = Server::start_with(&restored, &["--master-key-file", &master]);
    assert_present(&connect(&copy), &before);
}

#[test]
fn backup_refuses_an_existing_directory_and_restore_a_non_empty_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, backup, restored) = (
        dir.path().join("data"),
        dir.path().join("backup"),
        dir.path().join("restored"),
    );
    // A store and no server: backup opens it itself.
    create_client(&data, CLIENT.0, CLIENT.1, SCOPE);
    let taken = payledger(&["backup", "--data", arg(&data), "--out", arg(&backup)]);
    assert!(taken.status.success(), "{}", text(&taken));
    assert!(
        text(&taken).contains("from the stopped store"),
        "{}",
        text(&taken)
    );

    let again = payledger(&["backup", "--data", arg(&data), "--out", arg(&backup)]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let occupied = dir.path().join("occupied");
    std::fs::create_dir(&occupied).expect("mkdir");
    std::fs::write(occupied.join("notes.txt"), "keep me").expect("write");
    let refused = payledger(&["restore", "--from", arg(&backup), "--data", arg(&occupied)]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is not empty"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        std::fs::read_dir(&occupied).expect("read").count(),
        1,
        "nothing was written"
    );

    // Into an empty directory (a fresh volume's mount point) it restores,
    // and a second restore onto the result is refused.
    std::fs::create_dir(&restored).expect("mkdir");
    let restore = payledger(&["restore", "--from", arg(&backup), "--data", arg(&restored)]);
    assert!(restore.status.success(), "{}", text(&restore));
    let twice = payledger(&["restore", "--from", arg(&backup), "--data", arg(&restored)]);
    assert!(text(&twice).contains("is not empty"), "{}", text(&twice));
    let listed = payledger(&["clients", "list", "--data", arg(&restored)]);
    assert!(text(&listed).contains(CLIENT.0), "{}", text(&listed));
}

#[test]
fn sigterm_under_write_load_answers_every_request_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    create_client(&data, CLIENT.0, CLIENT.1, SCOPE);
    let api = connect(&server);
    let writers = 8;
    let (load, threads) = Load::start(server.url(), api.bearer_token(), writers);
    load.wait_for(300, writers);
    // Its idle keep-alive connection would hold the drain for the whole
    // idle grace; the measure is of the writers.
    drop(api);

    // SIGTERM while every writer holds a keep-alive connection and sends;
    // terminate() asserts exit status 0.
    let signalled = Instant::now();
    server.terminate();
    let drain = signalled.elapsed();
    threads.into_iter().for_each(|t| t.join().expect("writer"));
    let seen = load.seen.lock().expect("seen");
    assert!(
        seen.unanswered.is_empty(),
        "requests without an answer: {:?}",
        seen.unanswered
    );
    assert!(
        seen.other_answers.is_empty(),
        "answers other than 200/201: {:?}",
        seen.other_answers
    );
    assert_eq!(
        seen.refused, writers,
        "each writer ended on a refused connection"
    );
    assert!(drain < SHUTDOWN_DRAIN_MAX, "the drain took {drain:?}");
    eprintln!(
        "SIGTERM under load of {writers} writers: exit after {drain:?}; {} writes acknowledged",
        seen.acknowledgements
    );

    let server = server.restart();
    assert_present(&connect(&server), &seen.acknowledged);
}
