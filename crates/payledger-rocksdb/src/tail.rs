//! The log's tail in memory: each partition's writer keeps the envelopes
//! of its last [`LOG_TAIL_EVENTS_MAX`] durable events, so the log
//! consumers, which follow the log a few milliseconds behind the writers,
//! read what was just committed without a RocksDB lookup and a decode per
//! event. A read further back than the tail goes to the database.
//!
//! The tail holds only what is durable: the writer adds a group's events
//! after its synced write succeeded and before the partition's signal is
//! notified, so a consumer woken by the signal finds them here. It is
//! always one contiguous run of sequences that ends at the last one the
//! writer committed; a reader that finds its position past that end is
//! caught up (the writer has committed nothing newer).

use payledger_domain::EventEnvelope;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Most events kept per partition. Consumers that linger read a batch
/// every few tens of milliseconds, a few hundred events at most under
/// load; a consumer further behind reads from the database.
pub const LOG_TAIL_EVENTS_MAX: usize = 1_024;

/// One partition's tail.
#[derive(Debug)]
pub(crate) struct LogTail {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Sequence of `events[0]` (of the next event when it is empty).
    first: u64,
    events: VecDeque<EventEnvelope>,
}

impl Inner {
    /// The sequence after the last event kept.
    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }
}

/// What the tail has for a read from one position.
#[derive(Debug, PartialEq)]
pub(crate) enum TailRead {
    /// The events from that position (none: caught up).
    Events(Vec<EventEnvelope>),
    /// The position lies before the tail: read the database.
    Before,
}

impl LogTail {
    /// An empty tail after the partition's last durable `last_sequence`.
    pub(crate) fn after(last_sequence: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                first: last_sequence + 1,
                events: VecDeque::new(),
            }),
        }
    }

    /// Adds the events of a durable group, in sequence order. Events
    /// that do not follow the tail (never expected) start it again from
    /// them, so it stays contiguous.
    pub(crate) fn extend(&self, events: impl IntoIterator<Item = EventEnvelope>) {
        let mut inner = self.lock();
        for event in events {
            if event.partition_sequence != inner.end() {
                inner.events.clear();
                inner.first = event.partition_sequence;
            }
            inner.events.push_back(event);
            if inner.events.len() > LOG_TAIL_EVENTS_MAX {
                inner.events.pop_front();
                inner.first += 1;
            }
        }
    }

    /// Up to `max_events` events from sequence `from`, or
    /// [`TailRead::Before`] when `from` is older than the tail.
    pub(crate) fn read(&self, from: u64, max_events: usize) -> TailRead {
        let inner = self.lock();
        if from < inner.first {
            return TailRead::Before;
        }
        let skip = usize::try_from(from - inner.first).unwrap_or(usize::MAX);
        TailRead::Events(
            inner
                .events
                .iter()
                .skip(skip)
                .take(max_events)
                .cloned()
                .collect(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
