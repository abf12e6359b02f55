//! Campaigns: what marketing runs on a channel, with a budget and dates.

use chrono::NaiveDate;
use entity::{
    campaign,
    enums::{CampaignObjective, CampaignStatus, Channel},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, QueryFilter,
    Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range, text_search},
    links,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::{records::CampaignPatch, validate::Errors},
    error::{AppResult, UserErrorCode},
};

/// Currency of a campaign created without a budget (the column is NOT NULL).
pub const DEFAULT_CURRENCY: &str = "USD";

/// Which campaigns to list.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    /// Case-insensitive match on name.
    pub search: Option<String>,
    /// Running on one of these channels.
    pub channels: Option<Vec<Channel>>,
    /// With one of these objectives.
    pub objectives: Option<Vec<CampaignObjective>>,
    /// In one of these statuses.
    pub statuses: Option<Vec<CampaignStatus>>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<Uuid>>,
    /// Running on this day: `starts_on <= day` and no `ends_on` or
    /// `ends_on >= day`.
    pub active_on: Option<NaiveDate>,
    /// Created in this range.
    pub created_at: Option<TimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<TimeRange>,
    /// With, or without, an id in an external system.
    pub external_ids: super::external_ids::Presence,
}

/// How to order campaigns.
#[derive(Debug, Clone, Copy, Default)]
pub enum CampaignSort {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    Name,
}

fn sort_key(sort: CampaignSort, descending: bool) -> SortKey<campaign::Entity> {
    use campaign::Column as C;
    let (name, column, key_of): (_, _, KeyOf<campaign::Entity>) = match sort {
        CampaignSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        CampaignSort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
        }),
        CampaignSort::Name => ("NAME", C::Name, |m| (SortValue::Text(m.name.clone()), m.id)),
    };
    SortKey {
        name,
        column,
        id_column: C::Id,
        descending,
        key_of,
    }
}

/// The campaigns matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &CampaignFilter) -> Select<campaign::Entity> {
    use campaign::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::Name]))
    {
        cond = cond.add(search);
    }
    if let Some(channels) = &filter.channels {
        cond = cond.add(C::Channel.is_in(channels.clone()));
    }
    if let Some(objectives) = &filter.objectives {
        cond = cond.add(C::Objective.is_in(objectives.clone()));
    }
    if let Some(statuses) = &filter.statuses {
        cond = cond.add(C::Status.is_in(statuses.clone()));
    }
    if let Some(ids) = &filter.owner_ids {
        cond = cond.add(C::OwnerId.is_in(ids.clone()));
    }
    if let Some(day) = filter.active_on {
        cond = cond.add(C::StartsOn.lte(day)).add(
            Condition::any()
                .add(C::EndsOn.is_null())
                .add(C::EndsOn.gte(day)),
        );
    }
    cond = in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    cond = in_range(cond, C::UpdatedAt, filter.updated_at.as_ref());
    cond = filter.external_ids.apply::<campaign::Entity>(cond);
    campaign::Entity::live().filter(cond)
}

/// One page of campaigns.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &CampaignFilter,
    sort: CampaignSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<campaign::Model>> {
    viewer.require(Action::ReadRecords)?;
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The fields of a campaign a caller may set, with their rules.
pub type CampaignFields = CampaignPatch;

/// Validates and normalises the fields against the campaign as it is
/// (`None` when creating), checking its spend and owner.
async fn validate(
    db: &impl ConnectionTrait,
    fields: CampaignFields,
    current: Option<&campaign::Model>,
) -> AppResult<CampaignFields> {
    let mut checked = fields.validate(current);
    if let Some(current) = current {
        check_spend(db, current, &checked.patch, &mut checked.errors).await?;
    }
    links::check(db, checked.patch.links(), &mut checked.errors).await?;
    checked.finish()
}

/// Spend already recorded must stay inside the campaign's dates and in its
/// currency (see `services::spend`): adds the failures of a patch that
/// would strand some.
pub(crate) async fn check_spend(
    db: &impl ConnectionTrait,
    current: &campaign::Model,
    patch: &CampaignFields,
    errors: &mut Errors,
) -> AppResult<()> {
    let starts_on = patch.starts_on.unwrap_or(current.starts_on);
    let ends_on = patch.ends_on.unwrap_or(current.ends_on);
    let currency = patch.currency_after(current);
    if starts_on == current.starts_on && ends_on == current.ends_on && currency == current.currency
    {
        return Ok(());
    }
    let (out_of_dates, other_currency) =
        super::spend::stranded(db, current.id, starts_on, ends_on, currency).await?;
    if out_of_dates > 0 {
        let field = if starts_on != current.starts_on {
            "startsOn"
        } else {
            "endsOn"
        };
        errors.add(
            field,
            UserErrorCode::OutOfRange,
            format!(
                "{out_of_dates} spend entries would fall outside the campaign's dates; move or delete them first"
            ),
        );
    }
    if other_currency > 0 {
        errors.add(
            "budget.currency",
            UserErrorCode::Invalid,
            format!(
                "the campaign has spend in {}; its currency cannot change to {currency}",
                current.currency
            ),
        );
    }
    Ok(())
}

/// Creates a campaign (PLANNED unless a status is given; in USD unless a
/// budget says otherwise).
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: CampaignFields,
) -> AppResult<campaign::Model> {
    viewer.require(Action::WriteCampaign)?;
    let txn = begin_write(db).await?;
    let fields = validate(&txn, fields, None).await?;
    let mut am = campaign::ActiveModel {
        status: Set(CampaignStatus::Planned),
        currency: Set(DEFAULT_CURRENCY.to_owned()),
        deleted_at: Set(None),
        ..Default::default()
    };
    fields.apply(&mut am);
    let model = records::insert::<campaign::Entity>(&txn, viewer, am).await?;
    txn.commit().await?;
    Ok(model)
}

/// Edits a campaign. A stale `expected_version` is a CONFLICT and writes
/// nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: CampaignFields,
) -> AppResult<campaign::Model> {
    viewer.require(Action::WriteCampaign)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<campaign::Entity>(&txn, id).await?;
    records::check_version("campaign", current.version, expected_version)?;
    let fields = validate(&txn, fields, Some(&current)).await?;
    let (model, _) =
        records::update::<campaign::Entity>(&txn, Some(viewer.user_id), current, |am| {
            fields.apply(am)
        })
        .await?;
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes a campaign. Leads and activities that name it keep existing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::WriteCampaign)?;
    records::delete_by_id::<campaign::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
