//! The cost budget of each user: a leaky bucket, as Shopify's GraphQL API
//! keeps one per app.
//!
//! A bucket holds up to `capacity` points and refills at `restore_rate`
//! points a second. A request takes its requested cost from its user's
//! bucket before anything runs, or is refused (HTTP 429, `RATE_LIMITED`,
//! `Retry-After`) when the bucket holds less; once it has run, the
//! difference between the requested and the actual cost is given back
//! (or, for a list longer than its estimate, taken too). Buckets live in
//! the memory of one server: behind a load balancer each replica keeps its
//! own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use uuid::Uuid;

use crate::clock::Clock;

/// The size and refill rate of every user's bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleSettings {
    /// Points a full bucket holds (`HANDOFF_RATE_LIMIT_POINTS`); 0 turns
    /// the budget off.
    pub capacity: f64,
    /// Points restored per second (`HANDOFF_RATE_LIMIT_RESTORE_PER_SEC`).
    pub restore_rate: f64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            capacity: 1000.0,
            restore_rate: 50.0,
        }
    }
}

/// A bucket's state as a response reports it (`extensions.cost.throttleStatus`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleStatus {
    /// The bucket's capacity.
    pub maximum_available: f64,
    /// Points in the bucket now.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// A refused request: how the bucket stands and when to come back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttled {
    /// The bucket after the refusal (nothing was taken).
    pub status: ThrottleStatus,
    /// When the bucket will hold the requested cost.
    pub retry_after: Duration,
}

impl Throttled {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    level: f64,
    at: Duration,
}

/// Buckets over this many users are pruned of the full ones.
const PRUNE_ABOVE: usize = 10_000;

/// Every user's bucket.
pub struct Throttle {
    settings: ThrottleSettings,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl Throttle {
    /// Buckets of the given size, timed by `clock`.
    pub fn new(settings: ThrottleSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether budgets are enforced at all.
    pub fn enabled(&self) -> bool {
        self.settings.capacity > 0.0
    }

    /// Takes `cost` points from `user`'s bucket, or refuses when it holds
    /// fewer. `None` when budgets are off.
    pub fn take(&self, user: Uuid, cost: usize) -> Option<Result<ThrottleStatus, Throttled>> {
        if !self.enabled() {
            return None;
        }
        let cost = cost as f64;
        let now = self.clock.now();
        let mut buckets = self.lock();
        if buckets.len() > PRUNE_ABOVE {
            let settings = self.settings;
            buckets.retain(|_, b| refilled(settings, *b, now) < settings.capacity);
        }
        let bucket = buckets.entry(user).or_insert(Bucket {
            level: self.settings.capacity,
            at: now,
        });
        bucket.level = refilled(self.settings, *bucket, now);
        bucket.at = now;
        if bucket.level < cost {
            let missing = cost - bucket.level;
            let retry_after = if self.settings.restore_rate > 0.0 {
                Duration::from_secs_f64(missing / self.settings.restore_rate)
            } else {
                Duration::from_secs(3600)
            };
            return Some(Err(Throttled {
                status: self.status(bucket.level),
                retry_after,
            }));
        }
        bucket.level -= cost;
        Some(Ok(self.status(bucket.level)))
    }

    /// After a request ran: gives back what it was charged beyond its
    /// actual cost, or takes the rest when it cost more (the bucket may go
    /// below zero, down to minus its capacity, and then refuses until it
    /// has refilled).
    pub fn settle(&self, user: Uuid, charged: usize, actual: usize) -> Option<ThrottleStatus> {
        if !self.enabled() {
            return None;
        }
        let now = self.clock.now();
        let mut buckets = self.lock();
        let bucket = buckets.entry(user).or_insert(Bucket {
            level: self.settings.capacity,
            at: now,
        });
        bucket.level = refilled(self.settings, *bucket, now);
        bucket.at = now;
        bucket.level = (bucket.level + charged as f64 - actual as f64)
            .clamp(-self.settings.capacity, self.settings.capacity);
        Some(self.status(bucket.level))
    }

    fn status(&self, level: f64) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.settings.capacity,
            currently_available: level.max(0.0),
            restore_rate: self.settings.restore_rate,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Bucket>> {
        // A panic while holding the lock leaves plain numbers behind, which
        // are still valid.
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn refilled(settings: ThrottleSettings, bucket: Bucket, now: Duration) -> f64 {
    let elapsed = now.saturating_sub(bucket.at).as_secs_f64();
    (bucket.level + elapsed * settings.restore_rate).min(settings.capacity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn throttle(capacity: f64, rate: f64) -> (Throttle, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        let throttle = Throttle::new(
            ThrottleSettings {
                capacity,
                restore_rate: rate,
            },
            clock.clone(),
        );
        (throttle, clock)
    }

    #[test]
    fn a_burst_is_served_up_to_the_bucket_then_refused_until_it_refills() {
        let (t, clock) = throttle(1000.0, 50.0);
        let user = Uuid::nil();
        // Three requests of 300: 700, 400, 100 left.
        for left in [700.0, 400.0, 100.0] {
            let status = t.take(user, 300).and_then(Result::ok);
            assert_eq!(status.map(|s| s.currently_available), Some(left));
        }
        // The fourth needs 200 more points: 4 s at 50 a second.
        let refused = t.take(user, 300).and_then(Result::err);
        assert_eq!(refused.map(|r| r.retry_after), Some(Duration::from_secs(4)));
        assert_eq!(refused.map(|r| r.retry_after_secs()), Some(4));
        // Nothing was taken by the refusal; 3.9 s later it is still short.
        clock.advance(Duration::from_millis(3900));
        assert!(matches!(t.take(user, 300), Some(Err(_))));
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            t.take(user, 300)
                .and_then(Result::ok)
                .map(|s| s.currently_available),
            Some(0.0)
        );
    }

    #[test]
    fn the_bucket_never_holds_more_than_its_capacity() {
        let (t, clock) = throttle(1000.0, 50.0);
        let user = Uuid::nil();
        assert!(matches!(t.take(user, 100), Some(Ok(_))));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            t.take(user, 0)
                .and_then(Result::ok)
                .map(|s| s.currently_available),
            Some(1000.0)
        );
    }

    #[test]
    fn settling_refunds_down_to_the_actual_cost_or_charges_up_to_it() {
        let (t, _) = throttle(1000.0, 50.0);
        let user = Uuid::nil();
        assert!(matches!(t.take(user, 400), Some(Ok(_))));
        // Asked for 400, cost 30: 370 back.
        assert_eq!(
            t.settle(user, 400, 30).map(|s| s.currently_available),
            Some(970.0)
        );
        // Cost more than asked: the rest is taken, the bucket may go into
        // debt and shows 0.
        assert!(matches!(t.take(user, 900), Some(Ok(_))));
        assert_eq!(
            t.settle(user, 900, 1000).map(|s| s.currently_available),
            Some(0.0)
        );
        let refused = t.take(user, 10).and_then(Result::err);
        // 30 in debt + 10 wanted = 40 points: 0.8 s.
        assert_eq!(
            refused.map(|r| r.retry_after),
            Some(Duration::from_millis(800))
        );
        assert_eq!(refused.map(|r| r.retry_after_secs()), Some(1));
    }

    #[test]
    fn users_have_their_own_buckets() {
        let (t, _) = throttle(100.0, 1.0);
        assert!(matches!(t.take(Uuid::nil(), 100), Some(Ok(_))));
        assert!(matches!(t.take(Uuid::nil(), 1), Some(Err(_))));
        assert!(matches!(t.take(Uuid::max(), 100), Some(Ok(_))));
    }

    #[test]
    fn a_capacity_of_zero_turns_the_budget_off() {
        let (t, _) = throttle(0.0, 50.0);
        assert_eq!(t.take(Uuid::nil(), 1_000_000), None);
        assert_eq!(t.settle(Uuid::nil(), 1, 2), None);
    }
}
