//! Fuzz target of the reading of Stripe webhook bodies (`make fuzz` runs
//! it with 1,000,000 cases, `make test` with a short sample; see
//! `payledger-fuzz`). Bodies are read only after their signature
//! verified, but a signing secret can leak and Stripe's format can change.
//!
//! `fuzz_stripe_event`: Stripe events with tree and byte edits, token
//! soups and random bytes. Reading never panics; an accepted event's ids
//! keep within [`WEBHOOK_ID_BYTES_MAX`], and a PaymentIntent event names
//! itself as its intent.

use payledger_fuzz::{check, json, run};
use serde_json::{Value, json};

use super::*;

const NAMES: &[&str] = &[
    "id",
    "type",
    "created",
    "data",
    "object",
    "status",
    "payment_intent",
    "charge",
    "refund",
    "latest_charge",
    "evt_1",
    "pi_1",
    "ch_1",
    "re_1",
    "succeeded",
    "requires_capture",
    "requires_payment_method",
    "canceled",
    "processing",
    "payment_intent.succeeded",
    "charge.refunded",
];

fn seeds() -> Vec<Value> {
    vec![
        json!({"id": "evt_1", "type": "payment_intent.succeeded", "created": 1_700_000_000,
               "data": {"object": {"id": "pi_1", "object": "payment_intent",
                                   "status": "succeeded",
                                   "latest_charge": {"id": "ch_1", "object": "charge"}}}}),
        json!({"id": "evt_2", "type": "charge.refunded", "created": 1,
               "data": {"object": {"id": "ch_2", "object": "charge",
                                   "payment_intent": {"id": "pi_2", "object": "payment_intent"}}}}),
        json!({"id": "evt_3", "type": "refund.created",
               "data": {"object": {"id": "re_3", "object": "refund", "payment_intent": "pi_3"}}}),
    ]
}

#[test]
fn fuzz_stripe_event() {
    run("stripe_event", json::inputs(&seeds(), NAMES), |input| {
        let Ok(event) = parse_event(&input.0) else {
            return Ok(());
        };
        let fits = |id: &str| !id.is_empty() && id.len() <= WEBHOOK_ID_BYTES_MAX;
        let intent_fits = event.payment_intent.as_deref().is_none_or(fits);
        check(
            fits(&event.id) && fits(&event.object_id) && intent_fits,
            || format!("ids out of bounds: {event:?}"),
        )?;
        if event.object_kind == ObjectKind::PaymentIntent {
            check(
                event.payment_intent.as_ref() == Some(&event.object_id),
                || format!("{event:?}"),
            )?;
        }
        Ok(())
    });
}
