//! Grants already checked against the store, so that most requests need no
//! store read (and no trip to a blocking thread) to authenticate.
//!
//! Why it stays safe: a token stops working only by expiry or by the
//! revocation of its client. Expiry is checked on every hit. Every
//! revocation of a store happens in the process that has the store open
//! (RocksDB allows one; `payledger clients revoke` goes through the
//! running server's admin socket), and [`revoke_client`](super::revoke_client)
//! bumps the process's revocation epoch after its write. A cached grant
//! remembers the epoch read *before* its store check, and a hit needs that
//! epoch to be the current one; so once a revocation has returned, every
//! later request checks the store again and a revoked client is refused at
//! once.

use super::secret::token_hash;
use super::{AuthError, Grant, authenticate};
use parking_lot::Mutex;
use payledger_store::EventStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most grants a cache holds; a full cache starts again empty.
pub const GRANT_CACHE_ENTRIES_MAX: usize = 10_000;

/// Revocations in this process so far.
static REVOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Called after a client's revocation is durable.
pub(super) fn note_revocation() {
    REVOCATIONS.fetch_add(1, Ordering::SeqCst);
}

fn revocation_epoch() -> u64 {
    REVOCATIONS.load(Ordering::SeqCst)
}

/// The grants of recently seen tokens, keyed by the token's SHA-256 (the
/// token text itself is not kept).
#[derive(Debug, Default)]
pub struct GrantCache {
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

#[derive(Debug)]
struct Cached {
    grant: Grant,
    epoch: u64,
}

impl GrantCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The grant of `token` at `now_ms`, from the cache when it is still
    /// valid there, else from the store (see [`GrantCache::check`]).
    pub fn authenticate<S: EventStore + ?Sized>(
        &self,
        store: &S,
        token: &str,
        now_ms: u64,
    ) -> Result<Grant, AuthError> {
        match self.cached(token, now_ms) {
            Some(grant) => Ok(grant),
            None => self.check(store, token, now_ms),
        }
    }

    /// The grant of `token` at `now_ms` read from the store with
    /// [`authenticate`], then cached: for a caller that already looked in
    /// the cache (on an async worker) and found nothing.
    pub fn check<S: EventStore + ?Sized>(
        &self,
        store: &S,
        token: &str,
        now_ms: u64,
    ) -> Result<Grant, AuthError> {
        let epoch = revocation_epoch();
        let grant = authenticate(store, token, now_ms)?;
        self.remember(token, &grant, epoch);
        Ok(grant)
    }

    /// The cached grant of `token`, if it is unexpired at `now_ms` and was
    /// checked after the last revocation.
    pub fn cached(&self, token: &str, now_ms: u64) -> Option<Grant> {
        let key = token_hash(token);
        let entries = self.entries.lock();
        let cached = entries.get(&key)?;
        (cached.epoch == revocation_epoch() && now_ms < cached.grant.expires_at_ms)
            .then(|| cached.grant.clone())
    }

    fn remember(&self, token: &str, grant: &Grant, epoch: u64) {
        let mut entries = self.entries.lock();
        if entries.len() >= GRANT_CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(
            token_hash(token),
            Cached {
                grant: grant.clone(),
                epoch,
            },
        );
    }
}
