//! Leads: the people marketing passes to sales.
//!
//! This module holds the record-keeping side (create, edit, delete, list).
//! Stage moves belong to the lifecycle; creating a lead records its entry
//! into NEW as the first stage change.

use std::collections::HashMap;

use entity::{
    activity,
    enums::{Channel, LeadStage, ObjectType, SlaStatus},
    lead,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, QueryFilter,
    QuerySelect, Select, Statement,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{
    external_ids,
    filters::{TimeRange, in_range, text_search},
    links,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
    scoring::{self, Scope},
    stage_moves,
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::{
        records::{LeadPatch, lead::NO_IDENTITY},
        stage_move::StageMove,
    },
    error::{AppResult, UserErrorCode},
};

/// Which leads to list. All given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// Case-insensitive match on email, names or company (personal data).
    pub search: Option<String>,
    /// In one of these stages.
    pub stages: Option<Vec<LeadStage>>,
    /// From one of these sources.
    pub sources: Option<Vec<Channel>>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<Uuid>>,
    /// With or without an owner.
    pub has_owner: Option<bool>,
    /// At this account.
    pub account_id: Option<Uuid>,
    /// First touched by this campaign.
    pub source_campaign_id: Option<Uuid>,
    /// Sourced by, or with any activity in, this campaign.
    pub campaign_id: Option<Uuid>,
    /// With one of these SLA statuses.
    pub sla_statuses: Option<Vec<SlaStatus>>,
    /// Created in this range.
    pub created_at: Option<TimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<TimeRange>,
    /// With, or without, an id in an external system.
    pub external_ids: super::external_ids::Presence,
}

/// How to order leads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LeadSort {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By email (personal data).
    Email,
    /// By fit score.
    FitScore,
    /// By engagement score.
    EngagementScore,
}

fn sort_key(sort: LeadSort, descending: bool) -> SortKey<lead::Entity> {
    use lead::Column as C;
    let (name, column, key_of): (_, _, KeyOf<lead::Entity>) = match sort {
        LeadSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        LeadSort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
        }),
        LeadSort::Email => ("EMAIL", C::Email, |m| {
            let email = m.email.clone().map_or(SortValue::Null, SortValue::Text);
            (email, m.id)
        }),
        LeadSort::FitScore => ("FIT_SCORE", C::FitScore, |m| {
            (SortValue::Int(m.fit_score.into()), m.id)
        }),
        LeadSort::EngagementScore => ("ENGAGEMENT_SCORE", C::EngagementScore, |m| {
            (SortValue::Int(m.engagement_score.into()), m.id)
        }),
    };
    SortKey {
        name,
        column,
        id_column: C::Id,
        descending,
        key_of,
    }
}

/// The leads matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &LeadFilter) -> Select<lead::Entity> {
    use lead::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::Email, C::FirstName, C::LastName, C::CompanyName]))
    {
        cond = cond.add(search);
    }
    if let Some(v) = &filter.stages {
        cond = cond.add(C::Stage.is_in(v.iter().copied()));
    }
    if let Some(v) = &filter.sources {
        cond = cond.add(C::Source.is_in(v.iter().copied()));
    }
    if let Some(v) = &filter.owner_ids {
        cond = cond.add(C::OwnerId.is_in(v.iter().copied()));
    }
    match filter.has_owner {
        Some(true) => cond = cond.add(C::OwnerId.is_not_null()),
        Some(false) => cond = cond.add(C::OwnerId.is_null()),
        None => {}
    }
    if let Some(v) = filter.account_id {
        cond = cond.add(C::AccountId.eq(v));
    }
    if let Some(v) = filter.source_campaign_id {
        cond = cond.add(C::SourceCampaignId.eq(v));
    }
    if let Some(campaign) = filter.campaign_id {
        let touched = Query::select()
            .column(activity::Column::LeadId)
            .from(activity::Entity)
            .and_where(Expr::col(activity::Column::CampaignId).eq(campaign))
            .and_where(Expr::col(activity::Column::DeletedAt).is_null())
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(C::SourceCampaignId.eq(campaign))
                .add(C::Id.in_subquery(touched)),
        );
    }
    if let Some(v) = &filter.sla_statuses {
        cond = cond.add(C::SlaStatus.is_in(v.iter().copied()));
    }
    cond = in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    cond = in_range(cond, C::UpdatedAt, filter.updated_at.as_ref());
    cond = filter.external_ids.apply::<lead::Entity>(cond);
    lead::Entity::live().filter(cond)
}

/// One page of leads. Searching or ordering by personal data needs the
/// right to read it: otherwise the answer would leak it.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &LeadFilter,
    sort: LeadSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<lead::Model>> {
    viewer.require(Action::ReadRecords)?;
    if filter.search.is_some() || sort == LeadSort::Email {
        viewer.require(Action::ReadPersonalData)?;
    }
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The fields of a lead a caller may set, with their rules.
pub type LeadFields = LeadPatch;

/// Validates and normalises the fields, checking the records they link
/// and that no other live lead (`current` is the one edited) has the email.
async fn validate(
    db: &impl ConnectionTrait,
    fields: LeadFields,
    current: Option<&lead::Model>,
) -> AppResult<LeadFields> {
    let mut checked = fields.validate(current.is_none(), false);
    links::check(db, checked.patch.links(), &mut checked.errors).await?;
    if let Some(row) = current
        && !checked.patch.identifies(row)
        && external_ids::of_records(db, ObjectType::Lead, &[row.id])
            .await?
            .is_empty()
    {
        checked
            .errors
            .add("email", UserErrorCode::Required, NO_IDENTITY);
    }
    if let Some(Some(email)) = &checked.patch.email
        && current.and_then(|c| c.email.as_ref()) != Some(email)
        && let Some(holder) = email_holders(db, std::slice::from_ref(email))
            .await?
            .get(email)
            .filter(|id| Some(**id) != current.map(|c| c.id))
    {
        checked
            .errors
            .add("email", UserErrorCode::Taken, email_taken(email, *holder));
    }
    checked.finish()
}

/// The email `fields` give a lead, normalised as validation does, to lock
/// before any row (every writer takes the email locks first, so a writer
/// holding a row never waits for an email lock held by one waiting for
/// that row).
fn requested_email(fields: &LeadFields) -> Vec<String> {
    let email = fields.email.clone().flatten();
    email.map(|e| e.trim().to_lowercase()).into_iter().collect()
}

/// Seed of the PostgreSQL advisory-lock keys of lead emails (any constant
/// other writers of advisory locks do not use).
const EMAIL_LOCK_SEED: i64 = 0x1ead_e3a1;

/// Serialises, until the transaction ends, the writers that give leads
/// these emails, so two of them cannot both find an email free and both
/// take it. PostgreSQL takes one transaction-scoped advisory lock per email
/// (in key order, so two writers cannot deadlock on them); SQLite needs
/// none, as its write transactions take the database's write lock when
/// they begin ([`begin_write`]).
pub(crate) async fn lock_emails(db: &impl ConnectionTrait, emails: &[String]) -> AppResult<()> {
    if emails.is_empty() || db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for part in emails.chunks(1_000) {
        let rows: Vec<String> = (1..=part.len()).map(|i| format!("(${i}::text)")).collect();
        let sql = format!(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(e, \
             {EMAIL_LOCK_SEED}) AS k FROM (VALUES {}) AS v(e) ORDER BY k) AS keys",
            rows.join(", ")
        );
        let values = part.iter().map(|e| e.clone().into());
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

/// The live leads holding any of `emails` (stored trimmed and lower case),
/// by email. Should older data hold an email twice, either lead is named.
pub(crate) async fn email_holders(
    db: &impl ConnectionTrait,
    emails: &[String],
) -> AppResult<HashMap<String, Uuid>> {
    let mut holders = HashMap::new();
    for part in emails.chunks(1_000) {
        let rows: Vec<(Uuid, Option<String>)> = lead::Entity::live()
            .select_only()
            .column(lead::Column::Id)
            .column(lead::Column::Email)
            .filter(lead::Column::Email.is_in(part.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        holders.extend(rows.into_iter().filter_map(|(id, e)| e.map(|e| (e, id))));
    }
    Ok(holders)
}

/// The message of an email another live lead has, naming that lead by its
/// global id.
pub(crate) fn email_taken(email: &str, holder: Uuid) -> String {
    let id = crate::domain::global_id::encode(ObjectType::Lead, holder);
    format!("lead {id} already has the email {email}")
}

/// Creates a lead in stage NEW and records that stage change.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: LeadFields,
) -> AppResult<lead::Model> {
    viewer.require(Action::CreateLead)?;
    let txn = begin_write(db).await?;
    lock_emails(&txn, &requested_email(&fields)).await?;
    let fields = validate(&txn, fields, None).await?;
    let at = records::now();
    let mut am = lead::ActiveModel {
        stage: Set(LeadStage::New),
        stage_entered_at: Set(at),
        fit_score: Set(0),
        engagement_score: Set(0),
        recycle_count: Set(0),
        deleted_at: Set(None),
        ..Default::default()
    };
    fields.apply(&mut am);
    let model = records::insert::<lead::Entity>(&txn, viewer, am).await?;
    stage_moves::record(
        &txn,
        StageMove::lead_created(model.id, model.created_at, Some(viewer.user_id)),
    )
    .await?;
    let model = rescored(&txn, model.id, viewer).await?;
    txn.commit().await?;
    Ok(model)
}

/// Rescores a lead whose data changed and returns it as it now is.
async fn rescored(txn: &impl ConnectionTrait, id: Uuid, viewer: &Viewer) -> AppResult<lead::Model> {
    scoring::rescore_if_approved(txn, Scope::Leads(vec![id]), Some(viewer.user_id)).await?;
    records::lock::<lead::Entity>(txn, id).await
}

/// Edits a lead's data (not its stage). SALES may edit only leads it owns.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: LeadFields,
) -> AppResult<lead::Model> {
    viewer.require(Action::UpdateLead)?;
    let txn = begin_write(db).await?;
    lock_emails(&txn, &requested_email(&fields)).await?;
    let current = records::lock::<lead::Entity>(&txn, id).await?;
    viewer.require_on(Action::UpdateLead, current.owner_id)?;
    records::check_version("lead", current.version, expected_version)?;
    let fields = validate(&txn, fields, Some(&current)).await?;
    let (model, changed) =
        records::update::<lead::Entity>(&txn, Some(viewer.user_id), current, |am| fields.apply(am))
            .await?;
    let model = if changed {
        rescored(&txn, model.id, viewer).await?
    } else {
        model
    };
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes a lead.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::DeleteLead)?;
    records::delete_by_id::<lead::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
