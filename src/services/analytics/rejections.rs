//! Why sales rejected leads: lead stage changes in a period (MQL entries,
//! dispositions, rejections with their reasons, SQL entries), grouped by
//! the lead's source or source campaign; campaign performance reads the
//! same statement for its leads.

use std::collections::BTreeMap;

use entity::enums::RejectionReason;
use sea_orm::{ActiveEnum, ConnectionTrait};

use super::{
    GroupKey, Groups, KeyKind, RejectionDimension, RejectionGroup, Tally, Transitions, group_entry,
    group_key, int, one_group_at_least,
};
use crate::{
    auth::{Action, Viewer},
    domain::period::Period,
    error::AppResult,
    services::sql::Sql,
};

/// Lead stage changes in the period (MQL, SAL, SQL, NURTURE), of live
/// leads, grouped by `key` (an SQL expression over `l` and `s`, or none).
/// `extra` is a further condition, already bound into `sql`.
pub(super) async fn transitions(
    db: &impl ConnectionTrait,
    mut sql: Sql,
    period: Period,
    key: Option<(&str, KeyKind)>,
    extra: Option<String>,
) -> AppResult<Vec<(Option<GroupKey>, Transitions)>> {
    let from = sql.param(period.starts_at());
    let to = sql.param(period.ends_at());
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
    sql.push(&text);
    let rows = db.query_all_raw(sql.statement()).await?;
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

/// MQL dispositions and rejections in the period per group (by the lead's
/// current source or source campaign; one group when `None`).
#[tracing::instrument(skip_all, fields(viewer = %viewer, period.from = %period.from, period.to = %period.to))]
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
    let groups = transitions(
        db,
        Sql::new(db.get_database_backend()),
        period,
        key,
        Some(extra),
    )
    .await?;
    Ok(one_group_at_least(groups, group_by.is_none())
        .into_iter()
        .map(|(key, transitions)| RejectionGroup { key, transitions })
        .collect())
}
