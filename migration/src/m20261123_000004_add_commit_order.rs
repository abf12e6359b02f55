//! Records which transaction wrote each `events` and `change_log` row, so a
//! reader can follow them in an order that never skips a late commit.
//!
//! `seq` is assigned when a row is written, not when its transaction commits:
//! on PostgreSQL a transaction that took seq 5 can commit after one that took
//! seq 6, and a reader that already passed 6 would never see 5. With the
//! writing transaction's id in `txid`, readers order rows by `(txid, seq)` and
//! only return rows whose transaction is older than every transaction still
//! in flight (see `handoff::services::events`). Any row that commits
//! later has a `txid` at or above that horizon, so it sorts after everything
//! already returned. `txid` is the 64-bit, epoch-extended id
//! (`pg_current_xact_id()`), which does not wrap around.
//!
//! SQLite runs one write transaction at a time, so `seq` order is commit
//! order there; `txid` stays 0 and `(txid, seq)` order is `seq` order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_add_commit_order"
    }
}

const TABLES: [&str; 2] = ["events", "change_log"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let default = match m.get_database_backend() {
            DbBackend::Postgres => "(pg_current_xact_id()::text::bigint)",
            _ => "0",
        };
        for table in TABLES {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN txid BIGINT NOT NULL DEFAULT {default}"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS ix_{table}_txid_seq ON {table} (txid, seq)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS ix_{table}_txid_seq"))
                .await?;
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN txid"))
                .await?;
        }
        Ok(())
    }
}
