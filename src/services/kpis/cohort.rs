//! The cohort of the leads created in a period: one pass over them and
//! their stage history gives the funnel and the counts of the four cohort
//! KPIs, shared within a request by [`CohortCache`].

use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::OnceCell;

use super::{
    bad,
    figures::Cells,
    measures::{COHORT, Source},
    sql::{Joins, segment_filters},
};
use crate::{
    auth::{Action, Viewer},
    domain::{kpi::Segment, period::Period},
    error::{AppError, AppResult},
    services::sql::{Sql, elapsed},
};

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
#[tracing::instrument(skip_all, fields(viewer = %viewer, period.from = %from, period.to = %to))]
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
pub(super) struct Cohort {
    reached: [i64; 6],
    median_days: [Option<f64>; 6],
}

impl Cohort {
    /// The cells of the [`COHORT`] measure (no split), by its aggregates'
    /// names.
    pub(super) fn cells(&self) -> AppResult<Cells> {
        let n = self.reached;
        let values = COHORT
            .aggs
            .iter()
            .map(|a| {
                let count = match a.name {
                    "leads" => n[0],
                    "reached_mql" => n[1],
                    "reached_sql" => n[3],
                    "reached_opportunity" => n[4],
                    "reached_customer" => n[5],
                    other => {
                        return Err(AppError::Internal(format!(
                            "the cohort pass has no aggregate `{other}`"
                        )));
                    }
                };
                // Counts are far below 2^53; the conversion is exact.
                Ok(count as f64)
            })
            .collect::<AppResult<Vec<f64>>>()?;
        Ok(Cells::from([((None, 0), values)]))
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

    pub(super) async fn get(
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

/// The cohort pass's two statements: the leads that moved past NEW, with
/// their counts (`n1`..`n5`) and medians (`m1`..`m5`), and the cohort's
/// size (`n0`).
pub(super) fn cohort_statements(
    backend: DbBackend,
    period: Period,
    segment: &Segment,
) -> (Statement, Statement) {
    // The cohort's leads (FROM and WHERE), with their entries into the
    // stages after NEW when `progress`. Only those entries count, so a lead
    // without any is part of the top of the funnel and nothing else: the
    // stage counts and medians group only the leads that have some (a fifth
    // of a cohort), and the top is counted on its own, from an index.
    let joins = Joins::plan(Source::Cohort, |_| false, segment, None);
    let cohort_leads = |sql: &mut Sql, progress: bool| {
        sql.push(" FROM leads l");
        if joins.campaign {
            sql.push(" LEFT JOIN campaigns c ON c.id = l.source_campaign_id");
        }
        if joins.account {
            sql.push(" LEFT JOIN accounts a ON a.id = l.account_id");
        }
        if progress {
            sql.push(
                " JOIN stage_changes r ON r.subject_type = 'LEAD' AND r.subject_id = l.id \
                 AND r.to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER')",
            );
        }
        sql.push(" WHERE l.deleted_at IS NULL AND l.created_at >= ");
        sql.bind(period.starts_at());
        sql.push(" AND l.created_at < ");
        sql.bind(period.ends_at());
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
    let mut size = Sql::new(backend);
    size.push("SELECT CAST(COUNT(*) AS BIGINT) AS n0");
    cohort_leads(&mut size, false);
    (sql.statement(), size.statement())
}

/// The cohort pass: the leads that moved past NEW, with their counts and
/// medians, in one statement, and the cohort's size in another alongside.
#[tracing::instrument(skip_all, fields(period.from = %period.from, period.to = %period.to))]
async fn cohort(db: &DatabaseConnection, period: Period, segment: &Segment) -> AppResult<Cohort> {
    let (moved, size) = cohort_statements(db.get_database_backend(), period, segment);
    // The cohort's size on its own connection, alongside: the cohort is
    // usually a request's longest statement.
    let (moved, size) = futures_util::try_join!(db.query_one_raw(moved), db.query_one_raw(size))?;
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
