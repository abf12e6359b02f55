//! Closed-loop analytics: what happened to a campaign's leads after the
//! handoff ([`campaign`]), why deals were won or lost ([`win_loss`]), why
//! sales rejected leads ([`rejections`]), and which campaigns the revenue
//! is credited to ([`attribution`]).
//!
//! Counts are SQL aggregates (raw SQL that runs on SQLite and PostgreSQL,
//! written with [`crate::services::sql`]), grouped into a handful of rows
//! that are folded here. Only attribution loads rows: the campaign touches
//! of the opportunities concerned, at most [`MAX_ATTRIBUTED_OPPORTUNITIES`]
//! of them per request, because the shares are computed by
//! [`crate::domain::attribution`] (shared by campaign performance and the
//! CAMPAIGN_ROI KPI). The KPI engine reads the win/loss statement for
//! LOSS_REASONS and COMPETITOR_WIN_RATES and the attributed revenue for
//! CAMPAIGN_ROI, so the numbers agree.
//!
//! Definitions (docs/analytics.md, "Closed-loop analytics", repeats them):
//!
//! - A period is whole UTC days, both included
//!   ([`Period`](crate::domain::period::Period)): `from` 00:00
//!   up to the day after `to`, 00:00. Each count uses one timestamp: a
//!   touch its `occurredAt`; a sourced lead its `createdAt`; MQL, accepted,
//!   rejected and SQL the time of that stage change (so a lead recycled and
//!   qualified again counts each time); an opportunity its `createdAt`; won
//!   and lost its `closedAt`; spend its day.
//! - A lead belongs to a campaign's funnel for an event when the campaign is
//!   its source campaign, or the lead had a touch of the campaign at or
//!   before the event (for an opportunity: before its creation, the rule of
//!   attribution).
//! - Soft-deleted records count nowhere: activities, leads (for the
//!   lead-based counts), opportunities, feedback, spend, and touches of
//!   deleted campaigns.

mod attribution;
mod campaign;
mod rejections;
mod win_loss;

use std::collections::BTreeMap;

use entity::enums::{Channel, FeedbackReason, OpportunityType, RejectionReason, SourcedBy};
use rust_decimal::Decimal;
use sea_orm::{ActiveEnum, QueryResult};
use uuid::Uuid;

pub(crate) use self::{
    attribution::attributed_revenue,
    win_loss::{closed_deals_sql, win_loss_of},
};
pub use self::{
    attribution::{MAX_ATTRIBUTED_OPPORTUNITIES, OpportunityTouch, OpportunityTouches, touches_of},
    campaign::campaign_performance,
    rejections::lead_rejection_analysis,
    win_loss::win_loss_analysis,
};
use crate::error::{AppError, AppResult};

/// A count with a denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ratio {
    /// The part.
    pub numerator: i64,
    /// The whole.
    pub denominator: i64,
}

impl Ratio {
    /// `numerator / denominator`, `None` when the denominator is 0.
    pub fn value(&self) -> Option<f64> {
        (self.denominator != 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    /// Exact amount.
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
}

/// How often a reason was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCount<R> {
    /// The reason.
    pub reason: R,
    /// How many times.
    pub count: i64,
}

/// Deals won and lost against one competitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetitorRecord {
    /// The competitor.
    pub competitor_id: Uuid,
    /// Deals won where feedback named it.
    pub won: i64,
    /// Deals lost where feedback named it.
    pub lost: i64,
}

/// Won and lost deals with their feedback, for one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinLoss {
    /// Deals closed won.
    pub won: i64,
    /// Deals closed lost.
    pub lost: i64,
    /// Primary reasons of the lost deals' feedback, most frequent first.
    pub loss_reasons: Vec<ReasonCount<FeedbackReason>>,
    /// Primary reasons of the won deals' feedback, most frequent first.
    pub win_reasons: Vec<ReasonCount<FeedbackReason>>,
    /// Competitors named in the feedback, most losses first.
    pub competitors: Vec<CompetitorRecord>,
    /// Closed deals with feedback for their outcome.
    pub with_feedback: i64,
    /// Sum of the lead-fit ratings given.
    pub fit_rating_sum: i64,
    /// How many feedback entries have a lead-fit rating.
    pub fit_rating_count: i64,
}

impl WinLoss {
    /// won / (won + lost).
    pub fn win_rate(&self) -> Ratio {
        Ratio {
            numerator: self.won,
            denominator: self.won + self.lost,
        }
    }

    /// The mean lead-fit rating, `None` when no feedback rated it.
    pub fn average_fit_rating(&self) -> Option<f64> {
        (self.fit_rating_count != 0)
            .then(|| self.fit_rating_sum as f64 / self.fit_rating_count as f64)
    }
}

/// Lead stage changes that matter here, for one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transitions {
    /// Entries into MQL.
    pub mqls: i64,
    /// MQL -> SAL.
    pub accepted: i64,
    /// MQL -> NURTURE.
    pub rejected_at_mql: i64,
    /// MQL or SAL -> NURTURE (rejectLead), with their reasons.
    pub rejected: i64,
    /// The reasons of `rejected`, most frequent first.
    pub rejection_reasons: Vec<ReasonCount<RejectionReason>>,
    /// Entries into SQL.
    pub sqls: i64,
}

impl Transitions {
    /// MQLs accepted or rejected (MQL -> SAL or MQL -> NURTURE).
    pub fn dispositioned(&self) -> i64 {
        self.accepted + self.rejected_at_mql
    }
}

/// Everything `Campaign.performance` shows.
#[derive(Debug, Clone, Default)]
pub struct CampaignPerformance {
    /// Campaign touches (activities) that occurred in the period.
    pub touches: i64,
    /// Leads whose source campaign it is, created in the period.
    pub leads_sourced: i64,
    /// Distinct leads with a touch of it in the period.
    pub leads_influenced: i64,
    /// Stage changes of its leads in the period.
    pub transitions: Transitions,
    /// Opportunities of its leads created in the period.
    pub opportunities: i64,
    /// Deals of its leads closed in the period.
    pub win_loss: WinLoss,
    /// Spend per currency dated in the period.
    pub spend: Vec<Amount>,
    /// Credits to it from opportunities created in the period.
    pub attributed_pipeline: Vec<Amount>,
    /// Credits to it from opportunities won in the period.
    pub attributed_revenue: Vec<Amount>,
}

/// Dimensions win/loss feedback is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinLossDimension {
    /// The primary lead's source.
    Source,
    /// The primary lead's source campaign.
    Campaign,
    /// The account's industry.
    Industry,
    /// Who sourced the deal.
    SourcedBy,
    /// The kind of deal.
    OpportunityType,
    /// The month the deal closed in, `YYYY-MM` in UTC.
    CloseMonth,
}

/// Dimensions lead rejections are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionDimension {
    /// The lead's source.
    Source,
    /// The lead's source campaign.
    Campaign,
}

/// The value of a group's dimension; `None` in a group means "none" (a
/// deal without a lead, an account without an industry) or "everything"
/// when not grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// A lead source.
    Source(Channel),
    /// A campaign.
    Campaign(Uuid),
    /// Free text: an industry or a month.
    Text(String),
    /// Who sourced a deal.
    SourcedBy(SourcedBy),
    /// A kind of deal.
    OpportunityType(OpportunityType),
}

/// One group of [`win_loss_analysis`].
#[derive(Debug, Clone)]
pub struct WinLossGroup {
    /// The group's value of the dimension.
    pub key: Option<GroupKey>,
    /// Its deals.
    pub win_loss: WinLoss,
}

/// One group of [`lead_rejection_analysis`].
#[derive(Debug, Clone)]
pub struct RejectionGroup {
    /// The group's value of the dimension.
    pub key: Option<GroupKey>,
    /// Its leads' dispositions.
    pub transitions: Transitions,
}

fn stored<E: ActiveEnum<Value = String>>(row: &QueryResult, col: &str) -> AppResult<Option<E>> {
    let raw: Option<String> = row.try_get("", col)?;
    raw.map(|s| {
        E::try_from_value(&s)
            .map_err(|_| AppError::Internal(format!("unknown stored value {s:?} in {col}")))
    })
    .transpose()
}

fn int(row: &QueryResult, col: &str) -> AppResult<i64> {
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

/// A stored reason with its name, for sorting.
trait Named: Copy {
    fn name(self) -> &'static str;
}
impl Named for FeedbackReason {
    fn name(self) -> &'static str {
        self.as_str()
    }
}
impl Named for RejectionReason {
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Counts per reason.
struct Tally<R: Named> {
    by_name: BTreeMap<&'static str, (R, i64)>,
}

impl<R: Named> Default for Tally<R> {
    fn default() -> Self {
        Self {
            by_name: BTreeMap::new(),
        }
    }
}

impl<R: Named> Tally<R> {
    fn add(&mut self, reason: R, n: i64) {
        self.by_name.entry(reason.name()).or_insert((reason, 0)).1 += n;
    }

    /// Most frequent first, ties by name.
    fn into_sorted(self) -> Vec<ReasonCount<R>> {
        let mut v: Vec<(&'static str, ReasonCount<R>)> = self
            .by_name
            .into_iter()
            .map(|(name, (reason, count))| (name, ReasonCount { reason, count }))
            .collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        v.into_iter().map(|(_, c)| c).collect()
    }
}

impl GroupKey {
    /// Orders groups: by the stored text of the key.
    fn sort_text(&self) -> String {
        match self {
            Self::Source(c) => c.as_str().to_owned(),
            Self::Campaign(id) => id.to_string(),
            Self::Text(t) => t.clone(),
            Self::SourcedBy(s) => s.as_str().to_owned(),
            Self::OpportunityType(t) => t.as_str().to_owned(),
        }
    }
}

/// Groups in key order, "none" first.
type Groups<T> = BTreeMap<Option<String>, (Option<GroupKey>, T)>;

fn group_entry<T: Default>(groups: &mut Groups<T>, key: Option<GroupKey>) -> &mut T {
    let text = key.as_ref().map(GroupKey::sort_text);
    &mut groups.entry(text).or_insert_with(|| (key, T::default())).1
}

/// Reads a group key column.
fn group_key(row: &QueryResult, dim: Option<KeyKind>) -> AppResult<Option<GroupKey>> {
    Ok(match dim {
        None => None,
        Some(KeyKind::Source) => stored::<Channel>(row, "k")?.map(GroupKey::Source),
        Some(KeyKind::Campaign) => row
            .try_get::<Option<Uuid>>("", "k")?
            .map(GroupKey::Campaign),
        Some(KeyKind::Text) => row.try_get::<Option<String>>("", "k")?.map(GroupKey::Text),
        Some(KeyKind::SourcedBy) => stored::<SourcedBy>(row, "k")?.map(GroupKey::SourcedBy),
        Some(KeyKind::OpportunityType) => {
            stored::<OpportunityType>(row, "k")?.map(GroupKey::OpportunityType)
        }
    })
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Source,
    Campaign,
    Text,
    SourcedBy,
    OpportunityType,
}

/// Not grouped, the answer is one group, with zeros when nothing happened.
fn one_group_at_least<T: Default>(
    mut groups: Vec<(Option<GroupKey>, T)>,
    ungrouped: bool,
) -> Vec<(Option<GroupKey>, T)> {
    if ungrouped && groups.is_empty() {
        groups.push((None, T::default()));
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_has_no_value_over_zero() {
        let r = Ratio {
            numerator: 1,
            denominator: 4,
        };
        assert_eq!(r.value(), Some(0.25));
        assert_eq!(Ratio::default().value(), None);
    }

    #[test]
    fn reasons_sort_by_count_then_name() {
        let mut t = Tally::default();
        t.add(FeedbackReason::Timing, 1);
        t.add(FeedbackReason::Price, 2);
        t.add(FeedbackReason::Budget, 1);
        t.add(FeedbackReason::Timing, 1);
        let got: Vec<(&str, i64)> = t
            .into_sorted()
            .into_iter()
            .map(|c| (c.reason.as_str(), c.count))
            .collect();
        assert_eq!(got, [("PRICE", 2), ("TIMING", 2), ("BUDGET", 1)]);
    }
}
