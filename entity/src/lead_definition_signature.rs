//! A team's sign-off on a lead definition (one per definition and team).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Team;

/// A row of `lead_definition_signatures`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lead_definition_signatures")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// The signed definition.
    pub definition_id: Uuid,
    /// The user who signed.
    pub user_id: Uuid,
    /// The team the user signed for.
    pub team: Team,
    /// When it was signed.
    pub signed_at: DateTimeUtc,
}

/// Foreign keys of `lead_definition_signatures`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The signed definition.
    #[sea_orm(
        belongs_to = "super::lead_definition::Entity",
        from = "Column::DefinitionId",
        to = "super::lead_definition::Column::Id",
        on_delete = "Cascade"
    )]
    Definition,
    /// The user who signed.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
}

impl Related<super::lead_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Definition.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
