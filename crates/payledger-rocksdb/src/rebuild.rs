//! What `payledger replay` and `payledger verify` need beyond the
//! [`EventStore`] contract: every stream's events in one sequential pass,
//! the derived tables cleared in one write, and a durable mark while a
//! rebuild is under way (a server refuses to serve tables a replay left
//! half written).
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

    /// Clears the mark of [`RocksStore::begin_rebuild`].
    pub fn finish_rebuild(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED);
        write_synced(self.db(), batch)
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
