//! A lead: a person in the funnel from capture to customer.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{Channel, LeadStage, RejectionReason, Seniority, SlaStatus};

/// A row of `leads`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// Email address, trimmed and lower case; `None` when the source had none.
    #[sea_orm(column_type = "String(StringLen::N(320))")]
    pub email: Option<String>,
    /// Phone number as given (personal data).
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub phone: Option<String>,
    /// First name.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub first_name: Option<String>,
    /// Last name.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub last_name: Option<String>,
    /// Job title.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub job_title: Option<String>,
    /// Seniority of the job.
    pub seniority: Option<Seniority>,
    /// The lead's account.
    pub account_id: Option<Uuid>,
    /// Company name as captured.
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub company_name: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[sea_orm(column_type = "Char(Some(2))")]
    pub country: Option<String>,
    /// Channel the lead came from.
    pub source: Channel,
    /// Campaign the lead came from.
    pub source_campaign_id: Option<Uuid>,
    /// Funnel stage.
    pub stage: LeadStage,
    /// When the lead entered its stage.
    pub stage_entered_at: DateTimeUtc,
    /// Owning user.
    pub owner_id: Option<Uuid>,
    /// Fit score.
    pub fit_score: i32,
    /// Engagement score.
    pub engagement_score: i32,
    /// Lead definition the lead became an MQL under.
    pub qualified_under_id: Option<Uuid>,
    /// When the lead became an MQL.
    pub mql_at: Option<DateTimeUtc>,
    /// First-contact SLA deadline.
    pub sla_first_contact_due_at: Option<DateTimeUtc>,
    /// When sales first contacted the lead.
    pub first_contacted_at: Option<DateTimeUtc>,
    /// Disposition SLA deadline.
    pub sla_disposition_due_at: Option<DateTimeUtc>,
    /// When sales accepted or rejected the lead.
    pub dispositioned_at: Option<DateTimeUtc>,
    /// Where the lead stands against its SLA.
    pub sla_status: Option<SlaStatus>,
    /// Why sales rejected the lead.
    pub rejection_reason: Option<RejectionReason>,
    /// Free-text note on the rejection.
    #[sea_orm(column_type = "Text")]
    pub rejection_note: Option<String>,
    /// How many times the lead was recycled to nurture.
    pub recycle_count: i32,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `leads`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The lead's account.
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id",
        on_delete = "SetNull"
    )]
    Account,
    /// The campaign the lead came from.
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::SourceCampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "SetNull"
    )]
    SourceCampaign,
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Owner,
    /// The definition the lead qualified under.
    #[sea_orm(
        belongs_to = "super::lead_definition::Entity",
        from = "Column::QualifiedUnderId",
        to = "super::lead_definition::Column::Id",
        on_delete = "SetNull"
    )]
    QualifiedUnder,
}

impl Related<super::account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Account.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SourceCampaign.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::lead_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::QualifiedUnder.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
