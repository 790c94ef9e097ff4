//! In-process claims on unique values while a command is in flight.
//!
//! Unique indexes (payment key, interface id) and idempotency keys span
//! partitions, so the store's per-partition version checks cannot check
//! them atomically.
//! A command claims every unique value it is about to write before it reads
//! the index, and releases the claim once its append is durable or refused.
//! One process serves a store (RocksDB's lock guarantees it), so an
//! in-process set is enough.

use parking_lot::Mutex;
use payledger_store::Table;
use std::collections::HashSet;
use std::sync::Arc;

/// A claim on the unique `key` of `table`: the table's tag byte (its place
/// in [`Table::ALL`]), then the key.
pub fn table_claim(table: Table, key: &[u8]) -> Vec<u8> {
    let tag = Table::ALL
        .iter()
        .position(|t| *t == table)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX);
    let mut claim = Vec::with_capacity(1 + key.len());
    claim.push(tag);
    claim.extend_from_slice(key);
    claim
}

/// The table and key of a claim made by [`table_claim`].
pub fn claimed_in(claim: &[u8]) -> (Option<Table>, &[u8]) {
    match claim.split_first() {
        Some((tag, key)) => (Table::ALL.get(usize::from(*tag)).copied(), key),
        None => (None, claim),
    }
}

/// The set of values currently claimed.
#[derive(Debug, Default, Clone)]
pub struct UniqueClaims {
    held: Arc<Mutex<HashSet<Vec<u8>>>>,
}

/// Held claims; dropping releases them.
#[derive(Debug)]
pub struct ClaimGuard {
    held: Arc<Mutex<HashSet<Vec<u8>>>>,
    values: Vec<Vec<u8>>,
}

impl UniqueClaims {
    /// Claims every value or none. Returns the first value another command
    /// holds when the claim fails.
    pub fn claim(&self, values: Vec<Vec<u8>>) -> Result<ClaimGuard, Vec<u8>> {
        let mut held = self.held.lock();
        if let Some(taken) = values.iter().find(|v| held.contains(*v)) {
            return Err(taken.clone());
        }
        for value in &values {
            held.insert(value.clone());
        }
        Ok(ClaimGuard {
            held: Arc::clone(&self.held),
            values,
        })
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let mut held = self.held.lock();
        for value in &self.values {
            held.remove(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_held_by_one_command_at_a_time() {
        let claims = UniqueClaims::default();
        let first = claims.claim(vec![b"k1".to_vec(), b"k2".to_vec()]).unwrap();
        assert_eq!(
            claims.claim(vec![b"k2".to_vec()]).unwrap_err(),
            b"k2".to_vec()
        );
        // A failed claim takes nothing.
        assert!(claims.claim(vec![b"k3".to_vec(), b"k1".to_vec()]).is_err());
        assert!(claims.claim(vec![b"k3".to_vec()]).is_ok());
        drop(first);
        assert!(claims.claim(vec![b"k1".to_vec(), b"k2".to_vec()]).is_ok());
    }
}
