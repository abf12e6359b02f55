//! Moving leads through the lifecycle of DESIGN.md section 3.
//!
//! Every move checks the state machine ([`crate::domain::lifecycle`]),
//! the role and ownership rules, then the expected version (in that order,
//! so a stale version never tells a rep about a lead that is not theirs);
//! then, in one transaction, it updates the lead, records a stage change
//! (with the reason) and appends to the change log.
//!
//! Ownership (the row rules of `auth::policy`): SALES works leads it owns,
//! or unowned MQLs; accepting or claiming an unowned MQL makes the viewer
//! its owner. Accepting or
//! rejecting also counts as the first sales touch if none was recorded.

use chrono::{DateTime, Utc};
use entity::{
    account,
    enums::{Channel, LeadStage, RejectionReason, SlaStatus, SourcedBy},
    event::EventKind,
    lead, opportunity,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    events::{self, NewEvent},
    opportunities::{OpportunityFields, insert_in},
    records::{self, now},
    scoring, stage_moves,
};
use crate::{
    auth::{Action, RowFacts, RowScope, Viewer},
    db::begin_write,
    domain::{lifecycle::LeadAction, sla::SlaClock, stage_move::StageMove},
    error::{AppError, AppResult, UserErrorCode},
};

/// A move and what it needs.
#[derive(Debug, Clone)]
pub enum Move {
    /// MQL -> SAL.
    Accept,
    /// MQL or SAL -> NURTURE, with a reason (a note is required for OTHER).
    Reject {
        /// Why.
        reason: Option<RejectionReason>,
        /// Free text.
        note: Option<String>,
    },
    /// SAL -> SQL.
    Qualify,
    /// SQL -> NURTURE, with a reason.
    Disqualify {
        /// Why.
        reason: Option<RejectionReason>,
        /// Free text.
        note: Option<String>,
    },
    /// NURTURE -> NEW, back to marketing's funnel.
    Recycle,
    /// NEW -> MQL by hand (ADMIN), starting the SLA under the approved definition.
    ForceMql,
    /// Take ownership of an unowned MQL (no stage change).
    Claim,
}

impl Move {
    fn action(&self) -> Option<LeadAction> {
        match self {
            Move::Accept => Some(LeadAction::Accept),
            Move::Reject { .. } => Some(LeadAction::Reject),
            Move::Qualify => Some(LeadAction::Qualify),
            Move::Disqualify { .. } => Some(LeadAction::Disqualify),
            Move::Recycle => Some(LeadAction::Recycle),
            Move::ForceMql => Some(LeadAction::BecomeMql),
            Move::Claim => None,
        }
    }

    fn policy(&self) -> Action {
        match self {
            Move::Recycle => Action::RecycleLead,
            Move::ForceMql => Action::ForceMql,
            _ => Action::WorkLead,
        }
    }
}

/// Applies a move to a lead.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn apply(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    change: Move,
) -> AppResult<lead::Model> {
    viewer.require(change.policy())?;
    let (reason, note) = match &change {
        Move::Reject { reason, note } | Move::Disqualify { reason, note } => {
            let note = note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            let Some(reason) = *reason else {
                return Err(AppError::invalid(
                    "reason",
                    UserErrorCode::Required,
                    "a reason is required: sales' reasons are how marketing fixes targeting",
                ));
            };
            if reason == RejectionReason::Other && note.is_none() {
                return Err(AppError::invalid(
                    "note",
                    UserErrorCode::Required,
                    "reason OTHER needs a note saying what the reason is",
                ));
            }
            (Some(reason), note)
        }
        _ => (None, None),
    };

    let txn = begin_write(db).await?;
    let current = records::lock::<lead::Entity>(&txn, id).await?;
    // Ownership first: a CONFLICT would tell a rep the version of a lead
    // that is not theirs.
    let scope = authorize(viewer, change.policy(), &current)?;
    records::check_version("lead", current.version, expected_version)?;

    let at = now();
    let from = current.stage;
    let stage_move = match change.action() {
        Some(action) => Some(
            StageMove::lead(id, from, action, at, Some(viewer.user_id))
                .map_err(|e| AppError::BadUserInput(e.to_string()))?,
        ),
        None => None,
    };
    let to = match stage_move.as_ref().and_then(StageMove::lead_stage) {
        Some(to) => to,
        None => {
            if from != LeadStage::Mql || current.owner_id.is_some() {
                return Err(AppError::BadUserInput(format!(
                    "only an unowned MQL can be claimed; this lead is {} and {}",
                    from.as_str(),
                    if current.owner_id.is_some() {
                        "owned"
                    } else {
                        "unowned"
                    }
                )));
            }
            from
        }
    };

    let definition = match change {
        Move::ForceMql => Some(scoring::approved(&txn).await?.ok_or_else(|| {
            AppError::BadUserInput(
                "no lead definition is approved yet, so there is no SLA to start".into(),
            )
        })?),
        _ => None,
    };

    let viewer_id = viewer.user_id;
    let (model, _) =
        records::update::<lead::Entity>(&txn, Some(viewer_id), current.clone(), |am| {
            if to != from {
                am.stage = Set(to);
                am.stage_entered_at = Set(at);
            }
            // Accepting or claiming a lead from the queue takes it.
            if matches!(change, Move::Accept | Move::Claim)
                && current.owner_id.is_none()
                && let Some(claimant) = scope.claimant()
            {
                am.owner_id = Set(Some(claimant));
            }
            match &change {
                Move::Accept | Move::Reject { .. } if from == LeadStage::Mql => {
                    am.dispositioned_at = Set(Some(at));
                    let contacted = current.first_contacted_at.unwrap_or(at);
                    am.first_contacted_at = Set(Some(contacted));
                    am.sla_status = Set(sla_after(&current, Some(contacted), Some(at), at));
                }
                Move::Recycle => {
                    am.recycle_count = Set(current.recycle_count + 1);
                    for col in [
                        &mut am.mql_at,
                        &mut am.sla_first_contact_due_at,
                        &mut am.first_contacted_at,
                        &mut am.sla_disposition_due_at,
                        &mut am.dispositioned_at,
                    ] {
                        *col = Set(None);
                    }
                    am.sla_status = Set(None);
                    am.rejection_reason = Set(None);
                    am.rejection_note = Set(None);
                }
                Move::ForceMql => {
                    if let Some(def) = &definition {
                        let clock = SlaClock::start(
                            at,
                            def.model.first_contact_hours,
                            def.model.disposition_hours,
                        );
                        am.mql_at = Set(Some(at));
                        am.qualified_under_id = Set(Some(def.model.id));
                        am.sla_first_contact_due_at = Set(Some(clock.first_contact_due_at));
                        am.sla_disposition_due_at = Set(Some(clock.disposition_due_at));
                        am.first_contacted_at = Set(None);
                        am.dispositioned_at = Set(None);
                        am.sla_status = Set(Some(SlaStatus::OnTrack));
                    }
                }
                _ => {}
            }
            if let Some(reason) = reason {
                am.rejection_reason = Set(Some(reason));
                am.rejection_note = Set(note.clone());
            }
        })
        .await?;

    if let Some(stage_move) = stage_move {
        let why = match (&reason, &change) {
            (Some(r), _) => Some(r.as_str().to_owned()),
            (None, Move::ForceMql) => Some("forced to MQL by an admin".to_owned()),
            _ => None,
        };
        stage_moves::record(&txn, stage_move.because(why)).await?;
    }
    let kind = match change {
        Move::Accept => Some(EventKind::LeadAccepted),
        Move::Reject { .. } | Move::Disqualify { .. } => Some(EventKind::LeadRejected),
        Move::ForceMql => Some(EventKind::LeadBecameMql),
        _ => None,
    };
    if let Some(kind) = kind {
        events::emit(
            &txn,
            vec![NewEvent {
                kind,
                subject_id: id,
                owner_id: model.owner_id,
                at,
                data: Some(serde_json::json!({
                    "from": from.as_str(),
                    "to": to.as_str(),
                    "reason": reason.map(|r| r.as_str()),
                })),
            }],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(model)
}

/// The row rules of `action` on this lead ([`crate::auth::policy`]); the
/// scope they gave.
fn authorize(viewer: &Viewer, action: Action, lead: &lead::Model) -> AppResult<RowScope> {
    viewer.require_row(
        action,
        &RowFacts {
            owner: lead.owner_id,
            stage: Some(lead.stage),
        },
    )?;
    Ok(viewer.scope(action))
}

/// The SLA status once the lead has been contacted and dispositioned. A
/// breach stays a breach for that MQL cycle: its event has been sent.
fn sla_after(
    lead: &lead::Model,
    contacted: Option<DateTime<Utc>>,
    dispositioned: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<SlaStatus> {
    let (Some(mql_at), Some(first_due), Some(disposition_due)) = (
        lead.mql_at,
        lead.sla_first_contact_due_at,
        lead.sla_disposition_due_at,
    ) else {
        return lead.sla_status;
    };
    let clock = SlaClock {
        mql_at,
        first_contact_due_at: first_due,
        first_contacted_at: contacted,
        disposition_due_at: disposition_due,
        dispositioned_at: dispositioned,
    };
    if lead.sla_status == Some(SlaStatus::Breached) {
        return Some(SlaStatus::Breached);
    }
    Some(clock.status(now))
}

/// What converting a lead creates.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// Link this account; default: the lead's account, else a new account
    /// named after the lead's company.
    pub account_id: Option<Uuid>,
    /// The opportunity (its primary lead, account and default owner are set
    /// here).
    pub opportunity: OpportunityFields,
}

/// SQL -> OPPORTUNITY: links or creates the account, creates the
/// opportunity with the lead as its primary lead, and moves the lead, in
/// one transaction. The lead's activities (its campaign touches) stay with
/// it for attribution.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn convert(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    conversion: Conversion,
) -> AppResult<(lead::Model, opportunity::Model)> {
    viewer.require(Action::WorkLead)?;
    viewer.require(Action::WriteOpportunity)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<lead::Entity>(&txn, id).await?;
    // Ownership first: a CONFLICT would tell a rep the version of a lead
    // that is not theirs.
    authorize(viewer, Action::WorkLead, &current)?;
    records::check_version("lead", current.version, expected_version)?;
    let stage_move = StageMove::lead(
        id,
        current.stage,
        LeadAction::Convert,
        now(),
        Some(viewer.user_id),
    )
    .map_err(|e| AppError::BadUserInput(e.to_string()))?;

    let account_id = match (
        conversion.account_id,
        current.account_id,
        current.company_name.as_deref(),
    ) {
        (Some(id), _, _) => {
            if records::find::<account::Entity>(&txn, id).await?.is_none() {
                return Err(AppError::invalid(
                    "accountId",
                    UserErrorCode::NotFound,
                    "`accountId` names no account",
                ));
            }
            id
        }
        (None, Some(id), _) => id,
        (None, None, Some(company)) => {
            let am = account::ActiveModel {
                name: Set(company.to_owned()),
                is_target_account: Set(false),
                fit_score: Set(0),
                owner_id: Set(current.owner_id),
                country: Set(current.country.clone()),
                deleted_at: Set(None),
                ..Default::default()
            };
            records::insert::<account::Entity>(&txn, viewer, am)
                .await?
                .id
        }
        (None, None, None) => {
            return Err(AppError::invalid(
                "accountId",
                UserErrorCode::Required,
                "the lead has no account and no company name: pass `accountId`",
            ));
        }
    };

    let mut fields = conversion.opportunity;
    fields.account_id = Some(Some(account_id));
    fields.primary_lead_id = Some(Some(id));
    if fields.owner_id.flatten().is_none() {
        fields.owner_id = Some(Some(current.owner_id.unwrap_or(viewer.user_id)));
    }
    if fields.sourced_by.is_none() {
        fields.sourced_by = Some(sourced_by(current.source));
    }
    let deal = insert_in(&txn, viewer, fields).await?;

    let at = stage_move.at();
    let (lead, _) = records::update::<lead::Entity>(&txn, Some(viewer.user_id), current, |am| {
        if let Some(to) = stage_move.lead_stage() {
            am.stage = Set(to);
        }
        am.stage_entered_at = Set(at);
        am.account_id.set_if_not_equals(Some(account_id));
    })
    .await?;
    let reason = format!("converted into opportunity {}", deal.name);
    stage_moves::record(&txn, stage_move.because(Some(reason))).await?;
    txn.commit().await?;
    Ok((lead, deal))
}

/// Who sourced a deal, from where its lead came: partners are PARTNER,
/// sales' own prospecting is SALES, every marketing channel is MARKETING.
fn sourced_by(source: Channel) -> SourcedBy {
    match source {
        Channel::Partner => SourcedBy::Partner,
        Channel::Outbound => SourcedBy::Sales,
        _ => SourcedBy::Marketing,
    }
}
