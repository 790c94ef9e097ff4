//! Which key a payment had at each version, for the Messages rendered
//! from its events.

use super::message_to_json;
use payledger_domain::{Event, EventEnvelope, StreamId};
use serde_json::Value;
use std::collections::HashMap;

/// Tracks each payment's key while events are read in stream order, so a
/// Message names the key its payment had at that version. Shared by every
/// reader that renders Messages (the Messages routes, the Kafka relay,
/// webhook deliveries): a reader that
/// starts mid-stream first [`MessageKeys::observe`]s the stream's earlier events.
///
/// Each payment's entry remembers the version it was observed up to, so a
/// reader that reads events again (a log consumer whose handler was
/// replaced) or skips some is noticed and learns the history again instead
/// of naming a later key.
#[derive(Default, Debug)]
pub struct MessageKeys(HashMap<StreamId, Tracked>);

/// A payment's key after `version`.
#[derive(Default, Debug)]
struct Tracked {
    key: Option<String>,
    version: u64,
}

/// The key a stream's Messages name after `event`, when they named
/// `before` until it: what [`MessageKeys`] tracks, for a writer that knows
/// the key before (the Message index stores it with each entry).
pub fn message_key_after<'a>(event: &'a Event, before: Option<&'a str>) -> Option<&'a str> {
    match event {
        Event::Created(draft) => draft.key.as_deref(),
        Event::KeySet(new) => new.as_deref(),
        _ => before,
    }
}

impl MessageKeys {
    /// Takes note of `envelope`'s key change, if any, and returns the key
    /// its payment has after it.
    pub fn observe(&mut self, envelope: &EventEnvelope) -> Option<&str> {
        let tracked = self.0.entry(envelope.stream).or_default();
        // Only these two events change the key (see `message_key_after`).
        if matches!(envelope.event, Event::Created(_) | Event::KeySet(_)) {
            tracked.key = message_key_after(&envelope.event, None).map(str::to_owned);
        }
        tracked.version = envelope.version;
        tracked.key.as_deref()
    }

    /// The Message of `envelope`, naming the key at its version.
    pub fn render(&mut self, envelope: &EventEnvelope) -> Value {
        let key = self.observe(envelope);
        message_to_json(envelope, key)
    }

    /// Observes the earlier events of `envelope`'s payment unless the
    /// version before it was the last one observed: a reader that starts
    /// mid-stream (a log consumer after a restart) or reads events again
    /// still names the key the payment had.
    /// `read_earlier(stream, last)` returns the stream's events of
    /// versions 1 to `last`; it is called only when they are needed.
    pub fn learn_history<E>(
        &mut self,
        envelope: &EventEnvelope,
        read_earlier: impl FnOnce(StreamId, u64) -> Result<Vec<EventEnvelope>, E>,
    ) -> Result<(), E> {
        if envelope.version <= 1 || self.follows(envelope) {
            return Ok(());
        }
        self.0.remove(&envelope.stream);
        for event in &read_earlier(envelope.stream, envelope.version - 1)? {
            self.observe(event);
        }
        Ok(())
    }

    /// Takes note of `envelope` when it follows what was observed of its
    /// payment, without rendering it: a reader that skips a Message
    /// (filtered out) still names the right key in the later ones. Other
    /// payments are forgotten and left to [`MessageKeys::learn_history`],
    /// which reads their whole start.
    pub fn observe_if_tracked(&mut self, envelope: &EventEnvelope) {
        if self.follows(envelope) {
            self.observe(envelope);
        } else {
            self.0.remove(&envelope.stream);
        }
    }

    /// Forgets every payment when `incoming` more could take the tracker
    /// past `max` payments: bounds the memory of a long-running reader.
    pub fn make_room(&mut self, incoming: usize, max: usize) {
        if self.0.len() + incoming > max {
            self.0.clear();
        }
    }

    /// True when the events of `envelope`'s payment were observed from
    /// version 1 up to the one just before it.
    fn follows(&self, envelope: &EventEnvelope) -> bool {
        self.0
            .get(&envelope.stream)
            .is_some_and(|t| t.version + 1 == envelope.version)
    }
}
