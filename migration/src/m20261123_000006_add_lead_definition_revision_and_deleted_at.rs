//! Lead definitions get an optimistic-concurrency counter and a soft delete,
//! so a draft can be discarded safely. The counter is `revision`, not
//! `version`: a definition's `version` is already its number in the history
//! (1, 2, ...) and never changes. A discarded draft keeps its row (and so its
//! version number, which is never reused) with `deleted_at` set.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000006_add_lead_definition_revision_and_deleted_at"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        m.alter_table(
            Table::alter()
                .table(LeadDefinitions::Table)
                .add_column(integer(LeadDefinitions::Revision).default(1))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(LeadDefinitions::Table)
                .add_column(timestamp_with_time_zone_null(LeadDefinitions::DeletedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [LeadDefinitions::DeletedAt, LeadDefinitions::Revision] {
            m.alter_table(
                Table::alter()
                    .table(LeadDefinitions::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum LeadDefinitions {
    Table,
    Revision,
    DeletedAt,
}
