//! The KPI engine: every KPI of the catalogue (`domain::kpi`) computed by SQL
//! aggregates, the same statements on SQLite and PostgreSQL.
//!
//! Its parts:
//!
//! - [`measures`]: the catalogue of aggregate statements ("measures") the
//!   KPIs read: over leads, their stage history, opportunities or campaign
//!   spend, each with the tables it joins and its named aggregates;
//! - [`sql`]: a measure's statement for a period, a segment and a split
//!   into groups or time buckets;
//! - [`figures`]: the formulas, each KPI's value, numerator and
//!   denominator from its measures' aggregates, read by name;
//! - [`cohort`]: the cohort pass behind the funnel and the cohort KPIs,
//!   shared within a request;
//! - [`closed_loop`]: the KPIs computed by closed-loop analytics:
//!   LOSS_REASONS and COMPETITOR_WIN_RATES (the win/loss statement over the
//!   request's segment) and CAMPAIGN_ROI (spend and attributed revenue);
//! - [`targets`]: setting targets and judging values against them;
//! - this module: the request, its validation, and running its statements.
//!
//! Time buckets are computed in Rust (`domain::kpi::buckets`): a series is
//! one aggregate per bucket over its range, or one pass mapping rows to
//! buckets by a balanced `CASE` over the boundaries, so no engine-specific
//! date function is needed and an empty bucket is simply zero. The only
//! engine-specific SQL is the difference between two timestamps. Rust only
//! ever sees aggregated rows (one per group or bucket), with one sanctioned
//! exception: CAMPAIGN_ROI's attributed revenue, computed over the touches
//! of the deals won in the period by `analytics::attributed_revenue` (at
//! most `analytics::MAX_ATTRIBUTED_OPPORTUNITIES` deals, else the request
//! is refused).
//!
//! Money: amounts are summed only for records in the request's currency
//! (USD unless asked otherwise); there is no currency conversion.
//!
//! Adding a KPI: its variant and agreed [`Definition`](kpi::Definition) in
//! `domain::kpi` and its value in the GraphQL enum (`graphql::kpi`); here,
//! a measure in [`measures`] unless an existing one has the aggregates
//! (naming them, and declaring in `joins` the tables its text reads beyond
//! its source), the measures it reads in `measures::measures`, and its
//! formula in `figures::figures`. The tests below then build its
//! statements for every segment filter and split on both engines, and
//! check that its formula reads only aggregates its measures name.

mod closed_loop;
mod cohort;
mod figures;
mod measures;
mod sql;
mod targets;

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{enums::SegmentDimension, kpi_target};
use futures_util::{FutureExt, StreamExt, TryFutureExt, TryStreamExt, future::BoxFuture};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

pub use self::{
    cohort::{CohortCache, FUNNEL_STAGES, FunnelStage, funnel},
    targets::{TargetInput, delete_target, list_targets, set_target},
};
use self::{
    figures::{Cell, Cells, Values, figures, win_loss_figures},
    measures::{Measure, Source, measures},
    sql::{MEDIAN, Scope, column, measure_sql, median_sql},
    targets::{load_targets, target_figures},
};
use crate::{
    auth::{Action, Viewer},
    domain::{
        attribution::AttributionModel,
        kpi::{self, Base, Dimension, Granularity, Kpi, Segment, TargetOutcome, Unit},
        period::Period,
    },
    error::{AppError, AppResult},
    services::{analytics, records},
};

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
#[derive(Debug, Clone, Default, PartialEq)]
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

/// BAD_USER_INPUT naming the argument of the `kpis` (or `funnel`) input.
fn bad(argument: &str, message: impl Into<String>) -> AppError {
    AppError::BadUserInput(format!("`input.{argument}`: {}", message.into()))
}

/// Time buckets: (first day, day after the last).
type Buckets = Vec<(NaiveDate, NaiveDate)>;

/// Checks a request against the catalogue: errors name the argument.
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

/// How many statements of one `kpis` request run at once (each on its own
/// pooled connection; the cohort's size runs beside the cohort).
const PARALLEL_STATEMENTS: usize = 4;

/// Runs a statement of `kg`, `kb` and the columns of the aggregates
/// `names`, read by name.
async fn run(
    db: &DatabaseConnection,
    stmt: Statement,
    id_key: bool,
    names: impl Iterator<Item = &'static str>,
) -> AppResult<Cells> {
    let columns: Vec<String> = names.map(column).collect();
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
        let mut values = Vec::with_capacity(columns.len());
        for c in &columns {
            values.push(row.try_get::<Option<f64>>("", c)?.unwrap_or(0.0));
        }
        cells.insert((key, bucket), values);
    }
    Ok(cells)
}

/// Runs a measure's statement.
async fn run_measure(
    db: &DatabaseConnection,
    m: &'static Measure,
    scope: &Scope<'_>,
    id_key: bool,
) -> AppResult<Cells> {
    run(
        db,
        measure_sql(m, scope),
        id_key,
        m.aggs.iter().map(|a| a.name),
    )
    .await
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

/// The first value of a cell.
fn first(cells: &Cells, cell: &Cell) -> Option<f64> {
    cells.get(cell).and_then(|v| v.first().copied())
}

/// Computes the KPIs of a request: one or two aggregate statements per KPI
/// (a statement two KPIs share runs once), plus the targets table.
#[tracing::instrument(skip_all, fields(
    viewer = %viewer,
    kpi.count = req.kpis.len(),
    kpi.keys = ?req.kpis.iter().map(|k| k.key()).collect::<Vec<_>>(),
    period.from = %req.from,
    period.to = %req.to,
))]
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
    let mut unique: Vec<&'static Measure> = Vec::new();
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
    for &m in &unique {
        let id = m.id;
        jobs.push(if m.source == Source::Cohort && split == Split::None {
            let segment = &req.segment;
            async move {
                let cohort = cohorts.get(db, period, segment).await?;
                Ok(Part::Measure(id, cohort.cells()?))
            }
            .boxed()
        } else {
            run_measure(db, m, &scope, id_key)
                .map_ok(move |cells| Part::Measure(id, cells))
                .boxed()
        });
    }
    if req.kpis.contains(&Kpi::TimeToFirstContact) {
        jobs.push(
            run(db, median_sql(&scope), id_key, [MEDIAN].into_iter())
                .map_ok(Part::SplitMedians)
                .boxed(),
        );
        if split != Split::None {
            let total_scope = Scope {
                split: Split::None,
                ..scope
            };
            jobs.push(
                run(db, median_sql(&total_scope), false, [MEDIAN].into_iter())
                    .map_ok(Part::TotalMedians)
                    .boxed(),
            );
        }
    }
    if req.kpis.iter().any(|k| k.has_intrinsic_groups()) {
        jobs.push(
            closed_loop::win_loss(db, period, &req.segment)
                .map_ok(Part::WinLoss)
                .boxed(),
        );
    }
    if req.kpis.contains(&Kpi::CampaignRoi) {
        jobs.push(
            closed_loop::campaign_roi(db, &scope, req)
                .map_ok(Part::Roi)
                .boxed(),
        );
    }
    let mut cells: HashMap<&'static str, Cells> = HashMap::new();
    let (mut split_medians, mut total_medians) = (None, None);
    let mut win_loss = None;
    let mut roi = None;
    let mut finished = futures_util::stream::iter(jobs).buffer_unordered(PARALLEL_STATEMENTS);
    while let Some(part) = finished.try_next().await? {
        match part {
            Part::Measure(id, c) => {
                cells.insert(id, c);
            }
            Part::SplitMedians(c) => split_medians = Some(c),
            Part::TotalMedians(c) => total_medians = Some(c),
            Part::WinLoss(w) => win_loss = Some(w),
            Part::Roi(figures) => roi = Some(figures),
        }
    }
    let targets = load_targets(db, &req.kpis).await?;
    let today = scope.now.date_naive();
    // A target applies to the whole request when it names no segment, or
    // the one segment value the request is filtered to.
    let total_segment = if req.segment.is_empty() {
        Some(None)
    } else {
        req.segment.single().map(Some)
    };
    let target_for = |kpi: Kpi,
                      (start, end_incl): (NaiveDate, NaiveDate),
                      segment: Option<(SegmentDimension, String)>,
                      value: Option<f64>| {
        target_figures(&targets, kpi, (start, end_incl), segment, value, today)
    };
    let whole = (period.from, period.to);
    let mut out = Vec::with_capacity(req.kpis.len());
    for &kpi in &req.kpis {
        if kpi == Kpi::CampaignRoi {
            let Some(mut roi) = roi.clone() else { continue };
            if let Some(seg) = total_segment.clone() {
                roi.total.target = target_for(kpi, whole, seg, roi.total.value);
            }
            out.push(roi);
            continue;
        }
        if let Some(w) = win_loss.as_ref().filter(|_| kpi.has_intrinsic_groups()) {
            let (mut total, groups) = win_loss_figures(kpi, w);
            if let Some(seg) = total_segment.clone() {
                total.target = target_for(kpi, whole, seg, total.value);
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
        // TIME_TO_FIRST_CONTACT's medians: per cell, and over the whole
        // request (the same statement when not split).
        let ttfc = kpi == Kpi::TimeToFirstContact;
        let median_at = |cell: &Cell| {
            split_medians
                .as_ref()
                .filter(|_| ttfc)
                .and_then(|m| first(m, cell))
        };
        let total_median = split_medians.as_ref().filter(|_| ttfc).and_then(|s| {
            total_medians
                .as_ref()
                .unwrap_or(s)
                .values()
                .next()
                .and_then(|v| v.first().copied())
        });
        let mut total = figures(kpi, &Values::total(kpi, &cells), total_median)?;
        if let Some(seg) = total_segment.clone() {
            total.target = target_for(kpi, whole, seg, total.value);
        }
        let mut groups = Vec::new();
        let mut series = Vec::new();
        match split {
            Split::None => {}
            Split::Group(d) => {
                let mut keys: Vec<Option<String>> = measures(kpi)
                    .iter()
                    .filter_map(|m| cells.get(m.id))
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
                    let mut f = figures(kpi, &Values::at(kpi, &cells, &cell), median_at(&cell))?;
                    if req.segment.is_empty()
                        && let (Some(dim), Some(k)) = (d.segment_dimension(), &key)
                    {
                        f.target = target_for(kpi, whole, Some((dim, k.clone())), f.value);
                    }
                    groups.push(GroupFigures { key, figures: f });
                }
            }
            Split::Series(_) => {
                for (i, (start, end)) in buckets.iter().enumerate() {
                    let cell = (None, i64::try_from(i).unwrap_or(i64::MAX));
                    let end_incl = end.pred_opt().unwrap_or(*end);
                    let mut f = figures(kpi, &Values::at(kpi, &cells, &cell), median_at(&cell))?;
                    if let Some(seg) = total_segment.clone() {
                        f.target = target_for(kpi, (*start, end_incl), seg, f.value);
                    }
                    series.push(PointFigures {
                        start: *start,
                        end: end_incl,
                        figures: f,
                    });
                }
            }
        }
        let unit = kpi.definition().unit;
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

/// Whether a dimension's values are record ids (read back as UUIDs).
fn is_id_dimension(d: Dimension) -> bool {
    matches!(d, Dimension::Campaign | Dimension::Owner)
}

#[cfg(test)]
mod tests {
    use entity::enums::Channel;
    use sea_orm::DbBackend;

    use super::*;
    use crate::services::sql::unresolved_aliases;

    /// Every segment filter alone, and all of them together.
    fn segments() -> Vec<(&'static str, Segment)> {
        let all = Segment {
            sources: vec![Channel::Webinar],
            campaign_ids: vec![Uuid::from_u128(1)],
            channels: vec![Channel::Email],
            owner_ids: vec![Uuid::from_u128(2)],
            industries: vec!["Retail".into()],
            target_accounts_only: true,
        };
        let only = |f: fn(&Segment) -> Segment| f(&all);
        vec![
            ("no filter", Segment::default()),
            (
                "sources",
                only(|a| Segment {
                    sources: a.sources.clone(),
                    ..Segment::default()
                }),
            ),
            (
                "campaigns",
                only(|a| Segment {
                    campaign_ids: a.campaign_ids.clone(),
                    ..Segment::default()
                }),
            ),
            (
                "channels",
                only(|a| Segment {
                    channels: a.channels.clone(),
                    ..Segment::default()
                }),
            ),
            (
                "owners",
                only(|a| Segment {
                    owner_ids: a.owner_ids.clone(),
                    ..Segment::default()
                }),
            ),
            (
                "industries",
                only(|a| Segment {
                    industries: a.industries.clone(),
                    ..Segment::default()
                }),
            ),
            (
                "target accounts",
                Segment {
                    target_accounts_only: true,
                    ..Segment::default()
                },
            ),
            ("every filter", all),
        ]
    }

    /// Every split a request can ask for: none, each dimension, each granularity.
    fn splits() -> Vec<(Option<Dimension>, Option<Granularity>)> {
        let mut out = vec![(None, None)];
        for d in [
            Dimension::Source,
            Dimension::Campaign,
            Dimension::Channel,
            Dimension::Owner,
            Dimension::Industry,
            Dimension::OpportunityType,
        ] {
            out.push((Some(d), None));
        }
        for g in [
            Granularity::Day,
            Granularity::Week,
            Granularity::Month,
            Granularity::Quarter,
        ] {
            out.push((None, Some(g)));
        }
        out
    }

    /// Every statement a request for `kpi` runs, by what it computes.
    fn statements(kpi: Kpi, scope: &Scope<'_>) -> Vec<(String, Statement)> {
        let mut out: Vec<(String, Statement)> = measures(kpi)
            .iter()
            .map(|m| (format!("measure {}", m.id), measure_sql(m, scope)))
            .collect();
        if measures(kpi).iter().any(|m| m.source == Source::Cohort) {
            let (moved, size) =
                cohort::cohort_statements(scope.backend, scope.period, scope.segment);
            out.push(("the cohort pass".into(), moved));
            out.push(("the cohort's size".into(), size));
        }
        if kpi == Kpi::TimeToFirstContact {
            out.push(("the median".into(), median_sql(scope)));
        }
        if kpi.has_intrinsic_groups() {
            let statement = closed_loop::win_loss_sql(scope.backend, scope.period, scope.segment);
            out.push(("the win/loss statement".into(), statement));
        }
        if kpi == Kpi::CampaignRoi {
            let by_campaign = Scope {
                split: Split::Group(Dimension::Campaign),
                ..*scope
            };
            out.push((
                "spend by campaign".into(),
                measure_sql(&measures::SPEND, &by_campaign),
            ));
        }
        out
    }

    #[test]
    fn every_statement_joins_what_it_reads_for_every_kpi_segment_and_split_on_both_engines() {
        let mut checked = 0;
        let mut accepted: Vec<(Kpi, Dimension)> = Vec::new();
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for kpi in Kpi::ALL {
                for (name, segment) in segments() {
                    for (group_by, granularity) in splits() {
                        let req = KpiRequest {
                            kpis: vec![kpi],
                            from: "2026-01-01".parse().unwrap_or_default(),
                            to: "2026-03-31".parse().unwrap_or_default(),
                            segment: segment.clone(),
                            group_by,
                            granularity,
                            currency: None,
                            attribution_model: None,
                        };
                        // Combinations the engine refuses run nothing.
                        let Ok((period, split, buckets)) = validate(&req) else {
                            continue;
                        };
                        accepted.extend(group_by.map(|d| (kpi, d)));
                        let scope = Scope {
                            backend,
                            period,
                            segment: &segment,
                            split,
                            buckets: &buckets,
                            currency: "USD",
                            now: sql::midnight(period.from),
                        };
                        for (what, statement) in statements(kpi, &scope) {
                            checked += 1;
                            let context =
                                format!("{backend:?}, {}, {name}, {split:?}: {what}", kpi.key());
                            let missing = unresolved_aliases(&statement.sql);
                            assert!(
                                missing.is_empty(),
                                "{context} reads {missing:?} without joining it:\n{}",
                                statement.sql
                            );
                            // Each bound value has its placeholder and no
                            // macro is left unexpanded.
                            let bound = statement.values.as_ref().map_or(0, |v| v.0.len());
                            assert!(
                                statement.sql.contains(&format!("${bound}")) || bound == 0,
                                "{context}"
                            );
                            assert!(
                                !statement.sql.contains(&format!("${}", bound + 1)),
                                "{context}"
                            );
                            assert!(
                                !statement.sql.contains('{') && !statement.sql.contains('?'),
                                "{context}: {}",
                                statement.sql
                            );
                        }
                    }
                }
            }
        }
        // Every grouping the catalogue offers was built and checked.
        for kpi in Kpi::ALL {
            for d in kpi.definition().group_by {
                assert!(
                    accepted.contains(&(kpi, *d)),
                    "{} by {d:?} was refused",
                    kpi.key()
                );
            }
        }
        assert!(checked > 2_000, "{checked}");
    }
}
