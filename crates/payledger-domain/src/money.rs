//! Money as integer minor units with an ISO 4217 currency.
//!
//! Amounts are never floats (architecture invariant 10). The fraction digits
//! of a currency follow ISO 4217; the `…0` variants that commercetools
//! accepts (for example `EUR0`) have zero fraction digits.

use std::fmt;

/// A validated currency code: three upper-case ASCII letters, optionally
/// followed by `0`.
///
/// Kept inline with its fraction digits, worked out once when the code is
/// read: every payment holds one per amount, and a transaction's clone or
/// rendering should not allocate or search the ISO tables for it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CurrencyCode {
    /// The code's ASCII letters; a three-letter code ends in a zero byte,
    /// which orders `EUR` before `EUR0` as their text does.
    bytes: [u8; 4],
    /// Minor-unit digits per ISO 4217, a function of `bytes`.
    fraction_digits: u8,
}

/// Why a currency code was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CurrencyRejection {
    /// Not of the form `^[A-Z]{3}0?$`.
    Malformed,
    /// Well formed, but not an ISO 4217 currency we know.
    Unknown,
}

/// ISO 4217 currencies with zero fraction digits.
const ZERO_DIGITS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];

/// ISO 4217 currencies with three fraction digits.
const THREE_DIGITS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// Every other ISO 4217 currency in circulation (two fraction digits).
const TWO_DIGITS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWL",
];

impl CurrencyCode {
    /// Validates a currency code against the pattern and the ISO 4217 list.
    pub fn parse(text: &str) -> Result<Self, CurrencyRejection> {
        let bytes = text.as_bytes();
        let well_formed = matches!(bytes.len(), 3 | 4)
            && bytes[..3].iter().all(u8::is_ascii_uppercase)
            && (bytes.len() == 3 || bytes[3] == b'0');
        if !well_formed {
            return Err(CurrencyRejection::Malformed);
        }
        let base = &text[..3];
        let known = ZERO_DIGITS.contains(&base)
            || THREE_DIGITS.contains(&base)
            || TWO_DIGITS.contains(&base);
        if known {
            Ok(Self::well_formed(bytes))
        } else {
            Err(CurrencyRejection::Unknown)
        }
    }

    /// The code of bytes already checked against `^[A-Z]{3}0?$`.
    fn well_formed(text: &[u8]) -> Self {
        let mut bytes = [0; 4];
        bytes[..text.len()].copy_from_slice(text);
        let base = std::str::from_utf8(&text[..3]).expect("checked ASCII");
        let fraction_digits = if text.len() == 4 || ZERO_DIGITS.contains(&base) {
            0
        } else if THREE_DIGITS.contains(&base) {
            3
        } else {
            2
        };
        Self {
            bytes,
            fraction_digits,
        }
    }

    /// Accepts a code read back from storage: only the pattern is checked,
    /// not today's ISO 4217 list, so an event recorded in a currency that is
    /// later retired still decodes. A code no longer listed keeps two
    /// fraction digits.
    pub fn from_stored(text: &str) -> Result<Self, CurrencyRejection> {
        match Self::parse(text) {
            Ok(code) => Ok(code),
            Err(CurrencyRejection::Unknown) => Ok(Self::well_formed(text.as_bytes())),
            Err(CurrencyRejection::Malformed) => Err(CurrencyRejection::Malformed),
        }
    }

    /// The code as text, for example `EUR`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("a currency code is ASCII")
    }

    /// The code's ASCII bytes, for writers that need no `str`.
    pub fn as_bytes(&self) -> &[u8] {
        let len = if self.bytes[3] == 0 { 3 } else { 4 };
        &self.bytes[..len]
    }

    /// Minor-unit digits of this currency per ISO 4217.
    pub fn fraction_digits(&self) -> u8 {
        self.fraction_digits
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CurrencyCode").field(&self.as_str()).finish()
    }
}

/// An amount in minor units ("cents") of a currency.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    /// Amount in minor units of `currency`.
    pub cent_amount: i64,
    /// The currency; it fixes the fraction digits.
    pub currency: CurrencyCode,
}

impl Money {
    /// Creates money from minor units.
    pub fn new(cent_amount: i64, currency: CurrencyCode) -> Self {
        Self {
            cent_amount,
            currency,
        }
    }

    /// The fraction digits of the currency.
    pub fn fraction_digits(&self) -> u8 {
        self.currency.fraction_digits()
    }

    /// The amount as a decimal with the currency's fraction digits:
    /// `12.30` for 1230 EUR cents, `-0.05`, `100` for 100 JPY.
    pub fn to_decimal(&self) -> String {
        let digits = u32::from(self.fraction_digits());
        let sign = if self.cent_amount < 0 { "-" } else { "" };
        let units = self.cent_amount.unsigned_abs();
        if digits == 0 {
            return format!("{sign}{units}");
        }
        let scale = 10_u64.pow(digits);
        let width = digits as usize;
        format!("{sign}{}.{:0width$}", units / scale, units % scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(code: &str) -> u8 {
        CurrencyCode::parse(code).unwrap().fraction_digits()
    }

    fn money(cents: i64, code: &str) -> Money {
        Money::new(cents, CurrencyCode::parse(code).unwrap())
    }

    #[test]
    fn decimals_follow_the_currency_fraction_digits() {
        assert_eq!(money(1230, "EUR").to_decimal(), "12.30");
        assert_eq!(money(5, "EUR").to_decimal(), "0.05");
        assert_eq!(money(-5, "EUR").to_decimal(), "-0.05");
        assert_eq!(money(100, "JPY").to_decimal(), "100");
        assert_eq!(money(1_234, "KWD").to_decimal(), "1.234");
        assert_eq!(money(i64::MIN, "EUR").to_decimal(), "-92233720368547758.08");
    }

    #[test]
    fn fraction_digits_follow_iso_4217() {
        assert_eq!(digits("EUR"), 2);
        assert_eq!(digits("USD"), 2);
        assert_eq!(digits("JPY"), 0);
        assert_eq!(digits("KRW"), 0);
        assert_eq!(digits("CLP"), 0);
        assert_eq!(digits("ISK"), 0);
        assert_eq!(digits("XOF"), 0);
        assert_eq!(digits("BHD"), 3);
        assert_eq!(digits("KWD"), 3);
        assert_eq!(digits("TND"), 3);
        assert_eq!(digits("EUR0"), 0);
    }

    #[test]
    fn codes_read_back_and_order_as_their_text() {
        let texts = ["EUR", "EUR0", "USD", "JPY0", "JPY", "BHD", "AED"];
        for a in texts {
            let code = CurrencyCode::parse(a).unwrap();
            assert_eq!(code.as_str(), a);
            assert_eq!(code.to_string(), a);
            assert_eq!(format!("{code:?}"), format!("CurrencyCode({a:?})"));
            for b in texts {
                let other = CurrencyCode::parse(b).unwrap();
                assert_eq!(code.cmp(&other), a.cmp(b), "{a} against {b}");
                assert_eq!(code == other, a == b);
            }
        }
    }

    #[test]
    fn stored_codes_outlive_the_iso_list() {
        let retired = CurrencyCode::from_stored("XYZ").unwrap();
        assert_eq!(retired.as_str(), "XYZ");
        assert_eq!(retired.fraction_digits(), 2);
        assert_eq!(
            CurrencyCode::from_stored("JPY").unwrap().fraction_digits(),
            0
        );
        assert_eq!(
            CurrencyCode::from_stored("x"),
            Err(CurrencyRejection::Malformed)
        );
    }

    #[test]
    fn malformed_and_unknown_codes_are_told_apart() {
        assert_eq!(
            CurrencyCode::parse("eur"),
            Err(CurrencyRejection::Malformed)
        );
        assert_eq!(
            CurrencyCode::parse("EURO"),
            Err(CurrencyRejection::Malformed)
        );
        assert_eq!(CurrencyCode::parse("EU"), Err(CurrencyRejection::Malformed));
        assert_eq!(
            CurrencyCode::parse("EUR1"),
            Err(CurrencyRejection::Malformed)
        );
        assert_eq!(CurrencyCode::parse("ABC"), Err(CurrencyRejection::Unknown));
    }
}
