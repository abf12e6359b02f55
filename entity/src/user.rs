//! A user of Handoff: a person or a machine client.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{Role, Team};

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Display name.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub name: String,
    /// Email address, unique.
    #[sea_orm(unique, column_type = "String(StringLen::N(320))")]
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// Team the user belongs to.
    pub team: Team,
    /// Whether the user may sign in.
    pub active: bool,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
