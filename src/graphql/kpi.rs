//! The shared KPIs in the API: definitions, values (total, per group, per
//! time bucket), targets and the funnel.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{enums::ObjectType, kpi_target};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use super::{
    analytics::AttributionModel,
    common::{UserError, db, decode_arg_id, global_id, loaders, payload, viewer},
    enums::Channel,
    scalars::InputDate,
};
use crate::{
    auth::{Action, PolicyGuard},
    domain::kpi::{self as dom, Segment},
    error::{AppError, AppResult},
    services::kpis::{self as svc, Figures, KpiFigures},
};

/// A shared KPI. `kpiDefinitions` says what each one means.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::kpi::Kpi")]
pub enum Kpi {
    /// Leads created in the period.
    LeadsCreated,
    /// Entries into MQL in the period.
    Mqls,
    /// Accepted ÷ (accepted + rejected) of the MQLs dispositioned in the period.
    MqlAcceptanceRate,
    /// MQLs sales has touched ÷ MQLs.
    MqlWorkedRate,
    /// Median (and mean) hours from MQL to the first sales touch.
    TimeToFirstContact,
    /// MQLs contacted within the SLA ÷ MQLs whose deadline fell in the period.
    SlaComplianceRate,
    /// Cohort: reached SQL ÷ reached MQL, of the leads created in the period.
    MqlToSqlRate,
    /// Cohort: reached OPPORTUNITY ÷ leads created in the period.
    LeadToOpportunityRate,
    /// Cohort: reached CUSTOMER ÷ reached OPPORTUNITY, of the leads created in the period.
    OpportunityToWinRate,
    /// Cohort: reached CUSTOMER ÷ leads created in the period.
    LeadToCustomerRate,
    /// Won ÷ (won + lost) of the opportunities closed in the period.
    WinRate,
    /// Mean amount won in the period.
    AverageDealSize,
    /// Mean days from lead created to won.
    SalesCycleDays,
    /// Open opportunities × win rate × average deal size ÷ sales cycle days.
    PipelineVelocity,
    /// Amount of marketing-sourced opportunities created in the period.
    MarketingSourcedPipeline,
    /// Amount of opportunities created in the period with a campaign touch before.
    MarketingInfluencedPipeline,
    /// Amount won in the period (group by SOURCE or OPPORTUNITY_TYPE for the splits).
    Revenue,
    /// Campaign spend dated in the period.
    MarketingSpend,
    /// Spend ÷ leads created.
    CostPerLead,
    /// Spend ÷ MQL entries.
    CostPerMql,
    /// Spend ÷ opportunities created.
    CostPerQualifiedOpportunity,
    /// Spend ÷ new-business deals won.
    CostPerCustomer,
    /// Revenue attributed to campaigns (by `attributionModel`) ÷ their spend;
    /// group by CAMPAIGN for each campaign's.
    CampaignRoi,
    /// Share of the deals lost in the period per primary loss reason; the
    /// groups are the reasons (no `groupBy`; filter by source or campaign).
    LossReasons,
    /// Won ÷ (won + lost) of the deals closed in the period whose feedback
    /// names a competitor; the groups are the competitors (their global ids).
    CompetitorWinRates,
}

/// What a KPI's value measures.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::kpi::Unit")]
pub enum KpiUnit {
    /// A number of records or events.
    Count,
    /// A fraction between 0 and 1 (numerator ÷ denominator).
    Ratio,
    /// An amount in the result's `currency`.
    Money,
    /// Hours.
    Hours,
    /// Days.
    Days,
    /// An amount in the result's `currency` per day.
    MoneyPerDay,
    /// A multiple: an amount ÷ another amount, both in `currency` (CAMPAIGN_ROI).
    Multiple,
}

/// A dimension to group KPIs by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::kpi::Dimension")]
pub enum KpiDimension {
    /// The lead's source (for spend: the campaign's channel).
    Source,
    /// The lead's source campaign (for spend: the campaign); keys are campaign ids.
    Campaign,
    /// The channel of the lead's source campaign (for spend: the campaign's).
    Channel,
    /// The lead's owner (the opportunity's for deal KPIs); keys are user ids.
    Owner,
    /// The account's industry.
    Industry,
    /// The opportunity's type: NEW_BUSINESS, EXPANSION, RENEWAL.
    OpportunityType,
}

/// Time buckets of a KPI series.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::kpi::Granularity")]
pub enum KpiGranularity {
    /// Calendar days (at most 366 buckets).
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

/// How a KPI stands against its target.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::kpi::TargetStatus")]
pub enum KpiTargetStatus {
    /// At or better than the expected value (the target, pro-rated by
    /// elapsed time for counts and amounts).
    OnTrack,
    /// Worse than expected by at most 10 %.
    AtRisk,
    /// Worse than expected by more than 10 %.
    OffTrack,
}

/// Whether a target is a floor or a ceiling.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::TargetDirection")]
pub enum KpiTargetDirection {
    /// The KPI should reach at least the target.
    AtLeast,
    /// The KPI should stay at most the target.
    AtMost,
}

/// The period of a target.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::PeriodKind")]
pub enum KpiPeriodKind {
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
}

/// The dimension of a target's segment.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::SegmentDimension")]
pub enum KpiSegmentDimension {
    /// Lead source; the value is a source, e.g. WEBINAR.
    Source,
    /// Campaign; the value is a campaign id.
    Campaign,
    /// Campaign channel; the value is a channel, e.g. PAID_SEARCH.
    Channel,
    /// Owner; the value is a user id.
    Owner,
    /// Account industry; the value is the industry.
    Industry,
}

/// The agreed definition of a KPI, as both teams signed up to it.
#[derive(SimpleObject)]
pub struct KpiDefinition {
    /// The KPI.
    pub kpi: Kpi,
    /// Human name.
    pub name: String,
    /// The formula in words.
    pub formula: String,
    /// What the numerator counts or sums (ratios and means), else null.
    pub numerator: Option<String>,
    /// What the denominator counts (ratios and means), else null.
    pub denominator: Option<String>,
    /// The timestamps it reads; the first places a record in the period.
    pub timestamps: String,
    /// Unit of the value.
    pub unit: KpiUnit,
    /// The dimensions `groupBy` accepts for it.
    pub group_by: Vec<KpiDimension>,
    /// Whether it has a time series (`granularity`).
    pub time_series: bool,
    /// Whether it accumulates over a period (counts and amounts): its
    /// targets are pro-rated by elapsed time.
    pub cumulative: bool,
}

impl From<dom::Definition> for KpiDefinition {
    fn from(d: dom::Definition) -> Self {
        Self {
            kpi: d.kpi.into(),
            name: d.name.into(),
            formula: d.formula.into(),
            numerator: d.numerator.map(Into::into),
            denominator: d.denominator.map(Into::into),
            timestamps: d.timestamps.into(),
            unit: d.unit.into(),
            group_by: d.group_by.iter().map(|g| (*g).into()).collect(),
            time_series: d.time_series,
            cumulative: d.cumulative,
        }
    }
}

/// A shared goal: a target for a KPI over a month or a quarter, optionally
/// for one segment.
pub struct KpiTarget(pub kpi_target::Model);

/// A shared goal: a target for a KPI over a month or a quarter, optionally
/// for one segment.
#[Object]
impl KpiTarget {
    /// Global id.
    async fn id(&self) -> ID {
        global_id(ObjectType::KpiTarget, self.0.id)
    }
    /// The KPI (null if the stored name is no longer a KPI).
    async fn kpi(&self) -> Option<Kpi> {
        dom::Kpi::from_key(&self.0.kpi).map(Into::into)
    }
    /// Month or quarter.
    async fn period_kind(&self) -> KpiPeriodKind {
        self.0.period_kind.into()
    }
    /// First day of the period.
    async fn period_start(&self) -> NaiveDate {
        self.0.period_start
    }
    /// Dimension of the segment; null for the whole business.
    async fn segment_dimension(&self) -> Option<KpiSegmentDimension> {
        self.0.segment_dimension.map(Into::into)
    }
    /// Value of the segment (a source, a channel, an industry, or a campaign
    /// or user global id).
    async fn segment_value(&self) -> Option<String> {
        match (self.0.segment_dimension, &self.0.segment_value) {
            (Some(d), Some(v)) => Some(segment_value_out(d, v)),
            _ => None,
        }
    }
    /// The target (ratios as fractions, amounts in the KPI request's currency).
    async fn target(&self) -> f64 {
        self.0.target.to_f64().unwrap_or(0.0)
    }
    /// Floor or ceiling.
    async fn direction(&self) -> KpiTargetDirection {
        self.0.direction.into()
    }
    /// Version, +1 on every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was set first.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

fn segment_value_out(d: entity::enums::SegmentDimension, v: &str) -> String {
    use entity::enums::SegmentDimension as S;
    let object = match d {
        S::Campaign => Some(ObjectType::Campaign),
        S::Owner => Some(ObjectType::User),
        _ => None,
    };
    match (object, uuid::Uuid::parse_str(v)) {
        (Some(o), Ok(id)) => global_id(o, id).0,
        _ => v.to_owned(),
    }
}

/// A value against its target.
#[derive(SimpleObject)]
pub struct KpiTargetResult {
    /// The target that applies: same KPI, same period (the whole request
    /// period or the bucket), same segment.
    pub target: KpiTarget,
    /// What the value should be by now: the target × the elapsed share of
    /// the period for cumulative KPIs, the target itself otherwise.
    pub expected: f64,
    /// value ÷ target for AT_LEAST, target ÷ value for AT_MOST (above 1 is
    /// better in both); null when dividing by zero.
    pub attainment: Option<f64>,
    /// ON_TRACK, AT_RISK or OFF_TRACK (see `expected`; the band is 10 %).
    pub status: KpiTargetStatus,
}

/// One KPI value with what it is made of, so totals can be recomputed
/// honestly: "42 % (126 / 300)".
#[derive(SimpleObject)]
pub struct KpiValue {
    /// The value (ratios as fractions; amounts rounded to cents); null when
    /// undefined (a ratio over zero, a median of nothing).
    pub value: Option<f64>,
    /// Numerator of ratios; the sum for means. Null for counts and amounts.
    pub numerator: Option<f64>,
    /// Denominator of ratios; the count for means. Null for counts and amounts.
    pub denominator: Option<f64>,
    /// The mean, for KPIs whose value is a median (TIME_TO_FIRST_CONTACT).
    pub mean: Option<f64>,
    /// The target for exactly this KPI, period and segment, if one is set.
    pub target: Option<KpiTargetResult>,
}

impl From<Figures> for KpiValue {
    fn from(f: Figures) -> Self {
        Self {
            value: f.value,
            numerator: f.numerator,
            denominator: f.denominator,
            mean: f.mean,
            target: f.target.map(|t| KpiTargetResult {
                target: KpiTarget(t.target),
                expected: t.outcome.expected,
                attainment: t.outcome.attainment,
                status: t.outcome.status.into(),
            }),
        }
    }
}

/// One group of a grouped KPI.
#[derive(SimpleObject)]
pub struct KpiGroup {
    /// The dimension's value: a source, channel, opportunity type or
    /// industry, or a campaign or user global id; null for the records
    /// without one (so the groups always add up to the total).
    pub key: Option<String>,
    /// The value for this group.
    pub value: KpiValue,
}

/// One bucket of a KPI time series.
#[derive(SimpleObject)]
pub struct KpiPoint {
    /// First day of the bucket (the period's `from` for the first one).
    pub start: NaiveDate,
    /// Last day of the bucket (the period's `to` for the last one).
    pub end: NaiveDate,
    /// The value in this bucket.
    pub value: KpiValue,
}

/// One KPI's answer.
#[derive(SimpleObject)]
pub struct KpiResult {
    /// The KPI.
    pub kpi: Kpi,
    /// Unit of the values.
    pub unit: KpiUnit,
    /// Currency of money values; null for other units.
    pub currency: Option<String>,
    /// The value over the whole period and segment.
    pub total: KpiValue,
    /// One per value of `groupBy` (empty without it), ordered by key,
    /// records without a value last. LOSS_REASONS and COMPETITOR_WIN_RATES
    /// always have groups: their reasons and competitors.
    pub groups: Vec<KpiGroup>,
    /// One per bucket of `granularity` (empty without it), every bucket of
    /// the period, empty ones included.
    pub series: Vec<KpiPoint>,
}

fn result(f: KpiFigures, group_by: Option<dom::Dimension>) -> KpiResult {
    let object = match (f.kpi, group_by) {
        (dom::Kpi::CompetitorWinRates, _) => Some(ObjectType::Competitor),
        (_, Some(dom::Dimension::Campaign)) => Some(ObjectType::Campaign),
        (_, Some(dom::Dimension::Owner)) => Some(ObjectType::User),
        _ => None,
    };
    KpiResult {
        kpi: f.kpi.into(),
        unit: f.kpi.definition().unit.into(),
        currency: f.currency,
        total: f.total.into(),
        groups: f
            .groups
            .into_iter()
            .map(|g| KpiGroup {
                key: g.key.map(|k| match (object, uuid::Uuid::parse_str(&k)) {
                    (Some(o), Ok(id)) => global_id(o, id).0,
                    _ => k,
                }),
                value: g.figures.into(),
            })
            .collect(),
        series: f
            .series
            .into_iter()
            .map(|p| KpiPoint {
                start: p.start,
                end: p.end,
                value: p.figures.into(),
            })
            .collect(),
    }
}

/// Segment filters; every list left empty means "any", several lists
/// narrow together.
#[derive(InputObject, Default, Clone)]
pub struct KpiFilter {
    /// Lead sources (for spend KPIs: the campaign's channel).
    pub sources: Option<Vec<Channel>>,
    /// Campaigns: the lead's source campaign (for spend KPIs: the campaign).
    pub campaign_ids: Option<Vec<ID>>,
    /// Channels of the lead's source campaign (for spend KPIs: the campaign's).
    pub channels: Option<Vec<Channel>>,
    /// Owners of the lead (of the opportunity for deal KPIs). Not for spend KPIs.
    pub owner_ids: Option<Vec<ID>>,
    /// Account industries. Not for spend KPIs.
    pub industries: Option<Vec<String>>,
    /// Only leads and deals of target accounts (ABM). Not for spend KPIs.
    pub target_accounts_only: Option<bool>,
}

impl KpiFilter {
    /// The service's segment; `prefix` names the argument in errors.
    pub fn segment(self, prefix: &str) -> AppResult<Segment> {
        let ids =
            |ids: Option<Vec<ID>>, object: ObjectType, name: &str| -> AppResult<Vec<uuid::Uuid>> {
                ids.unwrap_or_default()
                    .iter()
                    .map(|id| decode_arg_id(id, object, &format!("{prefix}.{name}")))
                    .collect()
            };
        Ok(Segment {
            sources: self
                .sources
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            campaign_ids: ids(self.campaign_ids, ObjectType::Campaign, "campaignIds")?,
            channels: self
                .channels
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            owner_ids: ids(self.owner_ids, ObjectType::User, "ownerIds")?,
            industries: self.industries.unwrap_or_default(),
            target_accounts_only: self.target_accounts_only.unwrap_or(false),
        })
    }
}

/// What `kpis` computes.
#[derive(InputObject, Clone)]
pub struct KpisInput {
    /// The KPIs wanted, answered in this order.
    pub kpis: Vec<Kpi>,
    /// First day of the period (UTC, inclusive).
    pub from: InputDate,
    /// Last day of the period (UTC, inclusive); not before `from`.
    pub to: InputDate,
    /// Segment filters.
    pub filter: Option<KpiFilter>,
    /// One value per value of this dimension (each KPI's definition lists
    /// the dimensions it accepts). Not together with `granularity`.
    pub group_by: Option<KpiDimension>,
    /// One value per day, week, month or quarter of the period (at most 366
    /// buckets). Not together with `groupBy`.
    pub granularity: Option<KpiGranularity>,
    /// ISO 4217 currency of money KPIs: only amounts in it are summed (there
    /// is no conversion). Default USD.
    pub currency: Option<String>,
    /// How CAMPAIGN_ROI credits won revenue to the campaigns that touched
    /// the deal's lead. Default LINEAR.
    pub attribution_model: Option<AttributionModel>,
}

impl KpisInput {
    /// The service request.
    pub fn request(self) -> AppResult<svc::KpiRequest> {
        Ok(svc::KpiRequest {
            kpis: self.kpis.into_iter().map(Into::into).collect(),
            from: self.from.get(),
            to: self.to.get(),
            segment: self.filter.unwrap_or_default().segment("filter")?,
            group_by: self.group_by.map(Into::into),
            granularity: self.granularity.map(Into::into),
            currency: self.currency,
            attribution_model: self.attribution_model.map(Into::into),
        })
    }
}

/// Computes KPIs for the caller (shared with the CSV export).
pub async fn compute(
    db: &sea_orm::DatabaseConnection,
    viewer: &crate::auth::Viewer,
    input: KpisInput,
    cohorts: &svc::CohortCache,
) -> AppResult<Vec<KpiResult>> {
    let req = input.request()?;
    let group_by = req.group_by;
    let figures = svc::compute(db, viewer, &req, cohorts).await?;
    Ok(figures.into_iter().map(|f| result(f, group_by)).collect())
}

/// A stage of the cohort funnel.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FunnelStep {
    /// Created (the top of the funnel: the cohort).
    Lead,
    /// Entered MQL.
    Mql,
    /// Accepted by sales.
    Sal,
    /// Qualified by sales.
    Sql,
    /// Converted to an opportunity.
    Opportunity,
    /// Won: the lead became a customer.
    Won,
}

const STEPS: [FunnelStep; 6] = [
    FunnelStep::Lead,
    FunnelStep::Mql,
    FunnelStep::Sal,
    FunnelStep::Sql,
    FunnelStep::Opportunity,
    FunnelStep::Won,
];

/// One stage of the cohort funnel.
#[derive(SimpleObject)]
pub struct FunnelStage {
    /// The stage.
    pub stage: FunnelStep,
    /// Leads of the cohort that reached this stage or a later one (a lead
    /// that skipped a stage still counts in it, so counts never grow down
    /// the funnel).
    pub count: i64,
    /// This stage's count ÷ the previous stage's count; null for the top.
    pub conversion_from_previous: Option<KpiValue>,
    /// This stage's count ÷ the cohort (leads created in the period).
    pub conversion_from_top: KpiValue,
    /// Median days from entering the previous stage to entering this one,
    /// over the cohort's leads with both entries (first entries); null for
    /// the top or when no lead has both.
    pub median_days_from_previous: Option<f64>,
}

/// The funnel of a cohort: the leads created in a period (and segment),
/// and how far they have come since. Rates are true conversion rates of
/// the same leads.
#[derive(SimpleObject)]
pub struct Funnel {
    /// First day of the cohort's creation period.
    pub from: NaiveDate,
    /// Last day of the cohort's creation period.
    pub to: NaiveDate,
    /// LEAD, MQL, SAL, SQL, OPPORTUNITY, WON, in order.
    pub stages: Vec<FunnelStage>,
}

/// What `funnel` computes.
#[derive(InputObject)]
pub struct FunnelInput {
    /// First day of the period in which the cohort's leads were created.
    pub from: InputDate,
    /// Last day of that period (inclusive).
    pub to: InputDate,
    /// Segment filters (on the leads).
    pub filter: Option<KpiFilter>,
}

fn ratio_value(num: i64, den: i64) -> KpiValue {
    // Counts are far below 2^53; the conversion is exact.
    let (n, d) = (num as f64, den as f64);
    KpiValue {
        value: (den != 0).then(|| n / d),
        numerator: Some(n),
        denominator: Some(d),
        mean: None,
        target: None,
    }
}

/// KPI queries.
#[derive(Default)]
pub struct KpiQuery;

#[Object]
impl KpiQuery {
    /// Every KPI's agreed definition: formula in words, numerator,
    /// denominator, timestamps, unit, and the dimensions it can be grouped
    /// by. Roles: ADMIN, MARKETING, SALES, LEADERSHIP, REPORTING.
    #[graphql(guard = "PolicyGuard(Action::ReadKpis)")]
    async fn kpi_definitions(&self, ctx: &Context<'_>) -> Result<Vec<KpiDefinition>> {
        viewer(ctx)?.require(Action::ReadKpis)?;
        Ok(dom::Kpi::ALL
            .into_iter()
            .map(|k| k.definition().into())
            .collect())
    }

    /// KPIs for a period and segment: each one's total, and per group
    /// (`groupBy`) or per time bucket (`granularity`), with numerator and
    /// denominator for ratios and the target where one is set. The same
    /// numbers for every role that may read them. Roles: ADMIN, MARKETING,
    /// SALES, LEADERSHIP, REPORTING.
    #[graphql(guard = "PolicyGuard(Action::ReadKpis)")]
    async fn kpis(&self, ctx: &Context<'_>, input: KpisInput) -> Result<Vec<KpiResult>> {
        Ok(compute(db(ctx)?, viewer(ctx)?, input, loaders(ctx)?.cohorts()).await?)
    }

    /// The cohort funnel: of the leads created in the period (and segment),
    /// how many reached each stage since, the conversion between consecutive
    /// stages and the median days between them. Roles: ADMIN, MARKETING,
    /// SALES, LEADERSHIP, REPORTING.
    #[graphql(guard = "PolicyGuard(Action::ReadKpis)")]
    async fn funnel(&self, ctx: &Context<'_>, input: FunnelInput) -> Result<Funnel> {
        let segment = input.filter.unwrap_or_default().segment("input.filter")?;
        let cohorts = loaders(ctx)?.cohorts();
        let stages = svc::funnel(
            db(ctx)?,
            viewer(ctx)?,
            input.from.get(),
            input.to.get(),
            &segment,
            cohorts,
        )
        .await?;
        let top = stages.first().map(|s| s.count).unwrap_or(0);
        Ok(Funnel {
            from: input.from.get(),
            to: input.to.get(),
            stages: stages
                .into_iter()
                .zip(STEPS)
                .map(|(s, step)| FunnelStage {
                    stage: step,
                    count: s.count,
                    conversion_from_previous: s.previous.map(|p| ratio_value(s.count, p)),
                    conversion_from_top: ratio_value(s.count, top),
                    median_days_from_previous: s.median_days_from_previous,
                })
                .collect(),
        })
    }

    /// KPI targets, by KPI (all when omitted) and period start (inclusive
    /// days). Roles: ADMIN, MARKETING, SALES, LEADERSHIP, REPORTING.
    #[graphql(guard = "PolicyGuard(Action::ReadKpis)")]
    async fn kpi_targets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these KPIs.")] kpis: Option<Vec<Kpi>>,
        #[graphql(desc = "Periods starting on or after this day.")] from: Option<InputDate>,
        #[graphql(desc = "Periods starting on or before this day.")] to: Option<InputDate>,
    ) -> Result<Vec<KpiTarget>> {
        let kpis: Vec<dom::Kpi> = kpis
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let targets = svc::list_targets(
            db(ctx)?,
            viewer(ctx)?,
            &kpis,
            from.map(InputDate::get),
            to.map(InputDate::get),
        )
        .await?;
        Ok(targets.into_iter().map(KpiTarget).collect())
    }
}

/// A target's segment.
#[derive(InputObject)]
pub struct KpiSegmentInput {
    /// The dimension.
    pub dimension: KpiSegmentDimension,
    /// The value: a source or channel (e.g. WEBINAR), an industry, or a
    /// campaign or user global id.
    pub value: String,
}

/// Input of `setKpiTarget`.
#[derive(InputObject)]
pub struct SetKpiTargetInput {
    /// The KPI.
    pub kpi: Kpi,
    /// Month or quarter.
    pub period_kind: KpiPeriodKind,
    /// First day of the period: the 1st of a month (of January, April, July
    /// or October for a quarter).
    pub period_start: InputDate,
    /// The segment; omit for the whole business.
    pub segment: Option<KpiSegmentInput>,
    /// The target: ratios as fractions (0.3 for 30 %), amounts in the
    /// currency the dashboards ask for, at most 4 decimals.
    pub target: f64,
    /// Floor (AT_LEAST) or ceiling (AT_MOST).
    pub direction: KpiTargetDirection,
}

/// Result of `setKpiTarget`.
#[derive(SimpleObject)]
pub struct SetKpiTargetPayload {
    /// The target as set; null when there are user errors.
    pub kpi_target: Option<KpiTarget>,
    /// Validation failures; nothing was written when there are any.
    pub user_errors: Vec<UserError>,
}

/// Input of `deleteKpiTarget`.
#[derive(InputObject)]
pub struct DeleteKpiTargetInput {
    /// The target.
    pub id: ID,
}

/// Result of `deleteKpiTarget`.
#[derive(SimpleObject)]
pub struct DeleteKpiTargetPayload {
    /// The id of the deleted target.
    pub deleted_kpi_target_id: Option<ID>,
    /// Validation failures.
    pub user_errors: Vec<UserError>,
}

/// KPI target mutations.
#[derive(Default)]
pub struct KpiMutation;

#[Object]
impl KpiMutation {
    /// Sets the target of a KPI for a month or quarter and optional segment;
    /// setting it again for the same KPI, period and segment changes it.
    /// Roles: ADMIN, LEADERSHIP.
    #[graphql(guard = "PolicyGuard(Action::SetKpiTarget)")]
    async fn set_kpi_target(
        &self,
        ctx: &Context<'_>,
        input: SetKpiTargetInput,
    ) -> Result<SetKpiTargetPayload> {
        let segment = match input.segment {
            None => None,
            Some(s) => {
                let dimension: entity::enums::SegmentDimension = s.dimension.into();
                let value = match dimension {
                    entity::enums::SegmentDimension::Campaign => {
                        decode_arg_id(&ID(s.value), ObjectType::Campaign, "input.segment.value")?
                            .to_string()
                    }
                    entity::enums::SegmentDimension::Owner => {
                        decode_arg_id(&ID(s.value), ObjectType::User, "input.segment.value")?
                            .to_string()
                    }
                    _ => s.value,
                };
                Some((dimension, value))
            }
        };
        let target = Decimal::from_f64_retain(input.target)
            .map(|d| d.round_dp(4))
            .ok_or_else(|| {
                AppError::BadUserInput("`input.target` must be a finite number".into())
            })?;
        let fields = svc::TargetInput {
            kpi: input.kpi.into(),
            period_kind: input.period_kind.into(),
            period_start: input.period_start.get(),
            segment,
            target,
            direction: input.direction.into(),
        };
        let result = svc::set_target(db(ctx)?, viewer(ctx)?, fields).await;
        let (kpi_target, user_errors) = payload(result, KpiTarget)?;
        Ok(SetKpiTargetPayload {
            kpi_target,
            user_errors,
        })
    }

    /// Deletes a KPI target. Roles: ADMIN, LEADERSHIP.
    #[graphql(guard = "PolicyGuard(Action::SetKpiTarget)")]
    async fn delete_kpi_target(
        &self,
        ctx: &Context<'_>,
        input: DeleteKpiTargetInput,
    ) -> Result<DeleteKpiTargetPayload> {
        let id = decode_arg_id(&input.id, ObjectType::KpiTarget, "input.id")?;
        let result = svc::delete_target(db(ctx)?, viewer(ctx)?, id).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::KpiTarget, id))?;
        Ok(DeleteKpiTargetPayload {
            deleted_kpi_target_id: deleted,
            user_errors,
        })
    }
}
