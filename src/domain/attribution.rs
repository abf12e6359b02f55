//! Multi-touch attribution for CAMPAIGN_ROI (docs/analytics.md): how an
//! opportunity's amount is credited to the campaign touches of its leads made
//! before the opportunity was created, under six models.
//!
//! Rules shared by every model:
//!
//! - Touches are ordered by (`at`, `id`), so touches at the same instant always
//!   come out in the same order; "first", "last" and "earlier" below mean in
//!   this order.
//! - A touch at or before the opportunity's creation counts (one at exactly
//!   `created_at` does); a later one is dropped. No counted touch, no credits.
//! - There is one credit per counted touch, in touch order, and the credits
//!   sum to exactly the amount: each touch's exact share is converted to cents
//!   (or to the amount's own unit when it has more than two decimal places),
//!   every touch gets the whole cents of its share, and the cents left over go
//!   one each to the touches with the largest remainders, ties to the earlier
//!   touch (the largest-remainder method). A touch with no share gets 0.
//! - A zero amount gives zero credits; a negative amount is credited as its
//!   absolute value, negated, so the sum is still exact.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The half-life of [`AttributionModel::TimeDecay`], in days.
pub const TIME_DECAY_HALF_LIFE_DAYS: f64 = 7.0;

/// Decimal places of the minor unit (cents) credits are allocated in.
const MINOR_UNIT_SCALE: u32 = 2;

/// How an opportunity's amount is shared among its touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributionModel {
    /// All to the first touch.
    FirstTouch,
    /// All to the last touch at or before the opportunity's creation.
    LastTouch,
    /// Evenly over every touch.
    Linear,
    /// One touch: 100%; two: 50% each; more: 40% to the first, 40% to the
    /// last and 20% evenly over the touches between them.
    UShaped,
    /// 30% for each of three key roles: the first touch, the lead-conversion
    /// touch (the last touch at or before [`Deal::lead_converted_at`]) and the
    /// last touch; a touch holding several roles gets 30% for each. The other
    /// 10% goes evenly to the touches with no role. When that does not make
    /// 100%, because a role has no touch (no conversion moment, or no touch
    /// at or before it) or every touch has a role, the shares are scaled
    /// proportionally to sum to 100%. So, over four touches: conversion at
    /// the second, 30/30/10/30 as is; conversion at the first, 60/5/5/30 as
    /// is; no conversion touch, 30/5/5/30 -> 3/7, 1/14, 1/14, 3/7; over three
    /// with conversion at the second, 1/3 each; over two with conversion at
    /// the first, 60/30 -> 2/3, 1/3.
    WShaped,
    /// Weight 2^(-age / 7 days), the age measured from the touch to the
    /// opportunity's creation, normalized to sum to 100%. The weights are
    /// floating point, fixed to at most 52 bits before the cents are shared.
    TimeDecay,
}

impl AttributionModel {
    /// Every model, in the order the API lists them.
    pub const ALL: [AttributionModel; 6] = [
        Self::FirstTouch,
        Self::LastTouch,
        Self::Linear,
        Self::UShaped,
        Self::WShaped,
        Self::TimeDecay,
    ];

    /// The name the API uses, e.g. `"FIRST_TOUCH"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstTouch => "FIRST_TOUCH",
            Self::LastTouch => "LAST_TOUCH",
            Self::Linear => "LINEAR",
            Self::UShaped => "U_SHAPED",
            Self::WShaped => "W_SHAPED",
            Self::TimeDecay => "TIME_DECAY",
        }
    }
}

impl fmt::Display for AttributionModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One campaign touch of a lead: an activity with a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// The activity's id; breaks ties between touches at the same instant.
    pub id: Uuid,
    /// The campaign the touch is credited to.
    pub campaign_id: Uuid,
    /// When the activity occurred.
    pub at: DateTime<Utc>,
}

/// The facts of one opportunity that attribution needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deal {
    /// When the opportunity was created; touches after it are ignored.
    pub created_at: DateTime<Utc>,
    /// When the lead converted (was created, or became an MQL: the caller
    /// chooses, e.g. the primary lead's `mql_at`, else its `created_at`);
    /// only W-shaped uses it, to find the lead-conversion touch.
    pub lead_converted_at: Option<DateTime<Utc>>,
    /// The amount to share out, normally with two decimal places.
    pub amount: Decimal,
}

/// The part of an opportunity's amount credited to one touch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credit {
    /// The touch's activity id.
    pub touch_id: Uuid,
    /// The touch's campaign.
    pub campaign_id: Uuid,
    /// The touch's exact share of the amount, `0.0..=1.0`, before rounding.
    pub weight: f64,
    /// The credited amount, in cents (or the amount's finer unit).
    pub amount: Decimal,
}

/// Credits the deal's amount to its touches under `model`: one credit per
/// touch at or before the deal's creation, in (`at`, `id`) order, summing to
/// exactly the amount (see the module documentation for the rounding).
/// `touches` may come in any order.
pub fn attribute(model: AttributionModel, deal: &Deal, touches: &[Touch]) -> Vec<Credit> {
    let mut counted: Vec<Touch> = touches
        .iter()
        .filter(|t| t.at <= deal.created_at)
        .copied()
        .collect();
    counted.sort_by_key(|t| (t.at, t.id));
    if counted.is_empty() {
        return Vec::new();
    }
    let weights = weights(model, deal, &counted);
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let amounts = allocate(deal.amount, &weights);
    counted
        .iter()
        .zip(weights)
        .zip(amounts)
        .map(|((touch, weight), amount)| Credit {
            touch_id: touch.id,
            campaign_id: touch.campaign_id,
            weight: weight as f64 / total as f64,
            amount,
        })
        .collect()
}

/// Totals credits per campaign: pass one opportunity's credits, or many
/// opportunities' chained together.
pub fn campaign_totals<'a>(
    credits: impl IntoIterator<Item = &'a Credit>,
) -> BTreeMap<Uuid, Decimal> {
    let mut totals = BTreeMap::new();
    for credit in credits {
        let total = totals.entry(credit.campaign_id).or_insert(Decimal::ZERO);
        // Stored amounts are decimal(18, 2), far below Decimal::MAX (7.9e28);
        // saturate rather than panic on a sum no database could hold.
        *total = total.saturating_add(credit.amount);
    }
    totals
}

/// Integer weights of the sorted, non-empty `touches`, proportional to the
/// model's shares, at least one of them positive, and summing to less than
/// 2^64 (which [`allocate`] relies on).
fn weights(model: AttributionModel, deal: &Deal, touches: &[Touch]) -> Vec<u64> {
    let n = touches.len();
    let is_last = |i: usize| i + 1 == n;
    // A slice of 48-byte touches has fewer than 2^58 items, so every rational
    // model's total (at most 10n) stays below 2^64.
    match model {
        AttributionModel::FirstTouch => (0..n).map(|i| u64::from(i == 0)).collect(),
        AttributionModel::LastTouch => (0..n).map(|i| u64::from(is_last(i))).collect(),
        AttributionModel::Linear => vec![1; n],
        AttributionModel::UShaped if n <= 2 => vec![1; n],
        AttributionModel::UShaped => {
            // 40 : 20/(n-2) : 40, times (n-2)/10.
            let end = 2 * (n as u64 - 2);
            (0..n)
                .map(|i| if i == 0 || is_last(i) { end } else { 1 })
                .collect()
        }
        AttributionModel::WShaped => {
            let conversion = deal
                .lead_converted_at
                .and_then(|moment| touches.iter().rposition(|t| t.at <= moment));
            let roles: Vec<u64> = (0..n)
                .map(|i| {
                    u64::from(i == 0) + u64::from(Some(i) == conversion) + u64::from(is_last(i))
                })
                .collect();
            let others = roles.iter().filter(|&&r| r == 0).count() as u64;
            // 30 per role and 10/others per other touch, times others/10; with
            // no other touch only the roles' 30s are left to scale up.
            let per_role = if others == 0 { 1 } else { 3 * others };
            roles
                .iter()
                .map(|&r| if r == 0 { 1 } else { r * per_role })
                .collect()
        }
        AttributionModel::TimeDecay => time_decay(touches),
    }
}

/// Time-decay weights, relative to the newest touch (normalizing makes the
/// two the same, and this way old touches cannot all underflow to 0): the
/// newest gets 2^bits and each touch 7 days older half as much, rounded,
/// with `bits` at most 52 and small enough for the total to stay below 2^63.
fn time_decay(touches: &[Touch]) -> Vec<u64> {
    let Some(newest) = touches.last().map(|t| t.at) else {
        return Vec::new();
    };
    let len_bits = usize::BITS - touches.len().leading_zeros();
    let bits = 63_u32.saturating_sub(len_bits).min(52);
    let scale = (1_u64 << bits) as f64;
    let half_life_seconds = TIME_DECAY_HALF_LIFE_DAYS * 86_400.0;
    touches
        .iter()
        .map(|t| {
            let half_lives = seconds(newest - t.at) / half_life_seconds;
            // In 0.0..=scale, so the cast is exact after rounding.
            (scale * (-half_lives).exp2()).round() as u64
        })
        .collect()
}

/// A non-negative duration in (fractional) seconds.
fn seconds(d: TimeDelta) -> f64 {
    d.num_seconds() as f64 + f64::from(d.subsec_nanos()) / 1e9
}

/// Splits `amount` in proportion to `weights` by the largest-remainder
/// method, in cents or the amount's finer unit; the parts sum to `amount`.
fn allocate(amount: Decimal, weights: &[u64]) -> Vec<Decimal> {
    let mut in_units = amount;
    // Never rounds: raising the scale only appends zeros, and a number too
    // large for cents keeps the largest scale it can.
    in_units.rescale(amount.scale().max(MINOR_UNIT_SCALE));
    let scale = in_units.scale();
    let negative = in_units.is_sign_negative();
    let units = in_units.mantissa().unsigned_abs(); // below 2^96
    let weight_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if weight_sum == 0 {
        return vec![decimal(0, false, scale); weights.len()];
    }

    // floor(units * w / sum) without overflow: with units = q * sum + r,
    // units * w = q * w * sum + r * w, and r * w < sum^2 < 2^128.
    let (q, r) = (units / weight_sum, units % weight_sum);
    let mut parts: Vec<(u128, u128)> = weights
        .iter()
        .map(|&w| {
            let rw = r * u128::from(w);
            (q * u128::from(w) + rw / weight_sum, rw % weight_sum)
        })
        .collect();

    // Each part lost less than one unit, so fewer units than parts are left.
    let given: u128 = parts.iter().map(|&(whole, _)| whole).sum();
    let left = usize::try_from(units - given).unwrap_or(usize::MAX);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| (Reverse(parts[i].1), i));
    for &i in order.iter().take(left) {
        parts[i].0 += 1;
    }

    parts
        .into_iter()
        .map(|(whole, _)| decimal(whole, negative, scale))
        .collect()
}

/// The decimal `±units × 10^-scale`; `units` must be below 2^96, which every
/// part of an amount is.
fn decimal(units: u128, negative: bool, scale: u32) -> Decimal {
    Decimal::from_parts(
        units as u32,
        (units >> 32) as u32,
        (units >> 64) as u32,
        negative && units != 0,
        scale,
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::AttributionModel as M;
    use super::*;

    /// The opportunity's creation: 2026-03-01T12:00Z.
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn days_before(days: i64) -> DateTime<Utc> {
        t0() - TimeDelta::days(days)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// Touch `n` of campaign `n`.
    fn touch(n: u128, at: DateTime<Utc>) -> Touch {
        Touch {
            id: id(n),
            campaign_id: id(100 + n),
            at,
        }
    }

    /// Touches 1..=n, one a day, touch n one day before the opportunity.
    fn daily(n: u128) -> Vec<Touch> {
        (1..=n)
            .map(|i| touch(i, days_before((n + 1 - i) as i64)))
            .collect()
    }

    fn deal(amount: &str) -> Deal {
        Deal {
            created_at: t0(),
            lead_converted_at: None,
            amount: amount.parse().unwrap(),
        }
    }

    fn converted_at(amount: &str, at: DateTime<Utc>) -> Deal {
        Deal {
            lead_converted_at: Some(at),
            ..deal(amount)
        }
    }

    fn amounts(model: AttributionModel, deal: &Deal, touches: &[Touch]) -> Vec<String> {
        attribute(model, deal, touches)
            .iter()
            .map(|c| c.amount.to_string())
            .collect()
    }

    fn touch_ids(model: AttributionModel, deal: &Deal, touches: &[Touch]) -> Vec<Uuid> {
        attribute(model, deal, touches)
            .iter()
            .map(|c| c.touch_id)
            .collect()
    }

    #[test]
    fn model_names_are_the_api_names() {
        let names = AttributionModel::ALL.map(AttributionModel::as_str);
        assert_eq!(
            names,
            [
                "FIRST_TOUCH",
                "LAST_TOUCH",
                "LINEAR",
                "U_SHAPED",
                "W_SHAPED",
                "TIME_DECAY"
            ]
        );
        assert_eq!(M::UShaped.to_string(), "U_SHAPED");
    }

    #[test]
    fn no_touches_give_no_credits() {
        for model in M::ALL {
            assert!(attribute(model, &deal("100.00"), &[]).is_empty(), "{model}");
        }
    }

    #[test]
    fn one_touch_gets_the_whole_amount_under_every_model() {
        let touches = [touch(1, days_before(30))];
        for deal in [deal("250.00"), converted_at("250.00", days_before(40))] {
            for model in M::ALL {
                let credits = attribute(model, &deal, &touches);
                assert_eq!(credits.len(), 1, "{model}");
                assert_eq!(credits[0].touch_id, id(1));
                assert_eq!(credits[0].campaign_id, id(101));
                assert_eq!(credits[0].weight, 1.0, "{model}");
                assert_eq!(credits[0].amount.to_string(), "250.00", "{model}");
            }
        }
    }

    #[test]
    fn two_touches_under_every_model() {
        // 7 days before the opportunity, and at its very creation (which counts).
        let touches = [touch(1, days_before(7)), touch(2, t0())];
        let d = deal("100.00");
        assert_eq!(amounts(M::FirstTouch, &d, &touches), ["100.00", "0.00"]);
        assert_eq!(amounts(M::LastTouch, &d, &touches), ["0.00", "100.00"]);
        assert_eq!(amounts(M::Linear, &d, &touches), ["50.00", "50.00"]);
        assert_eq!(amounts(M::UShaped, &d, &touches), ["50.00", "50.00"]);
        // No conversion touch: first 30, last 30 -> 1/2 each.
        assert_eq!(amounts(M::WShaped, &d, &touches), ["50.00", "50.00"]);
        // The first is also the conversion touch: 60 : 30 -> 2/3, 1/3 of
        // 10000 cents = 6666.67, 3333.33 -> 6666 + 3333 = 9999; the cent left
        // goes to the larger remainder (.67), the first.
        let first_converted = converted_at("100.00", days_before(7));
        assert_eq!(
            amounts(M::WShaped, &first_converted, &touches),
            ["66.67", "33.33"]
        );
        // Ages 7 and 0 days: weights 1/2 and 1 -> 1/3, 2/3 -> 3333.33, 6666.67
        // -> the cent left goes to the second (.67).
        assert_eq!(amounts(M::TimeDecay, &d, &touches), ["33.33", "66.67"]);
    }

    #[test]
    fn five_touches_under_the_position_models() {
        let touches = daily(5);
        let d = deal("1000.00");
        assert_eq!(
            amounts(M::FirstTouch, &d, &touches),
            ["1000.00", "0.00", "0.00", "0.00", "0.00"]
        );
        assert_eq!(
            amounts(M::LastTouch, &d, &touches),
            ["0.00", "0.00", "0.00", "0.00", "1000.00"]
        );
        assert_eq!(
            amounts(M::Linear, &d, &touches),
            ["200.00", "200.00", "200.00", "200.00", "200.00"]
        );
        // 40% = 400.00 at each end; 20% = 200.00 over 3 = 6666.67 cents each
        // -> 3 x 6666 = 19998, 2 cents left, equal remainders: the earlier two.
        assert_eq!(
            amounts(M::UShaped, &d, &touches),
            ["400.00", "66.67", "66.67", "66.66", "400.00"]
        );
        let credits = attribute(M::UShaped, &d, &touches);
        let weights: Vec<f64> = credits.iter().map(|c| c.weight).collect();
        let third = 0.2 / 3.0;
        for (got, want) in weights.iter().zip([0.4, third, third, third, 0.4]) {
            assert!((got - want).abs() < 1e-12, "{weights:?}");
        }
    }

    #[test]
    fn u_shaped_with_three_touches_is_40_20_40() {
        assert_eq!(
            amounts(M::UShaped, &deal("100.00"), &daily(3)),
            ["40.00", "20.00", "40.00"]
        );
    }

    #[test]
    fn w_shaped_gives_30_to_each_key_touch_and_10_to_the_rest() {
        // The lead converted an hour after touch 3 (3 days before), before
        // touch 4: touch 3 is the last at or before that moment.
        let five = converted_at("1000.00", days_before(3) + TimeDelta::hours(1));
        // Keys 1, 3, 5 get 300.00; 100.00 over touches 2 and 4 is 50.00 each.
        assert_eq!(
            amounts(M::WShaped, &five, &daily(5)),
            ["300.00", "50.00", "300.00", "50.00", "300.00"]
        );
        // Six touches, the lead converting at exactly touch 3 (4 days before):
        // 100.00 over touches 2, 4, 5 = 3333.33 cents each -> 9999, the cent
        // left to the earliest.
        let six = converted_at("1000.00", days_before(4));
        assert_eq!(
            amounts(M::WShaped, &six, &daily(6)),
            ["300.00", "33.34", "300.00", "33.33", "33.33", "300.00"]
        );
        // Three touches, the middle converting: 30/30/30 -> 1/3 each.
        let three = converted_at("100.00", days_before(2));
        assert_eq!(
            amounts(M::WShaped, &three, &daily(3)),
            ["33.34", "33.33", "33.33"]
        );
    }

    #[test]
    fn w_shaped_redistributes_when_key_touches_coincide_or_are_missing() {
        let touches = daily(4); // 4, 3, 2 and 1 days before
        // No conversion moment: 30/5/5/30, sum 70 -> 3/7, 1/14, 1/14, 3/7 of
        // 700.00 = 300, 50, 50, 300.
        assert_eq!(
            amounts(M::WShaped, &deal("700.00"), &touches),
            ["300.00", "50.00", "50.00", "300.00"]
        );
        // Converted before any touch: no conversion touch either.
        assert_eq!(
            amounts(
                M::WShaped,
                &converted_at("700.00", days_before(9)),
                &touches
            ),
            ["300.00", "50.00", "50.00", "300.00"]
        );
        // Converted at exactly the first touch: it holds two roles,
        // 60/5/5/30 of 1000.00.
        assert_eq!(
            amounts(
                M::WShaped,
                &converted_at("1000.00", days_before(4)),
                &touches
            ),
            ["600.00", "50.00", "50.00", "300.00"]
        );
        // Converted after the last touch (even after the opportunity): the
        // last touch holds two roles, 30/5/5/60.
        assert_eq!(
            amounts(
                M::WShaped,
                &converted_at("1000.00", t0() + TimeDelta::days(2)),
                &touches
            ),
            ["300.00", "50.00", "50.00", "600.00"]
        );
    }

    #[test]
    fn time_decay_halves_the_weight_every_seven_days() {
        let touches = [
            touch(1, t0()),
            touch(2, days_before(7)),
            touch(3, days_before(14)),
        ];
        // Weights 1, 1/2, 1/4, in touch order (oldest first) 1/7, 2/7, 4/7 of
        // 10000 cents = 1428.57, 2857.14, 5714.29 -> 1428 + 2857 + 5714 = 9999;
        // the cent left goes to the largest remainder, .57 (the oldest).
        let d = deal("100.00");
        assert_eq!(
            amounts(M::TimeDecay, &d, &touches),
            ["14.29", "28.57", "57.14"]
        );
        assert_eq!(touch_ids(M::TimeDecay, &d, &touches), [id(3), id(2), id(1)]);
        let weights: Vec<f64> = attribute(M::TimeDecay, &d, &touches)
            .iter()
            .map(|c| c.weight)
            .collect();
        assert_eq!(weights, [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]);
    }

    #[test]
    fn time_decay_depends_only_on_the_gaps_between_touches() {
        // The same 0/7/14-day gaps, the newest 1 and 100 years before the
        // opportunity (2^-5200 would underflow without normalizing first).
        for years in [1, 100] {
            let newest = days_before(365 * years);
            let touches = [
                touch(1, newest),
                touch(2, newest - TimeDelta::days(7)),
                touch(3, newest - TimeDelta::days(14)),
            ];
            assert_eq!(
                amounts(M::TimeDecay, &deal("100.00"), &touches),
                ["14.29", "28.57", "57.14"]
            );
        }
    }

    #[test]
    fn touches_at_the_same_instant_are_ordered_by_id() {
        let at = days_before(1);
        let touches = [touch(3, at), touch(1, at), touch(2, at)];
        let d = deal("100.00");
        for model in M::ALL {
            assert_eq!(
                touch_ids(model, &d, &touches),
                [id(1), id(2), id(3)],
                "{model}"
            );
        }
        assert_eq!(
            amounts(M::FirstTouch, &d, &touches),
            ["100.00", "0.00", "0.00"]
        );
        assert_eq!(
            amounts(M::LastTouch, &d, &touches),
            ["0.00", "0.00", "100.00"]
        );
        // Equal remainders: the extra cent goes to the earlier touch, id 1.
        assert_eq!(
            amounts(M::Linear, &d, &touches),
            ["33.34", "33.33", "33.33"]
        );
        assert_eq!(
            amounts(M::TimeDecay, &d, &touches),
            ["33.34", "33.33", "33.33"]
        );
    }

    #[test]
    fn touches_after_the_opportunity_was_created_are_ignored() {
        let touches = [
            touch(4, t0() + TimeDelta::days(1)),
            touch(2, t0()),
            touch(3, t0() + TimeDelta::microseconds(1)),
            touch(1, days_before(1)),
        ];
        let d = deal("100.00");
        for model in M::ALL {
            assert_eq!(touch_ids(model, &d, &touches), [id(1), id(2)], "{model}");
        }
        // The touch at exactly the creation is the last touch.
        assert_eq!(amounts(M::LastTouch, &d, &touches), ["0.00", "100.00"]);
        assert_eq!(amounts(M::Linear, &d, &touches), ["50.00", "50.00"]);

        let all_later = [touch(3, t0() + TimeDelta::microseconds(1))];
        for model in M::ALL {
            assert!(attribute(model, &d, &all_later).is_empty(), "{model}");
        }
    }

    #[test]
    fn an_amount_that_does_not_split_evenly_still_sums_exactly() {
        let touches = daily(3);
        // 10000 / 3 = 3333.33 -> 3 x 3333 = 9999, the cent left to the first.
        assert_eq!(
            amounts(M::Linear, &deal("100.00"), &touches),
            ["33.34", "33.33", "33.33"]
        );
        // 1 / 3 and 2 / 3 cents: every remainder ties, so the earliest win.
        assert_eq!(
            amounts(M::Linear, &deal("0.01"), &touches),
            ["0.01", "0.00", "0.00"]
        );
        assert_eq!(
            amounts(M::Linear, &deal("0.02"), &touches),
            ["0.01", "0.01", "0.00"]
        );
    }

    #[test]
    fn zero_and_negative_amounts() {
        let touches = daily(3);
        for model in M::ALL {
            assert_eq!(
                amounts(model, &deal("0"), &touches),
                ["0.00", "0.00", "0.00"],
                "{model}"
            );
        }
        // The weights still say how the model shares.
        let weights: Vec<f64> = attribute(M::FirstTouch, &deal("0"), &touches)
            .iter()
            .map(|c| c.weight)
            .collect();
        assert_eq!(weights, [1.0, 0.0, 0.0]);
        // -100.00 is shared as 100.00, negated.
        assert_eq!(
            amounts(M::Linear, &deal("-100.00"), &touches),
            ["-33.34", "-33.33", "-33.33"]
        );
    }

    #[test]
    fn credits_are_in_cents_or_the_amounts_finer_unit() {
        let touches = daily(3);
        assert_eq!(
            amounts(M::Linear, &deal("100"), &touches),
            ["33.34", "33.33", "33.33"]
        );
        // 10005 thousandths over 2 = 5002.5 each: the tie goes to the first.
        assert_eq!(
            amounts(M::Linear, &deal("10.005"), &touches[..2]),
            ["5.003", "5.002"]
        );
    }

    #[test]
    fn campaign_totals_add_up_credits_per_campaign() {
        let mut touches = daily(3);
        touches[2].campaign_id = touches[0].campaign_id;
        let first = attribute(M::Linear, &deal("100.00"), &touches);
        // Campaign 101 has touches 1 and 3: 33.34 + 33.33.
        let totals = campaign_totals(&first);
        assert_eq!(totals.len(), 2);
        assert_eq!(totals[&id(101)].to_string(), "66.67");
        assert_eq!(totals[&id(102)].to_string(), "33.33");

        // Across opportunities: another 10.00 all to touch 1 (campaign 101).
        let second = attribute(M::FirstTouch, &deal("10.00"), &touches);
        let totals = campaign_totals(first.iter().chain(&second));
        assert_eq!(totals[&id(101)].to_string(), "76.67");
        assert_eq!(totals[&id(102)].to_string(), "33.33");
    }

    #[test]
    fn credits_sum_to_the_amount_for_generated_inputs_under_every_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(20_260_301);
        let extremes = [
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::ZERO,
        ];
        for case in 0..3_000 {
            let n = if case % 500 == 0 {
                3_000
            } else {
                rng.random_range(0..12)
            };
            // A few distinct instants, so ties are common, some after creation.
            let instants: Vec<DateTime<Utc>> = (0..rng.random_range(1..6))
                .map(|_| t0() + TimeDelta::seconds(rng.random_range(-90 * 86_400..86_400)))
                .collect();
            let touches: Vec<Touch> = (0..n)
                .map(|_| Touch {
                    id: Uuid::from_u128(rng.random()),
                    campaign_id: id(rng.random_range(0..4)),
                    at: instants[rng.random_range(0..instants.len())],
                })
                .collect();
            let amount = if case % 50 == 7 {
                extremes[(case / 50) % extremes.len()]
            } else {
                Decimal::new(
                    rng.random_range(-1_000_000_000_000..1_000_000_000_000),
                    rng.random_range(0..5),
                )
            };
            let deal = Deal {
                created_at: t0(),
                lead_converted_at: rng
                    .random_bool(0.7)
                    .then(|| t0() + TimeDelta::seconds(rng.random_range(-100 * 86_400..86_400))),
                amount,
            };
            let counted = touches.iter().filter(|t| t.at <= t0()).count();
            let unit = Decimal::new(1, amount.scale().max(2));
            for model in M::ALL {
                let credits = attribute(model, &deal, &touches);
                let context = format!("case {case}, {model}, {amount}, {n} touches");
                assert_eq!(credits.len(), counted, "{context}");
                if credits.is_empty() {
                    continue;
                }
                let sum = credits.iter().map(|c| c.amount).sum::<Decimal>();
                assert_eq!(sum, amount, "{context}");
                let weights: f64 = credits.iter().map(|c| c.weight).sum();
                assert!((weights - 1.0).abs() < 1e-9, "{context}: {weights}");
                for c in &credits {
                    // The same sign as the amount, and 0 without a share.
                    assert!(
                        c.amount.is_zero()
                            || c.amount.is_sign_negative() == amount.is_sign_negative()
                    );
                    assert!(c.weight > 0.0 || c.amount.is_zero(), "{context}");
                    // Within one unit of the exact share (checked where f64 is
                    // precise enough to tell).
                    if amount.abs() < Decimal::from(1_000_000_000_000_i64) && amount.scale() <= 4 {
                        let exact = amount * Decimal::try_from(c.weight).unwrap();
                        assert!((c.amount - exact).abs() <= unit, "{context}: {c:?}");
                    }
                }
                let order: Vec<_> = credits.iter().map(|c| c.touch_id).collect();
                let mut sorted: Vec<_> = touches.iter().filter(|t| t.at <= t0()).collect();
                sorted.sort_by_key(|t| (t.at, t.id));
                assert!(order.iter().eq(sorted.iter().map(|t| &t.id)), "{context}");
            }
        }
    }
}
