//! Identifier newtypes, and [`Actor`]: who acted. Each id is its own type
//! so a payment id can never be passed where a transaction id is expected.

use std::fmt;
use uuid::Uuid;

/// Who caused an event.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Actor {
    /// An API client, by client id.
    Client(String),
    /// An internal handler of payledger (executor, refresh, webhook intake).
    Internal(String),
}

/// Positions of the hyphens in the canonical form of a UUID.
const UUID_HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// The UUID `text` names in its canonical form: 36 characters, lowercase
/// hexadecimal digits and hyphens at 8, 13, 18 and 23, as payledger writes
/// every id. Every other spelling the `uuid` crate would read (upper case,
/// no hyphens, `{braced}`, `urn:uuid:`) is refused, so one resource has
/// exactly one address, and an idempotency key's request hash sees one
/// path per request.
pub fn canonical_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    let canonical = bytes.len() == 36
        && bytes
            .iter()
            .enumerate()
            .all(|(at, b)| match UUID_HYPHENS.contains(&at) {
                true => *b == b'-',
                false => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
            });
    canonical.then(|| Uuid::try_parse(text).ok()).flatten()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// Builds the id from its 16 raw bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
            /// The 16 raw bytes, as stored in keys.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            /// The wrapped UUID.
            pub const fn uuid(&self) -> Uuid {
                self.0
            }
            /// Parses the canonical textual form only (see
            /// [`canonical_uuid`]).
            pub fn parse(text: &str) -> Option<Self> {
                canonical_uuid(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identifies a payment and therefore its event stream.
    PaymentId
);
uuid_id!(
    /// Identifies a transaction within a payment.
    TransactionId
);
uuid_id!(
    /// Identifies one stored event.
    EventId
);
uuid_id!(
    /// Identifies an order and therefore its event stream.
    OrderId
);

/// The key of a project (tenant). Every resource belongs to exactly one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ProjectKey(String);

/// Longest accepted project key, in bytes.
pub const PROJECT_KEY_BYTES_MAX: usize = 64;

impl ProjectKey {
    /// Validates a project key: 1 to [`PROJECT_KEY_BYTES_MAX`] bytes of
    /// ASCII letters, digits, `-` and `_`.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= PROJECT_KEY_BYTES_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_restricted_to_a_safe_alphabet() {
        assert!(ProjectKey::parse("shop-1_eu").is_some());
        assert!(ProjectKey::parse("").is_none());
        assert!(ProjectKey::parse("a/b").is_none());
        assert!(ProjectKey::parse(&"x".repeat(PROJECT_KEY_BYTES_MAX + 1)).is_none());
    }

    #[test]
    fn only_the_canonical_spelling_of_an_id_parses() {
        let canonical = "3f6c1a9e-0b7d-4e52-9c1a-5d2e8f4b7a61";
        let id = PaymentId::parse(canonical).expect("canonical");
        assert_eq!(id.to_string(), canonical);
        for other in [
            "3F6C1A9E-0B7D-4E52-9C1A-5D2E8F4B7A61",
            "3f6c1a9e0b7d4e529c1a5d2e8f4b7a61",
            "{3f6c1a9e-0b7d-4e52-9c1a-5d2e8f4b7a61}",
            "urn:uuid:3f6c1a9e-0b7d-4e52-9c1a-5d2e8f4b7a61",
            "3f6c1a9e-0b7d-4e52-9c1a-5d2e8f4b7a6g",
            "3f6c1a9e-0b7d-4e52-9c1a5-d2e8f4b7a61",
            " 3f6c1a9e-0b7d-4e52-9c1a-5d2e8f4b7a6",
            "",
        ] {
            assert_eq!(PaymentId::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn ids_round_trip_through_text_and_bytes() {
        let id = PaymentId::from_bytes([7; 16]);
        assert_eq!(PaymentId::parse(&id.to_string()), Some(id));
        assert_eq!(PaymentId::from_bytes(*id.as_bytes()), id);
    }
}
