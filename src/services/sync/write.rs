//! The set-based writes of one sync chunk: rows to insert, rows to update,
//! change-log entries, stage changes and external ids, flushed together in
//! the chunk's transaction.

use chrono::{DateTime, Utc};
use entity::{change_log, enums::ChangeOperation, external_id, stage_change};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    Iterable,
};
use uuid::Uuid;

use crate::{
    error::AppResult,
    services::{
        external_ids::{self, ExternalKey},
        records::{self, Record},
    },
};

/// Bind parameters per multi-row insert: under SQLite's 32,766 and
/// PostgreSQL's 65,535.
const BINDS_PER_STATEMENT: usize = 30_000;

/// The largest insert sent to PostgreSQL, SQL text and values together,
/// estimated. It was set when sqlx 0.9.0 did not set `TCP_NODELAY` (sqlx
/// issue #4335) and a bigger message waited ~40 ms for the server's delayed
/// ACK. sqlx 0.9.1 sets it again; measured then with
/// `benches/sync_upsert.rs`, statements bounded only by the bind limit were
/// no faster (4,268 against 4,500 records/s for the first load), so the
/// cap stays.
const PG_STATEMENT_BYTES: usize = 16 * 1024;

/// What one chunk writes, by table.
pub(super) struct Writes<E: Record> {
    actor: Option<Uuid>,
    at: DateTime<Utc>,
    inserts: Vec<E::ActiveModel>,
    log: Vec<change_log::ActiveModel>,
    stage_changes: Vec<stage_change::ActiveModel>,
    external_ids: Vec<(ExternalKey, Uuid)>,
}

impl<E: Record> Writes<E> {
    /// Nothing yet; every entry is stamped `at` and names `actor`.
    pub(super) fn new(actor: Option<Uuid>, at: DateTime<Utc>) -> Self {
        Self {
            actor,
            at,
            inserts: Vec::new(),
            log: Vec::new(),
            stage_changes: Vec::new(),
            external_ids: Vec::new(),
        }
    }

    /// Queues a new record carrying `key`: sets its id, version 1,
    /// `updated_at` and (unless the source gave one) `created_at`. Returns
    /// its id.
    pub(super) fn insert(&mut self, mut am: E::ActiveModel, key: ExternalKey) -> Uuid {
        let (id, fields) = records::prepare_insert::<E>(&mut am, self.at);
        self.log.push(records::log_entry(
            self.actor,
            E::OBJECT,
            id,
            ChangeOperation::Upsert,
            fields,
            self.at,
        ));
        self.inserts.push(am);
        self.external_ids.push((key, id));
        id
    }

    /// Writes the changes `patch` makes to `current` now (updates go one
    /// statement per row), bumping the version and logging the changed
    /// fields. Returns the new version, or `None` when nothing changed.
    pub(super) async fn update(
        &mut self,
        txn: &impl ConnectionTrait,
        current: E::Model,
        patch: impl FnOnce(&mut E::ActiveModel),
    ) -> AppResult<Option<i32>> {
        let id = E::id_of(&current);
        let version = E::version_of(&current) + 1;
        let mut am = current.into_active_model();
        patch(&mut am);
        let fields = records::set_fields(&am);
        if fields.is_empty() {
            return Ok(None);
        }
        am.set(E::version_column(), version.into());
        am.set(E::updated_at_column(), self.at.into());
        E::update(am).exec(txn).await?;
        self.log.push(records::log_entry(
            self.actor,
            E::OBJECT,
            id,
            ChangeOperation::Upsert,
            fields,
            self.at,
        ));
        Ok(Some(version))
    }

    /// Queues a stage change (a sync's stage moves carry the source's date).
    pub(super) fn stage_change(&mut self, row: stage_change::ActiveModel) {
        self.stage_changes.push(row);
    }

    /// Inserts everything queued.
    pub(super) async fn flush(self, txn: &impl ConnectionTrait) -> AppResult<()> {
        insert_rows::<E>(txn, self.inserts).await?;
        insert_rows::<stage_change::Entity>(txn, self.stage_changes).await?;
        let ids = external_ids::rows(E::OBJECT, self.external_ids, self.at);
        insert_rows::<external_id::Entity>(txn, ids).await?;
        insert_rows::<change_log::Entity>(txn, self.log).await
    }
}

/// Inserts rows in multi-row statements: under the bind limits, and on
/// PostgreSQL under [`PG_STATEMENT_BYTES`] each.
pub(super) async fn insert_rows<T: EntityTrait>(
    txn: &impl ConnectionTrait,
    rows: Vec<T::ActiveModel>,
) -> AppResult<()>
where
    T::ActiveModel: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    let columns = T::Column::iter().count().max(1);
    let mut per_statement = (BINDS_PER_STATEMENT / columns).max(1);
    if txn.get_database_backend() == DbBackend::Postgres {
        // The same number of rows in every statement but the last, so each
        // statement is prepared once per connection.
        let widest = rows.iter().map(row_bytes::<T>).max().unwrap_or(1);
        per_statement = per_statement.min((PG_STATEMENT_BYTES / widest.max(1)).max(1));
    }
    for chunk in rows.chunks(per_statement) {
        T::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A row's estimated share of an insert message: each column's value, its
/// length word and its placeholder in the SQL text.
fn row_bytes<T: EntityTrait>(row: &T::ActiveModel) -> usize
where
    T::ActiveModel: ActiveModelTrait,
{
    use sea_orm::Value;
    T::Column::iter()
        .map(|c| {
            let value = match row.get(c).into_value() {
                Some(Value::String(Some(s))) => s.len(),
                Some(Value::Bytes(Some(b))) => b.len(),
                Some(Value::Json(Some(j))) => j.to_string().len(),
                _ => 16,
            };
            value + 12
        })
        .sum()
}

/// A stage change row.
pub(super) fn stage_change_row(
    subject: entity::enums::StageSubject,
    subject_id: Uuid,
    from: Option<&str>,
    to: &str,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
) -> stage_change::ActiveModel {
    stage_change::ActiveModel {
        id: ActiveValue::Set(Uuid::now_v7()),
        created_at: ActiveValue::Set(at),
        updated_at: ActiveValue::Set(at),
        subject_type: ActiveValue::Set(subject),
        subject_id: ActiveValue::Set(subject_id),
        from_stage: ActiveValue::Set(from.map(str::to_owned)),
        to_stage: ActiveValue::Set(to.to_owned()),
        at: ActiveValue::Set(at),
        actor_id: ActiveValue::Set(actor),
        reason: ActiveValue::Set(None),
    }
}
