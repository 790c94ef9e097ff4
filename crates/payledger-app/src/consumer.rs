//! Log consumers: durable cursors over the partition logs, and the signal
//! that tells consumers new events were committed.
//!
//! Every consumer that is not an inline projection (the Kafka relay, the
//! webhook deliveries, analytics) tails each partition's log from a cursor
//! it stores in [`Table::Cursors`], and advances the cursor only after its
//! effect is durable: delivery is at least once, and a consumer restarted
//! after a crash resumes where its last saved cursor points.
//!
//! | table   | key                                        | value |
//! |---------|--------------------------------------------|-------|
//! | Cursors | consumer name (length-prefixed) · partition (u16 BE) | last processed sequence (u64 BE) · optional last error |
//!
//! The optional last error is `failed at (unix ms, u64 BE) · UTF-8 text`,
//! or, when the handler keeps a count of its attempts ([`RetryState`]),
//! `1 · failed at · retried sequence (u64 BE) · attempts (u32 BE) · first
//! failed at (unix ms, u64 BE) · UTF-8 text` (the first byte of a plain
//! error is the high byte of its time, always 0). A successful save clears
//! it, so the error an operator sees is always the one that is currently
//! holding the cursor back.
//!
//! Consumers run on the one runner in [`runner`]: they supply a
//! [`LogHandler`], and wait for new events on the store's commit signal
//! ([`payledger_store::LogSignal`]), which every commit notifies.

use crate::clock::{Clock, SystemClock};
use crate::table_keys::push_text;
use payledger_domain::EventEnvelope;
use payledger_store::{EventStore, KvWrite, StoreError, Table};

mod runner;
pub use runner::{
    ConsumerConfig, ConsumerFailure, Handled, LogConsumer, LogHandler, PartitionConsumer, Stepped,
    Stop,
};

/// Most events one [`Cursor::next_batch`] reads.
pub const LOG_BATCH_EVENTS_MAX: usize = 5_000;

/// Longest stored last-error text, in bytes.
pub const CURSOR_ERROR_BYTES_MAX: usize = 1_024;

/// Most cursor rows [`list_cursors`] reads.
pub const CURSORS_LISTED_MAX: usize = 100_000;

/// A consumer's place in one partition's log.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cursor {
    pub consumer: String,
    pub partition: u16,
    /// The last sequence whose effect is durable (0: nothing processed).
    pub sequence: u64,
    /// The failure currently holding the cursor back, if any.
    pub last_error: Option<CursorError>,
}

/// A failure recorded on a cursor.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CursorError {
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub message: String,
    /// The handler's count of attempts at the item that failed.
    pub retry: Option<RetryState>,
}

/// A handler's count of failed attempts at one item of the log (a webhook
/// delivery's Message), stored with the failure on the cursor so that a
/// bound on its retries holds across restarts
/// ([`LogHandler::retry_state`], [`LogHandler::resume`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RetryState {
    /// The item's log sequence.
    pub sequence: u64,
    /// Its failed attempts so far.
    pub attempts: u32,
    /// When its first attempt failed, in milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
}

/// First byte of a stored error that carries a [`RetryState`].
const ERROR_WITH_RETRY: u8 = 1;

impl CursorError {
    /// A failure at `at_ms` (milliseconds since the Unix epoch).
    pub fn at(at_ms: i64, message: impl Into<String>) -> Self {
        Self {
            at_unix_ms: u64::try_from(at_ms).unwrap_or(0),
            message: message.into(),
            retry: None,
        }
    }

    /// The same failure, with the handler's count of attempts.
    pub fn with_retry(self, retry: Option<RetryState>) -> Self {
        Self { retry, ..self }
    }

    /// A failure that happens now, by the wall clock.
    pub fn now(message: impl Into<String>) -> Self {
        Self::at(SystemClock.now_ms(), message)
    }
}

impl Cursor {
    /// The cursor of `consumer` on `partition`, at 0 if it was never saved.
    pub fn load<S: EventStore + ?Sized>(
        store: &S,
        consumer: &str,
        partition: u16,
    ) -> Result<Self, StoreError> {
        let bytes = store.get(Table::Cursors, &cursor_key(consumer, partition))?;
        let (sequence, last_error) = match bytes {
            Some(bytes) => decode_value(&bytes)?,
            None => (0, None),
        };
        Ok(Self {
            consumer: consumer.to_owned(),
            partition,
            sequence,
            last_error,
        })
    }

    /// Durably records that everything up to `sequence` was processed, and
    /// clears the last error.
    pub fn save<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        sequence: u64,
    ) -> Result<(), StoreError> {
        assert!(
            sequence >= self.sequence,
            "cursor {}/{} moves backwards: {} -> {sequence}",
            self.consumer,
            self.partition,
            self.sequence
        );
        self.write(store, sequence, None)
    }

    /// Durably records the failure that holds the cursor at its sequence.
    pub fn save_error<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        error: CursorError,
    ) -> Result<(), StoreError> {
        self.write(store, self.sequence, Some(error))
    }

    /// Moves the cursor to `sequence` and records the failure that holds
    /// it there, in one write.
    pub fn save_error_at<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        sequence: u64,
        error: CursorError,
    ) -> Result<(), StoreError> {
        assert!(
            sequence >= self.sequence,
            "cursor {}/{} moves backwards: {} -> {sequence}",
            self.consumer,
            self.partition,
            self.sequence
        );
        self.write(store, sequence, Some(error))
    }

    fn write<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        sequence: u64,
        last_error: Option<CursorError>,
    ) -> Result<(), StoreError> {
        let value = encode_value(sequence, last_error.as_ref());
        // Progress: a cursor lost with the machine is moved again over
        // the same events, which a consumer handles more than once anyway
        // (its effects and its cursor are two writes).
        store.write_progress(vec![KvWrite {
            table: Table::Cursors,
            key: cursor_key(&self.consumer, self.partition),
            value: Some(value),
        }])?;
        self.sequence = sequence;
        self.last_error = last_error;
        Ok(())
    }

    /// The write that places `consumer`'s cursor on `partition` at
    /// `sequence` (a consumer that starts at the log head, not at 0).
    pub fn write_at(consumer: &str, partition: u16, sequence: u64) -> KvWrite {
        KvWrite {
            table: Table::Cursors,
            key: cursor_key(consumer, partition),
            value: Some(encode_value(sequence, None)),
        }
    }

    /// The write that keeps this cursor and its failure but forgets the
    /// handler's count of attempts (`None` when there is none), so a
    /// handler made after it starts counting again.
    pub fn forget_retry(&self) -> Option<KvWrite> {
        let error = self.last_error.as_ref().filter(|e| e.retry.is_some())?;
        let plain = CursorError {
            retry: None,
            ..error.clone()
        };
        Some(KvWrite {
            table: Table::Cursors,
            key: cursor_key(&self.consumer, self.partition),
            value: Some(encode_value(self.sequence, Some(&plain))),
        })
    }

    /// The write that forgets `consumer`'s cursor on `partition`.
    pub fn removal(consumer: &str, partition: u16) -> KvWrite {
        KvWrite {
            table: Table::Cursors,
            key: cursor_key(consumer, partition),
            value: None,
        }
    }

    /// The next events after the cursor, at most `max_events` (bounded by
    /// [`LOG_BATCH_EVENTS_MAX`]), in log order.
    pub fn next_batch<S: EventStore + ?Sized>(
        &self,
        store: &S,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let max = max_events.clamp(1, LOG_BATCH_EVENTS_MAX);
        let events = store.read_log(self.partition, self.sequence + 1, max)?;
        // The log has no gaps: what follows the cursor is contiguous.
        for (offset, event) in (1u64..).zip(&events) {
            assert_eq!(
                event.partition_sequence,
                self.sequence + offset,
                "partition {} log read out of order",
                self.partition
            );
        }
        Ok(events)
    }

    /// Events of this partition not processed yet.
    pub fn lag<S: EventStore + ?Sized>(&self, store: &S) -> Result<u64, StoreError> {
        Ok(store
            .log_head(self.partition)?
            .saturating_sub(self.sequence))
    }
}

/// Every saved cursor of every consumer, in (consumer, partition) order.
pub fn list_cursors<S: EventStore + ?Sized>(store: &S) -> Result<Vec<Cursor>, StoreError> {
    // Keys start with the name's u16 length; names are far shorter than
    // 0xFFFF bytes, so every key sorts below [0xFF; 3].
    let rows = store.scan(Table::Cursors, &[], &[u8::MAX; 3], CURSORS_LISTED_MAX)?;
    rows.into_iter()
        .map(|(key, value)| {
            let (consumer, partition) = decode_key(&key)?;
            let (sequence, last_error) = decode_value(&value)?;
            Ok(Cursor {
                consumer,
                partition,
                sequence,
                last_error,
            })
        })
        .collect()
}

/// The key of a consumer's cursor on a partition.
pub fn cursor_key(consumer: &str, partition: u16) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + consumer.len() + 2);
    push_text(&mut key, consumer);
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

fn decode_key(key: &[u8]) -> Result<(String, u16), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("cursor key {}", hex::encode(key)));
    let (name, partition) = crate::table_keys::split_text(key).ok_or_else(corrupt)?;
    let partition: [u8; 2] = partition.try_into().map_err(|_| corrupt())?;
    let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
    Ok((name, u16::from_be_bytes(partition)))
}

fn encode_value(sequence: u64, error: Option<&CursorError>) -> Vec<u8> {
    let mut value = sequence.to_be_bytes().to_vec();
    if let Some(error) = error {
        if error.retry.is_some() {
            value.push(ERROR_WITH_RETRY);
        }
        value.extend_from_slice(&error.at_unix_ms.to_be_bytes());
        if let Some(retry) = &error.retry {
            value.extend_from_slice(&retry.sequence.to_be_bytes());
            value.extend_from_slice(&retry.attempts.to_be_bytes());
            value.extend_from_slice(&retry.since_unix_ms.to_be_bytes());
        }
        let mut end = error.message.len().min(CURSOR_ERROR_BYTES_MAX);
        while !error.message.is_char_boundary(end) {
            end -= 1;
        }
        value.extend_from_slice(&error.message.as_bytes()[..end]);
    }
    value
}

fn decode_value(value: &[u8]) -> Result<(u64, Option<CursorError>), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("cursor value of {} bytes", value.len()));
    let sequence: [u8; 8] = value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    let u64_at = |bytes: &[u8], at: usize| -> Result<u64, StoreError> {
        let field = bytes.get(at..at + 8).and_then(|b| b.try_into().ok());
        field.map(u64::from_be_bytes).ok_or_else(corrupt)
    };
    let error = match value.get(8..) {
        None | Some([]) => None,
        Some([ERROR_WITH_RETRY, rest @ ..]) => {
            let attempts = rest.get(16..20).and_then(|b| b.try_into().ok());
            let retry = RetryState {
                sequence: u64_at(rest, 8)?,
                attempts: attempts.map(u32::from_be_bytes).ok_or_else(corrupt)?,
                since_unix_ms: u64_at(rest, 20)?,
            };
            Some(CursorError {
                at_unix_ms: u64_at(rest, 0)?,
                message: String::from_utf8_lossy(&rest[28..]).into_owned(),
                retry: Some(retry),
            })
        }
        Some(rest) => Some(CursorError {
            at_unix_ms: u64_at(rest, 0)?,
            message: String::from_utf8_lossy(&rest[8..]).into_owned(),
            retry: None,
        }),
    };
    Ok((u64::from_be_bytes(sequence), error))
}

#[cfg(test)]
mod tests;
