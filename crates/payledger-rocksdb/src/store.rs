//! Opening the database and serving reads; appends go to the writers.

use crate::db::{
    add_table_writes, cf, engine, last_log_sequence, read_head, read_options, write_synced,
    write_unsynced,
};
use crate::keys::{self, CF_LOG, CF_META, EventKey, META_PARTITION_COUNT};
use crate::known_heads::KnownHeads;
use crate::tail::{LogTail, TailRead};
use crate::writer::{self, Writer};
use payledger_domain::{EventEnvelope, StreamId, StreamKind};
use payledger_store::{
    AppendRequest, EventStore, KvWrite, LogSignal, PARTITIONS_DEFAULT, PARTITIONS_MAX,
    PendingAppend, StoreError, StreamHead, Table, VersionRange, memory_only, partition_of,
};
use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options};
use std::path::Path;
use std::sync::Arc;

/// Settings for opening a store.
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// Partitions of a new store. An existing store keeps the count it was
    /// created with.
    pub partitions_for_new_store: u16,
    /// Bound of each partition's append queue, in requests.
    pub append_queue_requests_max: usize,
}

impl Default for RocksConfig {
    fn default() -> Self {
        Self {
            partitions_for_new_store: PARTITIONS_DEFAULT,
            append_queue_requests_max: writer::APPEND_QUEUE_REQUESTS_MAX,
        }
    }
}

/// A durable event store in one RocksDB database.
#[derive(Debug)]
pub struct RocksStore {
    // Field order matters: the writer stops before the database closes.
    /// The writer of every partition (none when read-only).
    writer: Option<Writer>,
    /// Each partition's last events in memory (none when read-only).
    tails: Vec<Arc<LogTail>>,
    /// Each partition's recent stream heads, kept by its writer (none when
    /// read-only).
    known: Vec<Arc<KnownHeads>>,
    db: Arc<DB>,
    partition_count: u16,
    signal: Arc<LogSignal>,
}

fn db_options() -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_max_background_jobs(2);
    // The appends have one writer thread, but table writes and the log
    // consumers' progress write at the same time, and RocksDB groups
    // concurrent writers: the group's leader writes the log, syncs it and
    // inserts every member's batch into the memtables, while the members
    // wait asleep. On few cores, members that spin or yield while they
    // wait, a pipeline that hands the memtable stage to another thread,
    // and members inserting their own batches in parallel each cost more
    // CPU and wake-ups than they save (BENCHMARKS.md "HTTP API", seventh
    // session: 7-38 % more updates/s over HTTP with all three off, 7-26 %
    // less server CPU per update).
    options.set_enable_pipelined_write(false);
    options.set_allow_concurrent_memtable_write(false);
    options.set_enable_write_thread_adaptive_yield(false);
    options.set_write_buffer_size(64 << 20);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    options
}

/// Bytes of a log key that name its partition ([`keys::log_key`]).
pub(crate) const LOG_KEY_PARTITION_BYTES: usize = 2;
/// Bytes of an event or head key that name its stream (the aggregate id).
const STREAM_KEY_ID_BYTES: usize = 16;
/// Bytes of an event id (a version 7 UUID) that stay the same for about a
/// minute: the top 32 of its 48 bits of milliseconds (65.5 s).
const EVENT_ID_MINUTE_BYTES: usize = 4;

/// The length of the key prefix under which column family `name` keeps an
/// insert hint, for the column families whose keys arrive next to the
/// last key of the same prefix:
///
/// - the log: each partition's sequences only grow;
/// - events: each stream's versions only grow;
/// - heads: a stream's head is overwritten in place (the new entry goes
///   just before the previous one);
/// - event ids: time-ordered, so within a minute they only grow.
///
/// RocksDB then inserts the key from where the prefix's last key went in
/// the memtable, where it would otherwise search the skip list from the
/// top. The keys of one write group interleave streams and partitions, so
/// the previous insert of the column family is seldom the right place
/// (BENCHMARKS.md "HTTP API": the eighth session for the log, the tenth
/// for the rest). A memtable holds one hint per prefix it saw (one per
/// stream written, for events and heads) and counts them in its size, so
/// they stay within `write_buffer_size`. Views, view rows and Message
/// index rows start with the project key, whose length varies, so no
/// fixed prefix names one payment.
fn insert_hint_prefix_bytes(name: &str) -> Option<usize> {
    if name == CF_LOG {
        Some(LOG_KEY_PARTITION_BYTES)
    } else if StreamKind::ALL
        .into_iter()
        .any(|kind| name == keys::events_cf(kind) || name == keys::heads_cf(kind))
    {
        Some(STREAM_KEY_ID_BYTES)
    } else if name == keys::table_cf(Table::EventIds) {
        Some(EVENT_ID_MINUTE_BYTES)
    } else {
        None
    }
}

/// The options of column family `name`: the database's, with an insert
/// hint where [`insert_hint_prefix_bytes`] names one.
fn cf_options(base: &mut Options, name: &str) -> Result<Options, StoreError> {
    let Some(bytes) = insert_hint_prefix_bytes(name) else {
        return Ok(base.clone());
    };
    base.get_options_from_string(format!(
        "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.{bytes}"
    ))
    .map_err(engine)
}

impl RocksStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path, config: &RocksConfig) -> Result<Self, StoreError> {
        let wanted = config.partitions_for_new_store;
        if wanted == 0 || wanted > PARTITIONS_MAX {
            return Err(StoreError::Engine(format!(
                "partitions must be between 1 and {PARTITIONS_MAX}, got {wanted}"
            )));
        }
        let mut options = db_options();
        let descriptors = keys::all_cfs()
            .map(|name| {
                Ok(ColumnFamilyDescriptor::new(
                    name,
                    cf_options(&mut options, name)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let db = DB::open_cf_descriptors(&options, path, descriptors).map_err(engine)?;
        let db = Arc::new(db);
        let partition_count = fixed_partition_count(&db, wanted)?;
        let signal = Arc::new(LogSignal::new(partition_count));
        let known: Vec<Arc<KnownHeads>> = (0..partition_count).map(|_| Arc::default()).collect();
        let (writer, tails) = Writer::start(
            Arc::clone(&db),
            &known,
            config.append_queue_requests_max,
            Arc::clone(&signal),
        )?;
        Ok(Self {
            writer: Some(writer),
            tails,
            known,
            db,
            partition_count,
            signal,
        })
    }

    /// Opens the store in `path` as a RocksDB secondary instance: it reads
    /// what the primary (a running server) had flushed or logged when it was
    /// opened, without taking the primary's lock, and refuses every write.
    /// `scratch` is a directory of the secondary's own (its info log).
    pub fn open_secondary(path: &Path, scratch: &Path) -> Result<Self, StoreError> {
        let mut options = db_options();
        options.create_if_missing(false);
        options.create_missing_column_families(false);
        // A secondary keeps every file open; it cannot reopen them later.
        options.set_max_open_files(-1);
        let db =
            DB::open_cf_as_secondary(&options, path, scratch, keys::all_cfs()).map_err(engine)?;
        let db = Arc::new(db);
        let partition_count = stored_partition_count(&db)?
            .ok_or_else(|| StoreError::Corrupt("the store has no partition count".into()))?;
        Ok(Self {
            writer: None,
            tails: Vec::new(),
            known: Vec::new(),
            db,
            partition_count,
            signal: Arc::new(LogSignal::new(partition_count)),
        })
    }

    /// The database underneath (audit scans within this crate).
    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        cf(&self.db, name)
    }

    /// The tail in memory of `partition` (panics when read-only).
    #[cfg(test)]
    pub(crate) fn tail(&self, partition: u16) -> &LogTail {
        &self.tails[usize::from(partition)]
    }

    /// Up to `max_events` of the partition's log from `from_sequence`, read
    /// from the database (the tail in memory aside).
    pub(crate) fn read_stored_log(
        &self,
        partition: u16,
        from_sequence: u64,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let mut read = read_options();
        read.set_iterate_lower_bound(keys::log_key(partition, from_sequence));
        read.set_iterate_upper_bound(keys::log_key(partition, u64::MAX));
        let iter = self
            .db
            .iterator_cf_opt(self.cf(CF_LOG)?, read, IteratorMode::Start);
        let mut events = Vec::new();
        for entry in iter.take(max_events) {
            let (_, value) = entry.map_err(engine)?;
            let (kind, key) = keys::log_value_event_key(&value)
                .ok_or_else(|| StoreError::Corrupt("malformed log value".into()))?;
            events.push(self.read_event(kind, &key)?);
        }
        Ok(events)
    }

    fn read_event(&self, kind: StreamKind, key: &EventKey) -> Result<EventEnvelope, StoreError> {
        let bytes = self
            .db
            .get_pinned_cf_opt(self.cf(keys::events_cf(kind))?, key, &read_options())
            .map_err(engine)?
            .ok_or_else(|| StoreError::Corrupt("log entry points at a missing event".into()))?;
        decode(&bytes)
    }
}

fn decode(bytes: &[u8]) -> Result<EventEnvelope, StoreError> {
    payledger_codec::decode_envelope(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads the partition count stored at creation, storing `wanted` if the
/// database is new.
fn fixed_partition_count(db: &DB, wanted: u16) -> Result<u16, StoreError> {
    if let Some(stored) = stored_partition_count(db)? {
        return Ok(stored);
    }
    // A new store: its derived tables are written as this build writes
    // them from its first event on.
    let meta = cf(db, CF_META)?;
    let mut batch = rocksdb::WriteBatch::default();
    batch.put_cf(meta, META_PARTITION_COUNT, wanted.to_be_bytes());
    crate::rebuild::stamp_derived_layout(&mut batch, meta);
    write_synced(db, batch)?;
    Ok(wanted)
}

/// The partition count stored at creation, if any.
fn stored_partition_count(db: &DB) -> Result<Option<u16>, StoreError> {
    let Some(stored) = db
        .get_cf(cf(db, CF_META)?, META_PARTITION_COUNT)
        .map_err(engine)?
    else {
        return Ok(None);
    };
    let bytes: [u8; 2] = stored
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt("partition count is not a u16".into()))?;
    Ok(Some(u16::from_be_bytes(bytes)))
}

/// The refusal of a write to a store opened with
/// [`RocksStore::open_secondary`].
fn read_only() -> StoreError {
    StoreError::Engine("this store was opened read-only (as a secondary instance)".into())
}

impl EventStore for RocksStore {
    fn partition_count(&self) -> u16 {
        self.partition_count
    }

    fn submit(&self, request: AppendRequest) -> PendingAppend {
        if let Err(rejected) = request.validate() {
            return PendingAppend::ready(Err(rejected));
        }
        let partition = partition_of(request.stream, self.partition_count);
        match &self.writer {
            Some(writer) => writer.submit(partition, request),
            None => PendingAppend::ready(Err(read_only().into())),
        }
    }

    fn log_signal(&self) -> &LogSignal {
        &self.signal
    }

    fn read_stream(
        &self,
        stream: StreamId,
        range: VersionRange,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        if range.from > range.to {
            return Ok(Vec::new());
        }
        let mut read = read_options();
        read.set_iterate_lower_bound(keys::event_key(stream, range.from));
        // The upper bound is exclusive; version u64::MAX is never reached.
        read.set_iterate_upper_bound(keys::event_key(stream, range.to.saturating_add(1)));
        let iter = self.db.iterator_cf_opt(
            self.cf(keys::events_cf(stream.kind))?,
            read,
            IteratorMode::Start,
        );
        iter.map(|entry| decode(&entry.map_err(engine)?.1))
            .collect()
    }

    fn read_log(
        &self,
        partition: u16,
        from_sequence: u64,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        if let Some(tail) = self.tails.get(usize::from(partition))
            && let TailRead::Events(events) = tail.read(from_sequence, max_events)
        {
            return Ok(events);
        }
        self.read_stored_log(partition, from_sequence, max_events)
    }

    fn stream_head(&self, stream: StreamId) -> Result<Option<StreamHead>, StoreError> {
        match self.known_head(stream) {
            Some(head) => Ok(Some(head)),
            None => read_head(&self.db, stream),
        }
    }

    fn known_head(&self, stream: StreamId) -> Option<StreamHead> {
        let partition = partition_of(stream, self.partition_count);
        self.known.get(usize::from(partition))?.get(stream)
    }

    fn log_head(&self, partition: u16) -> Result<u64, StoreError> {
        last_log_sequence(&self.db, partition)
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf_opt(self.cf(keys::table_cf(table))?, key, &read_options())
            .map_err(engine)
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        max_entries: usize,
    ) -> Result<Vec<payledger_store::KeyValue>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let mut read = read_options();
        read.set_iterate_lower_bound(from);
        read.set_iterate_upper_bound(to);
        let iter =
            self.db
                .iterator_cf_opt(self.cf(keys::table_cf(table))?, read, IteratorMode::Start);
        iter.take(max_entries)
            .map(|entry| {
                let (key, value) = entry.map_err(engine)?;
                Ok((key.into_vec(), value.into_vec()))
            })
            .collect()
    }

    fn write(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        write_synced(&self.db, self.table_batch(writes)?)
    }

    fn write_progress(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        write_unsynced(&self.db, self.table_batch(writes)?)
    }
}

impl RocksStore {
    /// The batch of table writes outside any stream, once writing them may
    /// block and the store is not read-only.
    fn table_batch(&self, writes: Vec<KvWrite>) -> Result<rocksdb::WriteBatch, StoreError> {
        memory_only::check_may_block()?;
        if self.writer.is_none() {
            return Err(read_only());
        }
        let mut batch = rocksdb::WriteBatch::default();
        add_table_writes(&self.db, &mut batch, writes)?;
        Ok(batch)
    }
}
