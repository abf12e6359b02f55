//! Campaigns in the API.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{campaign, enums::ObjectType};

use super::{
    analytics::{AttributionModel, CampaignPerformance},
    common::{
        DateTimeRange, Money, MoneyInput, OrderDirection, UserError, connection, db, decode_arg_id,
        decode_id, decode_opt_id, global_id, loaders, page_request, payload, viewer,
    },
    enums::{CampaignObjective, CampaignStatus, Channel},
    lead::{LeadConnection, LeadFilter, LeadOrder},
    loaders::prefetch_relation,
    scalars::InputDate,
    spend::CampaignSpendConnection,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    services::{
        campaigns::{self as svc, CampaignFields, CampaignFilter as SvcFilter, CampaignSort},
        spend::{self, DayRange},
    },
};

/// A marketing campaign: a channel, an objective, dates and a budget.
pub struct Campaign(pub campaign::Model);

/// A marketing campaign: a channel, an objective, dates and a budget.
#[Object]
impl Campaign {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Campaign, self.0.id)
    }
    /// Campaign name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The channel the campaign runs on (the same values as a lead's source).
    async fn channel(&self) -> Channel {
        self.0.channel.into()
    }
    /// What the campaign aims at.
    async fn objective(&self) -> CampaignObjective {
        self.0.objective.into()
    }
    /// Where the campaign is in its life.
    async fn status(&self) -> CampaignStatus {
        self.0.status.into()
    }
    /// First day.
    async fn starts_on(&self) -> NaiveDate {
        self.0.starts_on
    }
    /// Last day; null while open-ended.
    async fn ends_on(&self) -> Option<NaiveDate> {
        self.0.ends_on
    }
    /// Budget; null when none is set.
    async fn budget(&self) -> Option<Money> {
        self.0
            .budget
            .map(|amount| Money::new(amount, self.0.currency.clone()))
    }
    /// The campaign owner.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.owner_id).await?.map(User))
    }
    /// The leads this campaign sourced (their first touch).
    #[allow(clippy::too_many_arguments)]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<LeadFilter>,
        order_by: Option<LeadOrder>,
    ) -> Result<LeadConnection> {
        let mut filter = filter.unwrap_or_default();
        filter.source_campaign_id = Some(global_id(ObjectType::Campaign, self.0.id));
        super::lead::list(ctx, first, after, last, before, Some(filter), order_by).await
    }
    /// The money spent on the campaign, day by day (oldest first), in
    /// `from..=to` when given (both inclusive days).
    #[allow(clippy::too_many_arguments)]
    async fn spend(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        from: Option<InputDate>,
        to: Option<InputDate>,
    ) -> Result<CampaignSpendConnection> {
        let days = DayRange {
            from: from.map(InputDate::get),
            to: to.map(InputDate::get),
        };
        let page = page_request(first, after, last, before);
        Ok(CampaignSpendConnection {
            page: spend::list(db(ctx)?, viewer(ctx)?, self.0.id, days, &page).await?,
            total: spend::select(self.0.id, days),
        })
    }
    /// The sum of the spend in `from..=to` (both inclusive days; all of it
    /// when neither is given), in the campaign's currency; zero when none.
    async fn total_spend(
        &self,
        ctx: &Context<'_>,
        from: Option<InputDate>,
        to: Option<InputDate>,
    ) -> Result<Money> {
        let total = spend::total(
            db(ctx)?,
            viewer(ctx)?,
            self.0.id,
            DayRange {
                from: from.map(InputDate::get),
                to: to.map(InputDate::get),
            },
        )
        .await?;
        Ok(Money::new(total, self.0.currency.clone()))
    }
    /// What the campaign did from the day `from` through the day `to` (UTC,
    /// both included): touches, leads sourced and
    /// influenced, MQLs, accepted, rejected (by reason), SQLs,
    /// opportunities, won and lost (with top loss reasons and competitors),
    /// spend, cost per lead / MQL / opportunity / customer, and the
    /// pipeline and revenue attributed to it under `attributionModel`.
    /// Aggregates only (no personal data): every reading role, REPORTING
    /// included. Costs 100 extra query-cost points.
    async fn performance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period's first day (UTC).")] from: InputDate,
        #[graphql(desc = "The period's last day (UTC, included).")] to: InputDate,
        #[graphql(
            desc = "The model for `attributedPipeline` and `attributedRevenue` (LINEAR when omitted or null).",
            default_with = "Some(AttributionModel::Linear)"
        )]
        attribution_model: Option<AttributionModel>,
    ) -> Result<CampaignPerformance> {
        let model = attribution_model.unwrap_or(AttributionModel::Linear);
        super::analytics::performance(ctx, self.0.id, from.get(), to.get(), model).await
    }
    /// Ids of this campaign in external systems, ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<super::external_id::ExternalId>> {
        super::external_id::of(ctx, ObjectType::Campaign, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the campaign was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the campaign was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Campaign {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[campaign::Model],
    ) -> Result<()> {
        prefetch_relation(
            ctx,
            selection,
            "owner",
            ObjectType::User,
            models.iter().map(|m| m.owner_id),
        )
        .await?;
        super::external_id::prefetch(
            ctx,
            selection,
            ObjectType::Campaign,
            models.iter().map(|m| m.id),
        )
        .await?;
        Ok(())
    }
}

connection!(
    CampaignConnection,
    CampaignEdge,
    Campaign,
    campaign::Entity,
    "campaigns"
);

/// Which campaigns to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct CampaignFilter {
    /// Case-insensitive match on name; at most 200 characters.
    pub search: Option<String>,
    /// Running on one of these channels.
    pub channels: Option<Vec<Channel>>,
    /// With one of these objectives.
    pub objectives: Option<Vec<CampaignObjective>>,
    /// In one of these statuses.
    pub statuses: Option<Vec<CampaignStatus>>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<ID>>,
    /// Running on this day: started on or before it and not ended before it.
    pub active_on: Option<InputDate>,
    /// Created in this range.
    pub created_at: Option<DateTimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<DateTimeRange>,
    /// Only campaigns with at least one id in this external system.
    pub has_external_id_in: Option<super::enums::ExternalSystem>,
    /// Only campaigns with no id in this external system.
    pub lacks_external_id_in: Option<super::enums::ExternalSystem>,
}

/// Fields campaigns can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum CampaignOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last update.
    UpdatedAt,
    /// Name.
    Name,
}

/// Order of a campaign list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct CampaignOrder {
    /// The field to order by.
    pub field: CampaignOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Lists campaigns (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<CampaignFilter>,
    order_by: Option<CampaignOrder>,
) -> Result<CampaignConnection> {
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
    let filter = SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
        channels: f.channels.map(|v| v.into_iter().map(Into::into).collect()),
        objectives: f
            .objectives
            .map(|v| v.into_iter().map(Into::into).collect()),
        statuses: f.statuses.map(|v| v.into_iter().map(Into::into).collect()),
        owner_ids,
        active_on: f.active_on.map(InputDate::get),
        created_at: f.created_at.map(Into::into),
        updated_at: f.updated_at.map(Into::into),
        external_ids: super::external_id::presence(f.has_external_id_in, f.lacks_external_id_in),
    };
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        CampaignOrderField::CreatedAt => CampaignSort::CreatedAt,
        CampaignOrderField::UpdatedAt => CampaignSort::UpdatedAt,
        CampaignOrderField::Name => CampaignSort::Name,
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
    Ok(CampaignConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// Campaign queries.
#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// Campaigns, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<CampaignFilter>,
        order_by: Option<CampaignOrder>,
    ) -> Result<CampaignConnection> {
        list(ctx, first, after, last, before, filter, order_by).await
    }
}

/// Input of `createCampaign`.
#[derive(InputObject)]
pub struct CreateCampaignInput {
    /// Campaign name.
    pub name: String,
    /// The channel the campaign runs on.
    pub channel: Channel,
    /// What the campaign aims at.
    pub objective: CampaignObjective,
    /// Where the campaign is in its life (default PLANNED).
    pub status: Option<CampaignStatus>,
    /// First day.
    pub starts_on: InputDate,
    /// Last day; not before `startsOn`.
    pub ends_on: Option<InputDate>,
    /// Budget.
    pub budget: Option<MoneyInput>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: Option<ID>,
}

/// Input of `updateCampaign`: only the fields given change; `null` clears.
#[derive(InputObject)]
pub struct UpdateCampaignInput {
    /// The campaign to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the campaign is at this version.
    pub expected_version: Option<i32>,
    /// Campaign name.
    pub name: Option<String>,
    /// The channel the campaign runs on.
    pub channel: Option<Channel>,
    /// What the campaign aims at.
    pub objective: Option<CampaignObjective>,
    /// Where the campaign is in its life.
    pub status: Option<CampaignStatus>,
    /// First day.
    pub starts_on: Option<InputDate>,
    /// Last day; not before `startsOn`.
    pub ends_on: MaybeUndefined<InputDate>,
    /// Budget.
    pub budget: MaybeUndefined<MoneyInput>,
    /// The owning user: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: MaybeUndefined<ID>,
}

/// Input of `deleteCampaign`.
#[derive(InputObject)]
pub struct DeleteCampaignInput {
    /// The campaign to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the campaign is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createCampaign` and `updateCampaign`.
#[derive(SimpleObject)]
pub struct CampaignPayload {
    /// The campaign as it now is; null when nothing was written.
    pub campaign: Option<Campaign>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteCampaign`.
#[derive(SimpleObject)]
pub struct DeleteCampaignPayload {
    /// Id of the deleted campaign; null when nothing was deleted.
    pub deleted_campaign_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn money(m: MoneyInput) -> (rust_decimal::Decimal, String) {
    (m.amount, m.currency)
}

/// Campaign mutations.
#[derive(Default)]
pub struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Creates a campaign. Roles: ADMIN, MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignInput,
    ) -> Result<CampaignPayload> {
        let result = async {
            let fields = CampaignFields {
                name: Some(input.name),
                channel: Some(input.channel.into()),
                objective: Some(input.objective.into()),
                status: input.status.map(Into::into),
                starts_on: Some(input.starts_on.get()),
                ends_on: Some(input.ends_on.map(InputDate::get)),
                budget: Some(input.budget.map(money)),
                owner_id: Some(decode_opt_id(
                    input.owner_id.as_ref(),
                    ObjectType::User,
                    "ownerId",
                )?),
            };
            svc::create(db(ctx)?, viewer(ctx)?, fields).await
        }
        .await;
        let (campaign, user_errors) = payload(result, Campaign)?;
        Ok(CampaignPayload {
            campaign,
            user_errors,
        })
    }

    /// Changes a campaign. Roles: ADMIN, MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        input: UpdateCampaignInput,
    ) -> Result<CampaignPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Campaign, "input.id")?;
        let result = async {
            let owner_id = match input.owner_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => {
                    Some(Some(decode_id(&id, ObjectType::User, "ownerId")?))
                }
            };
            let fields = CampaignFields {
                name: input.name,
                channel: input.channel.map(Into::into),
                objective: input.objective.map(Into::into),
                status: input.status.map(Into::into),
                starts_on: input.starts_on.map(InputDate::get),
                ends_on: Option::<Option<InputDate>>::from(input.ends_on)
                    .map(|d| d.map(InputDate::get)),
                budget: Option::<Option<MoneyInput>>::from(input.budget).map(|v| v.map(money)),
                owner_id,
            };
            svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await
        }
        .await;
        let (campaign, user_errors) = payload(result, Campaign)?;
        Ok(CampaignPayload {
            campaign,
            user_errors,
        })
    }

    /// Deletes a campaign (soft delete: sync jobs see a tombstone). Roles:
    /// ADMIN, MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn delete_campaign(
        &self,
        ctx: &Context<'_>,
        input: DeleteCampaignInput,
    ) -> Result<DeleteCampaignPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Campaign, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::Campaign, id))?;
        Ok(DeleteCampaignPayload {
            deleted_campaign_id: deleted,
            user_errors,
        })
    }
}
