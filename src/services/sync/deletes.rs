//! Deleting by external id: a soft delete, so the tombstone reaches every
//! sync job through the change feed. Deleting a record that is already
//! deleted is UNCHANGED, so a replayed batch is silent.

use entity::enums::{ExternalSystem, ObjectType};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{
    ErrorCode, RecordError, RecordResult, Status, Written, batch, check_expected, current_of,
    failure,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    error::{AppError, AppResult},
    services::{
        external_ids::ExternalKey,
        records::{self, Record},
    },
};

/// One record to delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteByExternalId {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
}

/// Soft-deletes records of `object_type` by their external ids in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    object_type: ObjectType,
    system: ExternalSystem,
    inputs: Vec<DeleteByExternalId>,
) -> AppResult<Vec<RecordResult>> {
    use entity::*;
    match object_type {
        ObjectType::Account => delete_of::<account::Entity>(db, viewer, system, inputs).await,
        ObjectType::Lead => delete_of::<lead::Entity>(db, viewer, system, inputs).await,
        ObjectType::Campaign => delete_of::<campaign::Entity>(db, viewer, system, inputs).await,
        ObjectType::Opportunity => {
            delete_of::<opportunity::Entity>(db, viewer, system, inputs).await
        }
        ObjectType::Activity => delete_of::<activity::Entity>(db, viewer, system, inputs).await,
        other => Err(AppError::BadUserInput(format!(
            "records of type {other} are not synced by external id"
        ))),
    }
}

async fn delete_of<E: Record>(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<DeleteByExternalId>,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    batch(viewer, inputs, 1, |chunk| {
        write_chunk::<E>(db, actor, system, chunk)
    })
    .await
}

async fn write_chunk<E: Record>(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    chunk: Vec<(usize, DeleteByExternalId)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<E>(&txn, &keys).await?;
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, input), key) in chunk.into_iter().zip(keys) {
        let Some(model) = known.get(&key).and_then(|id| current.remove(id)) else {
            results.push(failure(
                index,
                key.id,
                RecordError::on(
                    "externalId",
                    ErrorCode::NotFound,
                    format!("no {} has this external id", E::NAME),
                ),
            ));
            continue;
        };
        let (id, version) = (E::id_of(&model), E::version_of(&model));
        if let Err(error) = check_expected(E::NAME, Some(version), input.expected_version) {
            results.push(failure(index, key.id, error));
            continue;
        }
        let deleted = is_deleted::<E>(&model);
        let written = if deleted {
            Written {
                status: Status::Unchanged,
                id,
                version,
            }
        } else {
            records::soft_delete::<E>(&txn, Some(actor), model).await?;
            Written {
                status: Status::Deleted,
                id,
                version: version + 1,
            }
        };
        results.push(RecordResult {
            index,
            external_id: key.id,
            outcome: Ok(written),
            warnings: Vec::new(),
        });
    }
    txn.commit().await?;
    Ok(results)
}

fn is_deleted<E: Record>(model: &E::Model) -> bool {
    use sea_orm::ModelTrait;
    !matches!(
        model.get(E::deleted_at_column()),
        sea_orm::Value::ChronoDateTimeUtc(None)
    )
}
