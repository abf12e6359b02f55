//! Enumerations stored in the database.
//!
//! The migration stores each one as a string of up to 32 characters holding
//! its SCREAMING_SNAKE_CASE name (`MQL`, `CLOSED_WON`), which is also the name
//! the API uses. The Rust variant is the UpperCamelCase form (`Mql`,
//! `ClosedWon`). Serde (de)serialises each variant as its stored name too.

use std::fmt;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares a string-backed enum and derives, from its `string_value`s,
/// `as_str`, [`fmt::Display`] and matching serde names, so the database,
/// serde and `as_str` can never disagree.
macro_rules! db_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                #[sea_orm(string_value = $value:literal)]
                $variant:ident,
            )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[sea_orm(string_value = $value)]
                #[serde(rename = $value)]
                $variant,
            )+
        }

        impl $name {
            /// The stored (and API) name of this value, e.g. `"CLOSED_WON"`.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

db_enum! {
    /// What a user may do (`users.role`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum Role {
        /// Manages users, definitions and every record.
        #[sea_orm(string_value = "ADMIN")]
        Admin,
        /// Works leads and campaigns up to hand-off.
        #[sea_orm(string_value = "MARKETING")]
        Marketing,
        /// Works accepted leads and opportunities.
        #[sea_orm(string_value = "SALES")]
        Sales,
        /// Reads everything and approves lead definitions.
        #[sea_orm(string_value = "LEADERSHIP")]
        Leadership,
        /// A sync job or other machine client.
        #[sea_orm(string_value = "INTEGRATION")]
        Integration,
        /// Read-only access for dashboards and reports.
        #[sea_orm(string_value = "REPORTING")]
        Reporting,
    }
}

db_enum! {
    /// A user's team (`users.team`, `lead_definition_signatures.team`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum Team {
        /// Marketing.
        #[sea_orm(string_value = "MARKETING")]
        Marketing,
        /// Sales.
        #[sea_orm(string_value = "SALES")]
        Sales,
        /// Revenue operations.
        #[sea_orm(string_value = "REVOPS")]
        Revops,
        /// Leadership.
        #[sea_orm(string_value = "LEADERSHIP")]
        Leadership,
    }
}

db_enum! {
    /// Marketing channel (`leads.source`, `campaigns.channel`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum Channel {
        /// Unpaid search results.
        #[sea_orm(string_value = "ORGANIC_SEARCH")]
        OrganicSearch,
        /// Paid search ads.
        #[sea_orm(string_value = "PAID_SEARCH")]
        PaidSearch,
        /// Paid social media ads.
        #[sea_orm(string_value = "PAID_SOCIAL")]
        PaidSocial,
        /// Unpaid social media.
        #[sea_orm(string_value = "ORGANIC_SOCIAL")]
        OrganicSocial,
        /// Email marketing.
        #[sea_orm(string_value = "EMAIL")]
        Email,
        /// In-person or trade-show events.
        #[sea_orm(string_value = "EVENT")]
        Event,
        /// Webinars.
        #[sea_orm(string_value = "WEBINAR")]
        Webinar,
        /// Gated or ungated content.
        #[sea_orm(string_value = "CONTENT")]
        Content,
        /// Referrals from customers or contacts.
        #[sea_orm(string_value = "REFERRAL")]
        Referral,
        /// Partners and resellers.
        #[sea_orm(string_value = "PARTNER")]
        Partner,
        /// Sales prospecting.
        #[sea_orm(string_value = "OUTBOUND")]
        Outbound,
        /// Any other channel.
        #[sea_orm(string_value = "OTHER")]
        Other,
    }
}

db_enum! {
    /// Funnel stage of a lead (`leads.stage`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum LeadStage {
        /// Captured, not yet qualified.
        #[sea_orm(string_value = "NEW")]
        New,
        /// Marketing qualified lead.
        #[sea_orm(string_value = "MQL")]
        Mql,
        /// Sales accepted lead.
        #[sea_orm(string_value = "SAL")]
        Sal,
        /// Sales qualified lead.
        #[sea_orm(string_value = "SQL")]
        Sql,
        /// Converted into an opportunity.
        #[sea_orm(string_value = "OPPORTUNITY")]
        Opportunity,
        /// Became a customer.
        #[sea_orm(string_value = "CUSTOMER")]
        Customer,
        /// Recycled to marketing nurture.
        #[sea_orm(string_value = "NURTURE")]
        Nurture,
    }
}

db_enum! {
    /// Seniority of a lead's job (`leads.seniority`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum Seniority {
        /// Individual contributor.
        #[sea_orm(string_value = "INDIVIDUAL_CONTRIBUTOR")]
        IndividualContributor,
        /// Manager.
        #[sea_orm(string_value = "MANAGER")]
        Manager,
        /// Director.
        #[sea_orm(string_value = "DIRECTOR")]
        Director,
        /// Vice president.
        #[sea_orm(string_value = "VP")]
        Vp,
        /// C-level executive.
        #[sea_orm(string_value = "C_LEVEL")]
        CLevel,
    }
}

db_enum! {
    /// Where a lead stands against its follow-up SLA (`leads.sla_status`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum SlaStatus {
        /// Within its deadlines.
        #[sea_orm(string_value = "ON_TRACK")]
        OnTrack,
        /// Close to a deadline.
        #[sea_orm(string_value = "AT_RISK")]
        AtRisk,
        /// Every deadline met.
        #[sea_orm(string_value = "MET")]
        Met,
        /// A deadline was missed.
        #[sea_orm(string_value = "BREACHED")]
        Breached,
    }
}

db_enum! {
    /// Why sales rejected a lead (`leads.rejection_reason`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum RejectionReason {
        /// Contact data is wrong or incomplete.
        #[sea_orm(string_value = "BAD_CONTACT_DATA")]
        BadContactData,
        /// Not looking to buy.
        #[sea_orm(string_value = "NOT_IN_MARKET")]
        NotInMarket,
        /// No budget.
        #[sea_orm(string_value = "NO_BUDGET")]
        NoBudget,
        /// Not the buyer persona.
        #[sea_orm(string_value = "WRONG_PERSONA")]
        WrongPersona,
        /// Cannot make or influence the decision.
        #[sea_orm(string_value = "NOT_DECISION_MAKER")]
        NotDecisionMaker,
        /// Already a customer.
        #[sea_orm(string_value = "EXISTING_CUSTOMER")]
        ExistingCustomer,
        /// Works for a competitor.
        #[sea_orm(string_value = "COMPETITOR")]
        Competitor,
        /// Duplicate of another lead.
        #[sea_orm(string_value = "DUPLICATE")]
        Duplicate,
        /// Spam or fake submission.
        #[sea_orm(string_value = "SPAM")]
        Spam,
        /// Any other reason.
        #[sea_orm(string_value = "OTHER")]
        Other,
    }
}

db_enum! {
    /// Marketing engagement or sales touch (`activities.kind`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum ActivityKind {
        /// Submitted a form.
        #[sea_orm(string_value = "FORM_SUBMIT")]
        FormSubmit,
        /// Downloaded content.
        #[sea_orm(string_value = "CONTENT_DOWNLOAD")]
        ContentDownload,
        /// Registered for a webinar.
        #[sea_orm(string_value = "WEBINAR_REGISTERED")]
        WebinarRegistered,
        /// Attended a webinar.
        #[sea_orm(string_value = "WEBINAR_ATTENDED")]
        WebinarAttended,
        /// Viewed the pricing page.
        #[sea_orm(string_value = "PRICING_PAGE_VIEW")]
        PricingPageView,
        /// Requested a demo.
        #[sea_orm(string_value = "DEMO_REQUEST")]
        DemoRequest,
        /// Clicked a marketing email.
        #[sea_orm(string_value = "EMAIL_CLICK")]
        EmailClick,
        /// Visited an event booth or session.
        #[sea_orm(string_value = "EVENT_VISIT")]
        EventVisit,
        /// Sales call.
        #[sea_orm(string_value = "CALL")]
        Call,
        /// Sales email sent.
        #[sea_orm(string_value = "EMAIL_SENT")]
        EmailSent,
        /// Sales meeting.
        #[sea_orm(string_value = "MEETING")]
        Meeting,
    }
}

impl ActivityKind {
    /// Whether this is a sales touch (`CALL`, `EMAIL_SENT`, `MEETING`) rather
    /// than a marketing engagement.
    pub fn is_sales_touch(&self) -> bool {
        matches!(self, Self::Call | Self::EmailSent | Self::Meeting)
    }
}

db_enum! {
    /// What a campaign aims at (`campaigns.objective`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum CampaignObjective {
        /// Build awareness.
        #[sea_orm(string_value = "AWARENESS")]
        Awareness,
        /// Drive consideration.
        #[sea_orm(string_value = "CONSIDERATION")]
        Consideration,
        /// Drive conversion.
        #[sea_orm(string_value = "CONVERSION")]
        Conversion,
    }
}

db_enum! {
    /// Lifecycle status of a campaign (`campaigns.status`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum CampaignStatus {
        /// Not started yet.
        #[sea_orm(string_value = "PLANNED")]
        Planned,
        /// Running.
        #[sea_orm(string_value = "ACTIVE")]
        Active,
        /// Paused.
        #[sea_orm(string_value = "PAUSED")]
        Paused,
        /// Finished.
        #[sea_orm(string_value = "COMPLETED")]
        Completed,
    }
}

db_enum! {
    /// Pipeline stage of an opportunity (`opportunities.stage`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum OpportunityStage {
        /// Discovering needs.
        #[sea_orm(string_value = "DISCOVERY")]
        Discovery,
        /// Qualifying the deal.
        #[sea_orm(string_value = "QUALIFICATION")]
        Qualification,
        /// Proposal sent.
        #[sea_orm(string_value = "PROPOSAL")]
        Proposal,
        /// Negotiating terms.
        #[sea_orm(string_value = "NEGOTIATION")]
        Negotiation,
        /// Closed and won.
        #[sea_orm(string_value = "CLOSED_WON")]
        ClosedWon,
        /// Closed and lost.
        #[sea_orm(string_value = "CLOSED_LOST")]
        ClosedLost,
    }
}

impl OpportunityStage {
    /// Whether the opportunity is closed (`CLOSED_WON` or `CLOSED_LOST`).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::ClosedWon | Self::ClosedLost)
    }
}

db_enum! {
    /// Type of business an opportunity represents (`opportunities.type`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum OpportunityType {
        /// A new customer.
        #[sea_orm(string_value = "NEW_BUSINESS")]
        NewBusiness,
        /// More business from a customer.
        #[sea_orm(string_value = "EXPANSION")]
        Expansion,
        /// Renewal of an existing contract.
        #[sea_orm(string_value = "RENEWAL")]
        Renewal,
    }
}

db_enum! {
    /// Which team sourced an opportunity (`opportunities.sourced_by`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum SourcedBy {
        /// Marketing.
        #[sea_orm(string_value = "MARKETING")]
        Marketing,
        /// Sales.
        #[sea_orm(string_value = "SALES")]
        Sales,
        /// A partner.
        #[sea_orm(string_value = "PARTNER")]
        Partner,
    }
}

db_enum! {
    /// Kind of record a stage change belongs to (`stage_changes.subject_type`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum StageSubject {
        /// A lead.
        #[sea_orm(string_value = "LEAD")]
        Lead,
        /// An opportunity.
        #[sea_orm(string_value = "OPPORTUNITY")]
        Opportunity,
    }
}

db_enum! {
    /// Outcome of a closed opportunity (`win_loss_feedback.outcome`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum Outcome {
        /// Won.
        #[sea_orm(string_value = "WON")]
        Won,
        /// Lost.
        #[sea_orm(string_value = "LOST")]
        Lost,
    }
}

db_enum! {
    /// Why a deal was won or lost (`win_loss_feedback.primary_reason`, `.secondary_reasons`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum FeedbackReason {
        /// Price.
        #[sea_orm(string_value = "PRICE")]
        Price,
        /// Budget.
        #[sea_orm(string_value = "BUDGET")]
        Budget,
        /// Product fit.
        #[sea_orm(string_value = "PRODUCT_FIT")]
        ProductFit,
        /// A missing feature.
        #[sea_orm(string_value = "MISSING_FEATURE")]
        MissingFeature,
        /// A competitor.
        #[sea_orm(string_value = "COMPETITOR")]
        Competitor,
        /// Timing.
        #[sea_orm(string_value = "TIMING")]
        Timing,
        /// No decision was made.
        #[sea_orm(string_value = "NO_DECISION")]
        NoDecision,
        /// The champion left.
        #[sea_orm(string_value = "CHAMPION_LEFT")]
        ChampionLeft,
        /// The relationship.
        #[sea_orm(string_value = "RELATIONSHIP")]
        Relationship,
        /// Implementation risk.
        #[sea_orm(string_value = "IMPLEMENTATION_RISK")]
        ImplementationRisk,
        /// Any other reason.
        #[sea_orm(string_value = "OTHER")]
        Other,
    }
}

db_enum! {
    /// Lifecycle status of a lead definition (`lead_definitions.status`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum DefinitionStatus {
        /// Being drafted; not in force.
        #[sea_orm(string_value = "DRAFT")]
        Draft,
        /// Signed off and in force.
        #[sea_orm(string_value = "APPROVED")]
        Approved,
        /// Replaced by a newer version.
        #[sea_orm(string_value = "SUPERSEDED")]
        Superseded,
    }
}

db_enum! {
    /// Length of a KPI target's period (`kpi_targets.period_kind`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum PeriodKind {
        /// A calendar month.
        #[sea_orm(string_value = "MONTH")]
        Month,
        /// A calendar quarter.
        #[sea_orm(string_value = "QUARTER")]
        Quarter,
    }
}

db_enum! {
    /// Dimension a KPI target is segmented by (`kpi_targets.segment_dimension`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum SegmentDimension {
        /// Lead source channel.
        #[sea_orm(string_value = "SOURCE")]
        Source,
        /// Campaign.
        #[sea_orm(string_value = "CAMPAIGN")]
        Campaign,
        /// Campaign channel.
        #[sea_orm(string_value = "CHANNEL")]
        Channel,
        /// Owner.
        #[sea_orm(string_value = "OWNER")]
        Owner,
        /// Account industry.
        #[sea_orm(string_value = "INDUSTRY")]
        Industry,
    }
}

db_enum! {
    /// Whether a KPI target is a floor or a ceiling (`kpi_targets.direction`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum TargetDirection {
        /// The KPI should reach at least the target.
        #[sea_orm(string_value = "AT_LEAST")]
        AtLeast,
        /// The KPI should stay at most the target.
        #[sea_orm(string_value = "AT_MOST")]
        AtMost,
    }
}

db_enum! {
    /// External system a record is synced with (`external_ids.system`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum ExternalSystem {
        /// HubSpot.
        #[sea_orm(string_value = "HUBSPOT")]
        Hubspot,
        /// Salesforce.
        #[sea_orm(string_value = "SALESFORCE")]
        Salesforce,
        /// Any other system.
        #[sea_orm(string_value = "OTHER")]
        Other,
    }
}

db_enum! {
    /// Kind of record (`external_ids.object_type`, `change_log.object_type`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum ObjectType {
        /// A user.
        #[sea_orm(string_value = "USER")]
        User,
        /// An account.
        #[sea_orm(string_value = "ACCOUNT")]
        Account,
        /// A lead.
        #[sea_orm(string_value = "LEAD")]
        Lead,
        /// An activity.
        #[sea_orm(string_value = "ACTIVITY")]
        Activity,
        /// A campaign.
        #[sea_orm(string_value = "CAMPAIGN")]
        Campaign,
        /// A campaign spend entry.
        #[sea_orm(string_value = "CAMPAIGN_SPEND")]
        CampaignSpend,
        /// An opportunity.
        #[sea_orm(string_value = "OPPORTUNITY")]
        Opportunity,
        /// A stage change.
        #[sea_orm(string_value = "STAGE_CHANGE")]
        StageChange,
        /// Win/loss feedback.
        #[sea_orm(string_value = "WIN_LOSS_FEEDBACK")]
        WinLossFeedback,
        /// A competitor.
        #[sea_orm(string_value = "COMPETITOR")]
        Competitor,
        /// A lead definition.
        #[sea_orm(string_value = "LEAD_DEFINITION")]
        LeadDefinition,
        /// A KPI target.
        #[sea_orm(string_value = "KPI_TARGET")]
        KpiTarget,
    }
}

db_enum! {
    /// What happened to a record (`change_log.operation`).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
    pub enum ChangeOperation {
        /// Created or updated.
        #[sea_orm(string_value = "UPSERT")]
        Upsert,
        /// Deleted (a tombstone).
        #[sea_orm(string_value = "DELETE")]
        Delete,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::{Debug, Display};

    use sea_orm::Iterable;
    use serde::de::DeserializeOwned;

    use super::*;

    /// The SCREAMING_SNAKE_CASE form of an UpperCamelCase variant name.
    fn screaming_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if i > 0 && c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    fn check<E>() -> Result<(), serde_json::Error>
    where
        E: ActiveEnum<Value = String>
            + Copy
            + Debug
            + Display
            + PartialEq
            + Serialize
            + DeserializeOwned,
    {
        for v in E::iter() {
            let stored = v.to_value();
            assert_eq!(stored, screaming_snake(&format!("{v:?}")));
            assert!(stored.len() <= 32, "{stored} is longer than 32");
            assert_eq!(v.to_string(), stored);
            assert_eq!(serde_json::to_value(v)?, Json::String(stored.clone()));
            assert_eq!(
                serde_json::from_value::<E>(Json::String(stored.clone()))?,
                v
            );
            assert_eq!(E::try_from_value(&stored).ok(), Some(v));
        }
        Ok(())
    }

    #[test]
    fn stored_names_match_variants_display_and_serde() -> Result<(), serde_json::Error> {
        check::<Role>()?;
        check::<Team>()?;
        check::<Channel>()?;
        check::<LeadStage>()?;
        check::<Seniority>()?;
        check::<SlaStatus>()?;
        check::<RejectionReason>()?;
        check::<ActivityKind>()?;
        check::<CampaignObjective>()?;
        check::<CampaignStatus>()?;
        check::<OpportunityStage>()?;
        check::<OpportunityType>()?;
        check::<SourcedBy>()?;
        check::<StageSubject>()?;
        check::<Outcome>()?;
        check::<FeedbackReason>()?;
        check::<DefinitionStatus>()?;
        check::<PeriodKind>()?;
        check::<SegmentDimension>()?;
        check::<TargetDirection>()?;
        check::<ExternalSystem>()?;
        check::<ObjectType>()?;
        check::<ChangeOperation>()?;

        Ok(())
    }

    #[test]
    fn as_str_is_the_stored_name() {
        assert_eq!(OpportunityStage::ClosedWon.as_str(), "CLOSED_WON");
        assert_eq!(LeadStage::Mql.as_str(), "MQL");
        assert_eq!(Seniority::CLevel.as_str(), "C_LEVEL");
    }

    #[test]
    fn helpers() {
        let touches: Vec<_> = ActivityKind::iter()
            .filter(ActivityKind::is_sales_touch)
            .collect();
        assert_eq!(
            touches,
            [
                ActivityKind::Call,
                ActivityKind::EmailSent,
                ActivityKind::Meeting
            ]
        );
        let closed: Vec<_> = OpportunityStage::iter()
            .filter(OpportunityStage::is_closed)
            .collect();
        assert_eq!(
            closed,
            [OpportunityStage::ClosedWon, OpportunityStage::ClosedLost]
        );
    }
}
