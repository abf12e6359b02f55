//! Competitor names are unique regardless of case. SQLite's `lower()` folds
//! ASCII only, so the key is lower-cased by the application (Unicode-aware)
//! and stored, and the unique index is on the key. It also serves the
//! case-insensitive name search on both engines.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_add_competitor_name_key"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Competitors::Table)
                .add_column(string_len_null(Competitors::NameKey, 200))
                .to_owned(),
        )
        .await?;
        // Existing rows: the database's lower() is the best available here.
        m.get_connection()
            .execute_unprepared("UPDATE competitors SET name_key = lower(name)")
            .await?;
        m.create_index(
            Index::create()
                .name("ux_competitors_name_key")
                .table(Competitors::Table)
                .col(Competitors::NameKey)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ux_competitors_name_key")
                .table(Competitors::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Competitors::Table)
                .drop_column(Competitors::NameKey)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Competitors {
    Table,
    NameKey,
}
