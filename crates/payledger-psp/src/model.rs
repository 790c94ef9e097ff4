//! Requests to a PSP and the objects it answers with, as typed values.
//!
//! Statuses are closed enums matched exhaustively by callers: a status the
//! PSP adds later fails to parse (and is reported as an API error) instead
//! of silently falling into a default.

use crate::secret::Secret;
use std::collections::BTreeMap;

/// The kind of PSP object an id names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjectKind {
    PaymentIntent,
    Charge,
    Refund,
    /// Anything else (customers, invoices, …).
    Other,
}

/// When the funds of a PaymentIntent are captured.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CaptureMethod {
    /// Authorize only; a later capture takes the funds.
    Manual,
    /// Capture as soon as the payment is authorized.
    Automatic,
}

impl CaptureMethod {
    /// The PSP's name of the method.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Automatic => "automatic",
        }
    }
}

/// A request to create (and possibly confirm) a PaymentIntent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreateIntent {
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO 4217 code, any case (sent lower case).
    pub currency: String,
    /// The payment method (token) to charge; `None` leaves it to the
    /// customer, who confirms with the client secret (a payment page or a
    /// storefront SDK).
    pub payment_method: Option<String>,
    /// `card`, `sepa_debit`, …; empty leaves the choice to the PSP.
    pub payment_method_types: Vec<String>,
    pub customer: Option<String>,
    pub capture_method: CaptureMethod,
    pub confirm: bool,
    /// A merchant-initiated charge of a saved method, without the customer
    /// present (needs `confirm`): a card that asks for authentication fails
    /// instead of waiting.
    pub off_session: bool,
    /// Key/value metadata stored on the PaymentIntent.
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

/// A card the customer entered (as a PSP token) to be saved on a new PSP
/// customer, so that later payments can use it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SaveCard {
    /// The single-use token the PSP's browser library made (`tok_…`), or
    /// a PaymentMethod the merchant's front end made (`pm_…`), which is
    /// attached to the new customer.
    pub card_token: String,
    pub email: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Each call derives its own key from it.
    pub idempotency_key: String,
}

/// A card saved on a PSP customer: usable as a PaymentIntent's payment
/// method together with the customer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SavedCard {
    /// `card_…` (saved from a token) or `pm_…` (an attached method)
    pub id: String,
    /// `cus_…`
    pub customer: String,
    /// `visa`, `mastercard`, … (lower case).
    pub brand: Option<String>,
    pub last4: Option<String>,
}

/// A request to refund a charged payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreateRefund {
    /// The interface id of the charged transaction (a PaymentIntent or a
    /// charge id); the connector knows which parameter it is.
    pub charged: String,
    /// Minor units; `None` refunds what is left.
    pub amount: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

/// The status of a PaymentIntent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::RequiresPaymentMethod,
        Self::RequiresConfirmation,
        Self::RequiresAction,
        Self::Processing,
        Self::RequiresCapture,
        Self::Canceled,
        Self::Succeeded,
    ];

    /// The PSP's name of the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Canceled => "canceled",
            Self::Succeeded => "succeeded",
        }
    }

    /// Parses the PSP's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The status of a refund.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

impl RefundStatus {
    /// Every variant, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::RequiresAction,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    /// The PSP's name of the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::RequiresAction => "requires_action",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the PSP's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Why the last attempt to pay failed, as the PSP reports it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PaymentError {
    /// e.g. `card_declined`, `payment_intent_authentication_failure`.
    pub code: Option<String>,
    /// The issuer's reason, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

/// A PaymentIntent as the PSP answered it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentIntent {
    pub id: String,
    pub status: IntentStatus,
    /// Minor units.
    pub amount: i64,
    /// Minor units received, when the PSP reports it.
    pub amount_received: Option<i64>,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    pub capture_method: Option<String>,
    /// Lets a storefront finish 3-D Secure; never logged.
    pub client_secret: Option<Secret>,
    /// The id of the latest charge (expanded objects reduced to their id).
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<PaymentError>,
    /// The type of the next action the customer must take, if any.
    pub next_action: Option<String>,
    pub customer: Option<String>,
    /// Why a `canceled` intent was cancelled, as the PSP says
    /// (`automatic` for an authorization that expired,
    /// `requested_by_customer`, …); `None` when not given.
    pub cancellation_reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A refund as the PSP answered it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refund {
    pub id: String,
    pub status: RefundStatus,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub failure_reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in IntentStatus::ALL {
            assert_eq!(IntentStatus::parse(status.as_str()), Some(status));
        }
        for status in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(IntentStatus::parse("requires_source"), None);
    }
}
