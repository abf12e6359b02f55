//! Which campaigns an opportunity's amount is credited to: the campaign
//! touches of its primary lead shared out by an attribution model
//! ([`crate::domain::attribution`]), for campaign performance, the
//! `Opportunity.attribution` field and the CAMPAIGN_ROI KPI.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::enums::{ActivityKind, OpportunityStage};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use super::{Amount, stored};
use crate::{
    domain::{
        attribution::{self, AttributionModel, Deal, Touch},
        period::Period,
    },
    error::{AppError, AppResult},
    services::sql::Sql,
};

/// Most opportunities whose touches one campaign's attributed pipeline and
/// revenue may load; a period with more is refused (ask for a shorter one).
pub const MAX_ATTRIBUTED_OPPORTUNITIES: usize = 5_000;

/// Most opportunity ids bound in one statement (far under both engines'
/// bind-parameter limits).
const ID_CHUNK: usize = 500;

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

/// The rows of `select`, opportunities `o` to attribute, in id order: at
/// most [`MAX_ATTRIBUTED_OPPORTUNITIES`], else BAD_USER_INPUT saying
/// `too_many`.
async fn bounded(
    db: &impl ConnectionTrait,
    mut sql: Sql,
    select: &str,
    too_many: impl FnOnce() -> String,
) -> AppResult<Vec<QueryResult>> {
    sql.push(select);
    sql.push(&format!(
        " ORDER BY o.id LIMIT {}",
        MAX_ATTRIBUTED_OPPORTUNITIES + 1
    ));
    let rows = db.query_all_raw(sql.statement()).await?;
    if rows.len() > MAX_ATTRIBUTED_OPPORTUNITIES {
        return Err(AppError::BadUserInput(too_many()));
    }
    Ok(rows)
}

/// Credits to the campaign under `model`: from opportunities created in the
/// period (pipeline) and from those won in the period (revenue), per
/// currency. Only opportunities with a touch of the campaign can credit it,
/// so only those are loaded, at most [`MAX_ATTRIBUTED_OPPORTUNITIES`].
pub(super) async fn attributed(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    period: Period,
    model: AttributionModel,
) -> AppResult<(Vec<Amount>, Vec<Amount>)> {
    let mut sql = Sql::new(db.get_database_backend());
    let c = sql.param(campaign_id);
    let from = sql.param(period.starts_at());
    let to = sql.param(period.ends_at());
    let text = format!(
        "SELECT o.id, o.created_at, o.closed_at, o.stage, o.amount, o.currency FROM opportunities o \
         WHERE o.deleted_at IS NULL \
         AND ((o.created_at >= {from} AND o.created_at < {to}) \
              OR (o.stage = 'CLOSED_WON' AND o.closed_at >= {from} AND o.closed_at < {to})) \
         AND EXISTS (SELECT 1 FROM activities a JOIN campaigns c ON c.id = a.campaign_id AND c.deleted_at IS NULL \
                     WHERE a.lead_id = o.primary_lead_id AND a.campaign_id = {c} \
                     AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at)"
    );
    let rows = bounded(db, sql, &text, || {
        format!(
            "more than {MAX_ATTRIBUTED_OPPORTUNITIES} opportunities in the period have touches of \
             this campaign: ask for a shorter period (`from`, `to`)"
        )
    })
    .await?;
    struct Opp {
        id: Uuid,
        created_at: DateTime<Utc>,
        in_pipeline: bool,
        in_revenue: bool,
        amount: Decimal,
        currency: String,
    }
    let mut opps = Vec::with_capacity(rows.len());
    for row in &rows {
        let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
        let closed_at: Option<DateTime<Utc>> = row.try_get("", "closed_at")?;
        let won = stored::<OpportunityStage>(row, "stage")? == Some(OpportunityStage::ClosedWon);
        opps.push(Opp {
            id: row.try_get("", "id")?,
            created_at,
            in_pipeline: period.contains(created_at),
            in_revenue: won && closed_at.is_some_and(|t| period.contains(t)),
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
#[tracing::instrument(skip_all, fields(period.from = %period.from, period.to = %period.to, attribution.model = ?model))]
pub(crate) async fn attributed_revenue(
    db: &impl ConnectionTrait,
    period: Period,
    currency: &str,
    model: AttributionModel,
    argument: &str,
) -> AppResult<BTreeMap<Uuid, Decimal>> {
    let mut sql = Sql::new(db.get_database_backend());
    let from = sql.param(period.starts_at());
    let to = sql.param(period.ends_at());
    let cur = sql.param(currency.to_owned());
    let text = format!(
        "SELECT o.id, o.created_at, o.amount FROM opportunities o \
         WHERE o.deleted_at IS NULL AND o.stage = 'CLOSED_WON' \
         AND o.closed_at >= {from} AND o.closed_at < {to} AND o.currency = {cur} \
         AND EXISTS (SELECT 1 FROM activities a JOIN campaigns c ON c.id = a.campaign_id AND c.deleted_at IS NULL \
                     WHERE a.lead_id = o.primary_lead_id AND a.deleted_at IS NULL AND a.occurred_at <= o.created_at)"
    );
    let rows = bounded(db, sql, &text, || {
        format!(
            "`{argument}`: more than {MAX_ATTRIBUTED_OPPORTUNITIES} deals won in the period have \
             campaign touches to attribute: ask for a shorter period"
        )
    })
    .await?;
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
#[tracing::instrument(skip_all, fields(opportunity.count = opportunity_ids.len()))]
pub async fn touches_of(
    db: &impl ConnectionTrait,
    opportunity_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, OpportunityTouches>> {
    let mut out: HashMap<Uuid, OpportunityTouches> = HashMap::new();
    for chunk in opportunity_ids.chunks(ID_CHUNK) {
        let mut sql = Sql::new(db.get_database_backend());
        let list: Vec<String> = chunk.iter().map(|id| sql.param(*id)).collect();
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
        sql.push(&text);
        for row in db.query_all_raw(sql.statement()).await? {
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
