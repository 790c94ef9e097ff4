//! Client secrets and access tokens: a wrapper that keeps them out of logs,
//! and the slow salted hash client secrets are stored as.
//!
//! Secrets are hashed with PBKDF2-HMAC-SHA256 ([`SECRET_HASH_ITERATIONS`]
//! rounds, 16-byte random salt). The round count is stored with each hash,
//! so it can be raised later without invalidating existing clients. Access
//! tokens are 256-bit random values and need no slow hash: they are stored as
//! their plain SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// PBKDF2 rounds for new client secrets. OWASP's 2021 guidance for
/// PBKDF2-HMAC-SHA256; about 35 ms of one core with SHA extensions, paid once
/// per token request (not per API call).
pub const SECRET_HASH_ITERATIONS: u32 = 310_000;

/// Most rounds a stored hash may ask for; a larger count is a corrupt record
/// (it would stall the verifying thread).
pub const SECRET_HASH_ITERATIONS_MAX: u32 = 10_000_000;

/// Fewest rounds a stored hash may have.
pub const SECRET_HASH_ITERATIONS_MIN: u32 = 1;

/// Length of a salt, in bytes.
pub const SALT_BYTES: usize = 16;

/// Length of a derived hash, in bytes.
pub const HASH_BYTES: usize = 32;

/// A client secret or access token: `Debug` and `Display` never show the
/// value (the same wrapper the PSP settings use).
pub use payledger_psp::Secret;

/// A salted PBKDF2-HMAC-SHA256 hash of a client secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretHash {
    pub iterations: u32,
    pub salt: [u8; SALT_BYTES],
    pub hash: [u8; HASH_BYTES],
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl SecretHash {
    /// Hashes `secret` with a fresh random salt.
    pub fn create(secret: &Secret) -> Self {
        let mut salt = [0; SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        Self::with_salt(secret, salt, SECRET_HASH_ITERATIONS)
    }

    pub fn with_salt(secret: &Secret, salt: [u8; SALT_BYTES], iterations: u32) -> Self {
        Self {
            iterations,
            salt,
            hash: derive(secret, &salt, iterations),
        }
    }

    /// Whether `secret` hashes to this hash (compared in constant time).
    pub fn verify(&self, secret: &Secret) -> bool {
        constant_time_eq(&derive(secret, &self.salt, self.iterations), &self.hash)
    }

    /// Spends the same work as a verification, for unknown clients, so the
    /// answer time does not tell which client ids exist.
    pub fn verify_nothing(secret: &Secret) {
        let _ = derive(secret, &[0; SALT_BYTES], SECRET_HASH_ITERATIONS);
    }
}

fn derive(secret: &Secret, salt: &[u8], iterations: u32) -> [u8; HASH_BYTES] {
    let mut out = [0; HASH_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.expose().as_bytes(), salt, iterations, &mut out);
    out
}

/// Equality whose running time depends only on the lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The storage key of an access token: SHA-256 of its text.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new access token: 32 random bytes, base64url without padding.
pub(crate) fn new_token() -> Secret {
    use base64::Engine as _;
    let mut bytes = [0; TOKEN_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Random bytes in an access token.
pub const TOKEN_RANDOM_BYTES: usize = 32;

/// Length of an access token's text: 32 bytes in unpadded base64url.
pub const TOKEN_CHARS: usize = 43;

/// Whether `text` can be an access token this server issued; anything else
/// is refused without a store lookup.
pub(crate) fn token_shape_ok(text: &str) -> bool {
    text.len() == TOKEN_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
