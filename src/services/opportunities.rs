//! Opportunities: the deals sales works, with their stage history.

use chrono::{DateTime, Utc};
use entity::{
    enums::{OpportunityStage, OpportunityType, Outcome, SourcedBy},
    opportunity, win_loss_feedback,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, QueryFilter,
    Select,
};
use uuid::Uuid;

use super::{
    feedback::FeedbackFields,
    filters::{TimeRange, in_range, text_search},
    links,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
    stage_moves,
};
use crate::{
    auth::{Action, RowScope, Viewer},
    db::begin_write,
    domain::{feedback as feedback_rules, records::OpportunityPatch, stage_move::StageMove},
    error::{AppError, AppResult, UserErrorCode},
};

/// Which opportunities to list.
#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    /// Case-insensitive match on name.
    pub search: Option<String>,
    /// Of this account.
    pub account_id: Option<Uuid>,
    /// Converted from this lead.
    pub primary_lead_id: Option<Uuid>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<Uuid>>,
    /// In one of these stages.
    pub stages: Option<Vec<OpportunityStage>>,
    /// Of one of these types.
    pub types: Option<Vec<OpportunityType>>,
    /// Sourced by one of these teams.
    pub sourced_by: Option<Vec<SourcedBy>>,
    /// Created in this range.
    pub created_at: Option<TimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<TimeRange>,
    /// Closed in this range.
    pub closed_at: Option<TimeRange>,
    /// Closed without win/loss feedback matching the outcome (true), or
    /// not (false): the feedback-missing queue.
    pub feedback_missing: Option<bool>,
    /// With, or without, an id in an external system.
    pub external_ids: super::external_ids::Presence,
}

/// How to order opportunities.
#[derive(Debug, Clone, Copy, Default)]
pub enum OpportunitySort {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    Name,
    /// By amount (regardless of currency).
    Amount,
}

fn sort_key(sort: OpportunitySort, descending: bool) -> SortKey<opportunity::Entity> {
    use opportunity::Column as C;
    let (name, column, key_of): (_, _, KeyOf<opportunity::Entity>) = match sort {
        OpportunitySort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        OpportunitySort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
        }),
        OpportunitySort::Name => ("NAME", C::Name, |m| (SortValue::Text(m.name.clone()), m.id)),
        OpportunitySort::Amount => ("AMOUNT", C::Amount, |m| {
            (SortValue::Decimal(m.amount), m.id)
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

/// The opportunities matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &OpportunityFilter) -> Select<opportunity::Entity> {
    use opportunity::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::Name]))
    {
        cond = cond.add(search);
    }
    if let Some(id) = filter.account_id {
        cond = cond.add(C::AccountId.eq(id));
    }
    if let Some(id) = filter.primary_lead_id {
        cond = cond.add(C::PrimaryLeadId.eq(id));
    }
    if let Some(ids) = &filter.owner_ids {
        cond = cond.add(C::OwnerId.is_in(ids.clone()));
    }
    if let Some(stages) = &filter.stages {
        cond = cond.add(C::Stage.is_in(stages.clone()));
    }
    if let Some(types) = &filter.types {
        cond = cond.add(C::OpportunityType.is_in(types.clone()));
    }
    if let Some(sourced_by) = &filter.sourced_by {
        cond = cond.add(C::SourcedBy.is_in(sourced_by.clone()));
    }
    cond = in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    cond = in_range(cond, C::UpdatedAt, filter.updated_at.as_ref());
    cond = in_range(cond, C::ClosedAt, filter.closed_at.as_ref());
    match filter.feedback_missing {
        Some(true) => cond = cond.add(super::feedback::feedback_missing()),
        Some(false) => cond = cond.add(super::feedback::feedback_missing().not()),
        None => {}
    }
    cond = filter.external_ids.apply::<opportunity::Entity>(cond);
    opportunity::Entity::live().filter(cond)
}

/// One page of opportunities.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &OpportunityFilter,
    sort: OpportunitySort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<opportunity::Model>> {
    viewer.require(Action::ReadRecords)?;
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The fields of an opportunity a caller may set, with their rules.
pub type OpportunityFields = OpportunityPatch;

/// Validates and normalises the fields, checking the records they link.
async fn validate(
    db: &impl ConnectionTrait,
    fields: OpportunityFields,
    creating: bool,
) -> AppResult<OpportunityFields> {
    let mut checked = fields.validate(creating);
    links::check(db, checked.patch.links(), &mut checked.errors).await?;
    checked.finish()
}

/// Creates an opportunity in its stage (DISCOVERY by default) and records
/// that stage. A SALES viewer's opportunity is owned by the viewer; naming
/// another owner is FORBIDDEN.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    mut fields: OpportunityFields,
) -> AppResult<opportunity::Model> {
    viewer.require(Action::WriteOpportunity)?;
    if let RowScope::OwnedBy(me) = viewer.scope(Action::WriteOpportunity)
        && fields.owner_id.flatten().is_none()
    {
        fields.owner_id = Some(Some(me));
    }
    viewer.require_on(Action::WriteOpportunity, fields.owner_id.flatten())?;
    let txn = begin_write(db).await?;
    let model = insert_in(&txn, viewer, fields).await?;
    txn.commit().await?;
    Ok(model)
}

/// What closing a deal sets off: an OPPORTUNITY_CLOSED event and, when won,
/// its primary lead becomes a customer.
async fn closed(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    deal: &opportunity::Model,
    at: DateTime<Utc>,
) -> AppResult<()> {
    super::events::emit(
        txn,
        vec![super::events::NewEvent {
            kind: entity::event::EventKind::OpportunityClosed,
            subject_id: deal.id,
            owner_id: deal.owner_id,
            at,
            data: Some(serde_json::json!({
                "stage": deal.stage.as_str(),
                "amount": deal.amount.round_dp(2).to_string(),
                "currency": deal.currency,
            })),
        }],
    )
    .await?;
    if deal.stage == OpportunityStage::ClosedWon {
        stage_moves::win_primary_lead(txn, viewer, deal, at).await?;
    }
    Ok(())
}

/// Validates and inserts an opportunity with its first stage change inside
/// the caller's transaction (creating it, or converting a lead).
pub(crate) async fn insert_in(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    fields: OpportunityFields,
) -> AppResult<opportunity::Model> {
    let fields = validate(txn, fields, true).await?;
    let stage = fields.stage.unwrap_or(OpportunityStage::Discovery);
    let at = records::now();
    let mut am = opportunity::ActiveModel {
        stage: Set(stage),
        stage_entered_at: Set(at),
        opportunity_type: Set(OpportunityType::NewBusiness),
        sourced_by: Set(SourcedBy::Sales),
        closed_at: Set(stage.is_closed().then_some(at)),
        deleted_at: Set(None),
        ..Default::default()
    };
    fields.apply(&mut am);
    let model = records::insert::<opportunity::Entity>(txn, viewer, am).await?;
    stage_moves::record(
        txn,
        StageMove::deal_opened(model.id, stage, at, Some(viewer.user_id)),
    )
    .await?;
    if stage.is_closed() {
        closed(txn, viewer, &model, at).await?;
    }
    Ok(model)
}

/// Edits an opportunity (SALES only one it owns, and may not hand it to
/// another owner). A stage change must follow the pipeline rules
/// ([`deal_stages`]), stamps `stageEnteredAt`, sets or clears `closedAt` and
/// is recorded. A stale `expected_version` is a CONFLICT and writes nothing.
/// Closing here needs no feedback (sync jobs close deals too); such a deal
/// waits in the feedback-missing queue.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: OpportunityFields,
) -> AppResult<opportunity::Model> {
    viewer.require(Action::WriteOpportunity)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<opportunity::Entity>(&txn, id).await?;
    viewer.require_on(Action::WriteOpportunity, current.owner_id)?;
    if let Some(owner) = fields.owner_id {
        viewer.require_on(Action::WriteOpportunity, owner)?;
    }
    records::check_version("opportunity", current.version, expected_version)?;
    let stage_move = match fields.stage.filter(|to| *to != current.stage) {
        Some(to) => Some(
            StageMove::deal(
                id,
                current.stage,
                to,
                viewer.role,
                records::now(),
                Some(viewer.user_id),
            )
            .map_err(|message| AppError::invalid("stage", UserErrorCode::Invalid, message))?,
        ),
        None => None,
    };
    let fields = validate(&txn, fields, false).await?;
    let model = write_move(&txn, viewer, current, fields, stage_move).await?;
    txn.commit().await?;
    Ok(model)
}

/// Writes validated fields to an opportunity; a stage move (checked by the
/// domain when it was built) stamps `stageEnteredAt`, sets or clears
/// `closedAt`, is recorded, and closing sets off [`closed`].
async fn write_move(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    current: opportunity::Model,
    fields: OpportunityFields,
    stage_move: Option<StageMove>,
) -> AppResult<opportunity::Model> {
    let from = current.stage;
    let to = stage_move.as_ref().and_then(StageMove::deal_stage);
    let at = stage_move.as_ref().map_or_else(records::now, StageMove::at);
    let (model, _) =
        records::update::<opportunity::Entity>(txn, Some(viewer.user_id), current, |am| {
            fields.apply(am);
            if let Some(to) = to {
                am.stage_entered_at = Set(at);
                if !to.is_closed() {
                    am.closed_at.set_if_not_equals(None);
                } else if !from.is_closed() {
                    am.closed_at = Set(Some(at));
                }
            }
        })
        .await?;
    if let Some(stage_move) = stage_move {
        stage_moves::record(txn, stage_move).await?;
    }
    if to.is_some_and(|to| to.is_closed()) {
        closed(txn, viewer, &model, at).await?;
    }
    Ok(model)
}

/// Closes an open opportunity as won or lost and writes its win/loss
/// feedback, in one transaction: when the amount or the feedback is invalid
/// nothing is written (every failure is reported, the feedback's under
/// `feedback.`). Needs both opportunity and feedback rights (SALES: its own
/// deals). The stage change carries the primary reason.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn close(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    outcome: Outcome,
    amount: Option<(Decimal, String)>,
    mut feedback: FeedbackFields,
) -> AppResult<(opportunity::Model, win_loss_feedback::Model)> {
    viewer.require(Action::WriteOpportunity)?;
    viewer.require(Action::WriteFeedback)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<opportunity::Entity>(&txn, id).await?;
    viewer.require_on(Action::WriteOpportunity, current.owner_id)?;
    viewer.require_on(Action::WriteFeedback, current.owner_id)?;
    records::check_version("opportunity", current.version, expected_version)?;
    let to = feedback_rules::stage_of(outcome);
    if current.stage.is_closed() {
        return Err(AppError::invalid(
            "outcome",
            UserErrorCode::Invalid,
            format!(
                "the opportunity is already {}: reopen it first, or write its feedback with submitWinLossFeedback / updateWinLossFeedback",
                current.stage
            ),
        ));
    }
    let stage_move = StageMove::deal(
        id,
        current.stage,
        to,
        viewer.role,
        records::now(),
        Some(viewer.user_id),
    )
    .map_err(|message| AppError::invalid("outcome", UserErrorCode::Invalid, message))?;
    feedback.outcome = Some(outcome);
    let fields = OpportunityFields {
        stage: Some(to),
        amount,
        ..Default::default()
    };
    // Validate both halves before writing either, and report both.
    let deal = validate(&txn, fields, false).await;
    let fb = super::feedback::validate(&txn, feedback, None, to, "feedback.").await;
    let (fields, fb) = match (deal, fb) {
        (Ok(d), Ok(f)) => (d, f),
        (Err(AppError::Invalid(mut a)), Err(AppError::Invalid(b))) => {
            a.extend(b);
            return Err(AppError::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let stage_move = stage_move.because(fb.primary_reason_name().map(str::to_owned));
    let model = write_move(&txn, viewer, current, fields, Some(stage_move)).await?;
    let written = super::feedback::write_on_close(&txn, viewer, &model, fb).await?;
    txn.commit().await?;
    Ok((model, written))
}

/// Soft-deletes an opportunity (SALES only one it owns). Its stage history
/// stays.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::WriteOpportunity)?;
    records::delete_by_id::<opportunity::Entity>(db, viewer, id, expected_version, |current| {
        viewer.require_on(Action::WriteOpportunity, current.owner_id)
    })
    .await
}
