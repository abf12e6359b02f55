//! `leads` keeps half of each page free (PostgreSQL `fillfactor = 50`), so
//! approving a lead definition can rescore every open lead in place.
//!
//! Rescoring changes only unindexed columns (`fit_score`, `engagement_score`,
//! `version`), so PostgreSQL can make it a heap-only-tuple (HOT) update,
//! which writes no index entry, but only when the new row version fits on
//! the same page. An approval rewrites nearly every open lead in one
//! transaction, while every old version is still visible, so a page needs
//! room for a second copy of each row it holds: half of it. With full pages
//! every row moves to another page and gets a new entry in every index of
//! `leads` (eleven when this was written); measured on 96,000 open leads,
//! 0.4 s with room against 5-7 s without. The space is not extra in the long
//! run: a rescoring that moves rows leaves the same free space behind it in
//! the heap (and bloats every index too). An index on a column rescoring
//! writes would end HOT for it; a test in `tests/api/lifecycle.rs` guards
//! that.
//!
//! Only pages written from now on keep the room: on an existing database the
//! next full rescoring moves the rows once (into pages filled to half), and
//! the ones after it are in place. SQLite has no fill factor; nothing to do.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000008_set_leads_fillfactor"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE leads SET (fillfactor = 50)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE leads RESET (fillfactor)")
                .await?;
        }
        Ok(())
    }
}
