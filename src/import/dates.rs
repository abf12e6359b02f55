//! The date and time formats of CRM exports, read into UTC instants.
//!
//! HubSpot exports `2024-03-12 09:14`, Salesforce `3/15/2024 2:30 PM`, APIs
//! ISO 8601 timestamps or epoch milliseconds, and a hand-edited sheet any
//! of them. A time without a zone is in the import's offset (UTC unless
//! `--timezone` says otherwise); a date alone is midnight there. Slashed
//! dates are US order, month first, as both systems write them.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::domain::validate;

/// Formats with a time and no zone.
const DATE_TIMES: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Formats with a date only.
const DATES: &[&str] = &["%Y-%m-%d", "%m/%d/%Y"];

/// Reads one cell as an instant in the years 1900 to 9999 (UTC), as every
/// date the API takes; `offset` is the zone of times that name none. `Err`
/// says which formats are read, or that the date is out of range.
pub fn parse(value: &str, offset: FixedOffset) -> Result<DateTime<Utc>, String> {
    let at = read(value, offset)?;
    if validate::instant_in_range(at) {
        Ok(at)
    } else {
        Err(format!(
            "{value:?} is outside {} (UTC)",
            validate::DATE_RANGE
        ))
    }
}

/// [`parse`] without the range check.
fn read(value: &str, offset: FixedOffset) -> Result<DateTime<Utc>, String> {
    let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let bad = || {
        format!(
            "{value:?} is not a date the import reads (2024-03-12, 2024-03-12 09:14, \
             3/15/2024 2:30 PM, 03/15/2024 14:30, an ISO 8601 timestamp or epoch milliseconds)"
        )
    };
    if v.is_empty() {
        return Err(bad());
    }
    if v.chars().all(|c| c.is_ascii_digit()) {
        // Epoch milliseconds have 12 to 14 digits from 1973 to 5138; fewer
        // digits are more likely a mistyped date than seconds since 1970.
        if !(12..=14).contains(&v.len()) {
            return Err(bad());
        }
        let ms: i64 = v.parse().map_err(|_| bad())?;
        return Utc.timestamp_millis_opt(ms).single().ok_or_else(bad);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(&v) {
        return Ok(at.with_timezone(&Utc));
    }
    let upper = v.to_uppercase();
    let naive = DATE_TIMES
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&upper, f).ok())
        .or_else(|| {
            DATES
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(&upper, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(bad)?;
    // `%Y` reads `3/15/24` as the year 24: two-digit years are refused
    // (other years before 1900 by the range check).
    if naive.year() < 100 {
        return Err(bad());
    }
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(bad)
}

/// Reads a fixed offset: `+01:00`, `-0530`, `+02`, `Z` or `UTC`.
pub fn parse_offset(value: &str) -> Result<FixedOffset, String> {
    let v = value.trim();
    let bad = || format!("{value:?} is not an offset such as +01:00, -05:30 or UTC");
    if v.eq_ignore_ascii_case("z") || v.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match v.as_bytes().first() {
        Some(b'+') => (1, &v[1..]),
        Some(b'-') => (-1, &v[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 1 | 2 | 4) {
        return Err(bad());
    }
    let (hours, minutes) = if digits.len() == 4 {
        digits.split_at(2)
    } else {
        (digits.as_str(), "0")
    };
    let hours: i32 = hours.parse().map_err(|_| bad())?;
    let minutes: i32 = minutes.parse().map_err(|_| bad())?;
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn every_documented_format_reads() {
        let cases = [
            ("2024-03-12", at(2024, 3, 12, 0, 0, 0)),
            ("2024-03-12 09:14", at(2024, 3, 12, 9, 14, 0)),
            ("2024-03-12 09:14:07", at(2024, 3, 12, 9, 14, 7)),
            ("2024-03-12T09:14:00Z", at(2024, 3, 12, 9, 14, 0)),
            ("2024-03-12T09:14:00.000+01:00", at(2024, 3, 12, 8, 14, 0)),
            ("2024-03-12T09:14:00", at(2024, 3, 12, 9, 14, 0)),
            ("3/15/2024 2:30 PM", at(2024, 3, 15, 14, 30, 0)),
            ("3/15/2024 12:05 am", at(2024, 3, 15, 0, 5, 0)),
            ("03/15/2024 14:30", at(2024, 3, 15, 14, 30, 0)),
            ("3/15/2024", at(2024, 3, 15, 0, 0, 0)),
            ("  3/15/2024   2:30  PM ", at(2024, 3, 15, 14, 30, 0)),
            ("1710234840000", at(2024, 3, 12, 9, 14, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, utc()), Ok(want), "{text}");
        }
    }

    #[test]
    fn times_without_a_zone_are_in_the_given_offset() {
        let plus_one = parse_offset("+01:00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parse("2024-03-12 09:14", plus_one),
            Ok(at(2024, 3, 12, 8, 14, 0))
        );
        assert_eq!(parse("3/15/2024", plus_one), Ok(at(2024, 3, 14, 23, 0, 0)));
        // A zone in the value wins.
        assert_eq!(
            parse("2024-03-12T09:14:00Z", plus_one),
            Ok(at(2024, 3, 12, 9, 14, 0))
        );
    }

    #[test]
    fn what_is_not_a_date_is_refused() {
        for text in [
            "",
            "soon",
            "15/3/2024",
            "2024-02-30",
            "2024-13-01 10:00",
            "3/15/24",
            "20240312",
            "13:00",
        ] {
            assert!(parse(text, utc()).is_err(), "{text:?} read as a date");
        }
    }

    #[test]
    fn dates_outside_the_years_1900_to_9999_are_refused_by_name() {
        for text in [
            "+262142-12-31",
            "10000-01-01",
            "+10000-01-01T00:00:00Z",
            "1899-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(parse(text, utc()).is_err(), "{text:?} read as a date");
        }
        // In range locally, out of range in UTC.
        let minus_five = parse_offset("-05:00").unwrap_or_else(|e| panic!("{e}"));
        let late = parse("9999-12-31 22:00", minus_five);
        assert!(
            late.as_ref().is_err_and(|m| m.contains("1900 to 9999")),
            "{late:?}"
        );
        assert_eq!(parse("9999-12-31", utc()), Ok(at(9999, 12, 31, 0, 0, 0)));
        assert_eq!(parse("1900-01-01", utc()), Ok(at(1900, 1, 1, 0, 0, 0)));
    }

    #[test]
    fn offsets_read_in_the_usual_spellings() {
        let secs = |s: &str| parse_offset(s).map(|o| o.local_minus_utc());
        assert_eq!(secs("+01:00"), Ok(3600));
        assert_eq!(secs("-0530"), Ok(-19_800));
        assert_eq!(secs("+2"), Ok(7200));
        assert_eq!(secs("UTC"), Ok(0));
        assert_eq!(secs("z"), Ok(0));
        assert!(parse_offset("01:00").is_err());
        assert!(parse_offset("+25:00").is_err());
        assert!(parse_offset("CET").is_err());
    }
}
