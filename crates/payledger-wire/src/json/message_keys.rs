//! Which key a payment had at each version, for the Messages rendered
//! from its events.

use super::message_to_json;
use payledger_domain::{Event, EventEnvelope, PaymentId};
use serde_json::Value;
use std::collections::HashMap;

/// Tracks each payment's key while events are read in stream order, so a
/// Message names the key its payment had at that version. Shared by every
/// reader that renders Messages (the Messages routes, the Kafka relay,
/// webhook deliveries): a reader that
/// starts mid-stream first [`MessageKeys::observe`]s the stream's earlier events.
#[derive(Default, Debug)]
pub struct MessageKeys(HashMap<PaymentId, Option<String>>);

impl MessageKeys {
    /// Takes note of `envelope`'s key change, if any, and returns the key
    /// its payment has after it.
    pub fn observe(&mut self, envelope: &EventEnvelope) -> Option<&str> {
        let key = self.0.entry(envelope.payment_id).or_default();
        match &envelope.event {
            Event::Created(draft) => key.clone_from(&draft.key),
            Event::KeySet(new) => key.clone_from(new),
            _ => {}
        }
        key.as_deref()
    }

    /// The Message of `envelope`, naming the key at its version.
    pub fn render(&mut self, envelope: &EventEnvelope) -> Value {
        let key = self.observe(envelope);
        message_to_json(envelope, key)
    }

    /// Observes the earlier events of `envelope`'s payment when it was not
    /// seen from its start: a reader that starts mid-stream (a log consumer
    /// after a restart) still names the key the payment had.
    /// `read_earlier(payment, last)` returns the payment's events of
    /// versions 1 to `last`; it is called only when they are needed.
    pub fn learn_history<E>(
        &mut self,
        envelope: &EventEnvelope,
        read_earlier: impl FnOnce(PaymentId, u64) -> Result<Vec<EventEnvelope>, E>,
    ) -> Result<(), E> {
        if envelope.version <= 1 || self.knows(envelope.payment_id) {
            return Ok(());
        }
        for event in &read_earlier(envelope.payment_id, envelope.version - 1)? {
            self.observe(event);
        }
        Ok(())
    }

    /// Takes note of `envelope` when its payment is tracked, without
    /// rendering it: a reader that skips a Message (filtered out) still
    /// names the right key in the later ones. Untracked payments are left
    /// to [`MessageKeys::learn_history`], which reads their whole start.
    pub fn observe_if_tracked(&mut self, envelope: &EventEnvelope) {
        if self.knows(envelope.payment_id) {
            self.observe(envelope);
        }
    }

    /// Forgets every payment when `incoming` more could take the tracker
    /// past `max` payments: bounds the memory of a long-running reader.
    pub fn make_room(&mut self, incoming: usize, max: usize) {
        if self.0.len() + incoming > max {
            self.0.clear();
        }
    }

    /// True when the events of `payment` were observed from version 1 on.
    fn knows(&self, payment: PaymentId) -> bool {
        self.0.contains_key(&payment)
    }
}
