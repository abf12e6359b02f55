//! Something a lead did or a salesperson did with a lead.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::ActivityKind;

/// A row of `activities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// The lead.
    pub lead_id: Uuid,
    /// Kind of activity.
    pub kind: ActivityKind,
    /// When it happened.
    pub occurred_at: DateTimeUtc,
    /// Campaign it is attributed to.
    pub campaign_id: Option<Uuid>,
    /// User who performed it (sales touches).
    pub actor_id: Option<Uuid>,
    /// Free-text note.
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `activities`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The lead.
    #[sea_orm(
        belongs_to = "super::lead::Entity",
        from = "Column::LeadId",
        to = "super::lead::Column::Id",
        on_delete = "Cascade"
    )]
    Lead,
    /// The attributed campaign.
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "SetNull"
    )]
    Campaign,
    /// The user who performed it.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::lead::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Lead.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
