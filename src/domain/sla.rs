//! The handoff SLA clock (docs/lifecycle.md): entering MQL starts two windows,
//! one for the first sales touch and one for the disposition (accept or
//! reject). Due times are inclusive: an action at the due time is in time,
//! and a pending window breaches only after its due time.
//!
//! Timestamps are stored to the microsecond, so the first breached instant of
//! a window is its due time + 1 µs.

use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::SlaStatus;

/// The SLA facts of one lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaClock {
    /// When the lead became an MQL; both windows start here.
    pub mql_at: DateTime<Utc>,
    /// The latest in-time first sales touch.
    pub first_contact_due_at: DateTime<Utc>,
    /// When sales first touched the lead, if it has.
    pub first_contacted_at: Option<DateTime<Utc>>,
    /// The latest in-time accept or reject.
    pub disposition_due_at: DateTime<Utc>,
    /// When sales accepted or rejected the lead, if it has.
    pub dispositioned_at: Option<DateTime<Utc>>,
}

/// Where one window stands at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowState {
    Met,
    Breached,
    AtRisk,
    OnTrack,
}

/// One window of the clock: from `start` to `due`, closed by `done`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    due: DateTime<Utc>,
    done: Option<DateTime<Utc>>,
}

impl Window {
    /// The start of the window's last quarter.
    fn risk_from(&self) -> DateTime<Utc> {
        let length = (self.due - self.start).max(TimeDelta::zero());
        self.due.checked_sub_signed(length / 4).unwrap_or(self.due)
    }

    /// The first instant after the due time.
    fn breach_from(&self) -> Option<DateTime<Utc>> {
        self.due.checked_add_signed(TimeDelta::microseconds(1))
    }

    fn state(&self, now: DateTime<Utc>) -> WindowState {
        match self.done {
            Some(at) if at <= self.due => WindowState::Met,
            Some(_) => WindowState::Breached,
            None if now > self.due => WindowState::Breached,
            None if now >= self.risk_from() => WindowState::AtRisk,
            None => WindowState::OnTrack,
        }
    }
}

impl SlaClock {
    /// Starts the clocks at `mql_at` with the definition's hours; negative
    /// hours count as 0, and a due time past the calendar's end is its end.
    pub fn start(mql_at: DateTime<Utc>, first_contact_hours: i32, disposition_hours: i32) -> Self {
        let due = |hours: i32| {
            mql_at
                .checked_add_signed(TimeDelta::hours(i64::from(hours.max(0))))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        Self {
            mql_at,
            first_contact_due_at: due(first_contact_hours),
            first_contacted_at: None,
            disposition_due_at: due(disposition_hours),
            dispositioned_at: None,
        }
    }

    fn windows(&self) -> [Window; 2] {
        [
            Window {
                start: self.mql_at,
                due: self.first_contact_due_at,
                done: self.first_contacted_at,
            },
            Window {
                start: self.mql_at,
                due: self.disposition_due_at,
                done: self.dispositioned_at,
            },
        ]
    }

    /// The status at `now`: BREACHED if any due time passed without its
    /// action, or the action came after its due time; MET if both actions
    /// happened in time; otherwise AT_RISK if `now` is in the last quarter
    /// (inclusive) of a window whose action is still pending (window =
    /// `mql_at..=due`), else ON_TRACK.
    pub fn status(&self, now: DateTime<Utc>) -> SlaStatus {
        let states = self.windows().map(|w| w.state(now));
        if states.contains(&WindowState::Breached) {
            SlaStatus::Breached
        } else if states.iter().all(|s| *s == WindowState::Met) {
            SlaStatus::Met
        } else if states.contains(&WindowState::AtRisk) {
            SlaStatus::AtRisk
        } else {
            SlaStatus::OnTrack
        }
    }

    /// The earliest instant after `now` at which [`status`](Self::status)
    /// would change without any action (the next AT_RISK or BREACHED
    /// moment), or `None` when it never would (MET or BREACHED already).
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let current = self.status(now);
        let mut moments: Vec<DateTime<Utc>> = self
            .windows()
            .iter()
            .filter(|w| w.done.is_none())
            .flat_map(|w| [Some(w.risk_from()), w.breach_from()])
            .flatten()
            .filter(|&t| t > now)
            .collect();
        moments.sort_unstable();
        // Without actions the status only moves forward, so the first
        // candidate that differs is the next change.
        moments.into_iter().find(|&t| self.status(t) != current)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn h(hours: i64) -> DateTime<Utc> {
        t0() + TimeDelta::hours(hours)
    }

    fn us() -> TimeDelta {
        TimeDelta::microseconds(1)
    }

    /// 24 h to first contact, 48 h to disposition, from 2026-01-01T00:00Z.
    fn clock() -> SlaClock {
        SlaClock::start(t0(), 24, 48)
    }

    #[test]
    fn start_sets_the_due_times() {
        let c = clock();
        assert_eq!(c.mql_at, t0());
        assert_eq!(
            c.first_contact_due_at,
            Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()
        );
        assert_eq!(
            c.disposition_due_at,
            Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap()
        );
        assert_eq!(c.first_contacted_at, None);
        assert_eq!(c.dispositioned_at, None);
        assert_eq!(SlaClock::start(t0(), -5, 0).first_contact_due_at, t0());
    }

    #[test]
    fn untouched_lead_goes_on_track_at_risk_breached() {
        let c = clock();
        assert_eq!(c.status(t0()), SlaStatus::OnTrack);
        assert_eq!(c.status(h(1)), SlaStatus::OnTrack);
        assert_eq!(c.next_change(h(1)), Some(h(18)));
        // The first-contact window's last quarter starts at 24 - 6 = 18 h.
        assert_eq!(c.status(h(18) - us()), SlaStatus::OnTrack);
        assert_eq!(c.status(h(18)), SlaStatus::AtRisk);
        assert_eq!(c.next_change(h(18)), Some(h(24) + us()));
        // Due time inclusive: still at risk at exactly +24 h.
        assert_eq!(c.status(h(24)), SlaStatus::AtRisk);
        assert_eq!(c.next_change(h(24)), Some(h(24) + us()));
        assert_eq!(c.status(h(24) + us()), SlaStatus::Breached);
        assert_eq!(c.next_change(h(24) + us()), None);
        assert_eq!(c.status(h(100)), SlaStatus::Breached);
    }

    #[test]
    fn contacted_in_time_then_the_disposition_window_counts() {
        let c = SlaClock {
            first_contacted_at: Some(h(10)),
            ..clock()
        };
        assert_eq!(c.status(h(10)), SlaStatus::OnTrack);
        assert_eq!(c.status(h(20)), SlaStatus::OnTrack);
        // The disposition window's last quarter starts at 48 - 12 = 36 h.
        assert_eq!(c.next_change(h(20)), Some(h(36)));
        assert_eq!(c.status(h(36) - us()), SlaStatus::OnTrack);
        assert_eq!(c.status(h(36)), SlaStatus::AtRisk);
        assert_eq!(c.next_change(h(36)), Some(h(48) + us()));
        assert_eq!(c.status(h(48)), SlaStatus::AtRisk);
        assert_eq!(c.status(h(48) + us()), SlaStatus::Breached);
        assert_eq!(c.next_change(h(48) + us()), None);
    }

    #[test]
    fn both_actions_in_time_is_met_for_good() {
        let c = SlaClock {
            first_contacted_at: Some(h(10)),
            dispositioned_at: Some(h(40)),
            ..clock()
        };
        assert_eq!(c.status(h(40)), SlaStatus::Met);
        assert_eq!(c.status(h(1000)), SlaStatus::Met);
        assert_eq!(c.next_change(h(40)), None);

        // Actions exactly at their due times are in time.
        let at_due = SlaClock {
            first_contacted_at: Some(h(24)),
            dispositioned_at: Some(h(48)),
            ..clock()
        };
        assert_eq!(at_due.status(h(1000)), SlaStatus::Met);
    }

    #[test]
    fn a_late_contact_is_breached_forever() {
        let late = SlaClock {
            first_contacted_at: Some(h(30)),
            ..clock()
        };
        assert_eq!(late.status(h(30)), SlaStatus::Breached);
        assert_eq!(late.next_change(h(30)), None);
        let dispositioned = SlaClock {
            dispositioned_at: Some(h(40)),
            ..late
        };
        assert_eq!(dispositioned.status(h(40)), SlaStatus::Breached);
        assert_eq!(dispositioned.status(h(1000)), SlaStatus::Breached);
        assert_eq!(dispositioned.next_change(h(40)), None);

        // Facts are facts: a late action breaches even when `now` is earlier.
        assert_eq!(late.status(h(1)), SlaStatus::Breached);
    }

    #[test]
    fn a_late_disposition_breaches_even_after_an_early_contact() {
        let c = SlaClock {
            first_contacted_at: Some(h(2)),
            dispositioned_at: Some(h(48) + us()),
            ..clock()
        };
        assert_eq!(c.status(h(50)), SlaStatus::Breached);
    }

    #[test]
    fn dispositioned_without_contact_still_waits_for_the_contact() {
        let c = SlaClock {
            dispositioned_at: Some(h(5)),
            ..clock()
        };
        assert_eq!(c.status(h(6)), SlaStatus::OnTrack);
        assert_eq!(c.next_change(h(6)), Some(h(18)));
        assert_eq!(c.status(h(18)), SlaStatus::AtRisk);
        assert_eq!(c.next_change(h(18)), Some(h(24) + us()));
        assert_eq!(c.status(h(24) + us()), SlaStatus::Breached);
    }

    #[test]
    fn before_mql_the_clock_is_on_track() {
        let c = clock();
        assert_eq!(c.status(h(-5)), SlaStatus::OnTrack);
        assert_eq!(c.next_change(h(-5)), Some(h(18)));
    }

    #[test]
    fn zero_length_windows_are_at_risk_at_once_and_breach_after() {
        let c = SlaClock::start(t0(), 0, 0);
        assert_eq!(c.status(t0()), SlaStatus::AtRisk);
        assert_eq!(c.next_change(t0()), Some(t0() + us()));
        assert_eq!(c.status(t0() + us()), SlaStatus::Breached);
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let c = SlaClock::start(DateTime::<Utc>::MAX_UTC, 24, 48);
        assert_eq!(c.disposition_due_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(c.status(DateTime::<Utc>::MAX_UTC), SlaStatus::AtRisk);
        assert_eq!(c.next_change(DateTime::<Utc>::MAX_UTC), None);
    }
}
