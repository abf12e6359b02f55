//! The lead lifecycle in the API: moves, activities, stage history and
//! score breakdowns.

use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{activity, enums::ObjectType, stage_change};

use super::{
    campaign::Campaign,
    common::{
        DateTimeRange, MoneyInput, UserError, connection, db, decode_arg_id, decode_id,
        decode_opt_id, global_id, loaders, page_request, payload, personal, viewer,
    },
    enums::{ActivityKind, LeadStage, OpportunityType, RejectionReason, SourcedBy},
    external_id::ExternalId,
    lead::{Lead, LeadPayload},
    loaders::prefetch_relation,
    opportunity::Opportunity,
    scalars::{InputDate, InputDateTime},
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    domain::scoring::Score,
    services::{
        activities::{self, NewActivity},
        lifecycle::{self, Conversion, Move},
        opportunities::OpportunityFields,
        stage_changes::{self, StageChangeFilter},
    },
};

/// One stage transition of a lead: from, to, when, who and why.
pub struct StageChange(pub stage_change::Model);

impl StageChange {
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[stage_change::Model],
    ) -> Result<()> {
        prefetch_relation(
            ctx,
            selection,
            "actor",
            ObjectType::User,
            models.iter().map(|m| m.actor_id),
        )
        .await?;
        Ok(())
    }
}

/// One stage transition of a lead: from, to, when, who and why.
#[Object]
impl StageChange {
    /// The lead that moved.
    async fn lead_id(&self) -> ID {
        global_id(ObjectType::Lead, self.0.subject_id)
    }
    /// The stage left; null when the lead was created.
    async fn from(&self) -> Option<&str> {
        self.0.from_stage.as_deref()
    }
    /// The stage entered.
    async fn to(&self) -> &str {
        &self.0.to_stage
    }
    /// When (a sync's source time for imported history).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who moved it; null for automatic moves and imports.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.actor_id).await?.map(User))
    }
    /// Why: a rejection reason, or what triggered an automatic move.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

connection!(
    StageChangeConnection,
    StageChangeEdge,
    StageChange,
    stage_change::Entity,
    "lead stage changes"
);

/// Which lead stage changes to list.
#[derive(InputObject, Default)]
pub struct StageChangeFilterInput {
    /// Of these leads.
    pub lead_ids: Option<Vec<ID>>,
    /// Into one of these stages.
    pub to_stages: Option<Vec<LeadStage>>,
    /// Out of one of these stages.
    pub from_stages: Option<Vec<LeadStage>>,
    /// By this user.
    pub actor_id: Option<ID>,
    /// Happened in this range.
    pub at: Option<DateTimeRange>,
}

fn stages(v: Option<Vec<LeadStage>>) -> Option<Vec<String>> {
    v.map(|v| {
        v.into_iter()
            .map(|s| entity::enums::LeadStage::from(s).as_str().to_owned())
            .collect()
    })
}

/// One line of a score breakdown.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ScoreLine {
    /// The criterion (`industry`, `employeeRange`, `seniority`,
    /// `titleKeyword`, `country`, `targetAccount`) or the activity kind.
    pub criterion: String,
    #[graphql(skip)]
    pub detail: String,
    /// Whether `detail` is derived from a personal field.
    #[graphql(skip)]
    pub personal: bool,
    /// Points it gave (engagement points after decay).
    pub points: f64,
}

#[ComplexObject]
impl ScoreLine {
    /// What matched, e.g. "Software" or "DEMO_REQUEST on 2026-03-01, 12.0
    /// days ago". On a `titleKeyword` line it is the keyword found in the
    /// job title, so it is personal data like the title: null with
    /// FORBIDDEN for REPORTING (the criterion and points stay readable).
    async fn detail(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let detail = Some(self.detail.as_str());
        if self.personal {
            personal(ctx, detail)
        } else {
            Ok(detail)
        }
    }
}

/// A score and why it is what it is.
#[derive(SimpleObject)]
pub struct ScoreBreakdown {
    /// The score, 0-100.
    pub value: i32,
    /// Whether the points added up to more than 100.
    pub capped: bool,
    /// Which criteria and activities gave which points.
    pub lines: Vec<ScoreLine>,
}

impl From<Score> for ScoreBreakdown {
    fn from(s: Score) -> Self {
        Self {
            value: s.value,
            capped: s.capped,
            lines: s
                .lines
                .into_iter()
                .map(|l| ScoreLine {
                    personal: l.is_personal(),
                    criterion: l.criterion,
                    detail: l.detail,
                    points: l.points,
                })
                .collect(),
        }
    }
}

/// A lead's scores under the approved definition, computed now, explained.
#[derive(SimpleObject)]
pub struct LeadScores {
    /// The definition version scored against.
    pub definition_version: i32,
    /// Fit (ICP match).
    pub fit: ScoreBreakdown,
    /// Engagement (decayed marketing activity).
    pub engagement: ScoreBreakdown,
    /// Whether both reach the MQL thresholds.
    pub qualifies: bool,
}

/// Something a lead did, or sales did to a lead.
pub struct Activity(pub activity::Model);

/// Something a lead did, or sales did to a lead.
#[Object]
impl Activity {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Activity, self.0.id)
    }
    /// The lead it happened to; null when the lead has been deleted.
    async fn lead(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        Ok(loaders(ctx)?.lead(self.0.lead_id).await?.map(Lead))
    }
    /// What happened.
    async fn kind(&self) -> ActivityKind {
        self.0.kind.into()
    }
    /// When.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// The campaign, when this is a campaign touch.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        Ok(loaders(ctx)?
            .campaign(self.0.campaign_id)
            .await?
            .map(Campaign))
    }
    /// Who recorded it.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.actor_id).await?.map(User))
    }
    /// Free text. Personal data.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, self.0.note.as_deref())
    }
    /// Ids of this activity in external systems (HubSpot engagements,
    /// Salesforce tasks and events), ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<ExternalId>> {
        super::external_id::of(ctx, ObjectType::Activity, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to change
    /// the activity's external ids safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// Lifecycle queries.
#[derive(Default)]
pub struct LifecycleQuery;

#[Object]
impl LifecycleQuery {
    /// Lead stage transitions in the order they happened, filtered.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn leads_stage_changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<StageChangeFilterInput>,
    ) -> Result<StageChangeConnection> {
        let f = filter.unwrap_or_default();
        let filter = StageChangeFilter {
            lead_ids: f
                .lead_ids
                .map(|ids| {
                    ids.iter()
                        .map(|id| decode_arg_id(id, ObjectType::Lead, "filter.leadIds"))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            to_stages: stages(f.to_stages),
            from_stages: stages(f.from_stages),
            actor_id: f
                .actor_id
                .map(|id| decode_arg_id(&id, ObjectType::User, "filter.actorId"))
                .transpose()?,
            at: f.at.map(Into::into),
        };
        let page = page_request(first, after, last, before);
        Ok(StageChangeConnection {
            page: stage_changes::list_leads(db(ctx)?, viewer(ctx)?, &filter, &page).await?,
            total: stage_changes::select_leads(&filter),
        })
    }
}

/// Input of the lifecycle moves that need nothing but the lead.
#[derive(InputObject)]
pub struct LeadMoveInput {
    /// The lead.
    pub id: ID,
    /// Refuse with CONFLICT unless the lead is at this version.
    pub expected_version: Option<i32>,
}

/// Input of `rejectLead` and `disqualifyLead`.
#[derive(InputObject)]
pub struct RejectLeadInput {
    /// The lead.
    pub id: ID,
    /// Refuse with CONFLICT unless the lead is at this version.
    pub expected_version: Option<i32>,
    /// Why: required, so marketing learns what to fix.
    pub reason: Option<RejectionReason>,
    /// More detail; required when the reason is OTHER.
    pub note: Option<String>,
}

/// Input of `recordActivity`.
#[derive(InputObject)]
pub struct RecordActivityInput {
    /// The lead.
    pub lead_id: ID,
    /// What happened.
    pub kind: ActivityKind,
    /// When (default now; never in the future).
    pub occurred_at: Option<InputDateTime>,
    /// The campaign, when this is a campaign touch.
    pub campaign_id: Option<ID>,
    /// Free text.
    pub note: Option<String>,
}

/// Result of `recordActivity`.
#[derive(SimpleObject)]
pub struct RecordActivityPayload {
    /// The activity; null when nothing was written.
    pub activity: Option<Activity>,
    /// The lead after the activity's effects (scores, stage, SLA).
    pub lead: Option<Lead>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

async fn do_move(
    ctx: &Context<'_>,
    id: &ID,
    expected: Option<i32>,
    change: Move,
) -> Result<LeadPayload> {
    let id = decode_arg_id(id, ObjectType::Lead, "input.id")?;
    let result = lifecycle::apply(db(ctx)?, viewer(ctx)?, id, expected, change).await;
    let (lead, user_errors) = payload(result, Lead)?;
    Ok(LeadPayload { lead, user_errors })
}

/// The opportunity `convertLead` creates.
#[derive(InputObject)]
pub struct ConvertOpportunityInput {
    /// Opportunity name.
    pub name: String,
    /// Expected amount.
    pub amount: MoneyInput,
    /// Kind of deal (default NEW_BUSINESS).
    #[graphql(name = "type")]
    pub opportunity_type: Option<OpportunityType>,
    /// Who sourced it (default: from the lead's source: PARTNER for
    /// partners, SALES for outbound, MARKETING otherwise).
    pub sourced_by: Option<SourcedBy>,
    /// Expected close date.
    pub expected_close_on: Option<InputDate>,
    /// Owner (default: the lead's owner, else the caller): an active ADMIN, MARKETING, SALES or LEADERSHIP user.
    pub owner_id: Option<ID>,
}

/// Input of `convertLead`.
#[derive(InputObject)]
pub struct ConvertLeadInput {
    /// The SQL lead to convert.
    pub id: ID,
    /// Refuse with CONFLICT unless the lead is at this version.
    pub expected_version: Option<i32>,
    /// Link this account (default: the lead's account, else a new account
    /// named after the lead's company).
    pub account_id: Option<ID>,
    /// The opportunity to create.
    pub opportunity: ConvertOpportunityInput,
}

/// Result of `convertLead`.
#[derive(SimpleObject)]
pub struct ConvertLeadPayload {
    /// The lead, now in OPPORTUNITY; null when nothing was written.
    pub lead: Option<Lead>,
    /// The opportunity created, with the lead as its primary lead.
    pub opportunity: Option<Opportunity>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Lifecycle mutations. An illegal move is refused with BAD_USER_INPUT
/// naming the moves allowed from the lead's stage.
#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// MQL -> SAL. Counts as the first touch if none was recorded; an
    /// unowned MQL becomes the SALES caller's. Roles: ADMIN, SALES (own or
    /// unowned MQLs).
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn accept_lead(&self, ctx: &Context<'_>, input: LeadMoveInput) -> Result<LeadPayload> {
        do_move(ctx, &input.id, input.expected_version, Move::Accept).await
    }

    /// MQL or SAL -> NURTURE, back with marketing, with a reason. Roles:
    /// ADMIN, SALES (own or unowned MQLs).
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn reject_lead(&self, ctx: &Context<'_>, input: RejectLeadInput) -> Result<LeadPayload> {
        let change = Move::Reject {
            reason: input.reason.map(Into::into),
            note: input.note,
        };
        do_move(ctx, &input.id, input.expected_version, change).await
    }

    /// SAL -> SQL. Roles: ADMIN, SALES (own leads).
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn qualify_lead(&self, ctx: &Context<'_>, input: LeadMoveInput) -> Result<LeadPayload> {
        do_move(ctx, &input.id, input.expected_version, Move::Qualify).await
    }

    /// SQL -> NURTURE with a reason. Roles: ADMIN, SALES (own leads).
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn disqualify_lead(
        &self,
        ctx: &Context<'_>,
        input: RejectLeadInput,
    ) -> Result<LeadPayload> {
        let change = Move::Disqualify {
            reason: input.reason.map(Into::into),
            note: input.note,
        };
        do_move(ctx, &input.id, input.expected_version, change).await
    }

    /// NURTURE -> NEW: marketing takes the lead back into its funnel; its
    /// history stays. Roles: ADMIN, MARKETING.
    #[graphql(guard = "PolicyGuard(Action::RecycleLead)")]
    async fn recycle_lead(&self, ctx: &Context<'_>, input: LeadMoveInput) -> Result<LeadPayload> {
        do_move(ctx, &input.id, input.expected_version, Move::Recycle).await
    }

    /// Takes an unowned MQL. Roles: ADMIN, SALES.
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn claim_lead(&self, ctx: &Context<'_>, input: LeadMoveInput) -> Result<LeadPayload> {
        do_move(ctx, &input.id, input.expected_version, Move::Claim).await
    }

    /// NEW -> MQL by hand, starting the SLA under the approved definition.
    /// Roles: ADMIN.
    #[graphql(guard = "PolicyGuard(Action::ForceMql)")]
    async fn force_lead_mql(&self, ctx: &Context<'_>, input: LeadMoveInput) -> Result<LeadPayload> {
        do_move(ctx, &input.id, input.expected_version, Move::ForceMql).await
    }

    /// SQL -> OPPORTUNITY: links or creates the account, creates the
    /// opportunity with this lead as its primary lead (its campaign touches
    /// stay with the lead for attribution). Roles: ADMIN, SALES (own leads).
    #[graphql(guard = "PolicyGuard(Action::WorkLead)")]
    async fn convert_lead(
        &self,
        ctx: &Context<'_>,
        input: ConvertLeadInput,
    ) -> Result<ConvertLeadPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Lead, "input.id")?;
        let result = async {
            let o = input.opportunity;
            let conversion = Conversion {
                account_id: decode_opt_id(
                    input.account_id.as_ref(),
                    ObjectType::Account,
                    "accountId",
                )?,
                opportunity: OpportunityFields {
                    name: Some(o.name),
                    amount: Some((o.amount.amount, o.amount.currency)),
                    opportunity_type: o.opportunity_type.map(Into::into),
                    sourced_by: o.sourced_by.map(Into::into),
                    expected_close_on: Some(o.expected_close_on.map(InputDate::get)),
                    owner_id: decode_opt_id(
                        o.owner_id.as_ref(),
                        ObjectType::User,
                        "opportunity.ownerId",
                    )?
                    .map(Some),
                    ..Default::default()
                },
            };
            lifecycle::convert(
                db(ctx)?,
                viewer(ctx)?,
                id,
                input.expected_version,
                conversion,
            )
            .await
        }
        .await;
        let (pair, user_errors) = payload(result, |p| p)?;
        let (lead, opportunity) = match pair {
            Some((l, o)) => (Some(Lead(l)), Some(Opportunity(o))),
            None => (None, None),
        };
        Ok(ConvertLeadPayload {
            lead,
            opportunity,
            user_errors,
        })
    }

    /// Records an activity. Marketing activities rescore the lead (it may
    /// become MQL); a sales touch on an MQL sets its first contact. Roles:
    /// ADMIN, INTEGRATION, MARKETING (marketing activities), SALES (sales
    /// touches on its own or unowned leads).
    #[graphql(guard = "PolicyGuard(Action::RecordActivity)")]
    async fn record_activity(
        &self,
        ctx: &Context<'_>,
        input: RecordActivityInput,
    ) -> Result<RecordActivityPayload> {
        let result = async {
            let new = NewActivity {
                lead_id: decode_id(&input.lead_id, ObjectType::Lead, "leadId")?,
                kind: input.kind.into(),
                occurred_at: input.occurred_at.map(InputDateTime::get),
                campaign_id: decode_opt_id(
                    input.campaign_id.as_ref(),
                    ObjectType::Campaign,
                    "campaignId",
                )?,
                note: input.note,
            };
            activities::record(db(ctx)?, viewer(ctx)?, new).await
        }
        .await;
        let (pair, user_errors) = payload(result, |p| p)?;
        let (activity, lead) = match pair {
            Some((a, l)) => (Some(Activity(a)), Some(Lead(l))),
            None => (None, None),
        };
        Ok(RecordActivityPayload {
            activity,
            lead,
            user_errors,
        })
    }
}
