//! Column families and their typed key and value codecs.
//!
//! Keys are big-endian so byte order equals logical order, and every scan
//! names explicit bounds built from these functions.
//!
//! | CF            | key                               | value                               |
//! |---------------|-----------------------------------|-------------------------------------|
//! | `events`      | payment id (16) · version (u64)   | event envelope (protobuf)           |
//! | `log`         | partition (u16) · sequence (u64)  | payment id (16) · version (u64)     |
//! | `heads`       | payment id (16)                   | version (u64) · hash (32) · partition (u16) |
//! | `meta`        | name (ASCII)                      | per entry (`partition_count`: u16)  |
//! | one CF per [`Table`] (`views`, `idx_key`, …) | owned by the layer that writes it | |

use payledger_domain::PaymentId;
use payledger_store::{StreamHead, Table};

pub const CF_EVENTS: &str = "events";
pub const CF_LOG: &str = "log";
pub const CF_HEADS: &str = "heads";
pub const CF_META: &str = "meta";

/// The column family holding a table.
pub const fn table_cf(table: Table) -> &'static str {
    match table {
        Table::Views => "views",
        Table::KeyIndex => "idx_key",
        Table::InterfaceIndex => "idx_interface",
        Table::CustomerIndex => "idx_customer",
        Table::Idempotency => "idempotency",
        Table::EventIds => "event_ids",
        Table::Cursors => "cursors",
        Table::Tasks => "tasks",
        Table::Catalog => "catalog",
        Table::Clients => "clients",
        Table::Tokens => "tokens",
        Table::TransactionInterfaceIndex => "idx_txn_interface",
        Table::WebhookEvents => "webhook_events",
        Table::Subscriptions => "subscriptions",
    }
}

/// Every column family of the database, created when missing.
pub fn all_cfs() -> impl Iterator<Item = &'static str> {
    [CF_EVENTS, CF_LOG, CF_HEADS, CF_META]
        .into_iter()
        .chain(Table::ALL.into_iter().map(table_cf))
}

/// `meta` key holding the partition count, fixed at creation.
pub const META_PARTITION_COUNT: &[u8] = b"partition_count";

pub type EventKey = [u8; 24];
pub type LogKey = [u8; 10];

pub fn event_key(payment_id: PaymentId, version: u64) -> EventKey {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(payment_id.as_bytes());
    key[16..].copy_from_slice(&version.to_be_bytes());
    key
}

pub fn log_key(partition: u16, sequence: u64) -> LogKey {
    let mut key = [0u8; 10];
    key[..2].copy_from_slice(&partition.to_be_bytes());
    key[2..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// The sequence of a log key; `None` if the key is malformed.
pub fn log_key_sequence(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(2..10)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn log_value(payment_id: PaymentId, version: u64) -> [u8; 24] {
    event_key(payment_id, version)
}

/// Decodes a log value back into the event key it points at.
pub fn log_value_event_key(value: &[u8]) -> Option<EventKey> {
    value.try_into().ok()
}

pub fn encode_head(head: &StreamHead) -> [u8; 42] {
    let mut value = [0u8; 42];
    value[..8].copy_from_slice(&head.version.to_be_bytes());
    value[8..40].copy_from_slice(&head.last_hash);
    value[40..].copy_from_slice(&head.partition.to_be_bytes());
    value
}

pub fn decode_head(value: &[u8]) -> Option<StreamHead> {
    if value.len() != 42 {
        return None;
    }
    Some(StreamHead {
        version: u64::from_be_bytes(value[..8].try_into().ok()?),
        last_hash: value[8..40].try_into().ok()?,
        partition: u16::from_be_bytes(value[40..].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_partition_then_sequence() {
        let mut keys = vec![
            log_key(1, 2),
            log_key(0, 300),
            log_key(1, 1),
            log_key(0, 256),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                log_key(0, 256),
                log_key(0, 300),
                log_key(1, 1),
                log_key(1, 2)
            ]
        );
        assert_eq!(log_key_sequence(&log_key(7, 42)), Some(42));
    }

    #[test]
    fn event_keys_sort_by_version_within_a_payment() {
        let p = PaymentId::from_bytes([3; 16]);
        assert!(event_key(p, 255) < event_key(p, 256));
    }

    #[test]
    fn heads_round_trip() {
        let head = StreamHead {
            version: 9,
            last_hash: [5; 32],
            partition: 12,
        };
        assert_eq!(decode_head(&encode_head(&head)), Some(head));
        assert_eq!(decode_head(&[0; 41]), None);
    }
}
