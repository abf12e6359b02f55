//! The inputs of the bulk mutations and their conversion to the sync
//! service's records.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined};
use entity::enums::ObjectType;

use crate::{
    domain::records::{AccountPatch, CampaignPatch, LeadPatch, OpportunityPatch},
    graphql::{
        common::{MoneyInput, parse_global_id, type_name},
        enums::{
            ActivityKind, CampaignObjective, CampaignStatus, Channel, ExternalSystem,
            OpportunityType, Seniority, SourcedBy,
        },
        scalars::{InputDate, InputDateTime},
    },
    services::sync::{
        ErrorCode, RecordError, RecordErrors, Ref,
        accounts::AccountUpsert,
        activities::ActivityUpsert,
        campaigns::CampaignUpsert,
        leads::{LeadUpsert, StageEntry},
        opportunities::OpportunityUpsert,
    },
};

/// A stage a lead entered, with the source system's date.
#[derive(InputObject, Clone, Debug)]
pub struct StageEntryInput {
    /// The stage: the source system's value (HubSpot lifecycle stage,
    /// Salesforce Lead Status) or Handoff's name (`MQL`).
    pub stage: String,
    /// When the lead entered it.
    pub entered_at: InputDateTime,
}

/// One lead of `upsertLeads`. Omitted fields are left as they are; `null`
/// clears a nullable field. A reference may be given by Handoff id or by
/// the other record's id in the batch's system, not both.
#[derive(InputObject, Clone, Debug)]
pub struct LeadUpsertInput {
    /// The lead's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the lead is at
    /// this version.
    pub expected_version: Option<i32>,
    /// Email address (optional: the external id identifies the lead). An
    /// unknown external id whose email a live lead without an id in the
    /// batch's system has matches that lead, which takes the id (UPDATED);
    /// an email another live lead has is otherwise TAKEN, naming it.
    /// `null` clears it.
    pub email: MaybeUndefined<String>,
    /// Phone number: at most 50 characters, digits, spaces, `+ ( ) - . /`
    /// and an extension (`x12`, `ext. 12`). Personal data.
    pub phone: MaybeUndefined<String>,
    /// First name.
    pub first_name: MaybeUndefined<String>,
    /// Last name.
    pub last_name: MaybeUndefined<String>,
    /// Job title.
    pub job_title: MaybeUndefined<String>,
    /// Seniority.
    pub seniority: MaybeUndefined<Seniority>,
    /// Company name as captured.
    pub company_name: MaybeUndefined<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: MaybeUndefined<String>,
    /// Source channel (OTHER when a new lead comes without one).
    pub source: Option<Channel>,
    /// The lead's account, by Handoff id.
    pub account_id: MaybeUndefined<ID>,
    /// The lead's account, by its id in the batch's system.
    pub account_external_id: MaybeUndefined<String>,
    /// The first-touch campaign, by Handoff id.
    pub source_campaign_id: MaybeUndefined<ID>,
    /// The first-touch campaign, by its id in the batch's system.
    pub source_campaign_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// Handoff id.
    pub owner_id: MaybeUndefined<ID>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// its id in the batch's system.
    pub owner_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// email.
    pub owner_email: MaybeUndefined<String>,
    /// The current stage: HubSpot's lifecycle stage, Salesforce's Lead
    /// Status, or Handoff's name (see the mapping table in docs/sync.md).
    pub stage: Option<String>,
    /// HubSpot's lead status (`hs_lead_status`), which refines the
    /// lifecycle stage (IN_PROGRESS makes an MQL a SAL).
    pub lead_status: Option<String>,
    /// When the current stage was entered (default: the latest date known
    /// for a new lead; now for a stage change of an existing one).
    pub stage_entered_at: Option<InputDateTime>,
    /// Earlier stages with their dates (HubSpot's "date entered stage"
    /// properties, Salesforce's stage history).
    #[graphql(default)]
    pub stage_history: Vec<StageEntryInput>,
    /// When the lead was created in the source system (default: now).
    pub created_at: Option<InputDateTime>,
}

/// Input of `upsertLeads`.
#[derive(InputObject)]
pub struct UpsertLeadsInput {
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 leads.
    pub leads: Vec<LeadUpsertInput>,
}

/// One account of `upsertAccounts`. Omitted fields are left as they are;
/// `null` clears a nullable field.
#[derive(InputObject, Clone, Debug)]
pub struct AccountUpsertInput {
    /// The account's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the account is
    /// at this version.
    pub expected_version: Option<i32>,
    /// Company name; required to create an account.
    pub name: Option<String>,
    /// Web domain (unique among accounts).
    pub domain: MaybeUndefined<String>,
    /// Industry.
    pub industry: MaybeUndefined<String>,
    /// Head count.
    pub employee_count: MaybeUndefined<i32>,
    /// Annual revenue.
    pub annual_revenue: MaybeUndefined<MoneyInput>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: MaybeUndefined<String>,
    /// A target account of account-based marketing.
    pub is_target_account: Option<bool>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// Handoff id.
    pub owner_id: MaybeUndefined<ID>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// its id in the batch's system.
    pub owner_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// email.
    pub owner_email: MaybeUndefined<String>,
    /// When the account was created in the source system (default: now).
    pub created_at: Option<InputDateTime>,
}

/// Input of `upsertAccounts`.
#[derive(InputObject)]
pub struct UpsertAccountsInput {
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 accounts.
    pub accounts: Vec<AccountUpsertInput>,
}

/// One campaign of `upsertCampaigns`. Omitted fields are left as they are;
/// `null` clears a nullable field.
#[derive(InputObject, Clone, Debug)]
pub struct CampaignUpsertInput {
    /// The campaign's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the campaign is
    /// at this version.
    pub expected_version: Option<i32>,
    /// Name; required to create a campaign.
    pub name: Option<String>,
    /// The channel it runs on; required to create a campaign.
    pub channel: Option<Channel>,
    /// What it aims at (CONVERSION when a new campaign comes without one).
    pub objective: Option<CampaignObjective>,
    /// Status (PLANNED when a new campaign comes without one).
    pub status: Option<CampaignStatus>,
    /// First day; required to create a campaign.
    pub starts_on: Option<InputDate>,
    /// Last day.
    pub ends_on: MaybeUndefined<InputDate>,
    /// Budget (its currency becomes the campaign's; USD by default).
    pub budget: MaybeUndefined<MoneyInput>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// Handoff id.
    pub owner_id: MaybeUndefined<ID>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// its id in the batch's system.
    pub owner_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// email.
    pub owner_email: MaybeUndefined<String>,
    /// When the campaign was created in the source system (default: now).
    pub created_at: Option<InputDateTime>,
}

/// Input of `upsertCampaigns`.
#[derive(InputObject)]
pub struct UpsertCampaignsInput {
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 campaigns.
    pub campaigns: Vec<CampaignUpsertInput>,
}

/// One deal of `upsertOpportunities`. Omitted fields are left as they are;
/// `null` clears a nullable field.
#[derive(InputObject, Clone, Debug)]
pub struct OpportunityUpsertInput {
    /// The deal's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the deal is at
    /// this version.
    pub expected_version: Option<i32>,
    /// Name; required to create a deal.
    pub name: Option<String>,
    /// The account, by Handoff id.
    pub account_id: MaybeUndefined<ID>,
    /// The account, by its id in the batch's system.
    pub account_external_id: MaybeUndefined<String>,
    /// The lead the deal came from, by Handoff id.
    pub primary_lead_id: MaybeUndefined<ID>,
    /// The lead the deal came from, by its id in the batch's system.
    pub primary_lead_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// Handoff id.
    pub owner_id: MaybeUndefined<ID>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// its id in the batch's system.
    pub owner_external_id: MaybeUndefined<String>,
    /// The owning user (an active ADMIN, MARKETING, SALES or LEADERSHIP user), by
    /// email.
    pub owner_email: MaybeUndefined<String>,
    /// The current stage: HubSpot's `dealstage`, Salesforce's `StageName`,
    /// or Handoff's name (DISCOVERY when a new deal comes without one).
    pub stage: Option<String>,
    /// When the current stage was entered (default: the latest date known
    /// for a new deal; now for a stage change of an existing one).
    pub stage_entered_at: Option<InputDateTime>,
    /// Earlier stages with their dates (Salesforce's stage history,
    /// HubSpot's "date entered stage" properties).
    #[graphql(default)]
    pub stage_history: Vec<StageEntryInput>,
    /// The amount; required to create a deal.
    pub amount: Option<MoneyInput>,
    /// Type of business (NEW_BUSINESS when a new deal comes without one).
    pub opportunity_type: Option<OpportunityType>,
    /// The team that sourced it (SALES when a new deal comes without one).
    pub sourced_by: Option<SourcedBy>,
    /// Expected close date.
    pub expected_close_on: MaybeUndefined<InputDate>,
    /// When the deal was created in the source system (default: now).
    pub created_at: Option<InputDateTime>,
    /// When the deal closed (default: when its closed stage was entered).
    pub closed_at: Option<InputDateTime>,
}

/// Input of `upsertOpportunities`.
#[derive(InputObject)]
pub struct UpsertOpportunitiesInput {
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 deals.
    pub opportunities: Vec<OpportunityUpsertInput>,
}

/// One activity of `recordActivities`. Omitted fields are left as they are;
/// `null` clears a nullable field.
#[derive(InputObject, Clone, Debug)]
pub struct ActivityUpsertInput {
    /// The activity's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the activity
    /// is at this version.
    pub expected_version: Option<i32>,
    /// The lead, by Handoff id (this or `leadExternalId` is required to
    /// create an activity).
    pub lead_id: Option<ID>,
    /// The lead, by its id in the batch's system.
    pub lead_external_id: Option<String>,
    /// What happened; required to create an activity.
    pub kind: Option<ActivityKind>,
    /// When it happened; required to create an activity, never in the
    /// future.
    pub occurred_at: Option<InputDateTime>,
    /// The campaign, by Handoff id.
    pub campaign_id: MaybeUndefined<ID>,
    /// The campaign, by its id in the batch's system.
    pub campaign_external_id: MaybeUndefined<String>,
    /// Free text.
    pub note: MaybeUndefined<String>,
}

/// Input of `recordActivities`.
#[derive(InputObject)]
pub struct RecordActivitiesInput {
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 activities.
    pub activities: Vec<ActivityUpsertInput>,
}

/// The kinds of record sync jobs upsert and delete.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SyncObjectType {
    /// Accounts.
    Account,
    /// Leads.
    Lead,
    /// Campaigns.
    Campaign,
    /// Opportunities.
    Opportunity,
    /// Activities.
    Activity,
}

impl From<SyncObjectType> for ObjectType {
    fn from(t: SyncObjectType) -> Self {
        match t {
            SyncObjectType::Account => ObjectType::Account,
            SyncObjectType::Lead => ObjectType::Lead,
            SyncObjectType::Campaign => ObjectType::Campaign,
            SyncObjectType::Opportunity => ObjectType::Opportunity,
            SyncObjectType::Activity => ObjectType::Activity,
        }
    }
}

/// One record of `deleteByExternalIds`.
#[derive(InputObject, Clone, Debug)]
pub struct DeleteByExternalIdInput {
    /// The record's id in the batch's system.
    pub external_id: String,
    /// Refuse with CONFLICT (in this record's result) unless the record is
    /// at this version.
    pub expected_version: Option<i32>,
}

/// Input of `deleteByExternalIds`.
#[derive(InputObject)]
pub struct DeleteByExternalIdsInput {
    /// The kind of record.
    pub object_type: SyncObjectType,
    /// The system whose ids the batch uses.
    pub system: ExternalSystem,
    /// Up to 1,000 records.
    pub records: Vec<DeleteByExternalIdInput>,
}

/// A reference given by Handoff id, by external id or (users) by email: at
/// most one of them; `null` clears it.
pub(super) fn reference(
    object: ObjectType,
    field: &str,
    id: MaybeUndefined<ID>,
    external_id: MaybeUndefined<String>,
    email: MaybeUndefined<String>,
) -> Result<Option<Option<Ref>>, RecordError> {
    let given = [
        !id.is_undefined(),
        !external_id.is_undefined(),
        !email.is_undefined(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given > 1 {
        return Err(RecordError::on(
            &format!("{field}Id"),
            ErrorCode::Invalid,
            format!("give the {field} by one of its ids, not several"),
        ));
    }
    if let MaybeUndefined::Value(id) = id {
        return match parse_global_id(&id) {
            Some((kind, uuid)) if kind == type_name(object) => Ok(Some(Some(Ref::Id(uuid)))),
            _ => Err(RecordError::on(
                &format!("{field}Id"),
                ErrorCode::Invalid,
                format!("`{field}Id` is not the id of a {}", type_name(object)),
            )),
        };
    }
    if let MaybeUndefined::Value(v) = external_id {
        return Ok(Some(Some(Ref::External(v))));
    }
    if let MaybeUndefined::Value(v) = email {
        return Ok(Some(Some(Ref::Email(v))));
    }
    if id.is_null() || external_id.is_null() || email.is_null() {
        return Ok(Some(None));
    }
    Ok(None)
}

/// The conversion errors of one record, in field order.
#[derive(Default)]
struct Converted(Vec<RecordError>);

impl Converted {
    /// The converted value, or nothing (the field is left alone) with the
    /// error noted.
    fn take<T: Default>(&mut self, converted: Result<T, RecordError>) -> T {
        converted.unwrap_or_else(|e| {
            self.0.push(e);
            T::default()
        })
    }

    /// `record` when every field converted, else every error.
    fn finish<T>(self, record: T) -> Result<T, RecordErrors> {
        match RecordErrors::from_vec(self.0) {
            None => Ok(record),
            Some(errors) => Err(errors),
        }
    }
}

pub(super) fn lead_upsert(l: LeadUpsertInput) -> Result<LeadUpsert, RecordErrors> {
    let mut found = Converted::default();
    let fields = LeadPatch {
        account_id: found.take(reference(
            ObjectType::Account,
            "account",
            l.account_id,
            l.account_external_id,
            MaybeUndefined::Undefined,
        )),
        source_campaign_id: found.take(reference(
            ObjectType::Campaign,
            "sourceCampaign",
            l.source_campaign_id,
            l.source_campaign_external_id,
            MaybeUndefined::Undefined,
        )),
        owner_id: found.take(reference(
            ObjectType::User,
            "owner",
            l.owner_id,
            l.owner_external_id,
            l.owner_email,
        )),
        email: l.email.into(),
        phone: l.phone.into(),
        first_name: l.first_name.into(),
        last_name: l.last_name.into(),
        job_title: l.job_title.into(),
        seniority: Option::<Option<Seniority>>::from(l.seniority).map(|v| v.map(Into::into)),
        company_name: l.company_name.into(),
        country: l.country.into(),
        source: l.source.map(Into::into),
    };
    found.finish(LeadUpsert {
        external_id: l.external_id,
        expected_version: l.expected_version,
        fields,
        stage: l.stage,
        lead_status: l.lead_status,
        stage_entered_at: l.stage_entered_at.map(InputDateTime::get),
        stage_history: stage_history(l.stage_history),
        created_at: l.created_at.map(InputDateTime::get),
    })
}

pub(super) fn account_upsert(a: AccountUpsertInput) -> Result<AccountUpsert, RecordErrors> {
    let mut found = Converted::default();
    let fields = AccountPatch {
        owner_id: found.take(reference(
            ObjectType::User,
            "owner",
            a.owner_id,
            a.owner_external_id,
            a.owner_email,
        )),
        name: a.name,
        domain: a.domain.into(),
        industry: a.industry.into(),
        employee_count: a.employee_count.into(),
        annual_revenue: Option::<Option<MoneyInput>>::from(a.annual_revenue).map(|v| v.map(money)),
        country: a.country.into(),
        is_target_account: a.is_target_account,
    };
    found.finish(AccountUpsert {
        external_id: a.external_id,
        expected_version: a.expected_version,
        fields,
        created_at: a.created_at.map(InputDateTime::get),
        only_gaps: false,
    })
}

pub(super) fn money(m: MoneyInput) -> (rust_decimal::Decimal, String) {
    (m.amount, m.currency)
}

pub(super) fn stage_history(entries: Vec<StageEntryInput>) -> Vec<StageEntry> {
    entries
        .into_iter()
        .map(|e| StageEntry {
            stage: e.stage,
            entered_at: e.entered_at.get(),
        })
        .collect()
}

pub(super) fn campaign_upsert(c: CampaignUpsertInput) -> Result<CampaignUpsert, RecordErrors> {
    let mut found = Converted::default();
    let fields = CampaignPatch {
        owner_id: found.take(reference(
            ObjectType::User,
            "owner",
            c.owner_id,
            c.owner_external_id,
            c.owner_email,
        )),
        name: c.name,
        channel: c.channel.map(Into::into),
        objective: c.objective.map(Into::into),
        status: c.status.map(Into::into),
        starts_on: c.starts_on.map(InputDate::get),
        ends_on: Option::<Option<InputDate>>::from(c.ends_on).map(|d| d.map(InputDate::get)),
        budget: Option::<Option<MoneyInput>>::from(c.budget).map(|v| v.map(money)),
    };
    found.finish(CampaignUpsert {
        external_id: c.external_id,
        expected_version: c.expected_version,
        fields,
        created_at: c.created_at.map(InputDateTime::get),
    })
}

pub(super) fn opportunity_upsert(
    o: OpportunityUpsertInput,
) -> Result<OpportunityUpsert, RecordErrors> {
    let mut found = Converted::default();
    let fields = OpportunityPatch {
        account_id: found.take(reference(
            ObjectType::Account,
            "account",
            o.account_id,
            o.account_external_id,
            MaybeUndefined::Undefined,
        )),
        primary_lead_id: found.take(reference(
            ObjectType::Lead,
            "primaryLead",
            o.primary_lead_id,
            o.primary_lead_external_id,
            MaybeUndefined::Undefined,
        )),
        owner_id: found.take(reference(
            ObjectType::User,
            "owner",
            o.owner_id,
            o.owner_external_id,
            o.owner_email,
        )),
        name: o.name,
        stage: None,
        amount: o.amount.map(money),
        opportunity_type: o.opportunity_type.map(Into::into),
        sourced_by: o.sourced_by.map(Into::into),
        expected_close_on: Option::<Option<InputDate>>::from(o.expected_close_on)
            .map(|d| d.map(InputDate::get)),
    };
    found.finish(OpportunityUpsert {
        external_id: o.external_id,
        expected_version: o.expected_version,
        fields,
        stage: o.stage,
        stage_entered_at: o.stage_entered_at.map(InputDateTime::get),
        stage_history: stage_history(o.stage_history),
        created_at: o.created_at.map(InputDateTime::get),
        closed_at: o.closed_at.map(InputDateTime::get),
    })
}

pub(super) fn activity_upsert(a: ActivityUpsertInput) -> Result<ActivityUpsert, RecordErrors> {
    let mut found = Converted::default();
    let to_defined = |v: Option<ID>| v.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value);
    let lead = found
        .take(reference(
            ObjectType::Lead,
            "lead",
            to_defined(a.lead_id),
            a.lead_external_id
                .map_or(MaybeUndefined::Undefined, MaybeUndefined::Value),
            MaybeUndefined::Undefined,
        ))
        .flatten();
    let campaign = found.take(reference(
        ObjectType::Campaign,
        "campaign",
        a.campaign_id,
        a.campaign_external_id,
        MaybeUndefined::Undefined,
    ));
    found.finish(ActivityUpsert {
        campaign,
        lead,
        external_id: a.external_id,
        expected_version: a.expected_version,
        kind: a.kind.map(Into::into),
        occurred_at: a.occurred_at.map(InputDateTime::get),
        note: a.note.into(),
    })
}
