//! Campaign spend in the API.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{campaign_spend, enums::ObjectType};

use super::{
    campaign::Campaign,
    common::{
        Money, MoneyInput, UserError, connection, db, decode_arg_id, decode_id, global_id, loaders,
        payload, personal, viewer,
    },
    loaders::prefetch_relation,
    scalars::InputDate,
};
use crate::{
    auth::{Action, PolicyGuard},
    services::spend::{self as svc, SpendFields},
};

/// Money spent on a campaign on one day. Period KPIs use the spend that
/// falls in the period.
pub struct CampaignSpend(pub campaign_spend::Model);

/// Money spent on a campaign on one day. Period KPIs use the spend that
/// falls in the period.
#[Object]
impl CampaignSpend {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::CampaignSpend, self.0.id)
    }
    /// The campaign the money was spent on.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.0.campaign_id)
            .await?
            .map(Campaign))
    }
    /// The day of the spend, within the campaign's dates.
    async fn spent_on(&self) -> NaiveDate {
        self.0.spent_on
    }
    /// How much, in the campaign's currency.
    async fn amount(&self) -> Money {
        Money::new(self.0.amount, self.0.currency.clone())
    }
    /// Free-text note. Personal data (free text): FORBIDDEN (and null) for
    /// REPORTING.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.note.as_deref())
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the entry was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the entry was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl CampaignSpend {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[campaign_spend::Model],
    ) -> Result<()> {
        prefetch_relation(
            ctx,
            selection,
            "campaign",
            ObjectType::Campaign,
            models.iter().map(|m| Some(m.campaign_id)),
        )
        .await?;
        Ok(())
    }
}

connection!(
    CampaignSpendConnection,
    CampaignSpendEdge,
    CampaignSpend,
    campaign_spend::Entity,
    "campaign spend entries"
);

/// Input of `createCampaignSpend`.
#[derive(InputObject)]
pub struct CreateCampaignSpendInput {
    /// The campaign the money was spent on.
    pub campaign_id: ID,
    /// The day of the spend: within the campaign's `startsOn..endsOn` (on or
    /// after `startsOn` while it has no end).
    pub spent_on: InputDate,
    /// How much: not negative, at most 2 decimals, in the campaign's
    /// currency (its budget's; USD when created without a budget).
    pub amount: MoneyInput,
    /// Free-text note.
    pub note: Option<String>,
}

/// Input of `updateCampaignSpend`: only the fields given change; `null`
/// clears. An entry stays on its campaign.
#[derive(InputObject)]
pub struct UpdateCampaignSpendInput {
    /// The entry to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the entry is at this version.
    pub expected_version: Option<i32>,
    /// The day of the spend, within the campaign's dates.
    pub spent_on: Option<InputDate>,
    /// How much, in the campaign's currency.
    pub amount: Option<MoneyInput>,
    /// Free-text note.
    pub note: MaybeUndefined<String>,
}

/// Input of `deleteCampaignSpend`.
#[derive(InputObject)]
pub struct DeleteCampaignSpendInput {
    /// The entry to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the entry is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createCampaignSpend` and `updateCampaignSpend`.
#[derive(SimpleObject)]
pub struct CampaignSpendPayload {
    /// The entry as it now is; null when nothing was written.
    pub campaign_spend: Option<CampaignSpend>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteCampaignSpend`.
#[derive(SimpleObject)]
pub struct DeleteCampaignSpendPayload {
    /// Id of the deleted entry; null when nothing was deleted.
    pub deleted_campaign_spend_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn money(m: MoneyInput) -> (rust_decimal::Decimal, String) {
    (m.amount, m.currency)
}

/// Campaign spend mutations.
#[derive(Default)]
pub struct SpendMutation;

#[Object]
impl SpendMutation {
    /// Records money spent on a campaign on one day. Roles: ADMIN,
    /// MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn create_campaign_spend(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignSpendInput,
    ) -> Result<CampaignSpendPayload> {
        let result = async {
            let campaign_id = decode_id(&input.campaign_id, ObjectType::Campaign, "campaignId")?;
            let fields = SpendFields {
                spent_on: Some(input.spent_on.get()),
                amount: Some(money(input.amount)),
                note: Some(input.note),
            };
            svc::create(db(ctx)?, viewer(ctx)?, campaign_id, fields).await
        }
        .await;
        let (campaign_spend, user_errors) = payload(result, CampaignSpend)?;
        Ok(CampaignSpendPayload {
            campaign_spend,
            user_errors,
        })
    }

    /// Changes a spend entry. Roles: ADMIN, MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn update_campaign_spend(
        &self,
        ctx: &Context<'_>,
        input: UpdateCampaignSpendInput,
    ) -> Result<CampaignSpendPayload> {
        let id = decode_arg_id(&input.id, ObjectType::CampaignSpend, "input.id")?;
        let fields = SpendFields {
            spent_on: input.spent_on.map(InputDate::get),
            amount: input.amount.map(money),
            note: input.note.into(),
        };
        let result = svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await;
        let (campaign_spend, user_errors) = payload(result, CampaignSpend)?;
        Ok(CampaignSpendPayload {
            campaign_spend,
            user_errors,
        })
    }

    /// Deletes a spend entry (soft delete: it leaves the campaign's list
    /// and totals; sync jobs see a tombstone). Roles: ADMIN, MARKETING,
    /// INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::WriteCampaign)")]
    async fn delete_campaign_spend(
        &self,
        ctx: &Context<'_>,
        input: DeleteCampaignSpendInput,
    ) -> Result<DeleteCampaignSpendPayload> {
        let id = decode_arg_id(&input.id, ObjectType::CampaignSpend, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) =
            payload(result, |id| global_id(ObjectType::CampaignSpend, id))?;
        Ok(DeleteCampaignSpendPayload {
            deleted_campaign_spend_id: deleted,
            user_errors,
        })
    }
}
