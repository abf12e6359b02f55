//! The period every KPI, funnel and analytics query is asked for: whole
//! UTC days, both ends included. Statements compare timestamps with
//! [`Period::starts_at`] (inclusive) and [`Period::ends_at`] (exclusive),
//! and day columns (spend's `spent_on`) with `from` and `to`.

use chrono::{DateTime, NaiveDate, Utc};

use super::validate;
use crate::error::AppError;

/// Why a period or granularity was refused; the message names the argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodError {
    /// The argument at fault (`from`, `to`, `granularity`).
    pub argument: &'static str,
    /// What is wrong.
    pub message: String,
}

impl From<PeriodError> for AppError {
    /// BAD_USER_INPUT with the message, which names the argument.
    fn from(e: PeriodError) -> Self {
        AppError::BadUserInput(e.message)
    }
}

/// An inclusive range of whole UTC days, `from` on or before `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
}

impl Period {
    /// A period, refusing a day outside the years 1900 to 9999 and `from`
    /// after `to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Period, PeriodError> {
        for (argument, day) in [("from", from), ("to", to)] {
            if !validate::date_in_range(day) {
                return Err(PeriodError {
                    argument,
                    message: format!("`{argument}` ({day}) is outside {}", validate::DATE_RANGE),
                });
            }
        }
        if from > to {
            return Err(PeriodError {
                argument: "from",
                message: format!("`from` ({from}) is after `to` ({to})"),
            });
        }
        Ok(Period { from, to })
    }

    /// The day after the last one (the exclusive end); it saturates at
    /// chrono's last day, far past any period [`Period::new`] accepts.
    pub fn end(self) -> NaiveDate {
        self.to.succ_opt().unwrap_or(self.to)
    }

    /// Number of days.
    pub fn days(self) -> i64 {
        (self.end() - self.from).num_days()
    }

    /// The first instant included: `from` at 00:00 UTC.
    pub fn starts_at(self) -> DateTime<Utc> {
        validate::day_start(self.from)
    }

    /// The first instant excluded: the day after `to` at 00:00 UTC (for a
    /// period ending on 9999-12-31, the last instant the databases store,
    /// see [`validate::day_start`]).
    pub fn ends_at(self) -> DateTime<Utc> {
        validate::day_start(self.end())
    }

    /// Whether an instant lies in the period.
    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.starts_at() <= t && t < self.ends_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_period_is_refused_outside_the_years_1900_to_9999_and_naming_its_end() {
        let refused =
            |from: &str, to: &str| Period::new(day(from), day(to)).err().map(|e| e.argument);
        assert_eq!(refused("1899-12-31", "2026-01-01"), Some("from"));
        assert_eq!(refused("2026-01-01", "+10000-01-01"), Some("to"));
        assert_eq!(refused("2026-01-01", "+262142-12-31"), Some("to"));
        assert_eq!(refused("1900-01-01", "9999-12-31"), None);
    }

    #[test]
    fn from_after_to_is_refused_naming_from() {
        let e = Period::new(day("2026-02-01"), day("2026-01-31")).err();
        assert_eq!(e.map(|e| e.argument), Some("from"));
        assert_eq!(
            Period::new(day("2026-01-01"), day("2026-01-01")).map(Period::days),
            Ok(1)
        );
    }

    #[test]
    fn a_period_runs_from_the_first_midnight_to_the_midnight_after_its_last_day() {
        let p =
            Period::new(day("2026-03-01"), day("2026-03-31")).unwrap_or_else(|e| panic!("{e:?}"));
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(p.starts_at(), at("2026-03-01T00:00:00Z"));
        assert_eq!(p.ends_at(), at("2026-04-01T00:00:00Z"));
        assert!(p.contains(at("2026-03-31T23:59:59.999999Z")));
        assert!(!p.contains(at("2026-04-01T00:00:00Z")));
        assert!(!p.contains(at("2026-02-28T23:59:59Z")));
    }
}
