//! Reconciliation with Stripe, end to end: an authorization cancelled at
//! localstripe behind payledger's back (as the dashboard or an expiry
//! does) is recorded once, by a refresh or by the signed
//! `payment_intent.canceled` webhook, and a later Charge is refused
//! without a PSP call; Charges and Refunds above what is left never reach
//! localstripe. A proxy in front of localstripe lists every call payledger
//! made.

use super::proxy::Proxy;
use super::{
    Setup, add, create, get, intent_event, interactions, localstripe, notifications, pair,
    post_webhook, setup_with, sign, state, states, stripe, unix_now, wait,
};
use serde_json::{Value, json};

/// The reasons payledger gives when it refuses before any PSP call.
const CHARGE_AFTER_CANCELLED: &str = "the authorization was cancelled (by a CancelAuthorization, or at the PSP on its own); nothing was sent to the PSP";
const CHARGE_ABOVE_AUTHORIZED: &str =
    "the Charge is larger than the amount authorized; nothing was sent to the PSP";
const REFUND_ABOVE_REFUNDABLE: &str = "the Refund is larger than what is left to refund (successful Charges minus Refunds done or under way); nothing was sent to the PSP";

/// A payment with a successful Authorization of `cents` at localstripe:
/// its id and PaymentIntent.
fn authorized(s: &Setup, cents: i64) -> (String, String) {
    let payment = create(&s.api, "pm_card_visa", "card", &[("Authorization", cents)]);
    let id = payment["id"].as_str().expect("id").to_owned();
    let done = wait(&s.api, &id, "authorization", |p| state(p, 0) == "Success");
    let intent = done["transactions"][0]["interfaceId"]
        .as_str()
        .expect("PaymentIntent")
        .to_owned();
    (id, intent)
}

/// Cancels a PaymentIntent at localstripe directly, as the dashboard does.
fn cancel_at_stripe(intent: &str) {
    let cancelled = stripe(
        reqwest::Method::POST,
        &format!("/v1/payment_intents/{intent}/cancel"),
        &[],
    );
    assert_eq!(cancelled["status"], "canceled");
}

fn refresh(s: &Setup, id: &str) -> Value {
    let reply = s.api.post(&format!("/payments/{id}/refresh"), &json!({}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The transactions marked as PSP-initiated, as `type state amount`.
fn psp_initiated(payment: &Value) -> Vec<String> {
    (payment["transactions"]
        .as_array()
        .expect("transactions")
        .iter())
    .filter(|t| {
        t["interactionId"]
            .as_str()
            .is_some_and(|i| i.starts_with("psp-initiated:"))
    })
    .map(|t| {
        let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
        format!(
            "{} {} {}",
            text(&t["type"]),
            text(&t["state"]),
            t["amount"]["centAmount"]
        )
    })
    .collect()
}

/// Checks the recorded cancellation of `intent` on `payment`.
fn check_cancellation(payment: &Value, intent: &str, cents: i64) {
    assert_eq!(
        psp_initiated(payment),
        [format!("CancelAuthorization Success {cents}")]
    );
    let txn = (payment["transactions"]
        .as_array()
        .expect("transactions")
        .iter())
    .find(|t| t["type"] == "CancelAuthorization")
    .expect("CancelAuthorization");
    assert_eq!(txn["interactionId"], format!("psp-initiated:{intent}"));
    assert_eq!(payment["paymentStatus"]["interfaceCode"], "canceled");
    let recorded: Vec<&Value> = (payment["interfaceInteractions"].as_array())
        .expect("interactions")
        .iter()
        .filter(|i| i["fields"]["phase"] == "reconciliation")
        .collect();
    assert_eq!(recorded.len(), 1, "{payment:#}");
    let fields = &recorded[0]["fields"];
    assert_eq!(fields["interfaceId"], intent);
    assert_eq!(fields["source"], "refresh");
    assert_eq!(fields["operation"], "cancel");
    assert_eq!(fields["status"], "canceled");
    assert_eq!(fields["amount"], cents.to_string());
}

/// The reason on transaction `index`: the message of the last interaction
/// naming it.
fn reason(payment: &Value, index: usize) -> String {
    let id = &payment["transactions"][index]["id"];
    (payment["interfaceInteractions"]
        .as_array()
        .expect("interactions")
        .iter()
        .rev())
    .find(|i| i["fields"]["transactionId"] == *id)
    .and_then(|i| i["fields"]["message"].as_str())
    .unwrap_or_default()
    .to_owned()
}

/// Calls payledger made to Stripe (`METHOD path`) that end with `what`.
fn calls(proxy: &Proxy, what: &str) -> usize {
    (proxy.forwarded().iter())
        .filter(|call| call.ends_with(what))
        .count()
}

/// Adds a transaction and waits for it to fail; checks that payledger
/// sent nothing to Stripe meanwhile, and returns the payment.
fn refused(s: &Setup, proxy: &Proxy, id: &str, kind: &str, cents: i64) -> Value {
    let before = proxy.forwarded().len();
    let index = get(&s.api, id)["transactions"]
        .as_array()
        .expect("transactions")
        .len();
    add(&s.api, id, kind, cents);
    let failed = wait(&s.api, id, "refusal", |p| state(p, index) == "Failure");
    let sent = proxy.forwarded();
    assert!(
        sent[before..].is_empty(),
        "nothing reaches Stripe: {sent:?}"
    );
    failed
}

#[test]
fn an_authorization_cancelled_at_stripe_is_found_by_refresh() {
    let proxy = Proxy::start(localstripe());
    let s = setup_with("stripe-recon-refresh", proxy.url());
    let (id, intent) = authorized(&s, 3_300);
    // While Stripe holds the authorization, a refresh changes nothing.
    let before = get(&s.api, &id);
    assert_eq!(refresh(&s, &id)["version"], before["version"]);

    cancel_at_stripe(&intent);
    let reconciled = refresh(&s, &id);
    assert_eq!(
        states(&reconciled),
        [
            pair("Authorization", "Success"),
            pair("CancelAuthorization", "Success")
        ]
    );
    check_cancellation(&reconciled, &intent, 3_300);
    assert_eq!(
        refresh(&s, &id)["version"],
        reconciled["version"],
        "a second refresh adds nothing"
    );

    let failed = refused(&s, &proxy, &id, "Charge", 3_300);
    assert_eq!(reason(&failed, 2), CHARGE_AFTER_CANCELLED);
    assert_eq!(calls(&proxy, "/capture"), 0);
    let at_stripe = stripe(
        reqwest::Method::GET,
        &format!("/v1/payment_intents/{intent}"),
        &[],
    );
    assert_eq!(at_stripe["status"], "canceled");
}

#[test]
fn an_authorization_cancelled_at_stripe_is_found_by_its_signed_webhook() {
    let proxy = Proxy::start(localstripe());
    let s = setup_with("stripe-recon-webhook", proxy.url());
    let (id, intent) = authorized(&s, 2_500);
    cancel_at_stripe(&intent);
    // localstripe sends no payment_intent.canceled: Stripe's event is
    // signed here with the endpoint's secret, as Stripe signs it.
    let event = intent_event(
        "evt_recon_1",
        "payment_intent.canceled",
        &intent,
        "canceled",
    );
    let signed = |body: &str| sign(&s.webhook_secret, unix_now(), body);
    let (status, reply) = post_webhook(&s, &event, Some(&signed(&event)));
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("recorded")));
    let reconciled = wait(&s.api, &id, "reconciliation by the webhook", |p| {
        !psp_initiated(p).is_empty()
    });
    check_cancellation(&reconciled, &intent, 2_500);
    let seen = interactions(&reconciled);
    let hint = seen.iter().position(|i| i == "webhook - notification -");
    let recorded = (seen.iter()).position(|i| i == "refresh cancel reconciliation canceled");
    assert!(hint.is_some() && hint < recorded, "{seen:?}");

    // The same event again, another event about it racing a refresh:
    // still one cancellation.
    let (status, reply) = post_webhook(&s, &event, Some(&signed(&event)));
    assert_eq!(
        (status, reply["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    let other = intent_event(
        "evt_recon_2",
        "payment_intent.canceled",
        &intent,
        "canceled",
    );
    std::thread::scope(|scope| {
        let hint = scope.spawn(|| post_webhook(&s, &other, Some(&signed(&other))));
        refresh(&s, &id);
        assert_eq!(hint.join().expect("webhook").0, 200);
    });
    let settled = wait(&s.api, &id, "the second notification", |p| {
        notifications(p) == 2
    });
    check_cancellation(&refresh(&s, &id), &intent, 2_500);
    check_cancellation(&settled, &intent, 2_500);

    let failed = refused(&s, &proxy, &id, "Charge", 1_000);
    assert_eq!(reason(&failed, 2), CHARGE_AFTER_CANCELLED);
}

#[test]
fn charges_and_refunds_above_what_is_left_never_reach_stripe() {
    let proxy = Proxy::start(localstripe());
    let s = setup_with("stripe-over-amount", proxy.url());
    let (id, intent) = authorized(&s, 3_300);

    let failed = refused(&s, &proxy, &id, "Charge", 9_999);
    assert_eq!(reason(&failed, 1), CHARGE_ABOVE_AUTHORIZED);
    let at_stripe = stripe(
        reqwest::Method::GET,
        &format!("/v1/payment_intents/{intent}"),
        &[],
    );
    assert_eq!(at_stripe["status"], "requires_capture", "not captured");

    add(&s.api, &id, "Charge", 3_300);
    wait(&s.api, &id, "capture", |p| state(p, 2) == "Success");
    let failed = refused(&s, &proxy, &id, "Refund", 9_999);
    assert_eq!(reason(&failed, 3), REFUND_ABOVE_REFUNDABLE);
    assert_eq!(calls(&proxy, "POST /v1/refunds"), 0);
    let refund_txn = failed["transactions"][3]["id"].as_str().expect("txn");
    assert_eq!(refunds_for(refund_txn), 0, "no refund object at Stripe");

    // What is left can still be refunded.
    add(&s.api, &id, "Refund", 3_300);
    let refunded = wait(&s.api, &id, "refund", |p| state(p, 4) == "Success");
    assert_eq!(
        states(&refunded),
        [
            pair("Authorization", "Success"),
            pair("Charge", "Failure"),
            pair("Charge", "Success"),
            pair("Refund", "Failure"),
            pair("Refund", "Success")
        ]
    );
    assert_eq!(calls(&proxy, "POST /v1/refunds"), 1);
    let refund_txn = refunded["transactions"][4]["id"].as_str().expect("txn");
    assert_eq!(refunds_for(refund_txn), 1);
}

/// How many refunds localstripe holds for a payledger transaction.
fn refunds_for(transaction_id: &str) -> usize {
    let mut found = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(after) = &after {
            query.push(("starting_after", after.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = stripe(reqwest::Method::GET, "/v1/refunds", &query);
        let data = page["data"].as_array().expect("data").clone();
        after = data
            .last()
            .and_then(|r| r["id"].as_str())
            .map(str::to_owned);
        found += (data.iter())
            .filter(|r| r["metadata"]["payledger_transaction_id"] == transaction_id)
            .count();
        if page["has_more"] != true || after.is_none() {
            return found;
        }
    }
}
