//! Scoring leads under the approved lead definition, and the automatic
//! NEW -> MQL step that follows from it.
//!
//! Leads are rescored in batches of [`BATCH`] in id order. Per batch: one
//! query reads the columns scoring needs of the leads and their live
//! accounts, one reads their marketing activities, the score values are
//! computed in Rust ([`crate::domain::scoring`]; no breakdown text), one
//! statement writes every changed score and one appends their change-log
//! entries. Id lists are bound as one array parameter on PostgreSQL
//! (`= ANY($1)`, `unnest($1)`), so every statement is prepared once per
//! connection whatever the batch holds. NEW leads that now qualify become MQL
//! with their SLA clocks started. An MQL that no longer qualifies under a new
//! definition stays MQL (sales may already be working it); its scores show
//! the change.
//!
//! A score-only change bumps `version` and is logged (`fitScore`,
//! `engagementScore`) but does not move `updated_at`: scores are derived from
//! the lead, its account, its activities and the definition, and every
//! lead's `updated_at` moving at each approval would make "what changed
//! since" mean "everything". Not touching the indexed `updated_at` also lets
//! PostgreSQL update the row in place (a heap-only tuple update, with no new
//! entry in any of `leads`' indexes; the table keeps room for it, see
//! migration `m20261202_000008`). A lead that becomes MQL does move
//! `updated_at`: its stage and SLA fields changed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    account, activity,
    enums::{
        ActivityKind, ChangeOperation, DefinitionStatus, LeadStage, ObjectType, Seniority,
        SlaStatus,
    },
    event::EventKind,
    lead, lead_definition,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Iterable, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, Statement, Value,
    sea_query::{Expr, ExprTrait, IntoCondition, extension::postgres::PgFunc},
};
use uuid::Uuid;

use super::{
    events::{self, NewEvent},
    records::Record,
};
use crate::{
    domain::{
        lifecycle::{self, LeadAction},
        scoring::{self, EngagementRules, FitCriteria, FitInput},
        sla::SlaClock,
        stage_move::StageMove,
    },
    error::{AppError, AppResult},
};

/// Leads per batch: two reads and at most four writes each. The score
/// update binds about 36 bytes per lead; at 400 leads its message stays
/// under 16 KB, past which sqlx 0.9.0 (which did not set `TCP_NODELAY`,
/// sqlx issue #4335; 0.9.1 does) could wait ~40 ms for the server's delayed
/// ACK.
pub const BATCH: u64 = 400;

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
    let subject = Subject::new(lead, account.as_ref());
    let activities = marketing_activities(db, &[lead.id]).await?;
    let activities = activities.get(&lead.id).map(Vec::as_slice).unwrap_or(&[]);
    let model = &definition.model;
    Ok(LeadScores {
        fit: scoring::fit_score(&definition.fit, &subject.fit_input()),
        engagement: scoring::engagement_score(
            &definition.rules,
            model.half_life_days,
            activities,
            now,
        ),
    })
}

/// What fit scoring reads of a live account.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AccountFit {
    id: Uuid,
    industry: Option<String>,
    employee_count: Option<i32>,
    country: Option<String>,
    is_target_account: bool,
}

/// The fit columns of those of `ids` that are live accounts, by id.
pub async fn account_fits(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, AccountFit>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    use account::Column as C;
    let rows = account::Entity::live()
        .select_only()
        .columns([
            C::Id,
            C::Industry,
            C::EmployeeCount,
            C::Country,
            C::IsTargetAccount,
        ])
        .filter(one_of(C::Id, ids, db.get_database_backend()))
        .into_model::<AccountFit>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|a| (a.id, a)).collect())
}

/// What fit scoring reads of a lead about to be created.
#[derive(Debug, Clone, Copy)]
pub struct NewLead<'a> {
    /// The stage it is created in.
    pub stage: LeadStage,
    /// Its seniority.
    pub seniority: Option<Seniority>,
    /// Its job title.
    pub job_title: Option<&'a str>,
    /// Its own country (its account's counts when it has none).
    pub country: Option<&'a str>,
    /// Its live account, if any.
    pub account: Option<&'a AccountFit>,
}

/// The fit and engagement scores `lead` gets under `definition` when it is
/// created: the values [`rescore`] would write right after its insert,
/// computed before it so that a bulk insert stores the lead with them at
/// version 1 (one write and one change-log entry instead of two). A new
/// lead has no activity yet. `None` for a lead created in a closed stage:
/// rescoring reads open leads only, so it keeps the scores it has.
pub fn new_lead_scores(
    definition: &Definition,
    lead: NewLead<'_>,
    now: DateTime<Utc>,
) -> Option<(i32, i32)> {
    if !lifecycle::is_open(lead.stage) {
        return None;
    }
    let account = lead.account;
    // The same reading of the lead and its account as rescoring's.
    let subject = Subject {
        id: Uuid::nil(),
        stage: lead.stage,
        fit_score: 0,
        engagement_score: 0,
        seniority: lead.seniority,
        job_title: lead.job_title.map(str::to_owned),
        country: lead.country.map(str::to_owned),
        industry: account.and_then(|a| a.industry.clone()),
        employee_count: account.and_then(|a| a.employee_count),
        account_country: account.and_then(|a| a.country.clone()),
        is_target_account: account.map(|a| a.is_target_account),
    };
    let fit = scoring::fit_value(&definition.fit, &subject.fit_input());
    let engagement =
        scoring::engagement_value(&definition.rules, definition.model.half_life_days, &[], now);
    Some((fit, engagement))
}

/// Whether a lead in `stage` with these scores becomes MQL under
/// `definition` (only NEW leads move).
pub fn qualifies(definition: &Definition, stage: LeadStage, (fit, engagement): (i32, i32)) -> bool {
    let model = &definition.model;
    stage == LeadStage::New
        && scoring::qualifies(fit, engagement, model.mql_fit_min, model.mql_engagement_min)
}

/// Moves leads created in this transaction with qualifying scores (see
/// [`new_lead_scores`]) from NEW to MQL, as rescoring would have right
/// after their insert: SLA clocks, stage change, event and a change-log
/// entry each. Returns the leads it moved.
#[tracing::instrument(skip_all, fields(definition.id = %definition.model.id, leads = ids.len()))]
pub async fn qualify_created(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    ids: &[Uuid],
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    let moved = become_mql(txn, definition, ids, actor, now).await?;
    log_changes(txn, &moved, &["stage", "mqlAt", "slaStatus"], actor, now).await?;
    Ok(moved)
}

/// What scoring reads of a lead and of its live account: the columns
/// rescoring selects, so a batch decodes a few columns instead of whole rows.
#[derive(Debug, Clone, FromQueryResult)]
struct Subject {
    id: Uuid,
    stage: LeadStage,
    fit_score: i32,
    engagement_score: i32,
    seniority: Option<Seniority>,
    job_title: Option<String>,
    country: Option<String>,
    /// The account's; `None` without a live account, like the three below.
    industry: Option<String>,
    employee_count: Option<i32>,
    account_country: Option<String>,
    is_target_account: Option<bool>,
}

impl Subject {
    fn new(lead: &lead::Model, account: Option<&account::Model>) -> Self {
        Self {
            id: lead.id,
            stage: lead.stage,
            fit_score: lead.fit_score,
            engagement_score: lead.engagement_score,
            seniority: lead.seniority,
            job_title: lead.job_title.clone(),
            country: lead.country.clone(),
            industry: account.and_then(|a| a.industry.clone()),
            employee_count: account.and_then(|a| a.employee_count),
            account_country: account.and_then(|a| a.country.clone()),
            is_target_account: account.map(|a| a.is_target_account),
        }
    }

    /// The lead's own country wins over its account's.
    fn fit_input(&self) -> FitInput<'_> {
        FitInput {
            industry: self.industry.as_deref(),
            employee_count: self.employee_count,
            seniority: self.seniority,
            job_title: self.job_title.as_deref(),
            country: self.country.as_deref().or(self.account_country.as_deref()),
            is_target_account: self.is_target_account.unwrap_or(false),
        }
    }
}

/// `column IN (ids)`. On PostgreSQL the ids are one array parameter
/// (`column = ANY($1)`), so the statement text, and the plan prepared for
/// it, do not change with the number of ids.
fn one_of(column: impl ColumnTrait, ids: &[Uuid], backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(ids.to_vec()))),
        _ => column.is_in(ids.iter().copied()),
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
        .filter(one_of(
            activity::Column::LeadId,
            lead_ids,
            db.get_database_backend(),
        ))
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
#[tracing::instrument(skip_all, fields(definition.id = %definition.model.id))]
pub async fn rescore(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    scope: Scope,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Rescored> {
    let mut total = Rescored::default();
    let mut after: Option<Uuid> = None;
    loop {
        let leads = subjects(txn, &scope, after).await?;
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

/// The next [`BATCH`] open leads of `scope` after `after`, by id, with their
/// live accounts' columns.
async fn subjects(
    db: &impl ConnectionTrait,
    scope: &Scope,
    after: Option<Uuid>,
) -> AppResult<Vec<Subject>> {
    use lead::Column as C;
    let open: Vec<LeadStage> = LeadStage::iter()
        .filter(|s| lifecycle::is_open(*s))
        .collect();
    let mut query = lead::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::Stage,
            C::FitScore,
            C::EngagementScore,
            C::Seniority,
            C::JobTitle,
            C::Country,
        ])
        .column_as(account::Column::Industry, "industry")
        .column_as(account::Column::EmployeeCount, "employee_count")
        .column_as(account::Column::Country, "account_country")
        .column_as(account::Column::IsTargetAccount, "is_target_account")
        .join(
            JoinType::LeftJoin,
            lead::Relation::Account.def().on_condition(|_, account| {
                Expr::col((account, account::Column::DeletedAt))
                    .is_null()
                    .into_condition()
            }),
        )
        .filter(C::DeletedAt.is_null())
        .filter(C::Stage.is_in(open))
        .order_by_asc(C::Id)
        .limit(BATCH);
    match scope {
        Scope::AllOpen => {}
        Scope::Leads(ids) => query = query.filter(C::Id.is_in(ids.iter().copied())),
        Scope::Account(id) => query = query.filter(C::AccountId.eq(*id)),
    }
    if let Some(after) = after {
        query = query.filter(C::Id.gt(after));
    }
    Ok(query.into_model::<Subject>().all(db).await?)
}

async fn rescore_batch(
    txn: &impl ConnectionTrait,
    definition: &Definition,
    leads: &[Subject],
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Rescored> {
    let lead_ids: Vec<Uuid> = leads.iter().map(|l| l.id).collect();
    let activities = marketing_activities(txn, &lead_ids).await?;

    let model = &definition.model;
    let mut changed: Vec<(Uuid, i32, i32)> = vec![];
    let mut qualifying: Vec<Uuid> = vec![];
    for lead in leads {
        let fit = scoring::fit_value(&definition.fit, &lead.fit_input());
        let engagement = scoring::engagement_value(
            &definition.rules,
            model.half_life_days,
            activities.get(&lead.id).map(Vec::as_slice).unwrap_or(&[]),
            now,
        );
        if (fit, engagement) != (lead.fit_score, lead.engagement_score) {
            changed.push((lead.id, fit, engagement));
        }
        if qualifies(definition, lead.stage, (fit, engagement)) {
            qualifying.push(lead.id);
        }
    }
    write_scores(txn, &changed).await?;
    let moved = become_mql(txn, definition, &qualifying, actor, now).await?;

    let scores_only: Vec<Uuid> = changed
        .iter()
        .map(|(id, _, _)| *id)
        .filter(|id| !moved.contains(id))
        .collect();
    log_changes(
        txn,
        &scores_only,
        &["fitScore", "engagementScore"],
        actor,
        now,
    )
    .await?;
    log_changes(
        txn,
        &moved,
        &["fitScore", "engagementScore", "stage", "mqlAt", "slaStatus"],
        actor,
        now,
    )
    .await?;
    Ok(Rescored {
        scored: leads.len() as u64,
        changed: changed.len() as u64,
        became_mql: moved.len() as u64,
    })
}

/// Binds a value and returns its placeholder: `$n` on PostgreSQL, `?` on
/// SQLite (positional there, so values are bound in the order their
/// placeholders appear in the SQL text).
fn placeholder(backend: DbBackend, values: &mut Vec<Value>, value: Value) -> String {
    values.push(value);
    match backend {
        DbBackend::Postgres => format!("${}", values.len()),
        _ => "?".to_owned(),
    }
}

/// One statement for the whole batch: `WITH v(id, fit, eng) AS (...) UPDATE
/// leads ... FROM v`. On PostgreSQL `v` unnests three array parameters (one
/// prepared statement for every batch), and `leads.id = ANY($1)` lets the
/// planner fetch the rows by primary key instead of joining the table. The
/// update bumps `version` but leaves `updated_at` (see the module docs).
async fn write_scores(txn: &impl ConnectionTrait, rows: &[(Uuid, i32, i32)]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let (source, filter, values) = if backend == DbBackend::Postgres {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        let fits: Vec<i32> = rows.iter().map(|r| r.1).collect();
        let engs: Vec<i32> = rows.iter().map(|r| r.2).collect();
        (
            "SELECT * FROM unnest($1::uuid[], $2::integer[], $3::integer[])".to_owned(),
            " AND leads.id = ANY($1)",
            vec![ids.into(), fits.into(), engs.into()],
        )
    } else {
        let mut values = Vec::with_capacity(rows.len() * 3);
        let mut tuples = Vec::with_capacity(rows.len());
        for (id, fit, eng) in rows {
            let id = placeholder(backend, &mut values, (*id).into());
            let fit = placeholder(backend, &mut values, (*fit).into());
            let eng = placeholder(backend, &mut values, (*eng).into());
            tuples.push(format!("({id}, {fit}, {eng})"));
        }
        (format!("VALUES {}", tuples.join(", ")), "", values)
    };
    let sql = format!(
        "WITH v(id, fit, eng) AS ({source}) \
         UPDATE leads SET fit_score = v.fit, engagement_score = v.eng, \
         version = leads.version + 1 \
         FROM v WHERE leads.id = v.id{filter}"
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Appends one change-log entry per lead, all naming `fields`, in one
/// statement (`INSERT ... SELECT` over the ids: an array parameter on
/// PostgreSQL, `VALUES` on SQLite).
async fn log_changes(
    txn: &impl ConnectionTrait,
    ids: &[Uuid],
    fields: &[&str],
    actor: Option<Uuid>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut values = Vec::with_capacity(ids.len() + 5);
    // The ids come first in the SQL text, so they are bound first.
    let source = if backend == DbBackend::Postgres {
        let ids = placeholder(backend, &mut values, ids.to_vec().into());
        format!("SELECT * FROM unnest({ids}::uuid[])")
    } else {
        let tuples: Vec<String> = ids
            .iter()
            .map(|id| format!("({})", placeholder(backend, &mut values, (*id).into())))
            .collect();
        format!("VALUES {}", tuples.join(", "))
    };
    let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    let mut bind = |v: Value| placeholder(backend, &mut values, v);
    let object_type = bind(ObjectType::Lead.as_str().into());
    let operation = bind(ChangeOperation::Upsert.as_str().into());
    let actor = bind(actor.into());
    let fields = bind(serde_json::Value::from(fields).into());
    let at = bind(at.into());
    let sql = format!(
        "WITH u(id) AS ({source}) \
         INSERT INTO change_log (object_type, object_id, operation, actor_id, changed_fields, at) \
         SELECT {object_type}, u.id, {operation}, {actor}, {fields}, {at} FROM u"
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
        .filter(one_of(lead::Column::Id, ids, txn.get_database_backend()))
        .filter(lead::Column::Stage.eq(LeadStage::New))
        .exec_with_returning(txn)
        .await?;
    let reason = format!(
        "scores reached the thresholds of lead definition v{}",
        definition.model.version
    );
    let moves = moved
        .iter()
        .map(|l| {
            StageMove::lead(l.id, LeadStage::New, LeadAction::BecomeMql, now, actor)
                .map(|m| m.because(Some(reason.clone())))
                .map_err(|e| AppError::Internal(e.to_string()))
        })
        .collect::<AppResult<Vec<_>>>()?;
    super::stage_moves::record_all(txn, moves).await?;
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
