//! `upsertAccounts`: accounts by external id.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{account, enums::ExternalSystem};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    ErrorCode, Found, Links, Mode, RecordError, RecordResult, Ref, Status, Written, batch,
    check_expected, checked, current_of, failure, not_future, success, updated, write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::records::AccountPatch,
    error::AppResult,
    services::{
        accounts,
        external_ids::ExternalKey,
        records,
        scoring::{self, Scope},
    },
};

/// One account of an `upsertAccounts` batch.
#[derive(Debug, Clone, Default)]
pub struct AccountUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// What to change; the owner is a reference in the batch's system.
    pub fields: AccountPatch<Ref>,
    /// When the account was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
    /// Fill only the fields the account has empty, and only on an existing
    /// account (an unknown id is NOT_FOUND, not a new account): company
    /// facts that come with a lead never overwrite the account's own.
    pub only_gaps: bool,
}

/// Creates or updates accounts by external id in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<AccountUpsert>,
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
    chunk: Vec<(usize, AccountUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<account::Entity>(&txn, &keys).await?;
    let links = Links::load(
        &txn,
        system,
        chunk.iter().flat_map(|(_, i)| i.fields.refs()),
    )
    .await?;

    // Validate first, so the domains the chunk wants can be checked in one
    // query.
    let mut planned = Vec::with_capacity(chunk.len());
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, mut input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        if input.only_gaps {
            let Some(account) = &existing else {
                let message = format!("no account has the id {:?} in {system}", key.id);
                results.push(failure(
                    index,
                    key.id,
                    RecordError::on("externalId", ErrorCode::NotFound, message),
                ));
                continue;
            };
            input.fields = input.fields.only_gaps_of(account);
        }
        let created_at = input.created_at;
        let (fields, found) = validate(input, existing.as_ref(), &links, now);
        planned.push((index, key, existing, fields, created_at, found));
    }
    let wanted: Vec<String> = planned
        .iter()
        .filter_map(|(_, _, _, f, _, _)| f.domain.clone().flatten())
        .collect();
    let holders = accounts::domain_holders(&txn, &wanted).await?;

    let mut writes = Writes::<account::Entity>::new(Some(actor), now);
    let mut claimed: HashSet<String> = HashSet::new();
    let mut rescore = Vec::new();
    for (index, key, existing, fields, created_at, mut found) in planned {
        if let Some(Some(domain)) = &fields.domain {
            let own = existing.as_ref().map(|a| a.id);
            let claims = existing.as_ref().and_then(|a| a.domain.as_ref()) != Some(domain);
            // Only a record that will be written claims its domain.
            let taken = holders.get(domain).is_some_and(|id| Some(*id) != own)
                || (claims && claimed.contains(domain));
            if taken {
                found.add(RecordError::on(
                    "domain",
                    ErrorCode::Taken,
                    accounts::domain_taken(domain),
                ));
            } else if claims && found.is_empty() {
                claimed.insert(domain.clone());
            }
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
                let mut am = account::ActiveModel {
                    is_target_account: Set(false),
                    fit_score: Set(0),
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
            Some(account) => {
                let (id, version) = (account.id, account.version);
                let changed = writes
                    .update(&txn, account, |am| {
                        apply(am, &fields, created_at);
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
    mode.finish(txn).await?;
    results.sort_by_key(|r| r.index);
    Ok(results)
}

/// Checks one record (its fields move out of it): the patch with its
/// references resolved, and every error found.
fn validate(
    input: AccountUpsert,
    current: Option<&account::Model>,
    links: &Links,
    now: DateTime<Utc>,
) -> (AccountPatch, Found) {
    let mut found = Found::default();
    found.check(check_expected(
        "account",
        current.map(|a| a.version),
        input.expected_version,
    ));
    let fields = checked(
        &mut found,
        input.fields.validate(current.is_none()),
        |patch| patch.resolve_all(|link, r| links.resolve(link, &r)),
    );
    found.check(not_future("createdAt", input.created_at, now));
    (fields, found)
}

fn apply(am: &mut account::ActiveModel, fields: &AccountPatch, created_at: Option<DateTime<Utc>>) {
    fields.apply(am);
    if let Some(v) = created_at {
        am.created_at.set_if_not_equals(v);
    }
}
