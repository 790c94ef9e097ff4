//! The envelope, the order of reading (merchant, signature, the rest) and
//! every field rule of a recurring request.

use super::*;
use base64::Engine;
use payledger_app::merchants;
use payledger_domain::ProjectKey;
use payledger_store::memory::MemoryStore;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::json;

const A_PUB: &str = include_str!("../../../payledger-app/src/merchants/testdata/a.pub");
const A_PRIVATE: &str = include_str!("../../../payledger-app/src/merchants/testdata/a.pk8");
const B_PRIVATE: &str = include_str!("../../../payledger-app/src/merchants/testdata/b.pk8");

/// The seed's example request text.
const SEED_TEXT: &str = r#"{"merchantId":3,"userId":"user1","tokenId":"436","merchantReference":"merRef1656991803097","amount":30,"parentOrderId":5798}"#;

fn envelope(text: &str, private_pem: &str) -> Vec<u8> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem).expect("test key");
    let signature = SigningKey::<sha2::Sha256>::new(key)
        .sign(text.as_bytes())
        .to_vec();
    json!({
        "request": text,
        "signature": base64::engine::general_purpose::STANDARD.encode(signature),
    })
    .to_string()
    .into_bytes()
}

fn merchant() -> Merchant {
    let store = MemoryStore::with_partitions(1);
    merchants::create(&store, &ProjectKey::parse("shop").unwrap(), 3, A_PUB, 1).unwrap()
}

fn code(result: Result<impl std::fmt::Debug, Refusal>) -> ResponseCode {
    result.expect_err("a refusal").code
}

#[test]
fn the_seed_request_is_read_merchant_first_then_verified_then_parsed() {
    let signed = parse_envelope(&envelope(SEED_TEXT, A_PRIVATE)).expect("envelope");
    assert_eq!(signed.text, SEED_TEXT, "the exact text is kept");
    assert_eq!(merchant_id(&signed.text), Ok(3));
    verify(&merchant(), &signed).expect("signed by the merchant's key");
    let request = parse_recurring(&signed.text).expect_err("the seed omits reason");
    assert_eq!(request.code, ResponseCode::MalformedRequest);
    assert!(request.message.contains("reason"), "{}", request.message);

    let with_reason = SEED_TEXT.replace("\"amount\"", "\"reason\":\"Monthly box\",\"amount\"");
    let request = parse_recurring(&with_reason).expect("recurring");
    assert_eq!(
        request,
        RecurringRequest {
            merchant_id: 3,
            user_id: "user1".into(),
            token_id: 436,
            reason: "Monthly box".into(),
            amount_hundredths: 3_000,
            merchant_reference: "merRef1656991803097".into(),
            parent_order_id: 5798,
            callback_urls: CallbackUrls::default(),
        }
    );
}

#[test]
fn a_changed_text_or_another_key_is_a_bad_signature() {
    let signed = parse_envelope(&envelope(SEED_TEXT, A_PRIVATE)).unwrap();
    let tampered = SignedRequest {
        text: SEED_TEXT.replacen(',', ", ", 1),
        ..signed.clone()
    };
    assert_eq!(
        code(verify(&merchant(), &tampered)),
        ResponseCode::BadSignature
    );
    let foreign = parse_envelope(&envelope(SEED_TEXT, B_PRIVATE)).unwrap();
    assert_eq!(
        code(verify(&merchant(), &foreign)),
        ResponseCode::BadSignature
    );
}

#[test]
fn malformed_envelopes_name_what_is_wrong() {
    for body in [
        &b"not json"[..],
        br#"["request"]"#,
        br#"{"request": 1, "signature": "AA=="}"#,
        br#"{"request": "{}", "signature": "***"}"#,
        br#"{"request": "{}", "signature": "AA==", "extra": 1}"#,
    ] {
        assert_eq!(code(parse_envelope(body)), ResponseCode::MalformedRequest);
    }
    assert_eq!(code(merchant_id("[1]")), ResponseCode::MalformedRequest);
    assert_eq!(
        code(merchant_id(r#"{"merchantId": -3}"#)),
        ResponseCode::MalformedRequest
    );
    assert_eq!(
        code(merchant_id(r#"{"merchantId": "3a"}"#)),
        ResponseCode::MalformedRequest
    );
    assert_eq!(merchant_id(r#"{"merchantId": "3"}"#), Ok(3));
}

fn recurring_with(field: &str, value: serde_json::Value) -> Result<RecurringRequest, Refusal> {
    let mut fields = json!({
        "merchantId": 3, "userId": "User1", "tokenId": 436, "reason": "monthly",
        "amount": "30.10", "merchantReference": "ref-2", "parentOrderId": 5798,
        "callbackUrl": {"notify": "https://shop.example/notify"},
    });
    fields[field] = value;
    parse_recurring(&fields.to_string())
}

#[test]
fn every_field_rule_of_a_recurring_request() {
    let base = recurring_with("reason", json!("monthly")).expect("valid");
    assert_eq!(base.user_id, "user1", "user ids compare without case");
    assert_eq!(base.amount_hundredths, 3_010);
    assert_eq!(
        base.callback_urls.notify.as_deref(),
        Some("https://shop.example/notify")
    );
    for (amount, cents) in [
        (json!(30), 3_000),
        (json!(0.5), 50),
        (json!("1234567.89"), 123_456_789),
        (json!("0.01"), 1),
    ] {
        assert_eq!(
            recurring_with("amount", amount).unwrap().amount_hundredths,
            cents
        );
    }
    for amount in [
        json!(0),
        json!("-1"),
        json!("1.234"),
        json!("12345678.9"),
        json!("1e3"),
        json!("abc"),
        json!(null),
    ] {
        let refused = recurring_with("amount", amount.clone()).expect_err("refused");
        assert!(
            refused.message.contains("amount"),
            "{amount}: {}",
            refused.message
        );
    }
    for (field, value) in [
        ("userId", json!("x".repeat(65))),
        ("userId", json!("  ")),
        ("merchantReference", json!("")),
        ("reason", json!(7)),
        ("tokenId", json!("43x")),
        ("parentOrderId", json!(0)),
        ("callbackUrl", json!({"notify": "ftp://x"})),
        ("callbackUrl", json!("https://x")),
    ] {
        let refused = recurring_with(field, value).expect_err("refused");
        assert_eq!(refused.code, ResponseCode::MalformedRequest);
        assert!(
            refused.message.contains(field),
            "{field}: {}",
            refused.message
        );
    }
}

#[test]
fn response_codes_are_distinct() {
    let mut codes: Vec<&str> = ResponseCode::ALL.iter().map(|c| c.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ResponseCode::ALL.len());
    assert_eq!(ResponseCode::Success.code(), "0000");
}

fn sale_with(field: &str, value: serde_json::Value) -> Result<SaleRequest, Refusal> {
    let mut fields = json!({
        "merchantId": 3, "userId": "User1", "merchantReference": "sale-1",
        "amount": 30, "currency": "usd", "paymentMethod": "pm_1Abc",
        "email": "ada@example.com",
    });
    if value.is_null() {
        fields.as_object_mut().unwrap().remove(field);
    } else {
        fields[field] = value;
    }
    parse_sale(&fields.to_string())
}

#[test]
fn every_field_rule_of_a_sale() {
    let sale = sale_with("email", json!("ada@example.com")).expect("valid");
    assert_eq!(sale.user_id, "user1");
    assert_eq!(sale.amount.cent_amount, 3_000);
    assert_eq!(sale.amount.currency.as_str(), "USD");
    assert_eq!(sale.payment_method, "pm_1Abc");
    assert_eq!(sale_with("email", json!(null)).unwrap().email, None);
    assert_eq!(
        sale_with("currency", json!("JPY"))
            .unwrap()
            .amount
            .cent_amount,
        30,
        "JPY has no minor unit"
    );
    assert!(sale_with("amount", json!(30.5)).is_ok());
    for (field, value) in [
        ("currency", json!("XXY")),
        ("currency", json!(null)),
        ("paymentMethod", json!("tok_visa")),
        ("paymentMethod", json!("pm_a/b")),
        ("paymentMethod", json!(null)),
        ("email", json!("not-an-email")),
        ("merchantReference", json!(null)),
        ("userId", json!(null)),
    ] {
        let refused = sale_with(field, value.clone()).expect_err("refused");
        assert_eq!(
            refused.code,
            ResponseCode::MalformedRequest,
            "{field}: {value}"
        );
        assert!(
            refused.message.contains(field),
            "{field}: {}",
            refused.message
        );
    }
    let refused = {
        let mut fields = json!({
            "merchantId": 3, "userId": "u", "merchantReference": "s",
            "amount": 30.5, "currency": "JPY", "paymentMethod": "pm_1",
        });
        fields["x"] = json!(1);
        parse_sale(&fields.to_string()).expect_err("JPY has no decimals")
    };
    assert!(refused.message.contains("amount"));
}

#[test]
fn each_code_has_one_http_status() {
    use axum::http::StatusCode;
    assert_eq!(http_status(ResponseCode::Success), StatusCode::OK);
    assert_eq!(http_status(ResponseCode::Declined), StatusCode::OK);
    assert_eq!(
        http_status(ResponseCode::BadSignature),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http_status(ResponseCode::UnknownMerchant),
        http_status(ResponseCode::BadSignature),
        "an unknown merchant looks like a bad signature"
    );
    assert_eq!(
        http_status(ResponseCode::DuplicateReference),
        StatusCode::CONFLICT
    );
    assert_eq!(
        http_status(ResponseCode::PspUnavailable),
        StatusCode::SERVICE_UNAVAILABLE
    );
}
