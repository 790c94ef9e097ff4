//! The master key that wraps every payment's data key: 32 random bytes in
//! a file of its own (hex, mode 0600), made on first use.
//!
//! Rotation: [`MasterKey::rewrap`] opens a wrapped data key with one
//! master key and wraps it with another (`payledger keys rotate-master`).

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
        match Self::load(path) {
            Ok(key) => Ok((key, false)),
            Err(MasterKeyError::Io { error, .. })
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
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
            Err(error) => Err(error),
        }
    }

    /// The key in `path`, which must exist.
    pub fn load(path: &Path) -> Result<Self, MasterKeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| MasterKeyError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::parse(text.trim()).ok_or_else(|| MasterKeyError::Malformed {
            path: path.display().to_string(),
        })
    }

    /// A key from 64 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The data key of `owner` ([`super::key_owner`]), wrapped: nonce
    /// (12) · sealed key (48).
    pub fn wrap(&self, data_key: &[u8; 32], owner: &[u8]) -> Vec<u8> {
        super::aead_seal(&self.0, owner, data_key)
    }

    /// The data key `wrapped` holds, `None` if it does not open with this
    /// master key and `owner`.
    pub fn unwrap(&self, wrapped: &[u8], owner: &[u8]) -> Option<[u8; 32]> {
        super::aead_open(&self.0, owner, wrapped)?.try_into().ok()
    }

    /// `wrapped` (by this key) wrapped by `next` instead.
    pub fn rewrap(&self, wrapped: &[u8], owner: &[u8], next: &Self) -> Option<Vec<u8>> {
        Some(next.wrap(&self.unwrap(wrapped, owner)?, owner))
    }
}
