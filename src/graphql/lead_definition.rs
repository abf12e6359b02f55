//! Lead definitions in the API: the one written definition of a qualified
//! lead that both teams sign.

use std::collections::BTreeMap;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    enums::{ActivityKind as DbActivityKind, ObjectType, Seniority as DbSeniority},
    lead_definition,
};

use super::{
    common::{
        UserError, connection, db, decode_arg_id, global_id, loaders, page_request, payload, viewer,
    },
    enums::{ActivityKind, DefinitionStatus, Seniority, Team},
    scalars::InputDate,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    domain::scoring::{self, EmployeeRange, FitCriteria},
    error::AppResult,
    services::lead_definitions::{self as svc, DefinitionFields},
};

/// Points for matching one value (an industry, a country, a title keyword).
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "ValuePointsInput")]
pub struct ValuePoints {
    /// The value matched (case-insensitive).
    pub value: String,
    /// Points it gives.
    pub points: i32,
}

/// Points for a seniority.
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "SeniorityPointsInput")]
pub struct SeniorityPoints {
    /// The seniority.
    pub seniority: Seniority,
    /// Points it gives.
    pub points: i32,
}

/// Points for a head count in a range (inclusive; an open end matches all).
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "EmployeeRangeInput")]
pub struct EmployeeRangePoints {
    /// Smallest head count that matches.
    pub min: Option<i32>,
    /// Largest head count that matches.
    pub max: Option<i32>,
    /// Points it gives.
    pub points: i32,
}

/// Points for a marketing activity, before decay.
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "EngagementRuleInput")]
pub struct EngagementRule {
    /// The activity.
    pub kind: ActivityKind,
    /// Points it gives on the day it happens; halved every half-life.
    pub points: i32,
}

/// The ideal-customer fit criteria. The fit score is the sum of matching
/// points, capped at 100.
#[derive(SimpleObject, InputObject, Clone, Debug, Default)]
#[graphql(input_name = "FitCriteriaInput")]
pub struct FitCriteriaGql {
    /// Account industries.
    #[graphql(default)]
    pub industries: Vec<ValuePoints>,
    /// Account head count.
    pub employee_range: Option<EmployeeRangePoints>,
    /// Lead seniorities.
    #[graphql(default)]
    pub seniorities: Vec<SeniorityPoints>,
    /// Lead (else account) countries, ISO 3166-1 alpha-2.
    #[graphql(default)]
    pub countries: Vec<ValuePoints>,
    /// Words in the lead's job title; each matching word counts once.
    #[graphql(default)]
    pub title_keywords: Vec<ValuePoints>,
    /// Points for a lead at a target (ABM) account.
    #[graphql(default)]
    pub target_account_points: i32,
}

fn map(v: Vec<ValuePoints>) -> BTreeMap<String, i32> {
    v.into_iter().map(|p| (p.value, p.points)).collect()
}

impl From<FitCriteriaGql> for FitCriteria {
    fn from(g: FitCriteriaGql) -> Self {
        Self {
            industries: map(g.industries),
            employee_range: g.employee_range.map(|r| EmployeeRange {
                min: r.min,
                max: r.max,
                points: r.points,
            }),
            seniorities: g
                .seniorities
                .into_iter()
                .map(|s| (DbSeniority::from(s.seniority).as_str().to_owned(), s.points))
                .collect(),
            countries: map(g.countries),
            title_keywords: map(g.title_keywords),
            target_account_points: g.target_account_points,
        }
    }
}

fn values(m: &BTreeMap<String, i32>) -> Vec<ValuePoints> {
    m.iter()
        .map(|(value, points)| ValuePoints {
            value: value.clone(),
            points: *points,
        })
        .collect()
}

const SENIORITIES: [DbSeniority; 5] = [
    DbSeniority::IndividualContributor,
    DbSeniority::Manager,
    DbSeniority::Director,
    DbSeniority::Vp,
    DbSeniority::CLevel,
];

const ACTIVITY_KINDS: [DbActivityKind; 11] = [
    DbActivityKind::FormSubmit,
    DbActivityKind::ContentDownload,
    DbActivityKind::WebinarRegistered,
    DbActivityKind::WebinarAttended,
    DbActivityKind::PricingPageView,
    DbActivityKind::DemoRequest,
    DbActivityKind::EmailClick,
    DbActivityKind::EventVisit,
    DbActivityKind::Call,
    DbActivityKind::EmailSent,
    DbActivityKind::Meeting,
];

impl From<&FitCriteria> for FitCriteriaGql {
    fn from(c: &FitCriteria) -> Self {
        Self {
            industries: values(&c.industries),
            employee_range: c.employee_range.as_ref().map(|r| EmployeeRangePoints {
                min: r.min,
                max: r.max,
                points: r.points,
            }),
            seniorities: SENIORITIES
                .iter()
                .filter_map(|s| {
                    c.seniorities.get(s.as_str()).map(|p| SeniorityPoints {
                        seniority: (*s).into(),
                        points: *p,
                    })
                })
                .collect(),
            countries: values(&c.countries),
            title_keywords: values(&c.title_keywords),
            target_account_points: c.target_account_points,
        }
    }
}

/// The written, shared definition of a qualified lead and of the handoff
/// SLA. Versioned; in force once one MARKETING and one SALES user (or an
/// ADMIN for either) have signed it.
pub struct LeadDefinition(pub lead_definition::Model);

impl LeadDefinition {
    fn parsed(&self) -> (FitCriteria, scoring::EngagementRules) {
        (
            serde_json::from_value(self.0.fit_criteria.clone()).unwrap_or_default(),
            serde_json::from_value(self.0.engagement_rules.clone()).unwrap_or_default(),
        )
    }

    /// Nothing to prefetch: signatures batch through their own loader.
    pub(crate) async fn prefetch(
        _ctx: &Context<'_>,
        _selection: &async_graphql::Lookahead<'_>,
        _models: &[lead_definition::Model],
    ) -> Result<()> {
        Ok(())
    }
}

/// The written, shared definition of a qualified lead and of the handoff
/// SLA. Versioned; in force once one MARKETING and one SALES user (or an
/// ADMIN for either) have signed it.
#[Object]
impl LeadDefinition {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::LeadDefinition, self.0.id)
    }
    /// Version number, 1, 2, ... (its place in the history; never changes,
    /// never reused, not even after a draft is discarded).
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// +1 on every write to this version (an edit, a signature, approval,
    /// supersession); pass it as `expectedRevision` to discard safely.
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    /// DRAFT, APPROVED or SUPERSEDED.
    async fn status(&self) -> DefinitionStatus {
        self.0.status.into()
    }
    /// The definition in words.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Fit criteria with points.
    async fn fit_criteria(&self) -> FitCriteriaGql {
        FitCriteriaGql::from(&self.parsed().0)
    }
    /// Engagement points per marketing activity.
    async fn engagement_rules(&self) -> Vec<EngagementRule> {
        let rules = self.parsed().1;
        ACTIVITY_KINDS
            .iter()
            .filter_map(|k| {
                rules.get(k.as_str()).map(|p| EngagementRule {
                    kind: (*k).into(),
                    points: *p,
                })
            })
            .collect()
    }
    /// Days after which an activity's points have halved.
    async fn half_life_days(&self) -> f64 {
        self.0.half_life_days
    }
    /// Fit score a lead needs to become MQL.
    async fn mql_fit_min(&self) -> i32 {
        self.0.mql_fit_min
    }
    /// Engagement score a lead needs to become MQL.
    async fn mql_engagement_min(&self) -> i32 {
        self.0.mql_engagement_min
    }
    /// Hours from MQL to the first sales touch.
    async fn first_contact_hours(&self) -> i32 {
        self.0.first_contact_hours
    }
    /// Hours from MQL to accept or reject.
    async fn disposition_hours(&self) -> i32 {
        self.0.disposition_hours
    }
    /// When both teams review the definition next.
    async fn review_by(&self) -> NaiveDate {
        self.0.review_by
    }
    /// Who drafted it.
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.created_by_id).await?.map(User))
    }
    /// Who signed, for which team, when.
    async fn signatures(&self, ctx: &Context<'_>) -> Result<Vec<DefinitionSignature>> {
        Ok(loaders(ctx)?
            .signatures(self.0.id)
            .await?
            .into_iter()
            .map(|s| DefinitionSignature {
                team: s.team.into(),
                signed_at: s.signed_at,
                user_id: s.user_id,
            })
            .collect())
    }
    /// When the second signature approved it.
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }
    /// When a newer version replaced it.
    async fn superseded_at(&self) -> Option<DateTime<Utc>> {
        self.0.superseded_at
    }
    /// When it was drafted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One team's signature on a lead definition.
pub struct DefinitionSignature {
    team: Team,
    signed_at: DateTime<Utc>,
    user_id: uuid::Uuid,
}

/// One team's signature on a lead definition.
#[Object]
impl DefinitionSignature {
    /// The team signed for.
    async fn team(&self) -> Team {
        self.team
    }
    /// When.
    async fn signed_at(&self) -> DateTime<Utc> {
        self.signed_at
    }
    /// Who signed.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.user_id).await?.map(User))
    }
}

connection!(
    LeadDefinitionConnection,
    LeadDefinitionEdge,
    LeadDefinition,
    lead_definition::Entity,
    "lead definitions"
);

/// One difference between two versions of the lead definition.
#[derive(SimpleObject)]
pub struct DefinitionChange {
    /// Dotted path, e.g. `fitCriteria.industries.Software` or `mqlFitMin`.
    pub field: String,
    /// The value in the older version, as JSON; null when absent.
    pub before: Option<String>,
    /// The value in the newer version, as JSON; null when absent.
    pub after: Option<String>,
}

/// Lead definition queries.
#[derive(Default)]
pub struct LeadDefinitionQuery;

#[Object]
impl LeadDefinitionQuery {
    /// A version of the lead definition; without `version`, the one in force
    /// (null before any is approved).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn lead_definition(
        &self,
        ctx: &Context<'_>,
        version: Option<i32>,
    ) -> Result<Option<LeadDefinition>> {
        Ok(svc::find(db(ctx)?, viewer(ctx)?, version)
            .await?
            .map(LeadDefinition))
    }

    /// Every version, newest first, with who signed and when.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn lead_definitions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<LeadDefinitionConnection> {
        let page = page_request(first, after, last, before);
        Ok(LeadDefinitionConnection {
            page: svc::list(db(ctx)?, viewer(ctx)?, &page).await?,
            total: svc::select(),
        })
    }

    /// What changed between two versions, field by field.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn compare_lead_definitions(
        &self,
        ctx: &Context<'_>,
        from_version: i32,
        to_version: i32,
    ) -> Result<Vec<DefinitionChange>> {
        Ok(
            svc::compare(db(ctx)?, viewer(ctx)?, from_version, to_version)
                .await?
                .into_iter()
                .map(|d| DefinitionChange {
                    field: d.field,
                    before: d.before.map(|v| v.to_string()),
                    after: d.after.map(|v| v.to_string()),
                })
                .collect(),
        )
    }
}

/// The content of a lead definition draft.
#[derive(InputObject)]
pub struct LeadDefinitionInput {
    /// The definition in words.
    pub description: Option<String>,
    /// Fit criteria with points (none may be negative).
    pub fit_criteria: FitCriteriaGql,
    /// Points per marketing activity (none may be negative).
    pub engagement_rules: Vec<EngagementRule>,
    /// Days after which an activity's points halve (more than 0).
    pub half_life_days: f64,
    /// Fit score needed for MQL (0-100).
    pub mql_fit_min: i32,
    /// Engagement score needed for MQL (0-100).
    pub mql_engagement_min: i32,
    /// Hours from MQL to the first sales touch (default 24).
    #[graphql(default = 24)]
    pub first_contact_hours: i32,
    /// Hours from MQL to accept or reject (default 48; not less than
    /// `firstContactHours`).
    #[graphql(default = 48)]
    pub disposition_hours: i32,
    /// When both teams review it next (quarterly).
    pub review_by: InputDate,
}

impl From<LeadDefinitionInput> for DefinitionFields {
    fn from(i: LeadDefinitionInput) -> Self {
        Self {
            description: i
                .description
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            fit_criteria: i.fit_criteria.into(),
            engagement_rules: i
                .engagement_rules
                .into_iter()
                .map(|r| (DbActivityKind::from(r.kind).as_str().to_owned(), r.points))
                .collect(),
            half_life_days: i.half_life_days,
            mql_fit_min: i.mql_fit_min,
            mql_engagement_min: i.mql_engagement_min,
            first_contact_hours: i.first_contact_hours,
            disposition_hours: i.disposition_hours,
            review_by: i.review_by.get(),
        }
    }
}

/// Input of `updateLeadDefinition`.
#[derive(InputObject)]
pub struct UpdateLeadDefinitionInput {
    /// The draft to change.
    pub id: ID,
    /// Its new content (signatures given to the old text are removed).
    pub definition: LeadDefinitionInput,
}

/// Input of `signLeadDefinition`.
#[derive(InputObject)]
pub struct SignLeadDefinitionInput {
    /// The draft to sign.
    pub id: ID,
    /// The team signed for: MARKETING and SALES users sign for their own
    /// team; an ADMIN must say which.
    pub as_team: Option<Team>,
}

/// Input of `discardLeadDefinitionDraft`.
#[derive(InputObject)]
pub struct DiscardLeadDefinitionDraftInput {
    /// The draft to discard.
    pub id: ID,
    /// Refuse with CONFLICT unless the draft is at this `revision` (an edit
    /// or a signature since it was read makes it stale).
    pub expected_revision: Option<i32>,
}

/// Result of `discardLeadDefinitionDraft`.
#[derive(SimpleObject)]
pub struct DiscardLeadDefinitionDraftPayload {
    /// Id of the discarded draft; null when nothing was discarded.
    pub discarded_lead_definition_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of the lead definition mutations.
#[derive(SimpleObject)]
pub struct LeadDefinitionPayload {
    /// The definition as it now is; null when nothing was written.
    pub lead_definition: Option<LeadDefinition>,
    /// Whether this call approved it (the second team signed).
    pub approved: bool,
    /// Open leads rescored by the approval.
    pub rescored_leads: i32,
    /// NEW leads that became MQL on approval.
    pub new_mqls: i32,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

fn definition_payload(result: AppResult<svc::Signed>) -> Result<LeadDefinitionPayload> {
    let (signed, user_errors) = payload(result, |s| s)?;
    Ok(LeadDefinitionPayload {
        approved: signed.as_ref().is_some_and(|s| s.approved),
        rescored_leads: signed
            .as_ref()
            .map_or(0, |s| i32::try_from(s.rescored.scored).unwrap_or(i32::MAX)),
        new_mqls: signed.as_ref().map_or(0, |s| {
            i32::try_from(s.rescored.became_mql).unwrap_or(i32::MAX)
        }),
        lead_definition: signed.map(|s| LeadDefinition(s.definition)),
        user_errors,
    })
}

fn unsigned(definition: lead_definition::Model) -> svc::Signed {
    svc::Signed {
        definition,
        approved: false,
        rescored: Default::default(),
    }
}

/// Lead definition mutations.
#[derive(Default)]
pub struct LeadDefinitionMutation;

#[Object]
impl LeadDefinitionMutation {
    /// Drafts a new version of the lead definition. Roles: ADMIN, MARKETING.
    #[graphql(guard = "PolicyGuard(Action::DraftDefinition)")]
    async fn create_lead_definition(
        &self,
        ctx: &Context<'_>,
        input: LeadDefinitionInput,
    ) -> Result<LeadDefinitionPayload> {
        let result = svc::create_draft(db(ctx)?, viewer(ctx)?, input.into()).await;
        definition_payload(result.map(unsigned))
    }

    /// Rewrites a draft; its signatures are removed. Roles: ADMIN, MARKETING.
    #[graphql(guard = "PolicyGuard(Action::DraftDefinition)")]
    async fn update_lead_definition(
        &self,
        ctx: &Context<'_>,
        input: UpdateLeadDefinitionInput,
    ) -> Result<LeadDefinitionPayload> {
        let id = decode_arg_id(&input.id, ObjectType::LeadDefinition, "input.id")?;
        let result = svc::update_draft(db(ctx)?, viewer(ctx)?, id, input.definition.into()).await;
        definition_payload(result.map(unsigned))
    }

    /// Signs a draft for a team. The second team's signature approves it:
    /// the previous version is superseded and every open lead is rescored
    /// (NEW leads that now qualify become MQL; an MQL that no longer
    /// qualifies stays MQL and its scores show it). Roles: ADMIN, MARKETING,
    /// SALES.
    #[graphql(guard = "PolicyGuard(Action::SignDefinition)")]
    async fn sign_lead_definition(
        &self,
        ctx: &Context<'_>,
        input: SignLeadDefinitionInput,
    ) -> Result<LeadDefinitionPayload> {
        let id = decode_arg_id(&input.id, ObjectType::LeadDefinition, "input.id")?;
        let result = svc::sign(db(ctx)?, viewer(ctx)?, id, input.as_team.map(Into::into)).await;
        definition_payload(result)
    }

    /// Discards a draft, signed or not (its signatures go with it): it no
    /// longer appears in `leadDefinition`, `leadDefinitions` or
    /// `compareLeadDefinitions`, sync jobs see a tombstone, and its version
    /// number is not reused. Approved and superseded versions are history and
    /// cannot be discarded. Roles: ADMIN, MARKETING.
    #[graphql(guard = "PolicyGuard(Action::DraftDefinition)")]
    async fn discard_lead_definition_draft(
        &self,
        ctx: &Context<'_>,
        input: DiscardLeadDefinitionDraftInput,
    ) -> Result<DiscardLeadDefinitionDraftPayload> {
        let id = decode_arg_id(&input.id, ObjectType::LeadDefinition, "input.id")?;
        let result = svc::discard_draft(db(ctx)?, viewer(ctx)?, id, input.expected_revision).await;
        let (discarded, user_errors) =
            payload(result, |id| global_id(ObjectType::LeadDefinition, id))?;
        Ok(DiscardLeadDefinitionDraftPayload {
            discarded_lead_definition_id: discarded,
            user_errors,
        })
    }
}
