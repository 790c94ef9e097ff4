//! `OrderPaymentStateChanged`: an order's `paymentState` follows what its
//! payments achieve, and this log consumer records each change as an
//! event of the order, so it travels as a Message (Kafka topic,
//! Subscriptions) like every other change.
//!
//! The order view's totals are computed from the payments' views on every
//! read, so they are never behind; the event is the announcement. For each
//! batch of the log, the consumer finds the orders touched (a payment's
//! event → its order through [`Table::PaymentOrders`]; an order's own
//! events), and for each asks [`Orders::announce_payment_state`], which
//! appends `OrderPaymentStateChanged {paymentState, oldPaymentState}` only
//! when the derived state differs from the last one recorded. Reading a
//! batch again after a crash therefore appends nothing twice, and the
//! consumer's cursor moves only after the orders of a batch are done.

use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::consumer::{ConsumerConfig, Handled, LogConsumer, LogHandler, Stop};
use crate::error::AppError;
use crate::orders::Orders;
use crate::payments::CommandMeta;
use payledger_domain::{Actor, Event, EventEnvelope, OrderEvent, OrderId, ProjectKey};
use payledger_store::EventStore;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The consumer's cursor name.
pub const ORDER_STATES_CONSUMER: &str = "order-payment-states";
/// The actor of its events.
pub const ORDER_STATES_ACTOR: &str = "order-payment-states";
/// Most log events one batch reads.
pub const ORDER_STATES_BATCH_EVENTS_MAX: usize = 512;
/// How long a woken worker lets commits gather before it reads them: an
/// announcement lags its payment change by about this much, and under load
/// the consumer reads a batch per partition this often instead of one per
/// commit (every payment write would otherwise pay for a wake-up and a
/// read of its own).
pub const ORDER_STATES_LINGER_MS: u64 = 50;
/// Its wait after failures in a row.
pub const ORDER_STATES_BACKOFF: Backoff = Backoff {
    min_ms: 100,
    max_ms: 30_000,
};

/// The consumer of one partition.
#[derive(Debug)]
pub struct OrderStatesHandler {
    orders: Orders<dyn EventStore>,
}

impl OrderStatesHandler {
    pub fn new(orders: Orders<dyn EventStore>) -> Self {
        Self { orders }
    }
}

/// The orders a batch touched, in the order first seen.
fn touched(
    orders: &Orders<dyn EventStore>,
    events: Vec<EventEnvelope>,
) -> Result<Vec<(ProjectKey, OrderId)>, AppError> {
    let mut seen = HashSet::new();
    let mut touched = Vec::new();
    // The index is read as it is now, so one read per payment of the batch
    // answers for all of its events (an update appends two or more).
    let mut order_of = HashMap::new();
    for event in events {
        let order = if let Some(order) = event.order_id() {
            // Its own announcements change nothing to announce.
            if matches!(
                event.event,
                Event::Order(OrderEvent::PaymentStateChanged { .. })
            ) {
                continue;
            }
            Some(order)
        } else if let Some(payment) = event.payment_id() {
            match order_of.get(&payment) {
                Some(order) => *order,
                None => {
                    let order = orders.order_of_payment(&event.meta.project, payment)?;
                    order_of.insert(payment, order);
                    order
                }
            }
        } else {
            None
        };
        if let Some(order) = order
            && seen.insert(order)
        {
            touched.push((event.meta.project, order));
        }
    }
    Ok(touched)
}

impl LogHandler for OrderStatesHandler {
    type Work = Vec<(ProjectKey, OrderId)>;
    type Error = AppError;

    fn batch_events_max(&self) -> usize {
        ORDER_STATES_BATCH_EVENTS_MAX
    }

    fn prepare(
        &mut self,
        _store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Self::Work, AppError> {
        touched(&self.orders, events)
    }

    /// Orders are announced one after the other; the done ones leave the
    /// work, so a failure hands back only the rest.
    async fn handle(&mut self, work: &mut Self::Work, stop: &Stop) -> Handled<AppError> {
        while let Some((project, order)) = work.first().cloned() {
            let meta = CommandMeta {
                project,
                actor: Actor::Internal(ORDER_STATES_ACTOR.to_owned()),
                now: SystemClock.now(),
                correlation_id: None,
                idempotency: None,
            };
            let announced = tokio::select! {
                announced = self.orders.announce_payment_state(meta, order) => announced,
                () = stop.requested() => return Handled::Stopped { through: None },
            };
            if let Err(failure) = announced {
                return Handled::Failed {
                    through: None,
                    failure,
                };
            }
            work.remove(0);
        }
        Handled::All
    }
}

/// Starts the consumer: one worker per partition of the store.
pub fn spawn(store: Arc<dyn EventStore>, orders: Orders<dyn EventStore>) -> LogConsumer {
    LogConsumer::spawn(
        store,
        ConsumerConfig::new(ORDER_STATES_CONSUMER, ORDER_STATES_BACKOFF)
            .with_linger(std::time::Duration::from_millis(ORDER_STATES_LINGER_MS)),
        move |_partition| OrderStatesHandler::new(orders.clone()),
    )
}
