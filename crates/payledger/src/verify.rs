//! `payledger verify`: checks the stored history of a store, also while a
//! server is writing to it (it reads through a RocksDB secondary
//! instance, a consistent view as of the moment it opened).
//!
//! Every stream's hash chain, versions and head; every partition log
//! gap-free and pointing at the events that say they are there; unless
//! `--no-views`, every view, index and event-id row equal to what its
//! stream's events give. It prints a summary and the root digest over all
//! stream heads; `--expect-root` fails when that digest differs from one
//! kept earlier. The first broken link ends it with exit status 1.

use crate::cli::VerifyArgs;
use crate::progress::Progress;
use anyhow::Context;
use payledger_app::projections::{RowDifference, stored_differences};
use payledger_app::sealing::{MasterKey, SealedStore};
use payledger_domain::EventEnvelope;
use payledger_rocksdb::RocksStore;
use payledger_rocksdb::audit::{AuditError, BrokenLink, Link};
use payledger_store::{EventStore, StoreError, TABLE_END, Table};
use std::sync::Arc;

pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let (store, _scratch) = open_reader(&args.data)?;
    let opener = Opener::new(&store, &args.master.path(&args.data))?;
    let mut progress = Progress::new("verify", store.log_heads()?.iter().sum());
    let mut done = 0;
    let outcome = store.audit(&mut |stream, events, read| {
        done = read;
        progress.update(read);
        if args.no_views {
            return Ok(());
        }
        opener.open(events)?;
        let differences = stored_differences(&*store, events).map_err(|e| match e {
            payledger_app::AppError::Store(error) => AuditError::Store(error),
            other => AuditError::Store(StoreError::Corrupt(other.to_string())),
        })?;
        match differences.into_iter().next() {
            None => Ok(()),
            Some(difference) => Err(AuditError::Broken(row_link(
                stream,
                events.len() as u64,
                &difference,
            ))),
        }
    });
    progress.finish(done);
    let summary = match outcome {
        Ok(summary) => summary,
        Err(AuditError::Broken(link)) => anyhow::bail!("{link}"),
        Err(AuditError::Store(error)) => return Err(error).context("reading the store"),
    };
    let views = if args.no_views {
        ""
    } else {
        ", views and indexes"
    };
    println!(
        "verified {} streams ({} events) in {} partitions in {:.1} s ({:.0} events/s): hash chains, heads, logs ({} entries){views}",
        summary.streams,
        summary.events,
        summary.partitions,
        progress.elapsed().as_secs_f64(),
        progress.rate(summary.events),
        summary.log_entries,
    );
    let root = hex::encode(summary.root);
    println!("root digest: {root}");
    if let Some(expected) = &args.expect_root {
        anyhow::ensure!(
            expected.eq_ignore_ascii_case(&root),
            "root digest differs: expected {expected}, found {root}: history was rewritten, or \
             events were appended since the expected digest was taken"
        );
        println!("root digest matches the expected one");
    }
    Ok(())
}

/// Opens `data` for reading beside a server that may be writing to it; the
/// secondary instance's own files live in a scratch directory removed with
/// the returned guard.
pub fn open_reader(data: &std::path::Path) -> anyhow::Result<(Arc<RocksStore>, ScratchDir)> {
    anyhow::ensure!(
        data.join("CURRENT").is_file(),
        "no store at {}: nothing to read",
        data.display()
    );
    let scratch = ScratchDir::new()?;
    let store = RocksStore::open_secondary(data, &scratch.0)
        .with_context(|| format!("open {} for reading", data.display()))?;
    Ok((Arc::new(store), scratch))
}

/// Opens the sealed personal data of events read straight from the store
/// (audit scans), with the master key file when there is one.
pub struct Opener {
    sealed: Option<SealedStore<RocksStore>>,
}

impl Opener {
    /// Fails when the store holds data keys but the master key file is
    /// missing: its views could not be checked or rebuilt.
    pub fn new(store: &Arc<RocksStore>, master_file: &std::path::Path) -> anyhow::Result<Self> {
        if !master_file.is_file() {
            let keys = store.scan(Table::DataKeys, &[], TABLE_END, 1)?;
            anyhow::ensure!(
                keys.is_empty(),
                "the store holds sealed personal data but there is no master key at {}: give \
                 --master-key-file",
                master_file.display()
            );
            return Ok(Self { sealed: None });
        }
        let master = MasterKey::load(master_file)?;
        Ok(Self {
            sealed: Some(SealedStore::new(Arc::clone(store), master)),
        })
    }

    /// Opens the sealed fields of `events` (erased ones read as erased).
    pub fn open(&self, events: &mut [EventEnvelope]) -> Result<(), StoreError> {
        match &self.sealed {
            Some(sealed) => sealed.open_events(events),
            None => Ok(()),
        }
    }
}

/// A directory removed when dropped.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "payledger-reader-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stored row that differs from what the events give, as the broken
/// link at the stream's last version.
fn row_link(stream: payledger_domain::StreamId, version: u64, d: &RowDifference) -> BrokenLink {
    let describe = |value: &Option<Vec<u8>>| match value {
        None => "no row".to_owned(),
        Some(bytes) => format!(
            "{} bytes {}{}",
            bytes.len(),
            hex::encode(&bytes[..bytes.len().min(24)]),
            if bytes.len() > 24 { "…" } else { "" }
        ),
    };
    BrokenLink::new(
        Link::Event { stream, version },
        format!(
            "the {:?} row {} is what the events give",
            d.table,
            hex::encode(&d.key)
        ),
        describe(&d.expected),
        describe(&d.found),
    )
}
