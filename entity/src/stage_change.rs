//! A stage transition of a lead or an opportunity (append-only history).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::StageSubject;

/// A row of `stage_changes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "stage_changes")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Whether the subject is a lead or an opportunity.
    pub subject_type: StageSubject,
    /// Id of the lead or opportunity.
    pub subject_id: Uuid,
    /// Previous stage name; `None` on creation.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub from_stage: Option<String>,
    /// New stage name.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub to_stage: String,
    /// When the change happened.
    pub at: DateTimeUtc,
    /// User who made the change.
    pub actor_id: Option<Uuid>,
    /// Free-text reason.
    #[sea_orm(column_type = "Text")]
    pub reason: Option<String>,
}

/// Foreign keys of `stage_changes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user who made the change.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
