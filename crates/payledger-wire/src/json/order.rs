//! An order as payledger writes it: the commercetools `Order` fields that
//! payledger keeps (`id`, `version`, `orderNumber`, `key`, `totalPrice`,
//! `customerId`, `customerEmail`, `orderState`, `paymentState`,
//! `paymentInfo.payments` as payment references, `createdAt`,
//! `lastModifiedAt`, `createdBy`, `lastModifiedBy`) plus what its payments
//! achieved: `totalPaid`, `totalRefunded` and `totalOutstanding`.
//!
//! Optional fields are omitted when unset, as on payments. The fields that
//! commercetools requires of every Order but payledger does not model
//! (line items, shipping, sync info, …) are written empty, so the answer
//! is a valid commercetools Order.

use super::custom::reference_to_json;
use super::money::money_to_json;
use super::payment::{actor_to_json, put_str};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Order, OrderTotals};
use serde_json::{Map, Value, json};

/// An order with the totals of its payments.
pub fn order_to_json(order: &Order, totals: &OrderTotals) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(order.id.to_string()));
    out.insert("version".into(), json!(order.version));
    out.insert("orderNumber".into(), json!(order.order_number));
    put_str(&mut out, "key", order.key.as_deref());
    put_str(&mut out, "customerId", order.customer_id.as_deref());
    put_str(&mut out, "customerEmail", order.customer_email.as_deref());
    out.insert("totalPrice".into(), money_to_json(&order.total_price));
    out.insert("orderState".into(), json!(order.order_state.as_str()));
    for list in [
        "lineItems",
        "customLineItems",
        "refusedGifts",
        "shipping",
        "syncInfo",
    ] {
        out.insert(list.into(), json!([]));
    }
    // A recurring charge is the merchant's doing (commercetools `origin`);
    // `recurring` itself appears only when true.
    if order.recurring {
        out.insert("origin".into(), json!("Merchant"));
        out.insert("recurring".into(), json!(true));
    } else {
        out.insert("origin".into(), json!("Customer"));
    }
    out.insert("shippingMode".into(), json!("Single"));
    out.insert("paymentState".into(), json!(totals.payment_state.as_str()));
    let payments: Vec<Value> = order
        .payments
        .iter()
        .map(|id| reference_to_json("payment", &id.to_string()))
        .collect();
    out.insert("paymentInfo".into(), json!({ "payments": payments }));
    out.insert("totalPaid".into(), money_to_json(&totals.total_paid));
    out.insert(
        "totalRefunded".into(),
        money_to_json(&totals.total_refunded),
    );
    out.insert(
        "totalOutstanding".into(),
        money_to_json(&totals.total_outstanding),
    );
    out.insert(
        "createdAt".into(),
        json!(format_timestamp(order.created_at)),
    );
    out.insert(
        "lastModifiedAt".into(),
        json!(format_timestamp(order.last_modified_at)),
    );
    out.insert("createdBy".into(), actor_to_json(&order.created_by));
    out.insert(
        "lastModifiedBy".into(),
        actor_to_json(&order.last_modified_by),
    );
    Value::Object(out)
}
