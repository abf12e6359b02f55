//! The shared KPI catalogue (docs/kpis.md): what each KPI means, in words
//! both teams sign up to, plus the pure parts of the engine: segments, time
//! buckets of a [`Period`], how a KPI's value follows from its numerator
//! and denominator, and the target status rule.
//!
//! The SQL that computes the numerators and denominators lives in
//! `services::kpis`; everything here is plain data and arithmetic.

use chrono::{Datelike, Days, Months, NaiveDate};
use entity::enums::{Channel, SegmentDimension, TargetDirection};
use uuid::Uuid;

use super::period::{Period, PeriodError};

/// A shared KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kpi {
    /// Leads created in the period.
    LeadsCreated,
    /// Entries into MQL in the period.
    Mqls,
    /// Accepted ÷ (accepted + rejected) of MQLs dispositioned in the period.
    MqlAcceptanceRate,
    /// MQLs sales worked ÷ MQLs.
    MqlWorkedRate,
    /// Median (and mean) hours from MQL to the first sales touch.
    TimeToFirstContact,
    /// MQLs contacted within the SLA ÷ MQLs whose deadline fell in the period.
    SlaComplianceRate,
    /// Cohort: leads that reached SQL ÷ leads that reached MQL.
    MqlToSqlRate,
    /// Cohort: leads that reached OPPORTUNITY ÷ leads created.
    LeadToOpportunityRate,
    /// Cohort: leads that reached CUSTOMER ÷ leads that reached OPPORTUNITY.
    OpportunityToWinRate,
    /// Cohort: leads that reached CUSTOMER ÷ leads created.
    LeadToCustomerRate,
    /// Won ÷ (won + lost) of opportunities closed in the period.
    WinRate,
    /// Mean amount of the deals won in the period.
    AverageDealSize,
    /// Mean days from lead created to deal won.
    SalesCycleDays,
    /// Open pipeline × win rate × average deal size ÷ sales cycle days.
    PipelineVelocity,
    /// Amount of marketing-sourced opportunities created in the period.
    MarketingSourcedPipeline,
    /// Amount of opportunities created in the period with a campaign touch before.
    MarketingInfluencedPipeline,
    /// Amount of the deals won in the period.
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
    /// Revenue attributed to campaigns (by an attribution model) ÷ their spend.
    CampaignRoi,
    /// Lost deals per primary loss reason ÷ lost deals (groups are the reasons).
    LossReasons,
    /// Won ÷ (won + lost) of the deals whose feedback named a competitor
    /// (groups are the competitors).
    CompetitorWinRates,
}

/// What a KPI's value measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of records or events.
    Count,
    /// A fraction between 0 and 1 (numerator ÷ denominator).
    Ratio,
    /// An amount in the request's currency.
    Money,
    /// Hours.
    Hours,
    /// Days.
    Days,
    /// An amount in the request's currency per day.
    MoneyPerDay,
    /// A multiple: one amount in the request's currency ÷ another (3.5 is
    /// 3.5 times the money back).
    Multiple,
}

/// A dimension to group or filter KPIs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The lead's source channel (for spend: the campaign's channel).
    Source,
    /// The lead's source campaign (for spend: the campaign spent on).
    Campaign,
    /// The channel of the lead's source campaign (for spend: the campaign's).
    Channel,
    /// The owner of the lead (of the opportunity for deal KPIs).
    Owner,
    /// The industry of the account.
    Industry,
    /// The opportunity's type (NEW_BUSINESS, EXPANSION, RENEWAL).
    OpportunityType,
}

impl Dimension {
    /// The GraphQL name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "SOURCE",
            Self::Campaign => "CAMPAIGN",
            Self::Channel => "CHANNEL",
            Self::Owner => "OWNER",
            Self::Industry => "INDUSTRY",
            Self::OpportunityType => "OPPORTUNITY_TYPE",
        }
    }

    /// The dimension a target's segment names for this one; `None` for
    /// OPPORTUNITY_TYPE, which targets cannot name.
    pub fn segment_dimension(self) -> Option<SegmentDimension> {
        match self {
            Self::Source => Some(SegmentDimension::Source),
            Self::Campaign => Some(SegmentDimension::Campaign),
            Self::Channel => Some(SegmentDimension::Channel),
            Self::Owner => Some(SegmentDimension::Owner),
            Self::Industry => Some(SegmentDimension::Industry),
            Self::OpportunityType => None,
        }
    }
}

/// Segment filters of a KPI or funnel request; an empty list
/// means "any", several lists narrow together.
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
    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        *self == Segment::default()
    }

    /// The single (dimension, value) this segment selects, if it selects
    /// exactly one value of one dimension: the segment a target can name.
    pub fn single(&self) -> Option<(SegmentDimension, String)> {
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

/// Which records a KPI counts; decides which segments make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// Leads (or their stage history).
    Leads,
    /// Opportunities (segmented through the primary lead and the account).
    Opportunities,
    /// Campaign spend (segmented by campaign only).
    Spend,
}

impl Base {
    /// Dimensions this base can be segmented by.
    pub fn dimensions(self) -> &'static [Dimension] {
        use Dimension::*;
        match self {
            Self::Leads => &[Source, Campaign, Channel, Owner, Industry],
            Self::Opportunities => &[Source, Campaign, Channel, Owner, Industry, OpportunityType],
            Self::Spend => &[Source, Campaign, Channel],
        }
    }
}

/// Time buckets of a KPI time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Calendar days.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

/// The agreed definition of one KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// The KPI.
    pub kpi: Kpi,
    /// Its stable key, e.g. `WIN_RATE` (the GraphQL enum value).
    pub key: &'static str,
    /// Human name.
    pub name: &'static str,
    /// The formula in words.
    pub formula: &'static str,
    /// What the numerator counts or sums (ratios and means).
    pub numerator: Option<&'static str>,
    /// What the denominator counts (ratios and means).
    pub denominator: Option<&'static str>,
    /// The timestamps it reads, and which one places a record in the period.
    pub timestamps: &'static str,
    /// Unit of the value.
    pub unit: Unit,
    /// Records it counts, hence the segments that make sense.
    pub base: Base,
    /// Dimensions `groupBy` accepts.
    pub group_by: &'static [Dimension],
    /// Whether a time series (`granularity`) is available.
    pub time_series: bool,
    /// Whether the value accumulates over the period (counts and sums), so a
    /// target is pro-rated by elapsed time; ratios and means are not.
    pub cumulative: bool,
}

impl Kpi {
    /// Every KPI, in catalogue order.
    pub const ALL: [Kpi; 25] = [
        Kpi::LeadsCreated,
        Kpi::Mqls,
        Kpi::MqlAcceptanceRate,
        Kpi::MqlWorkedRate,
        Kpi::TimeToFirstContact,
        Kpi::SlaComplianceRate,
        Kpi::MqlToSqlRate,
        Kpi::LeadToOpportunityRate,
        Kpi::OpportunityToWinRate,
        Kpi::LeadToCustomerRate,
        Kpi::WinRate,
        Kpi::AverageDealSize,
        Kpi::SalesCycleDays,
        Kpi::PipelineVelocity,
        Kpi::MarketingSourcedPipeline,
        Kpi::MarketingInfluencedPipeline,
        Kpi::Revenue,
        Kpi::MarketingSpend,
        Kpi::CostPerLead,
        Kpi::CostPerMql,
        Kpi::CostPerQualifiedOpportunity,
        Kpi::CostPerCustomer,
        Kpi::CampaignRoi,
        Kpi::LossReasons,
        Kpi::CompetitorWinRates,
    ];

    /// The stable key (the GraphQL enum value and the stored target's `kpi`).
    pub fn key(self) -> &'static str {
        self.definition().key
    }

    /// The KPI with this key.
    pub fn from_key(key: &str) -> Option<Kpi> {
        Kpi::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Whether its groups are intrinsic (loss reasons, competitors): always
    /// returned, whatever `groupBy`, which it does not accept.
    pub fn has_intrinsic_groups(self) -> bool {
        matches!(self, Kpi::LossReasons | Kpi::CompetitorWinRates)
    }

    /// Whether the value is a ratio of two counts (numerator ÷ denominator).
    pub fn is_ratio(self) -> bool {
        self.definition().unit == Unit::Ratio
    }

    /// The agreed definition.
    pub fn definition(self) -> Definition {
        use Dimension::*;
        const LEAD_DIMS: &[Dimension] = &[Source, Campaign, Channel, Owner, Industry];
        const DEAL_DIMS: &[Dimension] =
            &[Source, Campaign, Channel, Owner, Industry, OpportunityType];
        const SPEND_DIMS: &[Dimension] = &[Source, Campaign, Channel];
        let d = |key,
                 name,
                 formula,
                 numerator,
                 denominator,
                 timestamps,
                 unit,
                 base,
                 group_by,
                 cumulative| Definition {
            kpi: self,
            key,
            name,
            formula,
            numerator,
            denominator,
            timestamps,
            unit,
            base,
            group_by,
            time_series: true,
            cumulative,
        };
        match self {
            Kpi::LeadsCreated => d(
                "LEADS_CREATED",
                "Leads created",
                "The number of leads created in the period.",
                None,
                None,
                "lead createdAt",
                Unit::Count,
                Base::Leads,
                LEAD_DIMS,
                true,
            ),
            Kpi::Mqls => d(
                "MQLS",
                "MQLs",
                "The number of times a lead entered MQL in the period (a lead recycled and qualified again counts again).",
                None,
                None,
                "stage change to MQL: at",
                Unit::Count,
                Base::Leads,
                LEAD_DIMS,
                true,
            ),
            Kpi::MqlAcceptanceRate => d(
                "MQL_ACCEPTANCE_RATE",
                "MQL acceptance rate",
                "Of the MQLs sales dispositioned in the period, the share it accepted: accepted ÷ (accepted + rejected).",
                Some("MQLs accepted (stage change MQL → SAL) in the period"),
                Some("MQLs accepted or rejected (MQL → SAL or MQL → NURTURE) in the period"),
                "stage change out of MQL: at",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::MqlWorkedRate => d(
                "MQL_WORKED_RATE",
                "MQL worked rate",
                "Of the MQL entries in the period, the share sales has touched since (a sales touch, or an accept or reject, which counts as the first touch).",
                Some(
                    "MQL entries in the period whose lead has a first contact at or after the entry",
                ),
                Some("MQL entries in the period"),
                "stage change to MQL: at; lead firstContactedAt",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::TimeToFirstContact => d(
                "TIME_TO_FIRST_CONTACT",
                "Time to first contact",
                "The median hours from entering MQL to the first sales touch, over the MQL entries in the period that have been touched; the mean is numerator ÷ denominator.",
                Some("sum of hours from MQL entry to first contact"),
                Some("MQL entries in the period with a first contact at or after the entry"),
                "stage change to MQL: at; lead firstContactedAt",
                Unit::Hours,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::SlaComplianceRate => d(
                "SLA_COMPLIANCE_RATE",
                "SLA compliance rate",
                "Of the MQLs whose first-contact deadline fell in the period (and has passed, or was met), the share contacted by the deadline.",
                Some("MQLs with firstContactedAt at or before slaFirstContactDueAt"),
                Some(
                    "MQLs with slaFirstContactDueAt in the period, already passed or already contacted",
                ),
                "lead slaFirstContactDueAt; firstContactedAt",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::MqlToSqlRate => d(
                "MQL_TO_SQL_RATE",
                "MQL to SQL rate (cohort)",
                "Of the leads created in the period that reached MQL, the share that reached SQL (or a later stage) since.",
                Some("leads created in the period that ever reached SQL or later"),
                Some("leads created in the period that ever reached MQL or later"),
                "lead createdAt places the cohort; stage changes after it",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::LeadToOpportunityRate => d(
                "LEAD_TO_OPPORTUNITY_RATE",
                "Lead to opportunity rate (cohort)",
                "Of the leads created in the period, the share converted to an opportunity (reached OPPORTUNITY or CUSTOMER) since.",
                Some("leads created in the period that ever reached OPPORTUNITY or later"),
                Some("leads created in the period"),
                "lead createdAt places the cohort; stage changes after it",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::OpportunityToWinRate => d(
                "OPPORTUNITY_TO_WIN_RATE",
                "Opportunity to win rate (cohort)",
                "Of the leads created in the period that were converted to an opportunity, the share that became customers (their deal was won).",
                Some("leads created in the period that ever reached CUSTOMER"),
                Some("leads created in the period that ever reached OPPORTUNITY or later"),
                "lead createdAt places the cohort; stage changes after it",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::LeadToCustomerRate => d(
                "LEAD_TO_CUSTOMER_RATE",
                "Lead to customer rate (cohort)",
                "Of the leads created in the period, the share that became customers since.",
                Some("leads created in the period that ever reached CUSTOMER"),
                Some("leads created in the period"),
                "lead createdAt places the cohort; stage changes after it",
                Unit::Ratio,
                Base::Leads,
                LEAD_DIMS,
                false,
            ),
            Kpi::WinRate => d(
                "WIN_RATE",
                "Win rate",
                "Of the opportunities closed in the period, the share won: won ÷ (won + lost).",
                Some("opportunities closed won in the period"),
                Some("opportunities closed won or lost in the period"),
                "opportunity closedAt",
                Unit::Ratio,
                Base::Opportunities,
                DEAL_DIMS,
                false,
            ),
            Kpi::AverageDealSize => d(
                "AVERAGE_DEAL_SIZE",
                "Average deal size",
                "The mean amount of the opportunities won in the period, in the request's currency.",
                Some("amount won in the period"),
                Some("opportunities won in the period"),
                "opportunity closedAt",
                Unit::Money,
                Base::Opportunities,
                DEAL_DIMS,
                false,
            ),
            Kpi::SalesCycleDays => d(
                "SALES_CYCLE_DAYS",
                "Sales cycle",
                "The mean days from the primary lead's creation (the opportunity's, when it has no lead) to the win, over the opportunities won in the period.",
                Some("sum of days from lead created to won"),
                Some("opportunities won in the period"),
                "opportunity closedAt places it in the period; lead createdAt (else opportunity createdAt)",
                Unit::Days,
                Base::Opportunities,
                DEAL_DIMS,
                false,
            ),
            Kpi::PipelineVelocity => Definition {
                time_series: false,
                ..d(
                    "PIPELINE_VELOCITY",
                    "Pipeline velocity",
                    "Open opportunities at the end of the period × the period's win rate × its average deal size ÷ its sales cycle days: expected revenue per day.",
                    None,
                    None,
                    "opportunity createdAt and closedAt (open at the period's end); closedAt for the win rate, deal size and cycle",
                    Unit::MoneyPerDay,
                    Base::Opportunities,
                    DEAL_DIMS,
                    false,
                )
            },
            Kpi::MarketingSourcedPipeline => d(
                "MARKETING_SOURCED_PIPELINE",
                "Marketing-sourced pipeline",
                "The amount of the opportunities created in the period that marketing sourced (sourcedBy MARKETING).",
                None,
                None,
                "opportunity createdAt",
                Unit::Money,
                Base::Opportunities,
                DEAL_DIMS,
                true,
            ),
            Kpi::MarketingInfluencedPipeline => d(
                "MARKETING_INFLUENCED_PIPELINE",
                "Marketing-influenced pipeline",
                "The amount of the opportunities created in the period whose primary lead had a campaign touch before the opportunity was created (a source campaign, or an activity with a campaign).",
                None,
                None,
                "opportunity createdAt; activity occurredAt",
                Unit::Money,
                Base::Opportunities,
                DEAL_DIMS,
                true,
            ),
            Kpi::Revenue => d(
                "REVENUE",
                "Revenue",
                "The amount of the opportunities won in the period. Group by SOURCE for revenue by source, by OPPORTUNITY_TYPE for new versus expansion revenue.",
                None,
                None,
                "opportunity closedAt",
                Unit::Money,
                Base::Opportunities,
                DEAL_DIMS,
                true,
            ),
            Kpi::MarketingSpend => d(
                "MARKETING_SPEND",
                "Marketing spend",
                "The campaign spend dated in the period.",
                None,
                None,
                "campaign spend spentOn",
                Unit::Money,
                Base::Spend,
                SPEND_DIMS,
                true,
            ),
            Kpi::CostPerLead => d(
                "COST_PER_LEAD",
                "Cost per lead",
                "Spend in the period ÷ leads created in the period.",
                Some("campaign spend dated in the period"),
                Some("leads created in the period"),
                "campaign spend spentOn; lead createdAt",
                Unit::Money,
                Base::Spend,
                SPEND_DIMS,
                false,
            ),
            Kpi::CostPerMql => d(
                "COST_PER_MQL",
                "Cost per MQL",
                "Spend in the period ÷ MQL entries in the period.",
                Some("campaign spend dated in the period"),
                Some("entries into MQL in the period"),
                "campaign spend spentOn; stage change to MQL: at",
                Unit::Money,
                Base::Spend,
                SPEND_DIMS,
                false,
            ),
            Kpi::CostPerQualifiedOpportunity => d(
                "COST_PER_QUALIFIED_OPPORTUNITY",
                "Cost per qualified opportunity",
                "Spend in the period ÷ opportunities created in the period (an opportunity is a converted SQL).",
                Some("campaign spend dated in the period"),
                Some("opportunities created in the period"),
                "campaign spend spentOn; opportunity createdAt",
                Unit::Money,
                Base::Spend,
                SPEND_DIMS,
                false,
            ),
            Kpi::CostPerCustomer => d(
                "COST_PER_CUSTOMER",
                "Cost per customer",
                "Spend in the period ÷ new-business opportunities won in the period (new customers).",
                Some("campaign spend dated in the period"),
                Some("NEW_BUSINESS opportunities won in the period"),
                "campaign spend spentOn; opportunity closedAt",
                Unit::Money,
                Base::Spend,
                SPEND_DIMS,
                false,
            ),
            Kpi::CampaignRoi => Definition {
                time_series: false,
                ..d(
                    "CAMPAIGN_ROI",
                    "Campaign ROI",
                    "Revenue attributed to campaigns ÷ their spend in the period: the amounts of the deals won in the period (in the request's currency) shared out over the campaign touches of their primary lead at or before the deal's creation by the request's attributionModel (default LINEAR), divided by the campaign spend dated in the period. Group by CAMPAIGN for each campaign's return; a campaign credited without spend has no value.",
                    Some("revenue attributed to the campaigns from deals won in the period"),
                    Some("campaign spend dated in the period"),
                    "opportunity closedAt; activity occurredAt (touches at or before the opportunity's createdAt); campaign spend spentOn",
                    Unit::Multiple,
                    Base::Spend,
                    &[Campaign],
                    false,
                )
            },
            Kpi::LossReasons => Definition {
                time_series: false,
                ..d(
                    "LOSS_REASONS",
                    "Loss reasons",
                    "Of the opportunities lost in the period, the share whose win/loss feedback gives each primary reason. The groups are the reasons (key null: lost without a reason recorded), each with numerator = lost deals with that reason and denominator = lost deals, so the group numerators add up to the denominator; the total is the share of lost deals with a reason recorded. Filter by source, campaign and the other segments; the same numbers as winLossAnalysis.",
                    Some(
                        "opportunities lost in the period whose LOST feedback gives the reason (total: any reason)",
                    ),
                    Some("opportunities lost in the period"),
                    "opportunity closedAt",
                    Unit::Ratio,
                    Base::Opportunities,
                    &[],
                    false,
                )
            },
            Kpi::CompetitorWinRates => Definition {
                time_series: false,
                ..d(
                    "COMPETITOR_WIN_RATES",
                    "Competitor win rates",
                    "Of the opportunities closed in the period whose win/loss feedback names a competitor, the share won: won ÷ (won + lost). The groups are the competitors (keys are competitor ids), each over the deals naming it; the total is over every deal naming any competitor. Filter by source, campaign and the other segments; the same numbers as winLossAnalysis.",
                    Some("opportunities won in the period whose WON feedback names the competitor"),
                    Some(
                        "opportunities won or lost in the period whose feedback names the competitor",
                    ),
                    "opportunity closedAt",
                    Unit::Ratio,
                    Base::Opportunities,
                    &[],
                    false,
                )
            },
        }
    }

    /// The value from the numerator and denominator: their quotient, or
    /// `None` when the denominator is zero. Counts and sums (no
    /// denominator) are their numerator.
    pub fn value(self, numerator: f64, denominator: Option<f64>) -> Option<f64> {
        match denominator {
            None => Some(numerator),
            Some(0.0) => None,
            Some(d) => Some(numerator / d),
        }
    }
}

/// Rounds a money amount to cents (KPIs are computed in double precision
/// from exact stored amounts).
pub fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Most buckets one time series may have.
pub const MAX_BUCKETS: usize = 366;

/// The first day of the bucket that contains `day`.
fn bucket_start(day: NaiveDate, g: Granularity) -> NaiveDate {
    match g {
        Granularity::Day => day,
        Granularity::Week => day
            .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day),
        Granularity::Month => day.with_day(1).unwrap_or(day),
        Granularity::Quarter => {
            let month = (day.month0() / 3) * 3 + 1;
            NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day)
        }
    }
}

fn next_bucket(start: NaiveDate, g: Granularity) -> NaiveDate {
    match g {
        Granularity::Day => start.checked_add_days(Days::new(1)).unwrap_or(start),
        Granularity::Week => start.checked_add_days(Days::new(7)).unwrap_or(start),
        Granularity::Month => start.checked_add_months(Months::new(1)).unwrap_or(start),
        Granularity::Quarter => start.checked_add_months(Months::new(3)).unwrap_or(start),
    }
}

/// The buckets of a time series over `period`: calendar days, ISO weeks,
/// months or quarters, clipped to the period so that they partition it
/// exactly. Each is `(first day, day after the last)`.
pub fn buckets(period: Period, g: Granularity) -> Result<Vec<(NaiveDate, NaiveDate)>, PeriodError> {
    let end = period.end();
    let mut out = Vec::new();
    let mut start = period.from;
    while start < end {
        let next = next_bucket(bucket_start(start, g), g).min(end);
        if next <= start {
            break;
        }
        out.push((start, next));
        if out.len() > MAX_BUCKETS {
            return Err(PeriodError {
                argument: "granularity",
                message: format!(
                    "the period {}..{} has more than {MAX_BUCKETS} buckets at this granularity; choose a coarser one or a shorter period",
                    period.from, period.to
                ),
            });
        }
        start = next;
    }
    Ok(out)
}

/// How a KPI stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStatus {
    /// At or better than the pro-rated target.
    OnTrack,
    /// Within 10 % of the pro-rated target on the wrong side.
    AtRisk,
    /// More than 10 % worse than the pro-rated target.
    OffTrack,
}

/// The outcome of comparing a value with its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetOutcome {
    /// What the value should be by now: the target × the elapsed fraction
    /// of the period for cumulative KPIs, the target itself otherwise.
    pub expected: f64,
    /// value ÷ target for AT_LEAST, target ÷ value for AT_MOST (so above 1
    /// is better in both); `None` when the divisor is zero.
    pub attainment: Option<f64>,
    /// The status.
    pub status: TargetStatus,
}

/// Share of the status band: within this fraction of the expected value on
/// the wrong side is AT_RISK, beyond it OFF_TRACK.
pub const AT_RISK_BAND: f64 = 0.10;

/// The target rule. `elapsed` is the fraction of the target's period that
/// has passed (0 before it starts, 1 after it ends).
///
/// - Cumulative KPIs (counts, amounts) are judged against a pro-rated
///   target: `expected = target × elapsed`. Ratios, means and medians are
///   judged against the target itself.
/// - AT_LEAST: ON_TRACK when `value ≥ expected`, AT_RISK when `value ≥ 0.9
///   × expected`, else OFF_TRACK.
/// - AT_MOST: ON_TRACK when `value ≤ expected`, AT_RISK when `value ≤ 1.1
///   × expected`, else OFF_TRACK.
/// - A value that is missing (no data: a ratio with a zero denominator) is
///   judged as 0.
pub fn target_outcome(
    value: Option<f64>,
    target: f64,
    direction: TargetDirection,
    cumulative: bool,
    elapsed: f64,
) -> TargetOutcome {
    let elapsed = elapsed.clamp(0.0, 1.0);
    let value = value.unwrap_or(0.0);
    let expected = if cumulative { target * elapsed } else { target };
    let (attainment, status) = match direction {
        TargetDirection::AtLeast => {
            let attainment = (target != 0.0).then(|| value / target);
            let status = if value >= expected {
                TargetStatus::OnTrack
            } else if value >= expected * (1.0 - AT_RISK_BAND) {
                TargetStatus::AtRisk
            } else {
                TargetStatus::OffTrack
            };
            (attainment, status)
        }
        TargetDirection::AtMost => {
            let attainment = (value != 0.0).then(|| target / value);
            let status = if value <= expected {
                TargetStatus::OnTrack
            } else if value <= expected * (1.0 + AT_RISK_BAND) {
                TargetStatus::AtRisk
            } else {
                TargetStatus::OffTrack
            };
            (attainment, status)
        }
    };
    TargetOutcome {
        expected,
        attainment,
        status,
    }
}

/// The fraction of `[start, end)` (days) elapsed at `today` (counting
/// today as elapsed).
pub fn elapsed_fraction(start: NaiveDate, end: NaiveDate, today: NaiveDate) -> f64 {
    let total = (end - start).num_days();
    if total <= 0 {
        return 1.0;
    }
    let done = ((today - start).num_days() + 1).clamp(0, total);
    // Day counts are small; the conversion is exact.
    done as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetDirection::{AtLeast, AtMost};
    use TargetStatus::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_period_ending_on_9999_12_31_has_buckets_without_overflow() {
        let p =
            Period::new(day("9999-12-20"), day("9999-12-31")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.end(), day("+10000-01-01"));
        // 20 Dec 9999 is a Monday: two ISO weeks, the second cut at the period's end.
        assert_eq!(
            buckets(p, Granularity::Week),
            Ok(vec![
                (day("9999-12-20"), day("9999-12-27")),
                (day("9999-12-27"), day("+10000-01-01"))
            ])
        );
        assert_eq!(buckets(p, Granularity::Quarter).map(|b| b.len()), Ok(1));
    }

    #[test]
    fn a_segment_names_a_target_only_when_it_selects_one_value_of_one_dimension() {
        let one = Segment {
            sources: vec![Channel::Webinar],
            ..Segment::default()
        };
        assert_eq!(
            one.single(),
            Some((SegmentDimension::Source, "WEBINAR".to_owned()))
        );
        let two = Segment {
            industries: vec!["Retail".into()],
            ..one.clone()
        };
        assert_eq!(two.single(), None);
        let target_accounts = Segment {
            target_accounts_only: true,
            ..one
        };
        assert_eq!(target_accounts.single(), None);
        assert!(Segment::default().is_empty());
        assert_eq!(Segment::default().single(), None);
    }

    #[test]
    fn every_kpi_key_round_trips_and_is_unique() {
        for kpi in Kpi::ALL {
            assert_eq!(Kpi::from_key(kpi.key()), Some(kpi));
            assert_eq!(kpi.definition().kpi, kpi);
        }
        let mut keys: Vec<_> = Kpi::ALL.iter().map(|k| k.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Kpi::ALL.len());
    }

    #[test]
    fn ratios_name_their_numerator_and_denominator() {
        for kpi in Kpi::ALL {
            let d = kpi.definition();
            if d.unit == Unit::Ratio {
                assert!(
                    d.numerator.is_some() && d.denominator.is_some(),
                    "{}",
                    d.key
                );
            }
            for dim in d.group_by {
                assert!(d.base.dimensions().contains(dim), "{} by {dim:?}", d.key);
            }
        }
    }

    #[test]
    fn value_is_numerator_over_denominator_and_none_over_zero() {
        assert_eq!(Kpi::WinRate.value(126.0, Some(300.0)), Some(0.42));
        assert_eq!(Kpi::WinRate.value(0.0, Some(0.0)), None);
        assert_eq!(Kpi::LeadsCreated.value(7.0, None), Some(7.0));
    }

    #[test]
    fn monthly_buckets_are_clipped_to_the_period() {
        let p = Period::new(day("2026-01-15"), day("2026-03-10")).unwrap_or(Period {
            from: day("2026-01-01"),
            to: day("2026-01-01"),
        });
        let b = buckets(p, Granularity::Month).unwrap_or_default();
        assert_eq!(
            b,
            vec![
                (day("2026-01-15"), day("2026-02-01")),
                (day("2026-02-01"), day("2026-03-01")),
                (day("2026-03-01"), day("2026-03-11")),
            ]
        );
    }

    #[test]
    fn weeks_start_on_monday_and_quarters_on_their_first_month() {
        // 2026-01-01 is a Thursday: the first week runs Thu..Sun.
        let p = Period {
            from: day("2026-01-01"),
            to: day("2026-01-12"),
        };
        let b = buckets(p, Granularity::Week).unwrap_or_default();
        assert_eq!(
            b,
            vec![
                (day("2026-01-01"), day("2026-01-05")),
                (day("2026-01-05"), day("2026-01-12")),
                (day("2026-01-12"), day("2026-01-13")),
            ]
        );
        let p = Period {
            from: day("2026-02-10"),
            to: day("2026-12-31"),
        };
        let q = buckets(p, Granularity::Quarter).unwrap_or_default();
        assert_eq!(q.len(), 4);
        assert_eq!(q[1], (day("2026-04-01"), day("2026-07-01")));
    }

    #[test]
    fn daily_buckets_over_three_years_are_refused_naming_granularity() {
        let p = Period {
            from: day("2024-01-01"),
            to: day("2026-12-31"),
        };
        assert_eq!(
            buckets(p, Granularity::Day).err().map(|e| e.argument),
            Some("granularity")
        );
        assert_eq!(buckets(p, Granularity::Week).map(|b| b.len()), Ok(157));
    }

    #[test]
    fn cumulative_targets_are_pro_rated_by_elapsed_time() {
        // 100 leads by the end of a 30-day month; 15 days gone: 50 expected.
        let o = target_outcome(Some(50.0), 100.0, AtLeast, true, 0.5);
        assert_eq!(
            (o.expected, o.attainment, o.status),
            (50.0, Some(0.5), OnTrack)
        );
        // 46 is within 10 % of 50 (>= 45): at risk; 44 is off track.
        assert_eq!(
            target_outcome(Some(46.0), 100.0, AtLeast, true, 0.5).status,
            AtRisk
        );
        assert_eq!(
            target_outcome(Some(44.0), 100.0, AtLeast, true, 0.5).status,
            OffTrack
        );
    }

    #[test]
    fn ratio_targets_are_not_pro_rated() {
        // Win rate 0.27 against 0.30: 0.27 >= 0.9 * 0.30 = 0.27 -> at risk.
        let o = target_outcome(Some(0.27), 0.30, AtLeast, false, 0.1);
        assert_eq!(o.expected, 0.30);
        assert_eq!(o.status, AtRisk);
        assert_eq!(
            target_outcome(Some(0.31), 0.30, AtLeast, false, 0.1).status,
            OnTrack
        );
        assert_eq!(
            target_outcome(None, 0.30, AtLeast, false, 0.1).status,
            OffTrack
        );
    }

    #[test]
    fn at_most_targets_invert_attainment_and_the_bands() {
        // Cost per lead 50 against a ceiling of 40: attainment 0.8, 50 > 44: off track.
        let o = target_outcome(Some(50.0), 40.0, AtMost, false, 1.0);
        assert_eq!((o.attainment, o.status), (Some(0.8), OffTrack));
        assert_eq!(
            target_outcome(Some(43.0), 40.0, AtMost, false, 1.0).status,
            AtRisk
        );
        assert_eq!(
            target_outcome(Some(30.0), 40.0, AtMost, false, 1.0).status,
            OnTrack
        );
        // Spend budget 10,000 a quarter, a third gone, 3,500 spent: over the 3,333 pace, within 10 %.
        let spend = target_outcome(Some(3500.0), 10_000.0, AtMost, true, 1.0 / 3.0);
        assert_eq!(spend.status, AtRisk);
        assert_eq!(
            target_outcome(Some(0.0), 40.0, AtMost, false, 1.0).attainment,
            None
        );
    }

    #[test]
    fn elapsed_fraction_counts_today_and_clamps() {
        let (s, e) = (day("2026-04-01"), day("2026-05-01"));
        assert_eq!(elapsed_fraction(s, e, day("2026-03-15")), 0.0);
        assert_eq!(elapsed_fraction(s, e, day("2026-04-15")), 0.5);
        assert_eq!(elapsed_fraction(s, e, day("2026-06-01")), 1.0);
    }
}
