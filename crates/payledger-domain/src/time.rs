//! Timestamps on the wire: ISO 8601 in UTC with milliseconds and `Z`
//! (`2026-01-01T00:00:00.000Z`), as commercetools writes them.
//!
//! The calendar arithmetic is the proleptic Gregorian days-from-civil
//! conversion (400-year eras of 146 097 days), written here so the edge
//! needs no date library. Parsing accepts what clients send: seconds with
//! or without a fraction (digits past milliseconds are truncated), `Z` or a
//! numeric offset (`+01:00`, `+0100`), which is normalised to UTC. A
//! datetime without any zone is read as UTC. Years outside 0000–9999 are
//! refused on input; on output they use the extended form (`+10000-…`).
//!
//! Pure like the rest of the domain: the API edge, stored catalog records
//! and the command line all format instants through this one module.

use crate::payment::Timestamp;

const MILLIS_PER_DAY: i64 = 86_400_000;
/// Days from 0000-03-01 to 1970-01-01.
const DAYS_0000_03_01_TO_EPOCH: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;

/// Days since 1970-01-01 of a proleptic Gregorian date; `month` is 1–12.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Count from March so the leap day ends the (shifted) year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_0000_03_01_TO_EPOCH
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since
/// 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + DAYS_0000_03_01_TO_EPOCH;
    let era = days.div_euclid(DAYS_PER_ERA);
    let day_of_era = days.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both values are small and non-negative by construction.
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-01-01T00:00:00.000Z`.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    let mut text = Vec::with_capacity(TIMESTAMP_BYTES);
    write_timestamp(&mut text, timestamp);
    String::from_utf8(text).expect("a timestamp is ASCII")
}

/// Length of a timestamp of the years 0000–9999, in bytes.
pub const TIMESTAMP_BYTES: usize = "2026-01-01T00:00:00.000Z".len();

/// Appends [`format_timestamp`]'s text to `out`, digit by digit: payment
/// answers and index rows write several per request, and `format!` costs
/// thirty times as much.
pub fn write_timestamp(out: &mut Vec<u8>, timestamp: Timestamp) {
    let millis = timestamp.millis();
    let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
    let of_day = millis.rem_euclid(MILLIS_PER_DAY);
    let (hour, minute) = (of_day / 3_600_000, of_day / 60_000 % 60);
    let (second, milli) = (of_day / 1000 % 60, of_day % 1000);
    if (0..=9999).contains(&year) {
        let mut text = *b"0000-00-00T00:00:00.000Z";
        digits(&mut text[0..4], year);
        digits(&mut text[5..7], i64::from(month));
        digits(&mut text[8..10], i64::from(day));
        digits(&mut text[11..13], hour);
        digits(&mut text[14..16], minute);
        digits(&mut text[17..19], second);
        digits(&mut text[20..23], milli);
        out.extend_from_slice(&text);
    } else {
        let text =
            format!("{year:+07}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z");
        out.extend_from_slice(text.as_bytes());
    }
}

/// Writes `value` (non-negative, below `10^slot.len()`) zero-padded into
/// `slot`.
fn digits(slot: &mut [u8], mut value: i64) {
    for place in slot.iter_mut().rev() {
        // A digit: 0–9.
        *place = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Parses an ISO 8601 datetime (see the module doc for what is accepted).
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let mut cursor = Cursor(text.as_bytes());
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    cursor.expect_any(b"Tt")?;
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    cursor.expect(b':')?;
    let second = cursor.digits(2)?;
    let milli = cursor.fraction_millis()?;
    let offset_minutes = cursor.offset_minutes()?;
    let valid = cursor.0.is_empty()
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = i64::from(hour * 3600 + minute * 60 + second) - offset_minutes * 60;
    Some(Timestamp(
        days * MILLIS_PER_DAY + seconds * 1000 + i64::from(milli),
    ))
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The unread rest of the text.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.bump()? == byte).then_some(())
    }

    fn expect_any(&mut self, bytes: &[u8]) -> Option<()> {
        bytes.contains(&self.bump()?).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        (0..count).try_fold(0u32, |acc, _| {
            let digit = self.bump().filter(u8::is_ascii_digit)?;
            Some(acc * 10 + u32::from(digit - b'0'))
        })
    }

    /// An optional `.fraction` of 1–9 digits, truncated to milliseconds.
    fn fraction_millis(&mut self) -> Option<u32> {
        if self.peek() != Some(b'.') {
            return Some(0);
        }
        self.bump();
        let mut millis = 0;
        let mut count = 0;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            self.bump();
            if count < 3 {
                millis = millis * 10 + u32::from(digit - b'0');
            }
            count += 1;
        }
        if !(1..=9).contains(&count) {
            return None;
        }
        Some(millis * 10u32.pow(3u32.saturating_sub(count)))
    }

    /// `Z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (UTC), in minutes east.
    fn offset_minutes(&mut self) -> Option<i64> {
        let sign = match self.bump() {
            None => return Some(0),
            Some(b'Z' | b'z') => return Some(0),
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        let hours = self.digits(2)?;
        if self.peek() == Some(b':') {
            self.bump();
        }
        let minutes = if self.0.is_empty() {
            0
        } else {
            self.digits(2)?
        };
        (hours < 24 && minutes < 60).then(|| sign * i64::from(hours * 60 + minutes))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text `format!` gives, which [`write_timestamp`] writes by hand.
    fn formatted(timestamp: Timestamp) -> String {
        let millis = timestamp.millis();
        let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
        let of_day = millis.rem_euclid(MILLIS_PER_DAY);
        let (hour, minute) = (of_day / 3_600_000, of_day / 60_000 % 60);
        let (second, milli) = (of_day / 1000 % 60, of_day % 1000);
        let year = if (0..=9999).contains(&year) {
            format!("{year:04}")
        } else {
            format!("{year:+07}")
        };
        format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
    }

    proptest! {
        #[test]
        fn timestamps_are_written_as_format_writes_them(millis in any::<i64>()) {
            let timestamp = Timestamp(millis);
            prop_assert_eq!(format_timestamp(timestamp), formatted(timestamp));
        }

        #[test]
        fn timestamps_of_the_four_digit_years_too(millis in FIRST_MILLIS - 1000..LAST_MILLIS + 1000) {
            let timestamp = Timestamp(millis);
            prop_assert_eq!(format_timestamp(timestamp), formatted(timestamp));
        }
    }

    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
    const FIRST_MILLIS: i64 = -62_167_219_200_000;
    const LAST_MILLIS: i64 = 253_402_300_799_999;

    fn is_leap(year: i64) -> bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// An independent calendar: walk years, then months, from 1970.
    fn naive_civil_from_days(mut days: i64) -> (i64, u32, u32) {
        let year_length = |y: i64| if is_leap(y) { 366 } else { 365 };
        let mut year = 1970;
        while days < 0 {
            year -= 1;
            days += year_length(year);
        }
        while days >= year_length(year) {
            days -= year_length(year);
            year += 1;
        }
        let month_lengths = [
            31,
            if is_leap(year) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut month = 1;
        for length in month_lengths {
            if days < length {
                break;
            }
            days -= length;
            month += 1;
        }
        (year, month, u32::try_from(days).unwrap() + 1)
    }

    #[test]
    fn known_dates_format_and_parse() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (951_827_696_789, "2000-02-29T12:34:56.789Z"),
            (1_445_331_251_480, "2015-10-20T08:54:11.480Z"),
            (1_767_225_600_000, "2026-01-01T00:00:00.000Z"),
            (-11_670_912_000_000, "1600-03-01T00:00:00.000Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
            (FIRST_MILLIS, "0000-01-01T00:00:00.000Z"),
            (LAST_MILLIS, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(format_timestamp(Timestamp(millis)), text);
            assert_eq!(parse_timestamp(text), Some(Timestamp(millis)), "{text}");
        }
        assert_eq!(
            format_timestamp(Timestamp(LAST_MILLIS + 1)),
            "+010000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(Timestamp(FIRST_MILLIS - 1)),
            "-000001-12-31T23:59:59.999Z"
        );
        assert!(format_timestamp(Timestamp(i64::MIN)).ends_with('Z'));
        assert!(format_timestamp(Timestamp(i64::MAX)).ends_with('Z'));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn accepted_and_refused_datetime_forms() {
        let utc = Some(Timestamp(1_767_225_600_000));
        for text in [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.000Z",
            "2026-01-01T00:00:00.000000000Z",
            "2026-01-01t00:00:00z",
            "2026-01-01T01:00:00+01:00",
            "2026-01-01T01:00:00+0100",
            "2026-01-01T01:00:00+01",
            "2025-12-31T19:00:00-05:00",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.0009Z",
        ] {
            assert_eq!(parse_timestamp(text), utc, "{text}");
        }
        for text in [
            "",
            "2026-01-01",
            "2026-01-01T00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.0000000000Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00Zjunk",
            "2026-1-01T00:00:00Z",
            "+2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?}");
        }
        assert_eq!(
            parse_timestamp("2024-02-29T00:00:00Z").map(format_timestamp),
            Some("2024-02-29T00:00:00.000Z".into())
        );
    }

    proptest! {
        #[test]
        fn timestamps_round_trip_through_text(millis in FIRST_MILLIS..=LAST_MILLIS) {
            let text = format_timestamp(Timestamp(millis));
            prop_assert_eq!(text.len(), 24);
            prop_assert_eq!(parse_timestamp(&text), Some(Timestamp(millis)));
        }

        #[test]
        fn offsets_normalise_to_utc(millis in 0i64..LAST_MILLIS - 86_400_000, offset_minutes in -23 * 60i64..=23 * 60) {
            let local = format_timestamp(Timestamp(millis + offset_minutes * 60_000));
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let (hours, minutes) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
            let text = format!("{}{sign}{hours:02}:{minutes:02}", local.trim_end_matches('Z'));
            prop_assert_eq!(parse_timestamp(&text), Some(Timestamp(millis)), "{}", text);
        }

        #[test]
        fn civil_dates_agree_with_a_naive_calendar(days in -200_000i64..200_000) {
            let civil = civil_from_days(days);
            prop_assert_eq!(civil, naive_civil_from_days(days));
            prop_assert_eq!(days_from_civil(civil.0, civil.1, civil.2), days);
        }

        #[test]
        fn any_instant_formats_without_panicking(millis in any::<i64>()) {
            let text = format_timestamp(Timestamp(millis));
            prop_assert!(text.ends_with('Z'));
        }
    }
}
