//! Keys of the tables this layer owns.
//!
//! Text components are length-prefixed (u16 BE) so no separator can be
//! forged and a project's rows form one contiguous key range; ids are their
//! 16 raw bytes.
//!
//! | table          | key                                        | value |
//! |----------------|--------------------------------------------|-------|
//! | Views          | project · payment id                       | Payment view header (protobuf) |
//! | ViewRows       | project · payment id · list (u8) · index (u32 BE) | a transaction or interface interaction (protobuf) |
//! | KeyIndex       | project · key                              | payment id |
//! | InterfaceIndex | project · interfaceId · paymentInterface   | payment id |
//! | CustomerIndex  | project · customer id · payment id         | empty |
//! | EventIds       | event id                                   | payment id · version (u64 BE); an order's: order id · version · 1 |
//! | Idempotency    | project · idempotency key                  | see [`crate::idempotency`] |
//! | Catalog        | project · kind · id, and project · kind-key · key | record / id |
//! | TransactionInterfaceIndex | project · transaction interfaceId · payment id | empty |
//! | WebhookEvents  | project · interface · event id             | see [`crate::psp::notifications`] |
//! | Subscriptions  | project · subscription id                  | see [`crate::subscriptions`] |
//! | OrderViews     | project · order id                         | Order view (protobuf) |
//! | OrderNumberIndex | project · orderNumber                    | order id |
//! | OrderKeyIndex  | project · order key                        | order id |
//! | PaymentOrders  | project · payment id                       | order id |
//! | PaymentLinks   | SHA-256 of the link token                  | see [`crate::order_attempts::records`] |
//! | SavedMethods   | project · payment id                       | see [`crate::psp::saved_methods`] |
//! | Merchants      | merchant number (u64 BE)                   | see [`crate::merchants`] |

use payledger_domain::{OrderId, PaymentId, ProjectKey, StreamId, StreamKind};

/// Appends a length-prefixed text component.
pub fn push_text(key: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
}

/// Splits a length-prefixed text component off the front of `bytes`:
/// its bytes and what follows; `None` when `bytes` is too short.
pub fn split_text(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))
}

/// The key prefix of everything of one project.
pub fn project_prefix(project: &ProjectKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + project.as_str().len() + 16);
    push_text(&mut key, project.as_str());
    key
}

/// The exclusive upper bound of all keys starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    // An all-0xFF prefix has no finite successor of the same length.
    vec![u8::MAX; prefix.len() + 1]
}

pub fn view_key(project: &ProjectKey, payment_id: PaymentId) -> Vec<u8> {
    let mut key = project_prefix(project);
    key.extend_from_slice(payment_id.as_bytes());
    key
}

/// The lists of a Payment view stored a row per item, after its header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ViewList {
    Transactions = 1,
    Interactions = 2,
}

/// The row of item `index` of `list` of a payment's view: the view key,
/// the list's tag, the index (u32 BE), so a view's rows follow in order.
pub fn view_row_key(
    project: &ProjectKey,
    payment_id: PaymentId,
    list: ViewList,
    index: u32,
) -> Vec<u8> {
    let mut key = view_key(project, payment_id);
    key.push(list as u8);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The list and index a view row key ends with.
pub fn decode_view_row_key(key: &[u8]) -> Option<(ViewList, u32)> {
    let (tag, index) = key.get(key.len().checked_sub(5)?..)?.split_first()?;
    let list = match *tag {
        1 => ViewList::Transactions,
        2 => ViewList::Interactions,
        _ => return None,
    };
    Some((list, u32::from_be_bytes(index.try_into().ok()?)))
}

/// The payment id at the end of a view key.
pub fn view_key_payment(key: &[u8]) -> Option<PaymentId> {
    let bytes: [u8; 16] = key.get(key.len().checked_sub(16)?..)?.try_into().ok()?;
    Some(PaymentId::from_bytes(bytes))
}

pub fn key_index_key(project: &ProjectKey, payment_key: &str) -> Vec<u8> {
    text_prefix(project, payment_key)
}

/// Interface ids lead so a lookup by `interfaceId` alone is a prefix scan;
/// uniqueness is per (interfaceId, paymentInterface) pair.
pub fn interface_index_key(
    project: &ProjectKey,
    payment_interface: &str,
    interface_id: &str,
) -> Vec<u8> {
    let mut key = interface_prefix(project, interface_id);
    push_text(&mut key, payment_interface);
    key
}

/// `project · text`: the prefix of every entry about one value.
fn text_prefix(project: &ProjectKey, text: &str) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, text);
    key
}

/// `project · text · payment id`: one payment's entry under a value.
fn text_payment_key(project: &ProjectKey, text: &str, payment_id: PaymentId) -> Vec<u8> {
    let mut key = text_prefix(project, text);
    key.extend_from_slice(payment_id.as_bytes());
    key
}

/// The prefix of every interface index entry with this interface id.
pub fn interface_prefix(project: &ProjectKey, interface_id: &str) -> Vec<u8> {
    text_prefix(project, interface_id)
}

pub fn customer_prefix(project: &ProjectKey, customer_id: &str) -> Vec<u8> {
    text_prefix(project, customer_id)
}

pub fn customer_index_key(
    project: &ProjectKey,
    customer_id: &str,
    payment_id: PaymentId,
) -> Vec<u8> {
    text_payment_key(project, customer_id, payment_id)
}

/// The prefix of every payment with a transaction of this interface id.
pub fn transaction_interface_prefix(project: &ProjectKey, interface_id: &str) -> Vec<u8> {
    text_prefix(project, interface_id)
}

pub fn transaction_interface_key(
    project: &ProjectKey,
    interface_id: &str,
    payment_id: PaymentId,
) -> Vec<u8> {
    text_payment_key(project, interface_id, payment_id)
}

pub fn webhook_event_key(project: &ProjectKey, interface: &str, event_id: &str) -> Vec<u8> {
    let mut key = text_prefix(project, interface);
    push_text(&mut key, event_id);
    key
}

pub fn idempotency_key(project: &ProjectKey, idempotency_key: &str) -> Vec<u8> {
    text_prefix(project, idempotency_key)
}

pub fn event_id_value(payment_id: PaymentId, version: u64) -> Vec<u8> {
    let mut value = payment_id.as_bytes().to_vec();
    value.extend_from_slice(&version.to_be_bytes());
    value
}

pub fn decode_event_id_value(value: &[u8]) -> Option<(PaymentId, u64)> {
    let (stream, version) = decode_event_stream_value(value)?;
    Some((stream.payment_id()?, version))
}

/// The EventIds value of an order's event: the payment form followed by
/// the order kind's tag (1), so rows written before orders existed keep
/// their meaning.
pub fn order_event_id_value(order_id: OrderId, version: u64) -> Vec<u8> {
    let mut value = order_id.as_bytes().to_vec();
    value.extend_from_slice(&version.to_be_bytes());
    value.push(ORDER_EVENT_TAG);
    value
}

/// The tag that ends the EventIds value of an order's event.
const ORDER_EVENT_TAG: u8 = 1;

/// The stream and version an EventIds value names.
pub fn decode_event_stream_value(value: &[u8]) -> Option<(StreamId, u64)> {
    let id: [u8; 16] = value.get(..16)?.try_into().ok()?;
    let version = u64::from_be_bytes(value.get(16..24)?.try_into().ok()?);
    let kind = match value.get(24..) {
        Some([]) => StreamKind::Payment,
        Some([ORDER_EVENT_TAG]) => StreamKind::Order,
        _ => return None,
    };
    Some((StreamId::from_bytes(kind, id), version))
}

pub fn decode_payment_id(value: &[u8]) -> Option<PaymentId> {
    Some(PaymentId::from_bytes(value.try_into().ok()?))
}

pub fn order_view_key(project: &ProjectKey, order_id: OrderId) -> Vec<u8> {
    let mut key = project_prefix(project);
    key.extend_from_slice(order_id.as_bytes());
    key
}

pub fn order_number_key(project: &ProjectKey, order_number: &str) -> Vec<u8> {
    text_prefix(project, order_number)
}

pub fn order_key_index_key(project: &ProjectKey, order_key: &str) -> Vec<u8> {
    text_prefix(project, order_key)
}

/// The row naming the order a payment belongs to.
pub fn payment_order_key(project: &ProjectKey, payment_id: PaymentId) -> Vec<u8> {
    let mut key = project_prefix(project);
    key.extend_from_slice(payment_id.as_bytes());
    key
}

pub fn decode_order_id(value: &[u8]) -> Option<OrderId> {
    Some(OrderId::from_bytes(value.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> ProjectKey {
        ProjectKey::parse(text).unwrap()
    }

    #[test]
    fn one_projects_keys_never_fall_in_anothers_range() {
        let a = project("ab");
        let b = project("abc");
        let prefix = project_prefix(&a);
        let end = prefix_end(&prefix);
        let other = view_key(&b, PaymentId::from_bytes([0; 16]));
        assert!(!(prefix.as_slice()..end.as_slice()).contains(&other.as_slice()));
        let own = view_key(&a, PaymentId::from_bytes([0xff; 16]));
        assert!((prefix.as_slice()..end.as_slice()).contains(&own.as_slice()));
    }

    #[test]
    fn components_cannot_be_forged_with_separators() {
        let p = project("p");
        assert_ne!(
            interface_index_key(&p, "a", "bc"),
            interface_index_key(&p, "ab", "c")
        );
    }

    #[test]
    fn the_stored_key_formats_are_stable() {
        let shop = project("shop");
        let id = PaymentId::from_bytes([0x11; 16]);
        let rows = [
            ("views", view_key(&shop, id)),
            ("idx_key", key_index_key(&shop, "order-1")),
            (
                "idx_interface",
                interface_index_key(&shop, "stripe", "pi_1"),
            ),
            ("idx_customer", customer_index_key(&shop, "cus-1", id)),
            (
                "idx_txn_interface",
                transaction_interface_key(&shop, "re_1", id),
            ),
            (
                "webhook_events",
                webhook_event_key(&shop, "stripe", "evt_1"),
            ),
            ("idempotency", idempotency_key(&shop, "key-1")),
            ("event id value", event_id_value(id, 9)),
        ];
        let stored = crate::golden::check("table_keys_v1.txt", &rows);
        assert_eq!(view_key_payment(&stored["views"]), Some(id));
        assert_eq!(
            decode_event_id_value(&stored["event id value"]),
            Some((id, 9))
        );
    }

    #[test]
    fn the_stored_order_key_formats_are_stable() {
        let shop = project("shop");
        let order = OrderId::from_bytes([0x22; 16]);
        let payment = PaymentId::from_bytes([0x11; 16]);
        let rows = [
            ("order_views", order_view_key(&shop, order)),
            ("idx_order_number", order_number_key(&shop, "A-1001")),
            ("idx_order_key", order_key_index_key(&shop, "order-1")),
            ("payment_orders", payment_order_key(&shop, payment)),
            ("order id value", order.as_bytes().to_vec()),
            ("order event id value", order_event_id_value(order, 9)),
        ];
        let stored = crate::golden::check("order_keys_v1.txt", &rows);
        assert_eq!(decode_order_id(&stored["order id value"]), Some(order));
        assert_eq!(
            decode_event_stream_value(&stored["order event id value"]),
            Some((StreamId::order(order), 9))
        );
        assert_eq!(
            decode_event_id_value(&stored["order event id value"]),
            None,
            "an order's event is no payment's"
        );
    }

    #[test]
    fn view_row_keys_are_stable_and_follow_their_header_in_order() {
        let shop = project("shop");
        let id = PaymentId::from_bytes([0x11; 16]);
        let rows = [
            (
                "view_rows transaction 0",
                view_row_key(&shop, id, ViewList::Transactions, 0),
            ),
            (
                "view_rows transaction 258",
                view_row_key(&shop, id, ViewList::Transactions, 258),
            ),
            (
                "view_rows interaction 1",
                view_row_key(&shop, id, ViewList::Interactions, 1),
            ),
        ];
        let stored = crate::golden::check("view_row_keys_v1.txt", &rows);
        assert_eq!(
            decode_view_row_key(&stored["view_rows transaction 258"]),
            Some((ViewList::Transactions, 258))
        );
        assert_eq!(
            decode_view_row_key(&stored["view_rows interaction 1"]),
            Some((ViewList::Interactions, 1))
        );
        let header = view_key(&shop, id);
        let mut keys: Vec<Vec<u8>> = rows.iter().map(|(_, key)| key.clone()).collect();
        keys.sort();
        assert_eq!(
            keys,
            rows.map(|(_, key)| key),
            "transactions in index order, then interactions"
        );
        assert!(
            keys.iter()
                .all(|key| key.starts_with(&header) && key > &header)
        );
    }

    #[test]
    fn prefix_end_carries_over_ff_bytes() {
        assert_eq!(prefix_end(&[1, 0xff]), vec![2]);
        assert_eq!(prefix_end(&[0xff]), vec![0xff, 0xff]);
    }

    #[test]
    fn split_text_takes_back_what_push_text_wrote() {
        let mut key = Vec::new();
        push_text(&mut key, "shop");
        push_text(&mut key, "");
        key.extend_from_slice(&[7, 7]);
        let (first, rest) = split_text(&key).unwrap();
        assert_eq!(first, b"shop");
        let (second, rest) = split_text(rest).unwrap();
        assert_eq!((second, rest), (&b""[..], &[7u8, 7][..]));
        assert_eq!(split_text(&[0]), None, "no length");
        assert_eq!(split_text(&[0, 3, b'a']), None, "shorter than its length");
    }
}
