//! Snapshots of long streams, so that an as-of read decodes one stored
//! view and folds fewer than [`SNAPSHOT_INTERVAL_EVENTS`] events instead
//! of the whole prefix.
//!
//! The view after every version that is a multiple of the interval is
//! stored in [`Table::Snapshots`], written in the same atomic write as the
//! events that reach that version. Which versions have a snapshot depends
//! on the events alone, never on how commands grouped them, so `payledger
//! replay` rebuilds the same rows and `verify` can compare them.
//!
//! A snapshot holds personal data in plain text, as the current view does:
//! erasing a payment deletes all its snapshots in the erasure's write, and
//! as-of reads of an erased payment fold from its first event (which reads
//! the erased fields as erased).

use crate::error::AppError;
use crate::payments::corrupt_with;
use payledger_domain::{StreamId, StreamKind, Timestamp};
use payledger_store::{EventStore, KvWrite, Table};

/// A snapshot is stored after every version that is a multiple of this.
/// An as-of read therefore folds at most this many events minus one after
/// decoding a snapshot.
pub const SNAPSHOT_INTERVAL_EVENTS: u64 = 128;

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The version it is the view after.
    pub version: u64,
    /// When the event of that version was recorded.
    pub recorded_at: Timestamp,
    /// The view, encoded as its kind's stored view is.
    pub state: Vec<u8>,
}

/// Whether the view after `version` is stored as a snapshot.
pub const fn is_due(version: u64) -> bool {
    version > 0 && version.is_multiple_of(SNAPSHOT_INTERVAL_EVENTS)
}

/// The latest version at or before `version` that has a snapshot (0: none).
pub const fn due_at_or_before(version: u64) -> u64 {
    version - version % SNAPSHOT_INTERVAL_EVENTS
}

fn key(stream: StreamId, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(25);
    key.push(match stream.kind {
        StreamKind::Payment => 0,
        StreamKind::Order => 1,
    });
    key.extend_from_slice(stream.id.as_bytes());
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// The snapshot rows of one write to a stream: collected while folding its
/// events, then either written or, when the write erases the stream's
/// personal data, replaced by deletions of every snapshot it has.
#[derive(Debug)]
pub struct SnapshotRows {
    stream: StreamId,
    rows: Vec<KvWrite>,
}

impl SnapshotRows {
    pub const fn new(stream: StreamId) -> Self {
        Self {
            stream,
            rows: Vec::new(),
        }
    }

    /// Notes the view after `version`, recorded at `recorded_at`; `encode`
    /// runs only when the version is due a snapshot.
    pub fn after(
        &mut self,
        version: u64,
        recorded_at: Timestamp,
        encode: impl FnOnce() -> Vec<u8>,
    ) {
        if !is_due(version) {
            return;
        }
        let state = encode();
        let mut value = Vec::with_capacity(8 + state.len());
        value.extend_from_slice(&recorded_at.0.to_be_bytes());
        value.extend_from_slice(&state);
        self.rows.push(KvWrite {
            table: Table::Snapshots,
            key: key(self.stream, version),
            value: Some(value),
        });
    }

    /// The rows to write: the noted snapshots, or when `erased_at` names
    /// the stream's last version, a deletion of every snapshot up to it.
    pub fn finish(self, erased_at: Option<u64>) -> Vec<KvWrite> {
        let Some(last) = erased_at else {
            return self.rows;
        };
        let stream = self.stream;
        (1..=last / SNAPSHOT_INTERVAL_EVENTS)
            .map(|n| KvWrite {
                table: Table::Snapshots,
                key: key(stream, n * SNAPSHOT_INTERVAL_EVENTS),
                value: None,
            })
            .collect()
    }
}

/// The snapshot of `stream` after `version`, when one is stored.
pub fn read<S: EventStore + ?Sized>(
    store: &S,
    stream: StreamId,
    version: u64,
) -> Result<Option<Snapshot>, AppError> {
    let Some(bytes) = store.get(Table::Snapshots, &key(stream, version))? else {
        return Ok(None);
    };
    let (at, state) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt_with("snapshot", &"shorter than its header"))?;
    Ok(Some(Snapshot {
        version,
        recorded_at: Timestamp(i64::from_be_bytes(*at)),
        state: state.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_domain::PaymentId;

    fn stream() -> StreamId {
        StreamId::payment(PaymentId::from_uuid(uuid::Uuid::from_u128(7)))
    }

    #[test]
    fn only_multiples_of_the_interval_are_due() {
        let n = SNAPSHOT_INTERVAL_EVENTS;
        assert!(!is_due(0));
        assert!(!is_due(1));
        assert!(!is_due(n - 1));
        assert!(is_due(n));
        assert!(is_due(3 * n));
        assert_eq!(due_at_or_before(n - 1), 0);
        assert_eq!(due_at_or_before(n), n);
        assert_eq!(due_at_or_before(2 * n + 5), 2 * n);
    }

    #[test]
    fn an_erasing_write_deletes_every_snapshot_instead_of_writing_one() {
        let n = SNAPSHOT_INTERVAL_EVENTS;
        let mut rows = SnapshotRows::new(stream());
        rows.after(3 * n, Timestamp(5), || b"view".to_vec());
        let deletions = rows.finish(Some(3 * n + 1));
        assert_eq!(deletions.len(), 3);
        assert!(deletions.iter().all(|w| w.value.is_none()));
        assert_eq!(deletions[2].key, key(stream(), 3 * n));
    }

    #[test]
    fn the_stored_snapshot_row_format_is_stable() {
        let order = StreamId::order(payledger_domain::OrderId::from_uuid(uuid::Uuid::from_u128(
            9,
        )));
        let mut payment_rows = SnapshotRows::new(stream());
        payment_rows.after(
            SNAPSHOT_INTERVAL_EVENTS,
            Timestamp(1_767_225_600_000),
            || b"payment view".to_vec(),
        );
        let mut order_rows = SnapshotRows::new(order);
        order_rows.after(2 * SNAPSHOT_INTERVAL_EVENTS, Timestamp(1), || {
            b"order view".to_vec()
        });
        let [payment] = &payment_rows.finish(None)[..] else {
            panic!("one payment snapshot")
        };
        let [order_row] = &order_rows.finish(None)[..] else {
            panic!("one order snapshot")
        };
        let value = |w: &KvWrite| w.value.clone().expect("a put");
        let stored = crate::golden::check(
            "snapshot_rows_v1.txt",
            &[
                ("payment key at 128", payment.key.clone()),
                ("payment value at 2026-01-01", value(payment)),
                ("order key at 256", order_row.key.clone()),
                ("order value at 1 ms", value(order_row)),
            ],
        );
        assert_eq!(stored["payment key at 128"], key(stream(), 128));
        assert_eq!(stored["order key at 256"], key(order, 256));
    }

    #[test]
    fn a_snapshot_reads_back_with_its_version_and_time() {
        let store = payledger_store::memory::MemoryStore::new();
        let mut rows = SnapshotRows::new(stream());
        rows.after(SNAPSHOT_INTERVAL_EVENTS - 1, Timestamp(4), || {
            unreachable!("not due")
        });
        rows.after(SNAPSHOT_INTERVAL_EVENTS, Timestamp(-5), || b"view".to_vec());
        store.write(rows.finish(None)).expect("write");
        let snapshot = read(&store, stream(), SNAPSHOT_INTERVAL_EVENTS)
            .expect("read")
            .expect("stored");
        assert_eq!(
            snapshot,
            Snapshot {
                version: SNAPSHOT_INTERVAL_EVENTS,
                recorded_at: Timestamp(-5),
                state: b"view".to_vec(),
            }
        );
        assert_eq!(
            read(&store, stream(), 2 * SNAPSHOT_INTERVAL_EVENTS).expect("read"),
            None
        );
    }
}
