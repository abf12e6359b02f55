//! The KPI engine: every KPI of the catalogue (`domain::kpi`) computed by SQL
//! aggregates, the same statements on SQLite and PostgreSQL.
//!
//! Each KPI is one or two aggregate statements ("measures") over leads,
//! their stage history, opportunities or campaign spend, grouped by a
//! dimension or by time bucket. Time buckets are computed in Rust
//! (`domain::kpi::buckets`): a series is one aggregate per bucket over its
//! range (see `measure_sql`), or one pass mapping rows to buckets by a
//! balanced `CASE` over the boundaries, so no engine-specific date function
//! is needed and an empty bucket is simply zero. The only
//! engine-specific SQL is the difference between two timestamps. Rust only
//! ever sees aggregated rows (one per group or bucket), with one sanctioned
//! exception: CAMPAIGN_ROI's attributed revenue, computed over the touches
//! of the deals won in the period by `analytics::attributed_revenue` (at
//! most `analytics::MAX_ATTRIBUTED_OPPORTUNITIES` deals, else the request
//! is refused). LOSS_REASONS and COMPETITOR_WIN_RATES are the aggregate
//! statement of `analytics::win_loss_analysis`, over the request's segment.
//!
//! Money: amounts are summed only for records in the request's currency
//! (USD unless asked otherwise); there is no currency conversion.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    enums::{ChangeOperation, Channel, ObjectType, PeriodKind, SegmentDimension, TargetDirection},
    kpi_target,
};
use futures_util::{FutureExt, StreamExt, TryFutureExt, TryStreamExt, future::BoxFuture};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement, Value,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{analytics, records};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::attribution::AttributionModel,
    domain::kpi::{
        self, Base, Dimension, Granularity, Kpi, Period, TargetOutcome, Unit, elapsed_fraction,
        round_cents, target_outcome,
    },
    error::{AppError, AppResult, FieldError, UserErrorCode},
};

/// Segment filters; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    /// Lead sources (for spend: the campaign's channel).
    pub sources: Vec<Channel>,
    /// Campaigns (the lead's source campaign; for spend the campaign).
    pub campaign_ids: Vec<Uuid>,
    /// Channels of the lead's source campaign (for spend: the campaign's).
    pub channels: Vec<Channel>,
    /// Owners of the lead (of the opportunity for deal KPIs).
    pub owner_ids: Vec<Uuid>,
    /// Industries of the account.
    pub industries: Vec<String>,
    /// Only leads and deals of target accounts.
    pub target_accounts_only: bool,
}

impl Segment {
    fn is_empty(&self) -> bool {
        *self == Segment::default()
    }

    /// The single (dimension, value) this segment selects, if it selects
    /// exactly one value of one dimension: the segment a target can name.
    fn single(&self) -> Option<(SegmentDimension, String)> {
        let mut found = Vec::new();
        for c in &self.sources {
            found.push((SegmentDimension::Source, c.as_str().to_owned()));
        }
        for id in &self.campaign_ids {
            found.push((SegmentDimension::Campaign, id.to_string()));
        }
        for c in &self.channels {
            found.push((SegmentDimension::Channel, c.as_str().to_owned()));
        }
        for id in &self.owner_ids {
            found.push((SegmentDimension::Owner, id.to_string()));
        }
        for i in &self.industries {
            found.push((SegmentDimension::Industry, i.clone()));
        }
        if found.len() == 1 && !self.target_accounts_only {
            found.pop()
        } else {
            None
        }
    }
}

/// How to split the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// One value per KPI for the whole period.
    None,
    /// One value per value of a dimension.
    Group(Dimension),
    /// One value per time bucket.
    Series(Granularity),
}

/// A KPI request.
#[derive(Debug, Clone)]
pub struct KpiRequest {
    /// The KPIs wanted, in the order to answer them.
    pub kpis: Vec<Kpi>,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Segment filters.
    pub segment: Segment,
    /// A dimension to group by.
    pub group_by: Option<Dimension>,
    /// A time granularity.
    pub granularity: Option<Granularity>,
    /// ISO 4217 currency of money KPIs (default USD).
    pub currency: Option<String>,
    /// How CAMPAIGN_ROI credits revenue to campaigns (default LINEAR).
    pub attribution_model: Option<AttributionModel>,
}

/// How a value stands against a target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFigures {
    /// The target row.
    pub target: kpi_target::Model,
    /// The comparison.
    pub outcome: TargetOutcome,
}

/// One KPI value with what it is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The value; `None` when undefined (a ratio over zero).
    pub value: Option<f64>,
    /// Numerator of ratios and means (for means: the sum).
    pub numerator: Option<f64>,
    /// Denominator of ratios and means (for means: the count).
    pub denominator: Option<f64>,
    /// The mean, for KPIs whose value is a median.
    pub mean: Option<f64>,
    /// The target for exactly this KPI, period and segment, if one is set.
    pub target: Option<TargetFigures>,
}

/// One group of a grouped result.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFigures {
    /// The dimension's value: an enum key, an industry, or a campaign or
    /// user id; `None` for records without one.
    pub key: Option<String>,
    /// The figures.
    pub figures: Figures,
}

/// One bucket of a time series.
#[derive(Debug, Clone, PartialEq)]
pub struct PointFigures {
    /// First day of the bucket.
    pub start: NaiveDate,
    /// Last day of the bucket (inclusive).
    pub end: NaiveDate,
    /// The figures.
    pub figures: Figures,
}

/// The answer for one KPI.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiFigures {
    /// The KPI.
    pub kpi: Kpi,
    /// Currency of money values.
    pub currency: Option<String>,
    /// The whole period.
    pub total: Figures,
    /// Per group (when grouped), ordered by key, records without a value last.
    pub groups: Vec<GroupFigures>,
    /// Per bucket (with a granularity), every bucket of the period.
    pub series: Vec<PointFigures>,
}

/// Which table a measure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Leads,
    /// Leads created in the period with one row each, flagged with the
    /// stages they reached since (from their stage history).
    Cohort,
    MqlEntries,
    MqlDispositions,
    Opportunities,
    Spend,
}

impl Source {
    fn base(self) -> Base {
        match self {
            Self::Leads | Self::Cohort | Self::MqlEntries | Self::MqlDispositions => Base::Leads,
            Self::Opportunities => Base::Opportunities,
            Self::Spend => Base::Spend,
        }
    }
}

/// A parameter of a measure's SQL, bound in order of appearance.
#[derive(Debug, Clone, Copy)]
enum Param {
    Currency,
    Now,
    PeriodEnd,
}

/// One aggregate statement: what it reads, which timestamp places a row in
/// the period, extra conditions and the aggregates. `?` in `cond` and
/// `aggs` stand for `params`, in order.
#[derive(Debug, Clone)]
struct Measure {
    /// Cache key: a measure asked for twice runs once.
    id: &'static str,
    source: Source,
    /// The column that places a row in the period; `None` for measures
    /// whose own conditions select the rows (with `PeriodEnd`).
    ts: Option<&'static str>,
    cond: &'static str,
    cond_params: &'static [Param],
    aggs: &'static [&'static str],
    agg_params: &'static [Param],
}

const COUNT: &[&str] = &["COUNT(*)"];

fn measures(kpi: Kpi) -> Vec<Measure> {
    let m = |id, source, ts, cond, aggs| Measure {
        id,
        source,
        ts: Some(ts),
        cond,
        cond_params: &[],
        aggs,
        agg_params: &[],
    };
    let leads = m("leads", Source::Leads, "l.created_at", "", COUNT);
    // MQL entries alone: the count reads no lead column.
    let mql_count = m("mql_count", Source::MqlEntries, "sc.at", "", COUNT);
    // MQL entries, those touched since, and the hours to the touch.
    let mqls = m(
        "mql_entries",
        Source::MqlEntries,
        "sc.at",
        "",
        &[
            "COUNT(*)",
            "SUM(CASE WHEN l.first_contacted_at >= sc.at THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN l.first_contacted_at >= sc.at THEN {hours:sc.at:l.first_contacted_at} ELSE 0 END)",
        ],
    );
    // Closed in the period: won, closed, won amount and count in the
    // currency. Deals only: without a lead segment it reads no lead.
    let closed = Measure {
        cond: "o.stage IN ('CLOSED_WON', 'CLOSED_LOST')",
        aggs: &[
            "SUM(CASE WHEN o.stage = 'CLOSED_WON' THEN 1 ELSE 0 END)",
            "COUNT(*)",
            "SUM(CASE WHEN o.stage = 'CLOSED_WON' AND o.currency = ? THEN o.amount ELSE 0 END)",
            "SUM(CASE WHEN o.stage = 'CLOSED_WON' AND o.currency = ? THEN 1 ELSE 0 END)",
        ],
        agg_params: &[Param::Currency, Param::Currency],
        ..m("closed", Source::Opportunities, "o.closed_at", "", COUNT)
    };
    // Won in the period, with the days from the primary lead's creation (or
    // the deal's) to the win: its own statement, as it joins the lead.
    let cycle = Measure {
        cond: "o.stage = 'CLOSED_WON'",
        aggs: &[
            "COUNT(*)",
            "SUM({days:COALESCE(l.created_at, o.created_at):o.closed_at})",
        ],
        ..m("cycle", Source::Opportunities, "o.closed_at", "", COUNT)
    };
    let spend = Measure {
        cond: "s.currency = ?",
        cond_params: &[Param::Currency],
        aggs: &["SUM(s.amount)"],
        ..m("spend", Source::Spend, "s.spent_on", "", COUNT)
    };
    let opps_created = m(
        "opps_created",
        Source::Opportunities,
        "o.created_at",
        "",
        COUNT,
    );
    let new_customers = m(
        "new_customers",
        Source::Opportunities,
        "o.closed_at",
        "o.stage = 'CLOSED_WON' AND o.type = 'NEW_BUSINESS'",
        COUNT,
    );
    // Leads, reached MQL (or later), SQL (or later), OPPORTUNITY (or later), CUSTOMER.
    let cohort = m(
        "cohort",
        Source::Cohort,
        "l.created_at",
        "",
        &[
            "COUNT(*)",
            "SUM(cf.r1)",
            "SUM(cf.r3)",
            "SUM(cf.r4)",
            "SUM(cf.r5)",
        ],
    );
    match kpi {
        Kpi::LeadsCreated => vec![leads],
        Kpi::Mqls => vec![mql_count],
        Kpi::MqlAcceptanceRate => vec![m(
            "mql_dispositions",
            Source::MqlDispositions,
            "sc.at",
            "",
            &[
                "SUM(CASE WHEN sc.to_stage = 'SAL' THEN 1 ELSE 0 END)",
                "COUNT(*)",
            ],
        )],
        Kpi::MqlWorkedRate | Kpi::TimeToFirstContact => vec![mqls],
        Kpi::SlaComplianceRate => vec![Measure {
            cond: "(l.first_contacted_at IS NOT NULL OR l.sla_first_contact_due_at <= ?)",
            cond_params: &[Param::Now],
            ..m(
                "sla",
                Source::Leads,
                "l.sla_first_contact_due_at",
                "",
                &[
                    "SUM(CASE WHEN l.first_contacted_at <= l.sla_first_contact_due_at THEN 1 ELSE 0 END)",
                    "COUNT(*)",
                ],
            )
        }],
        Kpi::MqlToSqlRate
        | Kpi::LeadToOpportunityRate
        | Kpi::OpportunityToWinRate
        | Kpi::LeadToCustomerRate => vec![cohort],
        Kpi::WinRate | Kpi::AverageDealSize | Kpi::Revenue => vec![closed],
        Kpi::SalesCycleDays => vec![cycle],
        // Open at the period's end, and the period's win rate, deal size
        // and cycle from the statements WIN_RATE and SALES_CYCLE_DAYS share.
        Kpi::PipelineVelocity => vec![
            Measure {
                id: "open_at_end",
                source: Source::Opportunities,
                ts: None,
                cond: "o.created_at < ? AND (o.closed_at IS NULL OR o.closed_at >= ?)",
                cond_params: &[Param::PeriodEnd, Param::PeriodEnd],
                aggs: COUNT,
                agg_params: &[],
            },
            closed,
            cycle,
        ],
        Kpi::MarketingSourcedPipeline => vec![Measure {
            cond: "o.sourced_by = 'MARKETING' AND o.currency = ?",
            cond_params: &[Param::Currency],
            aggs: &["SUM(o.amount)"],
            ..opps_created.clone()
        }
        .with_id("sourced_pipeline")],
        Kpi::MarketingInfluencedPipeline => vec![Measure {
            // Looked up per deal with a primary lead (a fifth of them), not
            // joined: a join made PostgreSQL hash every lead.
            cond: "o.currency = ? AND o.primary_lead_id IS NOT NULL AND (EXISTS (SELECT 1 FROM leads src \
                   WHERE src.id = o.primary_lead_id AND src.source_campaign_id IS NOT NULL) \
                   OR EXISTS (SELECT 1 FROM activities act \
                   WHERE act.lead_id = o.primary_lead_id AND act.campaign_id IS NOT NULL \
                   AND act.deleted_at IS NULL AND act.occurred_at <= o.created_at))",
            cond_params: &[Param::Currency],
            aggs: &["SUM(o.amount)"],
            ..opps_created.clone()
        }
        .with_id("influenced_pipeline")],
        Kpi::MarketingSpend => vec![spend],
        Kpi::CostPerLead => vec![spend, leads],
        Kpi::CostPerMql => vec![spend, mql_count],
        Kpi::CostPerQualifiedOpportunity => vec![spend, opps_created],
        Kpi::CostPerCustomer => vec![spend, new_customers],
        // Computed by `analytics::win_loss_in_segment` (see `win_loss_figures`).
        Kpi::LossReasons | Kpi::CompetitorWinRates => vec![],
        // Spend by campaign over attribution in Rust (see `campaign_roi`).
        Kpi::CampaignRoi => vec![],
    }
}

impl Measure {
    fn with_id(self, id: &'static str) -> Self {
        Self { id, ..self }
    }

    /// Whether it reads the lead (of an opportunity or a stage change)
    /// whatever the segment.
    fn needs_lead(&self) -> bool {
        self.aggs.iter().any(|a| mentions_lead(a)) || mentions_lead(self.cond)
    }
}

/// Whether SQL text reads a column of the lead aliased `l` (`l.x`, not
/// `pl.x`).
fn mentions_lead(sql: &str) -> bool {
    sql.match_indices("l.").any(|(i, _)| {
        sql[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// An SQL text with its parameters, bound in order of appearance.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, v: Value) {
        self.values.push(v);
        match self.backend {
            DbBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
    }

    /// Appends `template`, replacing each `?` by the next of `values` and
    /// expanding `{hours:a:b}` and `{days:a:b}`.
    fn template(&mut self, template: &str, values: &mut impl Iterator<Item = Value>) {
        let expanded = expand(self.backend, template);
        let mut parts = expanded.split('?').peekable();
        while let Some(part) = parts.next() {
            self.push(part);
            if parts.peek().is_some() {
                let v = values.next().unwrap_or(Value::String(None));
                self.bind(v);
            }
        }
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Expands the engine-specific macros of a measure template.
fn expand(backend: DbBackend, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        rest = &rest[start + len + 1..];
        if let Some(args) = inner
            .strip_prefix("hours:")
            .map(|a| (a, 3600.0, 24.0))
            .or_else(|| inner.strip_prefix("days:").map(|a| (a, 86400.0, 1.0)))
        {
            let (a, per_second, per_day) = args;
            let (from, to) = a.split_once(':').unwrap_or((a, a));
            out.push_str(&elapsed(backend, from, to, per_second, per_day));
        } else {
            out.push('{');
            out.push_str(inner);
            out.push('}');
        }
    }
    out.push_str(rest);
    out
}

/// `to - from` in seconds ÷ `per_second` (PostgreSQL) or in days ×
/// `per_day` (SQLite's `julianday`).
fn elapsed(backend: DbBackend, from: &str, to: &str, per_second: f64, per_day: f64) -> String {
    match backend {
        DbBackend::Postgres => {
            // In floating point: `EXTRACT` gives a `numeric`, slower to
            // sum and sort (the cohort's medians sort 95,000 of them).
            format!(
                "(CAST(EXTRACT(EPOCH FROM ({to}) - ({from})) AS DOUBLE PRECISION) / {per_second:.1})"
            )
        }
        _ => format!("((julianday({to}) - julianday({from})) * {per_day:.1})"),
    }
}

/// Midnight UTC of a day, as a query bound
/// ([`day_start`](crate::domain::validate::day_start): the end of a period
/// running to 9999-12-31 compares right on SQLite too).
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    crate::domain::validate::day_start(day)
}

/// What a measure is computed over.
struct Scope<'a> {
    backend: DbBackend,
    period: Period,
    segment: &'a Segment,
    split: Split,
    buckets: &'a [(NaiveDate, NaiveDate)],
    currency: &'a str,
    now: DateTime<Utc>,
}

fn dimension_sql(source: Source, d: Dimension) -> &'static str {
    match (source.base(), d) {
        (Base::Spend, Dimension::Source | Dimension::Channel) => "c.channel",
        (Base::Spend, Dimension::Campaign) => "s.campaign_id",
        (_, Dimension::Source) => "l.source",
        (_, Dimension::Campaign) => "l.source_campaign_id",
        (_, Dimension::Channel) => "c.channel",
        (Base::Opportunities, Dimension::Owner) => "o.owner_id",
        (_, Dimension::Owner) => "l.owner_id",
        (_, Dimension::Industry) => "a.industry",
        (_, Dimension::OpportunityType) => "o.type",
    }
}

fn is_id_dimension(d: Dimension) -> bool {
    matches!(d, Dimension::Campaign | Dimension::Owner)
}

/// A balanced `CASE` giving the index of the bucket `ts` falls in.
fn bucket_case(
    sql: &mut Sql,
    ts: &str,
    date: bool,
    buckets: &[(NaiveDate, NaiveDate)],
    lo: usize,
    hi: usize,
) {
    if hi - lo <= 1 {
        sql.push(&lo.to_string());
        return;
    }
    let mid = lo + (hi - lo) / 2;
    sql.push(&format!("CASE WHEN {ts} < "));
    let boundary = buckets.get(mid).map(|b| b.0).unwrap_or_default();
    sql.bind(if date {
        boundary.into()
    } else {
        midnight(boundary).into()
    });
    sql.push(" THEN ");
    bucket_case(sql, ts, date, buckets, lo, mid);
    sql.push(" ELSE ");
    bucket_case(sql, ts, date, buckets, mid, hi);
    sql.push(" END");
}

fn param_value(p: Param, scope: &Scope<'_>) -> Value {
    match p {
        Param::Currency => scope.currency.to_owned().into(),
        Param::Now => scope.now.into(),
        Param::PeriodEnd => midnight(scope.period.end()).into(),
    }
}

/// The most parameters a series statement binds as one aggregate per
/// bucket (below both engines' limits, 32,766 for SQLite); beyond, its
/// buckets come from one `CASE` over the rows.
const MAX_SERIES_BINDS: usize = 10_000;

/// Builds a measure's statement: `kg` (group key), `kb` (bucket), `m0..`.
///
/// A time series is one aggregate per bucket (`UNION ALL`), each reading
/// its bucket's range of the timestamp's index, rather than one pass over
/// the whole period that computes each row's bucket and groups by it: at a
/// million leads a 12-month count takes 0.18 s instead of 0.43 s. The
/// cohort, whose leads come from a subquery over the whole period, and
/// measures whose own conditions select the rows keep the `CASE`.
fn measure_sql(m: &Measure, scope: &Scope<'_>) -> Statement {
    let per_bucket = matches!(scope.split, Split::Series(_))
        && m.ts.is_some()
        && m.source != Source::Cohort
        && !scope.buckets.is_empty();
    if per_bucket {
        let mut sql = Sql::new(scope.backend);
        for (i, &(from, end)) in scope.buckets.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            let bucket = Scope {
                period: Period {
                    from,
                    to: end.pred_opt().unwrap_or(end),
                },
                split: Split::None,
                ..scope_copy(scope)
            };
            push_measure(&mut sql, m, &bucket, i);
        }
        if sql.values.len() <= MAX_SERIES_BINDS {
            return sql.statement();
        }
    }
    let mut sql = Sql::new(scope.backend);
    push_measure(&mut sql, m, scope, 0);
    sql.statement()
}

/// Appends a measure's `SELECT`; without a series split, its rows are in
/// bucket `kb`.
fn push_measure(sql: &mut Sql, m: &Measure, scope: &Scope<'_>, kb: usize) {
    let seg = scope.segment;
    let group = match scope.split {
        Split::Group(d) => Some(d),
        _ => None,
    };
    let uses = |d: Dimension| group == Some(d);
    let needs_campaign =
        m.source != Source::Spend && (!seg.channels.is_empty() || uses(Dimension::Channel));
    let needs_account = m.source != Source::Spend
        && (!seg.industries.is_empty() || seg.target_accounts_only || uses(Dimension::Industry));
    let needs_lead = m.source == Source::Opportunities
        && (m.needs_lead()
            || needs_campaign
            || !seg.sources.is_empty()
            || !seg.campaign_ids.is_empty()
            || uses(Dimension::Source)
            || uses(Dimension::Campaign));

    sql.push("SELECT ");
    match group {
        Some(d) => sql.push(dimension_sql(m.source, d)),
        None => sql.push("NULL"),
    }
    sql.push(" AS kg, CAST(");
    match (scope.split, m.ts) {
        (Split::Series(_), Some(ts)) => bucket_case(
            sql,
            ts,
            m.source == Source::Spend,
            scope.buckets,
            0,
            scope.buckets.len(),
        ),
        _ => sql.push(&kb.to_string()),
    }
    sql.push(" AS BIGINT) AS kb");
    let mut agg_values = m.agg_params.iter().map(|p| param_value(*p, scope));
    for (i, agg) in m.aggs.iter().enumerate() {
        sql.push(", CAST(");
        sql.template(agg, &mut agg_values);
        sql.push(&format!(" AS DOUBLE PRECISION) AS m{i}"));
    }
    if m.source == Source::Cohort {
        // One row per lead of the cohort with its furthest stages; stage
        // changes only happen after creation, so the join stays inside the
        // cohort. One pass serves all four cohort KPIs.
        sql.push(
            " FROM (SELECT l2.id, \
             MAX(CASE WHEN r.to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER') THEN 1 ELSE 0 END) AS r1, \
             MAX(CASE WHEN r.to_stage IN ('SQL', 'OPPORTUNITY', 'CUSTOMER') THEN 1 ELSE 0 END) AS r3, \
             MAX(CASE WHEN r.to_stage IN ('OPPORTUNITY', 'CUSTOMER') THEN 1 ELSE 0 END) AS r4, \
             MAX(CASE WHEN r.to_stage = 'CUSTOMER' THEN 1 ELSE 0 END) AS r5 \
             FROM leads l2 LEFT JOIN stage_changes r ON r.subject_type = 'LEAD' AND r.subject_id = l2.id \
             AND r.to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER') \
             WHERE l2.deleted_at IS NULL AND l2.created_at >= ",
        );
        sql.bind(midnight(scope.period.from).into());
        sql.push(" AND l2.created_at < ");
        sql.bind(midnight(scope.period.end()).into());
        sql.push(" GROUP BY l2.id) cf JOIN leads l ON l.id = cf.id");
    }
    // Stage changes whose lead the statement only needs to be live: the
    // few deleted leads are excluded by an anti-join (a hash of the partial
    // index `ix_leads_deleted`) instead of a lookup of every change's lead.
    let stage_changes_alone = matches!(m.source, Source::MqlEntries | Source::MqlDispositions)
        && !m.needs_lead()
        && group.is_none()
        && seg.is_empty();
    sql.push(match m.source {
        Source::Cohort => "",
        Source::Leads => " FROM leads l",
        Source::MqlEntries | Source::MqlDispositions if stage_changes_alone => {
            " FROM stage_changes sc"
        }
        Source::MqlEntries | Source::MqlDispositions => {
            " FROM stage_changes sc JOIN leads l ON l.id = sc.subject_id"
        }
        Source::Opportunities => " FROM opportunities o",
        Source::Spend => " FROM campaign_spend s JOIN campaigns c ON c.id = s.campaign_id",
    });
    if needs_lead {
        sql.push(" LEFT JOIN leads l ON l.id = o.primary_lead_id");
    }
    if needs_campaign {
        sql.push(" LEFT JOIN campaigns c ON c.id = l.source_campaign_id");
    }
    if needs_account {
        sql.push(match m.source {
            Source::Opportunities => " LEFT JOIN accounts a ON a.id = o.account_id",
            _ => " LEFT JOIN accounts a ON a.id = l.account_id",
        });
    }
    sql.push(match m.source {
        Source::Leads | Source::Cohort => " WHERE l.deleted_at IS NULL",
        Source::MqlEntries => " WHERE sc.subject_type = 'LEAD' AND sc.to_stage = 'MQL'",
        Source::MqlDispositions => {
            " WHERE sc.subject_type = 'LEAD' AND sc.from_stage = 'MQL' \
             AND sc.to_stage IN ('SAL', 'NURTURE')"
        }
        Source::Opportunities => " WHERE o.deleted_at IS NULL",
        Source::Spend => " WHERE s.deleted_at IS NULL",
    });
    if matches!(m.source, Source::MqlEntries | Source::MqlDispositions) {
        sql.push(if stage_changes_alone {
            " AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = sc.subject_id AND l.deleted_at IS NOT NULL)"
        } else {
            " AND l.deleted_at IS NULL"
        });
    }
    match m.ts {
        // A day column (spend's `spent_on`) runs to the last day included:
        // the day after 9999-12-31 is written "+10000-01-01" on SQLite,
        // which sorts before every day.
        Some(ts) if m.source == Source::Spend => {
            sql.push(&format!(" AND {ts} >= "));
            sql.bind(scope.period.from.into());
            sql.push(&format!(" AND {ts} <= "));
            sql.bind(scope.period.to.into());
        }
        Some(ts) => {
            sql.push(&format!(" AND {ts} >= "));
            sql.bind(midnight(scope.period.from).into());
            sql.push(&format!(" AND {ts} < "));
            sql.bind(midnight(scope.period.end()).into());
        }
        None => {
            sql.push(" AND ");
            let mut values = m.cond_params.iter().map(|p| param_value(*p, scope));
            sql.template(m.cond, &mut values);
        }
    }
    if m.ts.is_some() && !m.cond.is_empty() {
        sql.push(" AND ");
        let mut values = m.cond_params.iter().map(|p| param_value(*p, scope));
        sql.template(m.cond, &mut values);
    }
    segment_filters(sql, m.source, seg);
    match (group, scope.split) {
        (Some(_), _) => sql.push(" GROUP BY kg"),
        (None, Split::Series(_)) if m.ts.is_some() => sql.push(" GROUP BY kb"),
        _ => {}
    }
}

/// Appends the segment's conditions (` AND ...`) for rows of `source`.
fn segment_filters(sql: &mut Sql, source: Source, seg: &Segment) {
    let in_list = |sql: &mut Sql, column: &str, values: Vec<Value>| {
        if values.is_empty() {
            return;
        }
        sql.push(&format!(" AND {column} IN ("));
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(v);
        }
        sql.push(")");
    };
    let channel_values = |cs: &[Channel]| {
        cs.iter()
            .map(|c| Value::from(c.as_str().to_owned()))
            .collect::<Vec<_>>()
    };
    in_list(
        sql,
        dimension_sql(source, Dimension::Source),
        channel_values(&seg.sources),
    );
    in_list(
        sql,
        dimension_sql(source, Dimension::Campaign),
        seg.campaign_ids.iter().map(|id| Value::from(*id)).collect(),
    );
    in_list(
        sql,
        dimension_sql(source, Dimension::Channel),
        channel_values(&seg.channels),
    );
    if source != Source::Spend {
        in_list(
            sql,
            dimension_sql(source, Dimension::Owner),
            seg.owner_ids.iter().map(|id| Value::from(*id)).collect(),
        );
        in_list(
            sql,
            "a.industry",
            seg.industries
                .iter()
                .map(|i| Value::from(i.clone()))
                .collect(),
        );
        if seg.target_accounts_only {
            sql.push(" AND a.is_target_account = TRUE");
        }
    }
}

/// The median statement of TIME_TO_FIRST_CONTACT: the middle value (mean
/// of the two middle values) per group or bucket, by row numbers, which
/// both engines have.
fn median_sql(scope: &Scope<'_>) -> Statement {
    // Reuse the measure's FROM / WHERE with the hours as the only aggregate
    // input: select them per row, then pick the middle ones.
    let m = Measure {
        id: "ttfc_rows",
        source: Source::MqlEntries,
        ts: Some("sc.at"),
        cond: "l.first_contacted_at >= sc.at",
        cond_params: &[],
        aggs: &["{hours:sc.at:l.first_contacted_at}"],
        agg_params: &[],
    };
    let inner = measure_sql(&m, scope);
    let text = inner
        .sql
        .trim_end_matches(" GROUP BY kg")
        .trim_end_matches(" GROUP BY kb")
        .to_owned();
    let sql = format!(
        "SELECT kg, kb, CAST(AVG(m0) AS DOUBLE PRECISION) AS m0 FROM (\
         SELECT kg, kb, m0, ROW_NUMBER() OVER (PARTITION BY kg, kb ORDER BY m0) AS rn, \
         COUNT(*) OVER (PARTITION BY kg, kb) AS cnt FROM ({text}) AS base) AS ranked \
         WHERE rn = (cnt + 1) / 2 OR rn = (cnt + 2) / 2 GROUP BY kg, kb"
    );
    Statement::from_sql_and_values(
        scope.backend,
        sql,
        inner.values.map(|v| v.0).unwrap_or_default(),
    )
}

/// How many statements of one `kpis` request run at once (each on its own
/// pooled connection; the cohort's size runs beside the cohort).
const PARALLEL_STATEMENTS: usize = 4;

/// Aggregated rows of a measure: (group key, bucket) -> measures.
type Cells = HashMap<(Option<String>, i64), Vec<f64>>;

async fn run(
    db: &DatabaseConnection,
    stmt: Statement,
    id_key: bool,
    width: usize,
) -> AppResult<Cells> {
    let rows = db.query_all_raw(stmt).await?;
    let mut cells = Cells::new();
    for row in rows {
        let key = if id_key {
            row.try_get::<Option<Uuid>>("", "kg")?
                .map(|u| u.to_string())
        } else {
            row.try_get::<Option<String>>("", "kg")?
        };
        let bucket = row.try_get::<i64>("", "kb")?;
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(
                row.try_get::<Option<f64>>("", &format!("m{i}"))?
                    .unwrap_or(0.0),
            );
        }
        cells.insert((key, bucket), values);
    }
    Ok(cells)
}

fn bad(argument: &str, message: impl Into<String>) -> AppError {
    AppError::BadUserInput(format!("`input.{argument}`: {}", message.into()))
}

/// Checks a request against the catalogue: errors name the argument.
/// Time buckets: (first day, day after the last).
type Buckets = Vec<(NaiveDate, NaiveDate)>;

fn validate(req: &KpiRequest) -> AppResult<(Period, Split, Buckets)> {
    let period = Period::new(req.from, req.to).map_err(|e| bad(e.argument, e.message))?;
    if req.kpis.is_empty() {
        return Err(bad("kpis", "ask for at least one KPI"));
    }
    let split = match (req.group_by, req.granularity) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "groupBy",
                "give either `groupBy` or `granularity`, not both",
            ));
        }
        (Some(d), None) => Split::Group(d),
        (None, Some(g)) => Split::Series(g),
        (None, None) => Split::None,
    };
    let buckets = match req.granularity {
        Some(g) => kpi::buckets(period, g).map_err(|e| bad(e.argument, e.message))?,
        None => Vec::new(),
    };
    if let Some(c) = &req.currency
        && !crate::domain::currency::is_active(c)
    {
        return Err(bad(
            "currency",
            format!("{c:?} is not an active ISO 4217 currency code such as USD, EUR or JPY"),
        ));
    }
    for kpi in &req.kpis {
        let d = kpi.definition();
        if let Some(g) = req.group_by
            && kpi.has_intrinsic_groups()
        {
            return Err(bad(
                "groupBy",
                format!(
                    "{} is always split by its own groups and cannot be grouped by {}; filter it by source, campaign or another segment instead",
                    d.key,
                    g.name()
                ),
            ));
        }
        if let Some(g) = req.group_by
            && !d.group_by.contains(&g)
        {
            let allowed: Vec<_> = d.group_by.iter().map(|d| d.name()).collect();
            return Err(bad(
                "groupBy",
                format!(
                    "{} cannot be grouped by {}; it can be grouped by {}",
                    d.key,
                    g.name(),
                    allowed.join(", ")
                ),
            ));
        }
        if req.granularity.is_some() && !d.time_series {
            return Err(bad(
                "granularity",
                format!(
                    "{} has no time series; ask for it without `granularity`",
                    d.key
                ),
            ));
        }
        if d.base == Base::Spend {
            let s = &req.segment;
            for (given, name) in [
                (!s.owner_ids.is_empty(), "filter.ownerIds"),
                (!s.industries.is_empty(), "filter.industries"),
                (s.target_accounts_only, "filter.targetAccountsOnly"),
            ] {
                if given {
                    return Err(bad(
                        name,
                        format!(
                            "{} is based on campaign spend, which has no owner, industry or account; filter it by source, campaign or channel",
                            d.key
                        ),
                    ));
                }
            }
        }
        if *kpi == Kpi::CampaignRoi {
            let s = &req.segment;
            for (given, name) in [
                (!s.sources.is_empty(), "filter.sources"),
                (!s.channels.is_empty(), "filter.channels"),
            ] {
                if given {
                    return Err(bad(
                        name,
                        "CAMPAIGN_ROI is filtered by campaign only (`filter.campaignIds`)",
                    ));
                }
            }
        }
        if d.base == Base::Leads && req.group_by == Some(Dimension::OpportunityType) {
            return Err(bad(
                "groupBy",
                format!("{} counts leads, which have no opportunity type", d.key),
            ));
        }
    }
    Ok((period, split, buckets))
}

/// What one of a request's concurrent jobs produced.
enum Part {
    /// The cells of the measure with this id.
    Measure(&'static str, Cells),
    /// TIME_TO_FIRST_CONTACT's medians per group or bucket.
    SplitMedians(Cells),
    /// TIME_TO_FIRST_CONTACT's median over the whole request, when split.
    TotalMedians(Cells),
    WinLoss(analytics::WinLoss),
    Roi(KpiFigures),
}

/// Computes the KPIs of a request: one or two aggregate statements per KPI
/// (a statement two KPIs share runs once), plus the targets table.
#[tracing::instrument(skip_all, fields(viewer.role = viewer.role.as_str(), kpi.count = req.kpis.len()))]
pub async fn compute(
    db: &DatabaseConnection,
    viewer: &Viewer,
    req: &KpiRequest,
    cohorts: &CohortCache,
) -> AppResult<Vec<KpiFigures>> {
    viewer.require(Action::ReadKpis)?;
    let (period, split, buckets) = validate(req)?;
    let currency = req.currency.clone().unwrap_or_else(|| "USD".to_owned());
    let scope = Scope {
        backend: db.get_database_backend(),
        period,
        segment: &req.segment,
        split,
        buckets: &buckets,
        currency: &currency,
        now: records::now(),
    };
    let id_key = matches!(split, Split::Group(d) if is_id_dimension(d));
    // Every distinct statement of the request, a few at a time.
    let mut unique: Vec<Measure> = Vec::new();
    for kpi in &req.kpis {
        for m in measures(*kpi) {
            if !unique.iter().any(|u| u.id == m.id) {
                unique.push(m);
            }
        }
    }
    // Every statement of the request, and the KPIs computed apart (the
    // median time to first contact, win/loss, campaign ROI), run a few at a
    // time, each finished one making room for the next; the cohort, the
    // longest, starts first. The cohort KPIs' totals are the funnel's
    // counts: one pass over the cohort serves both (and whichever of them
    // the request asks first).
    unique.sort_by_key(|m| m.source != Source::Cohort);
    let mut jobs: Vec<BoxFuture<'_, AppResult<Part>>> = Vec::new();
    for m in &unique {
        let id = m.id;
        jobs.push(if m.source == Source::Cohort && split == Split::None {
            let segment = &req.segment;
            async move {
                let cohort = cohorts.get(db, period, segment).await?;
                Ok(Part::Measure(id, cohort.cells()))
            }
            .boxed()
        } else {
            run(db, measure_sql(m, &scope), id_key, m.aggs.len())
                .map_ok(move |cells| Part::Measure(id, cells))
                .boxed()
        });
    }
    if req.kpis.contains(&Kpi::TimeToFirstContact) {
        jobs.push(
            run(db, median_sql(&scope), id_key, 1)
                .map_ok(Part::SplitMedians)
                .boxed(),
        );
        if split != Split::None {
            let total_scope = Scope {
                split: Split::None,
                ..scope_copy(&scope)
            };
            jobs.push(
                run(db, median_sql(&total_scope), false, 1)
                    .map_ok(Part::TotalMedians)
                    .boxed(),
            );
        }
    }
    if req.kpis.iter().any(|k| k.has_intrinsic_groups()) {
        let deals_period = analytics::Period::whole_days(period.from, period.to)?;
        jobs.push(
            analytics::win_loss_in_segment(db, deals_period, &req.segment)
                .map_ok(Part::WinLoss)
                .boxed(),
        );
    }
    if req.kpis.contains(&Kpi::CampaignRoi) {
        jobs.push(campaign_roi(db, &scope, req).map_ok(Part::Roi).boxed());
    }
    let mut cache: HashMap<&'static str, Cells> = HashMap::new();
    let (mut split_medians, mut total_medians) = (None, None);
    let mut win_loss = None;
    let mut roi = None;
    let mut finished = futures_util::stream::iter(jobs).buffer_unordered(PARALLEL_STATEMENTS);
    while let Some(part) = finished.try_next().await? {
        match part {
            Part::Measure(id, cells) => {
                cache.insert(id, cells);
            }
            Part::SplitMedians(cells) => split_medians = Some(cells),
            Part::TotalMedians(cells) => total_medians = Some(cells),
            Part::WinLoss(w) => win_loss = Some(w),
            Part::Roi(figures) => roi = Some(figures),
        }
    }
    let medians = split_medians.map(|s| {
        let total = total_medians.unwrap_or_else(|| s.clone());
        (s, total)
    });
    let targets = load_targets(db, &req.kpis).await?;
    let today = scope.now.date_naive();
    let mut out = Vec::with_capacity(req.kpis.len());
    // A target applies to the whole request when it names no segment, or
    // the one segment value the request is filtered to.
    let total_segment = if req.segment.is_empty() {
        Some(None)
    } else {
        req.segment.single().map(Some)
    };
    for &kpi in &req.kpis {
        if kpi == Kpi::CampaignRoi {
            let Some(mut roi) = roi.clone() else { continue };
            if let Some(seg) = total_segment.clone() {
                let value = roi.total.value;
                roi.total.target =
                    target_figures(&targets, kpi, (period.from, period.to), seg, value, today);
            }
            out.push(roi);
            continue;
        }
        if let Some(w) = win_loss.as_ref().filter(|_| kpi.has_intrinsic_groups()) {
            let (mut total, groups) = win_loss_figures(kpi, w);
            if let Some(seg) = total_segment.clone() {
                total.target = target_figures(
                    &targets,
                    kpi,
                    (period.from, period.to),
                    seg,
                    total.value,
                    today,
                );
            }
            out.push(KpiFigures {
                kpi,
                currency: None,
                total,
                groups,
                series: Vec::new(),
            });
            continue;
        }
        let ms = measures(kpi);
        let mut parts: Vec<Cells> = Vec::with_capacity(ms.len());
        for m in &ms {
            parts.push(cache.get(m.id).cloned().unwrap_or_default());
        }
        let medians = medians.as_ref().filter(|_| kpi == Kpi::TimeToFirstContact);
        let widths: Vec<usize> = ms.iter().map(|m| m.aggs.len()).collect();
        let measures_at = |key: &(Option<String>, i64)| -> Vec<f64> {
            let mut v = Vec::new();
            for (cells, w) in parts.iter().zip(&widths) {
                match cells.get(key) {
                    Some(vals) => v.extend_from_slice(vals),
                    None => v.extend(std::iter::repeat_n(0.0, *w)),
                }
            }
            v
        };
        let total_of = || -> Vec<f64> {
            let mut v = vec![0.0; widths.iter().sum()];
            let mut offset = 0;
            for (cells, w) in parts.iter().zip(&widths) {
                for vals in cells.values() {
                    for (i, x) in vals.iter().enumerate().take(*w) {
                        if let Some(slot) = v.get_mut(offset + i) {
                            *slot += x;
                        }
                    }
                }
                offset += w;
            }
            v
        };
        let median_at = |split_side: bool, key: &(Option<String>, i64)| -> Option<f64> {
            medians.and_then(|(s, t)| {
                let cells = if split_side { s } else { t };
                if split_side {
                    cells.get(key).and_then(|v| v.first().copied())
                } else {
                    cells.values().next().and_then(|v| v.first().copied())
                }
            })
        };
        let unit = kpi.definition().unit;
        let target_for = |start: NaiveDate,
                          end_incl: NaiveDate,
                          segment: Option<(SegmentDimension, String)>,
                          value: Option<f64>| {
            target_figures(&targets, kpi, (start, end_incl), segment, value, today)
        };
        let mut total = figures(kpi, &total_of(), median_at(false, &(None, 0)));
        if let Some(seg) = total_segment.clone() {
            total.target = target_for(period.from, period.to, seg, total.value);
        }
        let mut groups = Vec::new();
        let mut series = Vec::new();
        match split {
            Split::None => {}
            Split::Group(d) => {
                let mut keys: Vec<Option<String>> = parts
                    .iter()
                    .flat_map(|c| c.keys().map(|k| k.0.clone()))
                    .collect();
                keys.sort_by(|a, b| match (a, b) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, _) => std::cmp::Ordering::Greater,
                    (_, None) => std::cmp::Ordering::Less,
                    (Some(a), Some(b)) => a.cmp(b),
                });
                keys.dedup();
                for key in keys {
                    let cell = (key.clone(), 0);
                    let mut f = figures(kpi, &measures_at(&cell), median_at(true, &cell));
                    if req.segment.is_empty()
                        && let (Some(dim), Some(k)) = (segment_dimension(d), &key)
                    {
                        f.target =
                            target_for(period.from, period.to, Some((dim, k.clone())), f.value);
                    }
                    groups.push(GroupFigures { key, figures: f });
                }
            }
            Split::Series(_) => {
                for (i, (start, end)) in buckets.iter().enumerate() {
                    let cell = (None, i64::try_from(i).unwrap_or(i64::MAX));
                    let end_incl = end.pred_opt().unwrap_or(*end);
                    let mut f = figures(kpi, &measures_at(&cell), median_at(true, &cell));
                    if let Some(seg) = total_segment.clone() {
                        f.target = target_for(*start, end_incl, seg, f.value);
                    }
                    series.push(PointFigures {
                        start: *start,
                        end: end_incl,
                        figures: f,
                    });
                }
            }
        }
        out.push(KpiFigures {
            kpi,
            currency: matches!(unit, Unit::Money | Unit::MoneyPerDay).then(|| currency.clone()),
            total,
            groups,
            series,
        });
    }
    Ok(out)
}

/// CAMPAIGN_ROI: the spend per campaign (the MARKETING_SPEND statement,
/// grouped by campaign) and the revenue attributed to each campaign
/// (`analytics::attributed_revenue`, the attribution of campaign
/// performance), both in the request's currency.
async fn campaign_roi(
    db: &DatabaseConnection,
    scope: &Scope<'_>,
    req: &KpiRequest,
) -> AppResult<KpiFigures> {
    let kpi = Kpi::CampaignRoi;
    let by_campaign = Scope {
        split: Split::Group(Dimension::Campaign),
        ..scope_copy(scope)
    };
    let mut per_campaign: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for m in measures(Kpi::MarketingSpend) {
        for ((key, _), values) in run(db, measure_sql(&m, &by_campaign), true, 1).await? {
            if let Some(key) = key {
                per_campaign.entry(key).or_default().1 += values.first().copied().unwrap_or(0.0);
            }
        }
    }
    let period = analytics::Period::whole_days(scope.period.from, scope.period.to)?;
    let model = req.attribution_model.unwrap_or(AttributionModel::Linear);
    let credits =
        analytics::attributed_revenue(db, period, scope.currency, model, "input.from").await?;
    let wanted = &req.segment.campaign_ids;
    for (campaign, amount) in credits {
        if wanted.is_empty() || wanted.contains(&campaign) {
            per_campaign.entry(campaign.to_string()).or_default().0 +=
                amount.to_f64().unwrap_or(0.0);
        }
    }
    let figures = |revenue: f64, spend: f64| {
        let (revenue, spend) = (round_cents(revenue), round_cents(spend));
        Figures {
            value: kpi.value(revenue, Some(spend)),
            numerator: Some(revenue),
            denominator: Some(spend),
            mean: None,
            target: None,
        }
    };
    let revenue = per_campaign.values().map(|v| v.0).sum();
    let spend = per_campaign.values().map(|v| v.1).sum();
    let groups = if req.group_by == Some(Dimension::Campaign) {
        per_campaign
            .into_iter()
            .map(|(key, (revenue, spend))| GroupFigures {
                key: Some(key),
                figures: figures(revenue, spend),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(KpiFigures {
        kpi,
        currency: Some(scope.currency.to_owned()),
        total: figures(revenue, spend),
        groups,
        series: Vec::new(),
    })
}

/// LOSS_REASONS and COMPETITOR_WIN_RATES from the win/loss aggregate:
/// the total and the intrinsic groups (reasons, competitors) in key order,
/// "none" last.
fn win_loss_figures(kpi: Kpi, w: &analytics::WinLoss) -> (Figures, Vec<GroupFigures>) {
    // Counts of deals: exact in f64.
    let ratio = |num: i64, den: i64| Figures {
        value: kpi.value(num as f64, Some(den as f64)),
        numerator: Some(num as f64),
        denominator: Some(den as f64),
        mean: None,
        target: None,
    };
    let mut groups: Vec<GroupFigures> = match kpi {
        Kpi::CompetitorWinRates => w
            .competitors
            .iter()
            .map(|c| GroupFigures {
                key: Some(c.competitor_id.to_string()),
                figures: ratio(c.won, c.won + c.lost),
            })
            .collect(),
        _ => w
            .loss_reasons
            .iter()
            .map(|r| GroupFigures {
                key: Some(r.reason.as_str().to_owned()),
                figures: ratio(r.count, w.lost),
            })
            .collect(),
    };
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    let total = match kpi {
        Kpi::CompetitorWinRates => {
            let won = w.competitors.iter().map(|c| c.won).sum::<i64>();
            let lost = w.competitors.iter().map(|c| c.lost).sum::<i64>();
            ratio(won, won + lost)
        }
        _ => {
            let with_reason = w.loss_reasons.iter().map(|r| r.count).sum::<i64>();
            if with_reason < w.lost {
                groups.push(GroupFigures {
                    key: None,
                    figures: ratio(w.lost - with_reason, w.lost),
                });
            }
            ratio(with_reason, w.lost)
        }
    };
    (total, groups)
}

fn scope_copy<'a>(s: &Scope<'a>) -> Scope<'a> {
    Scope {
        backend: s.backend,
        period: s.period,
        segment: s.segment,
        split: s.split,
        buckets: s.buckets,
        currency: s.currency,
        now: s.now,
    }
}

fn segment_dimension(d: Dimension) -> Option<SegmentDimension> {
    match d {
        Dimension::Source => Some(SegmentDimension::Source),
        Dimension::Campaign => Some(SegmentDimension::Campaign),
        Dimension::Channel => Some(SegmentDimension::Channel),
        Dimension::Owner => Some(SegmentDimension::Owner),
        Dimension::Industry => Some(SegmentDimension::Industry),
        Dimension::OpportunityType => None,
    }
}

/// A KPI's figures from its measures (in the order of `measures(kpi)`).
fn figures(kpi: Kpi, m: &[f64], median: Option<f64>) -> Figures {
    let at = |i: usize| m.get(i).copied().unwrap_or(0.0);
    let unit = kpi.definition().unit;
    let money = |x: f64| {
        if matches!(unit, Unit::Money | Unit::MoneyPerDay) {
            round_cents(x)
        } else {
            x
        }
    };
    let plain = |value: f64| Figures {
        value: Some(money(value)),
        numerator: None,
        denominator: None,
        mean: None,
        target: None,
    };
    let ratio = |num: f64, den: f64| Figures {
        value: kpi.value(num, Some(den)).map(money),
        numerator: Some(money(num)),
        denominator: Some(den),
        mean: None,
        target: None,
    };
    match kpi {
        Kpi::LeadsCreated
        | Kpi::Mqls
        | Kpi::MarketingSourcedPipeline
        | Kpi::MarketingInfluencedPipeline
        | Kpi::MarketingSpend => plain(at(0)),
        Kpi::MqlWorkedRate => ratio(at(1), at(0)),
        Kpi::WinRate => ratio(at(0), at(1)),
        Kpi::Revenue => plain(at(2)),
        Kpi::AverageDealSize => ratio(at(2), at(3)),
        Kpi::SalesCycleDays => ratio(at(1), at(0)),
        Kpi::TimeToFirstContact => {
            let (num, den) = (at(2), at(1));
            Figures {
                value: if den > 0.0 { median } else { None },
                numerator: Some(num),
                denominator: Some(den),
                mean: kpi.value(num, Some(den)),
                target: None,
            }
        }
        Kpi::PipelineVelocity => {
            // open_at_end, then closed (won, closed, won amount and count in
            // the currency), then cycle (won, days).
            let (open, won, lost, won_amount, won_in_currency, cycle_days) =
                (at(0), at(1), at(2) - at(1), at(3), at(4), at(6));
            let value =
                (won + lost > 0.0 && won_in_currency > 0.0 && cycle_days > 0.0).then(|| {
                    let win_rate = won / (won + lost);
                    let deal = won_amount / won_in_currency;
                    let cycle = cycle_days / won;
                    round_cents(open * win_rate * deal / cycle)
                });
            Figures {
                value,
                numerator: None,
                denominator: None,
                mean: None,
                target: None,
            }
        }
        Kpi::MqlToSqlRate => ratio(at(2), at(1)),
        Kpi::LeadToOpportunityRate => ratio(at(3), at(0)),
        Kpi::OpportunityToWinRate => ratio(at(4), at(3)),
        Kpi::LeadToCustomerRate => ratio(at(4), at(0)),
        _ => ratio(at(0), at(1)),
    }
}

/// The target set for `kpi` over exactly the days `period` (first, last
/// included) and `segment`, with how `value` stands against it.
fn target_figures(
    targets: &[kpi_target::Model],
    kpi: Kpi,
    (start, end_incl): (NaiveDate, NaiveDate),
    segment: Option<(SegmentDimension, String)>,
    value: Option<f64>,
    today: NaiveDate,
) -> Option<TargetFigures> {
    find_target(targets, kpi, start, end_incl, segment).map(|t| {
        let end = end_incl.succ_opt().unwrap_or(end_incl);
        let outcome = target_outcome(
            value,
            t.target.to_f64().unwrap_or(0.0),
            t.direction,
            kpi.definition().cumulative,
            elapsed_fraction(start, end, today),
        );
        TargetFigures {
            target: t.clone(),
            outcome,
        }
    })
}

async fn load_targets(db: &DatabaseConnection, kpis: &[Kpi]) -> AppResult<Vec<kpi_target::Model>> {
    Ok(kpi_target::Entity::find()
        .filter(kpi_target::Column::Kpi.is_in(kpis.iter().map(|k| k.key())))
        .all(db)
        .await?)
}

/// The day after a target's period.
fn period_end(kind: PeriodKind, start: NaiveDate) -> NaiveDate {
    let months = match kind {
        PeriodKind::Month => 1,
        PeriodKind::Quarter => 3,
    };
    start
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(start)
}

fn find_target(
    targets: &[kpi_target::Model],
    kpi: Kpi,
    start: NaiveDate,
    end_incl: NaiveDate,
    segment: Option<(SegmentDimension, String)>,
) -> Option<&kpi_target::Model> {
    let end = end_incl.succ_opt().unwrap_or(end_incl);
    targets.iter().find(|t| {
        t.kpi == kpi.key()
            && t.period_start == start
            && period_end(t.period_kind, t.period_start) == end
            && match (&segment, t.segment_dimension, &t.segment_value) {
                (None, None, _) => true,
                (Some((d, v)), Some(td), Some(tv)) => *d == td && v == tv,
                _ => false,
            }
    })
}

// ----- targets -------------------------------------------------------------

/// What a target is set for.
#[derive(Debug, Clone)]
pub struct TargetInput {
    /// The KPI.
    pub kpi: Kpi,
    /// Month or quarter.
    pub period_kind: PeriodKind,
    /// First day of the period (the first of a month; of a quarter's first month).
    pub period_start: NaiveDate,
    /// The segment, if any.
    pub segment: Option<(SegmentDimension, String)>,
    /// The target value (ratios as fractions, money in the request currency).
    pub target: Decimal,
    /// Floor or ceiling.
    pub direction: TargetDirection,
}

fn check_target(input: &TargetInput) -> AppResult<()> {
    use chrono::Datelike;
    let mut errors = Vec::new();
    let start = input.period_start;
    let aligned = start.day() == 1
        && (input.period_kind == PeriodKind::Month || start.month0().is_multiple_of(3));
    if !aligned {
        errors.push(FieldError::new(
            "periodStart",
            UserErrorCode::Invalid,
            match input.period_kind {
                PeriodKind::Month => "a month target starts on the first day of a month",
                PeriodKind::Quarter => {
                    "a quarter target starts on 1 January, 1 April, 1 July or 1 October"
                }
            },
        ));
    }
    if input.target < Decimal::ZERO {
        errors.push(FieldError::new(
            "target",
            UserErrorCode::OutOfRange,
            "a target is not negative",
        ));
    }
    if input.kpi.is_ratio() && input.target > Decimal::ONE {
        errors.push(FieldError::new(
            "target",
            UserErrorCode::OutOfRange,
            "a rate target is a fraction between 0 and 1 (0.3 for 30 %)",
        ));
    }
    if let Some((_, value)) = &input.segment
        && value.trim().is_empty()
    {
        errors.push(FieldError::new(
            "segment",
            UserErrorCode::Required,
            "a segment needs a value",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Sets the target for a KPI, period and segment: creates it, or updates
/// the one already set for exactly that KPI, period and segment.
#[tracing::instrument(skip_all, fields(viewer.role = viewer.role.as_str()))]
pub async fn set_target(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: TargetInput,
) -> AppResult<kpi_target::Model> {
    viewer.require(Action::SetKpiTarget)?;
    check_target(&input)?;
    let txn = begin_write(db).await?;
    let (dim, value) = match input.segment.clone() {
        Some((d, v)) => (Some(d), Some(v)),
        None => (None, None),
    };
    let existing = kpi_target::Entity::find()
        .filter(kpi_target::Column::Kpi.eq(input.kpi.key()))
        .filter(kpi_target::Column::PeriodKind.eq(input.period_kind))
        .filter(kpi_target::Column::PeriodStart.eq(input.period_start))
        .filter(match dim {
            Some(d) => kpi_target::Column::SegmentDimension.eq(d),
            None => kpi_target::Column::SegmentDimension.is_null(),
        })
        .filter(match &value {
            Some(v) => kpi_target::Column::SegmentValue.eq(v.clone()),
            None => kpi_target::Column::SegmentValue.is_null(),
        })
        .one(&txn)
        .await?;
    let now = records::now();
    let model = match existing {
        Some(t) => {
            let version = t.version + 1;
            let mut am: kpi_target::ActiveModel = t.into();
            am.target = Set(input.target);
            am.direction = Set(input.direction);
            am.updated_at = Set(now);
            am.version = Set(version);
            am.update(&txn).await?
        }
        None => {
            kpi_target::ActiveModel {
                id: Set(Uuid::new_v4()),
                created_at: Set(now),
                updated_at: Set(now),
                kpi: Set(input.kpi.key().to_owned()),
                period_kind: Set(input.period_kind),
                period_start: Set(input.period_start),
                segment_dimension: Set(dim),
                segment_value: Set(value),
                target: Set(input.target),
                direction: Set(input.direction),
                created_by_id: Set(Some(viewer.user_id)),
                version: Set(1),
            }
            .insert(&txn)
            .await?
        }
    };
    records::log(
        &txn,
        Some(viewer.user_id),
        ObjectType::KpiTarget,
        model.id,
        ChangeOperation::Upsert,
        vec!["target".into(), "direction".into()],
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a target.
#[tracing::instrument(skip_all, fields(viewer.role = viewer.role.as_str(), kpi_target.id = %id))]
pub async fn delete_target(db: &DatabaseConnection, viewer: &Viewer, id: Uuid) -> AppResult<Uuid> {
    viewer.require(Action::SetKpiTarget)?;
    let txn = begin_write(db).await?;
    let res = kpi_target::Entity::delete_by_id(id).exec(&txn).await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("no KPI target with this id".into()));
    }
    records::log(
        &txn,
        Some(viewer.user_id),
        ObjectType::KpiTarget,
        id,
        ChangeOperation::Delete,
        vec![],
        records::now(),
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// The targets of some KPIs (all when empty) whose period starts in `from..=to`.
pub async fn list_targets(
    db: &DatabaseConnection,
    viewer: &Viewer,
    kpis: &[Kpi],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<Vec<kpi_target::Model>> {
    viewer.require(Action::ReadKpis)?;
    let mut q = kpi_target::Entity::find();
    if !kpis.is_empty() {
        q = q.filter(kpi_target::Column::Kpi.is_in(kpis.iter().map(|k| k.key())));
    }
    if let Some(from) = from {
        q = q.filter(kpi_target::Column::PeriodStart.gte(from));
    }
    if let Some(to) = to {
        q = q.filter(kpi_target::Column::PeriodStart.lte(to));
    }
    Ok(q.order_by_asc(kpi_target::Column::PeriodStart)
        .order_by_asc(kpi_target::Column::Kpi)
        .order_by_asc(kpi_target::Column::Id)
        .all(db)
        .await?)
}

// ----- funnel --------------------------------------------------------------

/// The funnel's stages, top first.
pub const FUNNEL_STAGES: [&str; 6] = ["LEAD", "MQL", "SAL", "SQL", "OPPORTUNITY", "CUSTOMER"];

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStage {
    /// Index in [`FUNNEL_STAGES`].
    pub index: usize,
    /// Leads of the cohort that reached this stage (or a later one).
    pub count: i64,
    /// Leads of the cohort that reached the previous stage (None for the top).
    pub previous: Option<i64>,
    /// Median days from entering the previous stage to entering this one,
    /// over the leads with both entries.
    pub median_days_from_previous: Option<f64>,
}

/// The cohort funnel of the leads created in a period: the request's
/// cohort pass (shared with the cohort KPIs through `cohorts`).
#[tracing::instrument(skip_all, fields(viewer.role = viewer.role.as_str()))]
pub async fn funnel(
    db: &DatabaseConnection,
    viewer: &Viewer,
    from: NaiveDate,
    to: NaiveDate,
    segment: &Segment,
    cohorts: &CohortCache,
) -> AppResult<Vec<FunnelStage>> {
    viewer.require(Action::ReadKpis)?;
    let period = Period::new(from, to).map_err(|e| bad(e.argument, e.message))?;
    let cohort = cohorts.get(db, period, segment).await?;
    let n = cohort.reached;
    Ok((0..6)
        .map(|k| FunnelStage {
            index: k,
            count: n[k],
            previous: k.checked_sub(1).map(|p| n[p]),
            median_days_from_previous: if k == 0 { None } else { cohort.median_days[k] },
        })
        .collect())
}

/// One pass over a cohort, the leads created in a period (and segment):
/// how many reached each of [`FUNNEL_STAGES`] (or a later one) since, and
/// the median days from first entering each stage to first entering the
/// next. The funnel shows it; MQL_TO_SQL_RATE, LEAD_TO_OPPORTUNITY_RATE,
/// OPPORTUNITY_TO_WIN_RATE and LEAD_TO_CUSTOMER_RATE divide its counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Cohort {
    reached: [i64; 6],
    median_days: [Option<f64>; 6],
}

impl Cohort {
    /// The cohort measure's cells (no split): leads, reached MQL, SQL,
    /// OPPORTUNITY and CUSTOMER.
    fn cells(&self) -> Cells {
        let n = self.reached;
        let values = [n[0], n[1], n[3], n[4], n[5]]
            .iter()
            // Counts are far below 2^53; the conversion is exact.
            .map(|&c| c as f64)
            .collect();
        Cells::from([((None, 0), values)])
    }
}

/// The cohorts computed during one request, so that the funnel and the
/// cohort KPIs of the same period and segment (a dashboard asks for both)
/// share one pass over the leads and their stage history, even when they
/// are resolved at the same time. One per request: it is only as fresh as
/// the request.
#[derive(Default)]
pub struct CohortCache {
    cells: Mutex<Vec<CachedCohort>>,
}

/// A cohort's period and segment, and its pass once computed.
type CachedCohort = (Period, Segment, Arc<OnceCell<Cohort>>);

impl CohortCache {
    /// Forgets every cohort (a subscription resolving its next event must
    /// see current rows).
    pub fn clear(&self) {
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    async fn get(
        &self,
        db: &DatabaseConnection,
        period: Period,
        segment: &Segment,
    ) -> AppResult<Cohort> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
            match cells.iter().find(|(p, s, _)| *p == period && s == segment) {
                Some((_, _, cell)) => Arc::clone(cell),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    cells.push((period, segment.clone(), Arc::clone(&cell)));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| cohort(db, period, segment))
            .await
            .copied()
    }
}

/// The cohort pass: the leads that moved past NEW, with their counts and
/// medians, in one statement, and the cohort's size in another alongside.
async fn cohort(db: &DatabaseConnection, period: Period, segment: &Segment) -> AppResult<Cohort> {
    let backend = db.get_database_backend();
    // The cohort's leads (FROM and WHERE), with their entries into the
    // stages after NEW when `progress`. Only those entries count, so a lead
    // without any is part of the top of the funnel and nothing else: the
    // stage counts and medians group only the leads that have some (a fifth
    // of a cohort), and the top is counted on its own, from an index.
    let cohort_leads = |sql: &mut Sql, progress: bool| {
        sql.push(" FROM leads l");
        if !segment.channels.is_empty() {
            sql.push(" LEFT JOIN campaigns c ON c.id = l.source_campaign_id");
        }
        if !segment.industries.is_empty() || segment.target_accounts_only {
            sql.push(" LEFT JOIN accounts a ON a.id = l.account_id");
        }
        if progress {
            sql.push(
                " JOIN stage_changes r ON r.subject_type = 'LEAD' AND r.subject_id = l.id \
                 AND r.to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER')",
            );
        }
        sql.push(" WHERE l.deleted_at IS NULL AND l.created_at >= ");
        sql.bind(midnight(period.from).into());
        sql.push(" AND l.created_at < ");
        sql.bind(midnight(period.end()).into());
        segment_filters(sql, Source::Leads, segment);
    };
    // Reached stage k: an entry into k or any later stage.
    let reached = |k: usize| -> String {
        let any: Vec<String> = (k..=5).map(|j| format!("t{j} IS NOT NULL")).collect();
        format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", any.join(" OR "))
    };
    // The leads with progress once (a CTE), their counts and medians.
    let mut sql = Sql::new(backend);
    sql.push(
        "WITH f AS (SELECT l.id, l.created_at AS t0, \
         MIN(CASE WHEN r.to_stage = 'MQL' THEN r.at END) AS t1, \
         MIN(CASE WHEN r.to_stage = 'SAL' THEN r.at END) AS t2, \
         MIN(CASE WHEN r.to_stage = 'SQL' THEN r.at END) AS t3, \
         MIN(CASE WHEN r.to_stage = 'OPPORTUNITY' THEN r.at END) AS t4, \
         MIN(CASE WHEN r.to_stage = 'CUSTOMER' THEN r.at END) AS t5",
    );
    cohort_leads(&mut sql, true);
    sql.push(" GROUP BY l.id, l.created_at), d AS (");
    for k in 1..=5 {
        if k > 1 {
            sql.push(" UNION ALL ");
        }
        let prev = k - 1;
        sql.push(&format!(
            "SELECT {k} AS k, {} AS x FROM f WHERE t{prev} IS NOT NULL AND t{k} IS NOT NULL AND t{k} >= t{prev}",
            elapsed(backend, &format!("t{prev}"), &format!("t{k}"), 86400.0, 1.0)
        ));
    }
    sql.push(
        "), md AS (SELECT k, AVG(x) AS m FROM (\
         SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) AS rn, \
         COUNT(*) OVER (PARTITION BY k) AS cnt FROM d) AS ranked \
         WHERE rn = (cnt + 1) / 2 OR rn = (cnt + 2) / 2 GROUP BY k), \
         c AS (SELECT ",
    );
    for k in 1..=5 {
        if k > 1 {
            sql.push(", ");
        }
        sql.push(&format!("{} AS n{k}", reached(k)));
    }
    sql.push(" FROM f) SELECT ");
    for k in 1..=5 {
        if k > 1 {
            sql.push(", ");
        }
        sql.push(&format!(
            "CAST(c.n{k} AS BIGINT) AS n{k}, \
             CAST((SELECT m FROM md WHERE md.k = {k}) AS DOUBLE PRECISION) AS m{k}"
        ));
    }
    sql.push(" FROM c");
    // The cohort's size on its own connection, alongside: the cohort is
    // usually a request's longest statement.
    let mut size = Sql::new(backend);
    size.push("SELECT CAST(COUNT(*) AS BIGINT) AS n0");
    cohort_leads(&mut size, false);
    let (moved, size) = futures_util::try_join!(
        db.query_one_raw(sql.statement()),
        db.query_one_raw(size.statement())
    )?;
    let mut n = [0i64; 6];
    let mut median = [None; 6];
    if let Some(row) = size {
        n[0] = row.try_get::<Option<i64>>("", "n0")?.unwrap_or(0);
    }
    if let Some(row) = moved {
        for (k, slot) in n.iter_mut().enumerate().skip(1) {
            *slot = row
                .try_get::<Option<i64>>("", &format!("n{k}"))?
                .unwrap_or(0);
        }
        for (k, slot) in median.iter_mut().enumerate().skip(1) {
            *slot = row.try_get::<Option<f64>>("", &format!("m{k}"))?;
        }
    }
    Ok(Cohort {
        reached: n,
        median_days: median,
    })
}

#[cfg(test)]
mod tests {
    use entity::enums::FeedbackReason;

    use super::*;
    use crate::services::analytics::{CompetitorRecord, ReasonCount, WinLoss};

    fn win_loss(rival: Uuid) -> WinLoss {
        // 2 won, 4 lost: PRICE twice, TIMING once, one loss without feedback;
        // the rival named on 1 win and 2 losses.
        WinLoss {
            won: 2,
            lost: 4,
            loss_reasons: vec![
                ReasonCount {
                    reason: FeedbackReason::Price,
                    count: 2,
                },
                ReasonCount {
                    reason: FeedbackReason::Timing,
                    count: 1,
                },
            ],
            competitors: vec![CompetitorRecord {
                competitor_id: rival,
                won: 1,
                lost: 2,
            }],
            ..WinLoss::default()
        }
    }

    fn parts(f: &Figures) -> (Option<f64>, Option<f64>, Option<f64>) {
        (f.value, f.numerator, f.denominator)
    }

    #[test]
    fn loss_reasons_share_the_lost_deals_and_the_unexplained_ones_come_last() {
        let (total, groups) = win_loss_figures(Kpi::LossReasons, &win_loss(Uuid::nil()));
        assert_eq!(parts(&total), (Some(0.75), Some(3.0), Some(4.0)));
        let got: Vec<_> = groups
            .iter()
            .map(|g| (g.key.as_deref(), parts(&g.figures)))
            .collect();
        assert_eq!(
            got,
            [
                (Some("PRICE"), (Some(0.5), Some(2.0), Some(4.0))),
                (Some("TIMING"), (Some(0.25), Some(1.0), Some(4.0))),
                (None, (Some(0.25), Some(1.0), Some(4.0))),
            ]
        );
    }

    #[test]
    fn competitor_win_rates_count_only_deals_naming_a_competitor() {
        let rival = Uuid::from_u128(7);
        let (total, groups) = win_loss_figures(Kpi::CompetitorWinRates, &win_loss(rival));
        // 1 won of 3 naming it, not 2 of 6 overall.
        assert_eq!(parts(&total), (Some(1.0 / 3.0), Some(1.0), Some(3.0)));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].key, Some(rival.to_string()));
        assert_eq!(parts(&groups[0].figures), parts(&total));
    }

    #[test]
    fn a_measure_reads_the_lead_only_when_it_names_the_l_alias() {
        assert!(mentions_lead("SUM(l.first_contacted_at)"));
        assert!(mentions_lead("l.x = 1"));
        assert!(!mentions_lead(
            "EXISTS (SELECT 1 FROM leads src WHERE src.id = o.primary_lead_id)"
        ));
        assert!(!mentions_lead("pl.source IS NULL"));
        let influenced = measures(Kpi::MarketingInfluencedPipeline).remove(0);
        assert!(!influenced.needs_lead());
        let cycle = measures(Kpi::SalesCycleDays).remove(0);
        assert!(cycle.needs_lead());
    }

    fn series_statement(days: u32, segment: &Segment) -> Statement {
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let period = Period {
            from,
            to: from + chrono::TimeDelta::days(i64::from(days) - 1),
        };
        let granularity = if days > 31 {
            Granularity::Day
        } else {
            Granularity::Week
        };
        let buckets = kpi::buckets(period, granularity).expect("buckets");
        let scope = Scope {
            backend: DbBackend::Postgres,
            period,
            segment,
            split: Split::Series(granularity),
            buckets: &buckets,
            currency: "USD",
            now: midnight(from),
        };
        let leads = measures(Kpi::LeadsCreated).remove(0);
        measure_sql(&leads, &scope)
    }

    #[test]
    fn a_series_reads_each_bucket_on_its_own_unless_that_binds_too_much() {
        // January in ISO weeks: 5 buckets (1-4, 5-11, ..., 26-31), one
        // aggregate each over its range, with its bucket number.
        let sql = series_statement(31, &Segment::default()).sql;
        assert_eq!(sql.matches(" UNION ALL ").count(), 4, "{sql}");
        assert!(sql.contains("CAST(4 AS BIGINT) AS kb"), "{sql}");
        assert!(!sql.contains("CASE WHEN"), "{sql}");
        // A year of days filtered by 30 campaigns would bind 366 x 32
        // values: one pass with the buckets computed by CASE instead.
        let segment = Segment {
            campaign_ids: (0..30).map(|_| Uuid::new_v4()).collect(),
            ..Segment::default()
        };
        let statement = series_statement(366, &segment);
        assert!(!statement.sql.contains(" UNION ALL "));
        assert!(statement.sql.contains("CASE WHEN l.created_at < $1"));
        assert!(statement.sql.ends_with(" GROUP BY kb"));
        let binds = statement.values.map(|v| v.0.len()).unwrap_or(0);
        assert!(binds < MAX_SERIES_BINDS, "{binds}");
    }
}
