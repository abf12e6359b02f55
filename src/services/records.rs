//! Versioned, soft-deletable records and the one way they are written.
//!
//! Every write happens in one transaction that changes the row, bumps
//! `version`, stamps `updated_at` and appends a [`change_log`] entry naming
//! the operation, the actor and the changed fields. A write that changes
//! nothing writes nothing (no version bump, no log entry), which is what makes
//! replayed sync batches idempotent.

use chrono::{DateTime, Utc};
use entity::{
    change_log,
    enums::{ChangeOperation, ObjectType},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, Iterable, QueryFilter, QuerySelect, Select, Value, sea_query::IntoIden,
};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
};

/// The current time by the server's clock ([`crate::clock::utc_now`]),
/// truncated to microseconds so that it survives a round trip through
/// PostgreSQL unchanged (keyset cursors compare it exactly).
pub fn now() -> DateTime<Utc> {
    let t = crate::clock::utc_now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// An entity whose rows are versioned and soft-deleted.
pub trait Record:
    EntityTrait<
        Model: IntoActiveModel<<Self as EntityTrait>::ActiveModel> + Sync + Send,
        ActiveModel: Send + Sync,
    >
{
    /// Its type in the change log and in global ids.
    const OBJECT: ObjectType;
    /// Human name for messages ("lead").
    const NAME: &'static str;
    /// The `id` column.
    fn id_column() -> Self::Column;
    /// The `version` column.
    fn version_column() -> Self::Column;
    /// The `updated_at` column.
    fn updated_at_column() -> Self::Column;
    /// The `deleted_at` column.
    fn deleted_at_column() -> Self::Column;
    /// A row's id.
    fn id_of(model: &Self::Model) -> Uuid;
    /// A row's version.
    fn version_of(model: &Self::Model) -> i32;

    /// Rows that are not soft-deleted.
    fn live() -> Select<Self> {
        Self::find().filter(Self::deleted_at_column().is_null())
    }
}

/// Implements [`Record`] for entities with the standard columns.
macro_rules! impl_record {
    ($($module:ident => $object:ident, $name:literal;)*) => {$(
        impl Record for entity::$module::Entity {
            const OBJECT: ObjectType = ObjectType::$object;
            const NAME: &'static str = $name;
            fn id_column() -> Self::Column { entity::$module::Column::Id }
            fn version_column() -> Self::Column { entity::$module::Column::Version }
            fn updated_at_column() -> Self::Column { entity::$module::Column::UpdatedAt }
            fn deleted_at_column() -> Self::Column { entity::$module::Column::DeletedAt }
            fn id_of(model: &Self::Model) -> Uuid { model.id }
            fn version_of(model: &Self::Model) -> i32 { model.version }
        }
    )*};
}

impl_record! {
    user => User, "user";
    account => Account, "account";
    lead => Lead, "lead";
    campaign => Campaign, "campaign";
    opportunity => Opportunity, "opportunity";
    competitor => Competitor, "competitor";
    activity => Activity, "activity";
    campaign_spend => CampaignSpend, "campaign spend entry";
    win_loss_feedback => WinLossFeedback, "win/loss feedback";
}

/// Loads a live record by id.
pub async fn find<E>(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<E::Model>>
where
    E: Record,
{
    Ok(E::live().filter(E::id_column().eq(id)).one(db).await?)
}

/// Loads a live record by id inside a write transaction, locking its row on
/// PostgreSQL (SQLite's IMMEDIATE transaction already holds the write lock),
/// or fails with NOT_FOUND.
pub async fn lock<E>(txn: &impl ConnectionTrait, id: Uuid) -> AppResult<E::Model>
where
    E: Record,
{
    E::live()
        .filter(E::id_column().eq(id))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no {} with id {id}", E::NAME)))
}

/// Fails with CONFLICT when the caller expected another version.
pub fn check_version(name: &str, current: i32, expected: Option<i32>) -> AppResult<()> {
    match expected {
        Some(expected) if expected != current => Err(AppError::Conflict(format!(
            "the {name} is at version {current}, not {expected}: reload it and retry"
        ))),
        _ => Ok(()),
    }
}

/// Inserts a new record (its `id`, timestamps and version 1 are set here)
/// and logs it.
pub async fn insert<E>(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    am: E::ActiveModel,
) -> AppResult<E::Model>
where
    E: Record,
{
    insert_by::<E>(txn, Some(viewer.user_id), am).await
}

/// Like [`insert`], by `actor` (`None`: the command line or the system).
pub async fn insert_by<E>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    mut am: E::ActiveModel,
) -> AppResult<E::Model>
where
    E: Record,
{
    insert_at::<E>(txn, actor, &mut am, now()).await?;
    let id = match am.get(E::id_column()) {
        ActiveValue::Set(Value::Uuid(Some(id))) => id,
        _ => return Err(AppError::Internal("insert without id".into())),
    };
    E::find_by_id_uuid(txn, id).await
}

/// Sets the standard columns of a new row and inserts it with its log entry.
/// The caller's `created_at`, when set (imported history), is kept.
pub async fn insert_at<E: Record>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    am: &mut E::ActiveModel,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let (id, fields) = prepare_insert::<E>(am, at);
    E::insert(am.clone()).exec_without_returning(txn).await?;
    log(
        txn,
        actor,
        E::OBJECT,
        id,
        ChangeOperation::Upsert,
        fields,
        at,
    )
    .await
}

/// Sets the standard columns of a new row (a fresh id, version 1,
/// `updated_at` and, unless the caller set it, `created_at` to `at`) and
/// returns its id and the API names of the fields it sets, for the log.
pub fn prepare_insert<E: Record>(
    am: &mut E::ActiveModel,
    at: DateTime<Utc>,
) -> (Uuid, Vec<String>) {
    let id = Uuid::now_v7();
    am.set(E::id_column(), id.into());
    am.set(E::version_column(), 1i32.into());
    am.set(E::updated_at_column(), at.into());
    if let Some(created) = column(E::Column::iter(), "created_at")
        && !am.get(created).is_set()
    {
        am.set(created, at.into());
    }
    (id, set_fields(am))
}

/// Applies `patch` to `current` and, if anything changed, bumps the version,
/// stamps `updated_at`, writes the row and logs the changed fields. Returns
/// the row as it now is and whether it changed.
pub async fn update<E>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    current: E::Model,
    patch: impl FnOnce(&mut E::ActiveModel),
) -> AppResult<(E::Model, bool)>
where
    E: Record,
{
    let id = E::id_of(&current);
    let version = E::version_of(&current);
    let mut am = current.clone().into_active_model();
    patch(&mut am);
    let fields = set_fields(&am);
    if fields.is_empty() {
        return Ok((current, false));
    }
    let at = now();
    am.set(E::version_column(), (version + 1).into());
    am.set(E::updated_at_column(), at.into());
    let model = am.update(txn).await?;
    log(
        txn,
        actor,
        E::OBJECT,
        id,
        ChangeOperation::Upsert,
        fields,
        at,
    )
    .await?;
    Ok((model, true))
}

/// Records a change kept outside the row (its external ids): bumps the
/// version, stamps `updated_at` and logs `fields`, so `expectedVersion` and
/// the change feed see it like any other write.
pub async fn touch<E>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    current: E::Model,
    fields: Vec<String>,
) -> AppResult<E::Model>
where
    E: Record,
{
    let id = E::id_of(&current);
    let version = E::version_of(&current);
    let at = now();
    let mut am = current.into_active_model();
    am.set(E::version_column(), (version + 1).into());
    am.set(E::updated_at_column(), at.into());
    let model = am.update(txn).await?;
    log(
        txn,
        actor,
        E::OBJECT,
        id,
        ChangeOperation::Upsert,
        fields,
        at,
    )
    .await?;
    Ok(model)
}

/// Soft-deletes a record: it disappears from lists and lookups and reaches
/// sync jobs as a tombstone.
pub async fn soft_delete<E>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    current: E::Model,
) -> AppResult<()>
where
    E: Record,
{
    soft_delete_with::<E>(txn, actor, current, |_| {}).await
}

/// Soft-deletes a record and changes other columns in the same write (one
/// version, one tombstone), e.g. a user is also deactivated.
pub async fn soft_delete_with<E>(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    current: E::Model,
    patch: impl FnOnce(&mut E::ActiveModel),
) -> AppResult<()>
where
    E: Record,
{
    let id = E::id_of(&current);
    let version = E::version_of(&current);
    let at = now();
    let mut am = current.into_active_model();
    patch(&mut am);
    am.set(E::deleted_at_column(), Some(at).into());
    am.set(E::version_column(), (version + 1).into());
    am.set(E::updated_at_column(), at.into());
    am.update(txn).await?;
    log(
        txn,
        actor,
        E::OBJECT,
        id,
        ChangeOperation::Delete,
        vec![],
        at,
    )
    .await
}

/// Appends one change-log entry.
pub async fn log(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    object_type: ObjectType,
    object_id: Uuid,
    operation: ChangeOperation,
    fields: Vec<String>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let entry = log_entry(actor, object_type, object_id, operation, fields, at);
    change_log::Entity::insert(entry)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// One change-log entry, not yet written (bulk writers insert many at once).
pub fn log_entry(
    actor: Option<Uuid>,
    object_type: ObjectType,
    object_id: Uuid,
    operation: ChangeOperation,
    fields: Vec<String>,
    at: DateTime<Utc>,
) -> change_log::ActiveModel {
    change_log::ActiveModel {
        object_type: ActiveValue::Set(object_type),
        object_id: ActiveValue::Set(object_id),
        operation: ActiveValue::Set(operation),
        actor_id: ActiveValue::Set(actor),
        changed_fields: ActiveValue::Set(Some(serde_json::Value::from(fields))),
        at: ActiveValue::Set(at),
        ..Default::default()
    }
}

/// The API names (camelCase) of the columns an active model sets, leaving
/// out the bookkeeping columns.
pub fn set_fields<A: ActiveModelTrait>(am: &A) -> Vec<String> {
    <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| am.get(*c).is_set())
        .map(|c| c.into_iden().to_string())
        .filter(|name| {
            !matches!(
                name.as_str(),
                "id" | "version" | "created_at" | "updated_at"
            )
        })
        .map(|name| camel_case(&name))
        .collect()
}

/// The column of `cols` named `name`.
pub fn column<C: sea_orm::sea_query::Iden + Copy>(
    mut cols: impl Iterator<Item = C>,
    name: &str,
) -> Option<C> {
    cols.find(|c| c.to_string() == name)
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// Loading by id with a NOT_FOUND error.
pub trait FindByIdUuid: Record {
    /// Loads a live row or fails with NOT_FOUND.
    fn find_by_id_uuid(
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> impl std::future::Future<Output = AppResult<Self::Model>> + Send {
        async move {
            find::<Self>(db, id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no {} with id {id}", Self::NAME)))
        }
    }
}

impl<E> FindByIdUuid for E where E: Record {}

/// Loads live records by id, in one query (DataLoader batches).
pub async fn find_many<E>(db: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<Vec<E::Model>>
where
    E: Record,
{
    Ok(E::live()
        .filter(E::id_column().is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Deletes one live record by id in its own transaction: locks it, lets
/// `authorize` check the viewer against it (ownership rules), checks the
/// expected version, soft-deletes and logs it.
pub async fn delete_by_id<E: Record>(
    db: &sea_orm::DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    authorize: impl FnOnce(&E::Model) -> AppResult<()>,
) -> AppResult<Uuid> {
    let txn = crate::db::begin_write(db).await?;
    let current = lock::<E>(&txn, id).await?;
    authorize(&current)?;
    check_version(E::NAME, E::version_of(&current), expected_version)?;
    soft_delete::<E>(&txn, Some(viewer.user_id), current).await?;
    txn.commit().await?;
    Ok(id)
}

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

/// Inserts rows in multi-row statements: under the bind limits, and on
/// PostgreSQL under [`PG_STATEMENT_BYTES`] each.
pub async fn insert_rows<T: EntityTrait>(
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

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn column_names_become_api_names() {
        assert_eq!(camel_case("first_name"), "firstName");
        assert_eq!(camel_case("is_target_account"), "isTargetAccount");
        assert_eq!(camel_case("email"), "email");
    }
}
