//! The stream heads the writer committed to or read lately, per partition, kept in
//! memory: the writer checks an append's expected version against them
//! without a store read, and readers learn a stream's version without one
//! ([`payledger_store::EventStore::known_head`]).
//!
//! Only the writer writes the heads of streams, and it keeps
//! a head here once the head is durable and before any caller hears back.
//! So a known head is the stored one, or, in the moment between a write
//! and its keeping, the one before a write no caller has been told of.
//! Two generations bound the memory: when the newer one is full the older
//! one is dropped, and every commit puts its streams' heads in the newer.

use payledger_domain::StreamId;
use payledger_store::StreamHead;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// Stream heads kept in each of the two generations of a partition's
/// [`KnownHeads`]: at most twice this many per partition, about 100 bytes
/// each.
pub const KNOWN_HEADS_PER_GENERATION_MAX: usize = 4_096;

/// One partition's known heads (see the module).
#[derive(Debug, Default)]
pub(crate) struct KnownHeads(RwLock<Generations>);

#[derive(Debug, Default)]
struct Generations {
    newer: HashMap<StreamId, StreamHead>,
    older: HashMap<StreamId, StreamHead>,
}

impl KnownHeads {
    /// The known head of `stream`; `None` says only that it is not known.
    pub(crate) fn get(&self, stream: StreamId) -> Option<StreamHead> {
        let generations = self.0.read().unwrap_or_else(PoisonError::into_inner);
        (generations.newer.get(&stream))
            .or_else(|| generations.older.get(&stream))
            .copied()
    }

    /// Keeps the heads a durable commit left.
    pub(crate) fn keep_all(&self, heads: impl IntoIterator<Item = (StreamId, StreamHead)>) {
        let mut generations = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for (stream, head) in heads {
            generations.keep(stream, head);
        }
    }

    /// Heads kept in all, for the tests of the bound.
    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.0.read().unwrap_or_else(PoisonError::into_inner);
        generations.newer.len() + generations.older.len()
    }
}

impl Generations {
    fn keep(&mut self, stream: StreamId, head: StreamHead) {
        if self.newer.len() >= KNOWN_HEADS_PER_GENERATION_MAX && !self.newer.contains_key(&stream) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.older.remove(&stream);
        self.newer.insert(stream, head);
    }
}

#[cfg(test)]
mod tests;
