//! Typed commands: what a client asked to happen to a payment.
//!
//! The API edge parses JSON into these types once (money is already a
//! [`Money`], ids are typed, explicit `null` is already "absent"), so the
//! rules in [`crate::decide`] never see wire text. References to Types and
//! States arrive unresolved, by id or by key; deciding resolves them through
//! a [`crate::catalog::Catalog`]. Customer references are kept as given:
//! customers live outside payledger.

use crate::ids::TransactionId;
use crate::money::Money;
use crate::payment::{FieldValue, LocalizedString, Timestamp, TransactionState, TransactionType};
use std::collections::BTreeMap;
use std::fmt;

/// An unresolved reference to a Type or a State (a commercetools
/// `ResourceIdentifier`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum ResourceRef {
    Id(String),
    Key(String),
}

impl ResourceRef {
    /// The identifier kind (`"id"` or `"key"`) and its value, as the
    /// commercetools `ReferencedResourceNotFound` error names them.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Id(id) => ("id", id),
            Self::Key(key) => ("key", key),
        }
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, value) = self.parts();
        write!(f, "{kind} '{value}'")
    }
}

/// Custom fields as a draft gives them: a Type reference and values.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CustomFieldsInput {
    pub type_ref: ResourceRef,
    pub fields: BTreeMap<String, FieldValue>,
}

/// A transaction as a draft or `addTransaction` gives it; the id is
/// assigned while deciding.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransactionDraftInput {
    pub timestamp: Option<Timestamp>,
    pub kind: TransactionType,
    pub amount: Money,
    pub interaction_id: Option<String>,
    pub interface_id: Option<String>,
    /// Defaults to `Initial`.
    pub state: Option<TransactionState>,
    pub custom: Option<CustomFieldsInput>,
}

impl TransactionDraftInput {
    /// A transaction draft with only the required fields.
    pub fn new(kind: TransactionType, amount: Money) -> Self {
        Self {
            timestamp: None,
            kind,
            amount,
            interaction_id: None,
            interface_id: None,
            state: None,
            custom: None,
        }
    }
}

/// Payment method info as a draft or `setMethodInfo` gives it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MethodInfoInput {
    pub payment_interface: Option<String>,
    pub method: Option<String>,
    pub name: Option<LocalizedString>,
    /// The token's `value`.
    pub token: Option<String>,
    pub interface_account: Option<String>,
    pub custom: Option<CustomFieldsInput>,
}

/// Payment status as a draft gives it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PaymentStatusInput {
    pub interface_code: Option<String>,
    pub interface_text: Option<String>,
    pub state: Option<ResourceRef>,
}

/// A commercetools `PaymentDraft`, parsed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentDraftInput {
    pub key: Option<String>,
    /// The customer's id; not validated (customers live elsewhere).
    pub customer_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub interface_id: Option<String>,
    pub external_id: Option<String>,
    pub amount_planned: Money,
    pub amount_authorized: Option<Money>,
    pub authorized_until: Option<Timestamp>,
    pub amount_paid: Option<Money>,
    pub amount_refunded: Option<Money>,
    pub payment_method_info: MethodInfoInput,
    pub payment_status: PaymentStatusInput,
    pub transactions: Vec<TransactionDraftInput>,
    pub interface_interactions: Vec<CustomFieldsInput>,
    pub custom: Option<CustomFieldsInput>,
}

impl PaymentDraftInput {
    /// A draft with only the required field.
    pub fn new(amount_planned: Money) -> Self {
        Self {
            key: None,
            customer_id: None,
            anonymous_id: None,
            interface_id: None,
            external_id: None,
            amount_planned,
            amount_authorized: None,
            authorized_until: None,
            amount_paid: None,
            amount_refunded: None,
            payment_method_info: MethodInfoInput::default(),
            payment_status: PaymentStatusInput::default(),
            transactions: Vec::new(),
            interface_interactions: Vec::new(),
            custom: None,
        }
    }
}

/// The 30 commercetools payment update actions. `None` in a settable field
/// means the action removes the value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum UpdateAction {
    AddTransaction(TransactionDraftInput),
    ChangeTransactionState {
        transaction_id: TransactionId,
        state: TransactionState,
    },
    ChangeTransactionTimestamp {
        transaction_id: TransactionId,
        timestamp: Timestamp,
    },
    ChangeTransactionInteractionId {
        transaction_id: TransactionId,
        interaction_id: String,
    },
    SetTransactionInterfaceId {
        transaction_id: TransactionId,
        interface_id: Option<String>,
    },
    SetTransactionCustomType {
        transaction_id: TransactionId,
        custom: Option<CustomFieldsInput>,
    },
    SetTransactionCustomField {
        transaction_id: TransactionId,
        name: String,
        value: Option<FieldValue>,
    },
    /// The interaction's Type and field values.
    AddInterfaceInteraction(CustomFieldsInput),
    ChangeAmountPlanned(Money),
    SetKey(Option<String>),
    /// The customer's id.
    SetCustomer(Option<String>),
    SetAnonymousId(Option<String>),
    SetInterfaceId(String),
    SetMethodInfoInterface(String),
    SetMethodInfoMethod(Option<String>),
    SetMethodInfoName(Option<LocalizedString>),
    /// The token's `value`.
    SetMethodInfoToken(Option<String>),
    SetMethodInfoInterfaceAccount(Option<String>),
    SetMethodInfoCustomType(Option<CustomFieldsInput>),
    SetMethodInfoCustomField {
        name: String,
        value: Option<FieldValue>,
    },
    /// Given fields change as their single actions would; omitted stay.
    SetMethodInfo(MethodInfoInput),
    SetStatusInterfaceCode(Option<String>),
    /// `None` and the empty string both remove the text.
    SetStatusInterfaceText(Option<String>),
    SetCustomType(Option<CustomFieldsInput>),
    SetCustomField {
        name: String,
        value: Option<FieldValue>,
    },
    TransitionState {
        state: ResourceRef,
        force: bool,
    },
    SetAmountPaid(Option<Money>),
    SetAmountRefunded(Option<Money>),
    /// A `None` amount removes both the amount and `until`.
    SetAuthorization {
        amount: Option<Money>,
        until: Option<Timestamp>,
    },
    SetExternalId(Option<String>),
}

impl UpdateAction {
    /// The commercetools action name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::AddTransaction(_) => "addTransaction",
            Self::ChangeTransactionState { .. } => "changeTransactionState",
            Self::ChangeTransactionTimestamp { .. } => "changeTransactionTimestamp",
            Self::ChangeTransactionInteractionId { .. } => "changeTransactionInteractionId",
            Self::SetTransactionInterfaceId { .. } => "setTransactionInterfaceId",
            Self::SetTransactionCustomType { .. } => "setTransactionCustomType",
            Self::SetTransactionCustomField { .. } => "setTransactionCustomField",
            Self::AddInterfaceInteraction(_) => "addInterfaceInteraction",
            Self::ChangeAmountPlanned(_) => "changeAmountPlanned",
            Self::SetKey(_) => "setKey",
            Self::SetCustomer(_) => "setCustomer",
            Self::SetAnonymousId(_) => "setAnonymousId",
            Self::SetInterfaceId(_) => "setInterfaceId",
            Self::SetMethodInfoInterface(_) => "setMethodInfoInterface",
            Self::SetMethodInfoMethod(_) => "setMethodInfoMethod",
            Self::SetMethodInfoName(_) => "setMethodInfoName",
            Self::SetMethodInfoToken(_) => "setMethodInfoToken",
            Self::SetMethodInfoInterfaceAccount(_) => "setMethodInfoInterfaceAccount",
            Self::SetMethodInfoCustomType(_) => "setMethodInfoCustomType",
            Self::SetMethodInfoCustomField { .. } => "setMethodInfoCustomField",
            Self::SetMethodInfo(_) => "setMethodInfo",
            Self::SetStatusInterfaceCode(_) => "setStatusInterfaceCode",
            Self::SetStatusInterfaceText(_) => "setStatusInterfaceText",
            Self::SetCustomType(_) => "setCustomType",
            Self::SetCustomField { .. } => "setCustomField",
            Self::TransitionState { .. } => "transitionState",
            Self::SetAmountPaid(_) => "setAmountPaid",
            Self::SetAmountRefunded(_) => "setAmountRefunded",
            Self::SetAuthorization { .. } => "setAuthorization",
            Self::SetExternalId(_) => "setExternalId",
        }
    }
}

/// What a client asked for. The app routes each to
/// [`crate::decide::decide_create`], [`crate::decide::decide_update`] or
/// [`crate::decide::decide_delete`] after loading the payment and checking
/// its version.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Command {
    CreatePayment(Box<PaymentDraftInput>),
    UpdatePayment(Vec<UpdateAction>),
    DeletePayment { data_erasure: bool },
}
