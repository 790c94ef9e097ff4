//! Money read from requests: a `Money` draft `{currencyCode, centAmount}`
//! that may also carry `type` (only `centPrecision`) and `fractionDigits`
//! (only the currency's ISO 4217 digits). Output is
//! `payledger_wire::json::money_to_json`.

use super::read::{Obj, Path, integer};
use crate::ApiError;
use payledger_domain::money::CurrencyRejection;
use payledger_domain::{CurrencyCode, Money};
use payledger_wire::json::CENT_PRECISION;
use serde_json::{Value, json};

/// Reads a money draft at `path`.
pub(crate) fn parse_money(value: &Value, path: Path) -> Result<Money, ApiError> {
    let object = Obj::new(value, path)?;
    let currency_text = object.req_string("currencyCode")?;
    let cent_amount = object.req("centAmount", integer)?;
    let money_type = object.opt_string("type")?;
    let fraction_digits = object.opt("fractionDigits", integer)?;
    let currency = parse_currency(&currency_text, &object.at("currencyCode"))?;
    if let Some(money_type) = money_type
        && money_type != CENT_PRECISION
    {
        return Err(ApiError::invalid_field(
            &object.at("type").dotted(),
            Value::String(money_type),
            "Payments take centPrecision money only.",
        ));
    }
    let expected_digits = currency.fraction_digits();
    if let Some(digits) = fraction_digits
        && digits != i64::from(expected_digits)
    {
        return Err(ApiError::invalid_field(
            &object.at("fractionDigits").dotted(),
            json!(digits),
            format!("The currency {currency} has {expected_digits} fraction digits, not {digits}."),
        ));
    }
    Ok(Money::new(cent_amount, currency))
}

/// Validates a currency code; a malformed or unknown code is an
/// `InvalidField` naming `path`.
fn parse_currency(text: &str, path: &Path) -> Result<CurrencyCode, ApiError> {
    CurrencyCode::parse(text).map_err(|rejection| {
        let why = match rejection {
            CurrencyRejection::Malformed => {
                "a currency code is three upper-case letters, optionally followed by 0"
            }
            CurrencyRejection::Unknown => "it is not an ISO 4217 currency",
        };
        ApiError::invalid_field(
            &path.dotted(),
            Value::String(text.to_owned()),
            format!(
                "The value '{text}' is not valid for field '{}': {why}.",
                path.dotted()
            ),
        )
    })
}
