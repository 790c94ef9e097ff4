//! The log's tail in memory: the writer keeps, for each partition, the envelopes
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
    /// Most events kept ([`LOG_TAIL_EVENTS_MAX`] but in tests).
    capacity: usize,
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
        Self::with_capacity(last_sequence, LOG_TAIL_EVENTS_MAX)
    }

    fn with_capacity(last_sequence: u64, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                first: last_sequence + 1,
                events: VecDeque::new(),
            }),
            capacity,
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
            if inner.events.len() > self.capacity {
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

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::conformance::{event, new_payment};
    use proptest::prelude::*;

    /// An envelope at log position `sequence`.
    fn at(sequence: u64) -> EventEnvelope {
        let stamped =
            payledger_store::stamp(new_payment(), None, 0, sequence - 1, vec![event("t")]);
        stamped
            .events
            .into_iter()
            .next()
            .expect("one event")
            .envelope
    }

    proptest! {
        /// Whatever groups the writer adds, the tail holds the last
        /// `capacity` events and reads as the log does from any position
        /// it holds, and says so for any position before them.
        #[test]
        fn the_tail_reads_as_the_log_from_every_position_it_holds(
            last in 0u64..5,
            groups in prop::collection::vec(1usize..20, 0..30),
            reads in prop::collection::vec((0u64..700, 0usize..80), 1..30),
        ) {
            const CAPACITY: usize = 64;
            let tail = LogTail::with_capacity(last, CAPACITY);
            let mut next = last + 1;
            for size in groups {
                let group: Vec<_> = (next..next + size as u64).map(at).collect();
                next += size as u64;
                tail.extend(group);
            }
            let kept_from = (last + 1).max(next.saturating_sub(CAPACITY as u64));
            for (from, max) in reads {
                let read = tail.read(from, max);
                if from < kept_from {
                    prop_assert_eq!(read, TailRead::Before);
                    continue;
                }
                let TailRead::Events(events) = read else {
                    return Err(TestCaseError::fail(format!("{from} is held")));
                };
                let sequences: Vec<u64> = events.iter().map(|e| e.partition_sequence).collect();
                let expected: Vec<u64> = (from..next).take(max).collect();
                prop_assert_eq!(sequences, expected);
            }
        }
    }

    #[test]
    fn events_that_do_not_follow_the_tail_start_it_again() {
        let tail = LogTail::with_capacity(0, 8);
        tail.extend([at(1), at(2)]);
        tail.extend([at(5)]);
        assert_eq!(tail.read(2, 10), TailRead::Before);
        let TailRead::Events(events) = tail.read(5, 10) else {
            panic!("5 is held");
        };
        let sequences: Vec<u64> = events.iter().map(|e| e.partition_sequence).collect();
        assert_eq!(sequences, [5]);
    }
}
