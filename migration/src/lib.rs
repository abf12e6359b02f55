//! Handoff's database migrations. One migration per change; a migration is
//! never edited after it lands on main.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tables;
mod m20261123_000002_add_competitor_name_key;
mod m20261123_000003_create_events;
mod m20261123_000004_add_commit_order;
mod m20261123_000005_track_spend_deletes_and_feedback_editors;
mod m20261123_000006_add_lead_definition_revision_and_deleted_at;
mod m20261202_000007_add_analytics_indexes;
mod m20261202_000008_set_leads_fillfactor;
mod m20261202_000009_add_kpi_indexes;
mod m20261202_000010_add_kpi_covering_indexes;
mod m20261204_000011_add_dashboard_indexes;
mod m20261205_000012_create_idempotency_keys;
mod m20261207_000013_make_lead_email_optional_and_add_phone;

/// All migrations, in the order they run.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261123_000002_add_competitor_name_key::Migration),
            Box::new(m20261123_000003_create_events::Migration),
            Box::new(m20261123_000004_add_commit_order::Migration),
            Box::new(m20261123_000005_track_spend_deletes_and_feedback_editors::Migration),
            Box::new(m20261123_000006_add_lead_definition_revision_and_deleted_at::Migration),
            Box::new(m20261202_000007_add_analytics_indexes::Migration),
            Box::new(m20261202_000008_set_leads_fillfactor::Migration),
            Box::new(m20261202_000009_add_kpi_indexes::Migration),
            Box::new(m20261202_000010_add_kpi_covering_indexes::Migration),
            Box::new(m20261204_000011_add_dashboard_indexes::Migration),
            Box::new(m20261205_000012_create_idempotency_keys::Migration),
            Box::new(m20261207_000013_make_lead_email_optional_and_add_phone::Migration),
        ]
    }
}
