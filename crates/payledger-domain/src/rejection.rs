//! Rejections: each business rule that can say "no" is one named variant.
//!
//! A rejection carries what the HTTP layer needs to write the commercetools
//! error: [`Rejection::code`] gives the error code with its extra fields and
//! [`Rejection::message`] the human text. The status code and the JSON body
//! are written in exactly one place, in the API crate. A few variants
//! (`DuplicateKey`, `DuplicateInterfaceId`) are never produced here: the
//! project-wide uniqueness they guard is checked by the app layer against
//! its indexes, which reports them through this same enum.

use crate::command::ResourceRef;
use crate::ids::{OrderId, PaymentId};
use crate::money::CurrencyCode;
use crate::payment::FieldValue;
use crate::types::{CustomResource, FieldType, StateType};
use std::fmt;

/// Why a command was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Rejection {
    /// More update actions than [`crate::decide::ACTIONS_PER_REQUEST_MAX`].
    TooManyActions { count: usize, max: usize },
    /// The payment was deleted; it accepts no further commands.
    PaymentDeleted { id: PaymentId },
    /// A key outside `^[A-Za-z0-9_-]+$` or 2–256 characters.
    KeyInvalid { key: String },
    /// Another payment of the project has this key (app layer).
    DuplicateKey { key: String },
    /// Another payment of the project has this interface id for the same
    /// payment interface (app layer).
    DuplicateInterfaceId { interface_id: String },
    /// The payment has no transaction with this id (kept as text so the
    /// edge can report ids that are not even UUIDs the same way).
    TransactionNotFound { id: String },
    /// Another transaction of the payment has this interface id.
    DuplicateTransactionInterfaceId { interface_id: String },
    /// A transaction's currency differs from `amountPlanned`'s, or
    /// `changeAmountPlanned` would change the currency under transactions.
    CurrencyMismatch {
        expected: CurrencyCode,
        actual: CurrencyCode,
    },
    /// `setInterfaceId` with a different value once one is set.
    InterfaceIdAlreadySet { current: String },
    /// `setMethodInfoInterface` with a different value once one is set.
    MethodInfoInterfaceAlreadySet { current: String },
    /// `setAnonymousId` on a payment that has a customer.
    AnonymousIdWithCustomer,
    /// The referenced Type does not exist.
    TypeNotFound { by: ResourceRef },
    /// The Type does not list the resource in its `resourceTypeIds`.
    TypeNotForResource {
        type_key: String,
        resource: CustomResource,
    },
    /// A custom field action on a resource without custom fields.
    CustomTypeNotSet { resource: CustomResource },
    /// The Type defines no field of this name.
    CustomFieldUndefined {
        name: String,
        type_key: String,
        value: FieldValue,
    },
    /// The value does not fit the field's type.
    CustomFieldInvalid {
        name: String,
        value: FieldValue,
        expected: FieldType,
    },
    /// A required field is missing, or an action would remove it.
    CustomFieldRequiredMissing { name: String },
    /// Removing a custom field that is not set.
    RemovingMissingCustomField { name: String },
    /// The referenced State does not exist.
    StateNotFound { by: ResourceRef },
    /// The referenced State is not a `PaymentState`.
    StateNotPaymentState { key: String, state_type: StateType },
    /// A payment without a state may only move to an initial state.
    StateNotInitial { key: String },
    /// An order number outside `^[A-Za-z0-9_.-]{1,64}$`.
    OrderNumberInvalid { order_number: String },
    /// Another order of the project has this order number (app layer).
    DuplicateOrderNumber { order_number: String },
    /// A customer email that is not `local@domain` or is too long.
    CustomerEmailInvalid { email: String },
    /// A customer id that is empty or too long.
    CustomerIdInvalid { max: usize },
    /// An order's `totalPrice` below zero.
    TotalPriceNegative { cent_amount: i64 },
    /// The order was cancelled; its payments can no longer change.
    OrderCancelled { id: OrderId },
    /// The order was deleted; it accepts no further commands.
    OrderDeleted { id: OrderId },
    /// The payment that an order action names does not exist.
    PaymentNotFound { id: PaymentId },
    /// The payment is linked to this or another order already (`None`:
    /// another order is linking it right now).
    PaymentAlreadyInOrder {
        payment: PaymentId,
        order: Option<OrderId>,
    },
    /// `removePayment` of a payment the order does not hold.
    PaymentNotInOrder { payment: PaymentId, order: OrderId },
    /// An order holds at most this many payments.
    TooManyOrderPayments { max: usize },
    /// A payment of another currency than the order's total.
    OrderCurrencyMismatch {
        expected: CurrencyCode,
        actual: CurrencyCode,
    },
    /// The current state does not list the target among its transitions.
    TransitionNotAllowed { from: String, to: String },
    /// A retry or collect on an order that owes nothing.
    NothingOutstanding {
        order: OrderId,
        payment_state: &'static str,
    },
    /// The latest attempt is in progress and was requested too recently to
    /// be replaced; a retry is allowed from `allowed_from`, `wait_ms` after
    /// the refused request.
    RetryNotYetAllowed {
        attempt: PaymentId,
        allowed_from: crate::payment::Timestamp,
        wait_ms: i64,
    },
    /// A collect while an attempt is still in progress.
    AttemptInProgress { attempt: PaymentId },
    /// No attempt of the order saved its payment method for
    /// merchant-initiated (off-session) use.
    NoReusablePaymentMethod { order: OrderId },
    /// `payment_method.payment_provider_slug` names no PSP configured for
    /// the project.
    UnknownPaymentProvider { slug: String },
    /// A payment page needs the URL the shopper returns to.
    ReturnUrlRequired,
}

/// The commercetools error code a [`Rejection`] answers with, and the extra
/// fields of its error object.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RejectionCode {
    InvalidInput,
    InvalidOperation,
    InvalidField {
        field: String,
        invalid_value: FieldValue,
    },
    RequiredField {
        field: String,
    },
    DuplicateField {
        field: String,
        duplicate_value: String,
    },
    /// `typeId` is `type` or `state`; `by` gives `id` or `key`.
    ReferencedResourceNotFound {
        type_id: &'static str,
        by: ResourceRef,
    },
    ResourceNotFound,
    /// The request may be repeated from `allowed_from` on, `wait_ms` after
    /// the refused one.
    RetryNotYetAllowed {
        allowed_from: crate::payment::Timestamp,
        wait_ms: i64,
    },
}

impl RejectionCode {
    /// The `code` of the commercetools error object.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::InvalidOperation => "InvalidOperation",
            Self::InvalidField { .. } => "InvalidField",
            Self::RequiredField { .. } => "RequiredField",
            Self::DuplicateField { .. } => "DuplicateField",
            Self::ReferencedResourceNotFound { .. } => "ReferencedResourceNotFound",
            Self::ResourceNotFound => "ResourceNotFound",
            Self::RetryNotYetAllowed { .. } => "RetryNotYetAllowed",
        }
    }
}

impl Rejection {
    /// The commercetools error code and its extra fields.
    pub fn code(&self) -> RejectionCode {
        match self {
            Self::TooManyActions { .. }
            | Self::KeyInvalid { .. }
            | Self::OrderNumberInvalid { .. }
            | Self::CustomerEmailInvalid { .. }
            | Self::CustomerIdInvalid { .. }
            | Self::TotalPriceNegative { .. } => RejectionCode::InvalidInput,
            Self::DuplicateOrderNumber { order_number } => duplicate("orderNumber", order_number),
            Self::PaymentNotFound { id } => RejectionCode::ReferencedResourceNotFound {
                type_id: "payment",
                by: ResourceRef::Id(id.to_string()),
            },
            Self::OrderCancelled { .. }
            | Self::PaymentAlreadyInOrder { .. }
            | Self::PaymentNotInOrder { .. }
            | Self::TooManyOrderPayments { .. }
            | Self::OrderCurrencyMismatch { .. }
            | Self::NothingOutstanding { .. }
            | Self::AttemptInProgress { .. }
            | Self::NoReusablePaymentMethod { .. } => RejectionCode::InvalidOperation,
            Self::UnknownPaymentProvider { slug } => RejectionCode::InvalidField {
                field: "payment_method.payment_provider_slug".into(),
                invalid_value: FieldValue::String(slug.clone()),
            },
            Self::ReturnUrlRequired => RejectionCode::RequiredField {
                field: "payment_method.return_url".into(),
            },
            Self::RetryNotYetAllowed {
                allowed_from,
                wait_ms,
                ..
            } => RejectionCode::RetryNotYetAllowed {
                allowed_from: *allowed_from,
                wait_ms: *wait_ms,
            },
            Self::PaymentDeleted { .. } | Self::OrderDeleted { .. } => {
                RejectionCode::ResourceNotFound
            }
            Self::DuplicateKey { key } => duplicate("key", key),
            Self::DuplicateInterfaceId { interface_id }
            | Self::DuplicateTransactionInterfaceId { interface_id } => {
                duplicate("interfaceId", interface_id)
            }
            Self::TransactionNotFound { .. }
            | Self::CurrencyMismatch { .. }
            | Self::InterfaceIdAlreadySet { .. }
            | Self::MethodInfoInterfaceAlreadySet { .. }
            | Self::AnonymousIdWithCustomer
            | Self::TypeNotForResource { .. }
            | Self::CustomTypeNotSet { .. }
            | Self::RemovingMissingCustomField { .. }
            | Self::StateNotPaymentState { .. }
            | Self::StateNotInitial { .. }
            | Self::TransitionNotAllowed { .. } => RejectionCode::InvalidOperation,
            Self::TypeNotFound { by } => referenced("type", by),
            Self::StateNotFound { by } => referenced("state", by),
            Self::CustomFieldUndefined { name, value, .. }
            | Self::CustomFieldInvalid { name, value, .. } => RejectionCode::InvalidField {
                field: name.clone(),
                invalid_value: value.clone(),
            },
            Self::CustomFieldRequiredMissing { name } => RejectionCode::RequiredField {
                field: name.clone(),
            },
        }
    }

    /// The human-readable message; never contains secrets (no rejection
    /// carries a token).
    pub fn message(&self) -> String {
        match self {
            Self::TooManyActions { count, max } => {
                format!("Too many update actions: {count}. At most {max} are allowed.")
            }
            Self::PaymentDeleted { id } => format!("The Resource with ID '{id}' was not found."),
            Self::OrderDeleted { id } => format!("The Resource with ID '{id}' was not found."),
            Self::KeyInvalid { key } => key_invalid_message(key),
            Self::DuplicateKey { key } => duplicate_message("key", key),
            Self::DuplicateInterfaceId { interface_id } => {
                duplicate_message("interfaceId", interface_id)
            }
            Self::TransactionNotFound { id } => {
                format!("The payment has no transaction with id '{id}'.")
            }
            Self::DuplicateTransactionInterfaceId { interface_id } => {
                format!("Another transaction of this payment has the interfaceId '{interface_id}'.")
            }
            Self::CurrencyMismatch { expected, actual } => {
                format!("The currency {actual} differs from the payment's currency {expected}.")
            }
            Self::InterfaceIdAlreadySet { current } => set_once_message("interfaceId", current),
            Self::MethodInfoInterfaceAlreadySet { current } => {
                set_once_message("paymentMethodInfo.paymentInterface", current)
            }
            Self::AnonymousIdWithCustomer => {
                "The payment belongs to a customer, so it cannot have an anonymousId.".to_owned()
            }
            Self::TypeNotFound { by } => not_found_message("type", by),
            Self::TypeNotForResource { type_key, resource } => {
                format!("The type '{type_key}' is not defined for resource type '{resource}'.")
            }
            Self::CustomTypeNotSet { resource } => {
                format!("The {resource} has no custom type; set one before setting fields.")
            }
            Self::CustomFieldUndefined { name, type_key, .. } => {
                format!("The field '{name}' is not defined in type '{type_key}'.")
            }
            Self::CustomFieldInvalid {
                name,
                value,
                expected,
            } => {
                let value = to_json(value);
                format!("The value '{value}' is not valid for field '{name}' of type {expected}.")
            }
            Self::CustomFieldRequiredMissing { name } => {
                format!("A value is required for field '{name}'.")
            }
            Self::RemovingMissingCustomField { name } => {
                format!("Cannot remove the custom field '{name}': it is not set.")
            }
            Self::StateNotFound { by } => not_found_message("state", by),
            Self::StateNotPaymentState { key, state_type } => {
                format!("The state '{key}' is a {state_type}, not a PaymentState.")
            }
            Self::StateNotInitial { key } => state_not_initial_message(key),
            Self::TransitionNotAllowed { from, to } => {
                format!("A transition from state '{from}' to state '{to}' is not allowed.")
            }
            Self::OrderNumberInvalid { order_number } => format!(
                "Invalid orderNumber '{order_number}'. An order number has 1 to 64 letters, \
                 digits, '-', '_' or '.' (order_number_bytes_max)."
            ),
            Self::DuplicateOrderNumber { order_number } => {
                duplicate_message("orderNumber", order_number)
            }
            Self::CustomerEmailInvalid { email } => format!(
                "Invalid customerEmail '{email}'. Expected one '@' between a local part and a \
                 domain, no spaces, at most 254 bytes (customer_email_bytes_max)."
            ),
            Self::CustomerIdInvalid { max } => format!(
                "Invalid customerId: it must have 1 to {max} bytes (customer_id_bytes_max)."
            ),
            Self::TotalPriceNegative { cent_amount } => {
                format!("The totalPrice must not be negative; centAmount was {cent_amount}.")
            }
            Self::OrderCancelled { id } => {
                format!("The order '{id}' is cancelled; its payments cannot change.")
            }
            Self::PaymentNotFound { id } => {
                not_found_message("payment", &ResourceRef::Id(id.to_string()))
            }
            Self::PaymentAlreadyInOrder { payment, order } => match order {
                Some(order) => {
                    format!("The payment '{payment}' already belongs to the order '{order}'.")
                }
                None => format!("The payment '{payment}' is being added to another order."),
            },
            Self::PaymentNotInOrder { payment, order } => {
                format!("The order '{order}' has no payment '{payment}'.")
            }
            Self::TooManyOrderPayments { max } => {
                format!("An order holds at most {max} payments (order_payments_max).")
            }
            Self::OrderCurrencyMismatch { expected, actual } => format!(
                "The payment's currency {actual} differs from the order's currency {expected}."
            ),
            Self::NothingOutstanding {
                order,
                payment_state,
            } => format!(
                "The order '{order}' has nothing outstanding (paymentState {payment_state}); \
                 there is nothing to pay."
            ),
            Self::RetryNotYetAllowed {
                attempt,
                allowed_from,
                ..
            } => format!(
                "The latest payment attempt '{attempt}' is still in progress. A retry is allowed \
                 once it failed, or from {} on, when it expires (retry_after_ms).",
                crate::time::format_timestamp(*allowed_from)
            ),
            Self::AttemptInProgress { attempt } => format!(
                "The payment attempt '{attempt}' is still in progress; collect the balance once \
                 it has settled."
            ),
            Self::UnknownPaymentProvider { slug } => format!(
                "The payment provider '{slug}' is not configured for this project \
                 (payment_method.payment_provider_slug)."
            ),
            Self::ReturnUrlRequired => "A payment page needs payment_method.return_url, the \
                 URL the shopper returns to after paying."
                .to_owned(),
            Self::NoReusablePaymentMethod { order } => format!(
                "No payment of the order '{order}' saved its payment method for off-session \
                 reuse: the shopper must pay with a mandate (options.createMandate) or through \
                 retry-payment first."
            ),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Rejection {}

fn duplicate(field: &str, value: &str) -> RejectionCode {
    RejectionCode::DuplicateField {
        field: field.to_owned(),
        duplicate_value: value.to_owned(),
    }
}

fn referenced(type_id: &'static str, by: &ResourceRef) -> RejectionCode {
    RejectionCode::ReferencedResourceNotFound {
        type_id,
        by: by.clone(),
    }
}

fn key_invalid_message(key: &str) -> String {
    format!(
        "Invalid key '{key}'. Keys may only contain alphanumeric characters, underscores and \
         hyphens and must have a minimum length of 2 characters and maximum length of 256 \
         characters."
    )
}

fn set_once_message(field: &str, current: &str) -> String {
    format!("The {field} is already set to '{current}' and cannot be changed.")
}

fn state_not_initial_message(key: &str) -> String {
    format!(
        "The state '{key}' is not initial; a payment without a state can only transition to an \
         initial state."
    )
}

fn duplicate_message(field: &str, value: &str) -> String {
    format!("A duplicate value '\"{value}\"' exists for field '{field}'.")
}

fn not_found_message(type_id: &str, by: &ResourceRef) -> String {
    format!("The referenced object of type '{type_id}' with {by} was not found.")
}

/// Renders a field value as compact JSON, for messages.
fn to_json(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Number(n) => n.clone(),
        FieldValue::String(s) => quote(s),
        FieldValue::List(items) => {
            let items: Vec<String> = items.iter().map(to_json).collect();
            format!("[{}]", items.join(","))
        }
        FieldValue::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), to_json(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
