//! Ids that records carry in external systems (HubSpot, Salesforce, other).
//!
//! A record may carry several ids, in one system or several (a CRM that
//! merged two contacts keeps both ids); `(system, object_type, external_id)`
//! names one record. The bulk upserts match by these, the lists filter on
//! them (`EXISTS` / `NOT EXISTS`), readers look records up by them, and
//! ADMIN or INTEGRATION attach and detach them by hand ([`attach`],
//! [`detach`]), each such change a versioned write in the change log.

use std::collections::HashMap;

use entity::{
    enums::{ExternalSystem, ObjectType},
    external_id,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, ModelTrait,
    QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::records::{self, Record};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::validate::Errors,
    error::{AppError, AppResult, UserErrorCode},
};

/// Longest external id accepted (the column's width).
pub const MAX_LEN: usize = 255;

/// A record's id in an external system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalKey {
    /// The system that issued the id.
    pub system: ExternalSystem,
    /// The id as that system spells it (compared exactly).
    pub id: String,
}

impl ExternalKey {
    /// A key in `system`.
    pub fn new(system: ExternalSystem, id: impl Into<String>) -> Self {
        Self {
            system,
            id: id.into(),
        }
    }
}

impl std::fmt::Display for ExternalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} id {:?}", self.system, self.id)
    }
}

/// The most ids bound in one `IN (...)` list, well under SQLite's 32,766
/// and PostgreSQL's 65,535 bind parameters.
const LOOKUP_CHUNK: usize = 1_000;

/// The Handoff ids of the `object_type` records that carry these external
/// ids (deleted records included: an id stays taken), by key. Keys that name
/// nothing are absent from the map.
pub async fn resolve(
    db: &impl ConnectionTrait,
    object_type: ObjectType,
    keys: &[ExternalKey],
) -> AppResult<HashMap<ExternalKey, Uuid>> {
    let mut by_system: HashMap<ExternalSystem, Vec<&str>> = HashMap::new();
    for key in keys {
        by_system.entry(key.system).or_default().push(&key.id);
    }
    let mut found = HashMap::with_capacity(keys.len());
    for (system, ids) in by_system {
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let rows = external_id::Entity::find()
                .filter(external_id::Column::System.eq(system))
                .filter(external_id::Column::ObjectType.eq(object_type))
                .filter(external_id::Column::ExternalId.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            for row in rows {
                found.insert(ExternalKey::new(row.system, row.external_id), row.object_id);
            }
        }
    }
    Ok(found)
}

/// The external ids of these records, by record id, each list ordered by
/// system and id.
pub async fn of_records(
    db: &impl ConnectionTrait,
    object_type: ObjectType,
    object_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<ExternalKey>>> {
    let mut out: HashMap<Uuid, Vec<ExternalKey>> = HashMap::new();
    for chunk in object_ids.chunks(LOOKUP_CHUNK) {
        let rows = external_id::Entity::find()
            .filter(external_id::Column::ObjectType.eq(object_type))
            .filter(external_id::Column::ObjectId.is_in(chunk.iter().copied()))
            .order_by_asc(external_id::Column::System)
            .order_by_asc(external_id::Column::ExternalId)
            .all(db)
            .await?;
        for row in rows {
            out.entry(row.object_id)
                .or_default()
                .push(ExternalKey::new(row.system, row.external_id));
        }
    }
    Ok(out)
}

/// Rows per multi-row insert: 7 columns each, far under the bind limits.
const INSERT_CHUNK: usize = 500;

/// The rows that attach `pairs` of external ids to records, stamped `at`.
pub fn rows(
    object_type: ObjectType,
    pairs: impl IntoIterator<Item = (ExternalKey, Uuid)>,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<external_id::ActiveModel> {
    pairs
        .into_iter()
        .map(|(key, object_id)| external_id::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(at),
            updated_at: Set(at),
            system: Set(key.system),
            object_type: Set(object_type),
            external_id: Set(key.id),
            object_id: Set(object_id),
        })
        .collect()
}

/// Attaches external ids to records, in as few statements as the bind
/// limits allow. The caller has checked that no key is taken.
pub async fn attach_many(
    txn: &impl ConnectionTrait,
    object_type: ObjectType,
    pairs: impl IntoIterator<Item = (ExternalKey, Uuid)>,
) -> AppResult<()> {
    let rows = rows(object_type, pairs, records::now());
    for chunk in rows.chunks(INSERT_CHUNK) {
        external_id::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The kinds of record that carry external ids.
pub const CARRIERS: [ObjectType; 6] = [
    ObjectType::Account,
    ObjectType::Lead,
    ObjectType::Campaign,
    ObjectType::Opportunity,
    ObjectType::Activity,
    ObjectType::User,
];

/// Fails with BAD_USER_INPUT unless records of `object_type` carry
/// external ids.
pub fn check_carrier(object_type: ObjectType) -> AppResult<()> {
    if CARRIERS.contains(&object_type) {
        Ok(())
    } else {
        Err(AppError::BadUserInput(format!(
            "records of type {object_type} carry no external ids; use one of {}",
            CARRIERS.map(|t| t.as_str()).join(", ")
        )))
    }
}

/// The "has / lacks an id in a system" conditions of a list filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    /// Only records with at least one id in this system.
    pub has_in: Option<ExternalSystem>,
    /// Only records with no id in this system.
    pub lacks_in: Option<ExternalSystem>,
}

impl Presence {
    /// Adds the conditions to `cond` as `EXISTS` / `NOT EXISTS` over
    /// `external_ids`, correlated with `E`'s id (served by the index on
    /// `(object_type, object_id)`).
    pub fn apply<E: Record>(&self, mut cond: Condition) -> Condition {
        if let Some(system) = self.has_in {
            cond = cond.add(Expr::exists(carried_in::<E>(system)));
        }
        if let Some(system) = self.lacks_in {
            cond = cond.add(Expr::not_exists(carried_in::<E>(system)));
        }
        cond
    }
}

/// `SELECT 1 FROM external_ids WHERE` it names the outer `E` row in `system`.
fn carried_in<E: Record>(system: ExternalSystem) -> SelectStatement {
    use external_id::Column as X;
    Query::select()
        .expr(Expr::val(1))
        .from(external_id::Entity)
        .and_where(Expr::col((external_id::Entity, X::ObjectType)).eq(E::OBJECT.as_str()))
        .and_where(
            Expr::col((external_id::Entity, X::ObjectId)).equals((E::default(), E::id_column())),
        )
        .and_where(Expr::col((external_id::Entity, X::System)).eq(system.as_str()))
        .to_owned()
}

/// Most external ids one lookup takes (as `nodes(ids:)`).
pub const MAX_LOOKUP: usize = 100;

/// The Handoff ids of the `object_type` records carrying these external ids
/// in `system`, in the order given, `None` where none does. Ids are
/// compared trimmed, as they are stored. Deleted records are still found
/// here (their ids stay taken); readers load live records only.
#[tracing::instrument(skip_all, fields(viewer = %viewer, external_ids.count = external_ids.len()))]
pub async fn lookup(
    db: &DatabaseConnection,
    viewer: &Viewer,
    object_type: ObjectType,
    system: ExternalSystem,
    external_ids: &[String],
) -> AppResult<Vec<Option<Uuid>>> {
    viewer.require(Action::ReadRecords)?;
    check_carrier(object_type)?;
    if external_ids.len() > MAX_LOOKUP {
        return Err(AppError::BadUserInput(format!(
            "`externalIds` may hold at most {MAX_LOOKUP} ids, got {}",
            external_ids.len()
        )));
    }
    let keys: Vec<ExternalKey> = external_ids
        .iter()
        .map(|id| ExternalKey::new(system, id.trim()))
        .collect();
    let wanted: Vec<ExternalKey> = keys
        .iter()
        .filter(|k| !k.id.is_empty() && k.id.chars().count() <= MAX_LEN)
        .cloned()
        .collect();
    let found = if wanted.is_empty() {
        HashMap::new()
    } else {
        resolve(db, object_type, &wanted).await?
    };
    Ok(keys.iter().map(|k| found.get(k).copied()).collect())
}

/// A record's external ids after a change by hand, with the record as it
/// now is.
#[derive(Debug, Clone)]
pub struct Changed<M> {
    /// The record (its version bumped when something changed).
    pub record: M,
    /// All its external ids now, ordered by system and id.
    pub external_ids: Vec<ExternalKey>,
}

/// Checks an external id typed by hand: trimmed, not blank, at most
/// [`MAX_LEN`] characters.
fn checked(system: ExternalSystem, external_id: &str) -> AppResult<ExternalKey> {
    let mut e = Errors::new();
    let id = e.required_text("externalId", external_id, MAX_LEN);
    e.finish()?;
    Ok(ExternalKey::new(system, id))
}

/// Attaches an external id to a live record of type `E`. Attaching an id
/// the record already has changes nothing (no version, no log entry);
/// an id another record of the type has (a deleted one included) is TAKEN.
/// Otherwise the record's version goes up and the change log records
/// `externalIds`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn attach<E: Record>(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    external_id: &str,
    system: ExternalSystem,
    expected_version: Option<i32>,
) -> AppResult<Changed<E::Model>> {
    viewer.require(Action::SyncRecords)?;
    check_carrier(E::OBJECT)?;
    let key = checked(system, external_id)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<E>(&txn, id).await?;
    records::check_version(E::NAME, E::version_of(&current), expected_version)?;
    let holder = resolve(&txn, E::OBJECT, std::slice::from_ref(&key))
        .await?
        .remove(&key);
    let record = match holder {
        Some(holder) if holder == id => current,
        Some(_) => return Err(taken::<E>(&key)),
        None => {
            attach_many(&txn, E::OBJECT, [(key.clone(), id)])
                .await
                .map_err(|e| e.on_unique("externalId", taken_message::<E>(&key)))?;
            records::touch::<E>(
                &txn,
                Some(viewer.user_id),
                current,
                vec!["externalIds".into()],
            )
            .await?
        }
    };
    let external_ids = of_records(&txn, E::OBJECT, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    txn.commit().await?;
    Ok(Changed {
        record,
        external_ids,
    })
}

fn taken<E: Record>(key: &ExternalKey) -> AppError {
    AppError::invalid("externalId", UserErrorCode::Taken, taken_message::<E>(key))
}

fn taken_message<E: Record>(key: &ExternalKey) -> String {
    format!(
        "another {} (possibly a deleted one) already has {key}",
        E::NAME
    )
}

/// Detaches an external id from a live record of type `E`: its version
/// goes up and the change log records `externalIds`. An id the record does
/// not carry is a NOT_FOUND user error.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn detach<E: Record>(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    external_id: &str,
    system: ExternalSystem,
    expected_version: Option<i32>,
) -> AppResult<Changed<E::Model>> {
    viewer.require(Action::SyncRecords)?;
    check_carrier(E::OBJECT)?;
    let key = checked(system, external_id)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<E>(&txn, id).await?;
    records::check_version(E::NAME, E::version_of(&current), expected_version)?;
    let row = external_id::Entity::find()
        .filter(external_id::Column::System.eq(key.system))
        .filter(external_id::Column::ObjectType.eq(E::OBJECT))
        .filter(external_id::Column::ExternalId.eq(key.id.as_str()))
        .filter(external_id::Column::ObjectId.eq(id))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "externalId",
                UserErrorCode::NotFound,
                format!("the {} does not carry {key}", E::NAME),
            )
        })?;
    row.delete(&txn).await?;
    let record = records::touch::<E>(
        &txn,
        Some(viewer.user_id),
        current,
        vec!["externalIds".into()],
    )
    .await?;
    let external_ids = of_records(&txn, E::OBJECT, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    txn.commit().await?;
    Ok(Changed {
        record,
        external_ids,
    })
}
