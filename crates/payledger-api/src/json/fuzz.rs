//! Fuzz targets of the JSON readers of request bodies (`make fuzz` runs
//! each with 1,000,000 cases, `make test` with a short sample; see
//! `payledger-fuzz`).
//!
//! Inputs: random bytes, JSON token soups, and valid bodies with byte
//! edits or, mostly, tree edits (values of the wrong kind or on an edge,
//! members added, removed or renamed from the format's own names). The
//! properties: a reader never panics, and whatever it refuses it refuses
//! as a client error (4xx) whose response renders, never as a 5xx.
//!
//! | target | readers |
//! |---|---|
//! | `fuzz_payment_draft` | [`parse_payment_draft`] |
//! | `fuzz_payment_update` | [`parse_update`] (payments) |
//! | `fuzz_order_bodies` | order drafts, order update actions, retry-payment bodies |
//! | `fuzz_subscription_bodies` | Subscription drafts and update actions |
//! | `fuzz_catalog_bodies` | Type and State drafts and update actions |
//! | `fuzz_tokenization_bodies` | the signed envelope, sale and recurring texts |

use std::fmt::Debug;

use axum::response::IntoResponse;
use payledger_fuzz::{Input, check, json, run};
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use super::read::{Obj, Path, parse_body};
use super::{parse_payment_draft, parse_update};
use crate::ApiError;
use crate::catalog::{self, Kind, States, Types};
use crate::{order_attempts, orders, subscriptions, tokenization};

/// Field names and enum values of the commercetools bodies payledger reads.
const NAMES: &[&str] = &[
    "action",
    "actions",
    "version",
    "key",
    "id",
    "typeId",
    "type",
    "fields",
    "custom",
    "name",
    "value",
    "values",
    "amount",
    "amountPlanned",
    "amountAuthorized",
    "amountPaid",
    "amountRefunded",
    "authorizedUntil",
    "until",
    "centAmount",
    "currencyCode",
    "fractionDigits",
    "centPrecision",
    "highPrecision",
    "preciseAmount",
    "customer",
    "anonymousId",
    "interfaceId",
    "externalId",
    "paymentMethodInfo",
    "paymentInterface",
    "method",
    "token",
    "interfaceAccount",
    "paymentStatus",
    "interfaceCode",
    "interfaceText",
    "state",
    "force",
    "transactions",
    "transaction",
    "transactionId",
    "timestamp",
    "interactionId",
    "interfaceInteractions",
    "Authorization",
    "CancelAuthorization",
    "Charge",
    "Refund",
    "Chargeback",
    "Initial",
    "Pending",
    "Success",
    "Failure",
    "EUR",
    "USD",
    "JPY",
    "BHD",
    "XXX",
    "en",
    "de",
    "addTransaction",
    "changeTransactionState",
    "changeTransactionTimestamp",
    "changeTransactionInteractionId",
    "setTransactionInterfaceId",
    "setTransactionCustomType",
    "setTransactionCustomField",
    "addInterfaceInteraction",
    "changeAmountPlanned",
    "setKey",
    "setCustomer",
    "setAnonymousId",
    "setInterfaceId",
    "setMethodInfoInterface",
    "setMethodInfoMethod",
    "setMethodInfoName",
    "setMethodInfoToken",
    "setMethodInfoInterfaceAccount",
    "setMethodInfoCustomType",
    "setMethodInfoCustomField",
    "setMethodInfo",
    "setStatusInterfaceCode",
    "setStatusInterfaceText",
    "setCustomType",
    "setCustomField",
    "transitionState",
    "setAmountPaid",
    "setAmountRefunded",
    "setAuthorization",
    "setExternalId",
    "payment",
    "orderNumber",
    "totalPrice",
    "customerId",
    "customerEmail",
    "email",
    "addPayment",
    "removePayment",
    "setCustomerEmail",
    "cancel",
    "destination",
    "HTTP",
    "url",
    "secret",
    "messages",
    "resourceTypeId",
    "types",
    "changes",
    "events",
    "format",
    "Platform",
    "CloudEvents",
    "cloudEventsVersion",
    "changeDestination",
    "setMessages",
    "setChanges",
    "setEvents",
    "PaymentCreated",
    "description",
    "resourceTypeIds",
    "fieldDefinitions",
    "fieldDefinition",
    "label",
    "required",
    "inputHint",
    "SingleLine",
    "MultiLine",
    "elementType",
    "String",
    "Number",
    "Boolean",
    "Money",
    "Date",
    "Time",
    "DateTime",
    "Enum",
    "LocalizedEnum",
    "LocalizedString",
    "Set",
    "Reference",
    "referenceTypeId",
    "fieldName",
    "changeName",
    "changeKey",
    "changeLabel",
    "setDescription",
    "addFieldDefinition",
    "removeFieldDefinition",
    "initial",
    "roles",
    "transitions",
    "changeInitial",
    "setName",
    "setTransitions",
    "PaymentState",
    "OrderState",
    "ReviewIncludedInStatistics",
    "payment_method",
    "payment_provider_slug",
    "action",
    "return_url",
    "integration_type",
    "gateway_reference_id",
    "mandate",
    "max_amount",
    "start_date",
    "end_date",
    "frequency",
    "rule_value",
    "request",
    "signature",
    "merchantId",
    "userId",
    "tokenId",
    "reason",
    "merchantReference",
    "parentOrderId",
    "currency",
    "paymentMethod",
    "callbackUrl",
    "success",
    "fail",
    "notify",
    "pm_card_visa",
];

/// Runs one target over `seeds`; `read` calls every reader of the target
/// and returns their refusals.
fn fuzz(target: &str, seeds: &[Value], read: impl Fn(&[u8]) -> Vec<Option<ApiError>>) {
    run(target, json::inputs(seeds, NAMES), |input: Input| {
        for refusal in read(&input.0).into_iter().flatten() {
            refused_as_client_error(refusal)?;
        }
        Ok(())
    });
}

/// The refusal of a reader, if it refused.
fn refusal<T: Debug>(result: Result<T, ApiError>) -> Option<ApiError> {
    result.err()
}

fn refused_as_client_error(error: ApiError) -> Result<(), TestCaseError> {
    let shown = format!("{error:?}");
    let status = error.into_response().status();
    check(status.is_client_error(), || format!("{status} for {shown}"))
}

fn draft_of<T>(
    body: &[u8],
    parse: impl Fn(&Obj<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let value = parse_body(body)?;
    parse(&Obj::new(&value, Path::root())?)
}

fn money() -> Value {
    json!({"type": "centPrecision", "currencyCode": "EUR", "centAmount": 4200, "fractionDigits": 2})
}

fn custom() -> Value {
    json!({"type": {"typeId": "type", "key": "payment-extras"},
           "fields": {"orderNumber": "A-1", "tags": ["vip", "b2b"], "priority": 3,
                      "ratio": 0.25, "rush": false, "total": {"currencyCode": "EUR", "centAmount": 1},
                      "label": {"en": "Label"}}})
}

fn transaction_draft() -> Value {
    json!({"type": "Authorization", "amount": money(), "state": "Success",
           "timestamp": "2026-02-03T10:15:00.000Z", "interactionId": "ch_9",
           "interfaceId": "ch_9", "custom": custom()})
}

fn payment_draft_seeds() -> Vec<Value> {
    vec![
        json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 4200}}),
        json!({
            "key": "order-1001", "amountPlanned": money(),
            "customer": {"typeId": "customer", "id": "cust-7"}, "anonymousId": "anon-1",
            "interfaceId": "pi_1", "externalId": "ext-1", "amountAuthorized": money(),
            "authorizedUntil": "2026-03-01T00:00:00.000Z", "amountPaid": money(),
            "amountRefunded": {"currencyCode": "JPY", "centAmount": 0},
            "paymentMethodInfo": {"paymentInterface": "stripe", "method": "card",
                                  "name": {"en": "Card", "de": "Karte"},
                                  "token": {"value": "tok_1"}, "interfaceAccount": "acct_1",
                                  "custom": custom()},
            "paymentStatus": {"interfaceCode": "requires_capture", "interfaceText": "ok",
                              "state": {"typeId": "state", "key": "paid"}},
            "transactions": [transaction_draft(), {"type": "Charge", "amount": money()}],
            "interfaceInteractions": [custom()],
            "custom": custom(),
        }),
    ]
}

fn payment_update_seeds() -> Vec<Value> {
    let id = "14748fe6-7f77-456a-96c8-913b1e4bbc9a";
    vec![json!({"version": 3, "actions": [
        {"action": "addTransaction", "transaction": transaction_draft()},
        {"action": "changeTransactionState", "transactionId": id, "state": "Failure"},
        {"action": "changeTransactionTimestamp", "transactionId": id,
         "timestamp": "2026-02-03T10:15:00.000Z"},
        {"action": "changeTransactionInteractionId", "transactionId": id, "interactionId": "x"},
        {"action": "setTransactionInterfaceId", "transactionId": id, "interfaceId": "ch_1"},
        {"action": "setTransactionCustomType", "transactionId": id,
         "type": {"key": "t"}, "fields": {"a": 1}},
        {"action": "setTransactionCustomField", "transactionId": id, "name": "a", "value": [1]},
        {"action": "addInterfaceInteraction", "type": {"id": "type-1"}, "fields": {"c": "x"}},
        {"action": "changeAmountPlanned", "amount": money()},
        {"action": "setKey", "key": "k"},
        {"action": "setCustomer", "customer": {"id": "c"}},
        {"action": "setAnonymousId", "anonymousId": "a"},
        {"action": "setInterfaceId", "interfaceId": "pi_2"},
        {"action": "setMethodInfoInterface", "interface": "stripe"},
        {"action": "setMethodInfoMethod", "method": "card"},
        {"action": "setMethodInfoName", "name": {"en": "Card"}},
        {"action": "setMethodInfoToken", "token": {"value": "tok"}},
        {"action": "setMethodInfoInterfaceAccount", "interfaceAccount": "acct"},
        {"action": "setMethodInfoCustomType", "type": {"key": "t"}},
        {"action": "setMethodInfoCustomField", "name": "a", "value": "b"},
        {"action": "setMethodInfo", "paymentInterface": "stripe", "method": "card"},
        {"action": "setStatusInterfaceCode", "interfaceCode": "c"},
        {"action": "setStatusInterfaceText", "interfaceText": "t"},
        {"action": "setCustomType", "type": {"key": "t"}, "fields": {"n": 1.5}},
        {"action": "setCustomField", "name": "n", "value": {"currencyCode": "EUR", "centAmount": 5}},
        {"action": "transitionState", "state": {"typeId": "state", "key": "paid"}, "force": true},
        {"action": "setAmountPaid", "amount": money()},
        {"action": "setAmountRefunded", "amount": money()},
        {"action": "setAuthorization", "amount": money(), "until": "2026-03-01T00:00:00.000Z"},
        {"action": "setExternalId", "externalId": "e"}
    ]})]
}

#[test]
fn fuzz_payment_draft() {
    fuzz("payment_draft", &payment_draft_seeds(), |body| {
        vec![refusal(parse_payment_draft(body))]
    });
}

#[test]
fn fuzz_payment_update() {
    fuzz("payment_update", &payment_update_seeds(), |body| {
        vec![refusal(parse_update(body))]
    });
}

fn order_seeds() -> Vec<Value> {
    let payment = json!({"typeId": "payment", "id": "776f9240-09e1-4416-a34f-32fa80f0333f"});
    vec![
        json!({"orderNumber": "A-1", "key": "order-a-1", "totalPrice": money(),
               "customerId": "cust-7", "customerEmail": "ada@example.com"}),
        json!({"version": 1, "actions": [
            {"action": "addPayment", "payment": payment},
            {"action": "removePayment", "payment": {"id": "776f9240-09e1-4416-a34f-32fa80f0333f"}},
            {"action": "setCustomerEmail", "email": "ada@example.com"},
            {"action": "setKey", "key": "k"},
            {"action": "cancel"}
        ]}),
        json!({"payment_method": {"payment_provider_slug": "stripe", "action": "sale",
               "integration_type": "web", "return_url": "https://shop.example/back",
               "gateway_reference_id": "g-1",
               "mandate": {"max_amount": "100.00", "start_date": "2026-01-01",
                           "end_date": "2027-01-01", "frequency": "monthly", "rule_value": "1"}}}),
    ]
}

#[test]
fn fuzz_order_bodies() {
    fuzz("order_bodies", &order_seeds(), |body| {
        vec![
            refusal(orders::parse_order_draft(body)),
            refusal(catalog::parse_update(body, orders::ACTIONS)),
            refusal(order_attempts::parse_retry(body)),
        ]
    });
}

fn subscription_seeds() -> Vec<Value> {
    let destination = json!({"type": "HTTP", "url": "https://hooks.example.com/payledger",
                             "secret": "0123456789abcdef0123456789abcdef"});
    let messages = json!([{"resourceTypeId": "payment", "types": ["PaymentCreated"]}]);
    vec![
        json!({"key": "hook", "destination": destination, "messages": messages,
               "changes": [], "events": [],
               "format": {"type": "CloudEvents", "cloudEventsVersion": "1.0"}}),
        json!({"version": 2, "actions": [
            {"action": "changeDestination", "destination": destination},
            {"action": "setKey", "key": "hook-2"},
            {"action": "setMessages", "messages": messages},
            {"action": "setChanges", "changes": []},
            {"action": "setEvents", "events": []}
        ]}),
    ]
}

#[test]
fn fuzz_subscription_bodies() {
    fuzz("subscription_bodies", &subscription_seeds(), |body| {
        vec![
            refusal(draft_of(body, subscriptions::parse_draft)),
            refusal(catalog::parse_update(body, subscriptions::ACTIONS)),
        ]
    });
}

fn catalog_seeds() -> Vec<Value> {
    let label = json!({"en": "Label"});
    vec![
        json!({"key": "payment-extras", "name": {"en": "Payment extras"}, "description": null,
               "resourceTypeIds": ["payment", "transaction"],
               "fieldDefinitions": [
                   {"name": "orderNumber", "label": label, "required": true,
                    "type": {"name": "String"}, "inputHint": "SingleLine"},
                   {"name": "channel", "label": label, "required": false,
                    "type": {"name": "Enum", "values": [{"key": "web", "label": "Web"}]}},
                   {"name": "tags", "label": label, "required": false,
                    "type": {"name": "Set", "elementType": {"name": "String"}}},
                   {"name": "ref", "label": label, "required": false,
                    "type": {"name": "Reference", "referenceTypeId": "payment"}}]}),
        json!({"key": "paid", "type": "PaymentState", "name": label, "description": label,
               "initial": true, "roles": ["ReviewIncludedInStatistics"],
               "transitions": [{"typeId": "state", "key": "refunded"}]}),
        json!({"version": 1, "actions": [
            {"action": "changeName", "name": {"en": "Renamed"}},
            {"action": "setDescription", "description": {"en": "About"}},
            {"action": "addFieldDefinition", "fieldDefinition":
                {"name": "paid", "label": label, "required": false, "type": {"name": "Boolean"}}},
            {"action": "removeFieldDefinition", "fieldName": "tags"},
            {"action": "changeLabel", "fieldName": "paid", "label": label},
            {"action": "changeKey", "key": "extras-2"},
            {"action": "changeInitial", "initial": false},
            {"action": "setName", "name": label},
            {"action": "setTransitions", "transitions": [{"typeId": "state", "id": "s-1"}]}
        ]}),
    ]
}

#[test]
fn fuzz_catalog_bodies() {
    fuzz("catalog_bodies", &catalog_seeds(), |body| {
        vec![
            refusal(draft_of(body, Types::parse_draft)),
            refusal(draft_of(body, States::parse_draft)),
            refusal(catalog::parse_update(body, Types::ACTIONS)),
            refusal(catalog::parse_update(body, States::ACTIONS)),
        ]
    });
}

fn tokenization_seeds() -> Vec<Value> {
    let callbacks = json!({"success": "https://shop.example/ok", "fail": "https://shop.example/ko",
                           "cancel": "https://shop.example/cancel",
                           "notify": "https://shop.example/notify"});
    let sale = json!({"merchantId": 3, "userId": "User1", "merchantReference": "sale-1",
                      "amount": "30.10", "currency": "usd", "paymentMethod": "pm_card_visa",
                      "email": "ada@example.com", "callbackUrl": callbacks});
    let recurring = json!({"merchantId": "3", "userId": "user1", "tokenId": 436,
                           "reason": "monthly", "amount": 30, "merchantReference": "ref-2",
                           "parentOrderId": 5798, "callbackUrl": {"notify": "https://n.example/"}});
    vec![
        json!({"request": sale.to_string(), "signature": "c2lnbmF0dXJl"}),
        sale,
        recurring,
    ]
}

#[test]
fn fuzz_tokenization_bodies() {
    run(
        "tokenization_bodies",
        json::inputs(&tokenization_seeds(), NAMES),
        |input: Input| {
            // Refusals are response codes of that API's own body, so the
            // property is only that reading never panics.
            let _envelope = tokenization::parse_envelope(&input.0);
            let text = input.text();
            let _sale = tokenization::parse_sale(&text);
            let _recurring = tokenization::parse_recurring(&text);
            Ok(())
        },
    );
}

/// The seeds are valid, so the mutations start from bodies that get past
/// every check.
#[test]
fn the_fuzz_seeds_are_accepted() {
    let bytes = |v: &Value| v.to_string().into_bytes();
    for seed in payment_draft_seeds() {
        parse_payment_draft(&bytes(&seed)).expect("payment draft seed");
    }
    for seed in payment_update_seeds() {
        parse_update(&bytes(&seed)).expect("payment update seed");
    }
    let [draft, update, retry] = <[Value; 3]>::try_from(order_seeds()).expect("three");
    orders::parse_order_draft(&bytes(&draft)).expect("order draft seed");
    catalog::parse_update(&bytes(&update), orders::ACTIONS).expect("order update seed");
    order_attempts::parse_retry(&bytes(&retry)).expect("retry seed");
    let [draft, update] = <[Value; 2]>::try_from(subscription_seeds()).expect("two");
    draft_of(&bytes(&draft), subscriptions::parse_draft).expect("subscription draft seed");
    catalog::parse_update(&bytes(&update), subscriptions::ACTIONS).expect("subscription update");
    let [type_draft, state_draft, update] = <[Value; 3]>::try_from(catalog_seeds()).expect("3");
    draft_of(&bytes(&type_draft), Types::parse_draft).expect("type draft seed");
    draft_of(&bytes(&state_draft), States::parse_draft).expect("state draft seed");
    let type_actions =
        json!({"version": 1, "actions": update["actions"].as_array().expect("a")[..6]});
    catalog::parse_update(&bytes(&type_actions), Types::ACTIONS).expect("type update seed");
    let state_actions =
        json!({"version": 1, "actions": update["actions"].as_array().expect("a")[6..]});
    catalog::parse_update(&bytes(&state_actions), States::ACTIONS).expect("state update seed");
    let [envelope, sale, recurring] = <[Value; 3]>::try_from(tokenization_seeds()).expect("3");
    tokenization::parse_envelope(&bytes(&envelope)).expect("envelope seed");
    tokenization::parse_sale(&sale.to_string()).expect("sale seed");
    tokenization::parse_recurring(&recurring.to_string()).expect("recurring seed");
}
