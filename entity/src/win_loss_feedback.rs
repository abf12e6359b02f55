//! Why a closed opportunity was won or lost (one per opportunity).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{FeedbackReason, Outcome};

/// A row of `win_loss_feedback`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "win_loss_feedback")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// The opportunity, unique.
    #[sea_orm(unique)]
    pub opportunity_id: Uuid,
    /// Won or lost.
    pub outcome: Outcome,
    /// Main reason.
    pub primary_reason: FeedbackReason,
    /// Further reasons: a JSON array of `FeedbackReason` names.
    pub secondary_reasons: Json,
    /// Competitor involved.
    pub competitor_id: Option<Uuid>,
    /// Objections raised, as JSON.
    pub objections: Json,
    /// Sales' rating of how well the lead fitted.
    pub lead_fit_rating: Option<i16>,
    /// Free-text notes.
    #[sea_orm(column_type = "Text")]
    pub notes: Option<String>,
    /// User who wrote the feedback.
    pub author_id: Option<Uuid>,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    /// User who last changed it (the author stays who first wrote it).
    pub last_edited_by_id: Option<Uuid>,
    /// When the row was soft-deleted; `None` while live.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Foreign keys of `win_loss_feedback`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The opportunity.
    #[sea_orm(
        belongs_to = "super::opportunity::Entity",
        from = "Column::OpportunityId",
        to = "super::opportunity::Column::Id",
        on_delete = "Cascade"
    )]
    Opportunity,
    /// The competitor involved.
    #[sea_orm(
        belongs_to = "super::competitor::Entity",
        from = "Column::CompetitorId",
        to = "super::competitor::Column::Id",
        on_delete = "SetNull"
    )]
    Competitor,
    /// The user who wrote it.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AuthorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Author,
}

impl Related<super::opportunity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Opportunity.def()
    }
}

impl Related<super::competitor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Competitor.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
