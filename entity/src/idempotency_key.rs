//! An `Idempotency-Key` a user sent with a mutation: claimed before the
//! mutation runs, then holding its response so that a retry with the same
//! key gets the same answer instead of running it again.

use sea_orm::entity::prelude::*;

/// A row of `idempotency_keys`; unique per `(user_id, key)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the key was first claimed; it expires 24 hours later.
    pub created_at: DateTimeUtc,
    /// When the key was last claimed or its response stored. A claim
    /// without a response whose `updated_at` is older than the request time
    /// limit plus a margin belongs to a server that stopped.
    pub updated_at: DateTimeUtc,
    /// The user who sent the key; keys of different users never meet.
    pub user_id: Uuid,
    /// The key as the client sent it (1-255 printable ASCII characters).
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub key: String,
    /// SHA-256 (hex) of the request's query, operation name and variables.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub fingerprint: String,
    /// HTTP status of the stored response; `None` while the request runs.
    pub response_status: Option<i32>,
    /// The stored response body, byte for byte; `None` while the request
    /// runs. It may hold personal data and is only ever sent to `user_id`.
    #[sea_orm(column_type = "Blob", nullable)]
    pub response_body: Option<Vec<u8>>,
}

/// Foreign keys of `idempotency_keys`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
