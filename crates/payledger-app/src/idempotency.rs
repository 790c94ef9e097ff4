//! Durable idempotency records for API requests: one scheme, always
//! written in the same atomic write as the change it answers, so a change
//! and its record are durable together or not at all.
//!
//! - Payment commands: the record is part of the command's append and
//!   points at the response rather than storing it: the payment and the
//!   version the request left it at. Replaying rebuilds the response from
//!   the stream, so the record is small and the answer is exactly the
//!   original one. Format below.
//! - Types, States and Subscriptions have no history to rebuild from: the
//!   API renders the answer from the resource the use case is about to
//!   write ([`Answer`]), and the use case writes it in the same batch,
//!   under its write lock, after checking that no answer exists for the
//!   key yet ([`AnswerError::Recorded`] otherwise).
//!
//! | bytes | field |
//! |---|---|
//! | 32 | SHA-256 of the request (method, path, body) |
//! | 1  | kind: 1 create, 2 update, 3 delete |
//! | 16 | payment id |
//! | 8  | version (u64 BE) |

use payledger_domain::{PaymentId, ProjectKey};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use std::any::Any;
use std::sync::Arc;

/// Longest accepted `Idempotency-Key`, in bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// What a client's `Idempotency-Key` header asks for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Idempotency {
    pub key: String,
    /// SHA-256 of the request (the API decides what goes in).
    pub request_hash: [u8; 32],
}

/// Which use case a record answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PaymentAnswerKind {
    Create = 1,
    Update = 2,
    Delete = 3,
}

/// A stored idempotency record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentAnswer {
    pub request_hash: [u8; 32],
    pub kind: PaymentAnswerKind,
    pub payment_id: PaymentId,
    pub version: u64,
}

impl PaymentAnswer {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(57);
        bytes.extend_from_slice(&self.request_hash);
        bytes.push(self.kind as u8);
        bytes.extend_from_slice(self.payment_id.as_bytes());
        bytes.extend_from_slice(&self.version.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 57 {
            return None;
        }
        let kind = match bytes[32] {
            1 => PaymentAnswerKind::Create,
            2 => PaymentAnswerKind::Update,
            3 => PaymentAnswerKind::Delete,
            _ => return None,
        };
        Some(Self {
            request_hash: bytes[..32].try_into().ok()?,
            kind,
            payment_id: PaymentId::from_bytes(bytes[33..49].try_into().ok()?),
            version: u64::from_be_bytes(bytes[49..57].try_into().ok()?),
        })
    }
}

/// The row of [`Table::Idempotency`] that holds the answer to a Type,
/// State or Subscription request with `Idempotency-Key` `key`. Header
/// values cannot hold control characters, so the `\u{1}` in front keeps
/// these rows apart from those of payment commands.
pub fn resource_answer_key(project: &ProjectKey, key: &str) -> Vec<u8> {
    crate::table_keys::idempotency_key(project, &format!("\u{1}{key}"))
}

/// The answer recorded in row `key` ([`resource_answer_key`]), if any.
pub fn recorded_answer(
    store: &(impl EventStore + ?Sized),
    key: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    store.get(Table::Idempotency, key)
}

/// Renders the stored answer (the idempotency row's value) from the
/// resource as written, or as it was before a delete. The resource comes
/// as `Any` (a `TypeRecord`, `StateRecord` or `SubscriptionRecord`): the
/// route that builds the answer knows which, and this module stays below
/// the use cases that call it.
pub type RenderAnswer = dyn Fn(&dyn Any) -> Vec<u8> + Send + Sync;

/// The answer to record for a request that carried an `Idempotency-Key`.
#[derive(Clone)]
pub struct Answer {
    /// The row of [`Table::Idempotency`] the answer goes to.
    pub key: Vec<u8>,
    pub render: Arc<RenderAnswer>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("key", &hex::encode(&self.key))
            .finish_non_exhaustive()
    }
}

/// Why an answer cannot be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Another request with the same key was answered since this one
    /// looked (they ran at the same time): this one changes nothing.
    #[error("a request with this Idempotency-Key was answered meanwhile")]
    Recorded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Answer {
    /// Fails when the key already has an answer. Call under the use case's
    /// write lock, before its write.
    pub fn check_unused(&self, store: &(impl EventStore + ?Sized)) -> Result<(), AnswerError> {
        match store.get(Table::Idempotency, &self.key)? {
            Some(_) => Err(AnswerError::Recorded),
            None => Ok(()),
        }
    }

    /// The write that records the answer for `answered`, for the use
    /// case's batch.
    pub fn write(&self, answered: &dyn Any) -> KvWrite {
        KvWrite {
            table: Table::Idempotency,
            key: self.key.clone(),
            value: Some((self.render)(answered)),
        }
    }
}

/// Writes `writes` and the answer to record for `answered` (if the
/// request carried a key) in one atomic write, once it is checked that the
/// key has no answer yet; writes nothing when there is nothing to write.
/// Call under the use case's write lock.
pub fn write_answered(
    store: &(impl EventStore + ?Sized),
    answer: Option<&Answer>,
    answered: &dyn Any,
    mut writes: Vec<KvWrite>,
) -> Result<(), AnswerError> {
    if let Some(answer) = answer {
        answer.check_unused(store)?;
        writes.push(answer.write(answered));
    }
    if !writes.is_empty() {
        store.write(writes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_record_format_is_stable() {
        let records = [
            ("create", PaymentAnswerKind::Create),
            ("update", PaymentAnswerKind::Update),
            ("delete", PaymentAnswerKind::Delete),
        ]
        .map(|(name, kind)| {
            let record = PaymentAnswer {
                request_hash: [0xab; 32],
                kind,
                payment_id: PaymentId::from_bytes([4; 16]),
                version: 7,
            };
            (name, record)
        });
        let rows: Vec<(&str, Vec<u8>)> = records
            .iter()
            .map(|(name, r)| (*name, r.encode()))
            .collect();
        let stored = crate::golden::check("idempotency_record_v1.txt", &rows);
        for (name, record) in records {
            assert_eq!(PaymentAnswer::decode(&stored[name]), Some(record), "{name}");
        }
    }

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let record = PaymentAnswer {
            request_hash: [9; 32],
            kind: PaymentAnswerKind::Delete,
            payment_id: PaymentId::from_bytes([4; 16]),
            version: 7,
        };
        assert_eq!(PaymentAnswer::decode(&record.encode()), Some(record));
        assert_eq!(PaymentAnswer::decode(&[0; 56]), None);
        let mut bad_kind = [0u8; 57];
        bad_kind[32] = 9;
        assert_eq!(PaymentAnswer::decode(&bad_kind), None);
    }
}
