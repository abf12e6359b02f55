//! A sales opportunity.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{OpportunityStage, OpportunityType, SourcedBy};

/// A row of `opportunities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "opportunities")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Opportunity name.
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub name: String,
    /// The account.
    pub account_id: Option<Uuid>,
    /// The lead it was converted from.
    pub primary_lead_id: Option<Uuid>,
    /// Owning user.
    pub owner_id: Option<Uuid>,
    /// Pipeline stage.
    pub stage: OpportunityStage,
    /// When it entered its stage.
    pub stage_entered_at: DateTimeUtc,
    /// Amount, in `currency`.
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub amount: Decimal,
    /// ISO 4217 currency of `amount`.
    #[sea_orm(column_type = "Char(Some(3))")]
    pub currency: String,
    /// Type of business (column `type`).
    #[sea_orm(column_name = "type")]
    pub opportunity_type: OpportunityType,
    /// Team that sourced it.
    pub sourced_by: SourcedBy,
    /// Expected close date.
    pub expected_close_on: Option<Date>,
    /// When it was closed.
    pub closed_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `opportunities`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The account.
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id",
        on_delete = "SetNull"
    )]
    Account,
    /// The lead it was converted from.
    #[sea_orm(
        belongs_to = "super::lead::Entity",
        from = "Column::PrimaryLeadId",
        to = "super::lead::Column::Id",
        on_delete = "SetNull"
    )]
    PrimaryLead,
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Owner,
}

impl Related<super::account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Account.def()
    }
}

impl Related<super::lead::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PrimaryLead.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
