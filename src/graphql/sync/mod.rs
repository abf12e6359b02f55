//! Bulk upserts and deletes by external id, for sync jobs.
//!
//! Every mutation takes one batch of up to 1,000 records of one type from
//! one external system and answers with one result per record, in input
//! order. A record's errors (a bad id, an unknown reference, a stale
//! `expectedVersion`: every one found) are in its result and never fail the
//! others; only a batch that is too big, or a caller without the right,
//! fails as a whole.

mod inputs;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use entity::enums::ObjectType;
pub use inputs::{
    AccountUpsertInput, ActivityUpsertInput, CampaignUpsertInput, DeleteByExternalIdInput,
    DeleteByExternalIdsInput, LeadUpsertInput, OpportunityUpsertInput, RecordActivitiesInput,
    StageEntryInput, SyncObjectType, UpsertAccountsInput, UpsertCampaignsInput, UpsertLeadsInput,
    UpsertOpportunitiesInput,
};
use inputs::{account_upsert, activity_upsert, campaign_upsert, lead_upsert, opportunity_upsert};

use super::common::{db, global_id, viewer};
use crate::{
    auth::{Action, PolicyGuard},
    error::{AppError, AppResult},
    services::sync::{
        self, MAX_BATCH, RecordError, RecordErrors, RecordResult, Status, Tally,
        deletes::DeleteByExternalId,
    },
};

/// What happened to one record of a batch.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SyncStatus {
    /// It was new and is now stored.
    Created,
    /// It existed and changed.
    Updated,
    /// It existed and nothing changed (a replay).
    Unchanged,
    /// It was soft-deleted.
    Deleted,
    /// It was not written; `errors` says why.
    Failed,
}

/// Why one record of a batch was not written.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::services::sync::ErrorCode")]
pub enum SyncErrorCode {
    /// A value is malformed or not allowed.
    Invalid,
    /// A required value is missing or blank.
    Required,
    /// A text is too long.
    TooLong,
    /// A number or date is outside its range.
    OutOfRange,
    /// A reference (or, for deletes, the external id) names no record.
    NotFound,
    /// Another record already has this unique value (an account's domain).
    Taken,
    /// The batch holds this external id more than once; the first is
    /// written.
    Duplicate,
    /// `expectedVersion` is not the record's version: fetch it and merge.
    Conflict,
    /// A source timestamp lies in the future (beyond 5 minutes of clock
    /// skew).
    InFuture,
    /// Timestamps contradict each other (a stage entered before the record
    /// was created, closed before created).
    OutOfOrder,
    /// A stage outside the documented HubSpot / Salesforce mapping.
    UnknownStage,
    /// The database refused the record; the detail is in the server log
    /// under the request id.
    Failed,
}

/// One record's error.
#[derive(SimpleObject, Clone, Debug)]
pub struct SyncRecordError {
    /// Stable code to branch on.
    pub code: SyncErrorCode,
    /// The record's input field at fault (`email`, `stageHistory.2`), when
    /// one is.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The result of one record of a batch.
#[derive(SimpleObject, Clone, Debug)]
pub struct SyncRecordResult {
    /// The record's position in the batch (0-based).
    pub index: i32,
    /// The record's external id, as sent (trimmed).
    pub external_id: String,
    /// What happened.
    pub status: SyncStatus,
    /// The record's global id; null when it failed before it existed.
    pub id: Option<ID>,
    /// The record's version after the batch (pass it as `expectedVersion`
    /// next time to guard against overwriting newer edits).
    pub version: Option<i32>,
    /// The first of `errors`; null unless `status` is FAILED.
    #[graphql(
        deprecation = "a record can fail for several reasons at once: use errors, which lists every one (this is its first)"
    )]
    pub error: Option<SyncRecordError>,
    /// Every reason the record was not written, in the order its checks
    /// run: `expectedVersion`, its values (in field order), its references,
    /// then its source dates and stages, and last the checks against other
    /// records (an account's domain taken, a campaign's spend stranded).
    /// Empty unless `status` is FAILED.
    pub errors: Vec<SyncRecordError>,
    /// What was written differently from what was sent, and why (a lead
    /// stage Handoff kept because the lead has passed the reported one).
    pub warnings: Vec<String>,
}

/// The result of a bulk upsert or delete.
#[derive(SimpleObject, Clone, Debug)]
pub struct SyncPayload {
    /// One result per record, in input order.
    pub results: Vec<SyncRecordResult>,
    /// Records created.
    pub created: i32,
    /// Records changed.
    pub updated: i32,
    /// Records found as sent.
    pub unchanged: i32,
    /// Records soft-deleted.
    pub deleted: i32,
    /// Records not written.
    pub failed: i32,
}

/// Bulk writes by external id.
#[derive(Default)]
pub struct SyncMutation;

#[Object]
impl SyncMutation {
    /// Creates or updates up to 1,000 leads matched by their id in one
    /// external system, with their source dates and stage history; one
    /// result per lead. Replaying a batch changes nothing. Roles: ADMIN,
    /// INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn upsert_leads(
        &self,
        ctx: &Context<'_>,
        input: UpsertLeadsInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.leads,
            |l| l.external_id.clone(),
            lead_upsert,
            |records| sync::leads::upsert(db, viewer, system, records, sync::Mode::Write),
            ObjectType::Lead,
        )
        .await
    }

    /// Creates or updates up to 1,000 accounts matched by their id in one
    /// external system; one result per account. Replaying a batch changes
    /// nothing. Roles: ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn upsert_accounts(
        &self,
        ctx: &Context<'_>,
        input: UpsertAccountsInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.accounts,
            |a| a.external_id.clone(),
            account_upsert,
            |records| sync::accounts::upsert(db, viewer, system, records, sync::Mode::Write),
            ObjectType::Account,
        )
        .await
    }

    /// Creates or updates up to 1,000 campaigns matched by their id in one
    /// external system; one result per campaign. Roles: ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn upsert_campaigns(
        &self,
        ctx: &Context<'_>,
        input: UpsertCampaignsInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.campaigns,
            |c| c.external_id.clone(),
            campaign_upsert,
            |records| sync::campaigns::upsert(db, viewer, system, records, sync::Mode::Write),
            ObjectType::Campaign,
        )
        .await
    }

    /// Creates or updates up to 1,000 opportunities matched by their id in
    /// one external system, with their source dates and stage history; one
    /// result per deal. Roles: ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn upsert_opportunities(
        &self,
        ctx: &Context<'_>,
        input: UpsertOpportunitiesInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.opportunities,
            |o| o.external_id.clone(),
            opportunity_upsert,
            |records| sync::opportunities::upsert(db, viewer, system, records, sync::Mode::Write),
            ObjectType::Opportunity,
        )
        .await
    }

    /// Records (creates or updates) up to 1,000 activities matched by their
    /// id in one external system; marketing activities rescore their leads.
    /// Roles: ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn record_activities(
        &self,
        ctx: &Context<'_>,
        input: RecordActivitiesInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.activities,
            |a| a.external_id.clone(),
            activity_upsert,
            |records| sync::activities::upsert(db, viewer, system, records, sync::Mode::Write),
            ObjectType::Activity,
        )
        .await
    }

    /// Soft-deletes up to 1,000 records of one type by their id in one
    /// external system; sync jobs see tombstones in the change feed. A
    /// record already deleted is UNCHANGED. Roles: ADMIN, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn delete_by_external_ids(
        &self,
        ctx: &Context<'_>,
        input: DeleteByExternalIdsInput,
    ) -> Result<SyncPayload> {
        let system = input.system.into();
        let object: ObjectType = input.object_type.into();
        let (db, viewer) = (db(ctx)?, viewer(ctx)?);
        run(
            ctx,
            input.records,
            |r| r.external_id.clone(),
            |r| {
                Ok::<_, RecordErrors>(DeleteByExternalId {
                    external_id: r.external_id,
                    expected_version: r.expected_version,
                })
            },
            |records| sync::deletes::delete(db, viewer, object, system, records),
            object,
        )
        .await
    }
}

/// Converts a batch's inputs (a record whose input cannot be converted, such
/// as a malformed global id, gets its error without reaching the service),
/// writes the rest and answers in input order.
async fn run<I, T, Fut>(
    ctx: &Context<'_>,
    inputs: Vec<I>,
    key: impl Fn(&I) -> String,
    convert: impl Fn(I) -> Result<T, RecordErrors>,
    write: impl FnOnce(Vec<T>) -> Fut,
    object: ObjectType,
) -> Result<SyncPayload>
where
    Fut: std::future::Future<Output = AppResult<Vec<RecordResult>>>,
{
    if inputs.len() > MAX_BATCH {
        return Err(AppError::BadUserInput(format!(
            "a batch holds at most {MAX_BATCH} records; this one has {}: split it",
            inputs.len()
        ))
        .into());
    }
    let mut results: Vec<Option<RecordResult>> = vec![None; inputs.len()];
    let mut positions = Vec::with_capacity(inputs.len());
    let mut records = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let external_id = key(&input).trim().to_owned();
        match convert(input) {
            Ok(record) => {
                positions.push(index);
                records.push(record);
            }
            Err(errors) => {
                results[index] = Some(RecordResult {
                    index,
                    external_id,
                    outcome: Err(errors),
                    warnings: Vec::new(),
                });
            }
        }
    }
    for mut r in write(records).await? {
        if let Some(&index) = positions.get(r.index) {
            r.index = index;
            results[index] = Some(r);
        }
    }
    let results: Vec<RecordResult> = results.into_iter().flatten().collect();
    let tally = Tally::of(&results);
    if let Some(metrics) = ctx.data_opt::<std::sync::Arc<crate::telemetry::Metrics>>() {
        metrics.sync_records(object.as_str(), tally);
    }
    Ok(SyncPayload {
        results: results.into_iter().map(|r| result(r, object)).collect(),
        created: count(tally.created),
        updated: count(tally.updated),
        unchanged: count(tally.unchanged),
        deleted: count(tally.deleted),
        failed: count(tally.failed),
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn result(r: RecordResult, object: ObjectType) -> SyncRecordResult {
    let index = count(r.index);
    match r.outcome {
        Ok(w) => SyncRecordResult {
            index,
            external_id: r.external_id,
            status: match w.status {
                Status::Created => SyncStatus::Created,
                Status::Updated => SyncStatus::Updated,
                Status::Unchanged => SyncStatus::Unchanged,
                Status::Deleted => SyncStatus::Deleted,
            },
            id: Some(global_id(object, w.id)),
            version: Some(w.version),
            error: None,
            errors: Vec::new(),
            warnings: r.warnings,
        },
        Err(errors) => {
            let errors: Vec<SyncRecordError> = errors.into_iter().map(record_error).collect();
            SyncRecordResult {
                index,
                external_id: r.external_id,
                status: SyncStatus::Failed,
                id: None,
                version: None,
                error: errors.first().cloned(),
                errors,
                warnings: r.warnings,
            }
        }
    }
}

fn record_error(e: RecordError) -> SyncRecordError {
    SyncRecordError {
        code: e.code.into(),
        field: e.field.filter(|f| !f.is_empty()),
        message: e.message,
    }
}
