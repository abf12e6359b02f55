//! `upsertCampaigns`: campaigns by external id.

use chrono::{DateTime, Utc};
use entity::{
    campaign,
    enums::{CampaignObjective, CampaignStatus, ExternalSystem},
};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    Found, Links, Mode, RecordResult, Ref, Status, Written, batch, check_expected, checked,
    current_of, failure, not_future, success, updated, write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::{records::CampaignPatch, validate::Errors},
    error::AppResult,
    services::{campaigns, external_ids::ExternalKey, records},
};

/// One campaign of an `upsertCampaigns` batch.
#[derive(Debug, Clone, Default)]
pub struct CampaignUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// What to change (the objective is CONVERSION and the status PLANNED
    /// when a new campaign comes without one); the owner is a reference
    /// in the batch's system.
    pub fields: CampaignPatch<Ref>,
    /// When the campaign was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates or updates campaigns by external id in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<CampaignUpsert>,
    mode: Mode,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    batch(viewer, inputs, 1, |chunk| {
        write_chunk(db, actor, system, mode, chunk)
    })
    .await
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    mode: Mode,
    chunk: Vec<(usize, CampaignUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<campaign::Entity>(&txn, &keys).await?;
    let links = Links::load(
        &txn,
        system,
        chunk.iter().flat_map(|(_, i)| i.fields.refs()),
    )
    .await?;
    let mut writes = Writes::<campaign::Entity>::new(Some(actor), now);
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        let created_at = input.created_at;
        let (fields, mut found) = validate(input, existing.as_ref(), &links, now);
        if let Some(c) = &existing {
            let mut stranded = Errors::new();
            campaigns::check_spend(&txn, c, &fields, &mut stranded).await?;
            found.fields(stranded.into_vec());
        }
        let fields = match found.finish(fields) {
            Ok(fields) => fields,
            Err(errors) => {
                results.push(failure(index, key.id, errors));
                continue;
            }
        };
        let written = match existing {
            None => {
                let mut am = campaign::ActiveModel {
                    status: Set(CampaignStatus::Planned),
                    currency: Set("USD".to_owned()),
                    budget: Set(None),
                    ends_on: Set(None),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                apply(&mut am, &fields, created_at);
                let id = writes.insert(am, key.clone());
                Written {
                    status: Status::Created,
                    id,
                    version: 1,
                }
            }
            Some(c) => {
                let (id, version) = (c.id, c.version);
                let changed = writes
                    .update(&txn, c, |am| {
                        apply(am, &fields, created_at);
                        am.deleted_at.set_if_not_equals(None);
                    })
                    .await?;
                updated(id, version, changed)
            }
        };
        results.push(success(index, key.id, written, Vec::new()));
    }
    writes.flush(&txn).await?;
    mode.finish(txn).await?;
    Ok(results)
}

/// Checks one record (its fields move out of it): the patch with its
/// references resolved, and every error found.
fn validate(
    input: CampaignUpsert,
    current: Option<&campaign::Model>,
    links: &Links,
    now: DateTime<Utc>,
) -> (CampaignPatch, Found) {
    let mut found = Found::default();
    found.check(check_expected(
        "campaign",
        current.map(|c| c.version),
        input.expected_version,
    ));
    let mut fields = input.fields;
    if current.is_none() {
        fields
            .objective
            .get_or_insert(CampaignObjective::Conversion);
    }
    let fields = checked(&mut found, fields.validate(current), |patch| {
        patch.resolve_all(|link, r| links.resolve(link, &r))
    });
    found.check(not_future("createdAt", input.created_at, now));
    (fields, found)
}

fn apply(
    am: &mut campaign::ActiveModel,
    fields: &CampaignPatch,
    created_at: Option<DateTime<Utc>>,
) {
    fields.apply(am);
    if let Some(v) = created_at {
        am.created_at.set_if_not_equals(v);
    }
}
