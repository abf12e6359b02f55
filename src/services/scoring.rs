//! Scoring leads under the approved lead definition, and the automatic
//! NEW -> MQL step that follows from it.
//!
//! Leads are rescored in batches of [`BATCH`]: three queries load the
//! batch's leads, accounts and marketing activities, the scores are computed
//! in Rust ([`crate::domain::scoring`]), and one statement writes every
//! changed score of the batch. Leads whose scores change get a new version and
//! a change-log entry; NEW leads that now qualify become MQL with their SLA
//! clocks started. An MQL that no longer qualifies under a new definition
//! stays MQL (sales may already be working it); its scores show the change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    account, activity, change_log,
    enums::{
        ActivityKind, ChangeOperation, DefinitionStatus, LeadStage, ObjectType, SlaStatus,
        StageSubject,
    },
    event::EventKind,
    lead, lead_definition, stage_change,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    events::{self, NewEvent},
    records::Record,
};
use crate::{
    domain::{
        lifecycle,
        scoring::{self, EngagementRules, FitCriteria, FitInput},
        sla::SlaClock,
    },
    error::{AppError, AppResult},
};

/// Leads per batch: three reads and at most three writes each.
pub const BATCH: u64 = 1000;

/// The approved definition, with its criteria parsed.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The row.
    pub model: lead_definition::Model,
    /// Fit criteria.
    pub fit: FitCriteria,
    /// Engagement rules.
    pub rules: EngagementRules,
}

impl Definition {
    /// Parses a stored definition.
    pub fn parse(model: lead_definition::Model) -> AppResult<Self> {
        let fit = serde_json::from_value(model.fit_criteria.clone()).map_err(|e| {
            AppError::Internal(format!(
                "lead definition {} has bad fit criteria: {e}",
                model.version
            ))
        })?;
        let rules = serde_json::from_value(model.engagement_rules.clone()).map_err(|e| {
            AppError::Internal(format!(
                "lead definition {} has bad engagement rules: {e}",
                model.version
            ))
        })?;
        Ok(Self { model, fit, rules })
    }
}

/// The approved definition, if any.
pub async fn approved(db: &impl ConnectionTrait) -> AppResult<Option<Definition>> {
    lead_definition::Entity::find()
        .filter(lead_definition::Column::Status.eq(DefinitionStatus::Approved))
        .order_by_desc(lead_definition::Column::Version)
        .one(db)
        .await?
        .map(Definition::parse)
        .transpose()
}

/// Which leads to rescore.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every open lead (after a definition is approved).
    AllOpen,
    /// These leads (after an activity or a data change).
    Leads(Vec<Uuid>),
    /// The leads of this account (after the account's data changed).
    Account(Uuid),
}

/// What a rescoring did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescored {
    /// Leads looked at.
    pub scored: u64,
    /// Leads whose fit or engagement score changed.
    pub changed: u64,
    /// NEW leads that became MQL.
    pub became_mql: u64,
}

/// The scores of one lead now.
pub struct LeadScores {
    /// Fit, with its breakdown.
    pub fit: scoring::Score,
    /// Engagement, with its breakdown.
    pub engagement: scoring::Score,
}

/// Scores one lead (for its breakdowns) without writing anything.
pub async fn score_one(
    db: &impl ConnectionTrait,
    definition: &Definition,
    lead: &lead::Model,
    now: DateTime<Utc>,
) -> AppResult<LeadScores> {
    let account = match lead.account_id {
        Some(id) => {
            account::Entity::live()
                .filter(account::Column::Id.eq(id))
                .one(db)
                .await?
        }
        None => None,
    };
    let activities = marketing_activities(db, &[lead.id]).await?;
    Ok(scores(
        definition,
        lead,
        account.as_ref(),
        activities.get(&lead.id).map(Vec::as_slice).unwrap_or(&[]),
        now,
    ))
}

fn scores(
    definition: &Definition,
    lead: &lead::Model,
    account: Option<&account::Model>,
    activities: &[(ActivityKind, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> LeadScores {
    let input = FitInput {
        industry: account.and_then(|a| a.industry.as_deref()),
        employee_count: account.and_then(|a| a.employee_count),
        seniority: lead.seniority,
        job_title: lead.job_title.as_deref(),
        country: lead
            .country
            .as_deref()
            .or_else(|| account.and_then(|a| a.country.as_deref())),
        is_target_account: account.is_some_and(|a| a.is_target_account),
    };
    LeadScores {
        fit: scoring::fit_score(&definition.fit, &input),
        engagement: scoring::engagement_score(
            &definition.rules,
            definition.model.half_life_days,
            activities,
            now,
        ),
    }
}

async fn marketing_activities(
    db: &impl ConnectionTrait,
    lead_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<(ActivityKind, DateTime<Utc>)>>> {
    let rows: Vec<(Uuid, ActivityKind, DateTime<Utc>)> = activity::Entity::live()
        .select_only()
        .column(activity::Column::LeadId)
        .column(activity::Column::Kind)
        .column(activity::Column::OccurredAt)
        .filter(activity::Column::LeadId.is_in(lead_ids.iter().copied()))
        .filter(activity::Column::Kind.is_not_in([
            ActivityKind::Call,
            ActivityKind::EmailSent,
            ActivityKind::Meeting,
        ]))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_lead: HashMap<Uuid, Vec<_>> = HashMap::new();
    for (lead, kind, at) in rows {
        by_lead.entry(lead).or_default().push((kind, at));
    }
    Ok(by_lead)
}

/// Rescores leads under the approved definition, if there is one (after
/// their data, their account's data or their activities changed). Runs
/// inside the caller's transaction.
pub async fn rescore_if_approved(
    txn: &impl ConnectionTrait,
    scope: Scope,
    actor: Option<Uuid>,
) -> AppResult<Rescored> {
    match approved(txn).await? {
        Some(definition) => rescore(txn, &definition, scope, actor, super::records::now()).await,
        None => Ok(Rescored::default()),
    }
}

/// Rescores leads under `definition` and moves NEW leads that qualify to
/// MQL. Runs inside the caller's transaction.
pub async fn rescore(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    scope: Scope,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Rescored> {
    let mut total = Rescored::default();
    let open: Vec<LeadStage> = LeadStage::iter()
        .filter(|s| lifecycle::is_open(*s))
        .collect();
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = lead::Entity::live()
            .filter(lead::Column::Stage.is_in(open.clone()))
            .order_by_asc(lead::Column::Id)
            .limit(BATCH);
        match &scope {
            Scope::AllOpen => {}
            Scope::Leads(ids) => query = query.filter(lead::Column::Id.is_in(ids.iter().copied())),
            Scope::Account(id) => query = query.filter(lead::Column::AccountId.eq(*id)),
        }
        if let Some(after) = after {
            query = query.filter(lead::Column::Id.gt(after));
        }
        let leads = query.all(txn).await?;
        let Some(last) = leads.last() else { break };
        after = Some(last.id);
        let batch = rescore_batch(txn, definition, &leads, actor, now).await?;
        total.scored += batch.scored;
        total.changed += batch.changed;
        total.became_mql += batch.became_mql;
        if (leads.len() as u64) < BATCH {
            break;
        }
    }
    Ok(total)
}

async fn rescore_batch(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    leads: &[lead::Model],
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Rescored> {
    let account_ids: Vec<Uuid> = leads.iter().filter_map(|l| l.account_id).collect();
    let accounts: HashMap<Uuid, account::Model> = account::Entity::live()
        .filter(account::Column::Id.is_in(account_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let lead_ids: Vec<Uuid> = leads.iter().map(|l| l.id).collect();
    let activities = marketing_activities(txn, &lead_ids).await?;

    let mut changed: Vec<(Uuid, i32, i32)> = vec![];
    let mut qualifying: Vec<Uuid> = vec![];
    for lead in leads {
        let s = scores(
            definition,
            lead,
            lead.account_id.and_then(|id| accounts.get(&id)),
            activities.get(&lead.id).map(Vec::as_slice).unwrap_or(&[]),
            now,
        );
        let (fit, engagement) = (s.fit.value, s.engagement.value);
        if (fit, engagement) != (lead.fit_score, lead.engagement_score) {
            changed.push((lead.id, fit, engagement));
        }
        if lead.stage == LeadStage::New
            && scoring::qualifies(
                fit,
                engagement,
                definition.model.mql_fit_min,
                definition.model.mql_engagement_min,
            )
        {
            qualifying.push(lead.id);
        }
    }
    write_scores(txn, &changed, now).await?;
    let qualifying = become_mql(txn, definition, &qualifying, actor, now).await?;

    let mut log: Vec<change_log::ActiveModel> = changed
        .iter()
        .filter(|(id, _, _)| !qualifying.contains(id))
        .map(|(id, _, _)| log_entry(*id, actor, &["fitScore", "engagementScore"], now))
        .collect();
    log.extend(qualifying.iter().map(|id| {
        log_entry(
            *id,
            actor,
            &["fitScore", "engagementScore", "stage", "mqlAt", "slaStatus"],
            now,
        )
    }));
    if !log.is_empty() {
        change_log::Entity::insert_many(log)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Rescored {
        scored: leads.len() as u64,
        changed: changed.len() as u64,
        became_mql: qualifying.len() as u64,
    })
}

fn log_entry(
    id: Uuid,
    actor: Option<Uuid>,
    fields: &[&str],
    at: DateTime<Utc>,
) -> change_log::ActiveModel {
    change_log::ActiveModel {
        object_type: Set(ObjectType::Lead),
        object_id: Set(id),
        operation: Set(ChangeOperation::Upsert),
        actor_id: Set(actor),
        changed_fields: Set(Some(serde_json::Value::from(
            fields.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>(),
        ))),
        at: Set(at),
        ..Default::default()
    }
}

/// One statement for the whole batch: `WITH v(id, fit, eng) AS (VALUES ...)
/// UPDATE leads ... FROM v`, which both engines understand.
async fn write_scores(
    txn: &impl ConnectionTrait,
    rows: &[(Uuid, i32, i32)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 3 + 1);
    let mut tuples = Vec::with_capacity(rows.len());
    let placeholder = |values: &mut Vec<Value>, v: Value| {
        values.push(v);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    // Values are bound in the order their placeholders appear in the SQL
    // text: SQLite's `?` are positional.
    for (i, (id, fit, eng)) in rows.iter().enumerate() {
        let id = placeholder(&mut values, (*id).into());
        let fit = placeholder(&mut values, (*fit).into());
        let eng = placeholder(&mut values, (*eng).into());
        // PostgreSQL types the CTE's columns from its first row.
        tuples.push(if i == 0 && backend == DbBackend::Postgres {
            format!("({id}::uuid, {fit}::integer, {eng}::integer)")
        } else {
            format!("({id}, {fit}, {eng})")
        });
    }
    let now_param = placeholder(&mut values, now.into());
    let sql = format!(
        "WITH v(id, fit, eng) AS (VALUES {}) \
         UPDATE leads SET fit_score = v.fit, engagement_score = v.eng, \
         version = leads.version + 1, updated_at = {now_param} \
         FROM v WHERE leads.id = v.id",
        tuples.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Moves NEW leads to MQL under `definition`, starting their SLA clocks,
/// and returns the leads it moved: the update only takes leads still NEW
/// (`RETURNING` tells which), and only those get a stage change and an event.
async fn become_mql(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    ids: &[Uuid],
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let clock = SlaClock::start(
        now,
        definition.model.first_contact_hours,
        definition.model.disposition_hours,
    );
    let moved = lead::Entity::update_many()
        .col_expr(lead::Column::Stage, LeadStage::Mql.as_str().into())
        .col_expr(lead::Column::StageEnteredAt, now.into())
        .col_expr(lead::Column::MqlAt, Some(now).into())
        .col_expr(
            lead::Column::QualifiedUnderId,
            Some(definition.model.id).into(),
        )
        .col_expr(
            lead::Column::SlaFirstContactDueAt,
            Some(clock.first_contact_due_at).into(),
        )
        .col_expr(
            lead::Column::SlaDispositionDueAt,
            Some(clock.disposition_due_at).into(),
        )
        .col_expr(
            lead::Column::FirstContactedAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(
            lead::Column::DispositionedAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(
            lead::Column::SlaStatus,
            Some(SlaStatus::OnTrack.as_str()).into(),
        )
        .col_expr(lead::Column::UpdatedAt, now.into())
        .col_expr(
            lead::Column::Version,
            Expr::col(lead::Column::Version).add(1),
        )
        .filter(lead::Column::Id.is_in(ids.iter().copied()))
        .filter(lead::Column::Stage.eq(LeadStage::New))
        .exec_with_returning(txn)
        .await?;
    let reason = format!(
        "scores reached the thresholds of lead definition v{}",
        definition.model.version
    );
    let changes = moved.iter().map(|l| stage_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        subject_type: Set(StageSubject::Lead),
        subject_id: Set(l.id),
        from_stage: Set(Some(LeadStage::New.as_str().to_owned())),
        to_stage: Set(LeadStage::Mql.as_str().to_owned()),
        at: Set(now),
        actor_id: Set(actor),
        reason: Set(Some(reason.clone())),
    });
    if !moved.is_empty() {
        stage_change::Entity::insert_many(changes)
            .exec_without_returning(txn)
            .await?;
    }
    events::emit(
        txn,
        moved
            .iter()
            .map(|l| NewEvent {
                kind: EventKind::LeadBecameMql,
                subject_id: l.id,
                owner_id: l.owner_id,
                at: now,
                data: Some(serde_json::json!({
                    "definitionVersion": definition.model.version,
                    "fitScore": l.fit_score,
                    "engagementScore": l.engagement_score,
                })),
            })
            .collect(),
    )
    .await?;
    Ok(moved.into_iter().map(|l| l.id).collect())
}
