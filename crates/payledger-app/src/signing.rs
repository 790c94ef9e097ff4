//! payledger's own RSA key pair, which signs the callbacks it sends to
//! merchants of the tokenization API (so a merchant can check that a
//! notification comes from payledger, the way payledger checks the
//! merchant's requests).
//!
//! The private key lives in the data directory as PKCS#8 PEM
//! ([`SIGNING_KEY_FILE`], mode 0600), made on first use; the public key is
//! what `payledger keys show` prints. A callback carries the header
//! [`SIGNATURE_HEADER`]: `t=<unix seconds>,key=<key id>,v1=<base64
//! signature>`, the signature being RSA-SHA256 (PKCS#1 v1.5) over the bytes
//! `<t>.<body>`. The key id is the first 16 hex digits of the SHA-256 of
//! the public key's SPKI DER, as for merchants' keys.

use rsa::pkcs1v15::{Signature, SigningKey as RsaSigner, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file of the private key, in the data directory.
pub const SIGNING_KEY_FILE: &str = "callback-signing-key.pem";
/// The header of a signed callback.
pub const SIGNATURE_HEADER: &str = "Payledger-Signature";
/// Size of a key payledger makes, in bits.
pub const SIGNING_KEY_BITS: usize = 3072;

/// Why the key pair is not usable.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("cannot read or write the signing key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing key {path} is not an RSA private key in PKCS#8 PEM")]
    Invalid { path: PathBuf },
    #[error("cannot make a signing key: {0}")]
    Generate(String),
}

/// payledger's key pair.
#[derive(Clone)]
pub struct CallbackSigner {
    signer: RsaSigner<Sha256>,
    public: RsaPublicKey,
    key_id: String,
}

impl std::fmt::Debug for CallbackSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl CallbackSigner {
    /// The key pair of the data directory `data`, made (and stored) when
    /// there is none yet.
    pub fn load_or_create(data: &Path) -> Result<Self, SigningKeyError> {
        let path = data.join(SIGNING_KEY_FILE);
        let io = |source| SigningKeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(pem) => {
                Self::from_pem(&pem).ok_or_else(|| SigningKeyError::Invalid { path: path.clone() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data).map_err(io)?;
                let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, SIGNING_KEY_BITS)
                    .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
                // Written aside and linked into place: two processes that
                // make a key at once keep the first one.
                let aside = data.join(format!("{SIGNING_KEY_FILE}.{}.tmp", std::process::id()));
                write_private(&aside, pem.as_bytes()).map_err(io)?;
                let linked = std::fs::hard_link(&aside, &path);
                let _ = std::fs::remove_file(&aside);
                match linked {
                    Ok(()) => Ok(Self::from_key(key)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(data)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key pair from a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Option<Self> {
        RsaPrivateKey::from_pkcs8_pem(pem.trim())
            .ok()
            .map(Self::from_key)
    }

    fn from_key(key: RsaPrivateKey) -> Self {
        let public = key.to_public_key();
        let der = public
            .to_public_key_der()
            .unwrap_or_else(|_| unreachable!("an RSA public key encodes"));
        Self {
            key_id: hex::encode(&Sha256::digest(der.as_bytes())[..8]),
            signer: RsaSigner::new(key),
            public,
        }
    }

    /// The public key as SPKI PEM (`BEGIN PUBLIC KEY`).
    pub fn public_pem(&self) -> String {
        self.public
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_else(|_| unreachable!("an RSA public key encodes"))
    }

    /// The key's id (16 hex digits).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The [`SIGNATURE_HEADER`] value of `body` sent at `unix_seconds`.
    pub fn header(&self, unix_seconds: i64, body: &[u8]) -> String {
        use base64::Engine;
        let signature = self.signer.sign(&signed_bytes(unix_seconds, body));
        format!(
            "t={unix_seconds},key={},v1={}",
            self.key_id,
            base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
        )
    }

    /// Whether `header` signs `body` with this key (for tests and
    /// receivers written in Rust).
    pub fn verifies(&self, header: &str, body: &[u8]) -> bool {
        verify_header(&self.public, header, body)
    }
}

/// Whether `header` (a [`SIGNATURE_HEADER`] value) signs `body` with
/// `public`.
pub fn verify_header(public: &RsaPublicKey, header: &str, body: &[u8]) -> bool {
    use base64::Engine;
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v1) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(public.clone())
        .verify(&signed_bytes(t, body), &signature)
        .is_ok()
}

fn signed_bytes(unix_seconds: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{unix_seconds}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;

    #[test]
    fn a_key_is_made_once_and_signs_what_its_public_key_verifies() {
        let dir = std::env::temp_dir().join(format!(
            "payledger-signing-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let made = CallbackSigner::load_or_create(&dir).expect("made");
        let loaded = CallbackSigner::load_or_create(&dir).expect("loaded");
        assert_eq!(made.key_id(), loaded.key_id(), "the stored key is reused");
        assert_eq!(made.key_id().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(SIGNING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner reads the private key");
        }
        let body = br#"{"responseCode":"0000"}"#;
        let header = made.header(1_767_225_600, body);
        assert!(header.starts_with(&format!("t=1767225600,key={},v1=", made.key_id())));
        let public = RsaPublicKey::from_public_key_pem(&loaded.public_pem()).unwrap();
        assert!(verify_header(&public, &header, body));
        assert!(!verify_header(
            &public,
            &header,
            br#"{"responseCode":"0001"}"#
        ));
        let moved = header.replace("t=1767225600", "t=1767225601");
        assert!(!verify_header(&public, &moved, body), "the time is signed");
        assert!(!verify_header(&public, "t=1,v1=%%%", body));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_key_file_is_refused_not_replaced() {
        let dir = std::env::temp_dir().join(format!(
            "payledger-signing-bad-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(SIGNING_KEY_FILE), "not a key").unwrap();
        assert!(matches!(
            CallbackSigner::load_or_create(&dir),
            Err(SigningKeyError::Invalid { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(dir.join(SIGNING_KEY_FILE)).unwrap(),
            "not a key"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
