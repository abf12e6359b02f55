//! `upsertCampaigns`: campaigns by external id.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    campaign,
    enums::{CampaignObjective, CampaignStatus, Channel, ExternalSystem},
};
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    ErrorCode, RecordError, RecordResult, Ref, Resolved, Status, Written, batch, check_expected,
    current_of, failure, not_future, success, updated, write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::validate::Errors,
    error::{AppResult, UserErrorCode},
    services::{external_ids::ExternalKey, records, spend},
};

/// One campaign of an `upsertCampaigns` batch. `None` leaves a field as it
/// is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CampaignUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// Name (required to create).
    pub name: Option<String>,
    /// Channel (required to create).
    pub channel: Option<Channel>,
    /// Objective (CONVERSION when a new campaign comes without one).
    pub objective: Option<CampaignObjective>,
    /// Status (PLANNED when a new campaign comes without one).
    pub status: Option<CampaignStatus>,
    /// First day (required to create).
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<Option<NaiveDate>>,
    /// Budget and its currency.
    pub budget: Option<Option<(Decimal, String)>>,
    /// The owning user.
    pub owner: Option<Option<Ref>>,
    /// When the campaign was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates or updates campaigns by external id in `system`.
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<CampaignUpsert>,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    batch(viewer, inputs, 1, |chunk| {
        write_chunk(db, actor, system, chunk)
    })
    .await
}

#[derive(Debug, Default)]
struct Fields {
    name: Option<String>,
    channel: Option<Channel>,
    objective: Option<CampaignObjective>,
    status: Option<CampaignStatus>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<Option<NaiveDate>>,
    budget: Option<Option<(Decimal, String)>>,
    owner_id: Option<Option<Uuid>>,
    created_at: Option<DateTime<Utc>>,
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    chunk: Vec<(usize, CampaignUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<campaign::Entity>(&txn, &keys).await?;
    let owners = Resolved::load_owners(
        &txn,
        system,
        chunk.iter().filter_map(|(_, i)| i.owner.clone().flatten()),
    )
    .await?;
    let mut writes = Writes::<campaign::Entity>::new(Some(actor), now);
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        let fields = match validate(&input, existing.as_ref(), &owners, now) {
            Ok(fields) => fields,
            Err(error) => {
                results.push(failure(index, key.id, error));
                continue;
            }
        };
        let written = match existing {
            None => {
                let mut am = campaign::ActiveModel {
                    objective: Set(CampaignObjective::Conversion),
                    status: Set(CampaignStatus::Planned),
                    currency: Set("USD".to_owned()),
                    budget: Set(None),
                    ends_on: Set(None),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                apply(&mut am, &fields);
                let id = writes.insert(am, key.clone());
                Written {
                    status: Status::Created,
                    id,
                    version: 1,
                }
            }
            Some(c) => {
                // Spend already recorded must stay inside the dates and in
                // the campaign's currency (see `services::spend`).
                let starts_on = fields.starts_on.unwrap_or(c.starts_on);
                let ends_on = fields.ends_on.unwrap_or(c.ends_on);
                let currency = match &fields.budget {
                    Some(Some((_, currency))) => currency.clone(),
                    _ => c.currency.clone(),
                };
                if starts_on != c.starts_on || ends_on != c.ends_on || currency != c.currency {
                    let (outside, other_currency) =
                        spend::stranded(&txn, c.id, starts_on, ends_on, &currency).await?;
                    if outside > 0 || other_currency > 0 {
                        let error = if outside > 0 {
                            RecordError::on(
                                "startsOn",
                                ErrorCode::OutOfRange,
                                format!(
                                    "{outside} spend entries would fall outside the campaign's dates; move or delete them first"
                                ),
                            )
                        } else {
                            RecordError::on(
                                "budget.currency",
                                ErrorCode::Invalid,
                                format!(
                                    "the campaign has spend in {}; its currency cannot change to {currency}",
                                    c.currency
                                ),
                            )
                        };
                        results.push(failure(index, key.id, error));
                        continue;
                    }
                }
                let (id, version) = (c.id, c.version);
                let changed = writes
                    .update(&txn, c, |am| {
                        apply(am, &fields);
                        am.deleted_at.set_if_not_equals(None);
                    })
                    .await?;
                updated(id, version, changed)
            }
        };
        results.push(success(index, key.id, written, Vec::new()));
    }
    writes.flush(&txn).await?;
    txn.commit().await?;
    Ok(results)
}

fn validate(
    input: &CampaignUpsert,
    current: Option<&campaign::Model>,
    owners: &Resolved,
    now: DateTime<Utc>,
) -> Result<Fields, RecordError> {
    check_expected(
        "campaign",
        current.map(|c| c.version),
        input.expected_version,
    )?;
    not_future("createdAt", input.created_at, now)?;
    let creating = current.is_none();
    let mut e = Errors::new();
    let mut out = Fields {
        channel: input.channel,
        objective: input.objective,
        status: input.status,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        created_at: input.created_at,
        ..Default::default()
    };
    match input.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 300)),
        None if creating => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    if creating && input.channel.is_none() {
        e.add("channel", UserErrorCode::Required, "`channel` is required");
    }
    if creating && input.starts_on.is_none() {
        e.add(
            "startsOn",
            UserErrorCode::Required,
            "`startsOn` is required",
        );
    }
    let starts_on = out.starts_on.or(current.map(|c| c.starts_on));
    let ends_on = out.ends_on.unwrap_or(current.and_then(|c| c.ends_on));
    if let (Some(starts_on), Some(ends_on)) = (starts_on, ends_on)
        && ends_on < starts_on
    {
        e.add(
            "endsOn",
            UserErrorCode::OutOfRange,
            format!("`endsOn` ({ends_on}) must not be before `startsOn` ({starts_on})"),
        );
    }
    out.budget = input.budget.as_ref().map(|v| {
        v.as_ref().map(|(amount, currency)| {
            (
                e.amount("budget.amount", *amount),
                e.currency("budget.currency", currency),
            )
        })
    });
    let errors = e.into_vec();
    if !errors.is_empty() {
        return Err(RecordError::from_fields(errors));
    }
    out.owner_id = owners.get_opt(&input.owner, "owner", "user")?;
    Ok(out)
}

fn apply(am: &mut campaign::ActiveModel, f: &Fields) {
    if let Some(v) = &f.name {
        am.name.set_if_not_equals(v.clone());
    }
    if let Some(v) = f.channel {
        am.channel.set_if_not_equals(v);
    }
    if let Some(v) = f.objective {
        am.objective.set_if_not_equals(v);
    }
    if let Some(v) = f.status {
        am.status.set_if_not_equals(v);
    }
    if let Some(v) = f.starts_on {
        am.starts_on.set_if_not_equals(v);
    }
    if let Some(v) = f.ends_on {
        am.ends_on.set_if_not_equals(v);
    }
    match &f.budget {
        Some(Some((amount, currency))) => {
            am.budget.set_if_not_equals(Some(*amount));
            am.currency.set_if_not_equals(currency.clone());
        }
        Some(None) => am.budget.set_if_not_equals(None),
        None => {}
    }
    if let Some(v) = f.owner_id {
        am.owner_id.set_if_not_equals(v);
    }
    if let Some(v) = f.created_at {
        am.created_at.set_if_not_equals(v);
    }
}
