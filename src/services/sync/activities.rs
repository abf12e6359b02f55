//! `recordActivities`: activities by external id (HubSpot engagements,
//! Salesforce tasks and campaign members), with the time they happened.
//!
//! Marketing activities rescore their leads under the approved definition,
//! as when they are recorded one by one. Synced sales touches do not start
//! or stop SLA clocks: they are history from the CRM.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{
    activity, campaign,
    enums::{ActivityKind, ExternalSystem},
    lead,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    ErrorCode, Found, Mode, RecordError, RecordErrors, RecordResult, Ref, Resolved, Status,
    Written, batch, check_expected, current_of, failure, not_future, success, updated,
    write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::validate::Errors,
    error::AppResult,
    services::{
        external_ids::ExternalKey,
        records,
        scoring::{self, Scope},
    },
};

/// One activity of a `recordActivities` batch. `None` leaves a field as it
/// is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ActivityUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// The lead (required to create).
    pub lead: Option<Ref>,
    /// What happened (required to create).
    pub kind: Option<ActivityKind>,
    /// When it happened (required to create; never in the future).
    pub occurred_at: Option<DateTime<Utc>>,
    /// The campaign, when it was a campaign touch.
    pub campaign: Option<Option<Ref>>,
    /// Free text.
    pub note: Option<Option<String>>,
}

/// Creates or updates activities by external id in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<ActivityUpsert>,
    mode: Mode,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    batch(viewer, inputs, 1, |chunk| {
        write_chunk(db, actor, system, mode, chunk)
    })
    .await
}

#[derive(Debug, Default)]
struct Fields {
    lead_id: Option<Uuid>,
    kind: Option<ActivityKind>,
    occurred_at: Option<DateTime<Utc>>,
    campaign_id: Option<Option<Uuid>>,
    note: Option<Option<String>>,
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    mode: Mode,
    chunk: Vec<(usize, ActivityUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<activity::Entity>(&txn, &keys).await?;
    let leads = Resolved::load::<lead::Entity>(
        &txn,
        system,
        chunk.iter().filter_map(|(_, i)| i.lead.clone()),
    )
    .await?;
    let campaigns = Resolved::load::<campaign::Entity>(
        &txn,
        system,
        chunk
            .iter()
            .filter_map(|(_, i)| i.campaign.clone().flatten()),
    )
    .await?;
    let mut writes = Writes::<activity::Entity>::new(Some(actor), now);
    let mut results = Vec::with_capacity(chunk.len());
    let mut rescore: HashSet<Uuid> = HashSet::new();
    for ((index, input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        let fields = match validate(&input, existing.as_ref(), &leads, &campaigns, now) {
            Ok(fields) => fields,
            Err(errors) => {
                results.push(failure(index, key.id, errors));
                continue;
            }
        };
        let written = match existing {
            None => {
                let mut am = activity::ActiveModel {
                    campaign_id: Set(None),
                    actor_id: Set(None),
                    note: Set(None),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                apply(&mut am, &fields);
                if let Some(lead) = fields.lead_id {
                    rescore.insert(lead);
                }
                let id = writes.insert(am, key.clone());
                Written {
                    status: Status::Created,
                    id,
                    version: 1,
                }
            }
            Some(a) => {
                let (id, version, old_lead) = (a.id, a.version, a.lead_id);
                let changed = writes
                    .update(&txn, a, |am| {
                        apply(am, &fields);
                        am.deleted_at.set_if_not_equals(None);
                    })
                    .await?;
                if changed.is_some() {
                    rescore.insert(old_lead);
                    rescore.extend(fields.lead_id);
                }
                updated(id, version, changed)
            }
        };
        results.push(success(index, key.id, written, Vec::new()));
    }
    writes.flush(&txn).await?;
    if !rescore.is_empty() {
        scoring::rescore_if_approved(
            &txn,
            Scope::Leads(rescore.into_iter().collect()),
            Some(actor),
        )
        .await?;
    }
    mode.finish(txn).await?;
    Ok(results)
}

/// Checks one record: what to write, or every error found (values, then
/// references, then the date).
fn validate(
    input: &ActivityUpsert,
    current: Option<&activity::Model>,
    leads: &Resolved,
    campaigns: &Resolved,
    now: DateTime<Utc>,
) -> Result<Fields, RecordErrors> {
    let mut found = Found::default();
    found.check(check_expected(
        "activity",
        current.map(|a| a.version),
        input.expected_version,
    ));
    let creating = current.is_none();
    for (field, missing) in [
        ("lead", input.lead.is_none()),
        ("kind", input.kind.is_none()),
        ("occurredAt", input.occurred_at.is_none()),
    ] {
        if creating && missing {
            found.add(RecordError::on(
                field,
                ErrorCode::Required,
                format!("`{field}` is required"),
            ));
        }
    }
    let mut e = Errors::new();
    let note = input
        .note
        .as_ref()
        .map(|v| e.optional_text("note", v.as_deref(), 2000));
    found.fields(e.into_vec());
    let lead_id = input
        .lead
        .as_ref()
        .and_then(|r| found.check(leads.get(r, "lead", "lead")));
    let campaign_id = found
        .check(campaigns.get_opt(&input.campaign, "campaign", "campaign"))
        .flatten();
    found.check(not_future("occurredAt", input.occurred_at, now));
    found.finish(Fields {
        lead_id,
        kind: input.kind,
        occurred_at: input.occurred_at,
        campaign_id,
        note,
    })
}

fn apply(am: &mut activity::ActiveModel, f: &Fields) {
    if let Some(v) = f.lead_id {
        am.lead_id.set_if_not_equals(v);
    }
    if let Some(v) = f.kind {
        am.kind.set_if_not_equals(v);
    }
    if let Some(v) = f.occurred_at {
        am.occurred_at.set_if_not_equals(v);
    }
    if let Some(v) = f.campaign_id {
        am.campaign_id.set_if_not_equals(v);
    }
    if let Some(v) = &f.note {
        am.note.set_if_not_equals(v.clone());
    }
}
