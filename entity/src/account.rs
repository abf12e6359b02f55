//! A company that leads and opportunities belong to.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Company name.
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub name: String,
    /// Web domain, unique.
    #[sea_orm(unique, column_type = "String(StringLen::N(253))")]
    pub domain: Option<String>,
    /// Industry.
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub industry: Option<String>,
    /// Number of employees.
    pub employee_count: Option<i32>,
    /// Annual revenue, in `currency`.
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub annual_revenue: Option<Decimal>,
    /// ISO 4217 currency of `annual_revenue`.
    #[sea_orm(column_type = "Char(Some(3))")]
    pub currency: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[sea_orm(column_type = "Char(Some(2))")]
    pub country: Option<String>,
    /// Whether the account is on the target-account list.
    pub is_target_account: bool,
    /// Owning user.
    pub owner_id: Option<Uuid>,
    /// Fit score.
    pub fit_score: i32,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `accounts`.
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
