//! Why deals were won or lost: deals closed in a period with the feedback
//! matching their outcome, grouped by a dimension; also the statement
//! behind the LOSS_REASONS and COMPETITOR_WIN_RATES KPIs.

use std::collections::BTreeMap;

use entity::enums::{FeedbackReason, OpportunityStage};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use super::{
    CompetitorRecord, GroupKey, Groups, KeyKind, Tally, WinLoss, WinLossDimension, WinLossGroup,
    group_entry, group_key, int, one_group_at_least, stored,
};
use crate::{
    auth::{Action, Viewer},
    domain::period::Period,
    error::AppResult,
    services::sql::Sql,
};

/// The statement of live opportunities closed won or lost in the period,
/// with the feedback matching their outcome, grouped by `key` (an SQL
/// expression over `o`, `l` (the primary lead, possibly absent) and `a`
/// (the account)) as `k`. `joins` are further joins, `conditions` further
/// conditions (each `AND ...`), already bound into `sql`.
pub(crate) fn closed_deals_sql(
    mut sql: Sql,
    period: Period,
    key: Option<&str>,
    joins: &str,
    conditions: &str,
) -> Statement {
    let from = sql.param(period.starts_at());
    let to = sql.param(period.ends_at());
    let key_expr = key.unwrap_or("NULL");
    let group = key.map(|k| format!("{k}, ")).unwrap_or_default();
    let text = format!(
        "SELECT {key_expr} AS k, o.stage, f.primary_reason, f.competitor_id, COUNT(*) AS n, \
         COUNT(f.id) AS with_feedback, COUNT(f.lead_fit_rating) AS rated, \
         SUM(f.lead_fit_rating) AS rating_sum \
         FROM opportunities o \
         LEFT JOIN leads l ON l.id = o.primary_lead_id \
         LEFT JOIN accounts a ON a.id = o.account_id{joins} \
         LEFT JOIN win_loss_feedback f ON f.opportunity_id = o.id AND f.deleted_at IS NULL \
           AND f.outcome = CASE o.stage WHEN 'CLOSED_WON' THEN 'WON' ELSE 'LOST' END \
         WHERE o.deleted_at IS NULL AND o.stage IN ('CLOSED_WON', 'CLOSED_LOST') \
         AND o.closed_at >= {from} AND o.closed_at < {to}{conditions} \
         GROUP BY {group}o.stage, f.primary_reason, f.competitor_id"
    );
    sql.push(&text);
    sql.statement()
}

/// Runs a [`closed_deals_sql`] statement: won and lost deals with their
/// feedback per group, the key read as `key`.
async fn closed_deals(
    db: &impl ConnectionTrait,
    statement: Statement,
    key: Option<KeyKind>,
) -> AppResult<Vec<(Option<GroupKey>, WinLoss)>> {
    let rows = db.query_all_raw(statement).await?;
    type Acc = (
        WinLoss,
        Tally<FeedbackReason>,
        Tally<FeedbackReason>,
        BTreeMap<Uuid, (i64, i64)>,
    );
    let mut groups: Groups<Acc> = BTreeMap::new();
    for row in &rows {
        let k = group_key(row, key)?;
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

fn win_loss_key(db: &impl ConnectionTrait, dim: WinLossDimension) -> (String, KeyKind) {
    match dim {
        WinLossDimension::Source => ("l.source".into(), KeyKind::Source),
        WinLossDimension::Campaign => ("l.source_campaign_id".into(), KeyKind::Campaign),
        WinLossDimension::Industry => ("a.industry".into(), KeyKind::Text),
        WinLossDimension::SourcedBy => ("o.sourced_by".into(), KeyKind::SourcedBy),
        WinLossDimension::OpportunityType => ("o.type".into(), KeyKind::OpportunityType),
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
#[tracing::instrument(skip_all, fields(viewer = %viewer, period.from = %period.from, period.to = %period.to))]
pub async fn win_loss_analysis(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    period: Period,
    group_by: Option<WinLossDimension>,
    only: Option<OpportunityStage>,
) -> AppResult<Vec<WinLossGroup>> {
    viewer.require(Action::ReadRecords)?;
    let key = group_by.map(|d| win_loss_key(db, d));
    let only = match only {
        None => "",
        Some(OpportunityStage::ClosedWon) => " AND o.stage = 'CLOSED_WON'",
        Some(_) => " AND o.stage = 'CLOSED_LOST'",
    };
    let statement = closed_deals_sql(
        Sql::new(db.get_database_backend()),
        period,
        key.as_ref().map(|(k, _)| k.as_str()),
        "",
        only,
    );
    let groups = closed_deals(db, statement, key.map(|(_, kind)| kind)).await?;
    Ok(one_group_at_least(groups, group_by.is_none())
        .into_iter()
        .map(|(key, win_loss)| WinLossGroup { key, win_loss })
        .collect())
}

/// Won and lost deals with their feedback from an ungrouped
/// [`closed_deals_sql`] statement: the figures behind the LOSS_REASONS and
/// COMPETITOR_WIN_RATES KPIs for a segment, from the very statement
/// [`win_loss_analysis`] runs, so both agree. The caller checks that the
/// viewer may read KPIs.
pub(crate) async fn win_loss_of(
    db: &impl ConnectionTrait,
    statement: Statement,
) -> AppResult<WinLoss> {
    Ok(closed_deals(db, statement, None)
        .await?
        .into_iter()
        .next()
        .map(|(_, w)| w)
        .unwrap_or_default())
}
