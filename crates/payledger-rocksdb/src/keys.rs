//! Column families and their typed key and value codecs.
//!
//! Keys are big-endian so byte order equals logical order, and every scan
//! names explicit bounds built from these functions.
//!
//! Every stream kind has its own pair of event and head column families, so
//! ids of different kinds never meet in one key space and the payment CFs
//! keep the names and keys they had before streams had kinds.
//!
//! | CF            | key                               | value                               |
//! |---------------|-----------------------------------|-------------------------------------|
//! | `events` (payments), `order_events` | aggregate id (16) · version (u64) | event envelope (protobuf) |
//! | `heads` (payments), `order_heads`   | aggregate id (16)      | version (u64) · hash (32) · partition (u16) |
//! | `log`         | partition (u16) · sequence (u64)  | [kind tag (u8) ·] aggregate id (16) · version (u64): no tag for payments, 24 bytes |
//! | `meta`        | name (ASCII)                      | per entry (`partition_count`: u16, `derived_layout`: u32) |
//! | one CF per [`Table`] (`views`, `idx_key`, …) | owned by the layer that writes it | |

use payledger_domain::{StreamId, StreamKind};
use payledger_store::{StreamHead, Table};

pub const CF_LOG: &str = "log";
pub const CF_META: &str = "meta";

/// The column family holding the events of streams of `kind`.
pub const fn events_cf(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Payment => "events",
        StreamKind::Order => "order_events",
    }
}

/// The column family holding the heads of streams of `kind`.
pub const fn heads_cf(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Payment => "heads",
        StreamKind::Order => "order_heads",
    }
}

/// The tag naming `kind` in log values; payments have none (their log
/// values predate kinds).
const fn kind_tag(kind: StreamKind) -> Option<u8> {
    match kind {
        StreamKind::Payment => None,
        StreamKind::Order => Some(1),
    }
}

fn kind_of_tag(tag: u8) -> Option<StreamKind> {
    StreamKind::ALL
        .into_iter()
        .find(|kind| kind_tag(*kind) == Some(tag))
}

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
        Table::ViewRows => "view_rows",
        Table::OrderViews => "order_views",
        Table::OrderNumberIndex => "idx_order_number",
        Table::OrderKeyIndex => "idx_order_key",
        Table::PaymentOrders => "payment_orders",
        Table::PaymentLinks => "payment_links",
        Table::SavedMethods => "saved_methods",
        Table::Merchants => "merchants",
        Table::MerchantCounters => "merchant_counters",
        Table::MerchantReferences => "merchant_references",
        Table::PaymentTokens => "payment_tokens",
        Table::MerchantCallbacks => "merchant_callbacks",
        Table::AnalyticsFacts => "analytics_facts",
        Table::AnalyticsBuckets => "analytics_buckets",
        Table::DataKeys => "data_keys",
        Table::Snapshots => "snapshots",
        Table::MessagesByType => "idx_message_type",
        Table::MessagesByTime => "idx_message_time",
    }
}

/// Every column family of the database, created when missing.
pub fn all_cfs() -> impl Iterator<Item = &'static str> {
    [CF_LOG, CF_META]
        .into_iter()
        .chain(StreamKind::ALL.into_iter().map(events_cf))
        .chain(StreamKind::ALL.into_iter().map(heads_cf))
        .chain(Table::ALL.into_iter().map(table_cf))
}

/// `meta` key holding the partition count, fixed at creation.
pub const META_PARTITION_COUNT: &[u8] = b"partition_count";

pub type EventKey = [u8; 24];
pub type LogKey = [u8; 10];

/// The key of an event within its kind's `events` CF.
pub fn event_key(stream: StreamId, version: u64) -> EventKey {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(stream.id_bytes());
    key[16..].copy_from_slice(&version.to_be_bytes());
    key
}

/// The aggregate id and version of an event key; `None` if malformed.
pub fn parse_event_key(key: &[u8]) -> Option<([u8; 16], u64)> {
    let id: [u8; 16] = key.get(..16)?.try_into().ok()?;
    let version: [u8; 8] = key.get(16..)?.try_into().ok()?;
    Some((id, u64::from_be_bytes(version)))
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

/// A log entry's value: the event it points at.
pub struct LogValue {
    bytes: [u8; 25],
    start: usize,
}

impl AsRef<[u8]> for LogValue {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

pub fn log_value(stream: StreamId, version: u64) -> LogValue {
    let mut bytes = [0u8; 25];
    bytes[1..].copy_from_slice(&event_key(stream, version));
    match kind_tag(stream.kind) {
        None => LogValue { bytes, start: 1 },
        Some(tag) => {
            bytes[0] = tag;
            LogValue { bytes, start: 0 }
        }
    }
}

/// Decodes a log value back into the kind and event key it points at.
pub fn log_value_event_key(value: &[u8]) -> Option<(StreamKind, EventKey)> {
    match value.len() {
        24 => Some((StreamKind::Payment, value.try_into().ok()?)),
        25 => Some((kind_of_tag(value[0])?, value[1..].try_into().ok()?)),
        _ => None,
    }
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
        let p = StreamId::from_bytes(StreamKind::Payment, [3; 16]);
        assert!(event_key(p, 255) < event_key(p, 256));
    }

    #[test]
    fn payment_log_values_are_the_untagged_event_key_and_other_kinds_are_tagged() {
        let payment = StreamId::from_bytes(StreamKind::Payment, [3; 16]);
        let value = log_value(payment, 9);
        // The layout payment entries had before streams had kinds.
        assert_eq!(value.as_ref(), event_key(payment, 9).as_slice());
        assert_eq!(
            log_value_event_key(value.as_ref()),
            Some((StreamKind::Payment, event_key(payment, 9)))
        );
        for kind in StreamKind::ALL {
            let stream = StreamId::from_bytes(kind, [3; 16]);
            let value = log_value(stream, 9);
            assert_eq!(
                log_value_event_key(value.as_ref()),
                Some((kind, event_key(stream, 9))),
                "{kind}"
            );
        }
        assert_eq!(log_value_event_key(&[0; 23]), None);
        assert_eq!(log_value_event_key(&[0xEE; 25]), None, "unknown tag");
    }

    #[test]
    fn every_kind_has_its_own_event_and_head_families() {
        let names: std::collections::HashSet<_> = all_cfs().collect();
        assert_eq!(names.len(), all_cfs().count(), "no family is shared");
        assert_eq!(events_cf(StreamKind::Payment), "events");
        assert_eq!(heads_cf(StreamKind::Payment), "heads");
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
