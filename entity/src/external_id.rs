//! The id a record has in an external system.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{ExternalSystem, ObjectType};

/// A row of `external_ids`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "external_ids")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// The external system.
    pub system: ExternalSystem,
    /// Kind of the Handoff record.
    pub object_type: ObjectType,
    /// Id in the external system.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub external_id: String,
    /// Id of the Handoff record.
    pub object_id: Uuid,
}

/// Foreign keys of `external_ids`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
