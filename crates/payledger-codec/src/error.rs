//! The one error type of the codec: why stored bytes could not be turned
//! back into domain values.
//!
//! Encoding never fails (every domain value has a proto form); decoding fails
//! when the bytes are not protobuf, or are protobuf that no encoder of ours
//! could have written (a required field missing, an id of the wrong length,
//! an enum number we do not know). Each case is its own variant so callers
//! and tests can tell them apart without parsing text.

use payledger_domain::money::CurrencyRejection;

/// Why bytes could not be decoded into a domain value.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a valid protobuf encoding of the message.
    #[error("protobuf decoding failed: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A field (or a `oneof` case) that every valid message carries is
    /// absent.
    #[error("required field `{field}` is missing")]
    MissingField {
        /// The field, as `Message.field`.
        field: &'static str,
    },
    /// A fixed-size bytes field (an id or a hash) has the wrong length.
    #[error("field `{field}` holds {actual} bytes, expected {expected}")]
    BadLength {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The length every valid value has.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// An enum field holds `UNSPECIFIED` (0) or a number this version does
    /// not know.
    #[error("field `{field}` holds unknown or unspecified enum value {value}")]
    UnknownEnumValue {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The number found.
        value: i32,
    },
    /// A text field that names one of a closed set of values (an order's
    /// `paymentState`) holds another text.
    #[error("field `{field}` holds unknown name {value:?}")]
    UnknownName {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// A money amount carries a currency code the domain refuses.
    #[error("invalid currency code {code:?} ({reason:?})")]
    InvalidCurrency {
        /// The code found.
        code: String,
        /// Why the domain refused it.
        reason: CurrencyRejection,
    },
    /// The envelope's project key is not a valid project key.
    #[error("invalid project key {key:?}")]
    InvalidProjectKey {
        /// The key found.
        key: String,
    },
    /// A number does not fit the domain type (for example a partition above
    /// `u16::MAX`).
    #[error("field `{field}` value {value} is out of range")]
    OutOfRange {
        /// The field, as `Message.field`.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A Payment view header counts rows of a list and also holds that
    /// list inline: no encoder of ours writes both forms at once.
    #[error("view header holds `{field}` inline and also counts rows of it")]
    InlineAndRows {
        /// The list, as `Message.field`.
        field: &'static str,
    },
    /// A Payment view stored as rows was decoded as a whole view.
    #[error(
        "a view stored as rows ({transaction_rows} transaction and {interaction_rows} interaction rows) is not a whole view"
    )]
    StoredAsRows {
        /// Transaction rows its header counts.
        transaction_rows: u32,
        /// Interface interaction rows its header counts.
        interaction_rows: u32,
    },
    /// The rows found for a Payment view are not the number its header
    /// counts.
    #[error("view header counts {expected} rows of `{field}`, found {actual}")]
    RowCount {
        /// The list, as `Message.field`.
        field: &'static str,
        /// Rows the header counts.
        expected: u32,
        /// Rows found.
        actual: usize,
    },
    /// The envelope has no event payload, or one this version does not know.
    #[error("event envelope has no payload (or an unknown event kind)")]
    MissingPayload,
}
