//! The business rules and queries: `(db, &Viewer, input) -> AppResult<..>`.
//! Every service checks the role policy itself (guards are skipped through
//! interfaces), and every write goes through [`records`], which versions the
//! row and appends to the change log in the same transaction.

pub mod accounts;
pub mod campaigns;
pub mod competitors;
pub mod filters;
pub mod leads;
pub mod opportunities;
pub mod pagination;
pub mod records;
pub mod users;
