//! A payment's JSON written straight into bytes: exactly the text
//! `serde_json::to_vec(&payment_to_json(payment))` gives (keys in the same
//! sorted order, the same escapes and numbers), without building a `Value`
//! tree first. Building the tree (a map and strings per field) costs more
//! than the answer's bytes; the API answers every payment with this, and a
//! property test keeps the two renderings equal.
//!
//! Custom fields and localized names are rare and nest arbitrarily: they
//! go through their `Value` form.

use super::custom::custom_fields_to_json;
use super::money::CENT_PRECISION;
use super::payment::INTERNAL_CLIENT_PREFIX;
use payledger_domain::payment::{
    CustomFields, PaymentMethodInfo, PaymentStatus, Transaction, TransactionList,
};
use payledger_domain::time::write_timestamp;
use payledger_domain::{Actor, Money, Payment, Timestamp};
use std::ops::Range;
use std::sync::Arc;

/// The payment's commercetools JSON, as bytes.
pub fn payment_json_bytes(payment: &Payment) -> Vec<u8> {
    // Most of a large payment is its transactions, ~250 bytes each.
    let mut out = Vec::with_capacity(1_024 + 256 * payment.transactions.len());
    write_payment(&mut out, payment, &mut Transactions::Fresh);
    out
}

/// Where each transaction's text sits in a payment's JSON, by position:
/// one comma apart, as the array of transactions is written (only
/// [`payment_json_reusing`] makes them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionSpans(Vec<Range<usize>>);

impl TransactionSpans {
    /// Bytes of bookkeeping these spans hold, for a cache's budget.
    pub fn size_bytes(&self) -> usize {
        self.0.len() * std::mem::size_of::<Range<usize>>()
    }
}

/// An earlier version of a payment with its JSON, whose unchanged
/// transactions a later answer copies instead of writing them again.
#[derive(Clone, Copy, Debug)]
pub struct EarlierText<'a> {
    /// The earlier version.
    pub payment: &'a Payment,
    /// Its JSON, as [`payment_json_reusing`] wrote it.
    pub text: &'a [u8],
    /// Where its transactions sit in `text`.
    pub spans: &'a TransactionSpans,
}

/// The payment's JSON, exactly [`payment_json_bytes`]'s bytes, and where
/// its transactions sit in them. A transaction equal to the one at the
/// same position of `earlier` is copied from its text: an update changes
/// one or two transactions and answers with all of them.
pub fn payment_json_reusing(
    payment: &Payment,
    earlier: Option<EarlierText<'_>>,
) -> (Vec<u8>, TransactionSpans) {
    let mut out = Vec::with_capacity(1_024 + 256 * payment.transactions.len());
    let mut spans = Vec::with_capacity(payment.transactions.len());
    write_payment(
        &mut out,
        payment,
        &mut Transactions::Reusing {
            earlier,
            spans: &mut spans,
        },
    );
    (out, TransactionSpans(spans))
}

/// How [`write_payment`] writes the transactions.
enum Transactions<'a, 'e> {
    /// Each one written.
    Fresh,
    /// Each one copied from `earlier` when unchanged there, and its span
    /// noted.
    Reusing {
        earlier: Option<EarlierText<'e>>,
        spans: &'a mut Vec<Range<usize>>,
    },
}

impl Transactions<'_, '_> {
    fn write(&mut self, out: &mut Vec<u8>, transactions: &TransactionList) {
        out.push(b'[');
        match self {
            Self::Fresh => {
                for (index, item) in transactions.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    transaction(out, item);
                }
            }
            Self::Reusing {
                earlier: None,
                spans,
            } => {
                for (index, item) in transactions.iter().enumerate() {
                    write_one(out, spans, None, index, item);
                }
            }
            Self::Reusing {
                earlier: Some(earlier),
                spans,
            } => {
                // Between the transactions this version changed, runs of
                // the very ones of the earlier version: one copy each.
                let mut next = 0;
                for changed in transactions.differs_from(&earlier.payment.transactions) {
                    copy_run(out, spans, *earlier, transactions, next..changed);
                    write_one(out, spans, Some(*earlier), changed, &transactions[changed]);
                    next = changed + 1;
                }
                copy_run(out, spans, *earlier, transactions, next..transactions.len());
            }
        }
        out.push(b']');
    }
}

/// Writes the transaction at `index` (after a comma unless first) and
/// notes its span: copied from `earlier` when equal to the one at the
/// same position there.
fn write_one(
    out: &mut Vec<u8>,
    spans: &mut Vec<Range<usize>>,
    earlier: Option<EarlierText<'_>>,
    index: usize,
    item: &Arc<Transaction>,
) {
    if index > 0 {
        out.push(b',');
    }
    let start = out.len();
    let kept = earlier.and_then(|e| {
        let before = e.payment.transactions.get(index)?;
        (before == item).then(|| e.text.get(e.spans.0.get(index)?.clone()))?
    });
    match kept {
        Some(text) => out.extend_from_slice(text),
        None => transaction(out, item),
    }
    spans.push(start..out.len());
}

/// Writes the transactions at `run`, each the very one at its position in
/// `earlier`: their text there in one copy, the commas between them
/// included ([`TransactionSpans`] are one comma apart).
fn copy_run(
    out: &mut Vec<u8>,
    spans: &mut Vec<Range<usize>>,
    earlier: EarlierText<'_>,
    transactions: &TransactionList,
    run: Range<usize>,
) {
    let Some(earlier_spans) = earlier.spans.0.get(run.clone()).filter(|s| !s.is_empty()) else {
        for index in run {
            write_one(out, spans, Some(earlier), index, &transactions[index]);
        }
        return;
    };
    let (first, last) = (&earlier_spans[0], &earlier_spans[earlier_spans.len() - 1]);
    match earlier.text.get(first.start..last.end) {
        Some(text) => {
            if run.start > 0 {
                out.push(b',');
            }
            let start = out.len();
            out.extend_from_slice(text);
            spans.extend(
                earlier_spans
                    .iter()
                    .map(|span| span.start - first.start + start..span.end - first.start + start),
            );
        }
        None => {
            for index in run {
                write_one(out, spans, Some(earlier), index, &transactions[index]);
            }
        }
    }
}

/// Writes the members of one JSON object, in the order they are given
/// (callers give them in sorted key order, as `serde_json::Map` keeps them).
struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Writes `"key":` (after a comma unless first) and hands back the
    /// buffer for the value. Keys are this module's own ASCII names, which
    /// need no escapes.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        ascii(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &'static str, value: &str) {
        string(self.key(key), value);
    }

    /// A value of payledger's own making that needs no escapes (an enum
    /// name, a currency code, a timestamp).
    fn ascii(&mut self, key: &'static str, value: &str) {
        ascii(self.key(key), value);
    }

    fn id(&mut self, key: &'static str, value: uuid::Uuid) {
        id(self.key(key), value);
    }

    fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    fn timestamp(&mut self, key: &'static str, value: Option<Timestamp>) {
        if let Some(value) = value {
            timestamp(self.key(key), value);
        }
    }

    fn money(&mut self, key: &'static str, value: Option<&Money>) {
        if let Some(value) = value {
            money(self.key(key), value);
        }
    }

    fn custom(&mut self, key: &'static str, value: Option<&CustomFields>) {
        if let Some(value) = value {
            value_text(self.key(key), &custom_fields_to_json(value));
        }
    }

    fn reference(&mut self, key: &'static str, type_id: &'static str, id: Option<&str>) {
        if let Some(id) = id {
            let mut reference = Object::open(self.key(key));
            reference.str("id", id);
            reference.ascii("typeId", type_id);
            reference.close();
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_payment(out: &mut Vec<u8>, payment: &Payment, transactions: &mut Transactions<'_, '_>) {
    let mut object = Object::open(out);
    object.money("amountAuthorized", payment.amount_authorized.as_ref());
    object.money("amountPaid", payment.amount_paid.as_ref());
    object.money("amountPlanned", Some(&payment.amount_planned));
    object.money("amountRefunded", payment.amount_refunded.as_ref());
    object.opt_str("anonymousId", payment.anonymous_id.as_deref());
    object.timestamp("authorizedUntil", payment.authorized_until);
    object.timestamp("createdAt", Some(payment.created_at));
    actor(object.key("createdBy"), &payment.created_by);
    object.custom("custom", payment.custom.as_ref());
    object.reference("customer", "customer", payment.customer_id.as_deref());
    object.opt_str("externalId", payment.external_id.as_deref());
    object.id("id", payment.id.uuid());
    object.opt_str("interfaceId", payment.interface_id.as_deref());
    let interactions = object.key("interfaceInteractions");
    array(
        interactions,
        &payment.interface_interactions,
        |out, item| {
            value_text(out, &custom_fields_to_json(item));
        },
    );
    object.opt_str("key", payment.key.as_deref());
    object.timestamp("lastModifiedAt", Some(payment.last_modified_at));
    actor(object.key("lastModifiedBy"), &payment.last_modified_by);
    method_info(
        object.key("paymentMethodInfo"),
        &payment.payment_method_info,
    );
    status(object.key("paymentStatus"), &payment.payment_status);
    transactions.write(object.key("transactions"), &payment.transactions);
    number(object.key("version"), payment.version);
    object.close();
}

/// A transaction, written in a few literal runs rather than key by key:
/// a large payment is mostly transactions, and an update answers with all
/// of them. Keys stay in sorted order; `amount` always comes first, so
/// every later member starts with a comma.
fn transaction(out: &mut Vec<u8>, transaction: &Transaction) {
    out.extend_from_slice(b"{\"amount\":");
    money(out, &transaction.amount);
    if let Some(custom) = &transaction.custom {
        out.extend_from_slice(b",\"custom\":");
        value_text(out, &custom_fields_to_json(custom));
    }
    out.extend_from_slice(b",\"id\":");
    id(out, transaction.id.uuid());
    if let Some(interaction_id) = &transaction.interaction_id {
        out.extend_from_slice(b",\"interactionId\":");
        string(out, interaction_id);
    }
    if let Some(interface_id) = &transaction.interface_id {
        out.extend_from_slice(b",\"interfaceId\":");
        string(out, interface_id);
    }
    out.extend_from_slice(b",\"state\":");
    ascii(out, transaction.state.as_str());
    if let Some(timestamp) = transaction.timestamp {
        out.extend_from_slice(b",\"timestamp\":");
        self::timestamp(out, timestamp);
    }
    out.extend_from_slice(b",\"type\":");
    ascii(out, transaction.kind.as_str());
    out.push(b'}');
}

fn method_info(out: &mut Vec<u8>, info: &PaymentMethodInfo) {
    let mut object = Object::open(out);
    object.custom("custom", info.custom.as_ref());
    object.opt_str("interfaceAccount", info.interface_account.as_deref());
    object.opt_str("method", info.method.as_deref());
    if let Some(name) = &info.name {
        value_text(object.key("name"), &serde_json::json!(name));
    }
    object.opt_str("paymentInterface", info.payment_interface.as_deref());
    if let Some(token) = &info.token {
        let mut value = Object::open(object.key("token"));
        value.str("value", token);
        value.close();
    }
    object.close();
}

fn status(out: &mut Vec<u8>, status: &PaymentStatus) {
    let mut object = Object::open(out);
    object.opt_str("interfaceCode", status.interface_code.as_deref());
    object.opt_str("interfaceText", status.interface_text.as_deref());
    object.reference("state", "state", status.state_id.as_deref());
    object.close();
}

fn actor(out: &mut Vec<u8>, actor: &Actor) {
    let mut object = Object::open(out);
    match actor {
        Actor::Client(id) => object.str("clientId", id),
        Actor::Internal(handler) => {
            object.str("clientId", &format!("{INTERNAL_CLIENT_PREFIX}{handler}"));
        }
    }
    object.key("isPlatformClient").extend_from_slice(b"false");
    object.close();
}

/// An amount, in literal runs like [`transaction`].
fn money(out: &mut Vec<u8>, money: &Money) {
    out.extend_from_slice(b"{\"centAmount\":");
    signed(out, money.cent_amount);
    out.extend_from_slice(b",\"currencyCode\":");
    quoted(out, money.currency.as_bytes());
    out.extend_from_slice(b",\"fractionDigits\":");
    number(out, u64::from(money.fraction_digits()));
    out.extend_from_slice(b",\"type\":");
    ascii(out, CENT_PRECISION);
    out.push(b'}');
}

fn array<T>(out: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (index, value) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        item(out, value);
    }
    out.push(b']');
}

/// A timestamp as a JSON string.
fn timestamp(out: &mut Vec<u8>, value: Timestamp) {
    out.push(b'"');
    write_timestamp(out, value);
    out.push(b'"');
}

/// A JSON string of bytes that need no escapes (checked ASCII).
fn quoted(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// An id in its canonical form, lower case and hyphenated.
fn id(out: &mut Vec<u8>, id: uuid::Uuid) {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    ascii(out, id.hyphenated().encode_lower(&mut text));
}

/// A JSON string, escaped as serde_json escapes it.
fn string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
}

/// A JSON string of text that needs no escapes.
fn ascii(out: &mut Vec<u8>, text: &str) {
    debug_assert!(
        text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'),
        "{text:?} needs escapes"
    );
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

fn value_text(out: &mut Vec<u8>, value: &serde_json::Value) {
    serde_json::to_writer(out, value).expect("writing to a Vec cannot fail");
}

fn number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn signed(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::payment_to_json;
    use payledger_domain::strategies;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A later version written against an earlier one's text reads
        /// exactly as if written afresh, whatever changed between them
        /// (an amount, a transaction removed so the rest move up, one
        /// added, or an unrelated payment), and each span holds its
        /// transaction's text.
        #[test]
        fn reusing_an_earlier_text_changes_no_byte(
            earlier in strategies::payment(),
            other in strategies::payment(),
            changes in proptest::collection::vec(0..4u8, 0..8),
            unrelated in proptest::bool::weighted(0.1),
        ) {
            let mut later = if unrelated { other.clone() } else { earlier.clone() };
            for (index, change) in changes.iter().enumerate() {
                let len = later.transactions.len();
                match change {
                    1 if index < len => {
                        let id = later.transactions[index].id;
                        later.transactions.update(id, |t| {
                            t.amount.cent_amount = t.amount.cent_amount.wrapping_add(1);
                        });
                    }
                    2 if index < len => {
                        later.transactions.remove(index);
                    }
                    3 => later.transactions.extend(other.transactions.first().cloned()),
                    _ => {}
                }
            }
            let (earlier_text, earlier_spans) = payment_json_reusing(&earlier, None);
            prop_assert_eq!(&earlier_text, &payment_json_bytes(&earlier));
            let (text, spans) = payment_json_reusing(
                &later,
                Some(EarlierText { payment: &earlier, text: &earlier_text, spans: &earlier_spans }),
            );
            let fresh = payment_json_bytes(&later);
            prop_assert_eq!(String::from_utf8_lossy(&text), String::from_utf8_lossy(&fresh));
            prop_assert_eq!(spans.0.len(), later.transactions.len());
            for (item, span) in later.transactions.iter().zip(&spans.0) {
                let mut alone = Vec::new();
                transaction(&mut alone, item);
                prop_assert_eq!(&text[span.clone()], &alone[..]);
            }
        }

        /// Only the changed transaction is written again: the others come
        /// from the earlier text (marked here, so a copy shows).
        #[test]
        fn unchanged_transactions_are_copied_from_the_earlier_text(
            earlier in strategies::payment(),
            changed in any::<proptest::sample::Index>(),
        ) {
            prop_assume!(!earlier.transactions.is_empty());
            let (text, spans) = payment_json_reusing(&earlier, None);
            let mut marked = text.clone();
            for span in &spans.0 {
                marked[span.clone()].fill(b'#');
            }
            let mut later = earlier.clone();
            let changed = changed.index(later.transactions.len());
            let id = later.transactions[changed].id;
            later.transactions.update(id, |t| t.amount.cent_amount = t.amount.cent_amount.wrapping_add(1));
            let (text, later_spans) = payment_json_reusing(
                &later,
                Some(EarlierText { payment: &earlier, text: &marked, spans: &spans }),
            );
            for (index, span) in later_spans.0.iter().enumerate() {
                let written = &text[span.clone()];
                if index == changed {
                    let mut alone = Vec::new();
                    transaction(&mut alone, &later.transactions[index]);
                    prop_assert_eq!(written, &alone[..]);
                } else {
                    prop_assert!(written.iter().all(|b| *b == b'#'), "transaction {} written again", index);
                }
            }
        }

        #[test]
        fn the_bytes_are_the_text_of_the_value_rendering(payment in strategies::payment()) {
            let expected = serde_json::to_vec(&payment_to_json(&payment)).expect("serialize");
            let written = payment_json_bytes(&payment);
            prop_assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&expected));
        }
    }
}
