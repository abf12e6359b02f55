//! SeaORM entities of Handoff: one module per table of the migrations, plus
//! the string-backed [`enums`] they use.
//!
//! Plain data access only; nothing here knows about GraphQL.

/// The `accounts` table.
pub mod account;
/// The `activities` table.
pub mod activity;
/// The `campaigns` table.
pub mod campaign;
/// The `campaign_spend` table.
pub mod campaign_spend;
/// The `change_log` table.
pub mod change_log;
/// The `competitors` table.
pub mod competitor;
/// String-backed enumerations used by the entities' columns.
pub mod enums;
/// The `events` table: the durable event stream.
pub mod event;
/// The `external_ids` table.
pub mod external_id;
/// The `idempotency_keys` table: mutations' `Idempotency-Key`s and their responses.
pub mod idempotency_key;
/// The `idempotency_key_writes` table: which keyed requests committed a write.
pub mod idempotency_key_write;
/// The `kpi_targets` table.
pub mod kpi_target;
/// The `leads` table.
pub mod lead;
/// The `lead_definitions` table.
pub mod lead_definition;
/// The `lead_definition_signatures` table.
pub mod lead_definition_signature;
/// The `opportunities` table.
pub mod opportunity;
/// The `stage_changes` table.
pub mod stage_change;
/// The `users` table.
pub mod user;
/// The `win_loss_feedback` table.
pub mod win_loss_feedback;

/// Re-export of SeaORM, the version these entities are built with.
pub use sea_orm;
