//! Mapping of the stored Payment view: [`Payment`] ↔ `pb::PaymentView`.
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
use payledger_domain::payment::Payment;
use payledger_domain::{PaymentId, Timestamp};

pub(crate) fn payment_to_pb(payment: &Payment) -> pb::PaymentView {
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
        transactions: payment.transactions.iter().map(transaction_to_pb).collect(),
        interface_interactions: payment
            .interface_interactions
            .iter()
            .map(custom_to_pb)
            .collect(),
        custom: payment.custom.as_ref().map(custom_to_pb),
        created_at_ms: payment.created_at.millis(),
        last_modified_at_ms: payment.last_modified_at.millis(),
        created_by: Some(actor_to_pb(&payment.created_by)),
        last_modified_by: Some(actor_to_pb(&payment.last_modified_by)),
        deleted: payment.deleted,
    }
}

pub(crate) fn payment_from_pb(view: pb::PaymentView) -> Result<Payment, CodecError> {
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
        transactions: transactions_from_pb(view.transactions)?,
        interface_interactions: customs_from_pb(view.interface_interactions)?,
        custom: option_custom_from_pb(view.custom)?,
        created_at: Timestamp(view.created_at_ms),
        last_modified_at: Timestamp(view.last_modified_at_ms),
        created_by: actor_from_pb(created_by)?,
        last_modified_by: actor_from_pb(last_modified_by)?,
        deleted: view.deleted,
    })
}
