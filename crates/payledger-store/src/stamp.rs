//! Turning an accepted append into stored envelopes.
//!
//! Every implementation stamps events the same way, so the hash chain and
//! positions are identical whichever store wrote them: versions continue
//! from the head, sequences continue the partition's log, and each envelope
//! carries the hash of its predecessor's encoded bytes.

use crate::{Appended, GENESIS_HASH, LogPosition, NewEvent, StreamHead, envelope_hash};
use payledger_domain::{EventEnvelope, StreamId};

/// One stamped event and its encoded bytes, ready to store.
#[derive(Debug)]
pub struct StampedEvent {
    pub envelope: EventEnvelope,
    pub encoded: Vec<u8>,
}

/// The outcome of stamping one append.
#[derive(Debug)]
pub struct Stamped {
    pub events: Vec<StampedEvent>,
    pub head: StreamHead,
    pub appended: Appended,
}

impl Stamped {
    /// The log sequence of the last stamped event.
    pub fn head_sequence(&self) -> u64 {
        self.appended.positions.last().map_or(0, |p| p.sequence)
    }
}

/// Stamps `events` onto a stream whose current head is `head` (`None` for a
/// new stream) in `partition`, whose last log sequence is `last_sequence`.
pub fn stamp(
    stream: StreamId,
    head: Option<StreamHead>,
    partition: u16,
    last_sequence: u64,
    events: Vec<NewEvent>,
) -> Stamped {
    let (mut version, mut previous_hash) =
        head.map_or((0, GENESIS_HASH), |h| (h.version, h.last_hash));
    let first_version = version + 1;
    let mut stamped = Vec::with_capacity(events.len());
    let mut positions = Vec::with_capacity(events.len());
    for (sequence, NewEvent { meta, event }) in (last_sequence + 1..).zip(events) {
        version += 1;
        let envelope = EventEnvelope {
            meta,
            stream,
            version,
            partition,
            partition_sequence: sequence,
            previous_hash,
            event,
        };
        let encoded = payledger_codec::encode_envelope(&envelope);
        previous_hash = envelope_hash(&encoded);
        positions.push(LogPosition {
            partition,
            sequence,
        });
        stamped.push(StampedEvent { envelope, encoded });
    }
    Stamped {
        events: stamped,
        head: StreamHead {
            version,
            last_hash: previous_hash,
            partition,
        },
        appended: Appended {
            first_version,
            last_version: version,
            positions,
        },
    }
}
