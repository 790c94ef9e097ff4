//! The database as readers and the writers both see it: column family
//! handles, engine errors, the head of a stream, the last position of a
//! partition's log, and staging a table write into a batch. Both
//! `store` (reads, opening) and `writer` (group commit) build on this.

use crate::keys::{self, CF_LOG};
use payledger_domain::StreamId;
use payledger_store::{KvWrite, StoreError, StreamHead, memory_only};
use rocksdb::{DB, IteratorMode, ReadOptions, WriteBatch, WriteOptions};

/// A RocksDB failure as a store failure: an incomplete read inside
/// memory-only reads is [`StoreError::WouldBlock`].
pub(crate) fn engine(error: rocksdb::Error) -> StoreError {
    if error.kind() == rocksdb::ErrorKind::Incomplete && memory_only::is_memory_only() {
        return StoreError::WouldBlock;
    }
    StoreError::Engine(error.into_string())
}

/// Options of every read: inside memory-only reads, the memtables and the
/// block cache only (RocksDB answers `Incomplete` rather than read a file).
pub(crate) fn read_options() -> ReadOptions {
    let mut read = ReadOptions::default();
    if memory_only::is_memory_only() {
        read.set_read_tier(rocksdb::ReadTier::BlockCache);
    }
    read
}

/// The handle of column family `name`.
pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Corrupt(format!("column family {name} is missing")))
}

/// The last sequence in a partition's log, 0 when empty.
pub(crate) fn last_log_sequence(db: &DB, partition: u16) -> Result<u64, StoreError> {
    let mut read = read_options();
    read.set_iterate_lower_bound(keys::log_key(partition, 0));
    read.set_iterate_upper_bound(keys::log_key(partition, u64::MAX));
    let mut iter = db.iterator_cf_opt(cf(db, CF_LOG)?, read, IteratorMode::End);
    match iter.next() {
        None => Ok(0),
        Some(entry) => {
            let (key, _) = entry.map_err(engine)?;
            keys::log_key_sequence(&key)
                .ok_or_else(|| StoreError::Corrupt("malformed log key".into()))
        }
    }
}

pub(crate) fn read_head(db: &DB, stream: StreamId) -> Result<Option<StreamHead>, StoreError> {
    match db
        .get_pinned_cf_opt(
            cf(db, keys::heads_cf(stream.kind))?,
            stream.id_bytes(),
            &read_options(),
        )
        .map_err(engine)?
    {
        None => Ok(None),
        Some(bytes) => keys::decode_head(&bytes)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt("malformed stream head".into())),
    }
}

/// Options of every write: durability is the contract, so nothing is
/// acknowledged before the fsync.
pub(crate) fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

/// Writes `batch` to the write-ahead log without the fsync (see
/// `EventStore::write_progress`): the next synced write carries it to the
/// disk.
pub(crate) fn write_unsynced(db: &DB, batch: WriteBatch) -> Result<(), StoreError> {
    db.write_opt(batch, &WriteOptions::default())
        .map_err(engine)
}

/// Writes `batch` with [`synced`] options.
pub(crate) fn write_synced(db: &DB, batch: WriteBatch) -> Result<(), StoreError> {
    db.write_opt(batch, &synced()).map_err(engine)
}

/// Adds table writes to a batch.
pub(crate) fn add_table_writes(
    db: &DB,
    batch: &mut WriteBatch,
    writes: Vec<KvWrite>,
) -> Result<(), StoreError> {
    for write in writes {
        stage_table_write(batch, cf(db, keys::table_cf(write.table))?, write);
    }
    Ok(())
}

/// Adds one table write to a batch, in the column family of its table.
pub(crate) fn stage_table_write(
    batch: &mut WriteBatch,
    table_cf: &rocksdb::ColumnFamily,
    KvWrite { key, value, .. }: KvWrite,
) {
    match value {
        Some(value) => batch.put_cf(table_cf, key, value),
        None => batch.delete_cf(table_cf, key),
    }
}
