//! The application's clock: one per server, in [`Config::clock`]
//! (the system's by default; tests give a [`ManualClock`] and move it).
//!
//! It times everything the server does on a schedule or by elapsed time:
//! the SLA sweep's interval (`sweep_sla` in `lib.rs`), the WebSocket
//! principal recheck (`http::ws`), the cost budget (`http::throttle`), and
//! the "now" that records are stamped with ([`services::records::now`]).
//! The last is read by deep service code that has no handle on the
//! server, so the HTTP layer and the background tasks run their work
//! inside [`scope`] and [`utc_now`] reads the clock of the current task;
//! outside any scope (the CLI, `handoff import`, the demo loader) it is
//! the system's.
//!
//! [`Config::clock`]: crate::config::Config::clock
//! [`services::records::now`]: crate::services::records::now

use std::{
    any::Any,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// A clock: monotonic time for schedules and budgets, wall time for
/// records.
pub trait Clock: Any + Send + Sync {
    /// Time since an arbitrary fixed origin; never goes back.
    fn now(&self) -> Duration;
    /// The wall-clock time now.
    fn utc(&self) -> DateTime<Utc>;
    /// Resolves once [`now`](Clock::now) has reached `at`.
    fn sleep_until(&self, at: Duration) -> BoxFuture<'static, ()>;
}

/// The system's clocks.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }

    fn utc(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: Duration) -> BoxFuture<'static, ()> {
        let deadline = tokio::time::Instant::from_std(self.0) + at;
        Box::pin(tokio::time::sleep_until(deadline))
    }
}

/// A clock that moves only when told to (tests): it starts at the wall
/// time of its creation, and whatever sleeps on it wakes when
/// [`advance`](ManualClock::advance) passes its deadline.
pub struct ManualClock {
    start: DateTime<Utc>,
    elapsed: watch::Sender<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Utc::now(),
            elapsed: watch::Sender::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward, waking what sleeps until then.
    pub fn advance(&self, by: Duration) {
        self.elapsed.send_modify(|elapsed| *elapsed += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.elapsed.borrow()
    }

    fn utc(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.now()).unwrap_or(chrono::Duration::MAX);
        self.start
            .checked_add_signed(elapsed)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn sleep_until(&self, at: Duration) -> BoxFuture<'static, ()> {
        let mut elapsed = self.elapsed.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock, which outlives the
            // server that sleeps on it; if not, sleep for ever.
            if elapsed.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

tokio::task_local! {
    /// The clock of the server whose work the current task runs.
    static CURRENT: Arc<dyn Clock>;
}

/// Runs `future` with `clock` as the clock [`utc_now`] reads. Tasks it
/// spawns do not inherit it: wrap their futures too ([`current`]).
pub async fn scope<F: Future>(clock: Arc<dyn Clock>, future: F) -> F::Output {
    CURRENT.scope(clock, future).await
}

/// The clock of the current task's [`scope`], if any.
pub fn current() -> Option<Arc<dyn Clock>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The wall-clock time by the current task's clock (the system's outside
/// any [`scope`]).
pub fn utc_now() -> DateTime<Utc> {
    CURRENT
        .try_with(|clock| clock.utc())
        .unwrap_or_else(|_| Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_its_sleepers_when_moved_past_their_deadline() {
        let clock = ManualClock::default();
        let start = clock.utc();
        let sleeper = tokio::spawn(clock.sleep_until(Duration::from_secs(60)));
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        assert!(sleeper.await.is_ok());
        assert_eq!(clock.now(), Duration::from_secs(60));
        assert_eq!(clock.utc() - start, chrono::Duration::seconds(60));
    }

    #[tokio::test]
    async fn utc_now_reads_the_clock_of_its_scope_and_the_system_outside() {
        let clock = Arc::new(ManualClock::default());
        clock.advance(Duration::from_secs(86_400));
        let inside = scope(clock.clone(), async { utc_now() }).await;
        assert_eq!(inside, clock.utc());
        assert!(utc_now() < inside);
    }
}
