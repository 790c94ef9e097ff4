//! Custom field Types and PaymentState States as the domain sees them.
//!
//! The app layer owns the full Type and State resources (names, labels,
//! descriptions, versions); the domain only needs what its rules read: which
//! resources a Type may customise, its field definitions (name, value type,
//! required), and a State's key, kind, `initial` flag and allowed
//! transitions. [`FieldType::accepts`] is the one place that says whether a
//! custom field value fits its definition.

mod format;

use crate::money::CurrencyCode;
use crate::payment::FieldValue;
use std::collections::BTreeMap;
use std::fmt;

/// The parts of a payment that can carry custom fields, named by the
/// commercetools `resourceTypeId` a Type must list to be used there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CustomResource {
    /// The payment itself (`payment`).
    Payment,
    /// A transaction of a payment (`transaction`).
    Transaction,
    /// The payment method info (`payment-method-info`).
    PaymentMethodInfo,
    /// An interface interaction (`payment-interface-interaction`).
    PaymentInterfaceInteraction,
}

impl CustomResource {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 4] = [
        Self::Payment,
        Self::Transaction,
        Self::PaymentMethodInfo,
        Self::PaymentInterfaceInteraction,
    ];

    /// The commercetools `resourceTypeId`.
    pub const fn resource_type_id(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Transaction => "transaction",
            Self::PaymentMethodInfo => "payment-method-info",
            Self::PaymentInterfaceInteraction => "payment-interface-interaction",
        }
    }
}

impl fmt::Display for CustomResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource_type_id())
    }
}

/// A custom field Type: which resources it customises and its fields.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TypeDefinition {
    pub id: String,
    pub key: String,
    /// commercetools `resourceTypeIds`, e.g. `payment`, `transaction`. Ids
    /// of resources payledger does not host are kept but never match.
    pub resource_type_ids: Vec<String>,
    pub field_definitions: Vec<FieldDefinition>,
}

impl TypeDefinition {
    /// Whether this Type may be used on `resource`.
    pub fn is_for(&self, resource: CustomResource) -> bool {
        self.resource_type_ids
            .iter()
            .any(|id| id == resource.resource_type_id())
    }

    /// The definition of the field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDefinition> {
        self.field_definitions.iter().find(|f| f.name == name)
    }

    /// The definitions of the required fields.
    pub fn required_fields(&self) -> impl Iterator<Item = &FieldDefinition> {
        self.field_definitions.iter().filter(|f| f.required)
    }
}

/// One field of a Type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldDefinition {
    pub name: String,
    pub field_type: FieldType,
    pub required: bool,
}

/// The value type of a custom field.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FieldType {
    Boolean,
    Number,
    String,
    LocalizedString,
    /// A plain enum; values are given by key.
    Enum {
        keys: Vec<String>,
    },
    /// A localized enum; values are given by key.
    LocalizedEnum {
        keys: Vec<String>,
    },
    /// `{currencyCode, centAmount}` (optionally `type`, `fractionDigits`).
    Money,
    /// `YYYY-MM-DD`.
    Date,
    /// `hh:mm:ss[.fff]`.
    Time,
    /// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
    DateTime,
    /// `{typeId, id}` where `typeId` equals `reference_type_id`.
    Reference {
        reference_type_id: String,
    },
    /// A list whose every element has the element type.
    Set(Box<FieldType>),
}

impl FieldType {
    /// The commercetools name of the type (`Set` for every set).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Boolean => "Boolean",
            Self::Number => "Number",
            Self::String => "String",
            Self::LocalizedString => "LocalizedString",
            Self::Enum { .. } => "Enum",
            Self::LocalizedEnum { .. } => "LocalizedEnum",
            Self::Money => "Money",
            Self::Date => "Date",
            Self::Time => "Time",
            Self::DateTime => "DateTime",
            Self::Reference { .. } => "Reference",
            Self::Set(_) => "Set",
        }
    }

    /// Whether `value` is a valid value for a field of this type.
    pub fn accepts(&self, value: &FieldValue) -> bool {
        match self {
            Self::Boolean => matches!(value, FieldValue::Bool(_)),
            Self::Number => matches!(value, FieldValue::Number(n) if format::is_number(n)),
            Self::String => matches!(value, FieldValue::String(_)),
            Self::LocalizedString => is_localized_string(value),
            Self::Enum { keys } | Self::LocalizedEnum { keys } => {
                matches!(value, FieldValue::String(k) if keys.contains(k))
            }
            Self::Money => matches!(value, FieldValue::Object(o) if is_money(o)),
            Self::Date => matches!(value, FieldValue::String(s) if format::is_date(s)),
            Self::Time => matches!(value, FieldValue::String(s) if format::is_time(s)),
            Self::DateTime => matches!(value, FieldValue::String(s) if format::is_date_time(s)),
            Self::Reference { reference_type_id } => {
                matches!(value, FieldValue::Object(o) if is_reference(o, reference_type_id))
            }
            Self::Set(element) => {
                matches!(value, FieldValue::List(items) if items.iter().all(|i| element.accepts(i)))
            }
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set(element) => write!(f, "Set of {element}"),
            Self::Reference { reference_type_id } => write!(f, "Reference to {reference_type_id}"),
            other => f.write_str(other.name()),
        }
    }
}

fn is_localized_string(value: &FieldValue) -> bool {
    matches!(value, FieldValue::Object(o)
        if o.iter().all(|(locale, text)| !locale.is_empty() && matches!(text, FieldValue::String(_))))
}

/// `{currencyCode, centAmount}` with a known currency and an integer amount;
/// `fractionDigits` and `type`, when present, must agree.
fn is_money(object: &BTreeMap<String, FieldValue>) -> bool {
    let known = ["centAmount", "currencyCode", "fractionDigits", "type"];
    if !object.keys().all(|k| known.contains(&k.as_str())) {
        return false;
    }
    let Some(FieldValue::String(code)) = object.get("currencyCode") else {
        return false;
    };
    let Ok(currency) = CurrencyCode::parse(code) else {
        return false;
    };
    let amount_ok = matches!(object.get("centAmount"),
        Some(FieldValue::Number(n)) if n.parse::<i64>().is_ok());
    let digits_ok = match object.get("fractionDigits") {
        None => true,
        Some(FieldValue::Number(n)) => n.parse::<u8>().ok() == Some(currency.fraction_digits()),
        Some(_) => false,
    };
    let type_ok = match object.get("type") {
        None => true,
        Some(v) => *v == FieldValue::String("centPrecision".to_owned()),
    };
    amount_ok && digits_ok && type_ok
}

/// `{typeId, id}` with the expected `typeId` and a non-empty id.
fn is_reference(object: &BTreeMap<String, FieldValue>, reference_type_id: &str) -> bool {
    let type_ok =
        matches!(object.get("typeId"), Some(FieldValue::String(t)) if t == reference_type_id);
    let id_ok = matches!(object.get("id"), Some(FieldValue::String(id)) if !id.is_empty());
    type_ok && id_ok && object.len() == 2
}

/// The kind of a State (commercetools `StateTypeEnum`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum StateType {
    OrderState,
    RecurringOrderState,
    LineItemState,
    ProductState,
    ReviewState,
    PaymentState,
    QuoteRequestState,
    StagedQuoteState,
    QuoteState,
}

impl StateType {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::OrderState,
        Self::RecurringOrderState,
        Self::LineItemState,
        Self::ProductState,
        Self::ReviewState,
        Self::PaymentState,
        Self::QuoteRequestState,
        Self::StagedQuoteState,
        Self::QuoteState,
    ];

    /// The commercetools name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderState => "OrderState",
            Self::RecurringOrderState => "RecurringOrderState",
            Self::LineItemState => "LineItemState",
            Self::ProductState => "ProductState",
            Self::ReviewState => "ReviewState",
            Self::PaymentState => "PaymentState",
            Self::QuoteRequestState => "QuoteRequestState",
            Self::StagedQuoteState => "StagedQuoteState",
            Self::QuoteState => "QuoteState",
        }
    }

    /// Parses the commercetools name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for StateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A State as the payment rules see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateDefinition {
    pub id: String,
    pub key: String,
    pub state_type: StateType,
    /// A payment without a state may only move to an initial state.
    pub initial: bool,
    /// Ids of the states this one may move to; `None` allows every state.
    pub transitions: Option<Vec<String>>,
}

impl StateDefinition {
    /// Whether a payment in this state may move to the state `target_id`.
    pub fn allows_transition_to(&self, target_id: &str) -> bool {
        match &self.transitions {
            None => true,
            Some(ids) => ids.iter().any(|id| id == target_id),
        }
    }
}

#[cfg(test)]
mod tests;
