//! What `payledger replay` needs beyond the [`EventStore`] contract: every
//! stream's events in one sequential pass, the derived tables cleared in
//! one write, and a durable mark while a rebuild is under way (a server
//! refuses to serve tables a replay left half written).
//!
//! [`EventStore`]: payledger_store::EventStore

use crate::db::{cf, engine, read_options};
use crate::keys::{self, CF_META};
use crate::store::RocksStore;
use payledger_domain::{EventEnvelope, StreamId, StreamKind};
use payledger_store::{KvWrite, StoreError, Table};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

/// `meta` key present while a rebuild of the derived tables is under way.
const META_REPLAY_UNFINISHED: &[u8] = b"replay_unfinished";

/// Longest key any table holds is far below this: clearing a table deletes
/// every key below `[0xff; CLEAR_BOUND_BYTES]`.
const CLEAR_BOUND_BYTES: usize = 4_096;

/// What sees every stream's events in a pass over the store: the stream,
/// its events in version order, and the number of events read so far.
pub type OnStream<'a, E> = dyn FnMut(StreamId, &[EventEnvelope], u64) -> Result<(), E> + 'a;

impl RocksStore {
    /// Every stream's events, kind by kind and stream by stream, with the
    /// number of events read so far. Nothing is checked: `audit` does that.
    pub fn each_stream<E: From<StoreError>>(
        &self,
        on_stream: &mut OnStream<'_, E>,
    ) -> Result<(), E> {
        let mut read_total = 0u64;
        for kind in StreamKind::ALL {
            let iter = self.db().iterator_cf_opt(
                cf(self.db(), keys::events_cf(kind))?,
                read_options(),
                IteratorMode::Start,
            );
            let mut current: Option<StreamId> = None;
            let mut events: Vec<EventEnvelope> = Vec::new();
            for entry in iter {
                let (key, value) = entry.map_err(engine)?;
                let (id, _) = keys::parse_event_key(&key)
                    .ok_or_else(|| StoreError::Corrupt("malformed event key".into()))?;
                let stream = StreamId::from_bytes(kind, id);
                if let Some(done) = current.filter(|s| *s != stream) {
                    on_stream(done, &events, read_total)?;
                    events.clear();
                }
                current = Some(stream);
                events.push(
                    payledger_codec::decode_envelope(&value)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
                read_total += 1;
            }
            if let Some(done) = current {
                on_stream(done, &events, read_total)?;
            }
        }
        Ok(())
    }

    /// Deletes every row of `tables` in one synced write, and marks the
    /// rebuild as under way in the same write.
    pub fn begin_rebuild(&self, tables: &[Table]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for table in tables {
            let table_cf = cf(self.db(), keys::table_cf(*table))?;
            batch.delete_range_cf(table_cf, &[][..], &[0xffu8; CLEAR_BOUND_BYTES][..]);
        }
        batch.put_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED, [1u8]);
        self.write_synced(batch)
    }

    /// Writes rebuilt rows in one synced batch, sorted by table and key:
    /// with a per-batch insert hint RocksDB then inserts each row next to
    /// the one before instead of searching the memtable from its top
    /// (unsorted, that search was most of a replay's time).
    pub fn write_rebuilt(&self, mut rows: Vec<KvWrite>) -> Result<(), StoreError> {
        rows.sort_unstable_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        let mut batch = WriteBatch::default();
        for row in rows {
            let table_cf = cf(self.db(), keys::table_cf(row.table))?;
            match row.value {
                Some(value) => batch.put_cf(table_cf, row.key, value),
                None => batch.delete_cf(table_cf, row.key),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        options.set_memtable_insert_hint_per_batch(true);
        self.db().write_opt(batch, &options).map_err(engine)
    }

    /// Clears the mark of [`RocksStore::begin_rebuild`].
    pub fn finish_rebuild(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED);
        self.write_synced(batch)
    }

    /// Whether a rebuild began and did not finish.
    pub fn rebuild_unfinished(&self) -> Result<bool, StoreError> {
        Ok(self
            .db()
            .get_cf(cf(self.db(), CF_META)?, META_REPLAY_UNFINISHED)
            .map_err(engine)?
            .is_some())
    }

    fn write_synced(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db().write_opt(batch, &options).map_err(engine)
    }
}
