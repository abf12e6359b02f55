//! Opportunities in the API.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{enums::ObjectType, opportunity};
use uuid::Uuid;

use super::{
    account::Account,
    analytics::{AttributionModel, OpportunityAttribution},
    common::{
        DateTimeRange, Money, MoneyInput, OrderDirection, UserError, connection, db, decode_arg_id,
        decode_id, decode_opt_id, global_id, loaders, page_request, payload, viewer,
    },
    enums::{OpportunityStage, OpportunityType, SourcedBy},
    feedback::{OpportunityStageChange, WinLossFeedback},
    lead::Lead,
    loaders::prefetch_relation,
    scalars::InputDate,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::AppResult,
    services::opportunities::{
        self as svc, OpportunityFields, OpportunityFilter as SvcFilter, OpportunitySort,
    },
};

/// A deal: an amount sold to an account, moving through the pipeline stages.
pub struct Opportunity(pub opportunity::Model);

/// A deal: an amount sold to an account, moving through the pipeline stages.
#[Object]
impl Opportunity {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Opportunity, self.0.id)
    }
    /// Opportunity name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The account the deal is sold to.
    async fn account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        Ok(loaders(ctx)?.account(self.0.account_id).await?.map(Account))
    }
    /// The lead the opportunity was converted from.
    async fn primary_lead(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        Ok(loaders(ctx)?.lead(self.0.primary_lead_id).await?.map(Lead))
    }
    /// The opportunity owner (a sales rep).
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.owner_id).await?.map(User))
    }
    /// Pipeline stage.
    async fn stage(&self) -> OpportunityStage {
        self.0.stage.into()
    }
    /// When the opportunity entered its current stage.
    async fn stage_entered_at(&self) -> DateTime<Utc> {
        self.0.stage_entered_at
    }
    /// The deal's amount.
    async fn amount(&self) -> Money {
        Money::new(self.0.amount, self.0.currency.clone())
    }
    /// Kind of deal.
    #[graphql(name = "type")]
    async fn opportunity_type(&self) -> OpportunityType {
        self.0.opportunity_type.into()
    }
    /// Who sourced the deal.
    async fn sourced_by(&self) -> SourcedBy {
        self.0.sourced_by.into()
    }
    /// When the deal is expected to close.
    async fn expected_close_on(&self) -> Option<NaiveDate> {
        self.0.expected_close_on
    }
    /// When the deal was closed (won or lost); null while open.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Why it was won or lost; null while open or until sales writes it.
    async fn feedback(&self, ctx: &Context<'_>) -> Result<Option<WinLossFeedback>> {
        Ok(loaders(ctx)?
            .feedback_of(self.0.id)
            .await?
            .map(WinLossFeedback))
    }
    /// Closed without win/loss feedback for its outcome: it is in its
    /// owner's feedback-missing queue (`opportunities(filter:
    /// {feedbackMissing: true, ownerIds: [...]})`).
    async fn feedback_missing(&self, ctx: &Context<'_>) -> Result<bool> {
        let Some(outcome) = crate::domain::feedback::outcome_of(self.0.stage) else {
            return Ok(false);
        };
        let feedback = loaders(ctx)?.feedback_of(self.0.id).await?;
        Ok(feedback.is_none_or(|f| f.outcome != outcome))
    }
    /// Every stage transition, oldest first, with who, when and why.
    async fn stage_history(&self, ctx: &Context<'_>) -> Result<Vec<OpportunityStageChange>> {
        Ok(crate::services::stage_changes::history(
            db(ctx)?,
            entity::enums::StageSubject::Opportunity,
            self.0.id,
        )
        .await?
        .into_iter()
        .map(OpportunityStageChange)
        .collect())
    }
    /// The amount credited to the campaign touches of the primary lead made
    /// at or before the opportunity's creation, under `model`: per touch
    /// and per campaign, summing to exactly the amount (in cents).
    async fn attribution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How the amount is shared among the touches.")] model: AttributionModel,
    ) -> Result<OpportunityAttribution> {
        super::analytics::attribution_of(ctx, &self.0, model).await
    }
    /// Ids of this opportunity in external systems (HubSpot deals, Salesforce
    /// opportunities), ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<super::external_id::ExternalId>> {
        super::external_id::of(ctx, ObjectType::Opportunity, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the opportunity was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the opportunity was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Opportunity {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[opportunity::Model],
    ) -> Result<()> {
        let l = loaders(ctx)?;
        prefetch_relation(
            ctx,
            selection,
            "account",
            ObjectType::Account,
            models.iter().map(|m| m.account_id),
        )
        .await?;
        prefetch_relation(
            ctx,
            selection,
            "primaryLead",
            ObjectType::Lead,
            models.iter().map(|m| m.primary_lead_id),
        )
        .await?;
        prefetch_relation(
            ctx,
            selection,
            "owner",
            ObjectType::User,
            models.iter().map(|m| m.owner_id),
        )
        .await?;
        if selection.field("feedback").exists() || selection.field("feedbackMissing").exists() {
            l.prefetch_feedback(models.iter().map(|m| m.id)).await?;
        }
        if selection.field("attribution").exists() {
            l.prefetch_touches(models.iter().map(|m| m.id)).await?;
        }
        super::external_id::prefetch(
            ctx,
            selection,
            ObjectType::Opportunity,
            models.iter().map(|m| m.id),
        )
        .await?;
        Ok(())
    }
}

connection!(
    OpportunityConnection,
    OpportunityEdge,
    Opportunity,
    opportunity::Entity,
    "opportunities"
);

/// Which opportunities to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct OpportunityFilter {
    /// Case-insensitive match on name; at most 200 characters.
    pub search: Option<String>,
    /// Of this account.
    pub account_id: Option<ID>,
    /// Converted from this lead.
    pub primary_lead_id: Option<ID>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<ID>>,
    /// In one of these stages.
    pub stages: Option<Vec<OpportunityStage>>,
    /// Of one of these types.
    pub types: Option<Vec<OpportunityType>>,
    /// Sourced by one of these teams.
    pub sourced_by: Option<Vec<SourcedBy>>,
    /// Created in this range.
    pub created_at: Option<DateTimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<DateTimeRange>,
    /// Closed in this range.
    pub closed_at: Option<DateTimeRange>,
    /// true: only closed opportunities without win/loss feedback for their
    /// outcome (the feedback-missing queue; add `ownerIds` for one rep's);
    /// false: only the others.
    pub feedback_missing: Option<bool>,
    /// Only opportunities with at least one id in this external system.
    pub has_external_id_in: Option<super::enums::ExternalSystem>,
    /// Only opportunities with no id in this external system.
    pub lacks_external_id_in: Option<super::enums::ExternalSystem>,
}

/// Fields opportunities can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OpportunityOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last update.
    UpdatedAt,
    /// Name.
    Name,
    /// Amount (compared as numbers, whatever the currency).
    Amount,
}

/// Order of an opportunity list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct OpportunityOrder {
    /// The field to order by.
    pub field: OpportunityOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Lists opportunities (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<OpportunityFilter>,
    order_by: Option<OpportunityOrder>,
) -> Result<OpportunityConnection> {
    let viewer = viewer(ctx)?;
    let f = filter.unwrap_or_default();
    let owner_ids = f
        .owner_ids
        .map(|ids| {
            ids.iter()
                .map(|id| decode_arg_id(id, ObjectType::User, "filter.ownerIds"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let account_id = f
        .account_id
        .map(|id| decode_arg_id(&id, ObjectType::Account, "filter.accountId"))
        .transpose()?;
    let primary_lead_id = f
        .primary_lead_id
        .map(|id| decode_arg_id(&id, ObjectType::Lead, "filter.primaryLeadId"))
        .transpose()?;
    let filter = SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
        account_id,
        primary_lead_id,
        owner_ids,
        stages: f.stages.map(|v| v.into_iter().map(Into::into).collect()),
        types: f.types.map(|v| v.into_iter().map(Into::into).collect()),
        sourced_by: f
            .sourced_by
            .map(|v| v.into_iter().map(Into::into).collect()),
        created_at: f.created_at.map(Into::into),
        updated_at: f.updated_at.map(Into::into),
        closed_at: f.closed_at.map(Into::into),
        feedback_missing: f.feedback_missing,
        external_ids: super::external_id::presence(f.has_external_id_in, f.lacks_external_id_in),
    };
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        OpportunityOrderField::CreatedAt => OpportunitySort::CreatedAt,
        OpportunityOrderField::UpdatedAt => OpportunitySort::UpdatedAt,
        OpportunityOrderField::Name => OpportunitySort::Name,
        OpportunityOrderField::Amount => OpportunitySort::Amount,
    };
    let page = page_request(first, after, last, before);
    let result = svc::list(
        db(ctx)?,
        viewer,
        &filter,
        sort,
        order.direction == OrderDirection::Desc,
        &page,
    )
    .await?;
    Ok(OpportunityConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// Opportunity queries.
#[derive(Default)]
pub struct OpportunityQuery;

#[Object]
impl OpportunityQuery {
    /// Opportunities, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn opportunities(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<OpportunityFilter>,
        order_by: Option<OpportunityOrder>,
    ) -> Result<OpportunityConnection> {
        list(ctx, first, after, last, before, filter, order_by).await
    }
}

/// Input of `createOpportunity`.
#[derive(InputObject)]
pub struct CreateOpportunityInput {
    /// Opportunity name.
    pub name: String,
    /// The account the deal is sold to.
    pub account_id: Option<ID>,
    /// The lead the opportunity was converted from.
    pub primary_lead_id: Option<ID>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user. A SALES
    /// caller owns what it creates and may not name another owner.
    pub owner_id: Option<ID>,
    /// Pipeline stage (default DISCOVERY).
    pub stage: Option<OpportunityStage>,
    /// The deal's amount.
    pub amount: MoneyInput,
    /// Kind of deal (default NEW_BUSINESS).
    #[graphql(name = "type")]
    pub opportunity_type: Option<OpportunityType>,
    /// Who sourced the deal (default SALES).
    pub sourced_by: Option<SourcedBy>,
    /// When the deal is expected to close.
    pub expected_close_on: Option<InputDate>,
}

/// Input of `updateOpportunity`: only the fields given change; `null` clears.
#[derive(InputObject)]
pub struct UpdateOpportunityInput {
    /// The opportunity to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the opportunity is at this
    /// version.
    pub expected_version: Option<i32>,
    /// Opportunity name.
    pub name: Option<String>,
    /// The account the deal is sold to.
    pub account_id: MaybeUndefined<ID>,
    /// The lead the opportunity was converted from.
    pub primary_lead_id: MaybeUndefined<ID>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user. A SALES
    /// caller may not hand its opportunity to another owner.
    pub owner_id: MaybeUndefined<ID>,
    /// Pipeline stage; a change is recorded in the stage history, and moving
    /// into CLOSED_WON or CLOSED_LOST sets `closedAt`. Open stages move
    /// freely among each other and may close; a closed opportunity is
    /// reopened only by ADMIN or INTEGRATION, and never switches between
    /// CLOSED_WON and CLOSED_LOST directly. Closing here needs no feedback
    /// (the deal then waits in the feedback-missing queue); people close
    /// with `closeOpportunity`.
    pub stage: Option<OpportunityStage>,
    /// The deal's amount.
    pub amount: Option<MoneyInput>,
    /// Kind of deal.
    #[graphql(name = "type")]
    pub opportunity_type: Option<OpportunityType>,
    /// Who sourced the deal.
    pub sourced_by: Option<SourcedBy>,
    /// When the deal is expected to close.
    pub expected_close_on: MaybeUndefined<InputDate>,
}

/// Input of `deleteOpportunity`.
#[derive(InputObject)]
pub struct DeleteOpportunityInput {
    /// The opportunity to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the opportunity is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createOpportunity` and `updateOpportunity`.
#[derive(SimpleObject)]
pub struct OpportunityPayload {
    /// The opportunity as it now is; null when nothing was written.
    pub opportunity: Option<Opportunity>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteOpportunity`.
#[derive(SimpleObject)]
pub struct DeleteOpportunityPayload {
    /// Id of the deleted opportunity; null when nothing was deleted.
    pub deleted_opportunity_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn money(m: MoneyInput) -> (rust_decimal::Decimal, String) {
    (m.amount, m.currency)
}

/// Decodes an optional, clearable id of an update input: absent is no
/// change, `null` clears.
fn decode_maybe_id(
    id: MaybeUndefined<ID>,
    object: ObjectType,
    field: &str,
) -> AppResult<Option<Option<Uuid>>> {
    Ok(match id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(decode_id(&id, object, field)?)),
    })
}

/// Opportunity mutations.
#[derive(Default)]
pub struct OpportunityMutation;

#[Object]
impl OpportunityMutation {
    /// Creates an opportunity and records its first stage. Roles: ADMIN,
    /// SALES (owning it), INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteOpportunity)")]
    async fn create_opportunity(
        &self,
        ctx: &Context<'_>,
        input: CreateOpportunityInput,
    ) -> Result<OpportunityPayload> {
        let result = async {
            let fields = OpportunityFields {
                name: Some(input.name),
                account_id: Some(decode_opt_id(
                    input.account_id.as_ref(),
                    ObjectType::Account,
                    "accountId",
                )?),
                primary_lead_id: Some(decode_opt_id(
                    input.primary_lead_id.as_ref(),
                    ObjectType::Lead,
                    "primaryLeadId",
                )?),
                owner_id: Some(decode_opt_id(
                    input.owner_id.as_ref(),
                    ObjectType::User,
                    "ownerId",
                )?),
                stage: input.stage.map(Into::into),
                amount: Some(money(input.amount)),
                opportunity_type: input.opportunity_type.map(Into::into),
                sourced_by: input.sourced_by.map(Into::into),
                expected_close_on: Some(input.expected_close_on.map(InputDate::get)),
            };
            svc::create(db(ctx)?, viewer(ctx)?, fields).await
        }
        .await;
        let (opportunity, user_errors) = payload(result, Opportunity)?;
        Ok(OpportunityPayload {
            opportunity,
            user_errors,
        })
    }

    /// Changes an opportunity. Roles: ADMIN, SALES (only opportunities it
    /// owns), INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteOpportunity)")]
    async fn update_opportunity(
        &self,
        ctx: &Context<'_>,
        input: UpdateOpportunityInput,
    ) -> Result<OpportunityPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Opportunity, "input.id")?;
        let result = async {
            let fields = OpportunityFields {
                name: input.name,
                account_id: decode_maybe_id(input.account_id, ObjectType::Account, "accountId")?,
                primary_lead_id: decode_maybe_id(
                    input.primary_lead_id,
                    ObjectType::Lead,
                    "primaryLeadId",
                )?,
                owner_id: decode_maybe_id(input.owner_id, ObjectType::User, "ownerId")?,
                stage: input.stage.map(Into::into),
                amount: input.amount.map(money),
                opportunity_type: input.opportunity_type.map(Into::into),
                sourced_by: input.sourced_by.map(Into::into),
                expected_close_on: Option::<Option<InputDate>>::from(input.expected_close_on)
                    .map(|d| d.map(InputDate::get)),
            };
            svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await
        }
        .await;
        let (opportunity, user_errors) = payload(result, Opportunity)?;
        Ok(OpportunityPayload {
            opportunity,
            user_errors,
        })
    }

    /// Deletes an opportunity (soft delete: sync jobs see a tombstone).
    /// Roles: ADMIN, SALES (only opportunities it owns), INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteOpportunity)")]
    async fn delete_opportunity(
        &self,
        ctx: &Context<'_>,
        input: DeleteOpportunityInput,
    ) -> Result<DeleteOpportunityPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Opportunity, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::Opportunity, id))?;
        Ok(DeleteOpportunityPayload {
            deleted_opportunity_id: deleted,
            user_errors,
        })
    }
}
