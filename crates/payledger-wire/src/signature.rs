//! Verification of Stripe's webhook signatures.
//!
//! The `Stripe-Signature` header reads `t=<unix seconds>,v1=<hex>,v1=<hex>,…`
//! (other schemes such as `v0` may appear and are ignored). Each `v1` is
//! HMAC-SHA256 over `"<t>.<raw body>"` with an endpoint's signing secret.
//! A request is genuine when any `v1` matches any configured secret (so a
//! secret can be rotated while both are live), compared in constant time,
//! and `t` lies within the tolerance of the caller's clock. The body must
//! be the exact bytes received: parse JSON only after verifying.

use crate::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Default tolerance between the signature's timestamp and our clock, in
/// seconds (Stripe's libraries use the same).
pub const SIGNATURE_TOLERANCE_SECONDS: u64 = 300;
/// Longest accepted `Stripe-Signature` header, in bytes.
pub const SIGNATURE_HEADER_BYTES_MAX: usize = 4_096;
/// Most `v1` signatures one header may carry.
pub const SIGNATURES_PER_HEADER_MAX: usize = 16;

/// Why a webhook was refused. Each is a 400 at the HTTP edge.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the Stripe-Signature header carries no v1 signature")]
    NoSignature,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches a configured secret")]
    Mismatch,
    #[error("no webhook signing secret is configured")]
    NoSecret,
}

/// A parsed `t=…,v1=…` header: the timestamp and the `v1` signatures that
/// can match (32 bytes of lower-case hex each; others never match and are
/// dropped).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedHeader {
    pub timestamp: i64,
    pub signatures: Vec<[u8; 32]>,
}

/// Parses a `t=…,v1=…` header: exactly one `t`, at most
/// [`SIGNATURES_PER_HEADER_MAX`] `v1`, other schemes ignored, at most
/// [`SIGNATURE_HEADER_BYTES_MAX`] bytes. The one parser of the scheme, for
/// Stripe's webhooks and payledger's own deliveries alike.
pub fn parse_header(header: &str) -> Result<SignedHeader, SignatureError> {
    if header.len() > SIGNATURE_HEADER_BYTES_MAX {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match name {
            "t" => {
                let t: i64 = value.parse().map_err(|_| SignatureError::Malformed)?;
                if timestamp.replace(t).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" => {
                if signatures.len() == SIGNATURES_PER_HEADER_MAX {
                    return Err(SignatureError::Malformed);
                }
                // Stripe writes lower-case hex; anything else (including
                // upper case) is not its signature and can never match.
                let lower_hex = value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                let mut bytes = [0u8; 32];
                if lower_hex && hex::decode_to_slice(value, &mut bytes).is_ok() {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    Ok(SignedHeader {
        timestamp,
        signatures,
    })
}

fn mac(key: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Verifies a webhook: `header` is the `Stripe-Signature` value (`None` if
/// absent), `body` the raw request body, `now_unix_seconds` the caller's
/// clock. Returns the signature's timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    now_unix_seconds: i64,
    tolerance_seconds: u64,
) -> Result<i64, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::Missing)?)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let age = now_unix_seconds.abs_diff(header.timestamp);
    if age > tolerance_seconds {
        return Err(SignatureError::Stale);
    }
    let key_matches = |secret: &Secret| {
        matches_any(
            secret.expose().as_bytes(),
            header.timestamp,
            body,
            &header.signatures,
        )
    };
    if secrets.iter().any(key_matches) {
        Ok(header.timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `Stripe-Signature` header Stripe would send for `body` at
/// `timestamp` with `secret` (for tests, benchmarks and emulators).
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    sign_with_key(secret.expose().as_bytes(), timestamp, body)
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(key, "t.body")>`: the scheme of
/// Stripe's webhooks, which payledger's own webhook deliveries use too.
pub fn sign_with_key(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let signature = mac(key, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(signature))
}

/// Whether any of `signatures` (raw `v1` bytes) signs `body` at
/// `timestamp` under `key`; each comparison is constant-time.
pub fn matches_any(
    key: &[u8],
    timestamp: i64,
    body: &[u8],
    signatures: &[impl AsRef<[u8]>],
) -> bool {
    let expected = mac(key, timestamp, body);
    signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature.as_ref()).is_ok())
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
