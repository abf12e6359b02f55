//! Pure logic with no I/O, unit-tested with hand-computed expectations.

pub mod validate;
