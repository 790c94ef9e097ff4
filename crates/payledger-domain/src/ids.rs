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
            /// Parses the hyphenated textual form.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
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
    fn ids_round_trip_through_text_and_bytes() {
        let id = PaymentId::from_bytes([7; 16]);
        assert_eq!(PaymentId::parse(&id.to_string()), Some(id));
        assert_eq!(PaymentId::from_bytes(*id.as_bytes()), id);
    }
}
