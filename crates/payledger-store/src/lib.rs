//! The event store contract of payledger.
//!
//! An [`EventStore`] keeps one stream of events per aggregate (a
//! [`StreamId`]: kind and id) and, per partition, a global log of every event in commit order. Appends are
//! optimistic: the caller names the version it expects the stream to be at
//! and gets either the versions and log positions it was assigned or a
//! [`AppendError::Conflict`] carrying the current version.
//!
//! - [`memory`]: an in-memory implementation for tests and tools.
//! - [`LogSignal`]: how a store tells log consumers that a commit happened.
//! - [`conformance`] (feature `conformance`): the suite every implementation
//!   must pass, run with [`event_store_conformance!`].
//!
//! Architecture invariants kept here: versions are contiguous (a stream's
//! version is its number of events), an append is all-or-nothing, log order
//! per partition is commit order, and every event carries the SHA-256 of its
//! predecessor's encoded envelope (a hash chain per stream).

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod memory;
pub mod memory_only;
mod partition;
mod pending;
mod signal;
mod stamp;

pub use partition::{PARTITIONS_DEFAULT, PARTITIONS_MAX, partition_of};
pub use pending::{Completion, PendingAppend, completion};
pub use signal::{LogSignal, LogWaiter};
pub use stamp::{Stamped, StampedEvent, stamp};

use payledger_domain::{Event, EventEnvelope, EventMeta, StreamId};
use sha2::{Digest, Sha256};

/// Most events one append may carry (a request's 500 actions fit easily).
pub const APPEND_EVENTS_MAX: usize = 1_024;

/// The hash that version 1 of every stream points back to.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// A new event as the caller supplies it; the store adds its position.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewEvent {
    pub meta: EventMeta,
    pub event: Event,
}

/// Tables of derived or auxiliary data kept beside the events. Their keys
/// and values are built by the layer that owns them; the store only
/// guarantees atomicity with appends, ordered scans and durability.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Table {
    /// Current Payment views (rebuildable from events): one header row per
    /// payment; its transactions and interactions are in
    /// [`Table::ViewRows`].
    Views,
    /// Unique index: project · key → payment.
    KeyIndex,
    /// Unique index: project · interface · interfaceId → payment.
    InterfaceIndex,
    /// Index: project · customer · payment → ().
    CustomerIndex,
    /// API idempotency records.
    Idempotency,
    /// Event id → payment · version (message lookups).
    EventIds,
    /// Durable cursors of log consumers.
    Cursors,
    /// Due-time task table.
    Tasks,
    /// Types, States and other small catalog resources.
    Catalog,
    /// API clients and their hashed secrets.
    Clients,
    /// Hashed access tokens.
    Tokens,
    /// Index: project · transaction interfaceId · payment → () (finds the
    /// payment a PSP object belongs to).
    TransactionInterfaceIndex,
    /// PSP webhook events already recorded (dedupe by event id).
    WebhookEvents,
    /// Outbound webhook subscriptions.
    Subscriptions,
    /// The rows of a Payment view after its header: one per transaction
    /// and per interface interaction.
    ViewRows,
    /// Current Order views (rebuildable from the orders' events).
    OrderViews,
    /// Unique index: project · orderNumber → order.
    OrderNumberIndex,
    /// Unique index: project · order key → order.
    OrderKeyIndex,
    /// Unique index: project · payment → the order it belongs to.
    PaymentOrders,
    /// Payment links of hosted payment pages: hash of the link's token →
    /// what it pays and until when.
    PaymentLinks,
    /// Cards saved at a PSP for a payment (project · payment): the PSP
    /// customer and method, and whether it may be charged again without
    /// the customer.
    SavedMethods,
    /// Merchants of the signed tokenization API and their public keys, by
    /// merchant number.
    Merchants,
    /// The numbering of each merchant's tokenization orders, transactions,
    /// tokens and daily trace numbers, by merchant number.
    MerchantCounters,
    /// Each merchant's tokenization requests by `merchantReference`
    /// (merchant · reference): the request's hash, the ids it got and its
    /// answer once final.
    MerchantReferences,
    /// Saved-card tokens of the tokenization API (merchant · token id):
    /// references to a PSP customer and payment method.
    PaymentTokens,
    /// Merchant callbacks due (due time · merchant · reference): an
    /// outcome to settle or a notify callback to send.
    MerchantCallbacks,
    /// What the analytics consumer knows of each payment (project ·
    /// payment · …): its PSP, and per transaction the day it was added,
    /// its currency, PSP, type, amount and current state.
    AnalyticsFacts,
    /// Transaction counts and amounts by project · day · currency · PSP ·
    /// type · state · partition, kept by the analytics consumer.
    AnalyticsBuckets,
    /// Per-payment data keys that seal personal data in its events,
    /// wrapped by the master key (payment id → nonce · sealed key).
    /// Erasure deletes the row.
    DataKeys,
    /// Snapshots of long streams for as-of reads (stream · version → the
    /// view after that version), at every multiple of the snapshot
    /// interval. Erasure deletes a payment's snapshots.
    Snapshots,
    /// The Message index by type: project · message type · `createdAt` ·
    /// stream · version → the stream's key at that version. Queries by
    /// type (and time) read only the Messages they may return.
    MessagesByType,
    /// The Message index by time: project · `createdAt` · stream ·
    /// version → the stream's key at that version.
    MessagesByTime,
}

impl Table {
    /// Every table.
    pub const ALL: [Self; 32] = [
        Self::Views,
        Self::KeyIndex,
        Self::InterfaceIndex,
        Self::CustomerIndex,
        Self::Idempotency,
        Self::EventIds,
        Self::Cursors,
        Self::Tasks,
        Self::Catalog,
        Self::Clients,
        Self::Tokens,
        Self::TransactionInterfaceIndex,
        Self::WebhookEvents,
        Self::Subscriptions,
        Self::ViewRows,
        Self::OrderViews,
        Self::OrderNumberIndex,
        Self::OrderKeyIndex,
        Self::PaymentOrders,
        Self::PaymentLinks,
        Self::SavedMethods,
        Self::Merchants,
        Self::MerchantCounters,
        Self::MerchantReferences,
        Self::PaymentTokens,
        Self::MerchantCallbacks,
        Self::AnalyticsFacts,
        Self::AnalyticsBuckets,
        Self::DataKeys,
        Self::Snapshots,
        Self::MessagesByType,
        Self::MessagesByTime,
    ];
}

/// One table entry: key and value bytes.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A put (`Some`) or delete (`None`) of one key in a table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KvWrite {
    pub table: Table,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// An append of one or more events to one stream under an expected version.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub stream: StreamId,
    /// The version the stream must be at; 0 means "must not exist yet".
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
    /// Table writes committed in the same atomic batch as the events (the
    /// inline projections: view, indexes, idempotency record), and only if
    /// the append is accepted.
    pub inline: Vec<KvWrite>,
}

impl AppendRequest {
    /// An append without inline writes.
    pub fn events(stream: StreamId, expected_version: u64, events: Vec<NewEvent>) -> Self {
        Self {
            stream,
            expected_version,
            events,
            inline: Vec::new(),
        }
    }

    /// Checks the request shape before it is queued.
    pub fn validate(&self) -> Result<(), AppendError> {
        match self.events.len() {
            0 => Err(AppendError::Empty),
            n if n > APPEND_EVENTS_MAX => Err(AppendError::TooManyEvents {
                max: APPEND_EVENTS_MAX,
            }),
            _ => Ok(()),
        }
    }
}

/// A place in a partition's global log.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LogPosition {
    pub partition: u16,
    /// 1-based, contiguous within the partition.
    pub sequence: u64,
}

/// What a successful append was assigned.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Appended {
    /// Version of the first appended event.
    pub first_version: u64,
    /// Version of the stream after the append.
    pub last_version: u64,
    /// Log position of each appended event, in order.
    pub positions: Vec<LogPosition>,
}

/// The head of a stream: its version, last hash and partition.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StreamHead {
    pub version: u64,
    /// SHA-256 of the last event's encoded envelope.
    pub last_hash: [u8; 32],
    pub partition: u16,
}

/// An inclusive range of stream versions to read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VersionRange {
    pub from: u64,
    pub to: u64,
}

impl VersionRange {
    /// Every version of the stream.
    pub const ALL: Self = Self {
        from: 1,
        to: u64::MAX,
    };

    /// Versions `from..=to`.
    pub const fn new(from: u64, to: u64) -> Self {
        Self { from, to }
    }
}

/// Infrastructure failures of a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine failure: {0}")]
    Engine(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shutting down")]
    ShuttingDown,
    /// A read inside [`memory_only::memory_only`] needed the disk (or a
    /// durable write was asked for there): run the work off the async
    /// workers instead.
    #[error("the work needs the disk; memory-only reads were asked for")]
    WouldBlock,
}

/// Why an append did not happen. Nothing was written in every case.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("stream is at version {current_version}, not the expected one")]
    Conflict { current_version: u64 },
    #[error("an append needs at least one event")]
    Empty,
    #[error("an append carries at most {max} events")]
    TooManyEvents { max: usize },
    #[error("the append queue of partition {partition} is full")]
    Overloaded { partition: u16 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An event store: one stream per aggregate plus per-partition global logs.
pub trait EventStore: Send + Sync + std::fmt::Debug + 'static {
    /// The fixed number of partitions of this store.
    fn partition_count(&self) -> u16;

    /// Queues an append without blocking. The returned handle resolves once
    /// the append is durable (or was refused); a durable append has
    /// notified its partition on [`EventStore::log_signal`] by then.
    fn submit(&self, request: AppendRequest) -> PendingAppend;

    /// The signal this store notifies after every commit to a partition.
    fn log_signal(&self) -> &LogSignal;

    /// Reads a stream's events within `range`, in version order.
    fn read_stream(
        &self,
        stream: StreamId,
        range: VersionRange,
    ) -> Result<Vec<EventEnvelope>, StoreError>;

    /// Reads up to `max_events` events of a partition's log starting at
    /// `from_sequence` (1-based), in log order.
    fn read_log(
        &self,
        partition: u16,
        from_sequence: u64,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError>;

    /// The head of a stream, or `None` if it has no events.
    fn stream_head(&self, stream: StreamId) -> Result<Option<StreamHead>, StoreError>;

    /// The head of a stream when the store holds it in memory, without
    /// any IO: never older than the last append acknowledged to anyone.
    /// `None` says only that it is not held. (No default: a store that
    /// wraps another must pass it on.)
    fn known_head(&self, stream: StreamId) -> Option<StreamHead>;

    /// The last sequence written to a partition's log (0 when empty).
    fn log_head(&self, partition: u16) -> Result<u64, StoreError>;

    /// [`EventStore::log_head`] of every partition, in partition order;
    /// their sum is the number of events stored.
    fn log_heads(&self) -> Result<Vec<u64>, StoreError> {
        (0..self.partition_count())
            .map(|partition| self.log_head(partition))
            .collect()
    }

    /// Reads one key of a table.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads up to `max_entries` entries of a table with `from <= key < to`,
    /// in key order.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        max_entries: usize,
    ) -> Result<Vec<KeyValue>, StoreError>;

    /// Applies table writes atomically and durably, outside any stream.
    fn write(&self, writes: Vec<KvWrite>) -> Result<(), StoreError>;

    /// Applies table writes atomically, readable at once, without waiting
    /// for the disk: they outlive the process (a `kill -9`), and the next
    /// durable write of anyone carries them to the disk, but a crash of the
    /// machine before that may lose them. Only for progress that is redone
    /// when lost: a log consumer's cursor, and what a consumer derives and
    /// writes with it. A store without the distinction writes durably.
    fn write_progress(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        self.write(writes)
    }

    /// Appends and blocks until the outcome is known. Not for async code:
    /// there, await [`EventStore::submit`]'s handle instead.
    fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        self.submit(request).wait()
    }
}

/// Above every key any table holds (keys are far shorter, and none is all
/// `0xff`): the end of a scan, or a clear, of a whole table.
pub const TABLE_END: &[u8] = &[0xff; 4_096];

/// Reads the rows of `table` with `from <= key < to` in key order,
/// `rows_per_read` at a time, handing each chunk to `on_rows`.
pub fn scan_chunks<S: EventStore + ?Sized, E: From<StoreError>>(
    store: &S,
    table: Table,
    (from, to): (&[u8], &[u8]),
    rows_per_read: usize,
    mut on_rows: impl FnMut(Vec<KeyValue>) -> Result<(), E>,
) -> Result<(), E> {
    let mut next = from.to_vec();
    loop {
        let rows = store.scan(table, &next, to, rows_per_read)?;
        let more = rows.len() == rows_per_read;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        // The smallest key after the last one read.
        next.clone_from(last);
        next.push(0);
        on_rows(rows)?;
        if !more {
            return Ok(());
        }
    }
}

/// SHA-256 of an encoded envelope: the link the next event points back to.
pub fn envelope_hash(encoded: &[u8]) -> [u8; 32] {
    Sha256::digest(encoded).into()
}
