//! Per-payment locks: all PSP work on one payment (executor, refresh,
//! resume) runs one at a time in this process, so an in-flight call is
//! never mistaken for an interrupted one. One process serves a store (see
//! [`crate::unique_claims`]), so in-process locks are enough. Entries are removed
//! when the last holder or waiter lets go, so the map holds only payments
//! being worked on.

use parking_lot::Mutex;
use payledger_domain::PaymentId;
use std::collections::HashMap;
use std::sync::Arc;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// The locks of the payments being worked on.
#[derive(Debug, Default)]
pub struct PaymentLocks {
    slots: Arc<Mutex<HashMap<PaymentId, Slot>>>,
}

/// Held while working on a payment; dropping releases it.
#[derive(Debug)]
pub struct PaymentGuard {
    slots: Arc<Mutex<HashMap<PaymentId, Slot>>>,
    payment_id: PaymentId,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl PaymentLocks {
    /// Waits until the payment is free and takes it.
    pub async fn lock(&self, payment_id: PaymentId) -> PaymentGuard {
        let slot = Arc::clone(self.slots.lock().entry(payment_id).or_default());
        let guard = slot.lock_owned().await;
        PaymentGuard {
            slots: Arc::clone(&self.slots),
            payment_id,
            guard: Some(guard),
        }
    }

    /// Payments currently locked or awaited.
    pub fn len(&self) -> usize {
        self.slots.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PaymentGuard {
    fn drop(&mut self) {
        let mut slots = self.slots.lock();
        drop(self.guard.take());
        // The map's Arc is the only one left: nobody holds or awaits it.
        if slots
            .get(&self.payment_id)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(&self.payment_id);
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
