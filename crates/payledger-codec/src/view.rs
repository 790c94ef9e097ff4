//! Mapping of the stored Payment view: [`Payment`] ↔ `pb::PaymentView`,
//! whole or as rows (a header without the lists, then one row per
//! transaction and per interface interaction).
//!
//! The view is derived data (rebuildable by replay), but a rebuilt view must
//! be byte-identical to the maintained one, so it goes through the same
//! deterministic encoding and validation as the events.

use crate::building_blocks::{
    ID_BYTES, actor_from_pb, actor_to_pb, custom_to_pb, customs_from_pb, fixed_bytes,
    method_info_from_pb, method_info_to_pb, money_from_pb, money_to_pb, option_custom_from_pb,
    option_money_from_pb, required, status_from_pb, status_to_pb, timestamp_from_pb,
    transaction_to_pb, transactions_from_pb,
};
use crate::error::CodecError;
use crate::pb;
use payledger_domain::payment::{CustomFields, Payment, TransactionList};
use payledger_domain::{PaymentId, Timestamp};

/// The whole view: the lists inline, no row counts.
pub(crate) fn payment_to_pb(payment: &Payment) -> pb::PaymentView {
    pb::PaymentView {
        transactions: payment
            .transactions
            .iter()
            .map(|t| transaction_to_pb(t))
            .collect(),
        interface_interactions: payment
            .interface_interactions
            .iter()
            .map(custom_to_pb)
            .collect(),
        transaction_rows: 0,
        interaction_rows: 0,
        ..header_to_pb(payment)
    }
}

/// The header of a view stored as rows: no lists, their row counts.
pub(crate) fn header_to_pb(payment: &Payment) -> pb::PaymentView {
    pb::PaymentView {
        id: payment.id.as_bytes().to_vec(),
        version: payment.version,
        key: payment.key.clone(),
        customer_id: payment.customer_id.clone(),
        anonymous_id: payment.anonymous_id.clone(),
        interface_id: payment.interface_id.clone(),
        external_id: payment.external_id.clone(),
        amount_planned: Some(money_to_pb(&payment.amount_planned)),
        amount_authorized: payment.amount_authorized.as_ref().map(money_to_pb),
        authorized_until_ms: payment.authorized_until.map(Timestamp::millis),
        amount_paid: payment.amount_paid.as_ref().map(money_to_pb),
        amount_refunded: payment.amount_refunded.as_ref().map(money_to_pb),
        payment_method_info: Some(method_info_to_pb(&payment.payment_method_info)),
        payment_status: Some(status_to_pb(&payment.payment_status)),
        transactions: Vec::new(),
        interface_interactions: Vec::new(),
        custom: payment.custom.as_ref().map(custom_to_pb),
        created_at_ms: payment.created_at.millis(),
        last_modified_at_ms: payment.last_modified_at.millis(),
        created_by: Some(actor_to_pb(&payment.created_by)),
        last_modified_by: Some(actor_to_pb(&payment.last_modified_by)),
        deleted: payment.deleted,
        transaction_rows: row_count(payment.transactions.len()),
        interaction_rows: row_count(payment.interface_interactions.len()),
    }
}

/// Every item of a list took an event of the payment's stream: far fewer
/// than `u32::MAX`.
fn row_count(len: usize) -> u32 {
    u32::try_from(len).expect("a payment holds fewer than 2^32 items, one event each")
}

/// A whole view; a header that counts rows is refused.
pub(crate) fn payment_from_pb(view: pb::PaymentView) -> Result<Payment, CodecError> {
    if view.transaction_rows != 0 || view.interaction_rows != 0 {
        return Err(CodecError::StoredAsRows {
            transaction_rows: view.transaction_rows,
            interaction_rows: view.interaction_rows,
        });
    }
    view_from_pb(view)
}

/// A view header with its row counts; lists held inline (a view stored
/// whole) come back in the payment.
pub(crate) fn header_from_pb(view: pb::PaymentView) -> Result<PaymentHeader, CodecError> {
    let (transaction_rows, interaction_rows) = (view.transaction_rows, view.interaction_rows);
    if transaction_rows != 0 && !view.transactions.is_empty() {
        return Err(CodecError::InlineAndRows {
            field: "PaymentView.transactions",
        });
    }
    if interaction_rows != 0 && !view.interface_interactions.is_empty() {
        return Err(CodecError::InlineAndRows {
            field: "PaymentView.interface_interactions",
        });
    }
    Ok(PaymentHeader {
        payment: view_from_pb(view)?,
        transaction_rows,
        interaction_rows,
    })
}

fn view_from_pb(view: pb::PaymentView) -> Result<Payment, CodecError> {
    let amount_planned = required(view.amount_planned, "PaymentView.amount_planned")?;
    let method_info = required(view.payment_method_info, "PaymentView.payment_method_info")?;
    let status = required(view.payment_status, "PaymentView.payment_status")?;
    let created_by = required(view.created_by, "PaymentView.created_by")?;
    let last_modified_by = required(view.last_modified_by, "PaymentView.last_modified_by")?;
    Ok(Payment {
        id: PaymentId::from_bytes(fixed_bytes::<ID_BYTES>(view.id, "PaymentView.id")?),
        version: view.version,
        key: view.key,
        customer_id: view.customer_id,
        anonymous_id: view.anonymous_id,
        interface_id: view.interface_id,
        external_id: view.external_id,
        amount_planned: money_from_pb(amount_planned)?,
        amount_authorized: option_money_from_pb(view.amount_authorized)?,
        authorized_until: timestamp_from_pb(view.authorized_until_ms),
        amount_paid: option_money_from_pb(view.amount_paid)?,
        amount_refunded: option_money_from_pb(view.amount_refunded)?,
        payment_method_info: method_info_from_pb(method_info)?,
        payment_status: status_from_pb(status),
        transactions: transactions_from_pb(view.transactions)?.into(),
        interface_interactions: customs_from_pb(view.interface_interactions)?,
        custom: option_custom_from_pb(view.custom)?,
        created_at: Timestamp(view.created_at_ms),
        last_modified_at: Timestamp(view.last_modified_at_ms),
        created_by: actor_from_pb(created_by)?,
        last_modified_by: actor_from_pb(last_modified_by)?,
        deleted: view.deleted,
    })
}

/// A stored view header, decoded.
#[derive(Clone, PartialEq, Debug)]
pub struct PaymentHeader {
    /// The payment without its rows: its lists hold what the header held
    /// inline (a view stored whole, from before views had rows), otherwise
    /// nothing.
    pub payment: Payment,
    /// Transaction rows stored after this header.
    pub transaction_rows: u32,
    /// Interface interaction rows stored after this header.
    pub interaction_rows: u32,
}

impl PaymentHeader {
    /// True when the header holds its lists inline (written before views
    /// had rows): the next write of the payment must write every row.
    pub fn is_whole(&self) -> bool {
        self.transaction_rows == 0 && self.interaction_rows == 0
    }

    /// The payment with its rows, checked against the counts.
    pub fn with_rows(
        self,
        transactions: TransactionList,
        interactions: Vec<CustomFields>,
    ) -> Result<Payment, CodecError> {
        let check = |field, expected: u32, actual: usize| {
            if usize::try_from(expected).is_ok_and(|e| e == actual) {
                Ok(())
            } else {
                Err(CodecError::RowCount {
                    field,
                    expected,
                    actual,
                })
            }
        };
        let mut payment = self.payment;
        if self.transaction_rows != 0 || !transactions.is_empty() {
            check(
                "PaymentView.transactions",
                self.transaction_rows,
                transactions.len(),
            )?;
            payment.transactions = transactions;
        }
        if self.interaction_rows != 0 || !interactions.is_empty() {
            check(
                "PaymentView.interface_interactions",
                self.interaction_rows,
                interactions.len(),
            )?;
            payment.interface_interactions = interactions;
        }
        Ok(payment)
    }
}

/// What a reader needs of a view header to find the payment in a cache:
/// read without decoding the rest (amounts, strings, custom fields).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HeaderPeek {
    /// The payment's id.
    pub id: PaymentId,
    /// The payment's version.
    pub version: u64,
    /// True when the header holds its lists inline: see
    /// [`PaymentHeader::is_whole`].
    pub whole: bool,
}

/// Reads the id, version and row counts of a view header, stepping over
/// every other field (each field's framing is still checked). Gives what
/// [`crate::decode_payment_header`] gives for those fields, and its error
/// when the framing or those fields are wrong; a header that it would
/// refuse for another field's content may pass here, so a reader that does
/// not find the version in its cache decodes the whole header.
pub(crate) fn peek_header(bytes: &[u8]) -> Result<HeaderPeek, CodecError> {
    if let Some(peek) = scan_header(bytes) {
        return Ok(peek);
    }
    // Something is off: the full decode says what (or, should it accept
    // what the scan did not, gives the fields).
    let header = header_from_pb(<pb::PaymentView as prost::Message>::decode(bytes)?)?;
    Ok(HeaderPeek {
        id: header.payment.id,
        version: header.payment.version,
        whole: header.is_whole(),
    })
}

/// [`peek_header`]'s scan; `None` on anything a valid header has not.
pub(crate) fn scan_header(mut bytes: &[u8]) -> Option<HeaderPeek> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let mut id: &[u8] = &[];
    let (mut version, mut transaction_rows, mut interaction_rows) = (0, 0, 0);
    while !bytes.is_empty() {
        let (tag, wire_type) = decode_key(&mut bytes).ok()?;
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => {
                let length = usize::try_from(decode_varint(&mut bytes).ok()?).ok()?;
                if length > bytes.len() {
                    return None;
                }
                (id, bytes) = bytes.split_at(length);
            }
            (2, WireType::Varint) => version = decode_varint(&mut bytes).ok()?,
            // prost reads a uint32 by truncating the varint, and so does this.
            (23, WireType::Varint) => transaction_rows = decode_varint(&mut bytes).ok()? as u32,
            (24, WireType::Varint) => interaction_rows = decode_varint(&mut bytes).ok()? as u32,
            (1 | 2 | 23 | 24, _) => return None,
            _ => skip_field(wire_type, tag, &mut bytes, DecodeContext::default()).ok()?,
        }
    }
    Some(HeaderPeek {
        id: PaymentId::from_bytes(id.try_into().ok()?),
        version,
        whole: transaction_rows == 0 && interaction_rows == 0,
    })
}
