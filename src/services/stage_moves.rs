//! Where every stage move is recorded: one `stage_changes` row per
//! [`StageMove`] (built and checked by [`crate::domain::stage_move`]), in
//! the writer's transaction.
//!
//! The writers: `leads::create` (a new lead in NEW), `lifecycle::apply` and
//! `convert` (the interactive moves), [`win_primary_lead`] (a won deal's
//! lead becomes a customer), `scoring`'s automatic NEW -> MQL and the sync
//! upserts of leads and opportunities ([`record_all`], one multi-row insert
//! per batch), `opportunities` (deals opened and moved) and the demo
//! generator ([`row`] with its seeded ids).

use entity::{lead, opportunity, stage_change};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::records;
use crate::{
    auth::Viewer,
    domain::{lifecycle::LeadAction, stage_move::StageMove},
    error::AppResult,
};

/// The `stage_changes` row of a move, with its id (the services use a fresh
/// UUID v7; the demo its seeded ones).
pub fn row(id: Uuid, m: StageMove) -> stage_change::Model {
    let at = m.at();
    stage_change::Model {
        id,
        created_at: at,
        updated_at: at,
        subject_type: m.subject(),
        subject_id: m.subject_id(),
        from_stage: m.from().map(str::to_owned),
        to_stage: m.to().to_owned(),
        at,
        actor_id: m.actor(),
        reason: m.into_reason(),
    }
}

fn active(m: StageMove) -> stage_change::ActiveModel {
    let r = row(Uuid::now_v7(), m);
    stage_change::ActiveModel {
        id: Set(r.id),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        subject_type: Set(r.subject_type),
        subject_id: Set(r.subject_id),
        from_stage: Set(r.from_stage),
        to_stage: Set(r.to_stage),
        at: Set(r.at),
        actor_id: Set(r.actor_id),
        reason: Set(r.reason),
    }
}

/// Records one stage move in the caller's transaction.
pub async fn record(txn: &impl ConnectionTrait, m: StageMove) -> AppResult<()> {
    stage_change::Entity::insert(active(m))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Records many stage moves in the caller's transaction, in multi-row
/// inserts ([`records::insert_rows`]): one statement for a rescoring batch
/// or a sync chunk.
pub async fn record_all(txn: &impl ConnectionTrait, moves: Vec<StageMove>) -> AppResult<()> {
    let rows = moves.into_iter().map(active).collect();
    records::insert_rows::<stage_change::Entity>(txn, rows).await
}

/// OPPORTUNITY -> CUSTOMER for the primary lead of an opportunity that was
/// just won (inside the caller's transaction). Leads in other stages are
/// left alone: a lead is a customer through the deal it was converted into.
pub(crate) async fn win_primary_lead(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    deal: &opportunity::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let Some(lead_id) = deal.primary_lead_id else {
        return Ok(());
    };
    let Some(lead) = records::find::<lead::Entity>(txn, lead_id).await? else {
        return Ok(());
    };
    let actor = Some(viewer.user_id);
    let Ok(m) = StageMove::lead(lead_id, lead.stage, LeadAction::Win, at, actor) else {
        return Ok(());
    };
    records::update::<lead::Entity>(txn, actor, lead, |am| {
        if let Some(to) = m.lead_stage() {
            am.stage = Set(to);
        }
        am.stage_entered_at = Set(at);
    })
    .await?;
    record(
        txn,
        m.because(Some(format!("opportunity {} won", deal.name))),
    )
    .await
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use entity::enums::{LeadStage, OpportunityStage, Role, StageSubject};

    use super::*;

    #[test]
    fn a_move_becomes_its_row() {
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        let (id, lead, actor) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let m = StageMove::lead(lead, LeadStage::Mql, LeadAction::Reject, at, Some(actor))
            .unwrap()
            .because(Some("NO_BUDGET".into()));
        let r = row(id, m);
        assert_eq!(
            (r.id, r.subject_type, r.subject_id, r.actor_id),
            (id, StageSubject::Lead, lead, Some(actor))
        );
        assert_eq!(r.from_stage.as_deref(), Some("MQL"));
        assert_eq!(r.to_stage, "NURTURE");
        assert_eq!((r.at, r.created_at, r.updated_at), (at, at, at));
        assert_eq!(r.reason.as_deref(), Some("NO_BUDGET"));

        let m = StageMove::deal(
            lead,
            OpportunityStage::Proposal,
            OpportunityStage::ClosedWon,
            Role::Sales,
            at,
            None,
        )
        .unwrap();
        let r = row(id, m);
        assert_eq!(r.subject_type, StageSubject::Opportunity);
        assert_eq!(
            (r.from_stage.as_deref(), r.to_stage.as_str()),
            (Some("PROPOSAL"), "CLOSED_WON")
        );
        assert_eq!((r.actor_id, r.reason), (None, None));
    }
}
