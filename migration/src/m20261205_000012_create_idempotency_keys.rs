//! `Idempotency-Key` on mutations (README "Retrying mutations safely").
//!
//! - `idempotency_keys`: one row per (user, key), inserted before the
//!   mutation runs, so the unique index on `(user_id, key)` lets exactly one
//!   of two concurrent requests with the same key run. It then holds the
//!   response for replays (`response_status` and `response_body` are null
//!   while the request runs). `created_at` is indexed for the deletion of
//!   keys over 24 hours old.
//! - `idempotency_key_writes`: a row inserted by every write transaction of
//!   a request that holds a key, in that transaction. It commits exactly
//!   when one of the request's writes commits, so after a failure, a
//!   time-out or a crash the server can tell whether the request changed
//!   anything (and must keep its key) or not (and may let a retry run).
//!   Its foreign key also makes a write transaction share-lock the key row
//!   on PostgreSQL, so a check that locks the row waits for writes still
//!   committing.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000012_create_idempotency_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .if_not_exists()
                .col(pk_uuid(IdempotencyKeys::Id))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .col(timestamp_with_time_zone(IdempotencyKeys::UpdatedAt))
                .col(uuid(IdempotencyKeys::UserId))
                .col(string_len(IdempotencyKeys::Key, 255))
                .col(string_len(IdempotencyKeys::Fingerprint, 64))
                .col(integer_null(IdempotencyKeys::ResponseStatus))
                .col(blob_null(IdempotencyKeys::ResponseBody))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_idempotency_keys_user")
                        .from(IdempotencyKeys::Table, IdempotencyKeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_idempotency_keys_user_key")
                .table(IdempotencyKeys::Table)
                .if_not_exists()
                .unique()
                .col(IdempotencyKeys::UserId)
                .col(IdempotencyKeys::Key)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_idempotency_keys_created_at")
                .table(IdempotencyKeys::Table)
                .if_not_exists()
                .col(IdempotencyKeys::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(IdempotencyKeyWrites::Table)
                .if_not_exists()
                .col(pk_uuid(IdempotencyKeyWrites::Id))
                .col(timestamp_with_time_zone(IdempotencyKeyWrites::CreatedAt))
                .col(uuid(IdempotencyKeyWrites::IdempotencyKeyId))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_idempotency_key_writes_key")
                        .from(
                            IdempotencyKeyWrites::Table,
                            IdempotencyKeyWrites::IdempotencyKeyId,
                        )
                        .to(IdempotencyKeys::Table, IdempotencyKeys::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_idempotency_key_writes_key")
                .table(IdempotencyKeyWrites::Table)
                .if_not_exists()
                .col(IdempotencyKeyWrites::IdempotencyKeyId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(IdempotencyKeyWrites::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(IdempotencyKeys::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    CreatedAt,
    UpdatedAt,
    UserId,
    Key,
    Fingerprint,
    ResponseStatus,
    ResponseBody,
}

#[derive(DeriveIden)]
enum IdempotencyKeyWrites {
    Table,
    Id,
    CreatedAt,
    IdempotencyKeyId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
