//! Crash safety: nothing acknowledged is ever lost across `kill -9`.
//!
//! A child `payledger-bench stress` appends under concurrency and prints every
//! acknowledged append. The test kills it with SIGKILL after a random number
//! of acknowledgements, reopens the store and checks that every acknowledged
//! event is present, versions are contiguous, the logs have no gaps and the
//! store accepts new appends. Each round continues on the store the last
//! round crashed, so recovery after recovery is covered too.

use payledger_domain::{StreamId, StreamKind};
use payledger_e2e::{ChildGuard, payledger_bench_bin};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::conformance::event;
use payledger_store::{AppendRequest, EventStore, VersionRange};
use rand::Rng;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const ROUNDS: usize = 5;

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acknowledged: HashMap<StreamId, u64> = HashMap::new();
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let kill_after = rng.random_range(50..1_500);
        let acks = crash_once(dir.path(), kill_after);
        assert!(
            acks.len() >= kill_after,
            "round {round}: the child stopped early"
        );
        for kind in StreamKind::ALL {
            assert!(
                acks.iter().any(|(stream, _)| stream.kind == kind),
                "round {round}: no {kind} stream was acknowledged"
            );
        }
        for (payment, version) in acks {
            let known = acknowledged.entry(payment).or_insert(0);
            *known = (*known).max(version);
        }
        check_store(dir.path(), &acknowledged);
    }
}

/// Runs the stress child until `kill_after` acknowledgements were read, kills
/// it, and returns every acknowledgement it printed (also those still in the
/// pipe when it died: they too were acknowledged).
fn crash_once(data: &Path, kill_after: usize) -> Vec<(StreamId, u64)> {
    let mut child = ChildGuard::spawn(
        Command::new(payledger_bench_bin())
            .args(["stress", "--writers", "16", "--partitions", "4", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acks = Vec::new();
    while acks.len() < kill_after {
        let line = lines
            .next()
            .expect("the child exited before the kill")
            .expect("read child output");
        acks.push(parse_ack(&line));
    }
    child.0.kill().expect("SIGKILL the child");
    acks.extend(lines.map_while(Result::ok).map(|line| parse_ack(&line)));
    acks
}

fn parse_ack(line: &str) -> (StreamId, u64) {
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("ack"), "unexpected line {line:?}");
    let payment = StreamId::parse(parts.next().expect("stream")).expect("kind/uuid");
    let version = parts
        .next()
        .expect("version")
        .parse()
        .expect("version number");
    (payment, version)
}

fn check_store(data: &Path, acknowledged: &HashMap<StreamId, u64>) {
    let store = RocksStore::open(data, &RocksConfig::default()).expect("reopen after crash");
    let mut events_in_streams = 0u64;
    let mut heads = HashMap::new();
    for (payment, acked_version) in acknowledged {
        let head = store
            .stream_head(*payment)
            .expect("head")
            .expect("acknowledged stream exists");
        assert!(
            head.version >= *acked_version,
            "acknowledged version {acked_version} of {payment} is lost"
        );
        let versions: Vec<u64> = store
            .read_stream(*payment, VersionRange::ALL)
            .expect("read stream")
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(
            versions,
            (1..=head.version).collect::<Vec<_>>(),
            "versions of {payment}"
        );
        events_in_streams += head.version;
        heads.insert(*payment, head.version);
    }
    let mut events_in_logs = 0u64;
    for partition in 0..store.partition_count() {
        let log = store.read_log(partition, 1, usize::MAX).expect("read log");
        for (offset, e) in log.iter().enumerate() {
            assert_eq!(
                e.partition_sequence,
                offset as u64 + 1,
                "gap in log {partition}"
            );
        }
        assert_eq!(
            store.log_head(partition).expect("log head"),
            log.len() as u64
        );
        events_in_logs += log.len() as u64;
    }
    // Streams the child created but never acknowledged may exist too; every
    // acknowledged one must be fully in the logs.
    assert!(events_in_logs >= events_in_streams);
    let (payment, version) = heads
        .iter()
        .next()
        .map(|(p, v)| (*p, *v))
        .expect("some streams");
    let appended = store
        .append(AppendRequest::events(
            payment,
            version,
            vec![event("after-crash")],
        ))
        .expect("the store accepts appends after a crash");
    assert_eq!(appended.last_version, version + 1);
}
