//! An entry of the change feed sync jobs read, in `seq` order.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{ChangeOperation, ObjectType};

/// A row of `change_log`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
    /// Position in the feed (auto-increment).
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Kind of the changed record.
    pub object_type: ObjectType,
    /// Id of the changed record.
    pub object_id: Uuid,
    /// What happened.
    pub operation: ChangeOperation,
    /// User who made the change.
    pub actor_id: Option<Uuid>,
    /// Names of the changed fields, as JSON.
    pub changed_fields: Option<Json>,
    /// When the change happened.
    pub at: DateTimeUtc,
    /// The writing transaction's id on PostgreSQL (0 on SQLite). Readers
    /// follow rows in `(txid, seq)` order and hold back rows of transactions
    /// that may still be in flight; see migration `m20261123_000004`.
    pub txid: i64,
}

/// Foreign keys of `change_log`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
