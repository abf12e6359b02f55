//! A target for a KPI over a month or quarter, optionally for one segment.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{PeriodKind, SegmentDimension, TargetDirection};

/// A row of `kpi_targets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "kpi_targets")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Name of the KPI.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kpi: String,
    /// Length of the period.
    pub period_kind: PeriodKind,
    /// First day of the period.
    pub period_start: Date,
    /// Dimension of the segment, if any.
    pub segment_dimension: Option<SegmentDimension>,
    /// Value of the segment, if any.
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub segment_value: Option<String>,
    /// Target value.
    #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
    pub target: Decimal,
    /// Whether the target is a floor or a ceiling.
    pub direction: TargetDirection,
    /// User who set the target.
    pub created_by_id: Option<Uuid>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
}

/// Foreign keys of `kpi_targets`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user who set the target.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CreatedBy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
