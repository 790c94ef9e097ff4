//! The heads a writer keeps: found with their latest version, bounded,
//! and the lately committed ones kept longest.

use super::{KNOWN_HEADS_PER_GENERATION_MAX, KnownHeads};
use payledger_domain::{PaymentId, StreamId};
use payledger_store::StreamHead;

fn stream(n: usize) -> StreamId {
    StreamId::payment(PaymentId::from_bytes((n as u128).to_be_bytes()))
}

fn head(version: u64) -> StreamHead {
    StreamHead {
        version,
        last_hash: [7; 32],
        partition: 3,
    }
}

#[test]
fn a_kept_head_is_found_with_its_latest_version() {
    let known = KnownHeads::default();
    assert_eq!(known.get(stream(1)), None);
    known.keep_all([(stream(1), head(1))]);
    known.keep_all([(stream(1), head(2)), (stream(3), head(1))]);
    assert_eq!(known.get(stream(1)), Some(head(2)));
    assert_eq!(known.get(stream(3)), Some(head(1)));
    assert_eq!(known.get(stream(2)), None);
}

#[test]
fn at_most_two_generations_are_kept_and_a_head_committed_again_lives_on() {
    let known = KnownHeads::default();
    let max = KNOWN_HEADS_PER_GENERATION_MAX;
    known.keep_all((0..max).map(|n| (stream(n), head(1))));
    // The newer generation is full: the next head starts a new one, and
    // the first heads are still known, in the older.
    known.keep_all([(stream(max), head(1))]);
    assert_eq!(known.get(stream(0)), Some(head(1)));
    // Stream 0 is committed again: its head moves to the newer generation.
    known.keep_all([(stream(0), head(2))]);
    assert_eq!(known.get(stream(0)), Some(head(2)));
    // Filling the newer generation again drops the older one.
    known.keep_all((max + 1..2 * max).map(|n| (stream(n), head(1))));
    assert_eq!(known.get(stream(0)), Some(head(2)));
    assert_eq!(known.get(stream(1)), None);
    assert_eq!(known.get(stream(max - 1)), None);
    assert_eq!(known.get(stream(2 * max - 1)), Some(head(1)));
    assert!(known.len() <= 2 * max, "{} heads kept", known.len());
}
