//! One campaign's closed loop: its touches and leads, their stage changes
//! and deals, its spend and the amounts attributed to it.

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{
    Amount, CampaignPerformance,
    attribution::attributed,
    int,
    rejections::transitions,
    win_loss::{closed_deals_sql, win_loss_of},
};
use crate::{
    auth::{Action, Viewer},
    domain::{attribution::AttributionModel, period::Period},
    error::AppResult,
    services::sql::Sql,
};

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

/// One campaign's funnel, outcomes, spend and attributed amounts in the
/// period (see the module documentation for the definitions).
#[tracing::instrument(skip_all, fields(viewer = %viewer, campaign.id = %campaign_id, period.from = %period.from, period.to = %period.to))]
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
    let mut sql = Sql::new(db.get_database_backend());
    let c = sql.param(campaign_id);
    let from = sql.param(period.starts_at());
    let to = sql.param(period.ends_at());
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
    sql.push(&text);
    if let Some(row) = db.query_one_raw(sql.statement()).await? {
        perf.touches = int(&row, "touches")?;
        perf.leads_influenced = int(&row, "influenced")?;
        perf.leads_sourced = int(&row, "sourced")?;
        perf.opportunities = int(&row, "opportunities")?;
    }

    // Stage changes of its leads.
    let mut sql = Sql::new(db.get_database_backend());
    let c = sql.param(campaign_id);
    let extra = format!("l.id IN ({}) AND {}", candidates(&c), member(&c, "s.at"));
    perf.transitions = transitions(db, sql, period, None, Some(extra))
        .await?
        .into_iter()
        .next()
        .map(|(_, t)| t)
        .unwrap_or_default();

    // Deals of its leads closed in the period, with their feedback.
    let mut sql = Sql::new(db.get_database_backend());
    let c = sql.param(campaign_id);
    let conditions = format!(
        " AND o.primary_lead_id IN ({}) AND {}",
        candidates(&c),
        member(&c, "o.created_at")
    );
    perf.win_loss = win_loss_of(db, closed_deals_sql(sql, period, None, "", &conditions)).await?;

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
    let mut sql = Sql::new(db.get_database_backend());
    let c = sql.param(campaign_id);
    let first = sql.param(period.from);
    let last = sql.param(period.to);
    let text = format!(
        "SELECT currency, SUM(amount) AS total FROM campaign_spend \
         WHERE campaign_id = {c} AND deleted_at IS NULL AND spent_on >= {first} AND spent_on <= {last} \
         GROUP BY currency ORDER BY currency"
    );
    sql.push(&text);
    db.query_all_raw(sql.statement())
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
