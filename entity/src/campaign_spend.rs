//! Money spent on a campaign on one day.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `campaign_spend`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "campaign_spend")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// The campaign.
    pub campaign_id: Uuid,
    /// Day of the spend.
    pub spent_on: Date,
    /// Amount, in `currency`.
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub amount: Decimal,
    /// ISO 4217 currency of `amount`.
    #[sea_orm(column_type = "Char(Some(3))")]
    pub currency: String,
    /// Free-text note.
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the entry was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `campaign_spend`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The campaign.
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Cascade"
    )]
    Campaign,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
