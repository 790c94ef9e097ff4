//! What the tokenization flows take and give: the requests (read and
//! checked by the API), the response codes, refusals, and answers.

use super::records::{Outcome, RequestRecord};
use crate::error::AppError;
use crate::psp::PspFailure;
use payledger_domain::Money;

/// The answers of the tokenization API (README: "Response codes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ResponseCode {
    Success,
    /// Accepted; the outcome is not final yet and goes to
    /// `callbackUrl.notify`.
    Pending,
    /// The envelope or a field of the request is malformed (the message
    /// names the field).
    MalformedRequest,
    /// No active key of the merchant made the signature.
    BadSignature,
    /// The merchant is unknown.
    UnknownMerchant,
    /// The token is unknown, or not the merchant's and user's.
    UnknownToken,
    /// `parentOrderId` is not the merchant's sale that created the token.
    ParentOrderMismatch,
    /// The `merchantReference` was used with other content.
    DuplicateReference,
    /// The PSP declined the charge.
    Declined,
    /// The card asks for the customer's authentication.
    AuthenticationRequired,
    /// The PSP could not be reached; the charge is retried and its outcome
    /// goes to `callbackUrl.notify`.
    PspUnavailable,
}

impl ResponseCode {
    /// Every code.
    pub const ALL: [Self; 11] = [
        Self::Success,
        Self::Pending,
        Self::MalformedRequest,
        Self::BadSignature,
        Self::UnknownMerchant,
        Self::UnknownToken,
        Self::ParentOrderMismatch,
        Self::DuplicateReference,
        Self::Declined,
        Self::AuthenticationRequired,
        Self::PspUnavailable,
    ];

    /// The `responseCode` text.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Success => "0000",
            Self::Pending => "0001",
            Self::MalformedRequest => "1001",
            Self::BadSignature => "1002",
            Self::UnknownMerchant => "1003",
            Self::UnknownToken => "1004",
            Self::ParentOrderMismatch => "1005",
            Self::DuplicateReference => "1006",
            Self::Declined => "2001",
            Self::AuthenticationRequired => "2002",
            Self::PspUnavailable => "3001",
        }
    }
}

/// A refused request: its code and what to tell the merchant.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refusal {
    pub code: ResponseCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ResponseCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Why a request got no answer with an order.
#[derive(Debug, thiserror::Error)]
pub enum TokenizationError {
    #[error("refused ({}): {}", .0.code.code(), .0.message)]
    Refused(Refusal),
    #[error(transparent)]
    Failed(#[from] PspFailure),
}

impl From<AppError> for TokenizationError {
    fn from(error: AppError) -> Self {
        Self::Failed(error.into())
    }
}

impl From<payledger_store::StoreError> for TokenizationError {
    fn from(error: payledger_store::StoreError) -> Self {
        Self::Failed(error.into())
    }
}

/// Where the merchant wants to be told about the outcome.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CallbackUrls {
    pub success: Option<String>,
    pub fail: Option<String>,
    pub cancel: Option<String>,
    pub notify: Option<String>,
}

/// A sale with tokenization, read after its signature was checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SaleRequest {
    pub merchant_id: u64,
    /// Lower case: user ids compare without case.
    pub user_id: String,
    pub merchant_reference: String,
    pub amount: Money,
    /// The PSP's payment method (`pm_…`).
    pub payment_method: String,
    pub email: Option<String>,
    pub callback_urls: CallbackUrls,
}

/// A recurring request (seed 004), read after its signature was checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecurringRequest {
    pub merchant_id: u64,
    /// Lower case: user ids compare without case.
    pub user_id: String,
    pub token_id: u64,
    pub reason: String,
    /// Hundredths of the token's currency (seed: Number(9,2)).
    pub amount_hundredths: i64,
    pub merchant_reference: String,
    pub parent_order_id: u64,
    pub callback_urls: CallbackUrls,
}

/// An answered request: its record and outcome (pending ones are not
/// stored yet).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Answered {
    pub record: RequestRecord,
    pub outcome: Outcome,
    /// The answer of an earlier identical request.
    pub replayed: bool,
}

/// What the callback sender does with a due callback.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CallbackWork {
    /// POST `body` to `url`.
    Send { url: String, body: Vec<u8> },
    /// The outcome is still not final: try again later.
    NotSettled,
    /// Nothing to do (no notify URL, or notified already).
    Done,
}
