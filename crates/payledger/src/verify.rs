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
use payledger_rocksdb::RocksStore;
use payledger_rocksdb::audit::{AuditError, BrokenLink, Link, hex};
use payledger_store::{EventStore, StoreError};

pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let (store, _scratch) = open_reader(&args.data)?;
    let total: u64 = (0..store.partition_count())
        .map(|p| store.log_head(p))
        .sum::<Result<u64, _>>()?;
    let mut progress = Progress::new("verify", total);
    let mut done = 0;
    let outcome = store.audit(&mut |stream, events, read| {
        done = read;
        progress.update(read);
        if args.no_views {
            return Ok(());
        }
        let differences = stored_differences(&store, events).map_err(|e| match e {
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
    let root = hex(&summary.root);
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
pub fn open_reader(data: &std::path::Path) -> anyhow::Result<(RocksStore, ScratchDir)> {
    anyhow::ensure!(
        data.join("CURRENT").is_file(),
        "no store at {}: nothing to read",
        data.display()
    );
    let scratch = ScratchDir::new()?;
    let store = RocksStore::open_secondary(data, &scratch.0)
        .with_context(|| format!("open {} for reading", data.display()))?;
    Ok((store, scratch))
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
            hex(&bytes[..bytes.len().min(24)]),
            if bytes.len() > 24 { "…" } else { "" }
        ),
    };
    BrokenLink::new(
        Link::Event { stream, version },
        format!(
            "the {:?} row {} is what the events give",
            d.table,
            hex(&d.key)
        ),
        describe(&d.expected),
        describe(&d.found),
    )
}
