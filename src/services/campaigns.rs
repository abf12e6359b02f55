//! Campaigns: what marketing runs on a channel, with a budget and dates.

use chrono::NaiveDate;
use entity::{
    campaign,
    enums::{CampaignObjective, CampaignStatus, Channel},
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, QueryFilter,
    Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range, text_search},
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::validate::Errors,
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

/// The fields of a campaign a caller may set.
#[derive(Debug, Clone, Default)]
pub struct CampaignFields {
    /// Campaign name.
    pub name: Option<String>,
    /// Channel it runs on.
    pub channel: Option<Channel>,
    /// What it aims at.
    pub objective: Option<CampaignObjective>,
    /// Lifecycle status (PLANNED when created without one).
    pub status: Option<CampaignStatus>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day; `Some(None)` clears it.
    pub ends_on: Option<Option<NaiveDate>>,
    /// Budget and its currency; `Some(None)` clears the budget (the currency
    /// stays).
    pub budget: Option<Option<(Decimal, String)>>,
    /// Owning user.
    pub owner_id: Option<Option<Uuid>>,
}

/// Validates and normalises the fields against the campaign as it is
/// (`None` when creating), checking references and the date range.
async fn validate(
    db: &impl ConnectionTrait,
    fields: CampaignFields,
    current: Option<&campaign::Model>,
) -> AppResult<CampaignFields> {
    let creating = current.is_none();
    let mut e = Errors::new();
    let mut out = CampaignFields::default();
    match fields.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 300)),
        None if creating => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    if creating && fields.channel.is_none() {
        e.add("channel", UserErrorCode::Required, "`channel` is required");
    }
    if creating && fields.objective.is_none() {
        e.add(
            "objective",
            UserErrorCode::Required,
            "`objective` is required",
        );
    }
    if creating && fields.starts_on.is_none() {
        e.add(
            "startsOn",
            UserErrorCode::Required,
            "`startsOn` is required",
        );
    }
    out.channel = fields.channel;
    out.objective = fields.objective;
    out.status = fields.status;
    out.starts_on = fields.starts_on;
    out.ends_on = fields.ends_on;
    let starts_on = out.starts_on.or(current.map(|c| c.starts_on));
    let ends_on = out.ends_on.unwrap_or(current.and_then(|c| c.ends_on));
    if let (Some(starts_on), Some(ends_on)) = (starts_on, ends_on)
        && ends_on < starts_on
    {
        e.add(
            "endsOn",
            UserErrorCode::OutOfRange,
            format!("`endsOn` ({ends_on}) must not be before `startsOn` ({starts_on})"),
        );
    }
    out.budget = fields.budget.map(|v| {
        v.map(|(amount, currency)| {
            (
                e.amount("budget.amount", amount),
                e.currency("budget.currency", &currency),
            )
        })
    });
    out.owner_id = fields.owner_id;
    if let (Some(current), Some(starts_on)) = (current, starts_on) {
        // Spend already recorded must stay inside the dates and in the
        // campaign's currency (see `services::spend`).
        let currency = match &out.budget {
            Some(Some((_, currency))) => currency.as_str(),
            _ => current.currency.as_str(),
        };
        let changes_dates = starts_on != current.starts_on || ends_on != current.ends_on;
        let changes_currency = currency != current.currency;
        if changes_dates || changes_currency {
            let (out_of_dates, other_currency) =
                super::spend::stranded(db, current.id, starts_on, ends_on, currency).await?;
            if out_of_dates > 0 {
                let field = if starts_on != current.starts_on {
                    "startsOn"
                } else {
                    "endsOn"
                };
                e.add(
                    field,
                    UserErrorCode::OutOfRange,
                    format!(
                        "{out_of_dates} spend entries would fall outside the campaign's dates; move or delete them first"
                    ),
                );
            }
            if other_currency > 0 {
                e.add(
                    "budget.currency",
                    UserErrorCode::Invalid,
                    format!(
                        "the campaign has spend in {}; its currency cannot change to {currency}",
                        current.currency
                    ),
                );
            }
        }
    }
    if let Some(Some(owner)) = out.owner_id {
        super::users::check_owner(db, "ownerId", owner, &mut e).await?;
    }
    e.finish()?;
    Ok(out)
}

fn apply(am: &mut campaign::ActiveModel, f: CampaignFields) {
    if let Some(v) = f.name {
        am.name.set_if_not_equals(v);
    }
    if let Some(v) = f.channel {
        am.channel.set_if_not_equals(v);
    }
    if let Some(v) = f.objective {
        am.objective.set_if_not_equals(v);
    }
    if let Some(v) = f.status {
        am.status.set_if_not_equals(v);
    }
    if let Some(v) = f.starts_on {
        am.starts_on.set_if_not_equals(v);
    }
    if let Some(v) = f.ends_on {
        am.ends_on.set_if_not_equals(v);
    }
    if let Some(v) = f.budget {
        match v {
            Some((amount, currency)) => {
                am.budget.set_if_not_equals(Some(amount));
                am.currency.set_if_not_equals(currency);
            }
            None => am.budget.set_if_not_equals(None),
        }
    }
    if let Some(v) = f.owner_id {
        am.owner_id.set_if_not_equals(v);
    }
}

/// Creates a campaign (PLANNED unless a status is given; in USD unless a
/// budget says otherwise).
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
    apply(&mut am, fields);
    let model = records::insert::<campaign::Entity>(&txn, viewer, am).await?;
    txn.commit().await?;
    Ok(model)
}

/// Edits a campaign. A stale `expected_version` is a CONFLICT and writes
/// nothing.
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
            apply(am, fields)
        })
        .await?;
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes a campaign. Leads and activities that name it keep existing.
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::WriteCampaign)?;
    records::delete_by_id::<campaign::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
