//! In-process claims on unique values while a command is in flight.
//!
//! Unique indexes (payment key, interface id) and idempotency keys span
//! partitions, so the per-partition writers cannot check them atomically.
//! A command claims every unique value it is about to write before it reads
//! the index, and releases the claim once its append is durable or refused.
//! One process serves a store (RocksDB's lock guarantees it), so an
//! in-process set is enough.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;

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
