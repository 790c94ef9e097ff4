//! The RocksDB event store of payledger.
//!
//! All partitions live in one RocksDB database with one column family per
//! concern ([`keys`] draws the layout). One writer thread ([`writer`])
//! drains the queue of append requests of every partition (bounded per
//! partition) and commits many of them in one `WriteBatch` with one synced
//! write (group commit), each at the next sequence of its partition's log;
//! a caller is answered only after its batch is durable. Readers go
//! straight to the database and never wait for a writer, except the log
//! readers, which find the last events of each partition in memory
//! ([`tail`]).
//!
//! Architecture invariant: RocksDB bytes never leave this crate; callers see
//! domain envelopes and typed positions only.

pub mod audit;
mod checkpoint;
mod db;
mod keys;
mod known_heads;
mod rebuild;
mod store;
mod tail;
mod writer;

pub use checkpoint::{CheckpointError, CheckpointSummary};
pub use known_heads::KNOWN_HEADS_PER_GENERATION_MAX;
pub use rebuild::{DERIVED_LAYOUT_VERSION, OnStream};
pub use store::{RocksConfig, RocksStore};
pub use tail::LOG_TAIL_EVENTS_MAX;
pub use writer::{APPEND_QUEUE_REQUESTS_MAX, GROUP_COMMIT_EVENTS_MAX, GROUP_COMMIT_REQUESTS_MAX};

#[cfg(test)]
mod tests;
