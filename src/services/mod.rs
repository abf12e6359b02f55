//! The business rules and queries: `(db, &Viewer, input) -> AppResult<..>`.
//! Every service checks the role policy itself (guards are skipped through
//! interfaces), and every write goes through [`records`], which versions the
//! row and appends to the change log in the same transaction.

pub mod accounts;
pub mod activities;
pub mod analytics;
pub mod campaigns;
pub mod changes;
pub mod commit_order;
pub mod competitors;
pub mod events;
pub mod external_ids;
pub mod feedback;
pub mod filters;
pub mod idempotency;
pub mod kpis;
pub mod lead_definitions;
pub mod leads;
pub mod lifecycle;
pub mod links;
pub mod opportunities;
pub mod pagination;
pub mod records;
pub mod scoring;
pub mod sla;
pub mod spend;
mod sql;
pub mod stage_changes;
pub mod stage_moves;
pub mod sync;
pub mod users;
