//! The JSON answer of a tokenization request (seed 004's response), the
//! same bytes for the first answer, every replay and the notify callback.
//!
//! `order{id, merchantId, merchantReference, currency, amount, netAmount,
//! cardType, email, createTime, updateTime, status, recurring}` and
//! `transaction{id, merchantId, type, amount, currency, status, maskedPan,
//! stan}`; a sale adds `token{id, maskedPan}` once it succeeded. Amounts
//! are JSON numbers in the currency's major unit (`30`, `30.5`); times
//! are ISO 8601 with milliseconds and `+00:00`. A masked PAN shows the last
//! four digits only (the PSP tells payledger no more).

use super::records::{OrderStatus, Outcome, RequestKind, RequestRecord};
use payledger_domain::time::format_timestamp;
use payledger_domain::{CurrencyCode, Money, Timestamp};
use serde_json::{Map, Value, json};

/// The answer's JSON.
pub fn render(record: &RequestRecord, outcome: &Outcome) -> Value {
    let amount = amount_json(record);
    let masked_pan = outcome.last4.as_deref().map(masked_pan);
    let mut order = Map::new();
    order.insert("id".into(), json!(record.order_number));
    order.insert("merchantId".into(), json!(record.merchant_id));
    order.insert("merchantReference".into(), json!(record.merchant_reference));
    order.insert("currency".into(), json!(record.currency));
    order.insert("amount".into(), amount.clone());
    order.insert("netAmount".into(), amount.clone());
    if let Some(card_type) = &outcome.card_type {
        order.insert("cardType".into(), json!(card_type));
    }
    if let Some(email) = &record.email {
        order.insert("email".into(), json!(email));
    }
    order.insert(
        "createTime".into(),
        json!(time(Timestamp(record.created_at_ms))),
    );
    order.insert(
        "updateTime".into(),
        json!(time(Timestamp(outcome.settled_at_ms))),
    );
    order.insert("status".into(), json!(outcome.status.as_str()));
    order.insert(
        "recurring".into(),
        json!(record.kind == RequestKind::Recurring),
    );
    let mut transaction = Map::new();
    transaction.insert("id".into(), json!(record.transaction_number));
    transaction.insert("merchantId".into(), json!(record.merchant_id));
    transaction.insert("type".into(), json!("SALE"));
    transaction.insert("amount".into(), amount);
    transaction.insert("currency".into(), json!(record.currency));
    transaction.insert("status".into(), json!(outcome.status.as_str()));
    if let Some(masked) = &masked_pan {
        transaction.insert("maskedPan".into(), json!(masked));
    }
    transaction.insert("stan".into(), json!(record.stan.to_string()));
    let mut out = Map::new();
    out.insert("responseCode".into(), json!(outcome.code));
    out.insert("message".into(), json!(outcome.message));
    if let Some(decline_code) = &outcome.decline_code {
        out.insert("declineCode".into(), json!(decline_code));
    }
    out.insert("order".into(), Value::Object(order));
    out.insert("transaction".into(), Value::Object(transaction));
    if record.kind == RequestKind::Sale && outcome.status == OrderStatus::Success {
        let mut token = Map::new();
        token.insert("id".into(), json!(record.token));
        if let Some(masked) = masked_pan {
            token.insert("maskedPan".into(), json!(masked));
        }
        out.insert("token".into(), Value::Object(token));
    }
    Value::Object(out)
}

/// The answer of a refused request: code and message only.
pub fn render_refusal(code: &str, message: &str) -> Value {
    json!({"responseCode": code, "message": message})
}

/// `XXXXXXXXXXXX4242`: the last four digits of a 16-digit card.
pub fn masked_pan(last4: &str) -> String {
    format!("XXXXXXXXXXXX{last4}")
}

/// The amount as a JSON number in the major unit.
fn amount_json(record: &RequestRecord) -> Value {
    let decimal = CurrencyCode::from_stored(&record.currency).map_or_else(
        |_| record.amount.to_string(),
        |currency| Money::new(record.amount, currency).to_decimal(),
    );
    // "30.00" → 30, "30.50" → 30.5: a number with no needless zeros.
    let trimmed = if decimal.contains('.') {
        decimal.trim_end_matches('0').trim_end_matches('.')
    } else {
        &decimal
    };
    serde_json::from_str::<serde_json::Number>(trimmed).map_or(Value::Null, Value::Number)
}

/// `2022-07-05T03:30:03.709+00:00`
fn time(at: Timestamp) -> String {
    let text = format_timestamp(at);
    text.strip_suffix('Z')
        .map_or(text.clone(), |t| format!("{t}+00:00"))
}
