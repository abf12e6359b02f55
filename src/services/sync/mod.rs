//! Bulk upserts by external id, for sync jobs (DESIGN.md §7).
//!
//! A batch holds up to [`MAX_BATCH`] records of one type, each matched by
//! its id in one external system. Every record gets its own result:
//! CREATED, UPDATED, UNCHANGED, DELETED, or every error found in it, each
//! naming its field ([`RecordErrors`]); one bad record never fails the
//! others.
//!
//! A record's checks run in one order, and a failed check does not stop
//! the others: `expectedVersion`; the record's values, in field order (the
//! field rules of its patch, [`domain::records`](crate::domain::records));
//! its references, in field order; then its source dates and stages
//! (`createdAt`, each stage, each stage date, the stage moves). A check is
//! left out only when it cannot be made: the order of a date and
//! `createdAt` when `createdAt` itself is refused, the moves of a deal one
//! of whose stages is unknown. A record whose `externalId` is blank, too
//! long or repeated gets that error alone: without its key nothing else
//! about it can be checked (whether it is new, to begin with). The batch is written in transactions
//! of [`CHUNK`] records, each with set-based statements (one lookup per
//! kind of reference, one multi-row insert per table), so a crash leaves no
//! half-written record and a replay finds everything in place.
//!
//! When a chunk's transaction fails at the database (a unique index lost a
//! race with another writer, say), the chunk is rolled back and its records
//! are written one by one, so the failure lands on the record that caused
//! it. Replaying a batch writes nothing: every write goes through
//! [`records`](super::records)' rule that a write that changes nothing
//! leaves no version bump and no change-log entry.

pub mod accounts;
pub mod activities;
pub mod campaigns;
pub mod deletes;
pub mod leads;
pub mod opportunities;
mod write;

use std::{collections::HashMap, future::Future};

use chrono::{DateTime, Duration, Utc};
use entity::{
    account, campaign,
    enums::{ExternalSystem, ObjectType},
    lead,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::external_ids::{self, ExternalKey};
use crate::{
    auth::{Action, Viewer},
    domain::{
        records::{Checked, Link},
        validate,
    },
    error::{AppError, AppResult, FieldError, UserErrorCode},
};

/// The most records one batch may hold.
pub const MAX_BATCH: usize = 1_000;

/// Records written per transaction.
pub const CHUNK: usize = 250;

/// Chunks of one batch written at once on PostgreSQL, when they cannot
/// touch the same rows (see [`chunks_at_once`]). A request then keeps up to
/// this many pool connections busy: it uses both cores of a small server
/// even when a sync job sends one batch at a time.
pub const CHUNKS_AT_ONCE: usize = 4;

/// How far ahead of the server's clock a source timestamp may be (clock
/// skew between the CRM, the job and Handoff) before it counts as future.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Whether a batch is written or only checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Each chunk's transaction is committed.
    #[default]
    Write,
    /// Each chunk is written as usual, then its transaction is rolled back:
    /// the results say what a write would do (CREATED, UPDATED, UNCHANGED
    /// or every error), with every check the database makes, and nothing is
    /// stored. References to records of the same dry run are not found, as
    /// nothing before them was stored.
    DryRun,
}

impl Mode {
    /// Ends a chunk's transaction: commits it, or rolls it back in a dry run.
    async fn finish(self, txn: sea_orm::DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
        match self {
            Self::Write => txn.commit().await,
            Self::DryRun => txn.rollback().await,
        }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It was new and is now stored.
    Created,
    /// It existed and changed.
    Updated,
    /// It existed and the batch changed nothing.
    Unchanged,
    /// It was soft-deleted.
    Deleted,
}

/// Why one record was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A value is malformed or not allowed.
    Invalid,
    /// A required value is missing or blank.
    Required,
    /// A text is too long.
    TooLong,
    /// A number or date is outside its range.
    OutOfRange,
    /// A reference names no record.
    NotFound,
    /// Another record already has this unique value.
    Taken,
    /// The batch names this external id more than once.
    Duplicate,
    /// `expectedVersion` is not the record's version.
    Conflict,
    /// A timestamp lies in the future.
    InFuture,
    /// Timestamps contradict each other (closed before created).
    OutOfOrder,
    /// A stage outside the documented mapping.
    UnknownStage,
    /// The database refused the record; the detail is in the server log.
    Failed,
}

impl From<UserErrorCode> for ErrorCode {
    fn from(code: UserErrorCode) -> Self {
        match code {
            UserErrorCode::Invalid => Self::Invalid,
            UserErrorCode::Required => Self::Required,
            UserErrorCode::Taken => Self::Taken,
            UserErrorCode::NotFound => Self::NotFound,
            UserErrorCode::TooLong => Self::TooLong,
            UserErrorCode::OutOfRange => Self::OutOfRange,
        }
    }
}

/// One record's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// The input field at fault (API name), when one is.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RecordError {
    /// An error on `field`.
    pub fn on(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

impl From<FieldError> for RecordError {
    /// A field rule's failure, on the field's name (`amount.currency`).
    fn from(e: FieldError) -> Self {
        Self {
            code: e.code.into(),
            field: e.field.last().cloned(),
            message: e.message,
        }
    }
}

/// Every error of one failed record, in the order its checks run (see the
/// [module](self)); never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordErrors {
    first: RecordError,
    rest: Vec<RecordError>,
}

impl RecordErrors {
    /// `errors` as a record's errors, or `None` when there are none.
    pub fn from_vec(errors: Vec<RecordError>) -> Option<Self> {
        let mut errors = errors.into_iter();
        let first = errors.next()?;
        Some(Self {
            first,
            rest: errors.collect(),
        })
    }

    /// The first error (what a single-error client shows).
    pub fn first(&self) -> &RecordError {
        &self.first
    }

    /// Every error, in order.
    pub fn iter(&self) -> impl Iterator<Item = &RecordError> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Always `false`: a failed record has an error. (For clippy's
    /// `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl From<RecordError> for RecordErrors {
    fn from(first: RecordError) -> Self {
        Self {
            first,
            rest: Vec::new(),
        }
    }
}

impl IntoIterator for RecordErrors {
    type Item = RecordError;
    type IntoIter = std::iter::Chain<std::iter::Once<RecordError>, std::vec::IntoIter<RecordError>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.rest)
    }
}

/// The errors found so far in one record, while its checks run.
#[derive(Debug, Default)]
struct Found(Vec<RecordError>);

impl Found {
    /// Notes an error.
    fn add(&mut self, error: RecordError) {
        self.0.push(error);
    }

    /// The value of a check that passed; notes the error of one that failed.
    fn check<T>(&mut self, result: Result<T, RecordError>) -> Option<T> {
        result.map_err(|e| self.add(e)).ok()
    }

    /// Notes every failure of a field rule check.
    fn fields(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors.into_iter().map(RecordError::from));
    }

    /// Notes every error of `errors`.
    fn extend(&mut self, errors: impl IntoIterator<Item = RecordError>) {
        self.0.extend(errors);
    }

    /// Whether every check so far passed.
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when every check passed, else the errors.
    fn finish<T>(self, value: T) -> Result<T, RecordErrors> {
        match RecordErrors::from_vec(self.0) {
            None => Ok(value),
            Some(errors) => Err(errors),
        }
    }
}

/// What a stored record now is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Created, updated, unchanged or deleted.
    pub status: Status,
    /// Its Handoff id.
    pub id: Uuid,
    /// Its version after the batch.
    pub version: i32,
}

/// The result of one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// Its position in the batch (0-based).
    pub index: usize,
    /// Its external id.
    pub external_id: String,
    /// What happened, or every reason why nothing did.
    pub outcome: Result<Written, RecordErrors>,
    /// What was written differently from what was sent, and why (a stage
    /// Handoff kept).
    pub warnings: Vec<String>,
}

/// Counts of a batch's results, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// CREATED results.
    pub created: usize,
    /// UPDATED results.
    pub updated: usize,
    /// UNCHANGED results.
    pub unchanged: usize,
    /// DELETED results.
    pub deleted: usize,
    /// Errors.
    pub failed: usize,
}

impl Tally {
    /// Counts `results`.
    pub fn of(results: &[RecordResult]) -> Self {
        let mut t = Self::default();
        for r in results {
            match &r.outcome {
                Ok(w) => match w.status {
                    Status::Created => t.created += 1,
                    Status::Updated => t.updated += 1,
                    Status::Unchanged => t.unchanged += 1,
                    Status::Deleted => t.deleted += 1,
                },
                Err(_) => t.failed += 1,
            }
        }
        t
    }

    /// Adds another tally.
    pub fn add(&mut self, other: Tally) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
        self.failed += other.failed;
    }
}

/// A reference from a synced record to another record: by Handoff id, by
/// external id in the batch's system, or (users only) by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// A Handoff id.
    Id(Uuid),
    /// An id in the batch's system.
    External(String),
    /// A user's email (owners).
    Email(String),
}

/// Checks the batch size and the caller's right to sync.
fn admit(viewer: &Viewer, len: usize) -> AppResult<()> {
    viewer.require(Action::SyncRecords)?;
    if len > MAX_BATCH {
        return Err(AppError::BadUserInput(format!(
            "a batch holds at most {MAX_BATCH} records; this one has {len}: split it"
        )));
    }
    Ok(())
}

/// The records of a batch still to write, with their index, after blank and
/// repeated external ids got their errors.
fn admit_keys<T>(
    inputs: Vec<T>,
    key: impl Fn(&T) -> &str,
    results: &mut [Option<RecordResult>],
) -> Vec<(usize, T)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let id = key(&input).trim().to_owned();
        let error = if id.is_empty() {
            Some(RecordError::on(
                "externalId",
                ErrorCode::Required,
                "`externalId` must not be blank",
            ))
        } else if id.chars().count() > external_ids::MAX_LEN {
            Some(RecordError::on(
                "externalId",
                ErrorCode::TooLong,
                format!(
                    "`externalId` is longer than {} characters",
                    external_ids::MAX_LEN
                ),
            ))
        } else if let Some(first) = seen.get(&id) {
            Some(RecordError::on(
                "externalId",
                ErrorCode::Duplicate,
                format!(
                    "record {first} of this batch has the same externalId; send each record once"
                ),
            ))
        } else {
            seen.insert(id.clone(), index);
            None
        };
        match error {
            Some(error) => results[index] = Some(failure(index, id, error)),
            None => out.push((index, input)),
        }
    }
    out
}

/// A batch record: it names its external id.
trait Keyed {
    fn external_id(&self) -> &str;
}

macro_rules! keyed {
    ($($t:ty),*) => {$(
        impl Keyed for $t {
            fn external_id(&self) -> &str {
                &self.external_id
            }
        }
    )*};
}

keyed!(
    accounts::AccountUpsert,
    activities::ActivityUpsert,
    campaigns::CampaignUpsert,
    deletes::DeleteByExternalId,
    leads::LeadUpsert,
    opportunities::OpportunityUpsert
);

/// Writes one batch: checks the caller and the size, gives blank and
/// repeated external ids their errors, writes the rest chunk by chunk with
/// `write_chunk` and answers in batch order.
async fn batch<T, F, Fut>(
    viewer: &Viewer,
    inputs: Vec<T>,
    at_once: usize,
    write_chunk: F,
) -> AppResult<Vec<RecordResult>>
where
    T: Keyed + Clone,
    F: FnMut(Vec<(usize, T)>) -> Fut,
    Fut: Future<Output = AppResult<Vec<RecordResult>>>,
{
    admit(viewer, inputs.len())?;
    let mut results = vec![None; inputs.len()];
    let items = admit_keys(inputs, T::external_id, &mut results);
    run_chunks(items, T::external_id, &mut results, at_once, write_chunk).await?;
    finish(results)
}

/// How many chunks of a batch whose chunks cannot touch the same rows may
/// be written at once, each in its own transaction on its own connection:
/// [`CHUNKS_AT_ONCE`] on PostgreSQL. SQLite has one writer, so its chunks
/// always go one after another. (A batch whose chunks can share rows
/// passes 1 to [`batch`].) Chunks waiting for a pool connection queue in
/// order, within the pool's acquire timeout.
fn chunks_at_once(db: &impl ConnectionTrait) -> usize {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => CHUNKS_AT_ONCE,
        _ => 1,
    }
}

/// Checks a source timestamp of a record created at `created_at`: not in
/// the future, not before the record existed. `created_at` is `None` when
/// the record's own `createdAt` was refused: then the order cannot be
/// checked. Either failure is noted in `found`.
fn check_time(
    found: &mut Found,
    what: &str,
    field: &str,
    at: DateTime<Utc>,
    created_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if let Err(e) = not_future(field, Some(at), now) {
        found.add(e);
    } else if let Some(created_at) = created_at
        && at < created_at
    {
        found.add(RecordError::on(
            field,
            ErrorCode::OutOfOrder,
            format!("`{field}` ({at}) is before the {what} was created ({created_at})"),
        ));
    }
}

/// A failed record's result.
fn failure(index: usize, external_id: String, errors: impl Into<RecordErrors>) -> RecordResult {
    RecordResult {
        index,
        external_id,
        outcome: Err(errors.into()),
        warnings: Vec::new(),
    }
}

/// Writes `items` in chunks of [`CHUNK`] with `write_chunk` (which opens,
/// fills and commits one transaction), up to `at_once` chunks at a time,
/// falling back to one record per transaction when a chunk fails at the
/// database, and fills `results`.
async fn run_chunks<T, F, Fut>(
    items: Vec<(usize, T)>,
    key: impl Fn(&T) -> &str,
    results: &mut [Option<RecordResult>],
    at_once: usize,
    mut write_chunk: F,
) -> AppResult<()>
where
    T: Clone,
    F: FnMut(Vec<(usize, T)>) -> Fut,
    Fut: Future<Output = AppResult<Vec<RecordResult>>>,
{
    use futures_util::{StreamExt, stream};

    let mut items = items.into_iter().peekable();
    let mut chunks = Vec::new();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(CHUNK).collect::<Vec<_>>());
    }
    let written: Vec<_> = stream::iter(chunks)
        .map(|chunk| {
            let write = write_chunk(chunk.clone());
            async move { (chunk, write.await) }
        })
        .buffered(at_once.max(1))
        .collect()
        .await;
    for (chunk, outcome) in written {
        match outcome {
            Ok(done) => place(results, done),
            Err(AppError::Db(e)) => {
                tracing::warn!(error = %e, records = chunk.len(), "sync chunk failed; writing its records one by one");
                for one in chunk {
                    let (index, external_id) = (one.0, key(&one.1).trim().to_owned());
                    match write_chunk(vec![one]).await {
                        Ok(done) => place(results, done),
                        Err(AppError::Db(e)) => {
                            results[index] = Some(failure(index, external_id, refused(index, &e)));
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// The error of a record the database refused on its own: TAKEN when a
/// unique index lost a race with another writer, FAILED (logged) otherwise.
fn refused(index: usize, e: &sea_orm::DbErr) -> RecordError {
    if matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    ) {
        RecordError::on(
            "externalId",
            ErrorCode::Taken,
            "another writer stored a record with the same unique value at the same time; retry the record",
        )
    } else {
        tracing::error!(error = %e, index, "sync record failed");
        RecordError::on(
            "",
            ErrorCode::Failed,
            "the database refused this record; see the server log",
        )
    }
}

fn place(results: &mut [Option<RecordResult>], done: Vec<RecordResult>) {
    for r in done {
        let index = r.index;
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(r);
        }
    }
}

/// The filled results, in batch order.
fn finish(results: Vec<Option<RecordResult>>) -> AppResult<Vec<RecordResult>> {
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.ok_or_else(|| AppError::Internal(format!("sync record {i} has no result"))))
        .collect()
}

/// Refuses a source timestamp in the future, or outside the years 1900 to
/// 9999 (the GraphQL scalar refuses those already; the CSV import's dates
/// come here too).
fn not_future(
    field: &str,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), RecordError> {
    match at {
        Some(at) if !validate::instant_in_range(at) => Err(RecordError::on(
            field,
            ErrorCode::OutOfRange,
            format!("`{field}` ({at}) is outside {}", validate::DATE_RANGE),
        )),
        Some(at) if at > now + CLOCK_SKEW => Err(RecordError::on(
            field,
            ErrorCode::InFuture,
            format!("`{field}` ({at}) is in the future"),
        )),
        _ => Ok(()),
    }
}

/// References of one kind, resolved for a chunk: external ids in the batch's
/// system, Handoff ids checked to exist, emails (users).
#[derive(Debug, Default)]
struct Resolved {
    external: HashMap<String, Uuid>,
    ids: std::collections::HashSet<Uuid>,
    emails: HashMap<String, Uuid>,
    /// Owners only: the users found who may not own records, and why.
    refused: HashMap<Uuid, String>,
}

impl Resolved {
    /// Resolves every reference in `refs` to live `E` records.
    async fn load<E: super::records::Record>(
        db: &impl ConnectionTrait,
        system: ExternalSystem,
        refs: impl Iterator<Item = Ref>,
    ) -> AppResult<Self> {
        let mut external = Vec::new();
        let mut ids = Vec::new();
        let mut emails = Vec::new();
        for r in refs {
            match r {
                Ref::Id(id) => ids.push(id),
                Ref::External(id) => external.push(ExternalKey::new(system, id)),
                Ref::Email(email) => emails.push(email.trim().to_lowercase()),
            }
        }
        let mut out = Self::default();
        if !external.is_empty() {
            let found = external_ids::resolve(db, E::OBJECT, &external).await?;
            ids.extend(found.values().copied());
            let live = live_ids::<E>(db, &ids).await?;
            for (key, id) in found {
                if live.contains(&id) {
                    out.external.insert(key.id, id);
                }
            }
            out.ids = live;
        } else if !ids.is_empty() {
            out.ids = live_ids::<E>(db, &ids).await?;
        }
        if !emails.is_empty() && E::OBJECT == ObjectType::User {
            let users = entity::user::Entity::find()
                .filter(entity::user::Column::Email.is_in(emails))
                .filter(entity::user::Column::DeletedAt.is_null())
                .all(db)
                .await?;
            out.emails = users.into_iter().map(|u| (u.email, u.id)).collect();
        }
        Ok(out)
    }

    /// Resolves owner references (users) like [`load`](Self::load), and
    /// notes the users found who may not own records
    /// ([`users::owner_refusal`](super::users::owner_refusal)).
    async fn load_owners(
        db: &impl ConnectionTrait,
        system: ExternalSystem,
        refs: impl Iterator<Item = Ref>,
    ) -> AppResult<Self> {
        let mut out = Self::load::<entity::user::Entity>(db, system, refs).await?;
        let found: std::collections::HashSet<Uuid> = out
            .ids
            .iter()
            .chain(out.external.values())
            .chain(out.emails.values())
            .copied()
            .collect();
        let found: Vec<Uuid> = found.into_iter().collect();
        for chunk in found.chunks(1_000) {
            for user in super::records::find_many::<entity::user::Entity>(db, chunk).await? {
                if let Some(why) = super::users::owner_refusal(&user) {
                    out.refused.insert(user.id, why);
                }
            }
        }
        Ok(out)
    }

    /// The record `r` names, or the error for `field`.
    fn get(&self, r: &Ref, field: &str, what: &str) -> Result<Uuid, RecordError> {
        let found = match r {
            Ref::Id(id) => self.ids.contains(id).then_some(*id),
            Ref::External(id) => self.external.get(id.trim()).copied(),
            Ref::Email(email) => self.emails.get(&email.trim().to_lowercase()).copied(),
        };
        if let Some(why) = found.and_then(|id| self.refused.get(&id)) {
            return Err(RecordError::on(
                field,
                ErrorCode::Invalid,
                format!("`{field}`: {why}"),
            ));
        }
        found.ok_or_else(|| {
            let named = match r {
                Ref::Id(id) => format!("id {id}"),
                Ref::External(id) => format!("external id {id:?}"),
                Ref::Email(email) => format!("email {email:?}"),
            };
            RecordError::on(
                field,
                ErrorCode::NotFound,
                format!("`{field}` names no {what} ({named}); sync it first"),
            )
        })
    }

    /// Resolves an optional reference (`Some(None)` clears it).
    fn get_opt(
        &self,
        r: &Option<Option<Ref>>,
        field: &str,
        what: &str,
    ) -> Result<Option<Option<Uuid>>, RecordError> {
        match r {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(r)) => self.get(r, field, what).map(|id| Some(Some(id))),
        }
    }
}

/// The references of a chunk's records, resolved by kind (the kinds its
/// record type does not link stay empty).
#[derive(Debug, Default)]
struct Links {
    accounts: Resolved,
    campaigns: Resolved,
    leads: Resolved,
    owners: Resolved,
}

impl Links {
    /// Resolves the references of a chunk's records: one lookup per kind
    /// named (none for a kind nothing names).
    async fn load<'a>(
        txn: &impl ConnectionTrait,
        system: ExternalSystem,
        refs: impl Iterator<Item = (Link, &'a Ref)>,
    ) -> AppResult<Self> {
        let (mut accounts, mut campaigns, mut leads, mut owners) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (link, r) in refs {
            let kind = match link {
                Link::Account => &mut accounts,
                Link::Campaign => &mut campaigns,
                Link::Lead => &mut leads,
                Link::Owner => &mut owners,
            };
            kind.push(r.clone());
        }
        Ok(Self {
            accounts: Resolved::load::<account::Entity>(txn, system, accounts.into_iter()).await?,
            campaigns: Resolved::load::<campaign::Entity>(txn, system, campaigns.into_iter())
                .await?,
            leads: Resolved::load::<lead::Entity>(txn, system, leads.into_iter()).await?,
            owners: Resolved::load_owners(txn, system, owners.into_iter()).await?,
        })
    }

    /// The record `r` names as `link`, or the error on its sync field
    /// (`owner`).
    fn resolve(&self, link: Link, r: &Ref) -> Result<Uuid, RecordError> {
        let resolved = match link {
            Link::Account => &self.accounts,
            Link::Campaign => &self.campaigns,
            Link::Lead => &self.leads,
            Link::Owner => &self.owners,
        };
        resolved.get(r, link.sync_field(), link.noun())
    }
}

/// A validated patch with its references resolved: the failures of its
/// field rules, then those of its references, are noted in `found` (a
/// reference that failed is left out of the patch).
fn checked<P, Q>(
    found: &mut Found,
    checked: Checked<P>,
    resolve: impl FnOnce(P) -> (Q, Vec<RecordError>),
) -> Q {
    let Checked { patch, errors } = checked;
    found.fields(errors.into_vec());
    let (patch, unresolved) = resolve(patch);
    found.extend(unresolved);
    patch
}

/// The live ones among `ids`.
async fn live_ids<E: super::records::Record>(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<std::collections::HashSet<Uuid>> {
    let mut live = std::collections::HashSet::new();
    for chunk in ids.chunks(1_000) {
        let rows = super::records::find_many::<E>(db, chunk).await?;
        live.extend(rows.iter().map(E::id_of));
    }
    Ok(live)
}

/// The records of a chunk's keys: key to id, and id to the row (deleted rows
/// included, so an upsert can restore them), locked for the chunk's
/// transaction.
async fn current_of<E: super::records::Record>(
    txn: &impl ConnectionTrait,
    keys: &[ExternalKey],
) -> AppResult<(HashMap<ExternalKey, Uuid>, HashMap<Uuid, E::Model>)> {
    use sea_orm::QuerySelect;
    let known = external_ids::resolve(txn, E::OBJECT, keys).await?;
    let rows = E::find()
        .filter(E::id_column().is_in(known.values().copied()))
        .lock_exclusive()
        .all(txn)
        .await?
        .into_iter()
        .map(|m| (E::id_of(&m), m))
        .collect();
    Ok((known, rows))
}

/// Refuses a stale `expectedVersion`, or one given for a record that does
/// not exist yet.
fn check_expected(
    name: &str,
    current: Option<i32>,
    expected: Option<i32>,
) -> Result<(), RecordError> {
    match (current, expected) {
        (Some(version), Some(expected)) if version != expected => Err(RecordError::on(
            "expectedVersion",
            ErrorCode::Conflict,
            format!("the {name} is at version {version}, not {expected}: fetch it and merge"),
        )),
        (None, Some(_)) => Err(RecordError::on(
            "expectedVersion",
            ErrorCode::Conflict,
            format!("no {name} has this external id yet: leave expectedVersion out to create it"),
        )),
        _ => Ok(()),
    }
}

/// The result of an update that changed something (`Some(new version)`) or
/// nothing.
fn updated(id: Uuid, version: i32, changed: Option<i32>) -> Written {
    match changed {
        Some(version) => Written {
            status: Status::Updated,
            id,
            version,
        },
        None => Written {
            status: Status::Unchanged,
            id,
            version,
        },
    }
}

/// A successful record's result.
fn success(
    index: usize,
    external_id: String,
    written: Written,
    warnings: Vec<String>,
) -> RecordResult {
    RecordResult {
        index,
        external_id,
        outcome: Ok(written),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate::Errors;

    fn error(field: &str) -> RecordError {
        RecordError::on(field, ErrorCode::Invalid, format!("bad {field}"))
    }

    #[test]
    fn a_record_keeps_every_error_in_the_order_found_and_error_is_the_first() {
        assert_eq!(RecordErrors::from_vec(Vec::new()), None);
        let errors =
            RecordErrors::from_vec(vec![error("a"), error("b"), error("c")]).expect("three errors");
        assert_eq!(errors.len(), 3);
        assert_eq!(errors.first(), &error("a"));
        let fields: Vec<_> = errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(fields, ["a", "b", "c"]);
        assert_eq!(errors.into_iter().last(), Some(error("c")));
        assert_eq!(RecordErrors::from(error("x")).len(), 1);
    }

    #[test]
    fn checks_keep_going_after_a_failure_and_field_rules_keep_their_codes() {
        let mut found = Found::default();
        assert_eq!(found.check(Ok::<_, RecordError>(1)), Some(1));
        assert_eq!(found.check(Err::<i32, _>(error("expectedVersion"))), None);
        let mut rules = Errors::new();
        rules.required_text("name", " ", 10);
        rules.amount("amount.amount", rust_decimal::Decimal::new(-1, 0));
        found.fields(rules.into_vec());
        found.add(error("owner"));
        let errors = found.finish(()).expect_err("four errors");
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.code, e.field.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                (ErrorCode::Invalid, "expectedVersion".to_owned()),
                (ErrorCode::Required, "name".to_owned()),
                (ErrorCode::OutOfRange, "amount.amount".to_owned()),
                (ErrorCode::Invalid, "owner".to_owned()),
            ]
        );
        assert_eq!(Found::default().finish("written"), Ok("written"));
    }

    #[test]
    fn a_date_is_ordered_against_creation_only_when_creation_is_known() {
        let day = |d: u32| {
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 6, d, 0, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let codes = |created: Option<DateTime<Utc>>, at: DateTime<Utc>| {
            let mut found = Found::default();
            check_time(&mut found, "deal", "closedAt", at, created, day(20));
            found.0.into_iter().map(|e| e.code).collect::<Vec<_>>()
        };
        assert_eq!(codes(Some(day(5)), day(4)), [ErrorCode::OutOfOrder]);
        assert!(codes(None, day(4)).is_empty());
        assert_eq!(codes(None, day(25)), [ErrorCode::InFuture]);
        assert!(codes(Some(day(5)), day(6)).is_empty());
    }
}
