//! A write transaction of a request that holds an `Idempotency-Key`. The row
//! is inserted in that transaction, so it exists exactly when one of the
//! request's writes committed.

use sea_orm::entity::prelude::*;

/// A row of `idempotency_key_writes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key_writes")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the transaction began.
    pub created_at: DateTimeUtc,
    /// The key (`idempotency_keys.id`) whose request wrote.
    pub idempotency_key_id: Uuid,
}

/// Foreign keys of `idempotency_key_writes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
