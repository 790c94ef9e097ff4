//! `payledger-bench stress`: append from many threads until killed.
//!
//! Every writer keeps streams of each kind (payments and orders, so the
//! crash test covers every kind's column families). Each durable append is
//! printed as `ack <kind>/<id> <version>` and flushed before the next append, so whatever the parent read before a
//! SIGKILL was acknowledged by the store. The crash-safety test reads these
//! lines, kills the process and checks the reopened store.

use crate::cli::StressArgs;
use anyhow::Context;
use payledger_domain::{
    Actor, Event, EventId, EventMeta, ProjectKey, StreamId, StreamKind, Timestamp,
};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::{AppendError, AppendRequest, EventStore, NewEvent};
use std::io::Write;
use std::sync::Arc;

pub fn run(args: &StressArgs) -> anyhow::Result<()> {
    let config = RocksConfig {
        partitions_for_new_store: args.partitions,
        ..RocksConfig::default()
    };
    std::fs::create_dir_all(&args.data)?;
    let store = Arc::new(RocksStore::open(&args.data, &config).context("open store")?);
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..args.writers)
        .map(|_| {
            let store = Arc::clone(&store);
            let out = Arc::clone(&out);
            let streams = args.streams_per_writer;
            std::thread::spawn(move || write_forever(&store, &out, streams))
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    Ok(())
}

fn write_forever(
    store: &RocksStore,
    out: &std::sync::Mutex<std::io::Stdout>,
    stream_count: usize,
) -> anyhow::Result<()> {
    let kinds = StreamKind::ALL.into_iter().cycle();
    let mut streams: Vec<(StreamId, u64)> = kinds
        .take(stream_count)
        .map(|kind| (StreamId::new(kind, uuid::Uuid::new_v4()), 0))
        .collect();
    let project = ProjectKey::parse("stress").context("project key")?;
    for round in 0u64.. {
        let (stream, version) = &mut streams[(round as usize) % stream_count];
        // Alternate single events and three-event batches.
        let count = if round % 2 == 0 { 1 } else { 3 };
        let events = (0..count)
            .map(|_| NewEvent {
                meta: EventMeta {
                    event_id: EventId::from_uuid(uuid::Uuid::new_v4()),
                    project: project.clone(),
                    recorded_at: Timestamp(0),
                    actor: Actor::Internal("stress".into()),
                    correlation_id: None,
                    idempotency_key: None,
                },
                event: Event::StatusInterfaceCodeSet(Some(format!("round-{round}"))),
            })
            .collect();
        let request = AppendRequest::events(*stream, *version, events);
        match store.append(request) {
            Ok(appended) => {
                *version = appended.last_version;
                let mut out = out.lock().map_err(|_| anyhow::anyhow!("stdout poisoned"))?;
                writeln!(out, "ack {} {}", stream, appended.last_version)?;
                out.flush()?;
            }
            Err(AppendError::Overloaded { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}
