//! Response timestamps (`created_at`, `updated_at`, ...) written as RFC 3339 in one
//! piece: `#[serde(serialize_with = "crate::timestamp::serialize")]`.
//!
//! chrono's own `Serialize` formats through `core::fmt` one character at a time, and
//! serde_json escapes each of those characters as it goes: with three timestamps per
//! video it was the largest single cost of a video list page (about 9% of the server's
//! time). The text is exactly chrono's (UTC with `Z`, and the fraction of a second in 3,
//! 6 or 9 digits, or none, whichever is the shortest exact one); a year outside
//! 0000-9999 or a leap second is left to chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// The longest text written here: `9999-12-31T23:59:59.999999999Z`.
const LONGEST: usize = 30;

/// Writes `value`'s `width` last decimal digits at the start of `out`.
fn digits(out: &mut [u8], mut value: u32, width: usize) {
    for slot in out[..width].iter_mut().rev() {
        // A decimal digit: always below 10.
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// `at` as RFC 3339 text, or `None` where chrono's own formatting is needed.
fn format(at: &DateTime<Utc>, out: &mut [u8; LONGEST]) -> Option<usize> {
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    digits(&mut out[0..], year, 4);
    out[4] = b'-';
    digits(&mut out[5..], at.month(), 2);
    out[7] = b'-';
    digits(&mut out[8..], at.day(), 2);
    out[10] = b'T';
    digits(&mut out[11..], at.hour(), 2);
    out[13] = b':';
    digits(&mut out[14..], at.minute(), 2);
    out[16] = b':';
    digits(&mut out[17..], at.second(), 2);
    let mut end = 19;
    let fraction = if nanos == 0 {
        None
    } else if nanos.is_multiple_of(1_000_000) {
        Some((nanos / 1_000_000, 3))
    } else if nanos.is_multiple_of(1_000) {
        Some((nanos / 1_000, 6))
    } else {
        Some((nanos, 9))
    };
    if let Some((value, width)) = fraction {
        out[end] = b'.';
        digits(&mut out[end + 1..], value, width);
        end += 1 + width;
    }
    out[end] = b'Z';
    Some(end + 1)
}

/// Serializes a timestamp as chrono does, faster.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = [0u8; LONGEST];
    match format(at, &mut out).and_then(|len| std::str::from_utf8(&out[..len]).ok()) {
        Some(text) => serializer.serialize_str(text),
        None => at.serialize(serializer),
    }
}

/// [`serialize`] for an optional timestamp.
pub mod option {
    use super::*;

    /// `null`, or the timestamp as [`super::serialize`] writes it.
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    #[derive(Serialize)]
    struct Optional(#[serde(serialize_with = "option::serialize")] Option<DateTime<Utc>>);

    fn same_as_chrono(at: DateTime<Utc>) {
        assert_eq!(
            serde_json::to_string(&Fast(at)).expect("json"),
            serde_json::to_string(&at).expect("json"),
            "{at:?}"
        );
    }

    fn at(year: i32, month: u32, day: u32, hms: (u32, u32, u32), nanos: u32) -> DateTime<Utc> {
        let naive = NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| date.and_hms_nano_opt(hms.0, hms.1, hms.2, nanos))
            .expect("a valid date");
        Utc.from_utc_datetime(&naive)
    }

    #[test]
    fn every_kind_of_fraction_is_written_as_chrono_writes_it() {
        for nanos in [
            0,
            1,
            7,
            999_999_999,
            1_000,
            120_000,
            999_999_000,
            1_000_000,
            500_000_000,
            999_000_000,
            123_456_789,
            100_000_001,
            10_010_000,
        ] {
            same_as_chrono(at(2026, 12, 3, (6, 35, 29), nanos));
        }
    }

    #[test]
    fn dates_across_the_range_are_written_as_chrono_writes_them() {
        // A deterministic walk over ten thousand years of seconds and sub-seconds.
        let mut seconds: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
        let mut nanos: u32 = 0;
        for _ in 0..20_000 {
            let at = Utc
                .timestamp_opt(seconds, nanos % 1_000_000_000)
                .single()
                .expect("in range");
            same_as_chrono(at);
            seconds += 15_778_463;
            nanos = nanos.wrapping_mul(1_103_515_245).wrapping_add(12_345) % 1_000_000_000;
            if nanos.is_multiple_of(3) {
                nanos -= nanos % 1_000;
            }
        }
        same_as_chrono(at(0, 1, 1, (0, 0, 0), 0));
        same_as_chrono(at(9999, 12, 31, (23, 59, 59), 999_999_999));
    }

    #[test]
    fn years_outside_four_digits_and_leap_seconds_are_left_to_chrono() {
        same_as_chrono(at(10_000, 1, 1, (0, 0, 0), 0));
        same_as_chrono(at(-1, 6, 15, (12, 0, 0), 5_000));
        same_as_chrono(at(2016, 12, 31, (23, 59, 59), 1_500_000_000));
        let mut out = [0u8; LONGEST];
        assert_eq!(format(&at(10_000, 1, 1, (0, 0, 0), 0), &mut out), None);
    }

    #[test]
    fn an_optional_timestamp_is_null_or_the_same_text() {
        let moment = at(2026, 1, 2, (3, 4, 5), 6_000);
        assert_eq!(
            serde_json::to_string(&Optional(Some(moment))).expect("json"),
            serde_json::to_string(&moment).expect("json")
        );
        assert_eq!(
            serde_json::to_string(&Optional(None)).expect("json"),
            "null"
        );
    }
}
