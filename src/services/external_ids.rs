//! Ids that records carry in external systems (HubSpot, Salesforce, other).
//!
//! A record may carry several ids, at most one per system and object type
//! being unique: `(system, object_type, external_id)` names one record. The
//! bulk upserts match by these, and the lists filter on them.

use std::collections::HashMap;

use entity::{
    enums::{ExternalSystem, ObjectType},
    external_id,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::records;
use crate::error::AppResult;

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

/// Attaches external ids to records, in as few statements as the bind
/// limits allow. The caller has checked that no key is taken.
pub async fn attach_many(
    txn: &impl ConnectionTrait,
    object_type: ObjectType,
    pairs: impl IntoIterator<Item = (ExternalKey, Uuid)>,
) -> AppResult<()> {
    let at = records::now();
    let rows: Vec<external_id::ActiveModel> = pairs
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
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        external_id::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
