//! The KPIs computed by closed-loop analytics rather than from measures
//! alone: LOSS_REASONS and COMPETITOR_WIN_RATES read the win/loss statement
//! of `analytics` over the request's segment, and CAMPAIGN_ROI divides the
//! revenue attributed to each campaign by its spend.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use sea_orm::{DatabaseConnection, DbBackend, Statement};

use super::{
    Figures, GroupFigures, KpiFigures, KpiRequest, Split,
    measures::{SPEND, Source},
    run_measure,
    sql::{Joins, Scope, segment_filters},
};
use crate::{
    domain::{
        attribution::AttributionModel,
        kpi::{Dimension, Kpi, Segment, round_cents},
        period::Period,
    },
    error::{AppError, AppResult},
    services::{analytics, sql::Sql},
};

/// Won and lost deals closed in the period with their feedback, over the
/// deals of a KPI segment (the primary lead's source, source campaign and
/// its channel, the deal's owner, the account's industry and target flag),
/// filtered as the deal measures are: the figures behind LOSS_REASONS and
/// COMPETITOR_WIN_RATES, from the statement `winLossAnalysis` runs.
pub(super) async fn win_loss(
    db: &DatabaseConnection,
    period: Period,
    segment: &Segment,
) -> AppResult<analytics::WinLoss> {
    analytics::win_loss_of(db, win_loss_sql(db.get_database_backend(), period, segment)).await
}

/// The statement of [`win_loss`].
pub(super) fn win_loss_sql(backend: DbBackend, period: Period, segment: &Segment) -> Statement {
    let mut sql = Sql::new(backend);
    // The win/loss statement always joins the primary lead (`l`) and the
    // account (`a`); the lead's campaign only for a channel filter.
    let joins = Joins::plan(Source::Opportunities, |_| false, segment, None);
    let campaign = if joins.campaign {
        " LEFT JOIN campaigns c ON c.id = l.source_campaign_id"
    } else {
        ""
    };
    segment_filters(&mut sql, Source::Opportunities, segment);
    let conditions = sql.take_text();
    analytics::closed_deals_sql(sql, period, None, campaign, &conditions)
}

/// CAMPAIGN_ROI: the spend per campaign (the MARKETING_SPEND statement,
/// grouped by campaign) and the revenue attributed to each campaign
/// (`analytics::attributed_revenue`, the attribution of campaign
/// performance), both in the request's currency.
pub(super) async fn campaign_roi(
    db: &DatabaseConnection,
    scope: &Scope<'_>,
    req: &KpiRequest,
) -> AppResult<KpiFigures> {
    let kpi = Kpi::CampaignRoi;
    let by_campaign = Scope {
        split: Split::Group(Dimension::Campaign),
        ..*scope
    };
    let mut per_campaign: BTreeMap<String, (f64, f64)> = Default::default();
    let spend = SPEND
        .position("spend")
        .ok_or_else(|| AppError::Internal("the spend measure has no `spend` aggregate".into()))?;
    for ((key, _), values) in run_measure(db, &SPEND, &by_campaign, true).await? {
        if let Some(key) = key {
            per_campaign.entry(key).or_default().1 += values.get(spend).copied().unwrap_or(0.0);
        }
    }
    let model = req.attribution_model.unwrap_or(AttributionModel::Linear);
    let credits =
        analytics::attributed_revenue(db, scope.period, scope.currency, model, "input.from")
            .await?;
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
            ..Figures::default()
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
