//! Leads in the API. Names, email, phone, job title and rejection notes are
//! personal data: REPORTING gets FORBIDDEN on them by every path.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{enums::ObjectType, lead};

use super::{
    account::Account,
    campaign::Campaign,
    common::{
        DateTimeRange, OrderDirection, UserError, connection, db, decode_arg_id, decode_id,
        decode_opt_id, global_id, loaders, page_request, payload, personal, viewer,
    },
    enums::{Channel, LeadStage, RejectionReason, Seniority, SlaStatus},
    lead_definition::LeadDefinition,
    lifecycle::{LeadScores, StageChange},
    loaders::prefetch_relation,
    opportunity::{OpportunityConnection, OpportunityFilter, OpportunityOrder},
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::AppResult,
    services::leads::{self as svc, LeadFields, LeadFilter as SvcFilter, LeadSort},
};

/// A person being marketed and sold to.
pub struct Lead(pub lead::Model);

/// A person being marketed and sold to.
#[Object]
impl Lead {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Lead, self.0.id)
    }
    /// Email address, trimmed and lower case; null when the lead has none
    /// (it then has a name or an external id). No two live leads share one:
    /// a lead is matched by its email (when it has one) and by its external
    /// ids. Personal data: null with FORBIDDEN for REPORTING.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.email.as_deref())
    }
    /// Phone number as given (extension included). Personal data: null
    /// with FORBIDDEN for REPORTING.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.phone.as_deref())
    }
    /// First name. Personal data.
    async fn first_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.first_name.as_deref())
    }
    /// Last name. Personal data.
    async fn last_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.last_name.as_deref())
    }
    /// Job title. Personal data.
    async fn job_title(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.job_title.as_deref())
    }
    /// Seniority of the job.
    async fn seniority(&self) -> Option<Seniority> {
        self.0.seniority.map(Into::into)
    }
    /// The lead's account, when linked.
    async fn account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        Ok(loaders(ctx)?.account(self.0.account_id).await?.map(Account))
    }
    /// Company name as captured, for leads without an account.
    async fn company_name(&self) -> Option<&str> {
        self.0.company_name.as_deref()
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Where the lead came from.
    async fn source(&self) -> Channel {
        self.0.source.into()
    }
    /// The campaign of the first touch.
    async fn source_campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.0.source_campaign_id)
            .await?
            .map(Campaign))
    }
    /// Lifecycle stage.
    async fn stage(&self) -> LeadStage {
        self.0.stage.into()
    }
    /// When the lead entered its current stage.
    async fn stage_entered_at(&self) -> DateTime<Utc> {
        self.0.stage_entered_at
    }
    /// The sales rep who owns the lead.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.owner_id).await?.map(User))
    }
    /// Fit score (ICP match) under the approved lead definition.
    async fn fit_score(&self) -> i32 {
        self.0.fit_score
    }
    /// Engagement score (decayed marketing activity) under the approved lead definition.
    async fn engagement_score(&self) -> i32 {
        self.0.engagement_score
    }
    /// When the lead became MQL (the SLA starts here).
    async fn mql_at(&self) -> Option<DateTime<Utc>> {
        self.0.mql_at
    }
    /// First sales touch due by.
    async fn sla_first_contact_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.sla_first_contact_due_at
    }
    /// When sales first touched the lead.
    async fn first_contacted_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_contacted_at
    }
    /// Accept or reject due by.
    async fn sla_disposition_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.sla_disposition_due_at
    }
    /// When sales accepted or rejected the lead.
    async fn dispositioned_at(&self) -> Option<DateTime<Utc>> {
        self.0.dispositioned_at
    }
    /// Where the lead stands against its SLA; null before MQL.
    async fn sla_status(&self) -> Option<SlaStatus> {
        self.0.sla_status.map(Into::into)
    }
    /// Why sales rejected the lead, when it did.
    async fn rejection_reason(&self) -> Option<RejectionReason> {
        self.0.rejection_reason.map(Into::into)
    }
    /// Sales' note on the rejection. Personal data (free text).
    async fn rejection_note(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.rejection_note.as_deref())
    }
    /// How many times the lead came back from NURTURE.
    async fn recycle_count(&self) -> i32 {
        self.0.recycle_count
    }
    /// Opportunities whose primary lead this is.
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
        let mut filter = filter.unwrap_or_default();
        filter.primary_lead_id = Some(global_id(ObjectType::Lead, self.0.id));
        super::opportunity::list(ctx, first, after, last, before, Some(filter), order_by).await
    }
    /// The lead definition version under which the lead became MQL.
    async fn qualified_under(&self, ctx: &Context<'_>) -> Result<Option<LeadDefinition>> {
        let Some(id) = self.0.qualified_under_id else {
            return Ok(None);
        };
        Ok(crate::services::lead_definitions::by_id(db(ctx)?, id)
            .await?
            .map(LeadDefinition))
    }
    /// Every stage transition, oldest first, with who, when and why.
    async fn stage_history(&self, ctx: &Context<'_>) -> Result<Vec<StageChange>> {
        Ok(crate::services::stage_changes::history(
            db(ctx)?,
            entity::enums::StageSubject::Lead,
            self.0.id,
        )
        .await?
        .into_iter()
        .map(StageChange)
        .collect())
    }
    /// Fit and engagement computed now under the approved definition, with
    /// the criteria and activities behind them; null before any definition
    /// is approved. (`fitScore` and `engagementScore` are the stored values
    /// as of the last rescoring.)
    async fn scores(&self, ctx: &Context<'_>) -> Result<Option<LeadScores>> {
        let db = db(ctx)?;
        let Some(definition) = crate::services::scoring::approved(db).await? else {
            return Ok(None);
        };
        let now = crate::services::records::now();
        let s = crate::services::scoring::score_one(db, &definition, &self.0, now).await?;
        Ok(Some(LeadScores {
            definition_version: definition.model.version,
            qualifies: crate::domain::scoring::qualifies(
                s.fit.value,
                s.engagement.value,
                definition.model.mql_fit_min,
                definition.model.mql_engagement_min,
            ),
            fit: s.fit.into(),
            engagement: s.engagement.into(),
        }))
    }
    /// Ids of this lead in external systems (HubSpot contacts, Salesforce leads
    /// or contacts), ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<super::external_id::ExternalId>> {
        super::external_id::of(ctx, ObjectType::Lead, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the lead was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the lead's own data, stage or SLA last changed. A rescoring that
    /// changes only `fitScore` / `engagementScore` bumps `version` (and is in
    /// the change log) but leaves `updatedAt`, so approving a definition
    /// does not make every open lead "recently updated".
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Lead {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[lead::Model],
    ) -> Result<()> {
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
            "owner",
            ObjectType::User,
            models.iter().map(|m| m.owner_id),
        )
        .await?;
        prefetch_relation(
            ctx,
            selection,
            "sourceCampaign",
            ObjectType::Campaign,
            models.iter().map(|m| m.source_campaign_id),
        )
        .await?;
        super::external_id::prefetch(
            ctx,
            selection,
            ObjectType::Lead,
            models.iter().map(|m| m.id),
        )
        .await?;
        Ok(())
    }
}

connection!(LeadConnection, LeadEdge, Lead, lead::Entity, "leads");

/// Which leads to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct LeadFilter {
    /// Case-insensitive match on email, names or company; at most 200
    /// characters. Needs the right to read personal data (not REPORTING).
    pub search: Option<String>,
    /// In one of these stages.
    pub stages: Option<Vec<LeadStage>>,
    /// From one of these sources.
    pub sources: Option<Vec<Channel>>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<ID>>,
    /// Only leads with (true) or without (false) an owner.
    pub has_owner: Option<bool>,
    /// At this account.
    pub account_id: Option<ID>,
    /// First touched by this campaign.
    pub source_campaign_id: Option<ID>,
    /// Sourced by this campaign or with any activity in it.
    pub campaign_id: Option<ID>,
    /// With one of these SLA statuses.
    pub sla_statuses: Option<Vec<SlaStatus>>,
    /// Created in this range.
    pub created_at: Option<DateTimeRange>,
    /// Last updated in this range (`updatedAt`: a score-only rescoring does
    /// not count).
    pub updated_at: Option<DateTimeRange>,
    /// Only leads with at least one id in this external system.
    pub has_external_id_in: Option<super::enums::ExternalSystem>,
    /// Only leads with no id in this external system.
    pub lacks_external_id_in: Option<super::enums::ExternalSystem>,
}

/// Fields leads can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum LeadOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last update.
    UpdatedAt,
    /// Email (needs the right to read personal data); leads without one
    /// come last in ascending order, first in descending order.
    Email,
    /// Fit score.
    FitScore,
    /// Engagement score.
    EngagementScore,
}

/// Order of a lead list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct LeadOrder {
    /// The field to order by.
    pub field: LeadOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

fn to_service_filter(f: LeadFilter) -> AppResult<SvcFilter> {
    let owner_ids = f
        .owner_ids
        .map(|ids| {
            ids.iter()
                .map(|id| decode_arg_id(id, ObjectType::User, "filter.ownerIds"))
                .collect::<AppResult<Vec<_>>>()
        })
        .transpose()?;
    Ok(SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
        stages: f.stages.map(|v| v.into_iter().map(Into::into).collect()),
        sources: f.sources.map(|v| v.into_iter().map(Into::into).collect()),
        owner_ids,
        has_owner: f.has_owner,
        account_id: f
            .account_id
            .map(|id| decode_arg_id(&id, ObjectType::Account, "filter.accountId"))
            .transpose()?,
        source_campaign_id: f
            .source_campaign_id
            .map(|id| decode_arg_id(&id, ObjectType::Campaign, "filter.sourceCampaignId"))
            .transpose()?,
        campaign_id: f
            .campaign_id
            .map(|id| decode_arg_id(&id, ObjectType::Campaign, "filter.campaignId"))
            .transpose()?,
        sla_statuses: f
            .sla_statuses
            .map(|v| v.into_iter().map(Into::into).collect()),
        created_at: f.created_at.map(Into::into),
        updated_at: f.updated_at.map(Into::into),
        external_ids: super::external_id::presence(f.has_external_id_in, f.lacks_external_id_in),
    })
}

/// Lists leads (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<LeadFilter>,
    order_by: Option<LeadOrder>,
) -> Result<LeadConnection> {
    let viewer = viewer(ctx)?;
    let filter = to_service_filter(filter.unwrap_or_default())?;
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        LeadOrderField::CreatedAt => LeadSort::CreatedAt,
        LeadOrderField::UpdatedAt => LeadSort::UpdatedAt,
        LeadOrderField::Email => LeadSort::Email,
        LeadOrderField::FitScore => LeadSort::FitScore,
        LeadOrderField::EngagementScore => LeadSort::EngagementScore,
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
    Ok(LeadConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// Lead queries.
#[derive(Default)]
pub struct LeadQuery;

#[Object]
impl LeadQuery {
    /// Leads, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
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
        list(ctx, first, after, last, before, filter, order_by).await
    }
}

/// Input of `createLead`. The lead starts in stage NEW.
#[derive(InputObject)]
pub struct CreateLeadInput {
    /// Email address; required when neither `firstName` nor `lastName` is
    /// given. Another live lead's email is TAKEN (case and spaces ignored),
    /// naming that lead.
    pub email: Option<String>,
    /// Phone number: at most 50 characters, digits, spaces, `+ ( ) - . /`
    /// and an extension (`x12`, `ext. 12`).
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Seniority of the job.
    pub seniority: Option<Seniority>,
    /// The lead's account.
    pub account_id: Option<ID>,
    /// Company name as captured, for leads without an account.
    pub company_name: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Where the lead came from.
    pub source: Channel,
    /// The campaign of the first touch.
    pub source_campaign_id: Option<ID>,
    /// The owning sales rep: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: Option<ID>,
}

/// Input of `updateLead`: only the fields given change; `null` clears.
/// Stages move through the lifecycle mutations, not here.
#[derive(InputObject)]
pub struct UpdateLeadInput {
    /// The lead to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the lead is at this version.
    pub expected_version: Option<i32>,
    /// Email address; another live lead's is TAKEN. `null` clears it while
    /// the lead keeps a name or an external id.
    pub email: MaybeUndefined<String>,
    /// Phone number (rules as in `createLead`).
    pub phone: MaybeUndefined<String>,
    /// First name.
    pub first_name: MaybeUndefined<String>,
    /// Last name.
    pub last_name: MaybeUndefined<String>,
    /// Job title.
    pub job_title: MaybeUndefined<String>,
    /// Seniority.
    pub seniority: MaybeUndefined<Seniority>,
    /// The lead's account.
    pub account_id: MaybeUndefined<ID>,
    /// Company name as captured.
    pub company_name: MaybeUndefined<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: MaybeUndefined<String>,
    /// Where the lead came from.
    pub source: Option<Channel>,
    /// The campaign of the first touch.
    pub source_campaign_id: MaybeUndefined<ID>,
    /// The owning sales rep: an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: MaybeUndefined<ID>,
}

/// Input of `deleteLead`.
#[derive(InputObject)]
pub struct DeleteLeadInput {
    /// The lead to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the lead is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createLead` and `updateLead`.
#[derive(SimpleObject)]
pub struct LeadPayload {
    /// The lead as it now is; null when nothing was written.
    pub lead: Option<Lead>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteLead`.
#[derive(SimpleObject)]
pub struct DeleteLeadPayload {
    /// Id of the deleted lead; null when nothing was deleted.
    pub deleted_lead_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn maybe_id(
    v: MaybeUndefined<ID>,
    object: ObjectType,
    field: &str,
) -> AppResult<Option<Option<uuid::Uuid>>> {
    Ok(match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(decode_id(&id, object, field)?)),
    })
}

/// Lead mutations.
#[derive(Default)]
pub struct LeadMutation;

#[Object]
impl LeadMutation {
    /// Creates a lead in stage NEW. Roles: ADMIN, MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::CreateLead)")]
    async fn create_lead(&self, ctx: &Context<'_>, input: CreateLeadInput) -> Result<LeadPayload> {
        let result = async {
            let fields = LeadFields {
                email: Some(input.email),
                phone: Some(input.phone),
                first_name: Some(input.first_name),
                last_name: Some(input.last_name),
                job_title: Some(input.job_title),
                seniority: Some(input.seniority.map(Into::into)),
                account_id: Some(decode_opt_id(
                    input.account_id.as_ref(),
                    ObjectType::Account,
                    "accountId",
                )?),
                company_name: Some(input.company_name),
                country: Some(input.country),
                source: Some(input.source.into()),
                source_campaign_id: Some(decode_opt_id(
                    input.source_campaign_id.as_ref(),
                    ObjectType::Campaign,
                    "sourceCampaignId",
                )?),
                owner_id: Some(decode_opt_id(
                    input.owner_id.as_ref(),
                    ObjectType::User,
                    "ownerId",
                )?),
            };
            svc::create(db(ctx)?, viewer(ctx)?, fields).await
        }
        .await;
        let (lead, user_errors) = payload(result, Lead)?;
        Ok(LeadPayload { lead, user_errors })
    }

    /// Changes a lead's data. Roles: ADMIN, MARKETING, INTEGRATION, and SALES
    /// on leads it owns.
    #[graphql(guard = "PolicyGuard(Action::UpdateLead)")]
    async fn update_lead(&self, ctx: &Context<'_>, input: UpdateLeadInput) -> Result<LeadPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Lead, "input.id")?;
        let result = async {
            let fields = LeadFields {
                email: input.email.into(),
                phone: input.phone.into(),
                first_name: input.first_name.into(),
                last_name: input.last_name.into(),
                job_title: input.job_title.into(),
                seniority: Option::<Option<Seniority>>::from(input.seniority)
                    .map(|v| v.map(Into::into)),
                account_id: maybe_id(input.account_id, ObjectType::Account, "accountId")?,
                company_name: input.company_name.into(),
                country: input.country.into(),
                source: input.source.map(Into::into),
                source_campaign_id: maybe_id(
                    input.source_campaign_id,
                    ObjectType::Campaign,
                    "sourceCampaignId",
                )?,
                owner_id: maybe_id(input.owner_id, ObjectType::User, "ownerId")?,
            };
            svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await
        }
        .await;
        let (lead, user_errors) = payload(result, Lead)?;
        Ok(LeadPayload { lead, user_errors })
    }

    /// Deletes a lead (soft delete: sync jobs see a tombstone). Roles: ADMIN,
    /// MARKETING, INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::DeleteLead)")]
    async fn delete_lead(
        &self,
        ctx: &Context<'_>,
        input: DeleteLeadInput,
    ) -> Result<DeleteLeadPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Lead, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::Lead, id))?;
        Ok(DeleteLeadPayload {
            deleted_lead_id: deleted,
            user_errors,
        })
    }
}
