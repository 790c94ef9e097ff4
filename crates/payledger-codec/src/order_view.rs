//! Mapping of the stored Order view: [`Order`] ↔ `pb::OrderView`.

use crate::building_blocks::{
    ID_BYTES, actor_from_pb, actor_to_pb, fixed_bytes, money_from_pb, money_to_pb, required,
};
use crate::error::CodecError;
use crate::pb;
use payledger_domain::order::OrderState;
use payledger_domain::{Order, OrderId, OrderPaymentState, PaymentId, Timestamp};

pub(crate) fn order_to_pb(order: &Order) -> pb::OrderView {
    pb::OrderView {
        id: order.id.as_bytes().to_vec(),
        version: order.version,
        order_number: order.order_number.clone(),
        key: order.key.clone(),
        total_price: Some(money_to_pb(&order.total_price)),
        customer_id: order.customer_id.clone(),
        customer_email: order.customer_email.clone(),
        recurring: order.recurring,
        payments: order
            .payments
            .iter()
            .map(|id| id.as_bytes().to_vec())
            .collect(),
        cancelled: order.order_state == OrderState::Cancelled,
        created_at_ms: order.created_at.millis(),
        last_modified_at_ms: order.last_modified_at.millis(),
        created_by: Some(actor_to_pb(&order.created_by)),
        last_modified_by: Some(actor_to_pb(&order.last_modified_by)),
        announced_payment_state: order
            .announced_payment_state
            .map(|state| state.as_str().to_owned()),
        deleted: order.deleted,
    }
}

/// An order `paymentState` stored as its commercetools name.
pub(crate) fn payment_state_from_pb(
    text: String,
    field: &'static str,
) -> Result<OrderPaymentState, CodecError> {
    OrderPaymentState::parse(&text).ok_or(CodecError::UnknownName { field, value: text })
}

pub(crate) fn order_from_pb(view: pb::OrderView) -> Result<Order, CodecError> {
    Ok(Order {
        id: OrderId::from_bytes(fixed_bytes::<ID_BYTES>(view.id, "OrderView.id")?),
        version: view.version,
        order_number: view.order_number,
        key: view.key,
        total_price: money_from_pb(required(view.total_price, "OrderView.total_price")?)?,
        customer_id: view.customer_id,
        customer_email: view.customer_email,
        recurring: view.recurring,
        payments: view
            .payments
            .into_iter()
            .map(|id| fixed_bytes::<ID_BYTES>(id, "OrderView.payments").map(PaymentId::from_bytes))
            .collect::<Result<_, _>>()?,
        order_state: if view.cancelled {
            OrderState::Cancelled
        } else {
            OrderState::Open
        },
        created_at: Timestamp(view.created_at_ms),
        last_modified_at: Timestamp(view.last_modified_at_ms),
        created_by: actor_from_pb(required(view.created_by, "OrderView.created_by")?)?,
        last_modified_by: actor_from_pb(required(
            view.last_modified_by,
            "OrderView.last_modified_by",
        )?)?,
        announced_payment_state: view
            .announced_payment_state
            .map(|text| payment_state_from_pb(text, "OrderView.announced_payment_state"))
            .transpose()?,
        deleted: view.deleted,
    })
}
