//! `payledger-bench append`: durable append throughput and latency.
//!
//! Baseline: serial 300-byte appends to a file, each followed by
//! `fdatasync`, in the same directory — the cost of one durable write on
//! this disk. Then, on a fresh store in the same directory, N appender
//! threads each append one ~300-byte event at a time to their own payments
//! (closed loop), and finally 10-event batches. Group commit should turn
//! many appenders into many events per fsync; the ratio to the baseline
//! says how well it does.

use super::{latency_histogram, micros, ms};
use crate::cli::BenchAppendArgs;
use anyhow::Context;
use hdrhistogram::Histogram;
use payledger_domain::{Actor, Event, EventId, EventMeta, PaymentId, ProjectKey, Timestamp};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::{AppendError, AppendRequest, EventStore, NewEvent};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Size of the baseline's file appends, matching one encoded event.
const RECORD_BYTES: usize = 300;

struct Measured {
    label: String,
    appenders: usize,
    events_per_append: usize,
    appends: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Measured {
    fn appends_per_second(&self) -> f64 {
        self.appends as f64 / self.elapsed.as_secs_f64()
    }
}

pub fn run(args: &BenchAppendArgs) -> anyhow::Result<()> {
    let root = args
        .data
        .join(format!("bench-append-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let outcome = measure_all(&root, args);
    let _ = std::fs::remove_dir_all(&root);
    let (baseline, runs) = outcome?;
    report(&baseline, &runs);
    Ok(())
}

fn measure_all(root: &Path, args: &BenchAppendArgs) -> anyhow::Result<(Measured, Vec<Measured>)> {
    let seconds = Duration::from_secs(args.seconds.max(1));
    // The disk's fsync cost drifts during a run: measure the baseline before
    // and after the store runs and use both.
    let before = fdatasync_baseline(&root.join("baseline-before.bin"), seconds)?;
    let store = Arc::new(RocksStore::open(
        &root.join("store"),
        &RocksConfig::default(),
    )?);
    let event_bytes = payledger_codec::encode_envelope(&sample_envelope()).len();
    eprintln!("encoded event: {event_bytes} bytes");
    let mut runs = Vec::new();
    for &appenders in &args.appenders {
        runs.push(measure(&store, appenders, 1, seconds)?);
    }
    runs.push(measure(&store, 64, 10, seconds)?);
    let after = fdatasync_baseline(&root.join("baseline-after.bin"), seconds)?;
    Ok((combine(before, after)?, runs))
}

fn combine(mut before: Measured, after: Measured) -> anyhow::Result<Measured> {
    before.appends += after.appends;
    before.elapsed += after.elapsed;
    before.latency.add(after.latency)?;
    before.label = "serial fdatasync (baseline, before + after)".into();
    Ok(before)
}

fn fdatasync_baseline(path: &Path, duration: Duration) -> anyhow::Result<Measured> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let record = [0x5a_u8; RECORD_BYTES];
    let mut latency = latency_histogram();
    let started = Instant::now();
    let mut appends = 0;
    while started.elapsed() < duration {
        let begun = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        latency.record(micros(begun.elapsed()))?;
        appends += 1;
    }
    Ok(Measured {
        label: "serial fdatasync (baseline)".into(),
        appenders: 1,
        events_per_append: 1,
        appends,
        elapsed: started.elapsed(),
        latency,
    })
}

fn measure(
    store: &Arc<RocksStore>,
    appenders: usize,
    events_per_append: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    // Appenders are async tasks awaiting their appends, as request
    // handlers in the server are; two worker threads, as on this machine.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let (appends, latency) = runtime.block_on(async {
        let tasks: Vec<_> = (0..appenders)
            .map(|_| {
                let store = Arc::clone(store);
                tokio::spawn(async move { append_until(&store, events_per_append, deadline).await })
            })
            .collect();
        let mut latency = latency_histogram();
        let mut appends = 0;
        for task in tasks {
            let (count, histogram) = task.await??;
            appends += count;
            latency.add(histogram)?;
        }
        anyhow::Ok((appends, latency))
    })?;
    Ok(Measured {
        label: format!("{appenders} appenders × {events_per_append} event(s)"),
        appenders,
        events_per_append,
        appends,
        elapsed: started.elapsed(),
        latency,
    })
}

async fn append_until(
    store: &RocksStore,
    events_per_append: usize,
    deadline: Instant,
) -> anyhow::Result<(u64, Histogram<u64>)> {
    let mut latency = latency_histogram();
    let mut appends = 0;
    // A fresh payment every 100 events keeps streams realistic in length.
    let mut payment = (PaymentId::from_uuid(uuid::Uuid::new_v4()), 0u64);
    while Instant::now() < deadline {
        if payment.1 >= 100 {
            payment = (PaymentId::from_uuid(uuid::Uuid::new_v4()), 0);
        }
        let events = (0..events_per_append).map(|_| sample_event()).collect();
        let request = AppendRequest::events(payment.0.into(), payment.1, events);
        let begun = Instant::now();
        match store.submit(request).await {
            Ok(appended) => payment.1 = appended.last_version,
            Err(AppendError::Overloaded { .. }) => {
                // Let the writer drain before retrying.
                tokio::task::yield_now().await;
                continue;
            }
            Err(other) => return Err(other.into()),
        }
        latency.record(micros(begun.elapsed()))?;
        appends += 1;
    }
    Ok((appends, latency))
}

fn sample_event() -> NewEvent {
    NewEvent {
        meta: EventMeta {
            event_id: EventId::from_uuid(uuid::Uuid::new_v4()),
            project: ProjectKey::parse("bench").expect("valid project key"),
            recorded_at: Timestamp(1_767_225_600_000),
            actor: Actor::Client("bench-client".into()),
            correlation_id: Some(uuid::Uuid::new_v4().to_string()),
            idempotency_key: None,
        },
        // Sized so that the encoded envelope is about 300 bytes.
        event: Event::StatusInterfaceTextSet(Some("x".repeat(140))),
    }
}

fn sample_envelope() -> payledger_domain::EventEnvelope {
    let NewEvent { meta, event } = sample_event();
    payledger_domain::EventEnvelope {
        meta,
        stream: PaymentId::from_uuid(uuid::Uuid::new_v4()).into(),
        version: 42,
        partition: 3,
        partition_sequence: 123_456,
        previous_hash: [7; 32],
        event,
    }
}

fn report(baseline: &Measured, runs: &[Measured]) {
    let base_rate = baseline.appends_per_second();
    let base_p50 = baseline.latency.value_at_quantile(0.5);
    println!("| run | appends/s | events/s | p50 ms | p99 ms | × baseline rate |");
    println!("|---|---:|---:|---:|---:|---:|");
    for m in std::iter::once(baseline).chain(runs) {
        let rate = m.appends_per_second();
        println!(
            "| {} | {:.0} | {:.0} | {} | {} | {:.1} |",
            m.label,
            rate,
            rate * m.events_per_append as f64,
            ms(m.latency.value_at_quantile(0.5)),
            ms(m.latency.value_at_quantile(0.99)),
            rate / base_rate,
        );
    }
    if let Some(single) = runs
        .iter()
        .find(|m| m.appenders == 1 && m.events_per_append == 1)
    {
        let p99 = single.latency.value_at_quantile(0.99) as f64;
        println!(
            "\n1 appender p99 / baseline fdatasync: {:.2} × its p50, {:.2} × its mean, {:.2} × its p99",
            p99 / base_p50 as f64,
            p99 / baseline.latency.mean(),
            p99 / baseline.latency.value_at_quantile(0.99) as f64,
        );
    }
    if let Some(wide) = runs
        .iter()
        .find(|m| m.appenders == 256 && m.events_per_append == 1)
    {
        println!(
            "256 appenders rate / serial fdatasync rate: {:.1}",
            wide.appends_per_second() / base_rate
        );
    }
}
