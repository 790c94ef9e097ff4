//! Everything payledger says to the outside, as pure functions: the
//! commercetools JSON of payments and Messages, the CloudEvents envelope,
//! and the one `t=…,v1=…` HMAC-SHA256 signature scheme with its [`Secret`].
//!
//! The HTTP API, the Kafka relay and the webhook deliveries all render
//! through this crate, so a Message reads the same wherever it is seen;
//! none of them depends on another. No IO, no clock: times come in as
//! arguments.
//!
//! - [`json`]: Payment, transaction, money, custom fields and Message JSON;
//!   CloudEvents; the key tracker Messages are rendered with.
//! - [`export`]: one flat row per event for analysts (`payledger export`).
//! - [`signature`]: sign and verify `t=<unix seconds>,v1=<hex>` headers.
//! - [`secret`]: a string whose `Debug` and `Display` print a mask.

pub mod export;
pub mod json;
pub mod secret;
pub mod signature;

pub use secret::Secret;
