//! A marketing campaign.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{CampaignObjective, CampaignStatus, Channel};

/// A row of `campaigns`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Campaign name.
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub name: String,
    /// Channel the campaign runs on.
    pub channel: Channel,
    /// What the campaign aims at.
    pub objective: CampaignObjective,
    /// Lifecycle status.
    pub status: CampaignStatus,
    /// First day.
    pub starts_on: Date,
    /// Last day, if set.
    pub ends_on: Option<Date>,
    /// Budget, in `currency`.
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub budget: Option<Decimal>,
    /// ISO 4217 currency of the budget.
    #[sea_orm(column_type = "Char(Some(3))")]
    pub currency: String,
    /// Owning user.
    pub owner_id: Option<Uuid>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `campaigns`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Owner,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
