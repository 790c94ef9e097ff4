//! Which partition a payment belongs to.
//!
//! `partition_of` is part of the stored format: a payment's partition is
//! recorded in its stream head when the stream is created, and the mapping
//! must never change for a store that exists.

use payledger_domain::PaymentId;

/// Partitions of a new store unless configured otherwise.
pub const PARTITIONS_DEFAULT: u16 = 16;

/// Most partitions a store may have.
pub const PARTITIONS_MAX: u16 = 1_024;

/// FNV-1a (64 bit) over the payment id's 16 bytes, modulo the partition
/// count. Stable across platforms and releases.
pub fn partition_of(payment_id: PaymentId, partition_count: u16) -> u16 {
    assert!(partition_count > 0, "a store has at least one partition");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in payment_id.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(partition_count)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_is_fixed_forever() {
        // These values are stored in existing databases: never change them.
        let id = PaymentId::from_bytes([0; 16]);
        assert_eq!(partition_of(id, 16), 5);
        let id = PaymentId::from_bytes(*b"0123456789abcdef");
        assert_eq!(partition_of(id, 16), 13);
        assert_eq!(partition_of(id, 1_024), 893);
        assert_eq!(partition_of(id, 1), 0);
    }

    #[test]
    fn payments_spread_over_all_partitions() {
        let mut seen = [0u32; 16];
        for n in 0..4_096u32 {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            seen[usize::from(partition_of(PaymentId::from_bytes(bytes), 16))] += 1;
        }
        assert!(seen.iter().all(|&count| count > 128), "{seen:?}");
    }
}
