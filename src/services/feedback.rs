//! Win/loss feedback: why a closed deal was won or lost, written by sales
//! and read by marketing (the closed loop). One per opportunity.
//!
//! Rules: feedback is written only on a closed opportunity and its outcome
//! is the closed stage's (WON for CLOSED_WON, LOST for CLOSED_LOST); reasons
//! come from the taxonomy and the primary one is not repeated among the
//! secondary ones; the competitor exists; objections are short tags; the
//! lead-fit rating is 1-5. A second submission for the same opportunity is
//! refused (update the first one instead); an update keeps the author and
//! records who last changed it.

use entity::{
    competitor,
    enums::{FeedbackReason, OpportunityStage, Outcome},
    opportunity, win_loss_feedback,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, QueryFilter, Select,
    sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query},
};
use uuid::Uuid;

use super::{
    filters::TimeRange,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::{feedback as rules, validate::Errors},
    error::{AppError, AppResult, FieldError, UserErrorCode},
};

/// Which feedback to list.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    /// With one of these outcomes.
    pub outcomes: Option<Vec<Outcome>>,
    /// With one of these primary reasons.
    pub primary_reasons: Option<Vec<FeedbackReason>>,
    /// Naming one of these reasons, as primary or secondary reason.
    pub reasons: Option<Vec<FeedbackReason>>,
    /// Naming one of these competitors.
    pub competitor_ids: Option<Vec<Uuid>>,
    /// Written by one of these users.
    pub author_ids: Option<Vec<Uuid>>,
    /// On opportunities owned by one of these users.
    pub owner_ids: Option<Vec<Uuid>>,
    /// On opportunities closed in this range.
    pub closed_at: Option<TimeRange>,
    /// Written in this range.
    pub created_at: Option<TimeRange>,
}

/// How to order feedback.
#[derive(Debug, Clone, Copy, Default)]
pub enum FeedbackSort {
    /// By when it was written.
    #[default]
    CreatedAt,
    /// By its last change.
    UpdatedAt,
}

fn sort_key(sort: FeedbackSort, descending: bool) -> SortKey<win_loss_feedback::Entity> {
    use win_loss_feedback::Column as C;
    let (name, column, key_of): (_, _, KeyOf<win_loss_feedback::Entity>) = match sort {
        FeedbackSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        FeedbackSort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
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

/// The feedback matching a filter, unpaged; feedback on a deleted
/// opportunity is left out.
pub fn select(filter: &FeedbackFilter) -> Select<win_loss_feedback::Entity> {
    use opportunity::Column as O;
    use win_loss_feedback::Column as C;
    let mut deals = Query::select();
    deals
        .column(O::Id)
        .from(opportunity::Entity)
        .and_where(O::DeletedAt.is_null());
    if let Some(range) = &filter.closed_at {
        if let Some(from) = range.from {
            deals.and_where(O::ClosedAt.gte(from));
        }
        if let Some(to) = range.to {
            deals.and_where(O::ClosedAt.lt(to));
        }
    }
    if let Some(ids) = &filter.owner_ids {
        deals.and_where(O::OwnerId.is_in(ids.clone()));
    }
    let mut cond = Condition::all().add(C::OpportunityId.in_subquery(deals.to_owned()));
    if let Some(v) = &filter.outcomes {
        cond = cond.add(C::Outcome.is_in(v.clone()));
    }
    if let Some(v) = &filter.primary_reasons {
        cond = cond.add(C::PrimaryReason.is_in(v.clone()));
    }
    if let Some(reasons) = &filter.reasons {
        // Secondary reasons are a JSON array of names; each name is quoted
        // in its text, and no name is part of another quoted one.
        let text = Expr::col(C::SecondaryReasons).cast_as(Alias::new("TEXT"));
        let mut any = Condition::any().add(C::PrimaryReason.is_in(reasons.clone()));
        // One LIKE per distinct reason: a list that repeats them (1,001
        // items) nested past SQLite's expression depth limit of 1,000.
        let mut distinct = reasons.clone();
        distinct.sort_by_key(|r| r.as_str());
        distinct.dedup();
        for r in &distinct {
            any = any.add(
                text.clone()
                    .like(LikeExpr::new(format!("%\"{}\"%", r.as_str()))),
            );
        }
        cond = cond.add(any);
    }
    if let Some(v) = &filter.competitor_ids {
        cond = cond.add(C::CompetitorId.is_in(v.clone()));
    }
    if let Some(v) = &filter.author_ids {
        cond = cond.add(C::AuthorId.is_in(v.clone()));
    }
    cond = super::filters::in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    win_loss_feedback::Entity::live().filter(cond)
}

/// One page of feedback.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &FeedbackFilter,
    sort: FeedbackSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<win_loss_feedback::Model>> {
    viewer.require(Action::ReadRecords)?;
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The live feedback of these opportunities (DataLoader batches).
pub async fn by_opportunities(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<Vec<win_loss_feedback::Model>> {
    Ok(win_loss_feedback::Entity::live()
        .filter(win_loss_feedback::Column::OpportunityId.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// The secondary reasons stored on a row.
pub fn secondary_of(model: &win_loss_feedback::Model) -> AppResult<Vec<FeedbackReason>> {
    serde_json::from_value(model.secondary_reasons.clone())
        .map_err(|e| AppError::Internal(format!("feedback {}: secondary reasons: {e}", model.id)))
}

/// The objection tags of a row as `viewer` may see them: a stored value
/// that is not a tag (free text from before tags were enforced) only when
/// the viewer may read personal data ([`rules::visible_objections`]).
pub fn objections_of(model: &win_loss_feedback::Model, viewer: &Viewer) -> AppResult<Vec<String>> {
    let stored: Vec<String> = serde_json::from_value(model.objections.clone())
        .map_err(|e| AppError::Internal(format!("feedback {}: objections: {e}", model.id)))?;
    Ok(rules::visible_objections(
        stored,
        viewer.can(Action::ReadPersonalData),
    ))
}

/// The fields of feedback a caller may set.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFields {
    /// Won or lost; must be the opportunity's closed stage.
    pub outcome: Option<Outcome>,
    /// The main reason.
    pub primary_reason: Option<FeedbackReason>,
    /// Further reasons.
    pub secondary_reasons: Option<Vec<FeedbackReason>>,
    /// The competitor involved; `Some(None)` clears it.
    pub competitor_id: Option<Option<Uuid>>,
    /// Objection tags.
    pub objections: Option<Vec<String>>,
    /// Lead-fit rating 1-5; `Some(None)` clears it.
    pub lead_fit_rating: Option<Option<i32>>,
    /// Free-text notes; `Some(None)` clears them.
    pub notes: Option<Option<String>>,
}

/// Feedback fields checked and normalised, ready to write.
#[derive(Debug, Clone, Default)]
pub struct ValidFeedback {
    outcome: Option<Outcome>,
    primary_reason: Option<FeedbackReason>,
    secondary_reasons: Option<Vec<FeedbackReason>>,
    competitor_id: Option<Option<Uuid>>,
    objections: Option<Vec<String>>,
    lead_fit_rating: Option<Option<i16>>,
    notes: Option<Option<String>>,
}

impl ValidFeedback {
    /// The primary reason's name, when one is set.
    pub fn primary_reason_name(&self) -> Option<&'static str> {
        self.primary_reason.map(|r| r.as_str())
    }
}

/// Validates feedback for a deal that is (or is about to be) in `stage`,
/// against the feedback as it is (`None` when writing it first). Errors name
/// `input.<prefix><field>` (`prefix` is `"feedback."` when the feedback is
/// nested in `closeOpportunity`'s input).
pub async fn validate(
    db: &impl ConnectionTrait,
    fields: FeedbackFields,
    current: Option<&win_loss_feedback::Model>,
    stage: OpportunityStage,
    prefix: &str,
) -> AppResult<ValidFeedback> {
    let mut e = Errors::new();
    let creating = current.is_none();
    if creating && fields.primary_reason.is_none() {
        e.add(
            "primaryReason",
            UserErrorCode::Required,
            "`primaryReason` is required",
        );
    }
    let outcome = fields.outcome.or(current.map(|c| c.outcome));
    match (rules::outcome_of(stage), outcome) {
        (None, _) => e.add(
            "opportunityId",
            UserErrorCode::Invalid,
            format!(
                "the opportunity is open ({stage}): feedback is written when it closes (closeOpportunity)"
            ),
        ),
        (Some(_), None) => e.add("outcome", UserErrorCode::Required, "`outcome` is required"),
        (Some(closed), Some(given)) if closed != given => e.add(
            "outcome",
            UserErrorCode::Invalid,
            format!("the opportunity is {stage}, so the outcome is {closed}, not {given}"),
        ),
        _ => {}
    }
    let primary = fields.primary_reason.or(current.map(|c| c.primary_reason));
    let secondary = match (&fields.secondary_reasons, current) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(c)) if fields.primary_reason.is_some() => Some(secondary_of(c)?),
        (None, _) => None,
    };
    let secondary_reasons = match (primary, secondary) {
        (Some(primary), Some(secondary)) => {
            Some(rules::secondary_reasons(&mut e, primary, &secondary))
        }
        (_, secondary) => secondary,
    };
    let objections = fields
        .objections
        .map(|tags| rules::objections(&mut e, &tags));
    let lead_fit_rating = fields
        .lead_fit_rating
        .map(|r| r.map(|r| rules::lead_fit_rating(&mut e, r)));
    let notes = fields
        .notes
        .map(|n| e.optional_text("notes", n.as_deref(), rules::MAX_NOTES_LEN));
    if let Some(Some(id)) = fields.competitor_id
        && records::find::<competitor::Entity>(db, id).await?.is_none()
    {
        e.add(
            "competitorId",
            UserErrorCode::NotFound,
            "`competitorId` names no competitor",
        );
    }
    prefixed(e.finish(), prefix)?;
    Ok(ValidFeedback {
        outcome: fields.outcome,
        primary_reason: fields.primary_reason,
        secondary_reasons,
        competitor_id: fields.competitor_id,
        objections,
        lead_fit_rating,
        notes,
    })
}

/// Puts `prefix` before the field names of validation failures.
pub fn prefixed<T>(result: AppResult<T>, prefix: &str) -> AppResult<T> {
    match result {
        Err(AppError::Invalid(errors)) if !prefix.is_empty() => Err(AppError::Invalid(
            errors
                .into_iter()
                .map(|mut e: FieldError| {
                    if let Some(name) = e.field.get_mut(1) {
                        *name = format!("{prefix}{name}");
                    }
                    e
                })
                .collect(),
        )),
        other => other,
    }
}

fn apply(am: &mut win_loss_feedback::ActiveModel, f: ValidFeedback) {
    if let Some(v) = f.outcome {
        am.outcome.set_if_not_equals(v);
    }
    if let Some(v) = f.primary_reason {
        am.primary_reason.set_if_not_equals(v);
    }
    if let Some(v) = f.secondary_reasons {
        am.secondary_reasons.set_if_not_equals(serde_json::json!(v));
    }
    if let Some(v) = f.competitor_id {
        am.competitor_id.set_if_not_equals(v);
    }
    if let Some(v) = f.objections {
        am.objections.set_if_not_equals(serde_json::json!(v));
    }
    if let Some(v) = f.lead_fit_rating {
        am.lead_fit_rating.set_if_not_equals(v);
    }
    if let Some(v) = f.notes {
        am.notes.set_if_not_equals(v);
    }
}

/// The feedback of one opportunity, if any (inside a write transaction).
async fn of_opportunity(
    txn: &impl ConnectionTrait,
    opportunity_id: Uuid,
) -> AppResult<Option<win_loss_feedback::Model>> {
    Ok(win_loss_feedback::Entity::live()
        .filter(win_loss_feedback::Column::OpportunityId.eq(opportunity_id))
        .one(txn)
        .await?)
}

/// Inserts validated feedback on `deal`, written by the viewer.
async fn insert_valid(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    deal: &opportunity::Model,
    valid: ValidFeedback,
    prefix: &str,
) -> AppResult<win_loss_feedback::Model> {
    let mut am = win_loss_feedback::ActiveModel {
        opportunity_id: Set(deal.id),
        secondary_reasons: Set(serde_json::json!([])),
        competitor_id: Set(None),
        objections: Set(serde_json::json!([])),
        lead_fit_rating: Set(None),
        notes: Set(None),
        author_id: Set(Some(viewer.user_id)),
        last_edited_by_id: Set(None),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut am, valid);
    records::insert::<win_loss_feedback::Entity>(txn, viewer, am)
        .await
        .map_err(|e| e.on_unique(&format!("{prefix}opportunityId"), taken_message()))
}

fn taken_message() -> &'static str {
    "the opportunity already has win/loss feedback: change it with updateWinLossFeedback"
}

/// Applies validated feedback to an existing row, recording the viewer as
/// its last editor when anything changed (the author stays).
async fn update_valid(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    current: win_loss_feedback::Model,
    valid: ValidFeedback,
) -> AppResult<win_loss_feedback::Model> {
    let (model, _) =
        records::update::<win_loss_feedback::Entity>(txn, Some(viewer.user_id), current, |am| {
            apply(am, valid);
            if am.is_changed() {
                am.last_edited_by_id = Set(Some(viewer.user_id));
            }
        })
        .await?;
    Ok(model)
}

/// Writes the feedback given when closing `deal` (already moved to its
/// closed stage) in the caller's transaction: a deal reopened and closed
/// again replaces its earlier feedback (keeping the author).
pub(crate) async fn write_on_close(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    deal: &opportunity::Model,
    valid: ValidFeedback,
) -> AppResult<win_loss_feedback::Model> {
    match of_opportunity(txn, deal.id).await? {
        Some(current) => update_valid(txn, viewer, current, valid).await,
        None => insert_valid(txn, viewer, deal, valid, "feedback.").await,
    }
}

/// Locks an opportunity that feedback refers to; a missing one is a user
/// error on `opportunityId`.
async fn lock_deal(txn: &impl ConnectionTrait, id: Uuid) -> AppResult<opportunity::Model> {
    match records::lock::<opportunity::Entity>(txn, id).await {
        Err(AppError::NotFound(_)) => Err(AppError::invalid(
            "opportunityId",
            UserErrorCode::NotFound,
            "`opportunityId` names no opportunity",
        )),
        other => other,
    }
}

/// Writes the feedback of a closed opportunity, authored by the viewer
/// (SALES only on opportunities it owns).
#[tracing::instrument(skip_all, fields(viewer = %viewer, opportunity.id = %opportunity_id))]
pub async fn submit(
    db: &DatabaseConnection,
    viewer: &Viewer,
    opportunity_id: Uuid,
    fields: FeedbackFields,
) -> AppResult<win_loss_feedback::Model> {
    viewer.require(Action::WriteFeedback)?;
    let txn = begin_write(db).await?;
    let deal = lock_deal(&txn, opportunity_id).await?;
    viewer.require_on(Action::WriteFeedback, deal.owner_id)?;
    if of_opportunity(&txn, deal.id).await?.is_some() {
        return Err(AppError::invalid(
            "opportunityId",
            UserErrorCode::Taken,
            taken_message(),
        ));
    }
    let valid = validate(&txn, fields, None, deal.stage, "").await?;
    let model = insert_valid(&txn, viewer, &deal, valid, "").await?;
    txn.commit().await?;
    Ok(model)
}

/// Changes feedback (SALES only on opportunities it owns). The author
/// stays; the viewer becomes its last editor. A stale `expected_version` is
/// a CONFLICT and writes nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: FeedbackFields,
) -> AppResult<win_loss_feedback::Model> {
    viewer.require(Action::WriteFeedback)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<win_loss_feedback::Entity>(&txn, id).await?;
    let deal = records::lock::<opportunity::Entity>(&txn, current.opportunity_id).await?;
    viewer.require_on(Action::WriteFeedback, deal.owner_id)?;
    records::check_version(
        win_loss_feedback::Entity::NAME,
        current.version,
        expected_version,
    )?;
    let valid = validate(&txn, fields, Some(&current), deal.stage, "").await?;
    let model = update_valid(&txn, viewer, current, valid).await?;
    txn.commit().await?;
    Ok(model)
}

/// Whether a row of `opportunities` (the outer query) is closed without
/// feedback whose outcome is its closed stage's: the "feedback missing"
/// queue. A deal reopened and closed with the other outcome is back in it.
pub fn feedback_missing() -> Condition {
    use opportunity::Column as O;
    use win_loss_feedback::Column as F;
    let f = Alias::new("f");
    let matching = Query::select()
        .expr(Expr::val(1))
        .from_as(win_loss_feedback::Entity, f.clone())
        .and_where(Expr::col((f.clone(), F::OpportunityId)).equals((opportunity::Entity, O::Id)))
        .and_where(Expr::col((f.clone(), F::DeletedAt)).is_null())
        .and_where(
            Expr::col((f, F::Outcome)).eq(Expr::case(
                Expr::col((opportunity::Entity, O::Stage)).eq(OpportunityStage::ClosedWon.as_str()),
                Outcome::Won.as_str(),
            )
            .finally(Outcome::Lost.as_str())),
        )
        .to_owned();
    Condition::all()
        .add(O::Stage.is_in([OpportunityStage::ClosedWon, OpportunityStage::ClosedLost]))
        .add(Expr::exists(matching).not())
}
