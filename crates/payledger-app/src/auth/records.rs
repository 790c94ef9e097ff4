//! The stored formats of API clients and access tokens: JSON rows with a
//! `format` number, kept apart from the in-memory types and converted
//! explicitly. These are on-disk formats: golden files in `golden/` prove
//! that rows written by earlier builds still decode.
//!
//! | table   | key                              | value            |
//! |---------|----------------------------------|------------------|
//! | Clients | client id (UTF-8)                | [`ClientRow`] JSON |
//! | Tokens  | SHA-256 of the access token text | [`TokenRow`] JSON  |

use super::scope::{Scope, scope_text, scope_words};
use super::secret::{
    HASH_BYTES, SALT_BYTES, SECRET_HASH_ITERATIONS_MAX, SECRET_HASH_ITERATIONS_MIN, SecretHash,
};
use payledger_store::StoreError;
use serde::{Deserialize, Serialize};

/// The format number of rows written by this build.
pub const FORMAT_V1: u32 = 1;

/// The one secret hash algorithm this build writes and reads.
const PBKDF2_SHA256: &str = "pbkdf2-sha256";

/// An API client as the use cases see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Client {
    pub id: String,
    /// Random per creation: tokens remember it, so a client deleted and
    /// created again under the same id does not revive the old tokens.
    pub uid: String,
    pub secret: SecretHash,
    pub scopes: Vec<Scope>,
    pub created_at_ms: u64,
}

/// An issued access token as the use cases see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Token {
    pub client_id: String,
    pub client_uid: String,
    pub scopes: Vec<Scope>,
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
}

/// The stored row of a client.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ClientRow {
    format: u32,
    id: String,
    uid: String,
    secret: SecretRow,
    scopes: String,
    created_at_ms: u64,
}

/// The stored hash of a secret.
#[derive(Serialize, Deserialize, Debug)]
struct SecretRow {
    algorithm: String,
    iterations: u32,
    /// Hex.
    salt: String,
    /// Hex.
    hash: String,
}

/// The stored row of a token.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct TokenRow {
    format: u32,
    client_id: String,
    client_uid: String,
    scopes: String,
    issued_at_ms: u64,
    expires_at_ms: u64,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn check_format(what: &str, format: u32) -> Result<(), StoreError> {
    if format == FORMAT_V1 {
        Ok(())
    } else {
        Err(corrupt(what, format!("unknown format {format}")))
    }
}

fn parse_scopes(what: &str, text: &str) -> Result<Vec<Scope>, StoreError> {
    scope_words(text)
        .map(|word| Scope::parse(word).map_err(|e| corrupt(what, format!("scope {word}: {e}"))))
        .collect()
}

fn fixed_hex<const N: usize>(what: &str, text: &str) -> Result<[u8; N], StoreError> {
    let bytes = hex::decode(text).map_err(|e| corrupt(what, e))?;
    bytes
        .try_into()
        .map_err(|_| corrupt(what, format!("expected {N} bytes of hex")))
}

impl Client {
    pub fn encode(&self) -> Vec<u8> {
        let row = ClientRow {
            format: FORMAT_V1,
            id: self.id.clone(),
            uid: self.uid.clone(),
            secret: SecretRow {
                algorithm: PBKDF2_SHA256.to_owned(),
                iterations: self.secret.iterations,
                salt: hex::encode(self.secret.salt),
                hash: hex::encode(self.secret.hash),
            },
            scopes: scope_text(&self.scopes),
            created_at_ms: self.created_at_ms,
        };
        // A struct of strings and integers always serialises.
        serde_json::to_vec(&row).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        const WHAT: &str = "client record";
        let row: ClientRow = serde_json::from_slice(bytes).map_err(|e| corrupt(WHAT, e))?;
        check_format(WHAT, row.format)?;
        let secret = &row.secret;
        if secret.algorithm != PBKDF2_SHA256 {
            return Err(corrupt(
                WHAT,
                format!("unknown algorithm {}", secret.algorithm),
            ));
        }
        if !(SECRET_HASH_ITERATIONS_MIN..=SECRET_HASH_ITERATIONS_MAX).contains(&secret.iterations) {
            return Err(corrupt(WHAT, format!("{} iterations", secret.iterations)));
        }
        let secret = SecretHash {
            iterations: secret.iterations,
            salt: fixed_hex::<SALT_BYTES>(WHAT, &secret.salt)?,
            hash: fixed_hex::<HASH_BYTES>(WHAT, &secret.hash)?,
        };
        Ok(Self {
            scopes: parse_scopes(WHAT, &row.scopes)?,
            id: row.id,
            uid: row.uid,
            secret,
            created_at_ms: row.created_at_ms,
        })
    }
}

impl Token {
    pub fn encode(&self) -> Vec<u8> {
        let row = TokenRow {
            format: FORMAT_V1,
            client_id: self.client_id.clone(),
            client_uid: self.client_uid.clone(),
            scopes: scope_text(&self.scopes),
            issued_at_ms: self.issued_at_ms,
            expires_at_ms: self.expires_at_ms,
        };
        serde_json::to_vec(&row).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        const WHAT: &str = "token record";
        let row: TokenRow = serde_json::from_slice(bytes).map_err(|e| corrupt(WHAT, e))?;
        check_format(WHAT, row.format)?;
        Ok(Self {
            scopes: parse_scopes(WHAT, &row.scopes)?,
            client_id: row.client_id,
            client_uid: row.client_uid,
            issued_at_ms: row.issued_at_ms,
            expires_at_ms: row.expires_at_ms,
        })
    }
}
