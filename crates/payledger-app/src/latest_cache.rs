//! A bounded in-memory map from a payment to the latest version of
//! something made from it (its view, the JSON of its view), in shards so
//! that requests on different payments rarely wait for one another.
//!
//! Entries are immutable values of one version each: a newer version
//! replaces an older one, never the reverse. The map counts each entry's
//! cost (items, bytes: the entry says) against a budget split evenly over
//! the shards; arbitrary entries of a full shard make room for a new one,
//! and an entry costing more than a shard's share is not kept.

use payledger_domain::PaymentId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What [`LatestCache`] keeps: one version of something of one payment.
pub trait Versioned {
    fn payment_id(&self) -> PaymentId;
    fn version(&self) -> u64;
    /// What the entry counts against the cache's budget, in its unit.
    fn cost(&self) -> usize;
}

#[derive(Debug)]
struct Shard<V> {
    entries: HashMap<PaymentId, Arc<V>>,
    cost: usize,
}

impl<V: Versioned> Shard<V> {
    fn remove(&mut self, id: &PaymentId) {
        if let Some(old) = self.entries.remove(id) {
            self.cost -= old.cost();
        }
    }
}

/// The latest kept version of each payment's `V` (see the module).
#[derive(Debug)]
pub struct LatestCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    /// Each shard's part of the budget.
    share: usize,
}

impl<V: Versioned> LatestCache<V> {
    /// A cache of `shards` shards and `budget` in all.
    pub fn new(shards: usize, budget: usize) -> Self {
        let shards = shards.max(1);
        Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: HashMap::new(),
                        cost: 0,
                    })
                })
                .collect(),
            share: budget / shards,
        }
    }

    fn lock(&self, id: PaymentId) -> MutexGuard<'_, Shard<V>> {
        let byte = usize::from(id.as_bytes()[15]);
        self.shards[byte % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept entry of payment `id`, of whatever version.
    pub fn get(&self, id: PaymentId) -> Option<Arc<V>> {
        self.lock(id).entries.get(&id).cloned()
    }

    /// Keeps `entry` unless a later version of its payment is kept
    /// already; drops the earlier one either way, also when `entry`
    /// costs more than a shard's share.
    pub fn keep(&self, entry: &Arc<V>) {
        let id = entry.payment_id();
        let needed = entry.cost();
        let mut shard = self.lock(id);
        if (shard.entries.get(&id)).is_some_and(|kept| kept.version() >= entry.version()) {
            return;
        }
        shard.remove(&id);
        if needed > self.share {
            return;
        }
        while shard.cost + needed > self.share {
            let Some(victim) = shard.entries.keys().next().copied() else {
                break;
            };
            shard.remove(&victim);
        }
        shard.cost += needed;
        shard.entries.insert(id, Arc::clone(entry));
    }

    /// Forgets payment `id`.
    pub fn forget(&self, id: PaymentId) {
        self.lock(id).remove(&id);
    }

    /// Number of kept entries.
    pub fn len(&self) -> usize {
        (self.shards.iter())
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entries
                    .len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the kept entries cost, in all.
    pub fn cost(&self) -> usize {
        (self.shards.iter())
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).cost)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Entry {
        id: PaymentId,
        version: u64,
        cost: usize,
    }

    impl Versioned for Entry {
        fn payment_id(&self) -> PaymentId {
            self.id
        }
        fn version(&self) -> u64 {
            self.version
        }
        fn cost(&self) -> usize {
            self.cost
        }
    }

    fn entry(id: u8, version: u64, cost: usize) -> Arc<Entry> {
        let mut bytes = [0u8; 16];
        bytes[0] = id;
        Arc::new(Entry {
            id: PaymentId::from_bytes(bytes),
            version,
            cost,
        })
    }

    #[test]
    fn a_newer_version_replaces_an_older_one_and_never_the_reverse() {
        let cache = LatestCache::new(1, 100);
        cache.keep(&entry(1, 2, 10));
        cache.keep(&entry(1, 1, 10));
        assert_eq!(cache.get(entry(1, 0, 0).id).map(|e| e.version), Some(2));
        cache.keep(&entry(1, 3, 30));
        assert_eq!(cache.get(entry(1, 0, 0).id).map(|e| e.version), Some(3));
        assert_eq!((cache.len(), cache.cost()), (1, 30));
    }

    #[test]
    fn a_full_shard_makes_room_and_the_budget_holds() {
        let cache = LatestCache::new(1, 100);
        for id in 0..20 {
            cache.keep(&entry(id, 1, 30));
            assert!(cache.cost() <= 100, "{} after {id}", cache.cost());
        }
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get(entry(19, 0, 0).id).is_some(),
            "the newest is kept"
        );
    }

    #[test]
    fn an_entry_bigger_than_a_share_is_not_kept_and_drops_the_earlier_one() {
        let cache = LatestCache::new(2, 100);
        cache.keep(&entry(1, 1, 10));
        cache.keep(&entry(1, 2, 51));
        assert!(cache.get(entry(1, 0, 0).id).is_none());
        assert_eq!(cache.cost(), 0);
    }

    #[test]
    fn whatever_is_kept_and_forgotten_each_shard_counts_what_it_holds_within_its_share() {
        let cache = LatestCache::new(4, 400);
        let mut state = 1u64;
        for _ in 0..10_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (id, version, cost) = (
                (state >> 33) as u8 % 40,
                (state >> 20) % 8,
                (state >> 8) % 60,
            );
            let mut bytes = [0u8; 16];
            bytes[15] = id;
            let id = PaymentId::from_bytes(bytes);
            if state.is_multiple_of(7) {
                cache.forget(id);
            } else {
                cache.keep(&Arc::new(Entry {
                    id,
                    version,
                    cost: cost as usize,
                }));
            }
            for shard in cache.shards.iter() {
                let shard = shard.lock().unwrap();
                let held: usize = shard.entries.values().map(|e| e.cost).sum();
                assert_eq!(shard.cost, held);
                assert!(shard.cost <= cache.share);
            }
        }
        assert!(!cache.is_empty());
    }

    #[test]
    fn a_forgotten_payment_is_gone_and_no_longer_counted() {
        let cache = LatestCache::new(4, 100);
        cache.keep(&entry(1, 1, 10));
        cache.keep(&entry(2, 1, 10));
        cache.forget(entry(1, 0, 0).id);
        assert!(cache.get(entry(1, 0, 0).id).is_none());
        assert_eq!((cache.len(), cache.cost()), (1, 10));
    }
}
