//! Input validation shared by every write: each check appends a
//! [`FieldError`] naming the field, so one response lists every problem.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use crate::error::{AppError, AppResult, FieldError, UserErrorCode};

/// Collects the validation failures of one input.
#[derive(Default, Debug)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure on `input.<field>`.
    pub fn add(&mut self, field: &str, code: UserErrorCode, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// A field required to create a record: a given value goes through
    /// `check`; none is a failure when `creating`.
    pub fn required<T, U>(
        &mut self,
        field: &str,
        value: Option<T>,
        creating: bool,
        check: impl FnOnce(&mut Self, T) -> U,
    ) -> Option<U> {
        match value {
            Some(v) => Some(check(self, v)),
            None => {
                if creating {
                    self.add(
                        field,
                        UserErrorCode::Required,
                        format!("`{field}` is required"),
                    );
                }
                None
            }
        }
    }

    /// `Ok` when nothing failed, else every failure as `AppError::Invalid`.
    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }

    /// The failures collected so far.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Trims a required text; blank or over `max` characters is a failure.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(
                field,
                UserErrorCode::Required,
                format!("`{field}` must not be blank"),
            );
        } else if v.chars().count() > max {
            self.add(
                field,
                UserErrorCode::TooLong,
                format!("`{field}` is longer than {max} characters"),
            );
        }
        v.to_owned()
    }

    /// Trims an optional text; blank becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            self.add(
                field,
                UserErrorCode::TooLong,
                format!("`{field}` is longer than {max} characters"),
            );
        }
        Some(v.to_owned())
    }

    /// Normalises an email address (trimmed, lower case) and checks its shape.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let v = value.trim().to_lowercase();
        if !is_email(&v) {
            self.add(
                field,
                UserErrorCode::Invalid,
                format!("`{field}` is not an email address"),
            );
        }
        v
    }

    /// Normalises a web domain: lower case, without scheme, `www.`, path or port.
    pub fn domain(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        let v = v.to_lowercase();
        let v = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"))
            .unwrap_or(&v);
        let v = v.split(['/', ':', '?', '#']).next().unwrap_or_default();
        let v = v.strip_prefix("www.").unwrap_or(v).to_owned();
        let valid = v.len() <= 253
            && v.contains('.')
            && v.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            self.add(
                field,
                UserErrorCode::Invalid,
                format!("`{field}` is not a domain name"),
            );
        }
        Some(v)
    }

    /// An active ISO 4217 code, upper-cased.
    pub fn currency(&mut self, field: &str, value: &str) -> String {
        let v = value.trim().to_uppercase();
        if let Err(message) = currency(field, &v) {
            self.add(field, UserErrorCode::Invalid, message);
        }
        v
    }

    /// An ISO 3166-1 alpha-2 country code, upper-cased.
    pub fn country(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let v = value
            .map(str::trim)
            .filter(|v| !v.is_empty())?
            .to_uppercase();
        if v.len() != 2 || !v.chars().all(|c| c.is_ascii_uppercase()) {
            self.add(
                field,
                UserErrorCode::Invalid,
                format!("`{field}` must be an ISO 3166-1 alpha-2 code such as DE"),
            );
        }
        Some(v)
    }

    /// A non-negative amount of money with at most two decimals.
    pub fn amount(&mut self, field: &str, value: Decimal) -> Decimal {
        if value.is_sign_negative() && !value.is_zero() {
            self.add(
                field,
                UserErrorCode::OutOfRange,
                format!("`{field}` must not be negative"),
            );
        } else if value.normalize().scale() > 2 {
            self.add(
                field,
                UserErrorCode::Invalid,
                format!("`{field}` has more than 2 decimals"),
            );
        } else if value >= Decimal::from(10_000_000_000_000_000i64) {
            self.add(
                field,
                UserErrorCode::OutOfRange,
                format!("`{field}` is too large"),
            );
        }
        value
    }

    /// An integer in `min..=max`.
    pub fn range(&mut self, field: &str, value: i32, min: i32, max: i32) -> i32 {
        if !(min..=max).contains(&value) {
            self.add(
                field,
                UserErrorCode::OutOfRange,
                format!("`{field}` must be between {min} and {max}"),
            );
        }
        value
    }
}

/// The first year of every date and timestamp input.
pub const FIRST_YEAR: i32 = 1900;
/// The last year of every date and timestamp input. Beyond it SQLite,
/// which compares timestamps as text, writes the year with a sign that
/// sorts before every digit, and `day + 1` starts to overflow.
pub const LAST_YEAR: i32 = 9999;

/// The range rule of dates and timestamps, for messages.
pub const DATE_RANGE: &str = "the years 1900 to 9999";

/// Whether `day` lies in the years [`FIRST_YEAR`] to [`LAST_YEAR`].
pub fn date_in_range(day: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&day.year())
}

/// Whether `at` lies in the years [`FIRST_YEAR`] to [`LAST_YEAR`] (UTC).
pub fn instant_in_range(at: DateTime<Utc>) -> bool {
    date_in_range(at.date_naive())
}

/// Reads a `YYYY-MM-DD` day in range; `Err` says what is accepted.
pub fn parse_date(value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|day| date_in_range(*day))
        .ok_or_else(|| format!("{value:?} is not a day YYYY-MM-DD in {DATE_RANGE}"))
}

/// Reads an RFC 3339 instant in range (in UTC); `Err` says what is
/// accepted.
pub fn parse_instant(value: &str) -> Result<DateTime<Utc>, String> {
    value
        .parse::<DateTime<Utc>>()
        .ok()
        .filter(|at| instant_in_range(*at))
        .ok_or_else(|| {
            format!("{value:?} is not an RFC 3339 time such as 2026-03-01T09:30:00Z in {DATE_RANGE} (UTC)")
        })
}

/// The last instant in range: 9999-12-31T23:59:59.999999Z.
pub fn last_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Midnight UTC at the start of `day`, as a query bound: for the day after
/// 9999-12-31 (the exclusive end of a period that runs to the last day in
/// range) it is [`last_instant`], which both engines compare correctly.
/// Nothing stored is later: every input is in range.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc().min(last_instant())
}

/// Checks an (upper-cased) currency code against the active ISO 4217 codes;
/// `Err` is the message naming `field`.
pub fn currency(field: &str, code: &str) -> Result<(), String> {
    if crate::domain::currency::is_active(code) {
        Ok(())
    } else {
        Err(format!(
            "`{field}` must be an active ISO 4217 currency code such as USD, EUR or JPY; {code:?} is not one"
        ))
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain,
/// no spaces.
pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && v.len() <= 320
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let mut e = Errors::new();
        assert_eq!(e.email("email", "  Ada@Example.COM "), "ada@example.com");
        assert!(e.finish().is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            let mut e = Errors::new();
            e.email("email", bad);
            assert!(e.finish().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn domains_lose_scheme_www_and_path() {
        let mut e = Errors::new();
        assert_eq!(
            e.domain("domain", Some("https://www.Acme.io/pricing")),
            Some("acme.io".into())
        );
        assert_eq!(e.domain("domain", Some("  ")), None);
        assert!(e.finish().is_ok());
        let mut e = Errors::new();
        e.domain("domain", Some("not a domain"));
        assert!(e.finish().is_err());
    }

    #[test]
    fn money_is_non_negative_with_two_decimals() {
        let mut e = Errors::new();
        e.amount("amount", Decimal::new(1250050, 2));
        e.amount("amount", Decimal::new(1000, 1));
        assert!(e.finish().is_ok());
        let mut e = Errors::new();
        e.amount("amount", Decimal::new(-1, 0));
        e.amount("amount", Decimal::new(1001, 3));
        let Err(AppError::Invalid(errors)) = e.finish() else {
            panic!("expected two failures");
        };
        assert_eq!(errors.len(), 2);
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn dates_are_read_in_the_years_1900_to_9999_only() {
        assert_eq!(parse_date("1900-01-01"), Ok(day("1900-01-01")));
        assert_eq!(parse_date("9999-12-31"), Ok(day("9999-12-31")));
        for bad in [
            "1899-12-31",
            "10000-01-01",
            "+10000-01-01",
            "+262142-12-31",
            "-000001-01-01",
            "0001-01-01",
            "2026-02-30",
            "2026-3-1x",
            "",
        ] {
            match parse_date(bad) {
                Err(message) => assert!(message.contains("1900 to 9999"), "{message}"),
                Ok(day) => panic!("{bad:?} read as {day}"),
            }
        }
    }

    #[test]
    fn instants_are_read_in_the_years_1900_to_9999_utc_only() {
        let at = |s: &str| {
            s.parse::<DateTime<Utc>>()
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        assert_eq!(
            parse_instant("1900-01-01T00:00:00Z"),
            Ok(at("1900-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_instant("9999-12-31T23:59:59Z"),
            Ok(at("9999-12-31T23:59:59Z"))
        );
        // 01:00 on 1 January 1900 in +02:00 is still 1899 in UTC.
        for bad in [
            "1899-12-31T23:59:59Z",
            "1900-01-01T01:00:00+02:00",
            "9999-12-31T23:00:00-05:00",
            "+10000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "yesterday",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_period_end_past_9999_is_bound_at_the_last_instant() {
        let ten_thousand = day("9999-12-31").succ_opt().unwrap_or(NaiveDate::MAX);
        assert_eq!(day_start(ten_thousand), last_instant());
        assert_eq!(
            last_instant().to_rfc3339(),
            "9999-12-31T23:59:59.999999+00:00"
        );
        assert_eq!(
            day_start(day("2026-03-01")).to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
    }

    #[test]
    fn every_failure_is_reported_with_its_field() {
        let mut e = Errors::new();
        e.required_text("name", " ", 10);
        e.currency("currency", "usdollar");
        e.country("country", Some("Germany"));
        let Err(AppError::Invalid(errors)) = e.finish() else {
            panic!("expected failures");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field[1].as_str()).collect();
        assert_eq!(fields, ["name", "currency", "country"]);
    }
}
