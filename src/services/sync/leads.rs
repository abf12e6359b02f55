//! `upsertLeads`: leads by external id, with their stage history.
//!
//! A lead's stage comes as the source system spells it (mapped by
//! [`crm::lead_stage`]) with the date it was entered; older stages may come
//! as a history of `(stage, enteredAt)`. Each move is written as a stage
//! change stamped with the source's date, under the sync policy of
//! [`crm::sync_move`]: skips forward are recorded as one move, and a stage
//! the lead has passed is never taken back (the result carries a warning).
//! Moves already known (dated at or before the lead's current stage entry)
//! are skipped, which keeps replays silent.
//!
//! Synced moves do not start SLA clocks and send no live events: they
//! record history that happened in the source system.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    enums::{Channel, ExternalSystem, LeadStage, ObjectType},
    lead,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use super::{
    ErrorCode, Found, Links, Mode, RecordError, RecordErrors, RecordResult, Ref, Status, Written,
    batch, check_expected, check_time, checked, chunks_at_once, current_of, failure, not_future,
    success, updated, write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::{
        crm::{self, SyncMove},
        records::LeadPatch,
        stage_move::StageMove,
    },
    error::AppResult,
    services::{
        external_ids::{self, ExternalKey},
        leads, records,
        scoring::{self, Scope},
    },
};

/// One stage a lead entered, as the source system recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageEntry {
    /// The stage (Handoff's name or the source system's value).
    pub stage: String,
    /// When the lead entered it.
    pub entered_at: DateTime<Utc>,
}

/// One lead of an `upsertLeads` batch. `None` leaves a field as it is;
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LeadUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// What to change (the source is OTHER when a new lead comes without
    /// one); its account, campaign and owner are references in the
    /// batch's system.
    pub fields: LeadPatch<Ref>,
    /// The current stage (HubSpot lifecycle stage, Salesforce Lead Status,
    /// or Handoff's name).
    pub stage: Option<String>,
    /// HubSpot's lead status, which refines its lifecycle stage.
    pub lead_status: Option<String>,
    /// When the current stage was entered (default: the latest known date
    /// for a new lead, now for a stage change of an existing one).
    pub stage_entered_at: Option<DateTime<Utc>>,
    /// Earlier stages and their dates.
    pub stage_history: Vec<StageEntry>,
    /// When the lead was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates or updates leads by external id in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<LeadUpsert>,
    mode: Mode,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    // A batch's leads are distinct records (repeated external ids are
    // refused before any chunk), and a chunk only reads the rows it
    // references, so its chunks can be written side by side.
    batch(viewer, inputs, chunks_at_once(db), |chunk| {
        write_chunk(db, actor, system, mode, chunk)
    })
    .await
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    mode: Mode,
    chunk: Vec<(usize, LeadUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    // The email locks come before any row lock, as in createLead.
    let emails: Vec<String> = chunk
        .iter()
        .filter_map(|(_, i)| new_email(i, None))
        .collect();
    leads::lock_emails(&txn, &emails).await?;
    let (known, mut current) = current_of::<lead::Entity>(&txn, &keys).await?;
    let refs = Links::load(
        &txn,
        system,
        chunk.iter().flat_map(|(_, i)| i.fields.refs()),
    )
    .await?;

    // New leads are scored here and inserted with their scores; updated
    // ones are rescored after the writes (their activities count).
    // (Only read when the chunk creates a lead or changes one: a replay
    // reads neither.)
    let creating = keys.iter().any(|k| !known.contains_key(k));
    let mut definition = match creating {
        true => scoring::approved(&txn).await?,
        false => None,
    };
    let account_fits = match &definition {
        Some(_) => {
            let ids: Vec<Uuid> = refs.accounts.ids.iter().copied().collect();
            scoring::account_fits(&txn, &ids).await?
        }
        None => HashMap::new(),
    };

    let mut holders = EmailHolders::load(&txn, system, &emails).await?;
    let mut claimed = HashMap::new();

    let mut writes = Writes::<lead::Entity>::new(Some(actor), now);
    let mut results = Vec::with_capacity(chunk.len());
    let mut touched = Vec::new();
    let mut qualifying = Vec::new();
    for ((index, mut input), key) in chunk.into_iter().zip(keys) {
        let mut existing = known.get(&key).and_then(|id| current.remove(id));
        let email = new_email(&input, existing.as_ref());
        let mut adopted = false;
        if let Some(email) = &email {
            match holders.matched(email, existing.as_ref(), &claimed) {
                Ok(Some(lead)) => (existing, adopted) = (Some(lead), true),
                Ok(None) => {}
                Err(error) => {
                    results.push(failure(index, key.id, error));
                    continue;
                }
            }
        }
        let plan = match plan(&mut input, existing.as_ref(), system, now, &refs) {
            Ok(plan) => plan,
            Err(errors) => {
                results.push(failure(index, key.id, errors));
                continue;
            }
        };
        let Plan {
            fields,
            moves,
            warnings,
        } = plan;
        let written = match existing {
            None => {
                let mut am = lead::ActiveModel {
                    stage: Set(LeadStage::New),
                    fit_score: Set(0),
                    engagement_score: Set(0),
                    recycle_count: Set(0),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                apply(&mut am, &fields, input.created_at, &moves.state);
                let scores = definition.as_ref().and_then(|d| {
                    let lead = scoring::NewLead {
                        stage: moves.state.stage,
                        seniority: fields.seniority.flatten(),
                        job_title: fields.job_title.as_ref().and_then(|t| t.as_deref()),
                        country: fields.country.as_ref().and_then(|c| c.as_deref()),
                        account: fields
                            .account_id
                            .flatten()
                            .and_then(|id| account_fits.get(&id)),
                    };
                    let scores = scoring::new_lead_scores(d, lead, now)?;
                    Some((scores, scoring::qualifies(d, moves.state.stage, scores)))
                });
                if let Some(((fit, engagement), _)) = scores {
                    am.fit_score = Set(fit);
                    am.engagement_score = Set(engagement);
                }
                let id = writes.insert(am, key.clone());
                for m in &moves.changes {
                    writes.stage_move(m.stage_move(id, Some(actor)));
                }
                if let Some((_, true)) = scores {
                    qualifying.push(id);
                }
                Written {
                    status: Status::Created,
                    id,
                    version: 1,
                }
            }
            Some(lead) => {
                let (id, version) = (lead.id, lead.version);
                let patch = |am: &mut lead::ActiveModel| {
                    apply(am, &fields, input.created_at, &moves.state);
                    am.deleted_at.set_if_not_equals(None);
                };
                let changed = match adopted {
                    true => Some(writes.adopt(&txn, lead, key.clone(), patch).await?),
                    false => writes.update(&txn, lead, patch).await?,
                };
                for m in &moves.changes {
                    writes.stage_move(m.stage_move(id, Some(actor)));
                }
                if changed.is_some() {
                    touched.push(id);
                }
                updated(id, version, changed)
            }
        };
        if let Some(email) = email {
            claimed.insert(email, written.id);
        }
        results.push(success(index, key.id, written, warnings));
    }
    writes.flush(&txn).await?;
    if !creating && !touched.is_empty() {
        definition = scoring::approved(&txn).await?;
    }
    if let Some(definition) = &definition {
        // Qualifying new leads become MQL; changed ones are rescored, which
        // can make a NEW lead an MQL too. Either bumps the version again.
        let mut bumped =
            scoring::qualify_created(&txn, definition, &qualifying, Some(actor), now).await?;
        if !touched.is_empty() {
            let rescored = scoring::rescore(
                &txn,
                definition,
                Scope::Leads(touched.clone()),
                Some(actor),
                records::now(),
            )
            .await?;
            if rescored.changed > 0 || rescored.became_mql > 0 {
                bumped.extend(touched);
            }
        }
        if !bumped.is_empty() {
            let versions: HashMap<Uuid, i32> = lead::Entity::find()
                .select_only()
                .column(lead::Column::Id)
                .column(lead::Column::Version)
                .filter(lead::Column::Id.is_in(bumped))
                .into_tuple::<(Uuid, i32)>()
                .all(&txn)
                .await?
                .into_iter()
                .collect();
            for r in &mut results {
                if let Ok(w) = &mut r.outcome
                    && let Some(v) = versions.get(&w.id)
                {
                    w.version = *v;
                }
            }
        }
    }
    mode.finish(txn).await?;
    Ok(results)
}

/// The email a record gives its lead, normalised as validation does,
/// when it is not the one the lead has.
fn new_email(input: &LeadUpsert, current: Option<&lead::Model>) -> Option<String> {
    let email = input.fields.email.clone().flatten()?.trim().to_lowercase();
    let unchanged = current.is_some_and(|l| l.email.as_ref() == Some(&email));
    (!email.is_empty() && !unchanged).then_some(email)
}

/// The live leads holding the emails a chunk's records bring (their rows
/// locked), and which of them already have an id in the batch's system.
struct EmailHolders {
    by_email: HashMap<String, Uuid>,
    rows: HashMap<Uuid, lead::Model>,
    in_system: HashSet<Uuid>,
}

impl EmailHolders {
    async fn load(
        txn: &impl ConnectionTrait,
        system: ExternalSystem,
        emails: &[String],
    ) -> AppResult<Self> {
        let by_email = leads::email_holders(txn, emails).await?;
        let ids: Vec<Uuid> = by_email.values().copied().collect();
        let rows = match ids.is_empty() {
            true => HashMap::new(),
            false => lead::Entity::find()
                .filter(lead::Column::Id.is_in(ids.iter().copied()))
                .lock_exclusive()
                .all(txn)
                .await?
                .into_iter()
                .map(|m| (m.id, m))
                .collect(),
        };
        let in_system = external_ids::of_records(txn, ObjectType::Lead, &ids)
            .await?
            .into_iter()
            .filter(|(_, keys)| keys.iter().any(|k| k.system == system))
            .map(|(id, _)| id)
            .collect();
        Ok(Self {
            by_email,
            rows,
            in_system,
        })
    }

    /// The duplicate rule for a record giving its lead (`own`, none when
    /// its external id is new) `email`: another live lead with the email
    /// is TAKEN, unless the record's id is new and that lead has no id in
    /// the system yet, in which case the record is that lead (returned,
    /// to be adopted). `claimed` holds the emails earlier records of the
    /// chunk gave their leads.
    fn matched(
        &mut self,
        email: &str,
        own: Option<&lead::Model>,
        claimed: &HashMap<String, Uuid>,
    ) -> Result<Option<lead::Model>, RecordError> {
        let own = own.map(|l| l.id);
        let taken =
            |id: Uuid| RecordError::on("email", ErrorCode::Taken, leads::email_taken(email, id));
        if let Some(id) = claimed.get(email).filter(|id| Some(**id) != own) {
            return Err(taken(*id));
        }
        match self.by_email.get(email).copied() {
            None => Ok(None),
            Some(holder) if Some(holder) == own => Ok(None),
            Some(holder) if own.is_some() || self.in_system.contains(&holder) => Err(taken(holder)),
            Some(holder) => Ok(self.rows.remove(&holder)),
        }
    }
}

/// A lead's stage columns after the synced moves.
#[derive(Debug, Clone)]
struct StageState {
    stage: LeadStage,
    entered_at: DateTime<Utc>,
    mql_at: Option<DateTime<Utc>>,
    dispositioned_at: Option<DateTime<Utc>>,
    recycle_count: i32,
}

/// One synced stage move.
#[derive(Debug, Clone)]
struct Move {
    from: Option<LeadStage>,
    to: LeadStage,
    at: DateTime<Utc>,
}

impl Move {
    fn stage_move(&self, lead: Uuid, actor: Option<Uuid>) -> StageMove {
        StageMove::lead_reported(lead, self.from, self.to, self.at, actor)
    }
}

#[derive(Debug)]
struct Moves {
    state: StageState,
    changes: Vec<Move>,
}

struct Plan {
    fields: LeadPatch,
    moves: Moves,
    warnings: Vec<String>,
}

/// Validates one record against its current row and decides what to write
/// (its fields move into the plan), or every error found.
fn plan(
    input: &mut LeadUpsert,
    current: Option<&lead::Model>,
    system: ExternalSystem,
    now: DateTime<Utc>,
    refs: &Links,
) -> Result<Plan, RecordErrors> {
    let mut found = Found::default();
    found.check(check_expected(
        "lead",
        current.map(|l| l.version),
        input.expected_version,
    ));
    let mut fields = std::mem::take(&mut input.fields);
    if current.is_none() {
        fields.source.get_or_insert(Channel::Other);
    }
    let fields = checked(
        &mut found,
        fields.validate(current.is_none(), true),
        |patch| patch.resolve_all(|link, r| refs.resolve(link, &r)),
    );
    // A refused `createdAt` dates nothing: the order of the stage dates
    // against it cannot be checked.
    let created_at = match input.created_at {
        Some(at) => found
            .check(not_future("createdAt", Some(at), now))
            .map(|()| at),
        None => Some(current.map_or(now, |l| l.created_at)),
    };
    let mut warnings = Vec::new();
    let moves = stage_moves(
        input,
        current,
        system,
        created_at,
        now,
        &mut warnings,
        &mut found,
    );
    found.finish(Plan {
        fields,
        moves,
        warnings,
    })
}

/// The moves the record's stage and history make from the current stage.
/// Every stage is read and every date checked, the failures noted in
/// `found` (the moves are then not written). `created_at` is `None` when
/// the record's `createdAt` was refused (no date is ordered against it).
fn stage_moves(
    input: &LeadUpsert,
    current: Option<&lead::Model>,
    system: ExternalSystem,
    created_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
    found: &mut Found,
) -> Moves {
    let order_from = created_at;
    let created_at = created_at.unwrap_or(now);
    let mut state = match current {
        Some(l) => StageState {
            stage: l.stage,
            entered_at: l.stage_entered_at,
            mql_at: l.mql_at,
            dispositioned_at: l.dispositioned_at,
            recycle_count: l.recycle_count,
        },
        None => StageState {
            stage: LeadStage::New,
            entered_at: created_at,
            mql_at: None,
            dispositioned_at: None,
            recycle_count: 0,
        },
    };
    let mut changes = Vec::new();
    if current.is_none() {
        changes.push(Move {
            from: None,
            to: LeadStage::New,
            at: created_at,
        });
    }

    let mut entries = Vec::with_capacity(input.stage_history.len() + 1);
    let mut dates = Vec::with_capacity(input.stage_history.len());
    for (i, entry) in input.stage_history.iter().enumerate() {
        let field = format!("stageHistory.{i}");
        let stage = crm::lead_stage(system, Some(&entry.stage), None)
            .map_err(|m| RecordError::on(&field, ErrorCode::UnknownStage, m))
            .and_then(|stage| {
                stage.ok_or_else(|| {
                    RecordError::on(&field, ErrorCode::Required, "a history entry needs a stage")
                })
            });
        if let Some(stage) = found.check(stage) {
            entries.push((field.clone(), stage, entry.entered_at));
        }
        dates.push((field, entry.entered_at));
    }
    let reported = crm::lead_stage(system, input.stage.as_deref(), input.lead_status.as_deref())
        .map_err(|m| {
            let field = if input.lead_status.is_some() && m.contains("lead status") {
                "leadStatus"
            } else {
                "stage"
            };
            RecordError::on(field, ErrorCode::UnknownStage, m)
        });
    let reported = found.check(reported);
    // Every stage date is checked, whether or not its stage was read.
    dates.sort_by_key(|(_, at)| *at);
    for (field, at) in &dates {
        check_time(found, "lead", field, *at, order_from, now);
    }
    if let Some(at) = input.stage_entered_at {
        check_time(found, "lead", "stageEnteredAt", at, order_from, now);
    }
    let reported = reported.flatten();
    entries.sort_by_key(|(_, _, at)| *at);
    if let Some(stage) = reported {
        let latest = entries.last().map(|(_, _, at)| *at);
        let at = match (input.stage_entered_at, current) {
            (Some(at), _) => at,
            (None, None) => latest.unwrap_or(created_at).max(created_at),
            (None, Some(_)) => now,
        };
        // The reported stage is the newest entry; an entry for the same
        // stage and date in the history is the same move.
        if !entries.iter().any(|(_, s, a)| *s == stage && *a == at) {
            entries.push(("stage".to_owned(), stage, at));
        }
    }

    // An existing lead's moves at or before its current stage's entry are
    // already known (a replay sends them again, and a move at that very
    // instant to another stage would otherwise be applied once more).
    let known_until = current.map(|l| l.stage_entered_at);
    for (_, stage, at) in entries {
        if known_until.is_some_and(|known| at <= known) {
            continue;
        }
        if at < state.entered_at || (at == state.entered_at && stage == state.stage) {
            continue;
        }
        if stage == state.stage {
            continue;
        }
        match crm::sync_move(state.stage, stage) {
            SyncMove::KeepCurrent => {
                warnings.push(format!(
                    "kept stage {}: the source reports {stage}, a stage this lead has passed",
                    state.stage
                ));
                continue;
            }
            SyncMove::Recycle => state.recycle_count += 1,
            SyncMove::Apply => {}
        }
        let from = state.stage;
        if stage == LeadStage::Mql {
            state.mql_at = Some(at);
        }
        let disposition = matches!(stage, LeadStage::Sal)
            || (stage == LeadStage::Nurture && matches!(from, LeadStage::Mql | LeadStage::Sal));
        if disposition && state.dispositioned_at.is_none() {
            state.dispositioned_at = Some(at);
        }
        state.stage = stage;
        state.entered_at = at;
        changes.push(Move {
            from: Some(from),
            to: stage,
            at,
        });
    }
    Moves { state, changes }
}

fn apply(
    am: &mut lead::ActiveModel,
    fields: &LeadPatch,
    created_at: Option<DateTime<Utc>>,
    s: &StageState,
) {
    fields.apply(am);
    if let Some(v) = created_at {
        am.created_at.set_if_not_equals(v);
    }
    am.stage.set_if_not_equals(s.stage);
    am.stage_entered_at.set_if_not_equals(s.entered_at);
    am.mql_at.set_if_not_equals(s.mql_at);
    am.dispositioned_at.set_if_not_equals(s.dispositioned_at);
    am.recycle_count.set_if_not_equals(s.recycle_count);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn moves_of(input: &LeadUpsert, current: Option<&lead::Model>) -> (Moves, Vec<String>) {
        let mut warnings = Vec::new();
        let created = input.created_at.unwrap_or(at(1));
        let mut found = Found::default();
        let moves = stage_moves(
            input,
            current,
            ExternalSystem::Hubspot,
            Some(created),
            at(28),
            &mut warnings,
            &mut found,
        );
        assert!(found.is_empty(), "{found:?}");
        (moves, warnings)
    }

    /// The first error `stage_moves` finds in a new lead.
    fn first_error(
        input: &LeadUpsert,
        system: ExternalSystem,
        created: DateTime<Utc>,
    ) -> RecordError {
        let mut found = Found::default();
        stage_moves(
            input,
            None,
            system,
            Some(created),
            at(28),
            &mut Vec::new(),
            &mut found,
        );
        found.0.remove(0)
    }

    #[test]
    fn a_new_lead_enters_each_reported_stage_at_its_source_date() {
        let input = LeadUpsert {
            created_at: Some(at(1)),
            stage: Some("salesqualifiedlead".into()),
            stage_entered_at: Some(at(9)),
            stage_history: vec![StageEntry {
                stage: "marketingqualifiedlead".into(),
                entered_at: at(4),
            }],
            ..Default::default()
        };
        let (moves, warnings) = moves_of(&input, None);
        assert!(warnings.is_empty());
        let path: Vec<_> = moves.changes.iter().map(|m| (m.from, m.to, m.at)).collect();
        assert_eq!(
            path,
            vec![
                (None, LeadStage::New, at(1)),
                (Some(LeadStage::New), LeadStage::Mql, at(4)),
                (Some(LeadStage::Mql), LeadStage::Sql, at(9)),
            ]
        );
        assert_eq!(moves.state.stage, LeadStage::Sql);
        assert_eq!(moves.state.entered_at, at(9));
        assert_eq!(moves.state.mql_at, Some(at(4)));
    }

    #[test]
    fn a_stage_without_a_date_takes_the_latest_known_date_for_a_new_lead() {
        let input = LeadUpsert {
            created_at: Some(at(2)),
            stage: Some("MQL".into()),
            ..Default::default()
        };
        let (moves, _) = moves_of(&input, None);
        assert_eq!(moves.state.entered_at, at(2));
        assert_eq!(moves.changes.len(), 2);
    }

    #[test]
    fn a_replay_of_stages_entered_at_one_instant_changes_nothing() {
        // HubSpot: lifecycle `lead` with lead status UNQUALIFIED, and only
        // "Became a Lead Date": NEW and NURTURE share one date.
        let input = LeadUpsert {
            created_at: Some(at(2)),
            stage: Some("lead".into()),
            lead_status: Some("UNQUALIFIED".into()),
            stage_history: vec![StageEntry {
                stage: "lead".into(),
                entered_at: at(2),
            }],
            ..Default::default()
        };
        let (first, _) = moves_of(&input, None);
        assert_eq!(first.state.stage, LeadStage::Nurture);
        let lead = lead::Model {
            stage: first.state.stage,
            stage_entered_at: first.state.entered_at,
            created_at: at(2),
            ..fixture_lead()
        };
        let (again, warnings) = moves_of(&input, Some(&lead));
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(again.state.recycle_count, 0);
    }

    fn fixture_lead() -> lead::Model {
        lead::Model {
            id: Uuid::nil(),
            created_at: at(1),
            updated_at: at(1),
            email: Some("x@example.com".into()),
            phone: None,
            first_name: None,
            last_name: None,
            job_title: None,
            seniority: None,
            account_id: None,
            company_name: None,
            country: None,
            source: Channel::Other,
            source_campaign_id: None,
            stage: LeadStage::New,
            stage_entered_at: at(1),
            owner_id: None,
            fit_score: 0,
            engagement_score: 0,
            qualified_under_id: None,
            mql_at: None,
            sla_first_contact_due_at: None,
            first_contacted_at: None,
            sla_disposition_due_at: None,
            dispositioned_at: None,
            sla_status: None,
            rejection_reason: None,
            rejection_note: None,
            recycle_count: 0,
            version: 1,
            deleted_at: None,
        }
    }

    #[test]
    fn a_history_entry_before_creation_is_out_of_order() {
        let input = LeadUpsert {
            created_at: Some(at(5)),
            stage_history: vec![StageEntry {
                stage: "MQL".into(),
                entered_at: at(3),
            }],
            ..Default::default()
        };
        let err = first_error(&input, ExternalSystem::Hubspot, at(5));
        assert_eq!(err.code, ErrorCode::OutOfOrder);
        assert_eq!(err.field.as_deref(), Some("stageHistory.0"));
    }

    #[test]
    fn every_stage_and_date_of_a_lead_is_checked() {
        // An unknown stage in the history, another entry before creation,
        // an unknown current stage and a stage date in the future.
        let input = LeadUpsert {
            created_at: Some(at(5)),
            stage: Some("prospect".into()),
            stage_entered_at: Some(at(30)),
            stage_history: vec![
                StageEntry {
                    stage: "MQL".into(),
                    entered_at: at(3),
                },
                StageEntry {
                    stage: "warmish".into(),
                    entered_at: at(6),
                },
            ],
            ..Default::default()
        };
        let mut found = Found::default();
        stage_moves(
            &input,
            None,
            ExternalSystem::Salesforce,
            Some(at(5)),
            at(28),
            &mut Vec::new(),
            &mut found,
        );
        let got: Vec<_> = found
            .0
            .into_iter()
            .map(|e| (e.code, e.field.unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                (ErrorCode::UnknownStage, "stageHistory.1".to_owned()),
                (ErrorCode::UnknownStage, "stage".to_owned()),
                (ErrorCode::OutOfOrder, "stageHistory.0".to_owned()),
                (ErrorCode::InFuture, "stageEnteredAt".to_owned()),
            ]
        );
    }

    #[test]
    fn an_unknown_stage_names_its_field() {
        let input = LeadUpsert {
            stage: Some("prospect".into()),
            ..Default::default()
        };
        let err = first_error(&input, ExternalSystem::Salesforce, at(1));
        assert_eq!(err.code, ErrorCode::UnknownStage);
        assert_eq!(err.field.as_deref(), Some("stage"));
    }
}
