//! Covering indexes for the KPI dashboard on PostgreSQL, so its statements
//! read narrow indexes (index-only scans) instead of the `leads` heap, which
//! is wide and kept half empty (`fillfactor = 50`, migration 000008):
//!
//! - the leads created in a period (leads created, the cohort's size and
//!   its leads): `leads (created_at)` with the id and the segment columns,
//!   live leads only;
//! - a lead looked up from a stage change or an opportunity (MQL entries,
//!   dispositions, the sales cycle of deals): `leads (id)` with the
//!   timestamps the KPIs read and the segment columns;
//! - SLA compliance: `leads (sla_first_contact_due_at)` with
//!   `first_contacted_at`, live leads only;
//! - the cohort funnel: each lead's entries into the stages after NEW,
//!   `stage_changes (subject_id)` with the stage and time, only those rows
//!   (a sixth of the lead stage changes);
//! - MQL entries and dispositions in a period: lead stage changes by
//!   `(to_stage, at)` and `(from_stage, at)` with the lead.
//!
//! None of them holds a column rescoring writes (`fit_score`,
//! `engagement_score`, `version`), so rescoring stays a heap-only update
//! (a test in `tests/api/lifecycle.rs` guards that). SQLite has no
//! `INCLUDE`; its existing indexes serve there.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000010_add_kpi_covering_indexes"
    }
}

/// (name, the rest of the `CREATE INDEX` statement).
const INDEXES: &[(&str, &str)] = &[
    (
        "ix_leads_live_created",
        "leads (created_at) INCLUDE (id, source, source_campaign_id, owner_id, account_id) \
         WHERE deleted_at IS NULL",
    ),
    (
        "ix_leads_id_kpi",
        "leads (id) INCLUDE (created_at, deleted_at, first_contacted_at, source, \
         source_campaign_id, owner_id, account_id)",
    ),
    (
        "ix_leads_live_sla_due",
        "leads (sla_first_contact_due_at) INCLUDE (first_contacted_at) WHERE deleted_at IS NULL",
    ),
    (
        "ix_stage_changes_lead_progress",
        "stage_changes (subject_id) INCLUDE (to_stage, at) WHERE subject_type = 'LEAD' \
         AND to_stage IN ('MQL', 'SAL', 'SQL', 'OPPORTUNITY', 'CUSTOMER')",
    ),
    (
        "ix_stage_changes_lead_to",
        "stage_changes (to_stage, at) INCLUDE (subject_id) WHERE subject_type = 'LEAD'",
    ),
    (
        "ix_stage_changes_lead_from",
        "stage_changes (from_stage, at) INCLUDE (to_stage, subject_id) WHERE subject_type = 'LEAD'",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (name, def) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {name} ON {def}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (name, _) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
