//! Pure logic with no I/O, unit-tested with hand-computed expectations.

pub mod attribution;
pub mod crm;
pub mod currency;
pub mod deal_stages;
pub mod feedback;
pub mod global_id;
pub mod idempotency;
pub mod kpi;
pub mod lifecycle;
pub mod period;
pub mod records;
pub mod scoring;
pub mod sla;
pub mod spreadsheet;
pub mod stage_move;
pub mod validate;
