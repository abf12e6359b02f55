//! Closed-loop analytics: what happened to a campaign's leads after the
//! handoff, why deals were won or lost, why sales rejected leads, and which
//! campaigns the revenue is credited to.
//!
//! Counts are SQL aggregates (raw SQL that runs on SQLite and PostgreSQL),
//! grouped into a handful of rows that are folded here. Only attribution
//! loads rows: the campaign touches of the opportunities concerned, at most
//! [`MAX_ATTRIBUTED_OPPORTUNITIES`] of them per request, because the shares
//! are computed by [`crate::domain::attribution`] (in [`campaign_credits`],
//! shared by campaign performance and the CAMPAIGN_ROI KPI).
//!
//! Definitions (docs/analytics.md, "Closed-loop analytics", repeats them):
//!
//! - A period is `from <= t < to` (the API passes whole UTC days, both
//!   included: [`Period::whole_days`]). Each count uses one timestamp: a touch its
//!   `occurredAt`; a sourced lead its `createdAt`; MQL, accepted, rejected and
//!   SQL the time of that stage change (so a lead recycled and qualified
//!   again counts each time); an opportunity its `createdAt`; won and lost
//!   its `closedAt`; spend its day (an entry counts when its day begins in
//!   the period, in UTC).
//! - A lead belongs to a campaign's funnel for an event when the campaign is
//!   its source campaign, or the lead had a touch of the campaign at or
//!   before the event (for an opportunity: before its creation, the rule of
//!   attribution).
//! - Soft-deleted records count nowhere: activities, leads (for the
//!   lead-based counts), opportunities, feedback, spend, and touches of
//!   deleted campaigns.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use entity::enums::{
    ActivityKind, Channel, FeedbackReason, OpportunityStage, OpportunityType, RejectionReason,
    SourcedBy,
};
use rust_decimal::Decimal;
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use super::kpis::Segment;
use crate::{
    auth::{Action, Viewer},
    domain::{
        attribution::{self, AttributionModel, Deal, Touch},
        validate::day_start,
    },
    error::{AppError, AppResult},
};

/// Most opportunities whose touches one campaign's attributed pipeline and
/// revenue may load; a period with more is refused (ask for a shorter one).
pub const MAX_ATTRIBUTED_OPPORTUNITIES: usize = 5_000;

/// Most opportunity ids bound in one statement (far under both engines'
/// bind-parameter limits).
const ID_CHUNK: usize = 500;

/// A period: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// First instant included.
    pub from: DateTime<Utc>,
    /// First instant excluded.
    pub to: DateTime<Utc>,
}

impl Period {
    /// A period, refused (BAD_USER_INPUT naming `to`) unless `from < to`.
    /// Both ends are truncated to microseconds, the precision timestamps
    /// are stored with.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> AppResult<Self> {
        let micros = |t: DateTime<Utc>| DateTime::from_timestamp_micros(t.timestamp_micros());
        let (Some(from), Some(to)) = (micros(from), micros(to)) else {
            return Err(AppError::BadUserInput(
                "`from` or `to` is out of range".into(),
            ));
        };
        if from >= to {
            return Err(AppError::BadUserInput(
                "`to` must be after `from` (the period is from <= t < to)".into(),
            ));
        }
        Ok(Self { from, to })
    }

    /// The whole UTC days `from..=to` (both included), as the API takes
    /// periods everywhere: from `from` 00:00 to the day after `to`, 00:00.
    /// Refused (BAD_USER_INPUT naming `from`) when `from` is after `to`.
    pub fn whole_days(from: NaiveDate, to: NaiveDate) -> AppResult<Self> {
        let days = crate::domain::kpi::Period::new(from, to)
            .map_err(|e| AppError::BadUserInput(e.message))?;
        Self::new(day_start(days.from), day_start(days.end()))
    }

    /// The days whose start (00:00 UTC) lies in the period, as an inclusive
    /// range; `None` when there is none.
    pub fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let midnight = |t: DateTime<Utc>| t.date_naive().and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        let first = if midnight(self.from) == Some(self.from) {
            self.from.date_naive()
        } else {
            self.from.date_naive().succ_opt()?
        };
        // The last day starting before `to`.
        let last = self
            .to
            .checked_sub_signed(TimeDelta::microseconds(1))?
            .date_naive();
        (first <= last).then_some((first, last))
    }
}

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

/// A campaign touch counted for one opportunity.
#[derive(Debug, Clone)]
pub struct OpportunityTouch {
    /// The touch.
    pub touch: Touch,
    /// The activity's kind.
    pub kind: ActivityKind,
}

/// What attributing one opportunity needs besides its amount.
#[derive(Debug, Clone, Default)]
pub struct OpportunityTouches {
    /// When its primary lead converted: its `mqlAt`, else its `createdAt`.
    pub lead_converted_at: Option<DateTime<Utc>>,
    /// Campaign touches of its primary lead at or before its creation, in
    /// (time, id) order.
    pub touches: Vec<OpportunityTouch>,
}

/// Builds a statement with numbered placeholders (`$1`, `$2`, ...), which
/// both engines bind by number.
struct Sql {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Sql {
    fn new(db: &impl ConnectionTrait) -> Self {
        Self {
            backend: db.get_database_backend(),
            values: Vec::new(),
        }
    }

    /// Binds a value and returns its placeholder.
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
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

/// The condition "lead `l` belongs to campaign `campaign` at `at`": its
/// source campaign, or touched by it at or before `at`.
fn member(campaign: &str, at: &str) -> String {
    format!(
        "(l.source_campaign_id = {campaign} OR EXISTS (SELECT 1 FROM activities ca \
         WHERE ca.lead_id = l.id AND ca.campaign_id = {campaign} AND ca.deleted_at IS NULL \
         AND ca.occurred_at <= {at}))"
    )
}

/// The ids of every lead that can belong to the campaign: those it sourced
/// and those with any live touch of it (a superset of [`member`] at any
/// moment). It lets the database start from the campaign's leads rather
/// than from every stage change or deal of the period.
fn candidates(campaign: &str) -> String {
    format!(
        "SELECT cl.id FROM leads cl WHERE cl.source_campaign_id = {campaign} \
         UNION SELECT ct.lead_id FROM activities ct \
         WHERE ct.campaign_id = {campaign} AND ct.deleted_at IS NULL"
    )
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

/// Lead stage changes in the period (MQL, SAL, SQL, NURTURE), of live
/// leads, grouped by `key` (an SQL expression over `l` and `s`, or none).
/// `extra` is a further condition, already bound into `sql`.
async fn transitions(
    db: &impl ConnectionTrait,
    mut sql: Sql,
    period: Period,
    key: Option<(&str, KeyKind)>,
    extra: Option<String>,
) -> AppResult<Vec<(Option<GroupKey>, Transitions)>> {
    let from = sql.bind(period.from);
    let to = sql.bind(period.to);
    let key_expr = key.map_or("NULL", |(k, _)| k);
    // PostgreSQL refuses `GROUP BY NULL`.
    let group = key.map(|(k, _)| format!("{k}, ")).unwrap_or_default();
    let text = format!(
        "SELECT {key_expr} AS k, s.from_stage, s.to_stage, s.reason, COUNT(*) AS n \
         FROM stage_changes s JOIN leads l ON l.id = s.subject_id AND l.deleted_at IS NULL \
         WHERE s.subject_type = 'LEAD' AND s.at >= {from} AND s.at < {to} \
         AND s.to_stage IN ('MQL', 'SAL', 'SQL', 'NURTURE') {} \
         GROUP BY {group}s.from_stage, s.to_stage, s.reason",
        extra.map(|e| format!("AND {e}")).unwrap_or_default()
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    let mut groups: Groups<(Transitions, Tally<RejectionReason>)> = BTreeMap::new();
    for row in &rows {
        let k = group_key(row, key.map(|(_, kind)| kind))?;
        let from_stage: Option<String> = row.try_get("", "from_stage")?;
        let to_stage: String = row.try_get("", "to_stage")?;
        let reason: Option<String> = row.try_get("", "reason")?;
        let n = int(row, "n")?;
        let (t, tally) = group_entry(&mut groups, k);
        match (from_stage.as_deref(), to_stage.as_str()) {
            (_, "MQL") => t.mqls += n,
            (_, "SQL") => t.sqls += n,
            (Some("MQL"), "SAL") => t.accepted += n,
            (Some(from @ ("MQL" | "SAL")), "NURTURE") => {
                t.rejected += n;
                if from == "MQL" {
                    t.rejected_at_mql += n;
                }
                // Rejections always carry a reason; an unknown one is OTHER.
                let reason = reason
                    .as_deref()
                    .and_then(|r| RejectionReason::try_from_value(&r.to_owned()).ok())
                    .unwrap_or(RejectionReason::Other);
                tally.add(reason, n);
            }
            _ => {}
        }
    }
    Ok(groups
        .into_values()
        .map(|(k, (mut t, tally))| {
            t.rejection_reasons = tally.into_sorted();
            (k, t)
        })
        .collect())
}

/// Live opportunities closed won or lost in the period, with the feedback
/// matching their outcome, grouped by `key` (an SQL expression over `o`,
/// `l` (the primary lead, possibly absent) and `acc` (the account)).
async fn closed_deals(
    db: &impl ConnectionTrait,
    mut sql: Sql,
    period: Period,
    key: Option<(&str, KeyKind)>,
    extra: Option<String>,
) -> AppResult<Vec<(Option<GroupKey>, WinLoss)>> {
    let from = sql.bind(period.from);
    let to = sql.bind(period.to);
    let key_expr = key.map_or("NULL", |(k, _)| k);
    let group = key.map(|(k, _)| format!("{k}, ")).unwrap_or_default();
    let text = format!(
        "SELECT {key_expr} AS k, o.stage, f.primary_reason, f.competitor_id, COUNT(*) AS n, \
         COUNT(f.id) AS with_feedback, COUNT(f.lead_fit_rating) AS rated, \
         SUM(f.lead_fit_rating) AS rating_sum \
         FROM opportunities o \
         LEFT JOIN leads l ON l.id = o.primary_lead_id \
         LEFT JOIN accounts acc ON acc.id = o.account_id \
         LEFT JOIN win_loss_feedback f ON f.opportunity_id = o.id AND f.deleted_at IS NULL \
           AND f.outcome = CASE o.stage WHEN 'CLOSED_WON' THEN 'WON' ELSE 'LOST' END \
         WHERE o.deleted_at IS NULL AND o.stage IN ('CLOSED_WON', 'CLOSED_LOST') \
         AND o.closed_at >= {from} AND o.closed_at < {to} {} \
         GROUP BY {group}o.stage, f.primary_reason, f.competitor_id",
        extra.map(|e| format!("AND {e}")).unwrap_or_default()
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    type Acc = (
        WinLoss,
        Tally<FeedbackReason>,
        Tally<FeedbackReason>,
        BTreeMap<Uuid, (i64, i64)>,
    );
    let mut groups: Groups<Acc> = BTreeMap::new();
    for row in &rows {
        let k = group_key(row, key.map(|(_, kind)| kind))?;
        let won = stored::<OpportunityStage>(row, "stage")? == Some(OpportunityStage::ClosedWon);
        let reason = stored::<FeedbackReason>(row, "primary_reason")?;
        let competitor: Option<Uuid> = row.try_get("", "competitor_id")?;
        let n = int(row, "n")?;
        let (w, losses, wins, competitors) = group_entry(&mut groups, k);
        if won {
            w.won += n;
        } else {
            w.lost += n;
        }
        w.with_feedback += int(row, "with_feedback")?;
        w.fit_rating_count += int(row, "rated")?;
        w.fit_rating_sum += int(row, "rating_sum")?;
        if let Some(reason) = reason {
            if won {
                wins.add(reason, n);
            } else {
                losses.add(reason, n);
            }
        }
        if let Some(c) = competitor {
            let entry = competitors.entry(c).or_default();
            if won {
                entry.0 += n;
            } else {
                entry.1 += n;
            }
        }
    }
    Ok(groups
        .into_values()
        .map(|(k, (mut w, losses, wins, competitors))| {
            w.loss_reasons = losses.into_sorted();
            w.win_reasons = wins.into_sorted();
            let mut c: Vec<CompetitorRecord> = competitors
                .into_iter()
                .map(|(competitor_id, (won, lost))| CompetitorRecord {
                    competitor_id,
                    won,
                    lost,
                })
                .collect();
            // Most losses first, then most deals, then by id (stable).
            c.sort_by(|a, b| {
                b.lost
                    .cmp(&a.lost)
                    .then((b.won + b.lost).cmp(&(a.won + a.lost)))
                    .then(a.competitor_id.cmp(&b.competitor_id))
            });
            w.competitors = c;
            (k, w)
        })
        .collect())
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

fn win_loss_key(db: &impl ConnectionTrait, dim: WinLossDimension) -> (String, KeyKind) {
    match dim {
        WinLossDimension::Source => ("l.source".into(), KeyKind::Source),
        WinLossDimension::Campaign => ("l.source_campaign_id".into(), KeyKind::Campaign),
        WinLossDimension::Industry => ("acc.industry".into(), KeyKind::Text),
        WinLossDimension::SourcedBy => ("o.sourced_by".into(), KeyKind::SourcedBy),
        WinLossDimension::OpportunityType => {
            ("o.opportunity_type".into(), KeyKind::OpportunityType)
        }
        WinLossDimension::CloseMonth => (
            match db.get_database_backend() {
                DbBackend::Postgres => "to_char(o.closed_at AT TIME ZONE 'UTC', 'YYYY-MM')".into(),
                // SQLite stores timestamps as RFC 3339 text in UTC.
                _ => "substr(o.closed_at, 1, 7)".into(),
            },
            KeyKind::Text,
        ),
    }
}

/// Won and lost deals closed in the period with their feedback, per group
/// of `group_by` (one group when `None`), optionally only one outcome's
/// deals. Groups come in key order, "none" first.
pub async fn win_loss_analysis(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    period: Period,
    group_by: Option<WinLossDimension>,
    only: Option<OpportunityStage>,
) -> AppResult<Vec<WinLossGroup>> {
    viewer.require(Action::ReadRecords)?;
    let key = group_by.map(|d| win_loss_key(db, d));
    let extra = only.map(|stage| match stage {
        OpportunityStage::ClosedWon => "o.stage = 'CLOSED_WON'".to_owned(),
        _ => "o.stage = 'CLOSED_LOST'".to_owned(),
    });
    let groups = closed_deals(
        db,
        Sql::new(db),
        period,
        key.as_ref().map(|(k, kind)| (k.as_str(), *kind)),
        extra,
    )
    .await?;
    Ok(one_group_at_least(groups, group_by.is_none())
        .into_iter()
        .map(|(key, win_loss)| WinLossGroup { key, win_loss })
        .collect())
}

/// Won and lost deals closed in the period with their feedback, over the
/// deals of a KPI segment (the primary lead's source, source campaign and
/// its channel, the deal's owner, the account's industry and target flag):
/// the figures behind the LOSS_REASONS and COMPETITOR_WIN_RATES KPIs, from
/// the very statement [`win_loss_analysis`] runs, so both agree. The caller
/// checks that the viewer may read KPIs.
pub(crate) async fn win_loss_in_segment(
    db: &impl ConnectionTrait,
    period: Period,
    segment: &Segment,
) -> AppResult<WinLoss> {
    let mut sql = Sql::new(db);
    let mut conditions = Vec::new();
    let mut in_list = |sql: &mut Sql, template: &str, values: Vec<Value>| {
        if !values.is_empty() {
            let list: Vec<String> = values.into_iter().map(|v| sql.bind(v)).collect();
            conditions.push(template.replace("{}", &list.join(", ")));
        }
    };
    let channels = |cs: &[Channel]| -> Vec<Value> {
        cs.iter()
            .map(|c| Value::from(c.as_str().to_owned()))
            .collect()
    };
    in_list(&mut sql, "l.source IN ({})", channels(&segment.sources));
    in_list(
        &mut sql,
        "l.source_campaign_id IN ({})",
        segment
            .campaign_ids
            .iter()
            .map(|id| Value::from(*id))
            .collect(),
    );
    in_list(
        &mut sql,
        "l.source_campaign_id IN (SELECT sc.id FROM campaigns sc WHERE sc.channel IN ({}))",
        channels(&segment.channels),
    );
    in_list(
        &mut sql,
        "o.owner_id IN ({})",
        segment
            .owner_ids
            .iter()
            .map(|id| Value::from(*id))
            .collect(),
    );
    in_list(
        &mut sql,
        "acc.industry IN ({})",
        segment
            .industries
            .iter()
            .map(|i| Value::from(i.clone()))
            .collect(),
    );
    if segment.target_accounts_only {
        conditions.push("acc.is_target_account = TRUE".to_owned());
    }
    let extra = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    Ok(closed_deals(db, sql, period, None, extra)
        .await?
        .into_iter()
        .next()
        .map(|(_, w)| w)
        .unwrap_or_default())
}

/// MQL dispositions and rejections in the period per group (by the lead's
/// current source or source campaign; one group when `None`).
pub async fn lead_rejection_analysis(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    period: Period,
    group_by: Option<RejectionDimension>,
) -> AppResult<Vec<RejectionGroup>> {
    viewer.require(Action::ReadRecords)?;
    let key = group_by.map(|d| match d {
        RejectionDimension::Source => ("l.source", KeyKind::Source),
        RejectionDimension::Campaign => ("l.source_campaign_id", KeyKind::Campaign),
    });
    let extra = "((s.from_stage = 'MQL' AND s.to_stage IN ('SAL', 'NURTURE')) \
                 OR (s.from_stage = 'SAL' AND s.to_stage = 'NURTURE'))"
        .to_owned();
    let groups = transitions(db, Sql::new(db), period, key, Some(extra)).await?;
    Ok(one_group_at_least(groups, group_by.is_none())
        .into_iter()
        .map(|(key, transitions)| RejectionGroup { key, transitions })
        .collect())
}

/// One campaign's funnel, outcomes, spend and attributed amounts in the
/// period (see the module documentation for the definitions).
pub async fn campaign_performance(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    campaign_id: Uuid,
    period: Period,
    model: AttributionModel,
) -> AppResult<CampaignPerformance> {
    viewer.require(Action::ReadRecords)?;
    let mut perf = CampaignPerformance::default();

    // Touches, influenced and sourced leads: one statement.
    let mut sql = Sql::new(db);
    let c = sql.bind(campaign_id);
    let from = sql.bind(period.from);
    let to = sql.bind(period.to);
    let text = format!(
        "SELECT \
         (SELECT COUNT(*) FROM activities a JOIN leads l ON l.id = a.lead_id AND l.deleted_at IS NULL \
          WHERE a.campaign_id = {c} AND a.deleted_at IS NULL AND a.occurred_at >= {from} AND a.occurred_at < {to}) AS touches, \
         (SELECT COUNT(DISTINCT a.lead_id) FROM activities a JOIN leads l ON l.id = a.lead_id AND l.deleted_at IS NULL \
          WHERE a.campaign_id = {c} AND a.deleted_at IS NULL AND a.occurred_at >= {from} AND a.occurred_at < {to}) AS influenced, \
         (SELECT COUNT(*) FROM leads l WHERE l.source_campaign_id = {c} AND l.deleted_at IS NULL \
          AND l.created_at >= {from} AND l.created_at < {to}) AS sourced, \
         (SELECT COUNT(*) FROM opportunities o JOIN leads l ON l.id = o.primary_lead_id \
          WHERE o.deleted_at IS NULL AND o.created_at >= {from} AND o.created_at < {to} \
          AND o.primary_lead_id IN ({}) AND {}) AS opportunities",
        candidates(&c),
        member(&c, "o.created_at")
    );
    if let Some(row) = db.query_one_raw(sql.statement(text)).await? {
        perf.touches = int(&row, "touches")?;
        perf.leads_influenced = int(&row, "influenced")?;
        perf.leads_sourced = int(&row, "sourced")?;
        perf.opportunities = int(&row, "opportunities")?;
    }

    // Stage changes of its leads.
    let mut sql = Sql::new(db);
    let c = sql.bind(campaign_id);
    let extra = format!("l.id IN ({}) AND {}", candidates(&c), member(&c, "s.at"));
    perf.transitions = transitions(db, sql, period, None, Some(extra))
        .await?
        .into_iter()
        .next()
        .map(|(_, t)| t)
        .unwrap_or_default();

    // Deals of its leads closed in the period, with their feedback.
    let mut sql = Sql::new(db);
    let c = sql.bind(campaign_id);
    let extra = format!(
        "o.primary_lead_id IN ({}) AND {}",
        candidates(&c),
        member(&c, "o.created_at")
    );
    perf.win_loss = closed_deals(db, sql, period, None, Some(extra))
        .await?
        .into_iter()
        .next()
        .map(|(_, w)| w)
        .unwrap_or_default();

    perf.spend = spend(db, campaign_id, period).await?;
    let (pipeline, revenue) = attributed(db, campaign_id, period, model).await?;
    perf.attributed_pipeline = pipeline;
    perf.attributed_revenue = revenue;
    Ok(perf)
}

/// The campaign's live spend dated in the period, per currency.
async fn spend(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    period: Period,
) -> AppResult<Vec<Amount>> {
    let Some((first, last)) = period.days() else {
        return Ok(Vec::new());
    };
    let mut sql = Sql::new(db);
    let c = sql.bind(campaign_id);
    let first = sql.bind(first);
    let last = sql.bind(last);
    let text = format!(
        "SELECT currency, SUM(amount) AS total FROM campaign_spend \
         WHERE campaign_id = {c} AND deleted_at IS NULL AND spent_on >= {first} AND spent_on <= {last} \
         GROUP BY currency ORDER BY currency"
    );
    db.query_all_raw(sql.statement(text))
        .await?
        .iter()
        .map(|row| {
            Ok(Amount {
                amount: row
                    .try_get::<Option<Decimal>>("", "total")?
                    .unwrap_or_default()
                    .round_dp(2),
                currency: row.try_get("", "currency")?,
            })
        })
        .collect()
}

/// Credits to the campaign under `model`: from opportunities created in the
/// period (pipeline) and from those won in the period (revenue), per
/// currency. Only opportunities with a touch of the campaign can credit it,
/// so only those are loaded, at most [`MAX_ATTRIBUTED_OPPORTUNITIES`].
async fn attributed(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    period: Period,
    model: AttributionModel,
) -> AppResult<(Vec<Amount>, Vec<Amount>)> {
    let mut sql = Sql::new(db);
    let c = sql.bind(campaign_id);
    let from = sql.bind(period.from);
    let to = sql.bind(period.to);
    let text = format!(
        "SELECT o.id, o.created_at, o.closed_at, o.stage, o.amount, o.currency FROM opportunities o \
         WHERE o.deleted_at IS NULL \
         AND ((o.created_at >= {from} AND o.created_at < {to}) \
              OR (o.stage = 'CLOSED_WON' AND o.closed_at >= {from} AND o.closed_at < {to})) \
         AND EXISTS (SELECT 1 FROM activities a JOIN campaigns c ON c.id = a.campaign_id AND c.deleted_at IS NULL \
                     WHERE a.lead_id = o.primary_lead_id AND a.campaign_id = {c} \
                     AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at) \
         ORDER BY o.id LIMIT {}",
        MAX_ATTRIBUTED_OPPORTUNITIES + 1
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    if rows.len() > MAX_ATTRIBUTED_OPPORTUNITIES {
        return Err(AppError::BadUserInput(format!(
            "more than {MAX_ATTRIBUTED_OPPORTUNITIES} opportunities in the period have touches of \
             this campaign: ask for a shorter period (`from`, `to`)"
        )));
    }
    struct Opp {
        id: Uuid,
        created_at: DateTime<Utc>,
        in_pipeline: bool,
        in_revenue: bool,
        amount: Decimal,
        currency: String,
    }
    let in_period = |t: DateTime<Utc>| period.from <= t && t < period.to;
    let mut opps = Vec::with_capacity(rows.len());
    for row in &rows {
        let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
        let closed_at: Option<DateTime<Utc>> = row.try_get("", "closed_at")?;
        let won = stored::<OpportunityStage>(row, "stage")? == Some(OpportunityStage::ClosedWon);
        opps.push(Opp {
            id: row.try_get("", "id")?,
            created_at,
            in_pipeline: in_period(created_at),
            in_revenue: won && closed_at.is_some_and(in_period),
            // SQLite stores REAL: back to cents before sharing out.
            amount: row.try_get::<Decimal>("", "amount")?.round_dp(2),
            currency: row.try_get("", "currency")?,
        });
    }
    let deals: Vec<(Uuid, Deal)> = opps
        .iter()
        .map(|o| {
            (
                o.id,
                Deal {
                    created_at: o.created_at,
                    lead_converted_at: None,
                    amount: o.amount,
                },
            )
        })
        .collect();
    let credits = campaign_credits(db, &deals, model).await?;
    let mut pipeline: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    for opp in &opps {
        let Some(credit) = credits
            .get(&opp.id)
            .and_then(|c| c.get(&campaign_id))
            .copied()
        else {
            continue;
        };
        if opp.in_pipeline {
            let e = pipeline.entry(opp.currency.clone()).or_default();
            *e = e.saturating_add(credit);
        }
        if opp.in_revenue {
            let e = revenue.entry(opp.currency.clone()).or_default();
            *e = e.saturating_add(credit);
        }
    }
    let amounts = |m: BTreeMap<String, Decimal>| {
        m.into_iter()
            .map(|(currency, amount)| Amount { amount, currency })
            .collect()
    };
    Ok((amounts(pipeline), amounts(revenue)))
}

/// Each deal's credits per campaign under `model`, from the campaign
/// touches of its primary lead ([`touches_of`]); `lead_converted_at` of the
/// given deals is replaced by the lead's. Deals without touches are absent.
/// The one place where attribution loads rows, shared by campaign
/// performance and the CAMPAIGN_ROI KPI; callers bound the deals to
/// [`MAX_ATTRIBUTED_OPPORTUNITIES`].
async fn campaign_credits(
    db: &impl ConnectionTrait,
    deals: &[(Uuid, Deal)],
    model: AttributionModel,
) -> AppResult<HashMap<Uuid, BTreeMap<Uuid, Decimal>>> {
    let ids: Vec<Uuid> = deals.iter().map(|(id, _)| *id).collect();
    let touches = touches_of(db, &ids).await?;
    let mut out = HashMap::with_capacity(touches.len());
    for (id, deal) in deals {
        let Some(t) = touches.get(id) else {
            continue;
        };
        let deal = Deal {
            lead_converted_at: t.lead_converted_at,
            ..*deal
        };
        let plain: Vec<Touch> = t.touches.iter().map(|t| t.touch).collect();
        let credits = attribution::attribute(model, &deal, &plain);
        out.insert(*id, attribution::campaign_totals(&credits));
    }
    Ok(out)
}

/// Revenue credited to each campaign under `model`: the deals won in the
/// period in `currency` whose primary lead had a live campaign touch at or
/// before the deal's creation, shared out by [`campaign_credits`]. At most
/// [`MAX_ATTRIBUTED_OPPORTUNITIES`] deals are loaded; a period with more is
/// refused naming `argument`. The numerator of the CAMPAIGN_ROI KPI; the
/// caller checks that the viewer may read KPIs.
pub(crate) async fn attributed_revenue(
    db: &impl ConnectionTrait,
    period: Period,
    currency: &str,
    model: AttributionModel,
    argument: &str,
) -> AppResult<BTreeMap<Uuid, Decimal>> {
    let mut sql = Sql::new(db);
    let from = sql.bind(period.from);
    let to = sql.bind(period.to);
    let cur = sql.bind(currency.to_owned());
    let text = format!(
        "SELECT o.id, o.created_at, o.amount FROM opportunities o \
         WHERE o.deleted_at IS NULL AND o.stage = 'CLOSED_WON' \
         AND o.closed_at >= {from} AND o.closed_at < {to} AND o.currency = {cur} \
         AND EXISTS (SELECT 1 FROM activities a JOIN campaigns c ON c.id = a.campaign_id AND c.deleted_at IS NULL \
                     WHERE a.lead_id = o.primary_lead_id AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at) \
         ORDER BY o.id LIMIT {}",
        MAX_ATTRIBUTED_OPPORTUNITIES + 1
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    if rows.len() > MAX_ATTRIBUTED_OPPORTUNITIES {
        return Err(AppError::BadUserInput(format!(
            "`{argument}`: more than {MAX_ATTRIBUTED_OPPORTUNITIES} deals won in the period have \
             campaign touches to attribute: ask for a shorter period"
        )));
    }
    let mut deals = Vec::with_capacity(rows.len());
    for row in &rows {
        deals.push((
            row.try_get::<Uuid>("", "id")?,
            Deal {
                created_at: row.try_get("", "created_at")?,
                lead_converted_at: None,
                // SQLite stores REAL: back to cents before sharing out.
                amount: row.try_get::<Decimal>("", "amount")?.round_dp(2),
            },
        ));
    }
    let mut totals: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for credits in campaign_credits(db, &deals, model).await?.into_values() {
        for (campaign, amount) in credits {
            let e = totals.entry(campaign).or_default();
            *e = e.saturating_add(amount);
        }
    }
    Ok(totals)
}

/// The campaign touches each opportunity is attributed over: live
/// activities with a live campaign, of its primary lead, at or before its
/// creation. One statement per [`ID_CHUNK`] opportunities; opportunities
/// without touches are absent from the map.
pub async fn touches_of(
    db: &impl ConnectionTrait,
    opportunity_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, OpportunityTouches>> {
    let mut out: HashMap<Uuid, OpportunityTouches> = HashMap::new();
    for chunk in opportunity_ids.chunks(ID_CHUNK) {
        let mut sql = Sql::new(db);
        let list: Vec<String> = chunk.iter().map(|id| sql.bind(*id)).collect();
        let text = format!(
            "SELECT o.id AS opportunity_id, a.id AS activity_id, a.kind, a.occurred_at, a.campaign_id, \
             l.mql_at, l.created_at AS lead_created_at \
             FROM opportunities o \
             JOIN leads l ON l.id = o.primary_lead_id \
             JOIN activities a ON a.lead_id = l.id AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at \
             JOIN campaigns c ON c.id = a.campaign_id AND c.deleted_at IS NULL \
             WHERE o.id IN ({})",
            list.join(", ")
        );
        for row in db.query_all_raw(sql.statement(text)).await? {
            let opportunity_id: Uuid = row.try_get("", "opportunity_id")?;
            let mql_at: Option<DateTime<Utc>> = row.try_get("", "mql_at")?;
            let lead_created_at: DateTime<Utc> = row.try_get("", "lead_created_at")?;
            let Some(kind) = stored::<ActivityKind>(&row, "kind")? else {
                continue;
            };
            let entry = out.entry(opportunity_id).or_default();
            entry.lead_converted_at = Some(mql_at.unwrap_or(lead_created_at));
            entry.touches.push(OpportunityTouch {
                touch: Touch {
                    id: row.try_get("", "activity_id")?,
                    campaign_id: row.try_get("", "campaign_id")?,
                    at: row.try_get("", "occurred_at")?,
                },
                kind,
            });
        }
    }
    for t in out.values_mut() {
        t.touches.sort_by_key(|t| (t.touch.at, t.touch.id));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_period_counts_the_days_that_begin_in_it() {
        // March: 1 March 00:00 up to 1 April 00:00 -> 1..=31 March.
        let p = Period::new(at(2026, 3, 1, 0), at(2026, 4, 1, 0)).ok();
        assert_eq!(
            p.and_then(|p| p.days()),
            Some((day(2026, 3, 1), day(2026, 3, 31)))
        );
        // From noon on the 1st to noon on the 3rd: only the 2nd and the 3rd begin in it.
        let p = Period::new(at(2026, 3, 1, 12), at(2026, 3, 3, 12)).ok();
        assert_eq!(
            p.and_then(|p| p.days()),
            Some((day(2026, 3, 2), day(2026, 3, 3)))
        );
        // Within one day, after its start: no day.
        let p = Period::new(at(2026, 3, 1, 1), at(2026, 3, 1, 23)).ok();
        assert_eq!(p.and_then(|p| p.days()), None);
    }

    #[test]
    fn a_period_must_end_after_it_starts() {
        assert!(Period::new(at(2026, 3, 1, 0), at(2026, 3, 1, 0)).is_err());
        assert!(Period::new(at(2026, 3, 2, 0), at(2026, 3, 1, 0)).is_err());
    }

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
