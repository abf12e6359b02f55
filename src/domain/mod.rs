//! Pure logic with no I/O, unit-tested with hand-computed expectations.

pub mod lifecycle;
pub mod scoring;
pub mod sla;
pub mod validate;
