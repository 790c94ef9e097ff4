//! Merchants of the signed tokenization API (seed `004_…`) and their
//! public keys.
//!
//! A merchant has a number (`merchantId`, as in the seed), belongs to one
//! project and signs its requests with RSA-SHA256 (PKCS#1 v1.5) keys of at
//! least [`RSA_KEY_BITS_MIN`] bits. It may have several active keys at once
//! (a rotation: add the new key, move the signer, revoke the old one); a
//! revoked key stops verifying at once. Keys are given as PEM, SPKI
//! (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`), and stored as
//! SPKI DER with an id: the first 16 hex digits of its SHA-256.
//!
//! Rows of [`Table::Merchants`], keyed by the merchant number (u64 BE),
//! hold JSON (`{"merchantId","project","createdAtMs","keys":[{"id",
//! "spki","addedAtMs","revokedAtMs"}]}`, golden file `merchant_v1.txt`);
//! they are written under the [`resource_writes`](crate::resource_writes)
//! lock.

use payledger_domain::ProjectKey;
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Smallest accepted RSA modulus, in bits.
pub const RSA_KEY_BITS_MIN: usize = 2048;
/// Largest accepted RSA modulus, in bits (bigger keys only cost time).
pub const RSA_KEY_BITS_MAX: usize = 8192;
/// Most keys, active or revoked, one merchant keeps.
pub const MERCHANT_KEYS_MAX: usize = 16;
/// Longest accepted PEM text, in bytes.
pub const PUBLIC_KEY_PEM_BYTES_MAX: usize = 16 * 1024;

/// Why a merchant command was refused.
#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("merchant ids are numbers from 1 to {max}", max = u64::MAX)]
    InvalidId,
    #[error("merchant {id} exists already")]
    Duplicate { id: u64 },
    #[error("no merchant {id}")]
    NotFound { id: u64 },
    #[error("merchant {merchant} has no key {key}")]
    KeyNotFound { merchant: u64, key: String },
    #[error("merchant {merchant} has the key {key} already")]
    DuplicateKey { merchant: u64, key: String },
    #[error("a merchant keeps at most {max} keys (merchant_keys_max); remove revoked ones first")]
    TooManyKeys { max: usize },
    #[error("the public key is not usable: {reason}")]
    InvalidKey { reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One key of a merchant.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantKey {
    /// The first 16 hex digits of the SHA-256 of `spki`.
    pub id: String,
    /// The key as SPKI DER, base64.
    pub spki: String,
    pub added_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
}

/// A merchant and its keys.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub merchant_id: u64,
    pub project: String,
    pub created_at_ms: i64,
    pub keys: Vec<MerchantKey>,
}

impl Merchant {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("the row serializes"))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("merchant row: {e}")))
    }

    /// The keys that verify signatures now.
    pub fn active_keys(&self) -> impl Iterator<Item = &MerchantKey> {
        self.keys.iter().filter(|k| k.revoked_at_ms.is_none())
    }

    /// Whether any active key made `signature` over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::try_from(signature) else {
            return false;
        };
        self.active_keys().any(|key| {
            spki_key(&key.spki).is_some_and(|public| {
                VerifyingKey::<Sha256>::new(public)
                    .verify(message, &signature)
                    .is_ok()
            })
        })
    }
}

/// The RSA key of a stored SPKI.
fn spki_key(spki_base64: &str) -> Option<RsaPublicKey> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(spki_base64)
        .ok()?;
    RsaPublicKey::from_public_key_der(&der).ok()
}

/// Reads a PEM public key (SPKI or PKCS#1) into a stored key.
pub fn parse_public_key(pem: &str, now_ms: i64) -> Result<MerchantKey, MerchantError> {
    use base64::Engine;
    let invalid = |reason: &str| MerchantError::InvalidKey {
        reason: reason.to_owned(),
    };
    if pem.len() > PUBLIC_KEY_PEM_BYTES_MAX {
        return Err(invalid("the PEM text is longer than 16 KiB"));
    }
    let key = RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| {
            invalid("expected an RSA public key in PEM (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)")
        })?;
    let bits = key.size() * 8;
    if !(RSA_KEY_BITS_MIN..=RSA_KEY_BITS_MAX).contains(&bits) {
        return Err(MerchantError::InvalidKey {
            reason: format!(
                "the key has {bits} bits; {RSA_KEY_BITS_MIN} to {RSA_KEY_BITS_MAX} are accepted"
            ),
        });
    }
    let der = key
        .to_public_key_der()
        .map_err(|_| invalid("the key cannot be encoded as SPKI"))?;
    let id = hex::encode(&Sha256::digest(der.as_bytes())[..8]);
    Ok(MerchantKey {
        id,
        spki: base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        added_at_ms: now_ms,
        revoked_at_ms: None,
    })
}

fn row_key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

fn write(merchant: &Merchant) -> KvWrite {
    KvWrite {
        table: Table::Merchants,
        key: row_key(merchant.merchant_id),
        value: Some(merchant.encode()),
    }
}

/// The merchant `id`, if any.
pub fn get(store: &(impl EventStore + ?Sized), id: u64) -> Result<Option<Merchant>, StoreError> {
    store
        .get(Table::Merchants, &row_key(id))?
        .map(|bytes| Merchant::decode(&bytes))
        .transpose()
}

/// Every merchant, by number.
pub fn list(store: &(impl EventStore + ?Sized)) -> Result<Vec<Merchant>, StoreError> {
    store
        .scan(Table::Merchants, &[], &[0xff; 9], usize::MAX)?
        .into_iter()
        .map(|(_, bytes)| Merchant::decode(&bytes))
        .collect()
}

/// Registers merchant `id` of `project` with one public key.
pub fn create(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    id: u64,
    public_key_pem: &str,
    now_ms: i64,
) -> Result<Merchant, MerchantError> {
    if id == 0 {
        return Err(MerchantError::InvalidId);
    }
    let key = parse_public_key(public_key_pem, now_ms)?;
    let _guard = crate::resource_writes::lock();
    if get(store, id)?.is_some() {
        return Err(MerchantError::Duplicate { id });
    }
    let merchant = Merchant {
        merchant_id: id,
        project: project.as_str().to_owned(),
        created_at_ms: now_ms,
        keys: vec![key],
    };
    store.write(vec![write(&merchant)])?;
    tracing::info!(merchant_id = id, project = %project, "merchant created");
    Ok(merchant)
}

/// Adds a public key to merchant `id` (a rotation keeps both active).
pub fn add_key(
    store: &(impl EventStore + ?Sized),
    id: u64,
    public_key_pem: &str,
    now_ms: i64,
) -> Result<Merchant, MerchantError> {
    let key = parse_public_key(public_key_pem, now_ms)?;
    let _guard = crate::resource_writes::lock();
    let mut merchant = get(store, id)?.ok_or(MerchantError::NotFound { id })?;
    if merchant.keys.iter().any(|k| k.id == key.id) {
        return Err(MerchantError::DuplicateKey {
            merchant: id,
            key: key.id,
        });
    }
    if merchant.keys.len() >= MERCHANT_KEYS_MAX {
        return Err(MerchantError::TooManyKeys {
            max: MERCHANT_KEYS_MAX,
        });
    }
    merchant.keys.push(key);
    store.write(vec![write(&merchant)])?;
    Ok(merchant)
}

/// Revokes key `key` of merchant `id`: it stops verifying at once.
/// Revoking a revoked key changes nothing.
pub fn revoke_key(
    store: &(impl EventStore + ?Sized),
    id: u64,
    key: &str,
    now_ms: i64,
) -> Result<Merchant, MerchantError> {
    let _guard = crate::resource_writes::lock();
    let mut merchant = get(store, id)?.ok_or(MerchantError::NotFound { id })?;
    let found = merchant
        .keys
        .iter_mut()
        .find(|k| k.id == key)
        .ok_or_else(|| MerchantError::KeyNotFound {
            merchant: id,
            key: key.to_owned(),
        })?;
    if found.revoked_at_ms.is_none() {
        found.revoked_at_ms = Some(now_ms);
        store.write(vec![write(&merchant)])?;
        tracing::info!(merchant_id = id, key, "merchant key revoked");
    }
    Ok(merchant)
}

#[cfg(test)]
mod tests;
