//! The API's enumerations. Each mirrors a stored enum of the `entity` crate
//! (same values) and carries the documentation clients read in the schema.

use async_graphql::Enum;

/// What a caller may do; see the role table in docs/roles.md.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::Role")]
pub enum Role {
    /// Revenue operations: everything, including users and definitions.
    Admin,
    /// Marketing's tools: read all; write leads, activities, campaigns, spend.
    Marketing,
    /// Sales' tools: read all; work the leads and opportunities they own.
    Sales,
    /// Executives' dashboards: read all; set KPI targets.
    Leadership,
    /// HubSpot / Salesforce sync jobs: bulk writes by external id.
    Integration,
    /// Automated reporting: KPIs and aggregates, no personal data, no writes.
    Reporting,
}

/// The team a user belongs to.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::Team")]
pub enum Team {
    /// Marketing.
    Marketing,
    /// Sales.
    Sales,
    /// Revenue operations.
    Revops,
    /// Leadership.
    Leadership,
}

/// A marketing channel: where a lead came from, or what a campaign runs on.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::Channel")]
pub enum Channel {
    /// Unpaid search results.
    OrganicSearch,
    /// Search ads.
    PaidSearch,
    /// Social ads.
    PaidSocial,
    /// Unpaid social media.
    OrganicSocial,
    /// Email marketing.
    Email,
    /// Trade shows and events.
    Event,
    /// Webinars.
    Webinar,
    /// Content (ebooks, blog, reports).
    Content,
    /// Referrals by customers or contacts.
    Referral,
    /// Partners and resellers.
    Partner,
    /// Sales prospecting.
    Outbound,
    /// Anything else.
    Other,
}

/// Lifecycle stage of a lead (docs/lifecycle.md).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::LeadStage")]
pub enum LeadStage {
    /// Captured, not yet qualified by marketing.
    New,
    /// Marketing-qualified: meets the approved lead definition; SLA running.
    Mql,
    /// Sales-accepted.
    Sal,
    /// Sales-qualified.
    Sql,
    /// Converted into an opportunity.
    Opportunity,
    /// The opportunity was won.
    Customer,
    /// Rejected or disqualified by sales; back with marketing.
    Nurture,
}

/// Seniority of a lead's job.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::Seniority")]
pub enum Seniority {
    /// Individual contributor.
    IndividualContributor,
    /// Manager.
    Manager,
    /// Director.
    Director,
    /// Vice president.
    Vp,
    /// C-level executive.
    CLevel,
}

/// Where a lead stands against its handoff SLA.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::SlaStatus")]
pub enum SlaStatus {
    /// Inside the window.
    OnTrack,
    /// In the last quarter of the window.
    AtRisk,
    /// The action happened in time.
    Met,
    /// A due time passed without the action.
    Breached,
}

/// Why sales rejected a lead.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::RejectionReason")]
pub enum RejectionReason {
    /// Contact data wrong or unreachable.
    BadContactData,
    /// Not looking to buy.
    NotInMarket,
    /// No budget.
    NoBudget,
    /// Not the persona we sell to.
    WrongPersona,
    /// Cannot decide or influence a purchase.
    NotDecisionMaker,
    /// Already a customer.
    ExistingCustomer,
    /// Works for a competitor.
    Competitor,
    /// Duplicate of another lead.
    Duplicate,
    /// Spam or fake.
    Spam,
    /// Another reason (explained in the note).
    Other,
}

/// What a campaign is for.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::CampaignObjective")]
pub enum CampaignObjective {
    /// Demand creation.
    Awareness,
    /// Consideration.
    Consideration,
    /// Demand capture.
    Conversion,
}

/// Where a campaign is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::CampaignStatus")]
pub enum CampaignStatus {
    /// Not started.
    Planned,
    /// Running.
    Active,
    /// Paused.
    Paused,
    /// Finished.
    Completed,
}

/// Stage of a deal.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::OpportunityStage")]
pub enum OpportunityStage {
    /// Understanding the need.
    Discovery,
    /// Confirming budget, authority, need and timing.
    Qualification,
    /// Proposal sent.
    Proposal,
    /// Negotiating terms.
    Negotiation,
    /// Won.
    ClosedWon,
    /// Lost.
    ClosedLost,
}

/// Kind of deal.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::OpportunityType")]
pub enum OpportunityType {
    /// A new customer.
    NewBusiness,
    /// More for an existing customer.
    Expansion,
    /// A renewal.
    Renewal,
}

/// Who sourced a deal.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::SourcedBy")]
pub enum SourcedBy {
    /// Marketing.
    Marketing,
    /// Sales.
    Sales,
    /// A partner.
    Partner,
}

/// Something a lead did, or sales did to a lead.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::ActivityKind")]
pub enum ActivityKind {
    /// Submitted a form.
    FormSubmit,
    /// Downloaded content.
    ContentDownload,
    /// Registered for a webinar.
    WebinarRegistered,
    /// Attended a webinar.
    WebinarAttended,
    /// Viewed the pricing page.
    PricingPageView,
    /// Asked for a demo.
    DemoRequest,
    /// Clicked a marketing email.
    EmailClick,
    /// Visited an event booth.
    EventVisit,
    /// Sales touch: a call.
    Call,
    /// Sales touch: an email from sales.
    EmailSent,
    /// Sales touch: a meeting.
    Meeting,
}

/// Where a lead definition is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::DefinitionStatus")]
pub enum DefinitionStatus {
    /// Being written; not in force.
    Draft,
    /// Signed by both teams; in force.
    Approved,
    /// Replaced by a newer approved version.
    Superseded,
}

/// How a closed deal ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::Outcome")]
pub enum Outcome {
    /// Won: the opportunity is CLOSED_WON.
    Won,
    /// Lost: the opportunity is CLOSED_LOST.
    Lost,
}

/// Why a deal was won or lost: the shared reason taxonomy of win/loss
/// feedback.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::FeedbackReason")]
pub enum FeedbackReason {
    /// The price.
    Price,
    /// The buyer's budget.
    Budget,
    /// How well the product fits the need.
    ProductFit,
    /// A feature the buyer needed (and did not find).
    MissingFeature,
    /// A competitor.
    Competitor,
    /// Timing.
    Timing,
    /// The buyer made no decision.
    NoDecision,
    /// The buyer's champion left.
    ChampionLeft,
    /// The relationship with the buyer.
    Relationship,
    /// The risk of implementing it.
    ImplementationRisk,
    /// Any other reason (say which in the notes).
    Other,
}

/// A kind of record, as named in the change feed.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::ObjectType")]
pub enum ObjectType {
    /// A user.
    User,
    /// An account.
    Account,
    /// A lead.
    Lead,
    /// An activity (a touch on a lead).
    Activity,
    /// A campaign.
    Campaign,
    /// A campaign spend entry.
    CampaignSpend,
    /// An opportunity.
    Opportunity,
    /// A stage change of a lead or an opportunity.
    StageChange,
    /// Win/loss feedback on a closed opportunity.
    WinLossFeedback,
    /// A competitor.
    Competitor,
    /// A lead definition.
    LeadDefinition,
    /// A KPI target.
    KpiTarget,
}

/// What a change did to its record.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::ChangeOperation")]
pub enum ChangeOperation {
    /// The record was created or updated; `node` shows it as it is now.
    Upsert,
    /// The record was deleted: a tombstone (`node` is null).
    Delete,
}

/// An external system whose ids records carry.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::ExternalSystem")]
pub enum ExternalSystem {
    /// HubSpot.
    Hubspot,
    /// Salesforce.
    Salesforce,
    /// Any other system (a warehouse, a homegrown CRM).
    Other,
}
