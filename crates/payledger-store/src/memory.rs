//! An in-memory [`EventStore`]: the reference implementation the
//! conformance suite is checked against, and a store for tools and tests
//! that need no durability. One mutex serialises appends, which makes log
//! order equal commit order trivially.

use crate::{
    AppendError, AppendRequest, EventStore, LogSignal, PARTITIONS_DEFAULT, PendingAppend,
    StoreError, StreamHead, VersionRange, partition_of, stamp,
};
use crate::{KvWrite, Table};
use parking_lot::RwLock;
use payledger_domain::{EventEnvelope, StreamId};
use std::collections::{BTreeMap, HashMap};

/// An event store held in memory.
#[derive(Debug)]
pub struct MemoryStore {
    partition_count: u16,
    state: RwLock<State>,
    signal: LogSignal,
}

#[derive(Debug, Default)]
struct State {
    streams: HashMap<StreamId, Stream>,
    /// Per partition: (stream, version) in log order.
    logs: Vec<Vec<(StreamId, u64)>>,
    tables: HashMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl State {
    fn apply(&mut self, writes: Vec<KvWrite>) {
        for KvWrite { table, key, value } in writes {
            let table = self.tables.entry(table).or_default();
            match value {
                Some(value) => table.insert(key, value),
                None => table.remove(&key),
            };
        }
    }
}

#[derive(Debug)]
struct Stream {
    head: StreamHead,
    events: Vec<EventEnvelope>,
}

impl MemoryStore {
    /// An empty store with the default partition count.
    pub fn new() -> Self {
        Self::with_partitions(PARTITIONS_DEFAULT)
    }

    /// An empty store with `partition_count` partitions.
    pub fn with_partitions(partition_count: u16) -> Self {
        assert!(partition_count > 0, "a store has at least one partition");
        let state = State {
            streams: HashMap::new(),
            logs: vec![Vec::new(); usize::from(partition_count)],
            tables: HashMap::new(),
        };
        Self {
            partition_count,
            state: RwLock::new(state),
            signal: LogSignal::new(partition_count),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStore for MemoryStore {
    fn partition_count(&self) -> u16 {
        self.partition_count
    }

    fn submit(&self, request: AppendRequest) -> PendingAppend {
        if let Err(rejected) = request.validate() {
            return PendingAppend::ready(Err(rejected));
        }
        let mut state = self.state.write();
        let head = state.streams.get(&request.stream).map(|s| s.head);
        let current_version = head.map_or(0, |h| h.version);
        if current_version != request.expected_version {
            return PendingAppend::ready(Err(AppendError::Conflict { current_version }));
        }
        let partition = head.map_or_else(
            || partition_of(request.stream, self.partition_count),
            |h| h.partition,
        );
        let log = &state.logs[usize::from(partition)];
        let stamped = stamp(
            request.stream,
            head,
            partition,
            log.len() as u64,
            request.events,
        );
        let log = &mut state.logs[usize::from(partition)];
        log.extend(
            stamped
                .events
                .iter()
                .map(|e| (request.stream, e.envelope.version)),
        );
        let stream = state
            .streams
            .entry(request.stream)
            .or_insert_with(|| Stream {
                head: stamped.head,
                events: Vec::new(),
            });
        stream.head = stamped.head;
        stream
            .events
            .extend(stamped.events.into_iter().map(|e| e.envelope));
        state.apply(request.inline);
        drop(state);
        self.signal.notify(partition);
        PendingAppend::ready(Ok(stamped.appended))
    }

    fn log_signal(&self) -> &LogSignal {
        &self.signal
    }

    fn read_stream(
        &self,
        stream: StreamId,
        range: VersionRange,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let state = self.state.read();
        let Some(stream) = state.streams.get(&stream) else {
            return Ok(Vec::new());
        };
        Ok(stream
            .events
            .iter()
            .filter(|e| (range.from..=range.to).contains(&e.version))
            .cloned()
            .collect())
    }

    fn read_log(
        &self,
        partition: u16,
        from_sequence: u64,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let state = self.state.read();
        let Some(log) = state.logs.get(usize::from(partition)) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(from_sequence.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(log
            .iter()
            .skip(skip)
            .take(max_events)
            .map(|(stream, version)| state.streams[stream].events[(*version - 1) as usize].clone())
            .collect())
    }

    fn stream_head(&self, stream: StreamId) -> Result<Option<StreamHead>, StoreError> {
        Ok(self.state.read().streams.get(&stream).map(|s| s.head))
    }

    fn known_head(&self, stream: StreamId) -> Option<StreamHead> {
        self.state.read().streams.get(&stream).map(|s| s.head)
    }

    fn log_head(&self, partition: u16) -> Result<u64, StoreError> {
        Ok(self
            .state
            .read()
            .logs
            .get(usize::from(partition))
            .map_or(0, |log| log.len() as u64))
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.table_get(table, key))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        max_entries: usize,
    ) -> Result<Vec<crate::KeyValue>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let state = self.state.read();
        let Some(entries) = state.tables.get(&table) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .range::<[u8], _>((
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(to),
            ))
            .take(max_entries)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        crate::memory_only::check_may_block()?;
        self.state.write().apply(writes);
        Ok(())
    }
}

impl MemoryStore {
    fn table_get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        self.state.read().tables.get(&table)?.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;

    struct Harness;

    impl crate::conformance::Harness for Harness {
        type Store = MemoryStore;
        fn open(&mut self) -> MemoryStore {
            MemoryStore::new()
        }
        fn reopen(&mut self, store: MemoryStore) -> MemoryStore {
            // Memory lives as long as the value: reopening keeps it.
            store
        }
    }

    crate::event_store_conformance!(Harness);

    #[test]
    fn a_table_is_read_in_chunks_within_its_bounds_each_row_once() {
        use crate::{EventStore, KvWrite, StoreError, TABLE_END, Table, scan_chunks};
        let store = MemoryStore::new();
        let rows: Vec<KvWrite> = (0u8..7)
            .map(|n| KvWrite {
                table: Table::Tasks,
                key: vec![n, 0xff],
                value: Some(vec![n]),
            })
            .collect();
        store.write(rows).expect("write");
        let mut chunks = Vec::new();
        scan_chunks::<_, StoreError>(&store, Table::Tasks, (&[1], TABLE_END), 2, |rows| {
            chunks.push(rows.iter().map(|(_, v)| v[0]).collect::<Vec<_>>());
            Ok(())
        })
        .expect("scan");
        assert_eq!(chunks, vec![vec![1, 2], vec![3, 4], vec![5, 6]]);
        let mut empty = 0;
        scan_chunks::<_, StoreError>(&store, Table::Tasks, (&[9], TABLE_END), 2, |_| {
            empty += 1;
            Ok(())
        })
        .expect("scan");
        assert_eq!(empty, 0);
    }
}
