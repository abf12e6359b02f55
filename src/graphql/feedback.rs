//! Win/loss feedback and closing deals in the API: the closed loop.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    enums::{ObjectType, OpportunityStage as StoredStage},
    stage_change, win_loss_feedback,
};
use sea_orm::ActiveEnum;

use super::{
    common::{
        DateTimeRange, MoneyInput, OrderDirection, UserError, connection, db, decode_arg_id,
        decode_id, decode_opt_id, global_id, loaders, page_request, payload, personal, viewer,
    },
    competitor::Competitor,
    enums::{FeedbackReason, OpportunityStage, Outcome},
    loaders::prefetch_relation,
    opportunity::Opportunity,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::{AppError, AppResult},
    services::{
        feedback::{self as svc, FeedbackFields, FeedbackFilter, FeedbackSort},
        opportunities,
    },
};

/// Why a closed deal was won or lost, written by sales, read by marketing
/// (the closed loop). One per opportunity.
pub struct WinLossFeedback(pub win_loss_feedback::Model);

/// Why a closed deal was won or lost, written by sales, read by marketing
/// (the closed loop). One per opportunity.
#[Object]
impl WinLossFeedback {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::WinLossFeedback, self.0.id)
    }
    /// The closed opportunity.
    async fn opportunity(&self, ctx: &Context<'_>) -> Result<Option<Opportunity>> {
        Ok(loaders(ctx)?
            .opportunity(self.0.opportunity_id)
            .await?
            .map(Opportunity))
    }
    /// Won or lost (the opportunity's closed stage).
    async fn outcome(&self) -> Outcome {
        self.0.outcome.into()
    }
    /// The main reason.
    async fn primary_reason(&self) -> FeedbackReason {
        self.0.primary_reason.into()
    }
    /// Further reasons (never the primary one).
    async fn secondary_reasons(&self) -> Result<Vec<FeedbackReason>> {
        Ok(svc::secondary_of(&self.0)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// The competitor the deal was won against or lost to.
    async fn competitor(&self, ctx: &Context<'_>) -> Result<Option<Competitor>> {
        Ok(loaders(ctx)?
            .competitor(self.0.competitor_id)
            .await?
            .map(Competitor))
    }
    /// Objections the buyer raised: tags of lower-case letters, digits and
    /// hyphens (`too-expensive`). Feedback written before tags were
    /// enforced may hold other text; that is personal data, left out for
    /// REPORTING.
    async fn objections(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(svc::objections_of(&self.0, viewer(ctx)?)?)
    }
    /// How well the lead matched the lead definition, 1 (not at all) to 5
    /// (perfectly), in sales' view.
    async fn lead_fit_rating(&self) -> Option<i32> {
        self.0.lead_fit_rating.map(i32::from)
    }
    /// Sales' notes. Personal data (free text): FORBIDDEN (and null) for
    /// REPORTING.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.notes.as_deref())
    }
    /// Who wrote it first (an update keeps the author).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.author_id).await?.map(User))
    }
    /// Who changed it last; null until it is changed after being written.
    async fn last_edited_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?
            .user(self.0.last_edited_by_id)
            .await?
            .map(User))
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl WinLossFeedback {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[win_loss_feedback::Model],
    ) -> Result<()> {
        let l = loaders(ctx)?;
        prefetch_relation(
            ctx,
            selection,
            "opportunity",
            ObjectType::Opportunity,
            models.iter().map(|m| Some(m.opportunity_id)),
        )
        .await?;
        prefetch_relation(
            ctx,
            selection,
            "competitor",
            ObjectType::Competitor,
            models.iter().map(|m| m.competitor_id),
        )
        .await?;
        let author = selection.field("author").exists();
        let editor = selection.field("lastEditedBy").exists();
        if author || editor {
            l.prefetch_users(models.iter().flat_map(|m| {
                [
                    m.author_id.filter(|_| author),
                    m.last_edited_by_id.filter(|_| editor),
                ]
            }))
            .await?;
        }
        Ok(())
    }
}

connection!(
    WinLossFeedbackConnection,
    WinLossFeedbackEdge,
    WinLossFeedback,
    win_loss_feedback::Entity,
    "win/loss feedback"
);

/// One stage transition of an opportunity: from, to, when, who and why.
pub struct OpportunityStageChange(pub stage_change::Model);

fn stage(name: &str) -> AppResult<OpportunityStage> {
    StoredStage::try_from_value(&name.to_owned())
        .map(Into::into)
        .map_err(|_| AppError::Internal(format!("unknown opportunity stage {name:?}")))
}

/// One stage transition of an opportunity: from, to, when, who and why.
#[Object]
impl OpportunityStageChange {
    /// The opportunity that moved.
    async fn opportunity_id(&self) -> ID {
        global_id(ObjectType::Opportunity, self.0.subject_id)
    }
    /// The stage left; null when the opportunity was created.
    async fn from(&self) -> Result<Option<OpportunityStage>> {
        Ok(self.0.from_stage.as_deref().map(stage).transpose()?)
    }
    /// The stage entered.
    async fn to(&self) -> Result<OpportunityStage> {
        Ok(stage(&self.0.to_stage)?)
    }
    /// When (a sync's source time for imported history).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who moved it; null for imports.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.actor_id).await?.map(User))
    }
    /// Why: for a deal closed with `closeOpportunity`, the feedback's
    /// primary reason.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

/// Which feedback to list. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct WinLossFeedbackFilter {
    /// With one of these outcomes.
    pub outcomes: Option<Vec<Outcome>>,
    /// With one of these primary reasons.
    pub primary_reasons: Option<Vec<FeedbackReason>>,
    /// Naming one of these reasons, as the primary or a secondary reason.
    pub reasons: Option<Vec<FeedbackReason>>,
    /// Naming one of these competitors.
    pub competitor_ids: Option<Vec<ID>>,
    /// Written by one of these users.
    pub author_ids: Option<Vec<ID>>,
    /// On opportunities owned by one of these users.
    pub owner_ids: Option<Vec<ID>>,
    /// On opportunities closed in this range.
    pub closed_at: Option<DateTimeRange>,
    /// Written in this range.
    pub created_at: Option<DateTimeRange>,
}

/// Fields feedback can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum WinLossFeedbackOrderField {
    /// When it was written.
    #[default]
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

/// Order of a feedback list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct WinLossFeedbackOrder {
    /// The field to order by.
    pub field: WinLossFeedbackOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

fn ids(v: Option<Vec<ID>>, object: ObjectType, argument: &str) -> Result<Option<Vec<uuid::Uuid>>> {
    Ok(v.map(|ids| {
        ids.iter()
            .map(|id| decode_arg_id(id, object, argument))
            .collect::<Result<Vec<_>, _>>()
    })
    .transpose()?)
}

/// Feedback queries.
#[derive(Default)]
pub struct FeedbackQuery;

#[Object]
impl FeedbackQuery {
    /// Win/loss feedback, filtered and ordered, 1-100 per page (20 by
    /// default): how marketing reads the closed loop. Feedback on deleted
    /// opportunities is left out.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn win_loss_feedback(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<WinLossFeedbackFilter>,
        order_by: Option<WinLossFeedbackOrder>,
    ) -> Result<WinLossFeedbackConnection> {
        let f = filter.unwrap_or_default();
        let filter = FeedbackFilter {
            outcomes: f.outcomes.map(|v| v.into_iter().map(Into::into).collect()),
            primary_reasons: f
                .primary_reasons
                .map(|v| v.into_iter().map(Into::into).collect()),
            reasons: f.reasons.map(|v| v.into_iter().map(Into::into).collect()),
            competitor_ids: ids(
                f.competitor_ids,
                ObjectType::Competitor,
                "filter.competitorIds",
            )?,
            author_ids: ids(f.author_ids, ObjectType::User, "filter.authorIds")?,
            owner_ids: ids(f.owner_ids, ObjectType::User, "filter.ownerIds")?,
            closed_at: f.closed_at.map(Into::into),
            created_at: f.created_at.map(Into::into),
        };
        let order = order_by.unwrap_or_default();
        let sort = match order.field {
            WinLossFeedbackOrderField::CreatedAt => FeedbackSort::CreatedAt,
            WinLossFeedbackOrderField::UpdatedAt => FeedbackSort::UpdatedAt,
        };
        let page = page_request(first, after, last, before);
        let result = svc::list(
            db(ctx)?,
            viewer(ctx)?,
            &filter,
            sort,
            order.direction == OrderDirection::Desc,
            &page,
        )
        .await?;
        Ok(WinLossFeedbackConnection {
            page: result,
            total: svc::select(&filter),
        })
    }
}

/// The feedback fields shared by `closeOpportunity` and
/// `submitWinLossFeedback`.
#[derive(InputObject)]
pub struct WinLossFeedbackInput {
    /// The main reason.
    pub primary_reason: FeedbackReason,
    /// Further reasons; repeats are dropped, and the primary reason may not
    /// be among them.
    #[graphql(default)]
    pub secondary_reasons: Vec<FeedbackReason>,
    /// The competitor the deal was won against or lost to.
    pub competitor_id: Option<ID>,
    /// Objections the buyer raised, as tags: at most 10, each at most 50
    /// lower-case letters, digits and hyphens once normalised (trimmed,
    /// lower-cased, blanks and `_` become `-`: "No SSO" is `no-sso`),
    /// repeats dropped. Other text (an email address, punctuation) is a
    /// user error: details go in `notes`.
    #[graphql(default)]
    pub objections: Vec<String>,
    /// How well the lead matched the lead definition, 1 (not at all) to 5
    /// (perfectly).
    pub lead_fit_rating: Option<i32>,
    /// Notes (at most 5,000 characters). Personal data: REPORTING cannot
    /// read them.
    pub notes: Option<String>,
}

impl WinLossFeedbackInput {
    fn fields(self, outcome: Option<Outcome>, prefix: &str) -> AppResult<FeedbackFields> {
        Ok(FeedbackFields {
            outcome: outcome.map(Into::into),
            primary_reason: Some(self.primary_reason.into()),
            secondary_reasons: Some(self.secondary_reasons.into_iter().map(Into::into).collect()),
            competitor_id: Some(decode_opt_id(
                self.competitor_id.as_ref(),
                ObjectType::Competitor,
                &format!("{prefix}competitorId"),
            )?),
            objections: Some(self.objections),
            lead_fit_rating: Some(self.lead_fit_rating),
            notes: Some(self.notes),
        })
    }
}

/// Input of `closeOpportunity`.
#[derive(InputObject)]
pub struct CloseOpportunityInput {
    /// The open opportunity to close.
    pub id: ID,
    /// Refuse with CONFLICT unless the opportunity is at this version.
    pub expected_version: Option<i32>,
    /// WON closes it as CLOSED_WON, LOST as CLOSED_LOST.
    pub outcome: Outcome,
    /// The final amount, when it changed.
    pub amount: Option<MoneyInput>,
    /// Why it was won or lost; written with the same outcome.
    pub feedback: WinLossFeedbackInput,
}

/// Result of `closeOpportunity`.
#[derive(SimpleObject)]
pub struct CloseOpportunityPayload {
    /// The closed opportunity; null when nothing was written.
    pub opportunity: Option<Opportunity>,
    /// Its feedback; null when nothing was written.
    pub win_loss_feedback: Option<WinLossFeedback>,
    /// Validation failures (the feedback's under `feedback.`); empty on
    /// success.
    pub user_errors: Vec<UserError>,
}

/// Input of `submitWinLossFeedback`.
#[derive(InputObject)]
pub struct SubmitWinLossFeedbackInput {
    /// The closed opportunity (closed without feedback, e.g. by a sync job).
    pub opportunity_id: ID,
    /// Won or lost; must match the closed stage.
    pub outcome: Outcome,
    /// The main reason.
    pub primary_reason: FeedbackReason,
    /// Further reasons; repeats are dropped, and the primary reason may not
    /// be among them.
    #[graphql(default)]
    pub secondary_reasons: Vec<FeedbackReason>,
    /// The competitor the deal was won against or lost to.
    pub competitor_id: Option<ID>,
    /// Objections the buyer raised, as tags: at most 10, each at most 50
    /// lower-case letters, digits and hyphens once normalised (trimmed,
    /// lower-cased, blanks and `_` become `-`: "No SSO" is `no-sso`),
    /// repeats dropped. Other text (an email address, punctuation) is a
    /// user error: details go in `notes`.
    #[graphql(default)]
    pub objections: Vec<String>,
    /// How well the lead matched the lead definition, 1-5.
    pub lead_fit_rating: Option<i32>,
    /// Notes (at most 5,000 characters).
    pub notes: Option<String>,
}

/// Input of `updateWinLossFeedback`: only the fields given change; `null`
/// clears.
#[derive(InputObject)]
pub struct UpdateWinLossFeedbackInput {
    /// The feedback to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the feedback is at this version.
    pub expected_version: Option<i32>,
    /// Won or lost; must match the opportunity's closed stage.
    pub outcome: Option<Outcome>,
    /// The main reason.
    pub primary_reason: Option<FeedbackReason>,
    /// Further reasons (replacing the current ones).
    pub secondary_reasons: Option<Vec<FeedbackReason>>,
    /// The competitor.
    pub competitor_id: MaybeUndefined<ID>,
    /// Objection tags (replacing the current ones).
    pub objections: Option<Vec<String>>,
    /// Lead-fit rating, 1-5.
    pub lead_fit_rating: MaybeUndefined<i32>,
    /// Notes.
    pub notes: MaybeUndefined<String>,
}

/// Result of `submitWinLossFeedback` and `updateWinLossFeedback`.
#[derive(SimpleObject)]
pub struct WinLossFeedbackPayload {
    /// The feedback as it now is; null when nothing was written.
    pub win_loss_feedback: Option<WinLossFeedback>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Closing deals and win/loss feedback.
#[derive(Default)]
pub struct FeedbackMutation;

#[Object]
impl FeedbackMutation {
    /// Closes an open opportunity as won or lost and writes its win/loss
    /// feedback in one transaction; nothing is written when either is
    /// invalid. Roles: ADMIN, SALES (opportunities it owns), INTEGRATION.
    #[graphql(
        guard = "PolicyGuard(Action::WriteOpportunity).and(PolicyGuard(Action::WriteFeedback))"
    )]
    async fn close_opportunity(
        &self,
        ctx: &Context<'_>,
        input: CloseOpportunityInput,
    ) -> Result<CloseOpportunityPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Opportunity, "input.id")?;
        let result = async {
            let feedback = input.feedback.fields(Some(input.outcome), "feedback.")?;
            opportunities::close(
                db(ctx)?,
                viewer(ctx)?,
                id,
                input.expected_version,
                input.outcome.into(),
                input.amount.map(|m| (m.amount, m.currency)),
                feedback,
            )
            .await
        }
        .await;
        let (closed, user_errors) = payload(result, |(o, f)| (Opportunity(o), WinLossFeedback(f)))?;
        let (opportunity, win_loss_feedback) = closed.unzip();
        Ok(CloseOpportunityPayload {
            opportunity,
            win_loss_feedback,
            user_errors,
        })
    }

    /// Writes the win/loss feedback of a closed opportunity that has none
    /// (a second submission is refused: update the first). Roles: ADMIN,
    /// SALES (opportunities it owns), INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteFeedback)")]
    async fn submit_win_loss_feedback(
        &self,
        ctx: &Context<'_>,
        input: SubmitWinLossFeedbackInput,
    ) -> Result<WinLossFeedbackPayload> {
        let result = async {
            let opportunity_id = decode_id(
                &input.opportunity_id,
                ObjectType::Opportunity,
                "opportunityId",
            )?;
            let fields = WinLossFeedbackInput {
                primary_reason: input.primary_reason,
                secondary_reasons: input.secondary_reasons,
                competitor_id: input.competitor_id,
                objections: input.objections,
                lead_fit_rating: input.lead_fit_rating,
                notes: input.notes,
            }
            .fields(Some(input.outcome), "")?;
            svc::submit(db(ctx)?, viewer(ctx)?, opportunity_id, fields).await
        }
        .await;
        let (win_loss_feedback, user_errors) = payload(result, WinLossFeedback)?;
        Ok(WinLossFeedbackPayload {
            win_loss_feedback,
            user_errors,
        })
    }

    /// Changes win/loss feedback. The author stays; the caller becomes its
    /// `lastEditedBy`. Roles: ADMIN, SALES (opportunities it owns),
    /// INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteFeedback)")]
    async fn update_win_loss_feedback(
        &self,
        ctx: &Context<'_>,
        input: UpdateWinLossFeedbackInput,
    ) -> Result<WinLossFeedbackPayload> {
        let id = decode_arg_id(&input.id, ObjectType::WinLossFeedback, "input.id")?;
        let result = async {
            let competitor_id = match input.competitor_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => Some(Some(decode_id(
                    &id,
                    ObjectType::Competitor,
                    "competitorId",
                )?)),
            };
            let fields = FeedbackFields {
                outcome: input.outcome.map(Into::into),
                primary_reason: input.primary_reason.map(Into::into),
                secondary_reasons: input
                    .secondary_reasons
                    .map(|v| v.into_iter().map(Into::into).collect()),
                competitor_id,
                objections: input.objections,
                lead_fit_rating: input.lead_fit_rating.into(),
                notes: input.notes.into(),
            };
            svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await
        }
        .await;
        let (win_loss_feedback, user_errors) = payload(result, WinLossFeedback)?;
        Ok(WinLossFeedbackPayload {
            win_loss_feedback,
            user_errors,
        })
    }
}
