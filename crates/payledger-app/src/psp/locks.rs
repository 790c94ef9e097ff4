//! Per-aggregate locks: all PSP work on one payment (executor, refresh,
//! resume) runs one at a time in this process, so an in-flight call is
//! never mistaken for an interrupted one; the attempts of one order
//! (retry, collect) are made one at a time the same way. One process
//! serves a store (see [`crate::unique_claims`]), so in-process locks are
//! enough. Entries are removed when the last holder or waiter lets go, so
//! the map holds only what is being worked on.

use parking_lot::Mutex;
use payledger_domain::{OrderId, PaymentId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

type Slot = Arc<tokio::sync::Mutex<()>>;
type Slots<K> = Arc<Mutex<HashMap<K, Slot>>>;

/// The locks of the aggregates being worked on, by id.
#[derive(Debug)]
pub struct KeyedLocks<K> {
    slots: Slots<K>,
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self {
            slots: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// The locks of the payments being worked on.
pub type PaymentLocks = KeyedLocks<PaymentId>;
/// The locks of the orders whose attempts are being made.
pub type OrderLocks = KeyedLocks<OrderId>;

/// Held while working on one aggregate; dropping releases it.
#[derive(Debug)]
pub struct KeyedGuard<K: Eq + Hash> {
    slots: Slots<K>,
    key: K,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// Held while working on a payment.
pub type PaymentGuard = KeyedGuard<PaymentId>;

impl<K: Eq + Hash + Copy> KeyedLocks<K> {
    /// Waits until `key` is free and takes it.
    pub async fn lock(&self, key: K) -> KeyedGuard<K> {
        let slot = Arc::clone(self.slots.lock().entry(key).or_default());
        let guard = slot.lock_owned().await;
        KeyedGuard {
            slots: Arc::clone(&self.slots),
            key,
            guard: Some(guard),
        }
    }

    /// Keys currently locked or awaited.
    pub fn len(&self) -> usize {
        self.slots.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Eq + Hash> Drop for KeyedGuard<K> {
    fn drop(&mut self) {
        let mut slots = self.slots.lock();
        drop(self.guard.take());
        // The map's Arc is the only one left: nobody holds or awaits it.
        if slots
            .get(&self.key)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_payment_is_held_by_one_worker_and_entries_are_dropped() {
        let locks = PaymentLocks::default();
        let a = PaymentId::from_bytes([1; 16]);
        let b = PaymentId::from_bytes([2; 16]);
        let first = locks.lock(a).await;
        let _other = locks.lock(b).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock(a));
        assert!(waiting.await.is_err(), "a second lock of a payment waits");
        drop(first);
        let again = locks.lock(a).await;
        drop(again);
        assert_eq!(locks.len(), 1);
    }
}
