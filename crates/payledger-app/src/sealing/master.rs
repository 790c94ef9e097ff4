//! The master key that wraps every payment's data key: 32 random bytes in
//! a file of its own (hex, mode 0600), made on first use.
//!
//! Rotation: [`MasterKey::rewrap`] opens a wrapped data key with one
//! master key and wraps it with another (`payledger keys rotate-master`).

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use payledger_domain::PaymentId;
use std::io::Write;
use std::path::Path;

/// A master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// Why a master key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("cannot read or write the master key file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the master key file {path} does not hold 64 hex digits")]
    Malformed { path: String },
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key in `path`, made there (mode 0600) when the file is missing;
    /// the flag says whether it was made now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), MasterKeyError> {
        let io = |error| MasterKeyError::Io {
            path: path.display().to_string(),
            error,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(text.trim())
                .map(|key| (key, false))
                .ok_or_else(|| MasterKeyError::Malformed {
                    path: path.display().to_string(),
                }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self(rand::random());
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                writeln!(file, "{}", hex::encode(key.0)).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((key, true))
            }
            Err(error) => Err(io(error)),
        }
    }

    /// A key from 64 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.0).expect("a 32-byte key")
    }

    /// `data_key` of `payment`, wrapped: nonce (12) · sealed key (48).
    pub fn wrap(&self, data_key: &[u8; 32], payment: PaymentId) -> Vec<u8> {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_bytes);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: data_key,
                    aad: payment.as_bytes(),
                },
            )
            .expect("AES-GCM seals any message");
        let mut wrapped = nonce_bytes.to_vec();
        wrapped.extend_from_slice(&sealed);
        wrapped
    }

    /// The data key `wrapped` holds, `None` if it does not open with this
    /// master key.
    pub fn unwrap(&self, wrapped: &[u8], payment: PaymentId) -> Option<[u8; 32]> {
        let (nonce_bytes, sealed) = wrapped.split_at_checked(12)?;
        let nonce_array: [u8; 12] = nonce_bytes.try_into().ok()?;
        let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_array);
        let plain = self
            .cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: payment.as_bytes(),
                },
            )
            .ok()?;
        plain.try_into().ok()
    }

    /// `wrapped` (by this key) wrapped by `next` instead.
    pub fn rewrap(&self, wrapped: &[u8], payment: PaymentId, next: &Self) -> Option<Vec<u8>> {
        Some(next.wrap(&self.unwrap(wrapped, payment)?, payment))
    }
}
