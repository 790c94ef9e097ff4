//! The rows of the hosted payment page: a payment link ([`Table::PaymentLinks`]).
//!
//! A link's token is 32 random bytes, base64url; only its SHA-256 is a key,
//! so the store never holds a usable link. The row says which attempt of
//! which order the page pays and until when. Stored as JSON
//! (`{"project","order","payment","expiresAtMs","returnUrl","reusable",
//! "email"}`, golden file `payment_link_v1.txt`); unknown fields are
//! ignored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payledger_domain::{OrderId, PaymentId, ProjectKey, Timestamp};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Random bytes of a link token.
pub const LINK_TOKEN_BYTES: usize = 32;
/// Longest token accepted in a URL, in bytes (longer is not a token).
pub const LINK_TOKEN_TEXT_BYTES_MAX: usize = 64;

/// What a payment link pays.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLink {
    pub project: String,
    pub order: String,
    pub payment: String,
    /// The link answers 410 Gone from then on.
    pub expires_at_ms: i64,
    /// Where the shopper goes after paying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// The shopper's card is saved for merchant-initiated charges.
    #[serde(default)]
    pub reusable: bool,
    /// The shopper's email, for the PSP customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A link as the page reads it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkTarget {
    pub project: ProjectKey,
    pub order: OrderId,
    pub payment: PaymentId,
    pub expires_at: Timestamp,
    pub return_url: Option<String>,
    pub reusable: bool,
    pub email: Option<String>,
}

impl PaymentLink {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("the row serializes"))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("payment link row: {e}")))
    }

    fn target(&self) -> Result<LinkTarget, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("payment link row: bad {what}"));
        Ok(LinkTarget {
            project: ProjectKey::parse(&self.project).ok_or_else(|| corrupt("project"))?,
            order: OrderId::parse(&self.order).ok_or_else(|| corrupt("order"))?,
            payment: PaymentId::parse(&self.payment).ok_or_else(|| corrupt("payment"))?,
            expires_at: Timestamp(self.expires_at_ms),
            return_url: self.return_url.clone(),
            reusable: self.reusable,
            email: self.email.clone(),
        })
    }
}

/// A new random link token.
pub fn new_token() -> String {
    let mut bytes = [0_u8; LINK_TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key of a token's row.
fn key(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The write that stores `link` under `token`.
pub fn write(token: &str, link: &PaymentLink) -> KvWrite {
    KvWrite {
        table: Table::PaymentLinks,
        key: key(token),
        value: Some(link.encode()),
    }
}

/// What the link `token` pays; `None` for an unknown token (expired links
/// are found: the page says they expired).
pub fn read(
    store: &(impl EventStore + ?Sized),
    token: &str,
) -> Result<Option<LinkTarget>, StoreError> {
    if token.is_empty() || token.len() > LINK_TOKEN_TEXT_BYTES_MAX {
        return Ok(None);
    }
    store
        .get(Table::PaymentLinks, &key(token))?
        .map(|bytes| PaymentLink::decode(&bytes)?.target())
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::memory::MemoryStore;

    fn sample() -> PaymentLink {
        PaymentLink {
            project: "shop".into(),
            order: "6f1c2b2e-8a3e-4d6b-9a53-0c7e1f9d2a41".into(),
            payment: "0b9c7f0e-5a4d-4c3b-8e2a-1f0d9c8b7a65".into(),
            expires_at_ms: 1_767_226_500_000,
            return_url: Some("https://shop.example/return".into()),
            reusable: true,
            email: Some("ada@example.com".into()),
        }
    }

    #[test]
    fn the_stored_row_keeps_loading() {
        let minimal = PaymentLink {
            return_url: None,
            reusable: false,
            email: None,
            ..sample()
        };
        let stored = crate::golden::check(
            "payment_link_v1.txt",
            &[("full", sample().encode()), ("minimal", minimal.encode())],
        );
        assert_eq!(PaymentLink::decode(&stored["full"]).unwrap(), sample());
        assert_eq!(PaymentLink::decode(&stored["minimal"]).unwrap(), minimal);
    }

    #[test]
    fn a_link_is_found_by_its_token_only() {
        let store = MemoryStore::with_partitions(1);
        let token = new_token();
        assert_eq!(token.len(), 43);
        store.write(vec![write(&token, &sample())]).unwrap();
        let found = read(&store, &token).unwrap().expect("found");
        assert_eq!(found.project.as_str(), "shop");
        assert_eq!(found.expires_at, Timestamp(1_767_226_500_000));
        assert_eq!(read(&store, &new_token()).unwrap(), None);
        assert_eq!(read(&store, "").unwrap(), None);
        assert_eq!(read(&store, &"x".repeat(65)).unwrap(), None);
        let stored_keys = store
            .scan(Table::PaymentLinks, &[], &[0xff; 33], 10)
            .unwrap();
        assert!(
            stored_keys.iter().all(
                |(k, v)| !k.windows(token.len()).any(|w| w == token.as_bytes())
                    && !v.windows(token.len()).any(|w| w == token.as_bytes())
            ),
            "the token itself is never stored"
        );
    }
}
