//! Outbound webhooks: every Subscription of every project gets its
//! Messages delivered over HTTP, signed, retried, in order per payment.
//!
//! Deliveries are a projection of the global log, never a call inside the
//! write path. Each subscription is a log consumer with one durable cursor
//! per partition (`subscription:{id}`, see
//! [`payledger_app::subscriptions`]) on payledger's one log-consumer runner
//! ([`payledger_app::consumer::LogConsumer`]); its handler walks each
//! partition's log in order and delivers one Message at a time:
//!
//! 1. render the Message in the subscription's format ([`render`]);
//! 2. POST it, signed ([`signature`]), with the Message id as delivery id
//!    ([`send`]);
//! 3. on success go on with the next one, saving the cursor once per batch
//!    of log events ([`worker::BATCH_EVENTS_MAX`]); on failure save the
//!    progress and record the attempt on the cursor (that is the
//!    subscription's `status`), wait with bounded exponential backoff and
//!    jitter ([`backoff`]), and try the same Message again, until the
//!    retry bound ([`retry_limit`]) stops the subscription's deliveries
//!    where they stand, to be resumed by an update.
//!
//! A failing Message holds its partition back, so no later Message of the
//! same payment (same partition) overtakes it: order per payment holds.
//! Delivery is at least once: a crash repeats the Messages taken since the
//! last cursor save (at most one batch per partition); receivers dedupe by the
//! `X-Payledger-Delivery` header (the Message `id`).
//!
//! [`Deliveries`] starts the workers, starts and stops them as
//! subscriptions come and go (told by the API, rescanned periodically
//! anyway), and stops them all on shutdown.

pub mod backoff;
pub mod merchant_callbacks;
pub mod render;
pub mod retry_limit;
pub mod send;
pub mod signature;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use backoff::Backoff;
pub use merchant_callbacks::MerchantCallbacks;
pub use retry_limit::RetryLimit;
pub use worker::{Deliveries, DeliveryConfig, DeliveryError};
