//! `upsertAccounts`: accounts by external id.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{account, enums::ExternalSystem};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
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
    services::{
        external_ids::ExternalKey,
        records,
        scoring::{self, Scope},
    },
};

/// One account of an `upsertAccounts` batch. `None` leaves a field as it
/// is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct AccountUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// Company name (required to create).
    pub name: Option<String>,
    /// Web domain (unique among accounts).
    pub domain: Option<Option<String>>,
    /// Industry.
    pub industry: Option<Option<String>>,
    /// Head count.
    pub employee_count: Option<Option<i32>>,
    /// Annual revenue and its currency.
    pub annual_revenue: Option<Option<(Decimal, String)>>,
    /// ISO country code.
    pub country: Option<Option<String>>,
    /// Target (ABM) account.
    pub is_target_account: Option<bool>,
    /// The owning user.
    pub owner: Option<Option<Ref>>,
    /// When the account was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates or updates accounts by external id in `system`.
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<AccountUpsert>,
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
    domain: Option<Option<String>>,
    industry: Option<Option<String>>,
    employee_count: Option<Option<i32>>,
    annual_revenue: Option<Option<(Decimal, String)>>,
    country: Option<Option<String>>,
    is_target_account: Option<bool>,
    owner_id: Option<Option<Uuid>>,
    created_at: Option<DateTime<Utc>>,
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    chunk: Vec<(usize, AccountUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<account::Entity>(&txn, &keys).await?;
    let owners = Resolved::load_owners(
        &txn,
        system,
        chunk.iter().filter_map(|(_, i)| i.owner.clone().flatten()),
    )
    .await?;

    // Validate first, so the domains the chunk wants can be checked in one
    // query.
    let mut planned = Vec::with_capacity(chunk.len());
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        match validate(&input, existing.as_ref(), &owners, now) {
            Ok(fields) => planned.push((index, key, existing, fields)),
            Err(error) => results.push(failure(index, key.id, error)),
        }
    }
    let wanted: Vec<String> = planned
        .iter()
        .filter_map(|(_, _, _, f)| f.domain.clone().flatten())
        .collect();
    let mut holders: HashMap<String, Uuid> = HashMap::new();
    for part in wanted.chunks(1_000) {
        let rows: Vec<(Uuid, Option<String>)> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .column(account::Column::Domain)
            .filter(account::Column::Domain.is_in(part.iter().cloned()))
            .into_tuple()
            .all(&txn)
            .await?;
        holders.extend(rows.into_iter().filter_map(|(id, d)| d.map(|d| (d, id))));
    }

    let mut writes = Writes::<account::Entity>::new(Some(actor), now);
    let mut claimed: HashSet<String> = HashSet::new();
    let mut rescore = Vec::new();
    for (index, key, existing, fields) in planned {
        if let Some(Some(domain)) = &fields.domain {
            let own = existing.as_ref().map(|a| a.id);
            let taken = holders.get(domain).is_some_and(|id| Some(*id) != own)
                || (existing.as_ref().and_then(|a| a.domain.as_ref()) != Some(domain)
                    && !claimed.insert(domain.clone()));
            if taken {
                results.push(failure(
                    index,
                    key.id,
                    RecordError::on(
                        "domain",
                        ErrorCode::Taken,
                        format!("another account already has the domain {domain}"),
                    ),
                ));
                continue;
            }
        }
        let written = match existing {
            None => {
                let mut am = account::ActiveModel {
                    is_target_account: Set(false),
                    fit_score: Set(0),
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
            Some(account) => {
                let (id, version) = (account.id, account.version);
                let changed = writes
                    .update(&txn, account, |am| {
                        apply(am, &fields);
                        am.deleted_at.set_if_not_equals(None);
                    })
                    .await?;
                if changed.is_some() {
                    rescore.push(id);
                }
                updated(id, version, changed)
            }
        };
        results.push(success(index, key.id, written, Vec::new()));
    }
    writes.flush(&txn).await?;
    // Industry, head count, country and target status feed its leads' fit.
    for id in rescore {
        scoring::rescore_if_approved(&txn, Scope::Account(id), Some(actor)).await?;
    }
    txn.commit().await?;
    results.sort_by_key(|r| r.index);
    Ok(results)
}

fn validate(
    input: &AccountUpsert,
    current: Option<&account::Model>,
    owners: &Resolved,
    now: DateTime<Utc>,
) -> Result<Fields, RecordError> {
    check_expected(
        "account",
        current.map(|a| a.version),
        input.expected_version,
    )?;
    not_future("createdAt", input.created_at, now)?;
    let mut e = Errors::new();
    let mut out = Fields {
        is_target_account: input.is_target_account,
        created_at: input.created_at,
        ..Default::default()
    };
    match input.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 300)),
        None if current.is_none() => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    out.domain = input
        .domain
        .as_ref()
        .map(|d| e.domain("domain", d.as_deref()));
    out.industry = input
        .industry
        .as_ref()
        .map(|v| e.optional_text("industry", v.as_deref(), 100));
    out.employee_count = input
        .employee_count
        .map(|v| v.map(|n| e.range("employeeCount", n, 0, 10_000_000)));
    out.annual_revenue = input.annual_revenue.as_ref().map(|v| {
        v.as_ref().map(|(amount, currency)| {
            (
                e.amount("annualRevenue.amount", *amount),
                e.currency("annualRevenue.currency", currency),
            )
        })
    });
    out.country = input
        .country
        .as_ref()
        .map(|v| e.country("country", v.as_deref()));
    let errors = e.into_vec();
    if !errors.is_empty() {
        return Err(RecordError::from_fields(errors));
    }
    out.owner_id = owners.get_opt(&input.owner, "owner", "user")?;
    Ok(out)
}

fn apply(am: &mut account::ActiveModel, f: &Fields) {
    if let Some(v) = &f.name {
        am.name.set_if_not_equals(v.clone());
    }
    if let Some(v) = &f.domain {
        am.domain.set_if_not_equals(v.clone());
    }
    if let Some(v) = &f.industry {
        am.industry.set_if_not_equals(v.clone());
    }
    if let Some(v) = f.employee_count {
        am.employee_count.set_if_not_equals(v);
    }
    if let Some(v) = &f.annual_revenue {
        let (amount, currency) = v.clone().map_or((None, None), |(a, c)| (Some(a), Some(c)));
        am.annual_revenue.set_if_not_equals(amount);
        am.currency.set_if_not_equals(currency);
    }
    if let Some(v) = &f.country {
        am.country.set_if_not_equals(v.clone());
    }
    if let Some(v) = f.is_target_account {
        am.is_target_account.set_if_not_equals(v);
    }
    if let Some(v) = f.owner_id {
        am.owner_id.set_if_not_equals(v);
    }
    if let Some(v) = f.created_at {
        am.created_at.set_if_not_equals(v);
    }
}
