//! Money on the wire: always a commercetools `CentPrecisionMoney`
//! (`{type: "centPrecision", currencyCode, centAmount, fractionDigits}`).

use payledger_domain::Money;
use serde_json::{Value, json};

/// The only money type payments carry.
pub const CENT_PRECISION: &str = "centPrecision";

/// Money as a `CentPrecisionMoney`.
pub fn money_to_json(money: &Money) -> Value {
    json!({
        "type": CENT_PRECISION,
        "currencyCode": money.currency.as_str(),
        "centAmount": money.cent_amount,
        "fractionDigits": money.fraction_digits(),
    })
}
