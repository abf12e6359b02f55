//! Stage history: one row per lifecycle or deal stage transition, with who,
//! when and why. KPIs on velocity and conversion are computed from these.

use entity::{enums::StageSubject, stage_change};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range},
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
};
use crate::{
    auth::{Action, Viewer},
    error::AppResult,
};

/// Which lead stage changes to list.
#[derive(Debug, Clone, Default)]
pub struct StageChangeFilter {
    /// Of these leads.
    pub lead_ids: Option<Vec<Uuid>>,
    /// Into one of these stages.
    pub to_stages: Option<Vec<String>>,
    /// Out of one of these stages.
    pub from_stages: Option<Vec<String>>,
    /// By this actor.
    pub actor_id: Option<Uuid>,
    /// Happened in this range.
    pub at: Option<TimeRange>,
}

/// Lead stage changes matching a filter, unpaged.
pub fn select_leads(filter: &StageChangeFilter) -> Select<stage_change::Entity> {
    use stage_change::Column as C;
    let mut cond = Condition::all().add(C::SubjectType.eq(StageSubject::Lead));
    if let Some(ids) = &filter.lead_ids {
        cond = cond.add(C::SubjectId.is_in(ids.iter().copied()));
    }
    if let Some(v) = &filter.to_stages {
        cond = cond.add(C::ToStage.is_in(v.clone()));
    }
    if let Some(v) = &filter.from_stages {
        cond = cond.add(C::FromStage.is_in(v.clone()));
    }
    if let Some(v) = filter.actor_id {
        cond = cond.add(C::ActorId.eq(v));
    }
    cond = in_range(cond, C::At, filter.at.as_ref());
    stage_change::Entity::find().filter(cond)
}

/// One page of lead stage changes in the order they happened.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list_leads(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &StageChangeFilter,
    page: &PageRequest,
) -> AppResult<Page<stage_change::Model>> {
    viewer.require(Action::ReadRecords)?;
    let key_of: KeyOf<stage_change::Entity> = |m| (SortValue::Time(m.at), m.id);
    let key = SortKey {
        name: "AT",
        column: stage_change::Column::At,
        id_column: stage_change::Column::Id,
        descending: false,
        key_of,
    };
    paginate(db, select_leads(filter), &key, page).await
}

/// Every stage change of one subject, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    subject: StageSubject,
    id: Uuid,
) -> AppResult<Vec<stage_change::Model>> {
    Ok(stage_change::Entity::find()
        .filter(stage_change::Column::SubjectType.eq(subject))
        .filter(stage_change::Column::SubjectId.eq(id))
        .order_by_asc(stage_change::Column::At)
        .order_by_asc(stage_change::Column::Id)
        .all(db)
        .await?)
}
