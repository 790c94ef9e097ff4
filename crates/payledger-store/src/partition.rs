//! Which partition a stream belongs to.
//!
//! `partition_of` is part of the stored format: a stream's partition is
//! recorded in its head when the stream is created, and the mapping must
//! never change for a store that exists. Only the aggregate id takes part,
//! not its kind, so payments keep the partition they had before streams had
//! kinds.

use payledger_domain::StreamId;

/// Partitions of a new store unless configured otherwise.
pub const PARTITIONS_DEFAULT: u16 = 16;

/// Most partitions a store may have.
pub const PARTITIONS_MAX: u16 = 1_024;

/// FNV-1a (64 bit) over the aggregate id's 16 bytes, modulo the partition
/// count. Stable across platforms and releases.
pub fn partition_of(stream: StreamId, partition_count: u16) -> u16 {
    assert!(partition_count > 0, "a store has at least one partition");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in stream.id_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(partition_count)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_domain::{PaymentId, StreamKind};

    fn payment(bytes: [u8; 16]) -> StreamId {
        StreamId::payment(PaymentId::from_bytes(bytes))
    }

    #[test]
    fn the_mapping_is_fixed_forever() {
        // These values are stored in existing databases: never change them.
        let id = payment([0; 16]);
        assert_eq!(partition_of(id, 16), 5);
        let id = payment(*b"0123456789abcdef");
        assert_eq!(partition_of(id, 16), 13);
        assert_eq!(partition_of(id, 1_024), 893);
        assert_eq!(partition_of(id, 1), 0);
        let order = StreamId::from_bytes(StreamKind::Order, *b"0123456789abcdef");
        assert_eq!(partition_of(order, 1_024), 893, "the kind takes no part");
    }

    #[test]
    fn payments_spread_over_all_partitions() {
        let mut seen = [0u32; 16];
        for n in 0..4_096u32 {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            seen[usize::from(partition_of(payment(bytes), 16))] += 1;
        }
        assert!(seen.iter().all(|&count| count > 128), "{seen:?}");
    }
}
