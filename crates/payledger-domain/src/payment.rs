//! The Payment aggregate: its fields, transactions, method info, status and
//! custom fields, as folded from the payment's events.

use crate::ids::{Actor, PaymentId, TransactionId};
use crate::money::Money;
pub use crate::transaction_list::TransactionList;
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch, UTC. The domain never reads a clock:
/// timestamps arrive with commands.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
}

/// Text in several locales: locale tag → text.
pub type LocalizedString = BTreeMap<String, String>;

/// The kind of a transaction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum TransactionType {
    Authorization,
    CancelAuthorization,
    Charge,
    Refund,
    Chargeback,
}

impl TransactionType {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Authorization,
        Self::CancelAuthorization,
        Self::Charge,
        Self::Refund,
        Self::Chargeback,
    ];

    /// The commercetools name of the type.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorization => "Authorization",
            Self::CancelAuthorization => "CancelAuthorization",
            Self::Charge => "Charge",
            Self::Refund => "Refund",
            Self::Chargeback => "Chargeback",
        }
    }

    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The state of a transaction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub enum TransactionState {
    #[default]
    Initial,
    Pending,
    Success,
    Failure,
}

impl TransactionState {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 4] = [Self::Initial, Self::Pending, Self::Success, Self::Failure];

    /// The commercetools name of the state.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::Pending => "Pending",
            Self::Success => "Success",
            Self::Failure => "Failure",
        }
    }

    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Success and Failure are final: a PSP refresh never leaves them.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failure)
    }
}

/// A custom field value. Numbers keep their decimal text so nothing is lost
/// to floating point; the API edge validates and normalises them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FieldValue {
    Bool(bool),
    /// A JSON number in its canonical decimal text.
    Number(String),
    String(String),
    /// A list (for `Set` field types).
    List(Vec<FieldValue>),
    /// An object (LocalizedString, Money, Reference, …), keys sorted.
    Object(BTreeMap<String, FieldValue>),
}

/// Custom fields: a Type reference (by id) and the field values.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CustomFields {
    /// The id of the Type that defines the fields.
    pub type_id: String,
    /// Field name → value.
    pub fields: BTreeMap<String, FieldValue>,
}

/// A payment transaction (authorization, charge, refund, …).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transaction {
    pub id: TransactionId,
    pub timestamp: Option<Timestamp>,
    pub kind: TransactionType,
    pub amount: Money,
    pub interaction_id: Option<String>,
    pub interface_id: Option<String>,
    pub state: TransactionState,
    pub custom: Option<CustomFields>,
}

/// How the payment is paid: PSP, method, token, account.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PaymentMethodInfo {
    pub payment_interface: Option<String>,
    pub method: Option<String>,
    pub name: Option<LocalizedString>,
    pub token: Option<String>,
    pub interface_account: Option<String>,
    pub custom: Option<CustomFields>,
}

/// The PSP-facing status of the payment.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PaymentStatus {
    pub interface_code: Option<String>,
    pub interface_text: Option<String>,
    /// The id of the current PaymentState State, if any.
    pub state_id: Option<String>,
}

/// The fields of a payment that a creation draft may set. Also the body of
/// the creation event.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentDraft {
    pub key: Option<String>,
    pub customer_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub interface_id: Option<String>,
    pub external_id: Option<String>,
    pub amount_planned: Money,
    pub amount_authorized: Option<Money>,
    pub authorized_until: Option<Timestamp>,
    pub amount_paid: Option<Money>,
    pub amount_refunded: Option<Money>,
    pub payment_method_info: PaymentMethodInfo,
    pub payment_status: PaymentStatus,
    pub transactions: Vec<Transaction>,
    pub interface_interactions: Vec<CustomFields>,
    pub custom: Option<CustomFields>,
}

/// The current state of a payment, folded from its events.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payment {
    pub id: PaymentId,
    /// Equals the number of events in the stream.
    pub version: u64,
    pub key: Option<String>,
    pub customer_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub interface_id: Option<String>,
    pub external_id: Option<String>,
    pub amount_planned: Money,
    pub amount_authorized: Option<Money>,
    pub authorized_until: Option<Timestamp>,
    pub amount_paid: Option<Money>,
    pub amount_refunded: Option<Money>,
    pub payment_method_info: PaymentMethodInfo,
    pub payment_status: PaymentStatus,
    /// Shared between versions: a copy shares every chunk of the list,
    /// and a new version replaces only the transactions (and chunks) it
    /// changes, so deciding, diffing and answering an update cost what
    /// changed, not the payment's size (an unchanged transaction is the
    /// same pointer in both).
    pub transactions: TransactionList,
    pub interface_interactions: Vec<CustomFields>,
    pub custom: Option<CustomFields>,
    pub created_at: Timestamp,
    pub last_modified_at: Timestamp,
    pub created_by: Actor,
    pub last_modified_by: Actor,
    /// Set by the deletion event; a deleted payment accepts no commands.
    pub deleted: bool,
}
