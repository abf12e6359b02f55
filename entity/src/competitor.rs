//! A competitor named in win/loss feedback.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `competitors`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "competitors")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Name, unique.
    #[sea_orm(unique, column_type = "String(StringLen::N(200))")]
    pub name: String,
    /// Website address.
    #[sea_orm(column_type = "String(StringLen::N(500))")]
    pub website: Option<String>,
    /// The name lower-cased by the application (Unicode-aware), unique:
    /// names are unique regardless of case.
    #[sea_orm(column_type = "String(StringLen::N(200))", unique)]
    pub name_key: Option<String>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `competitors`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
