//! Text formats of custom field values: JSON numbers, ISO 8601 dates,
//! times and date-times. Hand-written because the domain takes no parsing
//! dependency; each check looks at a bounded, fixed-shape prefix.

/// A JSON number: `-?digits(.digits)?([eE][+-]?digits)?`, no leading zeros.
pub(super) fn is_number(text: &str) -> bool {
    let rest = text.strip_prefix('-').unwrap_or(text);
    let (int, rest) = split_digits(rest);
    let int_ok = int == "0" || (!int.is_empty() && !int.starts_with('0'));
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => match split_digits(fraction) {
            ("", _) => return false,
            (_, after) => after,
        },
        None => rest,
    };
    let rest = match rest.strip_prefix(['e', 'E']) {
        Some(exponent) => match split_digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent))
        {
            ("", _) => return false,
            (_, after) => after,
        },
        None => rest,
    };
    int_ok && rest.is_empty()
}

/// `YYYY-MM-DD` naming a real calendar day.
pub(super) fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) =
        (number(&b[0..4]), number(&b[5..7]), number(&b[8..10]))
    else {
        return false;
    };
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

/// `hh:mm:ss` with an optional fraction of 1 to 9 digits.
pub(super) fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) =
        (number(&b[0..2]), number(&b[3..5]), number(&b[6..8]))
    else {
        return false;
    };
    let fraction_ok = match &b[8..] {
        [] => true,
        [b'.', digits @ ..] => (1..=9).contains(&digits.len()) && number(digits).is_some(),
        _ => false,
    };
    hour < 24 && minute < 60 && second < 60 && fraction_ok
}

/// `YYYY-MM-DDThh:mm:ss[.f]` followed by `Z` or `±hh:mm`.
pub(super) fn is_date_time(text: &str) -> bool {
    let Some((date, time_and_zone)) = text.split_once('T') else {
        return false;
    };
    let (time, zone_ok) = match time_and_zone.strip_suffix('Z') {
        Some(time) => (time, true),
        None => split_offset(time_and_zone),
    };
    is_date(date) && is_time(time) && zone_ok
}

/// Splits `time±hh:mm` into the time and whether the offset is valid.
fn split_offset(text: &str) -> (&str, bool) {
    let Some(at) = text.rfind(['+', '-']) else {
        return (text, false);
    };
    let offset = &text.as_bytes()[at + 1..];
    let ok = offset.len() == 5
        && offset[2] == b':'
        && number(&offset[0..2]).is_some_and(|h| h < 24)
        && number(&offset[3..5]).is_some_and(|m| m < 60);
    (&text[..at], ok)
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// The value of a non-empty run of at most 9 ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    let ok = !digits.is_empty() && digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit);
    ok.then(|| {
        digits
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
