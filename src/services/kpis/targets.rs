//! KPI targets: setting, deleting and listing them, and how a computed
//! value stands against the target set for exactly its KPI, period and
//! segment.

use chrono::NaiveDate;
use entity::{
    enums::{ChangeOperation, ObjectType, PeriodKind, SegmentDimension, TargetDirection},
    kpi_target,
};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::TargetFigures;
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::kpi::{Kpi, elapsed_fraction, target_outcome},
    error::{AppError, AppResult, FieldError, UserErrorCode},
    services::records,
};

/// What a target is set for.
#[derive(Debug, Clone)]
pub struct TargetInput {
    /// The KPI.
    pub kpi: Kpi,
    /// Month or quarter.
    pub period_kind: PeriodKind,
    /// First day of the period (the first of a month; of a quarter's first month).
    pub period_start: NaiveDate,
    /// The segment, if any.
    pub segment: Option<(SegmentDimension, String)>,
    /// The target value (ratios as fractions, money in the request currency).
    pub target: Decimal,
    /// Floor or ceiling.
    pub direction: TargetDirection,
}

fn check_target(input: &TargetInput) -> AppResult<()> {
    use chrono::Datelike;
    let mut errors = Vec::new();
    let start = input.period_start;
    let aligned = start.day() == 1
        && (input.period_kind == PeriodKind::Month || start.month0().is_multiple_of(3));
    if !aligned {
        errors.push(FieldError::new(
            "periodStart",
            UserErrorCode::Invalid,
            match input.period_kind {
                PeriodKind::Month => "a month target starts on the first day of a month",
                PeriodKind::Quarter => {
                    "a quarter target starts on 1 January, 1 April, 1 July or 1 October"
                }
            },
        ));
    }
    if input.target < Decimal::ZERO {
        errors.push(FieldError::new(
            "target",
            UserErrorCode::OutOfRange,
            "a target is not negative",
        ));
    }
    if input.kpi.is_ratio() && input.target > Decimal::ONE {
        errors.push(FieldError::new(
            "target",
            UserErrorCode::OutOfRange,
            "a rate target is a fraction between 0 and 1 (0.3 for 30 %)",
        ));
    }
    if let Some((_, value)) = &input.segment
        && value.trim().is_empty()
    {
        errors.push(FieldError::new(
            "segment",
            UserErrorCode::Required,
            "a segment needs a value",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Sets the target for a KPI, period and segment: creates it, or updates
/// the one already set for exactly that KPI, period and segment.
#[tracing::instrument(skip_all, fields(viewer = %viewer, kpi = input.kpi.key()))]
pub async fn set_target(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: TargetInput,
) -> AppResult<kpi_target::Model> {
    viewer.require(Action::SetKpiTarget)?;
    check_target(&input)?;
    let txn = begin_write(db).await?;
    let (dim, value) = match input.segment.clone() {
        Some((d, v)) => (Some(d), Some(v)),
        None => (None, None),
    };
    let existing = kpi_target::Entity::find()
        .filter(kpi_target::Column::Kpi.eq(input.kpi.key()))
        .filter(kpi_target::Column::PeriodKind.eq(input.period_kind))
        .filter(kpi_target::Column::PeriodStart.eq(input.period_start))
        .filter(match dim {
            Some(d) => kpi_target::Column::SegmentDimension.eq(d),
            None => kpi_target::Column::SegmentDimension.is_null(),
        })
        .filter(match &value {
            Some(v) => kpi_target::Column::SegmentValue.eq(v.clone()),
            None => kpi_target::Column::SegmentValue.is_null(),
        })
        .one(&txn)
        .await?;
    let now = records::now();
    let model = match existing {
        Some(t) => {
            let version = t.version + 1;
            let mut am: kpi_target::ActiveModel = t.into();
            am.target = Set(input.target);
            am.direction = Set(input.direction);
            am.updated_at = Set(now);
            am.version = Set(version);
            am.update(&txn).await?
        }
        None => {
            kpi_target::ActiveModel {
                id: Set(Uuid::new_v4()),
                created_at: Set(now),
                updated_at: Set(now),
                kpi: Set(input.kpi.key().to_owned()),
                period_kind: Set(input.period_kind),
                period_start: Set(input.period_start),
                segment_dimension: Set(dim),
                segment_value: Set(value),
                target: Set(input.target),
                direction: Set(input.direction),
                created_by_id: Set(Some(viewer.user_id)),
                version: Set(1),
            }
            .insert(&txn)
            .await?
        }
    };
    records::log(
        &txn,
        Some(viewer.user_id),
        ObjectType::KpiTarget,
        model.id,
        ChangeOperation::Upsert,
        vec!["target".into(), "direction".into()],
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a target.
#[tracing::instrument(skip_all, fields(viewer = %viewer, kpi_target.id = %id))]
pub async fn delete_target(db: &DatabaseConnection, viewer: &Viewer, id: Uuid) -> AppResult<Uuid> {
    viewer.require(Action::SetKpiTarget)?;
    let txn = begin_write(db).await?;
    let res = kpi_target::Entity::delete_by_id(id).exec(&txn).await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("no KPI target with this id".into()));
    }
    records::log(
        &txn,
        Some(viewer.user_id),
        ObjectType::KpiTarget,
        id,
        ChangeOperation::Delete,
        vec![],
        records::now(),
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// The targets of some KPIs (all when empty) whose period starts in `from..=to`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, kpi.count = kpis.len()))]
pub async fn list_targets(
    db: &DatabaseConnection,
    viewer: &Viewer,
    kpis: &[Kpi],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<Vec<kpi_target::Model>> {
    viewer.require(Action::ReadKpis)?;
    let mut q = kpi_target::Entity::find();
    if !kpis.is_empty() {
        q = q.filter(kpi_target::Column::Kpi.is_in(kpis.iter().map(|k| k.key())));
    }
    if let Some(from) = from {
        q = q.filter(kpi_target::Column::PeriodStart.gte(from));
    }
    if let Some(to) = to {
        q = q.filter(kpi_target::Column::PeriodStart.lte(to));
    }
    Ok(q.order_by_asc(kpi_target::Column::PeriodStart)
        .order_by_asc(kpi_target::Column::Kpi)
        .order_by_asc(kpi_target::Column::Id)
        .all(db)
        .await?)
}

/// The target set for `kpi` over exactly the days `period` (first, last
/// included) and `segment`, with how `value` stands against it.
pub(super) fn target_figures(
    targets: &[kpi_target::Model],
    kpi: Kpi,
    (start, end_incl): (NaiveDate, NaiveDate),
    segment: Option<(SegmentDimension, String)>,
    value: Option<f64>,
    today: NaiveDate,
) -> Option<TargetFigures> {
    find_target(targets, kpi, start, end_incl, segment).map(|t| {
        let end = end_incl.succ_opt().unwrap_or(end_incl);
        let outcome = target_outcome(
            value,
            t.target.to_f64().unwrap_or(0.0),
            t.direction,
            kpi.definition().cumulative,
            elapsed_fraction(start, end, today),
        );
        TargetFigures {
            target: t.clone(),
            outcome,
        }
    })
}

/// The targets set for any of `kpis`.
pub(super) async fn load_targets(
    db: &DatabaseConnection,
    kpis: &[Kpi],
) -> AppResult<Vec<kpi_target::Model>> {
    Ok(kpi_target::Entity::find()
        .filter(kpi_target::Column::Kpi.is_in(kpis.iter().map(|k| k.key())))
        .all(db)
        .await?)
}

/// The day after a target's period.
fn period_end(kind: PeriodKind, start: NaiveDate) -> NaiveDate {
    let months = match kind {
        PeriodKind::Month => 1,
        PeriodKind::Quarter => 3,
    };
    start
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(start)
}

fn find_target(
    targets: &[kpi_target::Model],
    kpi: Kpi,
    start: NaiveDate,
    end_incl: NaiveDate,
    segment: Option<(SegmentDimension, String)>,
) -> Option<&kpi_target::Model> {
    let end = end_incl.succ_opt().unwrap_or(end_incl);
    targets.iter().find(|t| {
        t.kpi == kpi.key()
            && t.period_start == start
            && period_end(t.period_kind, t.period_start) == end
            && match (&segment, t.segment_dimension, &t.segment_value) {
                (None, None, _) => true,
                (Some((d, v)), Some(td), Some(tv)) => *d == td && v == tv,
                _ => false,
            }
    })
}
