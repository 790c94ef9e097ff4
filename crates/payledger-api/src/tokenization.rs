//! The signed tokenization API of seed `004_…` (issue 13): the request
//! envelope, its verification, the request fields, and the routes.
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `POST /tokenization/sale` | RSA signature of the merchant | the seed's response plus `token{id, maskedPan}` |
//! | `POST /tokenization/recurring` | RSA signature of the merchant | the seed's response |
//! | `POST /{pk}/tokenization/sale`, `…/recurring` | the same; `pk` must be the merchant's project | the same |
//!
//! A request is `{"request": "<JSON text>", "signature": "<base64>"}`. The
//! signature is RSA-SHA256 (PKCS#1 v1.5) over the exact bytes of the text.
//! Only `merchantId` is read from the text before the signature is checked
//! (it names the keys); every other field is read afterwards.
//!
//! Every refusal is a [`ResponseCode`] with a message naming the field;
//! none says whether another merchant's token or order exists. The HTTP
//! status of each code is [`http_status`]: the one place codes meet HTTP.

use payledger_app::merchants::Merchant;
pub use payledger_app::tokenization::{
    CallbackUrls, RecurringRequest, Refusal, ResponseCode, SaleRequest,
};
use payledger_domain::{CurrencyCode, Money};
use serde_json::{Map, Value};

/// Longest `userId` and `merchantReference`, in characters (seed: String(64)).
pub const REFERENCE_CHARS_MAX: usize = 64;
/// Longest `reason`, in characters.
pub const REASON_CHARS_MAX: usize = 256;
/// Longest callback URL, in bytes.
pub const CALLBACK_URL_BYTES_MAX: usize = 2048;
/// Most digits of an amount (seed: Number(9,2)).
pub const AMOUNT_DIGITS_MAX: usize = 9;
/// Most decimals of an amount.
pub const AMOUNT_DECIMALS_MAX: usize = 2;
/// Longest request text, in bytes.
pub const REQUEST_TEXT_BYTES_MAX: usize = 16 * 1024;

fn malformed(message: impl Into<String>) -> Refusal {
    Refusal {
        code: ResponseCode::MalformedRequest,
        message: message.into(),
    }
}

/// The envelope of a signed request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedRequest {
    /// The request text, exactly as signed.
    pub text: String,
    pub signature: Vec<u8>,
}

/// Reads the envelope `{"request": "…", "signature": "…"}`.
pub fn parse_envelope(body: &[u8]) -> Result<SignedRequest, Refusal> {
    use base64::Engine;
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("The body is not JSON: {e}.")))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("The body must be an object with request and signature."))?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "request" | "signature"))
    {
        return Err(malformed(format!("Unknown field '{unknown}'.")));
    }
    let text = object
        .get("request")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("request must be the request as a JSON text."))?;
    if text.len() > REQUEST_TEXT_BYTES_MAX {
        return Err(malformed(format!(
            "request is longer than {REQUEST_TEXT_BYTES_MAX} bytes (request_text_bytes_max)."
        )));
    }
    let signature = object
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| {
            malformed("signature must be the base64 RSA-SHA256 signature of request.")
        })?;
    Ok(SignedRequest {
        text: text.to_owned(),
        signature,
    })
}

/// The request text as an object (read twice: for `merchantId` before the
/// signature check, for the rest after).
fn fields(text: &str) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(malformed("request must be a JSON object.")),
    }
}

/// A positive whole number given as a JSON number or a text of digits.
fn number(fields: &Map<String, Value>, name: &str) -> Result<u64, Refusal> {
    let parsed = match fields.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    };
    parsed
        .filter(|n| *n > 0)
        .ok_or_else(|| malformed(format!("{name} must be a positive whole number.")))
}

/// The merchant named by the request text: the one field read before the
/// signature is checked.
pub fn merchant_id(text: &str) -> Result<u64, Refusal> {
    number(&fields(text)?, "merchantId")
}

/// Checks the signature with the merchant's active keys.
pub fn verify(merchant: &Merchant, request: &SignedRequest) -> Result<(), Refusal> {
    if merchant.verifies(request.text.as_bytes(), &request.signature) {
        Ok(())
    } else {
        Err(Refusal {
            code: ResponseCode::BadSignature,
            message: "The signature does not match the request text with any active key of the \
                      merchant."
                .to_owned(),
        })
    }
}

/// A required text of 1 to `max_chars` characters (not only spaces).
fn text(fields: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, Refusal> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max_chars => {
            Ok(s.clone())
        }
        _ => Err(malformed(format!(
            "{name} must be a text of 1 to {max_chars} characters."
        ))),
    }
}

/// Longest `paymentMethod`, in bytes.
pub const PAYMENT_METHOD_BYTES_MAX: usize = 255;
/// Longest `email`, in bytes.
pub const EMAIL_BYTES_MAX: usize = 254;

/// An amount of the seed's Number(9,2): at most [`AMOUNT_DIGITS_MAX`]
/// digits of which [`AMOUNT_DECIMALS_MAX`] are decimals (so 7 before the
/// point), above zero, in hundredths.
fn amount(fields: &Map<String, Value>) -> Result<i64, Refusal> {
    let refused = || {
        malformed(format!(
            "amount must be above 0, a Number({AMOUNT_DIGITS_MAX},{AMOUNT_DECIMALS_MAX}): at \
             most {} digits before the point and {AMOUNT_DECIMALS_MAX} after.",
            AMOUNT_DIGITS_MAX - AMOUNT_DECIMALS_MAX
        ))
    };
    let written = match fields.get("amount") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err(refused()),
    };
    let (units, decimals) = written.split_once('.').unwrap_or((&written, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty()
        || !digits_ok(units)
        || !digits_ok(decimals)
        || decimals.len() > AMOUNT_DECIMALS_MAX
        || units.trim_start_matches('0').len() > AMOUNT_DIGITS_MAX - AMOUNT_DECIMALS_MAX
    {
        return Err(refused());
    }
    let cents = format!("{units}{decimals:0<2}")
        .parse::<i64>()
        .map_err(|_| refused())?;
    if cents <= 0 {
        return Err(refused());
    }
    Ok(cents)
}

fn callback_urls(fields: &Map<String, Value>) -> Result<CallbackUrls, Refusal> {
    let Some(value) = fields.get("callbackUrl").filter(|v| !v.is_null()) else {
        return Ok(CallbackUrls::default());
    };
    let object = value
        .as_object()
        .ok_or_else(|| malformed("callbackUrl must be an object."))?;
    let url = |name: &str| -> Result<Option<String>, Refusal> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(u))
                if (u.starts_with("https://") || u.starts_with("http://"))
                    && u.len() <= CALLBACK_URL_BYTES_MAX
                    && !u.chars().any(char::is_whitespace) =>
            {
                Ok(Some(u.clone()))
            }
            _ => Err(malformed(format!(
                "callbackUrl.{name} must be an http(s) URL of at most {CALLBACK_URL_BYTES_MAX} \
                 bytes."
            ))),
        }
    };
    Ok(CallbackUrls {
        success: url("success")?,
        fail: url("fail")?,
        cancel: url("cancel")?,
        notify: url("notify")?,
    })
}

/// Reads a recurring request text whose signature was checked.
pub fn parse_recurring(text: &str) -> Result<RecurringRequest, Refusal> {
    let fields = self::fields(text)?;
    Ok(RecurringRequest {
        merchant_id: number(&fields, "merchantId")?,
        user_id: self::text(&fields, "userId", REFERENCE_CHARS_MAX)?.to_lowercase(),
        token_id: number(&fields, "tokenId")?,
        reason: self::text(&fields, "reason", REASON_CHARS_MAX)?,
        amount_hundredths: amount(&fields)?,
        merchant_reference: self::text(&fields, "merchantReference", REFERENCE_CHARS_MAX)?,
        parent_order_id: number(&fields, "parentOrderId")?,
        callback_urls: callback_urls(&fields)?,
    })
}

/// Reads a sale text whose signature was checked.
pub fn parse_sale(text: &str) -> Result<SaleRequest, Refusal> {
    let fields = self::fields(text)?;
    let merchant_id = number(&fields, "merchantId")?;
    let user_id = self::text(&fields, "userId", REFERENCE_CHARS_MAX)?.to_lowercase();
    let merchant_reference = self::text(&fields, "merchantReference", REFERENCE_CHARS_MAX)?;
    let hundredths = amount(&fields)?;
    let currency = match fields.get("currency") {
        Some(Value::String(code)) => CurrencyCode::parse(&code.to_ascii_uppercase()).ok(),
        _ => None,
    }
    .ok_or_else(|| malformed("currency must be a 3-letter ISO 4217 currency code."))?;
    let minor =
        payledger_app::tokenization::minor_units(hundredths, &currency).ok_or_else(|| {
            malformed(format!(
                "amount has more decimals than {} allows.",
                currency.as_str()
            ))
        })?;
    let payment_method = match fields.get("paymentMethod") {
        Some(Value::String(id))
            if id.starts_with("pm_")
                && id.len() <= PAYMENT_METHOD_BYTES_MAX
                && id[3..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            id.clone()
        }
        _ => {
            return Err(malformed(format!(
                "paymentMethod must be the PSP's payment method id (pm_…, at most \
                 {PAYMENT_METHOD_BYTES_MAX} bytes)."
            )));
        }
    };
    let email = match fields.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(email))
            if email.len() <= EMAIL_BYTES_MAX
                && payledger_domain::order::validate_customer_email(email).is_ok() =>
        {
            Some(email.clone())
        }
        _ => {
            return Err(malformed(format!(
                "email must be an email address of at most {EMAIL_BYTES_MAX} bytes."
            )));
        }
    };
    Ok(SaleRequest {
        merchant_id,
        user_id,
        merchant_reference,
        amount: Money::new(minor, currency),
        payment_method,
        email,
        callback_urls: callback_urls(&fields)?,
    })
}

/// The HTTP status of each response code.
pub const fn http_status(code: ResponseCode) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match code {
        // The request was taken: the body says how the charge went.
        ResponseCode::Success
        | ResponseCode::Pending
        | ResponseCode::Declined
        | ResponseCode::AuthenticationRequired => StatusCode::OK,
        ResponseCode::MalformedRequest
        | ResponseCode::UnknownToken
        | ResponseCode::ParentOrderMismatch => StatusCode::BAD_REQUEST,
        ResponseCode::BadSignature | ResponseCode::UnknownMerchant => StatusCode::UNAUTHORIZED,
        ResponseCode::DuplicateReference => StatusCode::CONFLICT,
        ResponseCode::PspUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

pub mod routes;

#[cfg(test)]
mod tests;
