//! `upsertOpportunities`: deals by external id, with their stage history.
//!
//! A deal's stage comes as the source system spells it (HubSpot
//! `dealstage`, Salesforce `StageName`, or Handoff's name; mapped by
//! [`crm::opportunity_stage`]) with the date it was entered, and older
//! stages may come as a history. Moves follow the pipeline rules of
//! [`deal_stages`] for INTEGRATION: open stages move freely, any open stage
//! closes, a closed deal reopens to an open stage; CLOSED_WON and
//! CLOSED_LOST never turn into each other directly, so such a report is the
//! record's error (send the reopening first). Moves dated at or before the
//! deal's current stage entry are already known and skipped.
//!
//! Closing a deal by sync records its `closedAt` (the source's close date)
//! and sends no live event; the primary lead's stage comes from the lead
//! sync, not from here.

use chrono::{DateTime, Utc};
use entity::{
    enums::{ExternalSystem, OpportunityStage, OpportunityType, Role, SourcedBy},
    opportunity,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    ErrorCode, Found, Links, Mode, RecordError, RecordResult, Ref, Status, Written, batch,
    check_expected, check_time, checked, current_of, failure, leads::StageEntry, not_future,
    success, updated, write::Writes,
};
use crate::{
    auth::Viewer,
    db::begin_write,
    domain::{crm, deal_stages, records::OpportunityPatch, stage_move::StageMove},
    error::AppResult,
    services::{external_ids::ExternalKey, records},
};

/// One deal of an `upsertOpportunities` batch. `None` leaves a field as it
/// is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct OpportunityUpsert {
    /// Its id in the batch's system.
    pub external_id: String,
    /// The version the job last saw; another is a CONFLICT.
    pub expected_version: Option<i32>,
    /// What to change; its account, lead and owner are references in the
    /// batch's system. Its `stage` is not read: the stage comes as the
    /// source system spells it, below, with its history.
    pub fields: OpportunityPatch<Ref>,
    /// The current stage (DISCOVERY when a new deal comes without one).
    pub stage: Option<String>,
    /// When the current stage was entered (default: the latest date known
    /// for a new deal, now for a stage change of an existing one).
    pub stage_entered_at: Option<DateTime<Utc>>,
    /// Earlier stages and their dates.
    pub stage_history: Vec<StageEntry>,
    /// When the deal was created in the source system.
    pub created_at: Option<DateTime<Utc>>,
    /// When the deal closed in the source system (default: the date its
    /// closed stage was entered).
    pub closed_at: Option<DateTime<Utc>>,
}

/// Creates or updates opportunities by external id in `system`.
#[tracing::instrument(skip_all, fields(viewer = %viewer, system = ?system, inputs = inputs.len()))]
pub async fn upsert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    inputs: Vec<OpportunityUpsert>,
    mode: Mode,
) -> AppResult<Vec<RecordResult>> {
    let actor = viewer.user_id;
    batch(viewer, inputs, 1, |chunk| {
        write_chunk(db, actor, system, mode, chunk)
    })
    .await
}

/// A deal's stage columns after the synced moves.
#[derive(Debug, Clone, PartialEq)]
struct StageState {
    stage: OpportunityStage,
    entered_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Move {
    from: Option<OpportunityStage>,
    to: OpportunityStage,
    at: DateTime<Utc>,
}

async fn write_chunk(
    db: &DatabaseConnection,
    actor: Uuid,
    system: ExternalSystem,
    mode: Mode,
    chunk: Vec<(usize, OpportunityUpsert)>,
) -> AppResult<Vec<RecordResult>> {
    let txn = begin_write(db).await?;
    let now = records::now();
    let keys: Vec<ExternalKey> = chunk
        .iter()
        .map(|(_, i)| ExternalKey::new(system, i.external_id.trim()))
        .collect();
    let (known, mut current) = current_of::<opportunity::Entity>(&txn, &keys).await?;
    let refs = Links::load(
        &txn,
        system,
        chunk.iter().flat_map(|(_, i)| i.fields.refs()),
    )
    .await?;
    let mut writes = Writes::<opportunity::Entity>::new(Some(actor), now);
    let mut results = Vec::with_capacity(chunk.len());
    for ((index, mut input), key) in chunk.into_iter().zip(keys) {
        let existing = known.get(&key).and_then(|id| current.remove(id));
        let (fields, mut found) = validate(&mut input, existing.as_ref(), &refs);
        // A refused `createdAt` dates nothing: the order of the other dates
        // against it cannot be checked.
        let created_at = match input.created_at {
            Some(at) => found
                .check(not_future("createdAt", Some(at), now))
                .map(|()| at),
            None => Some(existing.as_ref().map_or(now, |o| o.created_at)),
        };
        let planned = stage_moves(
            &input,
            existing.as_ref(),
            system,
            created_at,
            now,
            &mut found,
        );
        let (fields, (state, moves)) = match found.finish((fields, planned)) {
            Ok(planned) => planned,
            Err(errors) => {
                results.push(failure(index, key.id, errors));
                continue;
            }
        };
        let written = match existing {
            None => {
                let mut am = opportunity::ActiveModel {
                    opportunity_type: Set(OpportunityType::NewBusiness),
                    sourced_by: Set(SourcedBy::Sales),
                    expected_close_on: Set(None),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                apply(&mut am, &fields, input.created_at, &state);
                let id = writes.insert(am, key.clone());
                for m in &moves {
                    writes.stage_move(stage_move(m, id, actor));
                }
                Written {
                    status: Status::Created,
                    id,
                    version: 1,
                }
            }
            Some(o) => {
                let (id, version) = (o.id, o.version);
                let changed = writes
                    .update(&txn, o, |am| {
                        apply(am, &fields, input.created_at, &state);
                        am.deleted_at.set_if_not_equals(None);
                    })
                    .await?;
                for m in &moves {
                    writes.stage_move(stage_move(m, id, actor));
                }
                updated(id, version, changed)
            }
        };
        results.push(success(index, key.id, written, Vec::new()));
    }
    writes.flush(&txn).await?;
    mode.finish(txn).await?;
    Ok(results)
}

fn stage_move(m: &Move, id: Uuid, actor: Uuid) -> StageMove {
    StageMove::deal_reported(id, m.from, m.to, m.at, Some(actor))
}

/// Checks one record's expected version, fields (they move out of it) and
/// references: the patch with its references resolved, and every error
/// found.
fn validate(
    input: &mut OpportunityUpsert,
    current: Option<&opportunity::Model>,
    refs: &Links,
) -> (OpportunityPatch, Found) {
    let mut found = Found::default();
    found.check(check_expected(
        "opportunity",
        current.map(|o| o.version),
        input.expected_version,
    ));
    let fields = OpportunityPatch {
        stage: None,
        ..std::mem::take(&mut input.fields)
    };
    let fields = checked(&mut found, fields.validate(current.is_none()), |patch| {
        patch.resolve_all(|link, r| refs.resolve(link, &r))
    });
    (fields, found)
}

/// The deal's stage columns and the moves to record. Every stage is read
/// and every date checked, the failures noted in `found` (what is returned
/// then is not written); the moves are judged when every stage is known.
/// `created_at` is `None` when the record's `createdAt` was refused (no
/// date is ordered against it).
fn stage_moves(
    input: &OpportunityUpsert,
    current: Option<&opportunity::Model>,
    system: ExternalSystem,
    created_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    found: &mut Found,
) -> (StageState, Vec<Move>) {
    let mut entries = Vec::with_capacity(input.stage_history.len() + 1);
    let mut unknown = false;
    for (i, entry) in input.stage_history.iter().enumerate() {
        let field = format!("stageHistory.{i}");
        match crm::opportunity_stage(system, &entry.stage) {
            Ok(stage) => entries.push((field, Some(stage), entry.entered_at)),
            Err(m) => {
                found.add(RecordError::on(&field, ErrorCode::UnknownStage, m));
                entries.push((field, None, entry.entered_at));
                unknown = true;
            }
        }
    }
    let reported = input
        .stage
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| crm::opportunity_stage(system, s))
        .transpose()
        .map_err(|m| RecordError::on("stage", ErrorCode::UnknownStage, m));
    let reported = found.check(reported);
    unknown |= reported.is_none();
    let reported = reported.flatten();
    entries.sort_by_key(|(_, _, at)| *at);
    for (field, _, at) in &entries {
        check_time(found, "opportunity", field, *at, created_at, now);
    }
    for (field, at) in [
        ("closedAt", input.closed_at),
        ("stageEnteredAt", input.stage_entered_at),
    ] {
        if let Some(at) = at {
            check_time(found, "opportunity", field, at, created_at, now);
        }
    }
    // What is returned with a refused creation date is not written.
    let created_at = created_at.unwrap_or(now);
    let mut entries: Vec<(String, OpportunityStage, DateTime<Utc>)> = entries
        .into_iter()
        .filter_map(|(field, stage, at)| stage.map(|s| (field, s, at)))
        .collect();
    let latest = entries.last().map(|(_, _, at)| *at);
    let (mut state, mut moves) = match current {
        Some(o) => (
            StageState {
                stage: o.stage,
                entered_at: o.stage_entered_at,
                closed_at: o.closed_at,
            },
            Vec::new(),
        ),
        None => {
            // A new deal starts in its first reported stage.
            let (first, at) = match entries.first() {
                Some((_, stage, at)) => (*stage, *at),
                None => (
                    reported.unwrap_or(OpportunityStage::Discovery),
                    input.stage_entered_at.unwrap_or(created_at),
                ),
            };
            let state = StageState {
                stage: first,
                entered_at: at,
                closed_at: None,
            };
            let moves = vec![Move {
                from: None,
                to: first,
                at,
            }];
            (state, moves)
        }
    };
    if let Some(stage) = reported {
        let at = match (input.stage_entered_at, current) {
            (Some(at), _) => at,
            (None, None) => latest.unwrap_or(created_at).max(created_at),
            (None, Some(_)) => now,
        };
        if !entries.iter().any(|(_, s, a)| *s == stage && *a == at) {
            entries.push(("stage".to_owned(), stage, at));
        }
    }
    for (field, stage, at) in entries {
        if stage == state.stage || at < state.entered_at {
            continue;
        }
        if let Err(m) = deal_stages::check(state.stage, stage, Role::Integration) {
            // With a stage unknown, the path through the pipeline is too.
            // The moves after a refused one would start from a stage the
            // deal never reached: only the first is judged.
            if !unknown {
                found.add(RecordError::on(
                    &field,
                    ErrorCode::Invalid,
                    format!("{m}; report the reopening (an open stage) first"),
                ));
            }
            break;
        }
        moves.push(Move {
            from: Some(state.stage),
            to: stage,
            at,
        });
        state.closed_at = stage.is_closed().then_some(at);
        state.stage = stage;
        state.entered_at = at;
    }
    if state.stage.is_closed() {
        if let Some(closed_at) = input.closed_at {
            state.closed_at = Some(closed_at);
        } else if state.closed_at.is_none() {
            state.closed_at = Some(state.entered_at);
        }
    } else {
        state.closed_at = None;
    }
    (state, moves)
}

fn apply(
    am: &mut opportunity::ActiveModel,
    fields: &OpportunityPatch,
    created_at: Option<DateTime<Utc>>,
    s: &StageState,
) {
    fields.apply(am);
    if let Some(v) = created_at {
        am.created_at.set_if_not_equals(v);
    }
    am.stage.set_if_not_equals(s.stage);
    am.stage_entered_at.set_if_not_equals(s.entered_at);
    am.closed_at.set_if_not_equals(s.closed_at);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, day, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_won_deal_from_salesforce_keeps_its_dates() {
        let input = OpportunityUpsert {
            created_at: Some(at(1)),
            stage: Some("Closed Won".into()),
            stage_entered_at: Some(at(20)),
            stage_history: vec![
                StageEntry {
                    stage: "Prospecting".into(),
                    entered_at: at(1),
                },
                StageEntry {
                    stage: "Negotiation/Review".into(),
                    entered_at: at(10),
                },
            ],
            ..Default::default()
        };
        let mut found = Found::default();
        let (state, moves) = stage_moves(
            &input,
            None,
            ExternalSystem::Salesforce,
            Some(at(1)),
            at(28),
            &mut found,
        );
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            moves
                .iter()
                .map(|m| (m.from, m.to, m.at))
                .collect::<Vec<_>>(),
            vec![
                (None, OpportunityStage::Discovery, at(1)),
                (
                    Some(OpportunityStage::Discovery),
                    OpportunityStage::Negotiation,
                    at(10)
                ),
                (
                    Some(OpportunityStage::Negotiation),
                    OpportunityStage::ClosedWon,
                    at(20)
                ),
            ]
        );
        assert_eq!(state.closed_at, Some(at(20)));
    }

    #[test]
    fn won_never_turns_into_lost_directly() {
        let input = OpportunityUpsert {
            created_at: Some(at(1)),
            stage: Some("closedwon".into()),
            stage_entered_at: Some(at(5)),
            stage_history: vec![StageEntry {
                stage: "closedlost".into(),
                entered_at: at(3),
            }],
            ..Default::default()
        };
        assert_eq!(
            errors(&input, ExternalSystem::Hubspot, Some(at(1))),
            [(ErrorCode::Invalid, "stage".to_owned())]
        );
    }

    #[test]
    fn closed_before_created_is_out_of_order() {
        let input = OpportunityUpsert {
            stage: Some("CLOSED_LOST".into()),
            closed_at: Some(at(1)),
            ..Default::default()
        };
        assert_eq!(
            errors(&input, ExternalSystem::Other, Some(at(2))),
            [(ErrorCode::OutOfOrder, "closedAt".to_owned())]
        );
    }

    /// The errors `stage_moves` finds in a new deal, as `(code, field)`.
    fn errors(
        input: &OpportunityUpsert,
        system: ExternalSystem,
        created_at: Option<DateTime<Utc>>,
    ) -> Vec<(ErrorCode, String)> {
        let mut found = Found::default();
        stage_moves(input, None, system, created_at, at(28), &mut found);
        found
            .0
            .into_iter()
            .map(|e| (e.code, e.field.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn every_stage_and_date_is_checked_and_the_moves_only_when_every_stage_is_known() {
        // An unknown history stage, a date in the future, a close before
        // creation and a won deal reported lost: the unknown stage makes
        // the path unknown, so the won-to-lost move is not judged.
        let input = OpportunityUpsert {
            stage: Some("closedlost".into()),
            stage_entered_at: Some(at(30)),
            closed_at: Some(at(1)),
            stage_history: vec![
                StageEntry {
                    stage: "closedwon".into(),
                    entered_at: at(5),
                },
                StageEntry {
                    stage: "pilot".into(),
                    entered_at: at(6),
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            errors(&input, ExternalSystem::Hubspot, Some(at(2))),
            [
                (ErrorCode::UnknownStage, "stageHistory.1".to_owned()),
                (ErrorCode::OutOfOrder, "closedAt".to_owned()),
                (ErrorCode::InFuture, "stageEnteredAt".to_owned()),
            ]
        );
    }

    #[test]
    fn dates_are_not_ordered_against_a_refused_creation_date() {
        let input = OpportunityUpsert {
            stage: Some("closedwon".into()),
            closed_at: Some(at(1)),
            stage_entered_at: Some(at(29)),
            ..Default::default()
        };
        // Created on the 2nd, closed on the 1st: out of order.
        assert_eq!(
            errors(&input, ExternalSystem::Hubspot, Some(at(2))),
            [
                (ErrorCode::OutOfOrder, "closedAt".to_owned()),
                (ErrorCode::InFuture, "stageEnteredAt".to_owned()),
            ]
        );
        // A refused creation date: only what needs no creation date.
        assert_eq!(
            errors(&input, ExternalSystem::Hubspot, None),
            [(ErrorCode::InFuture, "stageEnteredAt".to_owned())]
        );
    }
}
