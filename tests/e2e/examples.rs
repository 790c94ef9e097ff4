//! Every vendor example of a payment update action
//! (`shared/conformance/commercetools/examples/Payment/*.json`) applied
//! through HTTP to a fresh payment, with its effect asserted.
//!
//! Placeholders in the examples (`{{type-id}}`, `{{transactionId}}`, …) are
//! filled with resources this test creates first: custom field Types for
//! payments, transactions, method info and interface interactions, and an
//! initial PaymentState.

use payledger_e2e::{Api, Server, create_client};
use serde_json::{Value, json};
use std::path::PathBuf;

const SCOPE: &str = "manage_project:examples";

fn examples_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/commercetools/examples/Payment");
    assert!(dir.is_dir(), "vendor examples missing at {}", dir.display());
    dir
}

fn created(reply: payledger_e2e::Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn string_field(name: &str) -> Value {
    json!({"type": {"name": "String"}, "name": name, "label": {"en": name}, "required": false})
}

fn number_field(name: &str) -> Value {
    json!({"type": {"name": "Number"}, "name": name, "label": {"en": name}, "required": false})
}

/// The ids the placeholders stand for.
struct Fixtures {
    payment_type: String,
    method_type: String,
    interaction_type: String,
    state: String,
}

fn fixtures(api: &Api) -> Fixtures {
    let payment_type = created(api.post(
        "/types",
        &json!({
            "key": "payment-custom",
            "name": {"en": "Payment fields"},
            "resourceTypeIds": ["payment", "transaction"],
            "fieldDefinitions": [string_field("exampleStringField")],
        }),
    ));
    let method_type = created(api.post(
        "/types",
        &json!({
            "key": "payment-method-info-cc-last4",
            "name": {"en": "Card"},
            "resourceTypeIds": ["payment-method-info"],
            "fieldDefinitions": [number_field("last4"), string_field("brand")],
        }),
    ));
    let interaction_type = created(api.post(
        "/types",
        &json!({
            "key": "psp-interaction",
            "name": {"en": "PSP interaction"},
            "resourceTypeIds": ["payment-interface-interaction"],
            "fieldDefinitions": [string_field("response")],
        }),
    ));
    let state = created(api.post(
        "/states",
        &json!({"key": "paid", "type": "PaymentState", "initial": true}),
    ));
    let id = |v: &Value| v["id"].as_str().expect("id").to_owned();
    Fixtures {
        payment_type: id(&payment_type),
        method_type: id(&method_type),
        interaction_type: id(&interaction_type),
        state: id(&state),
    }
}

/// A payment with custom fields on itself, its method info and its one
/// transaction, so every custom-field action has something to act on.
fn fresh_payment(api: &Api, f: &Fixtures) -> Value {
    created(api.post("/payments", &json!({
        "amountPlanned": {"currencyCode": "EUR", "centAmount": 1000},
        "custom": {"type": {"typeId": "type", "id": f.payment_type}, "fields": {}},
        "paymentMethodInfo": {"custom": {"type": {"typeId": "type", "id": f.method_type}, "fields": {}}},
        "transactions": [{
            "type": "Charge",
            "amount": {"currencyCode": "EUR", "centAmount": 1000},
            "custom": {"type": {"typeId": "type", "id": f.payment_type}, "fields": {}},
        }],
    })))
}

/// JSON text without a trailing comma before a closing brace (one vendor
/// file has one; JSON does not allow it).
fn without_trailing_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_comma = false;
    let mut pending_space = String::new();
    for c in text.chars() {
        match c {
            ',' if !pending_comma => pending_comma = true,
            c if pending_comma && c.is_whitespace() => pending_space.push(c),
            '}' | ']' if pending_comma => {
                out.push_str(&pending_space);
                out.push(c);
                pending_comma = false;
                pending_space.clear();
            }
            c => {
                if pending_comma {
                    out.push(',');
                    out.push_str(&pending_space);
                    pending_comma = false;
                    pending_space.clear();
                }
                out.push(c);
            }
        }
    }
    out
}

/// The example text with its placeholders filled.
fn fill(text: &str, action: &str, payment: &Value, f: &Fixtures) -> String {
    let text = without_trailing_commas(text);
    let transaction = payment["transactions"][0]["id"]
        .as_str()
        .expect("transaction id");
    let type_id = match action {
        "setMethodInfo" => &f.method_type,
        "addInterfaceInteraction" => &f.interaction_type,
        _ => &f.payment_type,
    };
    text.replace("{{type-id}}", type_id)
        .replace("{{transactionId}}", transaction)
        .replace("transactionIdTest", transaction)
        .replace("{{newInteractionId}}", "interaction-2")
        .replace("{{interfaceId}}", "tx-interface-1")
        .replace("{{customer-id}}", "6b1f5c0e-8b0a-4d5e-9f3a-2c4d5e6f7a8b")
        .replace("{{paymentStateId}}", &f.state)
}

/// What each action must have changed: JSON pointer → expected value.
fn expected_effects(action: &str, f: &Fixtures) -> Vec<(&'static str, Value)> {
    match action {
        "addTransaction" => vec![
            ("/transactions/1/type", json!("Authorization")),
            ("/transactions/1/amount/centAmount", json!(4000)),
            ("/transactions/1/state", json!("Initial")),
        ],
        "addInterfaceInteraction" => vec![(
            "/interfaceInteractions/0/type/id",
            json!(f.interaction_type),
        )],
        "changeAmountPlanned" => vec![("/amountPlanned/centAmount", json!(4000))],
        "changeTransactionInteractionId" => {
            vec![("/transactions/0/interactionId", json!("interaction-2"))]
        }
        "changeTransactionState" => vec![("/transactions/0/state", json!("Failure"))],
        "changeTransactionTimestamp" => vec![(
            "/transactions/0/timestamp",
            json!("2018-10-12T14:00:00.000Z"),
        )],
        "setAmountPaid" => vec![("/amountPaid/centAmount", json!(4000))],
        "setAmountRefunded" => vec![("/amountRefunded/centAmount", json!(4000))],
        "setAnonymousId" => vec![("/anonymousId", json!("anonymousId"))],
        "setAuthorization" => vec![
            ("/amountAuthorized/centAmount", json!(4000)),
            ("/authorizedUntil", json!("2018-10-12T14:00:00.000Z")),
        ],
        "setCustomField" => vec![("/custom/fields/exampleStringField", json!("TextString"))],
        "setCustomType" => vec![
            ("/custom/type/id", json!(f.payment_type)),
            ("/custom/fields/exampleStringField", json!("TextString")),
        ],
        "setCustomer" => vec![
            (
                "/customer/id",
                json!("6b1f5c0e-8b0a-4d5e-9f3a-2c4d5e6f7a8b"),
            ),
            ("/customer/typeId", json!("customer")),
        ],
        "setExternalId" => vec![("/externalId", json!("externalID"))],
        "setInterfaceId" => vec![("/interfaceId", json!("InterfaceID"))],
        "setKey" => vec![("/key", json!("String"))],
        "setMethodInfo" => vec![
            ("/paymentMethodInfo/paymentInterface", json!("STRIPE")),
            ("/paymentMethodInfo/method", json!("CREDITCARD")),
            ("/paymentMethodInfo/name/de", json!("Kreditkarte")),
            ("/paymentMethodInfo/token/value", json!("sk_test_123456789")),
            (
                "/paymentMethodInfo/interfaceAccount",
                json!("acct_1234567890"),
            ),
            ("/paymentMethodInfo/custom/fields/brand", json!("VISA")),
        ],
        "setMethodInfoCustomField" => vec![("/paymentMethodInfo/custom/fields/last4", json!(4567))],
        "setMethodInfoCustomType" => vec![
            ("/paymentMethodInfo/custom/type/id", json!(f.method_type)),
            ("/paymentMethodInfo/custom/fields/last4", json!(1234)),
        ],
        "setMethodInfoInterface" => vec![(
            "/paymentMethodInfo/paymentInterface",
            json!("MethodInfoInterfaceString"),
        )],
        "setMethodInfoInterfaceAccount" => {
            vec![("/paymentMethodInfo/interfaceAccount", json!("ADYEN-123"))]
        }
        "setMethodInfoMethod" => {
            vec![("/paymentMethodInfo/method", json!("MethodInfoMethodString"))]
        }
        "setMethodInfoName" => vec![(
            "/paymentMethodInfo/name/en",
            json!("MethodInfoNameStringEN"),
        )],
        "setMethodInfoToken" => vec![(
            "/paymentMethodInfo/token/value",
            json!("1234-5678-9010-1234"),
        )],
        "setStatusInterfaceCode" => {
            vec![("/paymentStatus/interfaceCode", json!("InterfaceCodeString"))]
        }
        "setStatusInterfaceText" => {
            vec![("/paymentStatus/interfaceText", json!("InterfaceTextString"))]
        }
        "setTransactionCustomField" => vec![(
            "/transactions/0/custom/fields/exampleStringField",
            json!("TextString"),
        )],
        "setTransactionCustomType" => vec![
            ("/transactions/0/custom/type/id", json!(f.payment_type)),
            (
                "/transactions/0/custom/fields/exampleStringField",
                json!("TextString"),
            ),
        ],
        "setTransactionInterfaceId" => {
            vec![("/transactions/0/interfaceId", json!("tx-interface-1"))]
        }
        "transitionState" => vec![
            ("/paymentStatus/state/id", json!(f.state)),
            ("/paymentStatus/state/typeId", json!("state")),
        ],
        other => panic!("no expectation for vendor action {other}: add one"),
    }
}

#[test]
fn every_vendor_payment_action_example_applies_with_its_effect() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(dir.path(), "examples", "examples-secret-1", SCOPE);
    let server = Server::start(dir.path());
    let api = Api::connect(
        server.url(),
        "examples",
        "examples",
        "examples-secret-1",
        SCOPE,
    );
    let f = fixtures(&api);
    let mut files: Vec<_> = std::fs::read_dir(examples_dir())
        .expect("read examples")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the vendor's payment examples, found {}",
        files.len()
    );
    let mut actions_seen = std::collections::BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read example");
        let name_probe: Value = serde_json::from_str(&fill(
            &text,
            "",
            &json!({"transactions": [{"id": "x"}]}),
            &f,
        ))
        .expect("example JSON");
        let action = name_probe["action"].as_str().expect("action").to_owned();
        let payment = fresh_payment(&api, &f);
        let mut filled: Value =
            serde_json::from_str(&fill(&text, &action, &payment, &f)).expect("filled example");
        // The "MyPayment…" variant of a transaction action omits the
        // transaction it acts on; name the payment's one transaction.
        if action.contains("Transaction")
            && action != "addTransaction"
            && filled.get("transactionId").is_none()
        {
            filled["transactionId"] = payment["transactions"][0]["id"].clone();
        }
        let id = payment["id"].as_str().expect("id");
        let reply = api.post(
            &format!("/payments/{id}"),
            &json!({"version": payment["version"], "actions": [filled]}),
        );
        let label = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert_eq!(reply.status, 200, "{label}: {}", reply.body);
        assert_eq!(reply.body["version"], 2, "{label}: one action, one event");
        for (pointer, expected) in expected_effects(&action, &f) {
            assert_eq!(
                reply.body.pointer(pointer),
                Some(&expected),
                "{label}: {pointer} in {}",
                reply.body
            );
        }
        actions_seen.insert(action);
    }
    assert_eq!(
        actions_seen.len(),
        30,
        "all 30 update actions are exercised: {actions_seen:?}"
    );
}
