//! The PSP port: the calls payledger makes to a payment service provider,
//! their typed results and failures, and the reading of the PSP's signed
//! webhooks. Pure (no HTTP client): the Stripe connector over HTTP is
//! `payledger-stripe`, so the application layer depends on this crate
//! without pulling an HTTP stack.
//!
//! - [`PspConnector`]: the interface the executor and the refresh use,
//!   object safe so it travels as `Arc<dyn PspConnector>`.
//! - [`model`]: requests and results (PaymentIntent, Refund) with
//!   exhaustive status enums.
//! - [`error`]: typed failures (declined, invalid request, authentication,
//!   rate limit, API or network error with a retryable flag).
//! - [`secret`]: a wrapper that keeps keys out of logs.
//! - [`config`]: per-project PSP settings read from a JSON file.
//! - [`signature`]: the `Stripe-Signature` scheme (HMAC-SHA256, constant
//!   time, tolerance, several secrets for rotation).
//! - [`webhook`]: the typed content of a verified webhook event.
//! - [`stripe_wire`]: Stripe's JSON objects, error bodies and id prefixes.
//! - `testing` (feature): an in-memory PSP for tests of the layers above.
//!
//! Architecture invariant: the PSP's wire format (form bodies, JSON
//! answers, status strings) lives here and nowhere else; callers see typed
//! values only. Secrets and card data never reach a log line.

pub mod config;
pub mod error;
pub mod model;
pub mod stripe_wire;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;

pub use error::PspError;
pub use model::{
    CaptureMethod, CreateIntent, CreateRefund, IntentStatus, ObjectKind, PaymentError,
    PaymentIntent, Refund, RefundStatus, SaveCard, SavedCard,
};
pub use payledger_wire::Secret;
/// The `t=…,v1=…` HMAC-SHA256 scheme Stripe signs its webhooks with (the
/// same one payledger signs its own deliveries with) lives in
/// `payledger_wire`; re-exported for the connector's users.
pub use payledger_wire::{secret, signature};

use std::future::Future;
use std::pin::Pin;

/// The metadata key that carries payledger's transaction id on every object
/// payledger creates at a PSP; the executor finds objects by it after a
/// crash.
pub const METADATA_TRANSACTION_ID: &str = "payledger_transaction_id";
/// The metadata key carrying the payment id.
pub const METADATA_PAYMENT_ID: &str = "payledger_payment_id";
/// The metadata key carrying the project key.
pub const METADATA_PROJECT: &str = "payledger_project";

/// The future a connector call returns.
pub type PspFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PspError>> + Send + 'a>>;

/// The calls payledger makes to a PSP. Every call that changes something
/// carries an idempotency key, so a repeated call after an unknown outcome
/// does not act twice at PSPs that honour it.
pub trait PspConnector: Send + Sync + std::fmt::Debug + 'static {
    /// What kind of object a PSP id names (`pi_…` is a PaymentIntent at
    /// Stripe).
    fn object_kind(&self, id: &str) -> ObjectKind;

    /// Creates a PaymentIntent, and confirms it when `request.confirm`.
    fn create_payment_intent<'a>(
        &'a self,
        request: &'a CreateIntent,
    ) -> PspFuture<'a, PaymentIntent>;

    /// Saves the card behind a browser token, or a payment method id, on a
    /// new PSP customer.
    fn save_card<'a>(&'a self, request: &'a SaveCard) -> PspFuture<'a, SavedCard>;

    /// Sets the payment method (and its customer) of a PaymentIntent that
    /// was created without one; confirm it afterwards.
    fn set_payment_method<'a>(
        &'a self,
        id: &'a str,
        card: &'a SavedCard,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent>;

    /// Confirms a PaymentIntent whose payment method was set at creation.
    fn confirm_payment_intent<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent>;

    /// Captures an authorized PaymentIntent, all of it or `amount` minor
    /// units (the rest is released).
    fn capture_payment_intent<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent>;

    /// Cancels a PaymentIntent that was not captured.
    fn cancel_payment_intent<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent>;

    /// The current state of a PaymentIntent.
    fn retrieve_payment_intent<'a>(&'a self, id: &'a str) -> PspFuture<'a, PaymentIntent>;

    /// The PaymentIntent created for payledger transaction `transaction_id`
    /// (by [`METADATA_TRANSACTION_ID`]), if any.
    fn find_payment_intent<'a>(
        &'a self,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<PaymentIntent>>;

    /// Refunds (part of) a charged payment.
    fn create_refund<'a>(&'a self, request: &'a CreateRefund) -> PspFuture<'a, Refund>;

    /// The current state of a refund.
    fn retrieve_refund<'a>(&'a self, id: &'a str) -> PspFuture<'a, Refund>;

    /// The refund created for payledger transaction `transaction_id` on the
    /// payment `charged` (the interface id of the charged transaction).
    fn find_refund<'a>(
        &'a self,
        charged: &'a str,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<Refund>>;
}
