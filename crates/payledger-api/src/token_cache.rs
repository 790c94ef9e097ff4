//! A bounded in-process cache of authenticated tokens.
//!
//! Checking a bearer token reads the store twice (token, then client); the
//! cache keeps the resulting grant, keyed by the SHA-256 of the token, until
//! the token expires. It is safe because grants only end by expiry while
//! the server runs: clients are revoked with the CLI, which needs the
//! server stopped, and a restart starts with an empty cache.

use parking_lot::Mutex;
use payledger_app::auth::Grant;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Most grants kept; when full, the cache is cleared and refills.
pub const TOKEN_CACHE_ENTRIES_MAX: usize = 10_000;

/// Grants of recently seen tokens.
#[derive(Debug, Default)]
pub struct TokenCache {
    grants: Mutex<HashMap<[u8; 32], Grant>>,
}

fn fingerprint(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenCache {
    /// The grant of `token` if it is cached and not expired at `now_ms`.
    pub fn get(&self, token: &str, now_ms: u64) -> Option<Grant> {
        let key = fingerprint(token);
        let mut grants = self.grants.lock();
        match grants.get(&key) {
            Some(grant) if grant.expires_at_ms > now_ms => Some(grant.clone()),
            Some(_) => {
                grants.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers the grant of a token that was just authenticated.
    pub fn insert(&self, token: &str, grant: Grant) {
        let mut grants = self.grants.lock();
        if grants.len() >= TOKEN_CACHE_ENTRIES_MAX {
            grants.clear();
        }
        grants.insert(fingerprint(token), grant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires_at_ms: u64) -> Grant {
        Grant {
            client_id: "c".into(),
            scopes: Vec::new(),
            expires_at_ms,
        }
    }

    #[test]
    fn a_cached_grant_lives_until_its_token_expires() {
        let cache = TokenCache::default();
        cache.insert("t", grant(100));
        assert_eq!(cache.get("t", 99), Some(grant(100)));
        assert_eq!(cache.get("t", 100), None, "expired at its expiry instant");
        assert_eq!(cache.get("t", 50), None, "an expired grant is dropped");
        assert_eq!(cache.get("other", 1), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TokenCache::default();
        for n in 0..=TOKEN_CACHE_ENTRIES_MAX {
            cache.insert(&n.to_string(), grant(10));
        }
        assert!(cache.grants.lock().len() <= TOKEN_CACHE_ENTRIES_MAX);
    }
}
