//! What `payledger replay` and `payledger verify` need beyond the
//! [`EventStore`] contract: every stream's events in one sequential pass,
//! the derived tables cleared in one write, a durable mark while a
//! rebuild is under way (a server refuses to serve tables a replay left
//! half written), and the layout version of the derived tables (a server
//! refuses a store whose tables predate this build's, such as a store
//! without the Message index, until a replay has rebuilt them).
//!
//! [`EventStore`]: payledger_store::EventStore

use crate::db::{add_table_writes, cf, engine, read_options, synced, write_synced};
use crate::keys::{self, CF_META};
use crate::store::RocksStore;
use payledger_domain::{EventEnvelope, StreamId, StreamKind};
use payledger_store::{KvWrite, StoreError, TABLE_END, Table};
use rocksdb::{IteratorMode, WriteBatch};

/// `meta` key present while a rebuild of the derived tables is under way.
const META_REPLAY_UNFINISHED: &[u8] = b"replay_unfinished";
/// `meta` key holding the layout version of the derived tables (u32 BE).
const META_DERIVED_LAYOUT: &[u8] = b"derived_layout";

/// The layout of the derived tables this build writes. A store records
/// the version its tables were written with when it is created and when a
/// replay finishes; one without a record predates the record (0).
///
/// | version | derived tables |
/// |---|---|
/// | 0 | everything before the Message index |
/// | 1 | with the Message index (`idx_message_type`, `idx_message_time`) |
pub const DERIVED_LAYOUT_VERSION: u32 = 1;

/// Records [`DERIVED_LAYOUT_VERSION`] in `batch`.
pub(crate) fn stamp_derived_layout(batch: &mut WriteBatch, meta: &rocksdb::ColumnFamily) {
    batch.put_cf(
        meta,
        META_DERIVED_LAYOUT,
        DERIVED_LAYOUT_VERSION.to_be_bytes(),
    );
}

/// What sees every stream's events in a pass over the store: the stream,
/// its events in version order (theirs to change, e.g. to open sealed
/// fields), and the number of events read so far.
pub type OnStream<'a, E> = dyn FnMut(StreamId, &mut [EventEnvelope], u64) -> Result<(), E> + 'a;

/// One stored event as read: its version and its encoded envelope.
pub(crate) type RawEvent = (u64, Box<[u8]>);

impl RocksStore {
    /// The stored events of every stream of `kind`, a stream at a time in
    /// id order, each in version order, as their keys and bytes say.
    pub(crate) fn each_raw_stream<E: From<StoreError>>(
        &self,
        kind: StreamKind,
        on_stream: &mut dyn FnMut(StreamId, Vec<RawEvent>) -> Result<(), E>,
    ) -> Result<(), E> {
        let iter = self.db().iterator_cf_opt(
            cf(self.db(), keys::events_cf(kind))?,
            read_options(),
            IteratorMode::Start,
        );
        let mut current: Option<StreamId> = None;
        let mut events = Vec::new();
        for entry in iter {
            let (key, value) = entry.map_err(engine)?;
            let (id, version) = keys::parse_event_key(&key)
                .ok_or_else(|| StoreError::Corrupt("malformed event key".into()))?;
            let stream = StreamId::from_bytes(kind, id);
            if let Some(done) = current.filter(|s| *s != stream) {
                on_stream(done, std::mem::take(&mut events))?;
            }
            current = Some(stream);
            events.push((version, value));
        }
        match current {
            Some(done) => on_stream(done, events),
            None => Ok(()),
        }
    }

    /// Every stream's events, kind by kind and stream by stream, with the
    /// number of events read so far. Nothing is checked: `audit` does that.
    pub fn each_stream<E: From<StoreError>>(
        &self,
        on_stream: &mut OnStream<'_, E>,
    ) -> Result<(), E> {
        let mut read_total = 0u64;
        for kind in StreamKind::ALL {
            self.each_raw_stream(kind, &mut |stream, raw| {
                let mut events = raw
                    .iter()
                    .map(|(_, bytes)| {
                        payledger_codec::decode_envelope(bytes)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                read_total += events.len() as u64;
                on_stream(stream, &mut events, read_total)
            })?;
        }
        Ok(())
    }

    /// Deletes every row of `tables` in one synced write, and marks the
    /// rebuild as under way in the same write.
    pub fn begin_rebuild(&self, tables: &[Table]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for table in tables {
            let table_cf = cf(self.db(), keys::table_cf(*table))?;
            batch.delete_range_cf(table_cf, &[][..], TABLE_END);
        }
        batch.put_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED, [1u8]);
        write_synced(self.db(), batch)
    }

    /// Writes rebuilt rows in one synced batch, sorted by table and key:
    /// with a per-batch insert hint RocksDB then inserts each row next to
    /// the one before instead of searching the memtable from its top
    /// (unsorted, that search was most of a replay's time).
    pub fn write_rebuilt(&self, mut rows: Vec<KvWrite>) -> Result<(), StoreError> {
        rows.sort_unstable_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        let mut batch = WriteBatch::default();
        add_table_writes(self.db(), &mut batch, rows)?;
        let mut options = synced();
        options.set_memtable_insert_hint_per_batch(true);
        self.db().write_opt(batch, &options).map_err(engine)
    }

    /// Clears the mark of [`RocksStore::begin_rebuild`] and records that
    /// the derived tables now have this build's layout.
    pub fn finish_rebuild(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        let meta = cf(self.db(), CF_META)?;
        batch.delete_cf(meta, META_REPLAY_UNFINISHED);
        stamp_derived_layout(&mut batch, meta);
        write_synced(self.db(), batch)
    }

    /// The layout version the derived tables were written with (0: a
    /// store made before versions were recorded).
    pub fn derived_layout(&self) -> Result<u32, StoreError> {
        let stored = self
            .db()
            .get_cf(cf(self.db(), CF_META)?, META_DERIVED_LAYOUT)
            .map_err(engine)?;
        let Some(bytes) = stored else {
            return Ok(0);
        };
        let bytes: [u8; 4] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("the derived layout is not a u32".into()))?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// Whether a rebuild began and did not finish.
    pub fn rebuild_unfinished(&self) -> Result<bool, StoreError> {
        Ok(self
            .db()
            .get_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED)
            .map_err(engine)?
            .is_some())
    }
}
