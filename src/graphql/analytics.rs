//! Closed-loop analytics in the API: campaign performance, win/loss and
//! lead-rejection aggregates, and multi-touch attribution. Aggregates carry
//! no personal data (no names, emails or notes), so every reading role,
//! REPORTING included, may read them.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::ObjectType;
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::{
    campaign::Campaign,
    common::{Money, Ratio, db, global_id, loaders, viewer},
    competitor::Competitor,
    enums::{ActivityKind, Channel, FeedbackReason, Outcome, RejectionReason},
    scalars::InputDate,
};
use crate::{
    auth::{Action, PolicyGuard},
    domain::{attribution, period::Period},
    error::AppError,
    services::analytics::{
        self as svc, Amount, GroupKey, RejectionDimension, Transitions, WinLoss, WinLossDimension,
    },
};

/// How an opportunity's amount is shared among the campaign touches of its
/// primary lead made at or before the opportunity's creation. Credits sum
/// to exactly the amount (largest remainder, in cents).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::attribution::AttributionModel")]
pub enum AttributionModel {
    /// All to the first touch.
    FirstTouch,
    /// All to the last touch at or before the opportunity's creation.
    LastTouch,
    /// Evenly over every touch.
    Linear,
    /// 40% to the first touch, 40% to the last, 20% evenly between them (one
    /// touch: 100%; two: 50% each).
    UShaped,
    /// 30% each to the first touch, the lead-conversion touch (the last one
    /// at or before the lead became an MQL, else was created) and the last
    /// touch, 10% evenly over the others; scaled to 100% when a role is
    /// missing or no touch is left over.
    WShaped,
    /// Weight halves every 7 days before the opportunity's creation.
    TimeDecay,
}

fn money(a: Amount) -> Money {
    Money::new(a.amount, a.currency)
}

fn ratio(r: svc::Ratio) -> Ratio {
    Ratio::of(r.numerator, r.denominator)
}

/// One touch of an opportunity's attribution with its credit.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TouchCredit {
    /// The activity's global id.
    pub activity_id: ID,
    /// What the activity was.
    pub kind: ActivityKind,
    /// When it occurred.
    pub occurred_at: DateTime<Utc>,
    /// The part of the amount credited to this touch, in cents.
    pub credit: Money,
    /// The touch's exact share of the amount under the model (0.0-1.0),
    /// before rounding to cents.
    pub share: f64,
    #[graphql(skip)]
    pub campaign_id: Uuid,
}

#[ComplexObject]
impl TouchCredit {
    /// The campaign the touch belongs to.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.campaign_id)
            .await?
            .map(Campaign))
    }
}

/// The credit of one campaign in an opportunity's attribution.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CampaignCredit {
    /// The credits of the campaign's touches, summed.
    pub credit: Money,
    /// How many of the counted touches are the campaign's.
    pub touches: i32,
    #[graphql(skip)]
    pub campaign_id: Uuid,
}

#[ComplexObject]
impl CampaignCredit {
    /// The campaign.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.campaign_id)
            .await?
            .map(Campaign))
    }
}

/// An opportunity's amount credited to campaign touches under one model.
#[derive(SimpleObject)]
pub struct OpportunityAttribution {
    /// The model used.
    pub model: AttributionModel,
    /// The amount shared out: the opportunity's amount.
    pub amount: Money,
    /// The counted touches (campaign touches of the primary lead at or
    /// before the opportunity's creation), oldest first, with their credits;
    /// empty when there is none (then nothing is credited).
    pub touches: Vec<TouchCredit>,
    /// The credits per campaign, largest first (ties by campaign id); they
    /// sum to exactly `amount` when there is any touch.
    pub campaigns: Vec<CampaignCredit>,
}

/// Attributes one opportunity (the resolver of `Opportunity.attribution`).
pub async fn attribution_of(
    ctx: &Context<'_>,
    opp: &entity::opportunity::Model,
    model: AttributionModel,
) -> Result<OpportunityAttribution> {
    viewer(ctx)?.require(Action::ReadRecords)?;
    let data = loaders(ctx)?.touches_of(opp.id).await?.unwrap_or_default();
    let amount = Money::new(opp.amount, opp.currency.clone());
    let deal = attribution::Deal {
        created_at: opp.created_at,
        lead_converted_at: data.lead_converted_at,
        amount: amount.amount,
    };
    let plain: Vec<attribution::Touch> = data.touches.iter().map(|t| t.touch).collect();
    let credits = attribution::attribute(model.into(), &deal, &plain);
    let mut campaigns: Vec<CampaignCredit> = attribution::campaign_totals(&credits)
        .into_iter()
        .map(|(campaign_id, credit)| CampaignCredit {
            credit: Money::new(credit, opp.currency.clone()),
            touches: credits
                .iter()
                .filter(|c| c.campaign_id == campaign_id)
                .count()
                .try_into()
                .unwrap_or(i32::MAX),
            campaign_id,
        })
        .collect();
    campaigns.sort_by(|a, b| {
        b.credit
            .amount
            .cmp(&a.credit.amount)
            .then(a.campaign_id.cmp(&b.campaign_id))
    });
    // `attribute` returns the counted touches in (time, id) order, as `data`
    // holds them; match by id all the same.
    let touches = credits
        .iter()
        .filter_map(|c| {
            let t = data.touches.iter().find(|t| t.touch.id == c.touch_id)?;
            Some(TouchCredit {
                activity_id: global_id(ObjectType::Activity, c.touch_id),
                kind: t.kind.into(),
                occurred_at: t.touch.at,
                credit: Money::new(c.amount, opp.currency.clone()),
                share: c.weight,
                campaign_id: c.campaign_id,
            })
        })
        .collect();
    Ok(OpportunityAttribution {
        model,
        amount,
        touches,
        campaigns,
    })
}

/// How often a win/loss reason was the primary one.
#[derive(SimpleObject, Clone)]
pub struct FeedbackReasonCount {
    /// The reason.
    pub reason: FeedbackReason,
    /// How many deals' feedback gave it as the primary reason.
    pub count: i64,
}

/// How often sales gave a rejection reason.
#[derive(SimpleObject, Clone)]
pub struct RejectionReasonCount {
    /// The reason.
    pub reason: RejectionReason,
    /// How many rejections gave it.
    pub count: i64,
}

/// Deals won and lost where win/loss feedback named a competitor.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct CompetitorWinLoss {
    /// Deals won against it.
    pub won: i64,
    /// Deals lost against it.
    pub lost: i64,
    /// won / (won + lost).
    pub win_rate: Ratio,
    #[graphql(skip)]
    pub competitor_id: Uuid,
}

#[ComplexObject]
impl CompetitorWinLoss {
    /// The competitor (null if it was deleted since).
    async fn competitor(&self, ctx: &Context<'_>) -> Result<Option<Competitor>> {
        Ok(loaders(ctx)?
            .competitor(self.competitor_id)
            .await?
            .map(Competitor))
    }
}

fn feedback_reasons(
    v: &[svc::ReasonCount<entity::enums::FeedbackReason>],
) -> Vec<FeedbackReasonCount> {
    v.iter()
        .map(|c| FeedbackReasonCount {
            reason: c.reason.into(),
            count: c.count,
        })
        .collect()
}

fn rejection_reasons(
    v: &[svc::ReasonCount<entity::enums::RejectionReason>],
) -> Vec<RejectionReasonCount> {
    v.iter()
        .map(|c| RejectionReasonCount {
            reason: c.reason.into(),
            count: c.count,
        })
        .collect()
}

fn competitors(w: &WinLoss) -> Vec<CompetitorWinLoss> {
    w.competitors
        .iter()
        .map(|c| CompetitorWinLoss {
            won: c.won,
            lost: c.lost,
            win_rate: Ratio::of(c.won, c.won + c.lost),
            competitor_id: c.competitor_id,
        })
        .collect()
}

/// `spend / count` per currency, rounded to cents half away from zero;
/// null when the count is 0.
fn cost_per(spend: &[Amount], count: i64) -> Option<Vec<Money>> {
    (count != 0).then(|| {
        spend
            .iter()
            .map(|a| {
                let per = (a.amount / Decimal::from(count))
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                Money::new(per, a.currency.clone())
            })
            .collect()
    })
}

/// How many loss reasons and competitors a campaign's performance lists.
const TOP: usize = 5;

/// What a campaign did in a period, from touch to revenue. Each count uses
/// one timestamp, always within the period's whole UTC days; see the field descriptions and
/// docs/analytics.md, "Closed-loop analytics".
#[derive(SimpleObject)]
pub struct CampaignPerformance {
    /// The period's first day (UTC).
    pub from: NaiveDate,
    /// The period's last day (UTC, included).
    pub to: NaiveDate,
    /// The attribution model of `attributedPipeline` and `attributedRevenue`.
    pub attribution_model: AttributionModel,
    /// Campaign touches (activities of live leads with this campaign) that
    /// occurred in the period (`occurredAt`).
    pub touches: i64,
    /// Leads whose source campaign this is, created in the period
    /// (`createdAt`).
    pub leads_sourced: i64,
    /// Distinct leads with a touch of this campaign in the period.
    pub leads_influenced: i64,
    /// Entries into MQL in the period (the stage change's time) of the
    /// campaign's leads: leads it sourced, or touched at or before that
    /// moment. A lead recycled and qualified again counts each time.
    pub mqls: i64,
    /// MQL -> SAL moves of its leads in the period.
    pub accepted: i64,
    /// Rejections (MQL or SAL -> NURTURE) of its leads in the period.
    pub rejected: i64,
    /// The reasons of `rejected`, most frequent first; they sum to it.
    pub rejection_reasons: Vec<RejectionReasonCount>,
    /// Entries into SQL of its leads in the period.
    pub sqls: i64,
    /// Opportunities created in the period (`createdAt`) whose primary lead
    /// it sourced or touched at or before the opportunity's creation.
    pub opportunities: i64,
    /// Those opportunities (same lead rule) closed won in the period
    /// (`closedAt`).
    pub won: i64,
    /// Those opportunities closed lost in the period (`closedAt`).
    pub lost: i64,
    /// won / (won + lost).
    pub win_rate: Ratio,
    /// The five most frequent primary reasons of the lost deals' win/loss
    /// feedback (ties by name).
    pub top_loss_reasons: Vec<FeedbackReasonCount>,
    /// The five competitors named most in the lost deals' feedback (then
    /// in all closed deals' feedback), with won and lost against each.
    pub top_competitors: Vec<CompetitorWinLoss>,
    /// Spend entries whose day begins in the period (UTC), per currency
    /// (one entry per currency, empty when none).
    pub spend: Vec<Money>,
    /// spend / leadsSourced per currency, rounded to cents half away from
    /// zero; null when there is no sourced lead.
    pub cost_per_lead: Option<Vec<Money>>,
    /// spend / mqls per currency; null when there is no MQL.
    pub cost_per_mql: Option<Vec<Money>>,
    /// spend / opportunities per currency; null when there is none.
    pub cost_per_opportunity: Option<Vec<Money>>,
    /// spend / won per currency (cost per customer); null when none won.
    pub cost_per_customer: Option<Vec<Money>>,
    /// The campaign's credits under `attributionModel` from opportunities
    /// created in the period, per currency of the opportunities.
    pub attributed_pipeline: Vec<Money>,
    /// The campaign's credits under `attributionModel` from opportunities
    /// won (closed won) in the period, per currency.
    pub attributed_revenue: Vec<Money>,
}

/// The resolver of `Campaign.performance`.
pub async fn performance(
    ctx: &Context<'_>,
    campaign_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    model: AttributionModel,
) -> Result<CampaignPerformance> {
    let period = Period::new(from, to).map_err(AppError::from)?;
    let p = svc::campaign_performance(db(ctx)?, viewer(ctx)?, campaign_id, period, model.into())
        .await?;
    let t = &p.transitions;
    let w = &p.win_loss;
    let mut top_competitors = competitors(w);
    top_competitors.truncate(TOP);
    let mut top_loss_reasons = feedback_reasons(&w.loss_reasons);
    top_loss_reasons.truncate(TOP);
    Ok(CampaignPerformance {
        from,
        to,
        attribution_model: model,
        touches: p.touches,
        leads_sourced: p.leads_sourced,
        leads_influenced: p.leads_influenced,
        mqls: t.mqls,
        accepted: t.accepted,
        rejected: t.rejected,
        rejection_reasons: rejection_reasons(&t.rejection_reasons),
        sqls: t.sqls,
        opportunities: p.opportunities,
        won: w.won,
        lost: w.lost,
        win_rate: ratio(w.win_rate()),
        top_loss_reasons,
        top_competitors,
        cost_per_lead: cost_per(&p.spend, p.leads_sourced),
        cost_per_mql: cost_per(&p.spend, t.mqls),
        cost_per_opportunity: cost_per(&p.spend, p.opportunities),
        cost_per_customer: cost_per(&p.spend, w.won),
        spend: p.spend.into_iter().map(money).collect(),
        attributed_pipeline: p.attributed_pipeline.into_iter().map(money).collect(),
        attributed_revenue: p.attributed_revenue.into_iter().map(money).collect(),
    })
}

/// What `winLossAnalysis` groups deals by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WinLossGroupBy {
    /// The primary lead's source (`Lead.source`).
    Source,
    /// The primary lead's source campaign (its first touch).
    Campaign,
    /// The account's industry (the segment).
    Industry,
    /// Who sourced the deal (MARKETING, SALES, PARTNER).
    SourcedBy,
    /// The kind of deal (NEW_BUSINESS, EXPANSION, RENEWAL).
    OpportunityType,
    /// The month the deal closed in, `YYYY-MM` in UTC.
    CloseMonth,
}

/// What `leadRejectionAnalysis` groups leads by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum LeadRejectionGroupBy {
    /// The lead's source.
    Source,
    /// The lead's source campaign.
    Campaign,
}

fn key_text(key: Option<&GroupKey>) -> Option<String> {
    key.map(|k| match k {
        GroupKey::Source(c) => c.as_str().to_owned(),
        GroupKey::Campaign(id) => global_id(ObjectType::Campaign, *id).0,
        GroupKey::Text(t) => t.clone(),
        GroupKey::SourcedBy(s) => s.as_str().to_owned(),
        GroupKey::OpportunityType(t) => t.as_str().to_owned(),
    })
}

/// Won and lost deals of one group, with their feedback.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WinLossGroup {
    /// The group's value: a source (`PAID_SEARCH`), a campaign's global id,
    /// an industry, `MARKETING`, `NEW_BUSINESS` or a month (`2026-03`).
    /// Null for deals without one (no primary lead, no industry, ...) and
    /// for the single group when not grouped.
    pub key: Option<String>,
    /// The source, when grouped by SOURCE.
    pub source: Option<Channel>,
    /// Deals closed won in the period.
    pub won: i64,
    /// Deals closed lost in the period.
    pub lost: i64,
    /// won / (won + lost).
    pub win_rate: Ratio,
    /// Primary reasons of the lost deals' feedback, most frequent first.
    pub loss_reasons: Vec<FeedbackReasonCount>,
    /// Primary reasons of the won deals' feedback, most frequent first.
    pub win_reasons: Vec<FeedbackReasonCount>,
    /// Competitors named in the feedback, most losses first, with won and
    /// lost against each and the win rate.
    pub competitors: Vec<CompetitorWinLoss>,
    /// Closed deals with feedback for their outcome (the rest are in the
    /// feedback-missing queue).
    pub feedback_count: i64,
    /// Mean lead-fit rating (1-5) of the feedback that has one: did the
    /// lead match the definition? Null when none was rated.
    pub average_lead_fit_rating: Option<f64>,
    /// How many feedback entries rated the lead's fit.
    pub lead_fit_rating_count: i64,
    #[graphql(skip)]
    pub campaign_id: Option<Uuid>,
}

#[ComplexObject]
impl WinLossGroup {
    /// The campaign, when grouped by CAMPAIGN (null if it was deleted).
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.campaign_id)
            .await?
            .map(Campaign))
    }
}

/// MQL dispositions and rejections of one group of leads.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LeadRejectionGroup {
    /// The group's value: a source (`PAID_SEARCH`) or a campaign's global
    /// id; null for leads without a source campaign and for the single
    /// group when not grouped.
    pub key: Option<String>,
    /// The source, when grouped by SOURCE.
    pub source: Option<Channel>,
    /// Rejections (MQL or SAL -> NURTURE) in the period.
    pub rejected: i64,
    /// Their reasons, most frequent first; they sum to `rejected`.
    pub reasons: Vec<RejectionReasonCount>,
    /// MQLs dispositioned in the period: accepted (MQL -> SAL) or rejected
    /// (MQL -> NURTURE).
    pub mqls_dispositioned: i64,
    /// MQL -> SAL in the period.
    pub accepted: i64,
    /// Rejected MQLs (MQL -> NURTURE) / MQLs dispositioned.
    pub rejection_rate: Ratio,
    #[graphql(skip)]
    pub campaign_id: Option<Uuid>,
}

#[ComplexObject]
impl LeadRejectionGroup {
    /// The campaign, when grouped by CAMPAIGN (null if it was deleted).
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.campaign_id)
            .await?
            .map(Campaign))
    }
}

fn campaign_of(key: Option<&GroupKey>) -> Option<Uuid> {
    match key {
        Some(GroupKey::Campaign(id)) => Some(*id),
        _ => None,
    }
}

fn source_of(key: Option<&GroupKey>) -> Option<Channel> {
    match key {
        Some(GroupKey::Source(c)) => Some((*c).into()),
        _ => None,
    }
}

fn rejection_group(key: Option<GroupKey>, t: &Transitions) -> LeadRejectionGroup {
    LeadRejectionGroup {
        key: key_text(key.as_ref()),
        source: source_of(key.as_ref()),
        rejected: t.rejected,
        reasons: rejection_reasons(&t.rejection_reasons),
        mqls_dispositioned: t.dispositioned(),
        accepted: t.accepted,
        rejection_rate: Ratio::of(t.rejected_at_mql, t.dispositioned()),
        campaign_id: campaign_of(key.as_ref()),
    }
}

/// Analytics queries.
#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// Won and lost deals closed (`closedAt`) from the day `from` through the
    /// day `to` (UTC, both included), with their
    /// win/loss feedback (loss reasons, competitors, lead-fit rating),
    /// grouped by `groupBy` (one group when omitted), groups in key order
    /// ("none" first). Only feedback matching the deal's outcome counts.
    /// No personal data: every reading role, REPORTING included.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn win_loss_analysis(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period's first day (UTC), on the deals' `closedAt`.")]
        from: InputDate,
        #[graphql(desc = "The period's last day (UTC, included).")] to: InputDate,
        #[graphql(desc = "The dimension to group by; one group when omitted.")] group_by: Option<
            WinLossGroupBy,
        >,
        #[graphql(desc = "Only won or only lost deals.")] outcome: Option<Outcome>,
    ) -> Result<Vec<WinLossGroup>> {
        let period = Period::new(from.get(), to.get()).map_err(AppError::from)?;
        let dim = group_by.map(|g| match g {
            WinLossGroupBy::Source => WinLossDimension::Source,
            WinLossGroupBy::Campaign => WinLossDimension::Campaign,
            WinLossGroupBy::Industry => WinLossDimension::Industry,
            WinLossGroupBy::SourcedBy => WinLossDimension::SourcedBy,
            WinLossGroupBy::OpportunityType => WinLossDimension::OpportunityType,
            WinLossGroupBy::CloseMonth => WinLossDimension::CloseMonth,
        });
        let only = outcome.map(|o| match o {
            Outcome::Won => entity::enums::OpportunityStage::ClosedWon,
            Outcome::Lost => entity::enums::OpportunityStage::ClosedLost,
        });
        let groups = svc::win_loss_analysis(db(ctx)?, viewer(ctx)?, period, dim, only).await?;
        let l = loaders(ctx)?;
        let campaign_ids: Vec<Option<Uuid>> =
            groups.iter().map(|g| campaign_of(g.key.as_ref())).collect();
        l.prefetch_campaigns(campaign_ids).await?;
        let competitor_ids: Vec<Option<Uuid>> = groups
            .iter()
            .flat_map(|g| &g.win_loss.competitors)
            .map(|c| Some(c.competitor_id))
            .collect();
        l.prefetch_competitors(competitor_ids).await?;
        Ok(groups
            .into_iter()
            .map(|g| {
                let w = &g.win_loss;
                WinLossGroup {
                    key: key_text(g.key.as_ref()),
                    source: source_of(g.key.as_ref()),
                    won: w.won,
                    lost: w.lost,
                    win_rate: ratio(w.win_rate()),
                    loss_reasons: feedback_reasons(&w.loss_reasons),
                    win_reasons: feedback_reasons(&w.win_reasons),
                    competitors: competitors(w),
                    feedback_count: w.with_feedback,
                    average_lead_fit_rating: w.average_fit_rating(),
                    lead_fit_rating_count: w.fit_rating_count,
                    campaign_id: campaign_of(g.key.as_ref()),
                }
            })
            .collect())
    }

    /// Which sources or campaigns produce leads sales rejects, and why: per
    /// group, the rejections (MQL or SAL -> NURTURE) whose stage change is
    /// in the days `from` through `to` (UTC, both included) with their
    /// reasons, and the MQLs dispositioned
    /// then. Grouped by the lead's current source or source campaign (one
    /// group when omitted), groups in key order ("none" first). No personal
    /// data: every reading role, REPORTING included.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn lead_rejection_analysis(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period's first day (UTC), on the stage changes' time.")]
        from: InputDate,
        #[graphql(desc = "The period's last day (UTC, included).")] to: InputDate,
        #[graphql(desc = "The dimension to group by; one group when omitted.")] group_by: Option<
            LeadRejectionGroupBy,
        >,
    ) -> Result<Vec<LeadRejectionGroup>> {
        let period = Period::new(from.get(), to.get()).map_err(AppError::from)?;
        let dim = group_by.map(|g| match g {
            LeadRejectionGroupBy::Source => RejectionDimension::Source,
            LeadRejectionGroupBy::Campaign => RejectionDimension::Campaign,
        });
        let groups = svc::lead_rejection_analysis(db(ctx)?, viewer(ctx)?, period, dim).await?;
        let campaign_ids: Vec<Option<Uuid>> =
            groups.iter().map(|g| campaign_of(g.key.as_ref())).collect();
        loaders(ctx)?.prefetch_campaigns(campaign_ids).await?;
        Ok(groups
            .into_iter()
            .map(|g| rejection_group(g.key, &g.transitions))
            .collect())
    }
}
