//! `payledger replay`: rebuilds every derived table (views, indexes,
//! event-id lookups, order views, the analytics projection) from the
//! events, or with `--check` reports every row that differs from what the
//! events give.
//!
//! A rebuild clears the derived tables and marks the store in one synced
//! write, writes the rows of every stream in batches, then clears the
//! mark; a server refuses to start on a marked store, so an interrupted
//! rebuild is finished by running `replay` again, never served half done.
//! It needs the store to itself (stop the server first); `--check` reads
//! beside a running server, as `verify` does.
//!
//! `--check` compares every row the events give with the stored one, then
//! counts each derived table's rows: a table holding more rows than the
//! events give is scanned again for the rows no stream gives (stale rows).

use crate::cli::ReplayArgs;
use crate::progress::Progress;
use crate::verify::Opener;
use anyhow::Context;
use payledger_app::AppError;
use payledger_app::analytics::{self, Replayed};
use payledger_app::projections::{DERIVED_TABLES, derived_rows};
use payledger_rocksdb::RocksStore;
use payledger_store::{EventStore, KvWrite, StoreError, TABLE_END, Table, scan_chunks};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Rows written per synced batch during a rebuild.
const REBUILD_BATCH_ROWS: usize = 100_000;
/// Differences printed one by one before only counting the rest.
const DIFFERENCES_SHOWN_MAX: u64 = 50;
/// Rows read per step while counting a table.
const KEYS_READ_ROWS: usize = 10_000;

pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let master = args.master.path(&args.store.data);
    if args.check {
        let (store, _scratch) = crate::verify::open_reader(&args.store.data)?;
        let opener = Opener::new(&store, &master)?;
        return check(&store, &opener);
    }
    let store = Arc::new(crate::clients::open_existing(
        &args.store,
        "stop the server first: a rebuild rewrites the tables it serves from",
    )?);
    let opener = Opener::new(&store, &master)?;
    rebuild(&store, &opener)
}

fn rebuild(store: &RocksStore, opener: &Opener) -> anyhow::Result<()> {
    let heads = store.log_heads()?;
    let tables: Vec<Table> = DERIVED_TABLES
        .into_iter()
        .chain(analytics::TABLES)
        .collect();
    store
        .begin_rebuild(&tables)
        .context("clear the derived tables")?;
    let mut progress = Progress::new("replay", heads.iter().sum());
    let mut replayed = Replayed::default();
    let (mut rows, mut done) = (0u64, 0u64);
    // Rows are derived on this thread while the batch before is sorted and
    // written on another: the two halves of the work overlap.
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (batches, to_write) = std::sync::mpsc::sync_channel::<Vec<KvWrite>>(1);
        let writer = scope.spawn(move || -> Result<(), StoreError> {
            for batch in to_write {
                store.write_rebuilt(batch)?;
            }
            Ok(())
        });
        let mut batch = Vec::with_capacity(REBUILD_BATCH_ROWS);
        let derived = store.each_stream(&mut |_, events, read| -> Result<(), AppError> {
            done = read;
            opener.open(events)?;
            progress.update(read);
            batch.extend(
                derived_rows(events)?
                    .into_iter()
                    .filter(|r| r.value.is_some()),
            );
            batch.extend(replayed.stream(events)?);
            if batch.len() >= REBUILD_BATCH_ROWS {
                rows += batch.len() as u64;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(REBUILD_BATCH_ROWS));
                // A closed channel means the writer failed: its error is the answer.
                let _ = batches.send(full);
            }
            Ok(())
        });
        if derived.is_ok() {
            batch.extend(std::mem::take(&mut replayed).finish(&heads));
        }
        rows += batch.len() as u64;
        let _ = batches.send(batch);
        drop(batches);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        written?;
        derived?;
        Ok(())
    })?;
    store.finish_rebuild()?;
    progress.finish(done);
    println!(
        "replayed {done} events into {rows} rows of {} tables in {:.1} s ({:.0} events/s)",
        tables.len(),
        progress.elapsed().as_secs_f64(),
        progress.rate(done)
    );
    Ok(())
}

fn check(store: &RocksStore, opener: &Opener) -> anyhow::Result<()> {
    let heads = store.log_heads()?;
    let mut progress = Progress::new("replay --check", heads.iter().sum());
    let mut expected_rows: BTreeMap<Table, u64> = BTreeMap::new();
    let (mut differences, mut done) = (0u64, 0u64);
    let analytics_behind = analytics::pending_events(store)?;
    let mut replayed = Replayed::default();
    let report = |line: String, differences: &mut u64| {
        *differences += 1;
        if *differences <= DIFFERENCES_SHOWN_MAX {
            println!("{line}");
        }
    };
    store.each_stream(&mut |stream, events, read| -> Result<(), AppError> {
        done = read;
        opener.open(events)?;
        progress.update(read);
        let mut rows = derived_rows(events)?;
        if analytics_behind == 0 {
            rows.extend(replayed.stream(events)?);
        }
        for row in rows {
            if row.value.is_some() {
                *expected_rows.entry(row.table).or_default() += 1;
            }
            if let Some(difference) = difference(store, &row)? {
                report(format!("{stream}: {difference}"), &mut differences);
            }
        }
        Ok(())
    })?;
    progress.finish(done);
    let mut checked: Vec<Table> = DERIVED_TABLES.to_vec();
    if analytics_behind == 0 {
        checked.extend(analytics::TABLES);
        for row in replayed.finish(&heads) {
            if row.table == Table::Cursors {
                continue;
            }
            *expected_rows.entry(row.table).or_default() += 1;
            if let Some(difference) = difference(store, &row)? {
                report(difference, &mut differences);
            }
        }
    } else {
        println!(
            "analytics not checked: its consumer is {analytics_behind} events behind the log \
             (check again once it caught up)"
        );
    }
    for &table in &checked {
        let expected = expected_rows.get(&table).copied().unwrap_or(0);
        let stored = count_rows(store, table)?;
        if stored > expected {
            for key in stale_rows(store, opener, table)? {
                report(
                    format!(
                        "{table:?} row {}: stored, but no stream's events give it",
                        hex::encode(&key)
                    ),
                    &mut differences,
                );
            }
        }
    }
    if differences > DIFFERENCES_SHOWN_MAX {
        println!("… and {} more", differences - DIFFERENCES_SHOWN_MAX);
    }
    anyhow::ensure!(
        differences == 0,
        "{differences} rows differ from what the events give (`payledger replay` rebuilds them)"
    );
    println!(
        "checked {done} events: every row of the {} derived tables is what the events give ({:.0} events/s)",
        checked.len(),
        progress.rate(done)
    );
    Ok(())
}

/// How the stored row differs from `row` as the events give it, if it does.
fn difference(store: &RocksStore, row: &KvWrite) -> Result<Option<String>, StoreError> {
    let found = store.get(row.table, &row.key)?;
    Ok((found != row.value).then(|| {
        format!(
            "{:?} row {}: the events give {}, stored is {}",
            row.table,
            hex::encode(&row.key),
            describe(row.value.as_deref()),
            describe(found.as_deref())
        )
    }))
}

fn describe(value: Option<&[u8]>) -> String {
    match value {
        None => "no row".to_owned(),
        Some(bytes) => format!("{} bytes", bytes.len()),
    }
}

/// Each key of `table`, a chunk at a time.
fn each_key(
    store: &RocksStore,
    table: Table,
    mut on_key: impl FnMut(Vec<u8>),
) -> Result<(), StoreError> {
    scan_chunks(store, table, (&[], TABLE_END), KEYS_READ_ROWS, |rows| {
        rows.into_iter().for_each(|(key, _)| on_key(key));
        Ok::<_, StoreError>(())
    })
}

fn count_rows(store: &RocksStore, table: Table) -> Result<u64, StoreError> {
    let mut count = 0;
    each_key(store, table, |_| count += 1)?;
    Ok(count)
}

/// The keys of `table` no stream's events give (a second pass that holds
/// this one table's expected keys in memory).
fn stale_rows(store: &RocksStore, opener: &Opener, table: Table) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut expected: HashSet<Vec<u8>> = HashSet::new();
    let mut replayed = Replayed::default();
    let analytics = analytics::TABLES.contains(&table);
    store.each_stream(&mut |_, events, _| -> Result<(), AppError> {
        opener.open(events)?;
        let mut rows = derived_rows(events)?;
        if analytics {
            rows.extend(replayed.stream(events)?);
        }
        expected.extend(
            rows.into_iter()
                .filter(|r| r.table == table && r.value.is_some())
                .map(|KvWrite { key, .. }| key),
        );
        Ok(())
    })?;
    expected.extend(
        replayed
            .finish(&[])
            .into_iter()
            .filter(|r| r.table == table)
            .map(|KvWrite { key, .. }| key),
    );
    let mut stale = Vec::new();
    each_key(store, table, |key| {
        if !expected.contains(&key) {
            stale.push(key);
        }
    })?;
    Ok(stale)
}
