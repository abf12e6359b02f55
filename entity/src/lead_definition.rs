//! A version of the lead definition: the rules that make a lead an MQL and the follow-up SLA.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::DefinitionStatus;

/// A row of `lead_definitions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lead_definitions")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Version number, unique.
    #[sea_orm(unique)]
    pub version: i32,
    /// Lifecycle status.
    pub status: DefinitionStatus,
    /// Free-text description.
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// Fit scoring criteria.
    pub fit_criteria: Json,
    /// Engagement scoring rules.
    pub engagement_rules: Json,
    /// Half-life of engagement points, in days.
    pub half_life_days: f64,
    /// Minimum fit score of an MQL.
    pub mql_fit_min: i32,
    /// Minimum engagement score of an MQL.
    pub mql_engagement_min: i32,
    /// SLA hours from MQL to first contact.
    pub first_contact_hours: i32,
    /// SLA hours from MQL to disposition.
    pub disposition_hours: i32,
    /// Date by which the definition should be reviewed.
    pub review_by: Date,
    /// User who drafted it.
    pub created_by_id: Option<Uuid>,
    /// When it was approved.
    pub approved_at: Option<DateTimeUtc>,
    /// When a newer version replaced it.
    pub superseded_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency counter, +1 on every write to the row (an
    /// edit, a signature, approval, supersession, discarding). Not `version`,
    /// which is the definition's number in the history.
    pub revision: i32,
    /// When the draft was discarded (soft delete); None while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `lead_definitions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user who drafted the definition.
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
