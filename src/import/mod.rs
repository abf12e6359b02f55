//! `handoff import`: HubSpot and Salesforce CSV exports, upserted through
//! the sync service ([`services::sync`](crate::services::sync)) in batches
//! of [`MAX_BATCH`] rows.
//!
//! Each object is a table of columns per system plus a conversion from a
//! row to the service's record ([`Object`]); the driver here reads the
//! file (decoded by its byte order mark, each row numbered by the physical
//! line it starts on: [`source`]), matches its headers
//! ([`columns::Layout`], which refuses a missing id column or a header
//! twice before any row is read), converts rows, sends batches, and
//! writes every row that failed (malformed, unreadable, or refused by the
//! service) with its line number and reason to the failed file. An empty
//! cell leaves the field as it is.

pub mod accounts;
pub mod columns;
pub mod dates;
pub mod leads;
pub mod opportunities;
pub mod source;
pub mod values;

use std::{
    future::Future,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use chrono::FixedOffset;
use entity::enums::{ExternalSystem, Role};
use sea_orm::DatabaseConnection;

pub use crate::services::sync::Ref;
use crate::{
    auth::{Action, Viewer},
    domain::spreadsheet,
    error::AppResult,
    services::{
        self,
        sync::{ErrorCode, MAX_BATCH, Mode, RecordResult, Status},
    },
};
pub use columns::UnknownOwner;
use columns::{Column, Context, Layout, Mapping, Row, RowError, describe_all};
use source::Encoding;

/// The system an export comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    /// HubSpot (CRM exports of contacts, companies and deals).
    Hubspot,
    /// Salesforce (report or Data Loader exports of leads, accounts and opportunities).
    Salesforce,
}

impl System {
    /// The sync service's name of the system.
    pub fn external(self) -> ExternalSystem {
        match self {
            Self::Hubspot => ExternalSystem::Hubspot,
            Self::Salesforce => ExternalSystem::Salesforce,
        }
    }
}

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectKind {
    /// Leads: HubSpot contacts, Salesforce leads.
    #[value(alias = "contacts")]
    Leads,
    /// Accounts: HubSpot companies, Salesforce accounts.
    #[value(alias = "companies")]
    Accounts,
    /// Opportunities: HubSpot deals, Salesforce opportunities.
    #[value(alias = "deals")]
    Opportunities,
}

impl ObjectKind {
    /// The columns this object reads from `system`'s export.
    pub fn columns(self, system: System) -> &'static [Column] {
        match self {
            Self::Leads => <leads::Leads as Object>::columns(system.external()),
            Self::Accounts => <accounts::Accounts as Object>::columns(system.external()),
            Self::Opportunities => {
                <opportunities::Opportunities as Object>::columns(system.external())
            }
        }
    }
}

/// One record converted from a row.
#[derive(Debug)]
pub struct Converted<R> {
    /// The service's record.
    pub record: R,
    /// The column key of each `stageHistory` entry, in order (so the
    /// service's `stageHistory.N` errors name the column).
    pub history: Vec<&'static str>,
}

/// An object the import reads: its columns per system, the conversion of
/// a row, and the service call that upserts a batch.
pub trait Object {
    /// The service's record.
    type Record: Send;

    /// The columns of `system`'s export.
    fn columns(system: ExternalSystem) -> &'static [Column];

    /// Service fields the import fills from another column than their own,
    /// as `(field, column key)`, so that their errors name that column.
    const DERIVED: &'static [(&'static str, &'static str)] = &[];

    /// One row as a record, or every reason it cannot be one (each cell
    /// that cannot be read; never empty).
    fn convert(row: &Row<'_>) -> Result<Converted<Self::Record>, Vec<RowError>>;

    /// Upserts a batch of at most [`MAX_BATCH`] records (or, in a dry
    /// run, checks it and rolls it back).
    fn upsert(
        db: &DatabaseConnection,
        viewer: &Viewer,
        system: ExternalSystem,
        records: Vec<Self::Record>,
        mode: Mode,
    ) -> impl Future<Output = AppResult<Vec<RecordResult>>> + Send;
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The export's system.
    pub system: System,
    /// What the export holds.
    pub object: ObjectKind,
    /// The CSV file.
    pub file: PathBuf,
    /// Column renames and extra stage and source values.
    pub mapping: Mapping,
    /// Currency of money without a currency column.
    pub currency: String,
    /// Zone of times without one.
    pub offset: FixedOffset,
    /// Where failed rows go (default: `FILE.failed.csv` beside the input).
    pub failed: Option<PathBuf>,
    /// What a row whose owner is not an active user gets.
    pub unknown_owner: UnknownOwner,
    /// Check every row as an import would (the database's checks
    /// included), write the failed-rows file, and store nothing.
    pub dry_run: bool,
}

impl Options {
    /// The failed-rows file of this import.
    pub fn failed_path(&self) -> PathBuf {
        self.failed
            .clone()
            .unwrap_or_else(|| self.file.with_extension("failed.csv"))
    }
}

/// How many of an import's warnings its [`Summary`] keeps (the first, in
/// line order); the rest are only counted.
pub const WARNINGS_KEPT: usize = 100;

/// How far an import has got, after each batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Data rows read.
    pub rows: usize,
    /// Rows the service wrote or found unchanged.
    pub written: usize,
    /// Rows that failed.
    pub failed: usize,
}

/// The outcome of an import. In a dry run the counts say what the import
/// would have done, and nothing was stored.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Whether this was a dry run (`--dry-run`): nothing was stored.
    pub dry_run: bool,
    /// Data rows read (malformed ones included).
    pub rows: usize,
    /// New records.
    pub created: usize,
    /// Records that changed.
    pub updated: usize,
    /// Records the file did not change.
    pub unchanged: usize,
    /// Rows not imported (malformed ones included).
    pub failed: usize,
    /// Of the failed rows, those that were not well-formed CSV.
    pub malformed: usize,
    /// The first [`WARNINGS_KEPT`] of the service's warnings, by line (a
    /// stage Handoff kept); [`Summary::warning_count`] counts them all, so
    /// a file where every row warns is not held in memory.
    pub warnings: Vec<(u64, String)>,
    /// How many warnings the service gave, kept or not.
    pub warning_count: usize,
    /// Headers no column reads.
    pub ignored_columns: Vec<String>,
    /// Owner cells that named no active user, as written, with how many
    /// rows named each (those rows were imported without an owner, or
    /// given to `--unknown-owner assign:EMAIL`).
    pub unknown_owners: Vec<(String, usize)>,
    /// Cells of imported rows that nothing could take, by reason, with how
    /// many rows (company facts on a lead without an account).
    pub unplaced: Vec<(String, usize)>,
    /// The failed-rows file, when a row failed.
    pub failed_file: Option<PathBuf>,
}

impl Summary {
    /// The process exit code: 0 when every row was imported, 2 when some
    /// failed.
    pub fn exit_code(&self) -> u8 {
        if self.failed == 0 { 0 } else { 2 }
    }
}

/// Imports one file as `viewer`, reporting progress after every batch.
pub async fn run(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: &Options,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> anyhow::Result<Summary> {
    viewer.require(Action::SyncRecords)?;
    match options.object {
        ObjectKind::Leads => run_object::<leads::Leads>(db, viewer, options, progress).await,
        ObjectKind::Accounts => {
            run_object::<accounts::Accounts>(db, viewer, options, progress).await
        }
        ObjectKind::Opportunities => {
            run_object::<opportunities::Opportunities>(db, viewer, options, progress).await
        }
    }
}

/// The user an import acts as: `as_email`, or the first active INTEGRATION
/// user, else the first active ADMIN. Creates nobody.
pub async fn viewer(db: &DatabaseConnection, as_email: Option<&str>) -> anyhow::Result<Viewer> {
    let user = match as_email {
        Some(email) => {
            let user = services::users::find_by_email(db, email)
                .await?
                .with_context(|| format!("no user has the email {email}"))?;
            if !user.active {
                bail!("{email} is not an active user");
            }
            user
        }
        None => match services::users::first_with_role(db, Role::Integration).await? {
            Some(user) => user,
            None => services::users::first_with_role(db, Role::Admin)
                .await?
                .context(
                    "no active INTEGRATION or ADMIN user to import as: create one with \
                     `handoff user create --role INTEGRATION --email EMAIL --name NAME` (or the \
                     createUser mutation as ADMIN)",
                )?,
        },
    };
    let viewer = Viewer {
        user_id: user.id,
        role: user.role,
        team: user.team,
    };
    if !viewer.can(Action::SyncRecords) {
        bail!(
            "{} has role {}; importing needs an INTEGRATION or ADMIN user",
            user.email,
            user.role
        );
    }
    Ok(viewer)
}

/// A converted row waiting for its batch.
struct Pending {
    line: u64,
    fields: Vec<String>,
    history: Vec<&'static str>,
}

/// The state of one import.
struct Import<'a> {
    db: &'a DatabaseConnection,
    viewer: &'a Viewer,
    system: ExternalSystem,
    mode: Mode,
    columns: &'static [Column],
    layout: Layout,
    failed: FailedFile,
    /// Failures of the current batch, written in line order when it ends.
    failures: Vec<(u64, Vec<String>, String)>,
    summary: Summary,
}

async fn run_object<O: Object>(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: &Options,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> anyhow::Result<Summary> {
    let system = options.system.external();
    let users = services::users::active_names(db).await?;
    let mut ctx = Context::new(
        system,
        &options.currency,
        options.offset,
        &options.mapping,
        &users,
        options.unknown_owner.clone(),
    )?;
    let file = &options.file;
    let opened =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (encoding, text) =
        source::open(opened).with_context(|| format!("reading {}", file.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(source::Lines::new(text));
    let headers: Vec<String> = reader
        .byte_headers()
        .with_context(|| format!("reading the header line of {}", file.display()))?
        .iter()
        .map(|h| {
            String::from_utf8(h.to_vec())
                .map(|h| spreadsheet::restore(&h).to_owned())
                .map_err(|_| not_text(encoding))
                .with_context(|| format!("reading the header line of {}", file.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    if headers.iter().all(|h| h.trim().is_empty()) {
        bail!("{} has no header line", file.display());
    }
    let columns = O::columns(system);
    let layout = Layout::new(&headers, columns, &options.mapping)
        .with_context(|| format!("matching the columns of {}", file.display()))?;
    if layout.header("account_name").is_some() {
        ctx.set_accounts(&services::accounts::names(db).await?);
    }
    let mut import = Import {
        db,
        viewer,
        system,
        mode: if options.dry_run {
            Mode::DryRun
        } else {
            Mode::Write
        },
        columns,
        summary: Summary {
            dry_run: options.dry_run,
            ignored_columns: layout.ignored.clone(),
            ..Default::default()
        },
        layout,
        failed: FailedFile::new(options.failed_path(), headers),
        failures: Vec::new(),
    };

    let mut pending: Vec<Pending> = Vec::new();
    let mut records: Vec<O::Record> = Vec::new();
    let mut raw = csv::ByteRecord::new();
    loop {
        let line = match reader.read_byte_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => {
                let at = raw.position().map_or(0, |p| p.byte());
                reader.get_mut().row_line(at)
            }
            Err(e) if e.is_io_error() => {
                return Err(e).with_context(|| format!("reading {}", file.display()));
            }
            Err(e) => {
                // Not reachable with flexible byte records, but a reader
                // error that is not I/O is one bad line, not a bad file.
                let at = e.position().map_or(0, |p| p.byte());
                let line = reader.get_mut().row_line(at);
                import.summary.rows += 1;
                import.malformed(line, &[], format!("cannot read the line: {e}"));
                continue;
            }
        };
        import.summary.rows += 1;
        // A cell this importer's failed-rows file neutralised for
        // spreadsheets (`'=...`) reads as its original value.
        let decoded: Result<Vec<String>, _> = raw
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).map(|f| spreadsheet::restore(&f).to_owned()))
            .collect();
        let Ok(fields) = decoded else {
            let lossy: Vec<String> = raw
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            import.malformed(line, &lossy, not_text(encoding).to_string());
            continue;
        };
        if fields.len() != import.layout.width {
            let message = format!(
                "the line has {} fields, the header {}: check its quotes and commas",
                fields.len(),
                import.layout.width
            );
            import.malformed(line, &fields, message);
            continue;
        }
        let row = Row {
            fields: &fields,
            layout: &import.layout,
            ctx: &ctx,
        };
        match O::convert(&row) {
            Ok(converted) => {
                records.push(converted.record);
                pending.push(Pending {
                    line,
                    fields,
                    history: converted.history,
                });
            }
            Err(mut errors) => {
                import.layout.sort_by_column(&mut errors);
                import.fail(line, &fields, &errors);
            }
        }
        if records.len() == MAX_BATCH {
            import
                .flush::<O>(std::mem::take(&mut records), &mut pending)
                .await?;
            progress(&import.progress());
        }
    }
    import.flush::<O>(records, &mut pending).await?;
    progress(&import.progress());
    let Import {
        mut summary,
        failed,
        ..
    } = import;
    summary.failed_file = failed.finish()?;
    summary.unknown_owners = ctx.unknown_owners();
    summary.unplaced = ctx.unplaced_cells();
    Ok(summary)
}

impl Import<'_> {
    fn progress(&self) -> Progress {
        let s = &self.summary;
        Progress {
            rows: s.rows,
            written: s.created + s.updated + s.unchanged,
            failed: s.failed,
        }
    }

    fn fail(&mut self, line: u64, fields: &[String], errors: &[RowError]) {
        self.summary.failed += 1;
        self.failures
            .push((line, fields.to_vec(), describe_all(errors)));
    }

    fn malformed(&mut self, line: u64, fields: &[String], message: String) {
        self.summary.malformed += 1;
        let error = RowError {
            code: "MALFORMED".into(),
            field: None,
            message,
        };
        self.fail(line, fields, &[error]);
    }

    /// Sends one batch and records each row's result.
    async fn flush<O: Object>(
        &mut self,
        records: Vec<O::Record>,
        pending: &mut Vec<Pending>,
    ) -> anyhow::Result<()> {
        let results = if records.is_empty() {
            Vec::new()
        } else {
            O::upsert(self.db, self.viewer, self.system, records, self.mode).await?
        };
        let rows = std::mem::take(pending);
        for result in results {
            let Some(row) = rows.get(result.index) else {
                bail!(
                    "the sync service returned a result for record {} of a batch of {}",
                    result.index,
                    rows.len()
                );
            };
            for warning in result.warnings {
                self.summary.warning_count += 1;
                if self.summary.warnings.len() < WARNINGS_KEPT {
                    self.summary.warnings.push((row.line, warning));
                }
            }
            match result.outcome {
                Ok(written) => match written.status {
                    Status::Created => self.summary.created += 1,
                    Status::Updated => self.summary.updated += 1,
                    Status::Unchanged | Status::Deleted => self.summary.unchanged += 1,
                },
                Err(errors) => {
                    let mut described: Vec<RowError> = Vec::with_capacity(errors.len());
                    for e in errors {
                        let field = e
                            .field
                            .as_deref()
                            .map(|f| self.column_of(f, &row.history, O::DERIVED));
                        let code = code_name(e.code);
                        // One cell that fills two fields (a deal's Close
                        // Date) is reported once per code.
                        if described.iter().any(|d| d.code == code && d.field == field) {
                            continue;
                        }
                        described.push(RowError {
                            code: code.to_owned(),
                            field,
                            message: e.message,
                        });
                    }
                    self.fail(row.line, &row.fields, &described);
                }
            }
        }
        self.failures.sort_by_key(|(line, _, _)| *line);
        for (line, fields, error) in std::mem::take(&mut self.failures) {
            self.failed.write(line, &fields, &error)?;
        }
        Ok(())
    }

    /// The header of the column behind a service field (`stageHistory.2`,
    /// `annualRevenue.amount`, a field of `derived`), or the field itself.
    fn column_of(
        &self,
        field: &str,
        history: &[&'static str],
        derived: &[(&'static str, &'static str)],
    ) -> String {
        let derived = derived.iter().find(|(f, _)| *f == field).map(|(_, k)| *k);
        let key = match field.strip_prefix("stageHistory.") {
            Some(i) => i
                .parse::<usize>()
                .ok()
                .and_then(|i| history.get(i).copied()),
            None if derived.is_some() => derived,
            None => self
                .columns
                .iter()
                .filter(|c| self.layout.header(c.key).is_some())
                // A reference's column fills its external id
                // (`primaryLeadExternalId` for the service's `primaryLead`).
                .find(|c| c.field == field || c.field.strip_suffix("ExternalId") == Some(field))
                .or_else(|| {
                    self.columns
                        .iter()
                        .filter(|c| self.layout.header(c.key).is_some())
                        .find(|c| field.starts_with(&format!("{}.", c.field)))
                })
                .map(|c| c.key),
        };
        key.and_then(|k| self.layout.header(k))
            .map_or_else(|| field.to_owned(), str::to_owned)
    }
}

/// The stable name of a service error code, as the API spells it.
fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Invalid => "INVALID",
        ErrorCode::Required => "REQUIRED",
        ErrorCode::TooLong => "TOO_LONG",
        ErrorCode::OutOfRange => "OUT_OF_RANGE",
        ErrorCode::NotFound => "NOT_FOUND",
        ErrorCode::Taken => "TAKEN",
        ErrorCode::Duplicate => "DUPLICATE",
        ErrorCode::Conflict => "CONFLICT",
        ErrorCode::InFuture => "IN_FUTURE",
        ErrorCode::OutOfOrder => "OUT_OF_ORDER",
        ErrorCode::UnknownStage => "UNKNOWN_STAGE",
        ErrorCode::Failed => "FAILED",
    }
}

/// The failed-rows file: `line`, `error`, then the row's original fields.
/// It is created at the first failure; an import without failures removes
/// an older one, so the file always describes the last run.
struct FailedFile {
    path: PathBuf,
    headers: Vec<String>,
    writer: Option<csv::Writer<std::fs::File>>,
}

impl FailedFile {
    fn new(path: PathBuf, headers: Vec<String>) -> Self {
        Self {
            path,
            headers,
            writer: None,
        }
    }

    fn write(&mut self, line: u64, fields: &[String], error: &str) -> anyhow::Result<()> {
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                let mut w = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_path(&self.path)
                    .with_context(|| format!("creating {}", self.path.display()))?;
                let mut header = vec!["line".to_owned(), "error".to_owned()];
                header.extend(self.headers.iter().cloned());
                w.write_record(
                    header
                        .iter()
                        .map(|cell| spreadsheet::neutralise(cell).into_owned()),
                )?;
                self.writer.insert(w)
            }
        };
        let mut record = vec![line.to_string(), error.to_owned()];
        record.extend(fields.iter().cloned());
        // Opened in a spreadsheet: no cell may run as a formula. Reading
        // the file back (after a fix) restores the original values.
        let record: Vec<String> = record
            .iter()
            .map(|cell| spreadsheet::neutralise(cell).into_owned())
            .collect();
        writer
            .write_record(&record)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Flushes the file and returns its path, or removes a stale one.
    fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        match self.writer {
            Some(mut w) => {
                w.flush()
                    .with_context(|| format!("writing {}", self.path.display()))?;
                Ok(Some(self.path))
            }
            None => {
                remove_stale(&self.path)?;
                Ok(None)
            }
        }
    }
}

fn remove_stale(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the old {}", path.display())),
    }
}

/// Why a line of a file in `encoding` is not text: bytes that are not
/// UTF-8 (a file saved as Windows-1252 or Latin-1), or UTF-16 that does not
/// decode (the decoder's [`source::MALFORMED_MARK`]).
fn not_text(encoding: Encoding) -> anyhow::Error {
    match encoding {
        Encoding::Utf8 => anyhow::anyhow!(
            "the line is not UTF-8 (is the file Windows-1252 or Latin-1?): export the file as UTF-8"
        ),
        Encoding::Utf16Le | Encoding::Utf16Be => anyhow::anyhow!(
            "the line is not valid {} (an unpaired surrogate or a missing byte): export the file as UTF-8",
            encoding.name()
        ),
    }
}

/// The first of `;`-separated ids (HubSpot's associated company ids).
fn first_id(cell: &str) -> Option<String> {
    cell.split(';')
        .map(str::trim)
        .find(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPORT_DOC: &str = include_str!("../../docs/import.md");

    /// The column and source tables of docs/import.md are generated from
    /// the code.
    #[test]
    fn the_import_doc_lists_every_column_and_source_mapping() {
        for system in [System::Hubspot, System::Salesforce] {
            for object in [
                ObjectKind::Leads,
                ObjectKind::Accounts,
                ObjectKind::Opportunities,
            ] {
                let table = columns::markdown_table(object.columns(system));
                assert!(
                    IMPORT_DOC.contains(&table),
                    "docs/import.md lacks the {system:?} {object:?} table:\n{table}"
                );
            }
        }
        let sources = values::sources_table();
        assert!(
            IMPORT_DOC.contains(&sources),
            "docs/import.md lacks the source table:\n{sources}"
        );
        let seniorities = values::seniorities_table();
        assert!(
            IMPORT_DOC.contains(&seniorities),
            "docs/import.md lacks the seniority table:\n{seniorities}"
        );
        let types = values::types_table();
        assert!(
            IMPORT_DOC.contains(&types),
            "docs/import.md lacks the deal type table:\n{types}"
        );
    }

    #[test]
    fn the_first_of_several_ids_is_taken() {
        assert_eq!(first_id(" ;9001; 9004"), Some("9001".to_owned()));
        assert_eq!(first_id(";"), None);
    }

    #[test]
    fn the_failed_file_sits_beside_the_input() {
        let options = Options {
            system: System::Hubspot,
            object: ObjectKind::Leads,
            file: PathBuf::from("exports/contacts.csv"),
            mapping: Mapping::default(),
            currency: "USD".into(),
            offset: FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()),
            failed: None,
            unknown_owner: Default::default(),
            dry_run: false,
        };
        assert_eq!(
            options.failed_path(),
            PathBuf::from("exports/contacts.failed.csv")
        );
    }
}
