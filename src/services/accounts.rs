//! Accounts: the companies leads work at and deals are sold to.

use std::collections::HashMap;

use entity::account;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range, text_search},
    links,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
    scoring::{self, Scope},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::records::AccountPatch,
    error::{AppResult, UserErrorCode},
};

/// Every live account's id and name, for an import whose rows name their
/// account instead of giving its id.
pub async fn names(db: &DatabaseConnection) -> AppResult<Vec<(Uuid, String)>> {
    Ok(account::Entity::live()
        .select_only()
        .column(account::Column::Id)
        .column(account::Column::Name)
        .into_tuple()
        .all(db)
        .await?)
}

/// Which accounts to list.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Case-insensitive match on name or domain.
    pub search: Option<String>,
    /// Owned by one of these users.
    pub owner_ids: Option<Vec<Uuid>>,
    /// In one of these industries.
    pub industries: Option<Vec<String>>,
    /// Target (ABM) accounts only, or non-target only.
    pub is_target_account: Option<bool>,
    /// Created in this range.
    pub created_at: Option<TimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<TimeRange>,
    /// With, or without, an id in an external system.
    pub external_ids: super::external_ids::Presence,
}

/// How to order accounts.
#[derive(Debug, Clone, Copy, Default)]
pub enum AccountSort {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    Name,
}

fn sort_key(sort: AccountSort, descending: bool) -> SortKey<account::Entity> {
    use account::Column as C;
    let (name, column, key_of): (_, _, KeyOf<account::Entity>) = match sort {
        AccountSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        AccountSort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
        }),
        AccountSort::Name => ("NAME", C::Name, |m| (SortValue::Text(m.name.clone()), m.id)),
    };
    SortKey {
        name,
        column,
        id_column: C::Id,
        descending,
        key_of,
    }
}

/// The accounts matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &AccountFilter) -> Select<account::Entity> {
    use account::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::Name, C::Domain]))
    {
        cond = cond.add(search);
    }
    if let Some(ids) = &filter.owner_ids {
        cond = cond.add(C::OwnerId.is_in(ids.clone()));
    }
    if let Some(industries) = &filter.industries {
        cond = cond.add(C::Industry.is_in(industries.clone()));
    }
    if let Some(target) = filter.is_target_account {
        cond = cond.add(C::IsTargetAccount.eq(target));
    }
    cond = in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    cond = in_range(cond, C::UpdatedAt, filter.updated_at.as_ref());
    cond = filter.external_ids.apply::<account::Entity>(cond);
    account::Entity::live().filter(cond)
}

/// One page of accounts.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &AccountFilter,
    sort: AccountSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<account::Model>> {
    viewer.require(Action::ReadRecords)?;
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The fields of an account a caller may set, with their rules.
pub type AccountFields = AccountPatch;

/// Validates and normalises the fields, checking the owner and that no
/// other account (`self_id` is the one edited) has the domain.
async fn validate(
    db: &impl ConnectionTrait,
    fields: AccountFields,
    self_id: Option<Uuid>,
) -> AppResult<AccountFields> {
    let mut checked = fields.validate(self_id.is_none());
    links::check(db, checked.patch.links(), &mut checked.errors).await?;
    if let Some(Some(domain)) = &checked.patch.domain
        && domain_holders(db, std::slice::from_ref(domain))
            .await?
            .get(domain)
            .is_some_and(|id| Some(*id) != self_id)
    {
        checked
            .errors
            .add("domain", UserErrorCode::Taken, domain_taken(domain));
    }
    checked.finish()
}

/// The accounts (deleted ones too) holding any of `domains`, by domain.
pub(crate) async fn domain_holders(
    db: &impl ConnectionTrait,
    domains: &[String],
) -> AppResult<HashMap<String, Uuid>> {
    let mut holders = HashMap::new();
    for part in domains.chunks(1_000) {
        let rows: Vec<(Uuid, Option<String>)> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .column(account::Column::Domain)
            .filter(account::Column::Domain.is_in(part.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        holders.extend(rows.into_iter().filter_map(|(id, d)| d.map(|d| (d, id))));
    }
    Ok(holders)
}

/// The message of a domain another account has.
pub(crate) fn domain_taken(domain: &str) -> String {
    format!("another account already has the domain {domain}")
}

/// Creates an account.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: AccountFields,
) -> AppResult<account::Model> {
    viewer.require(Action::WriteAccount)?;
    let txn = begin_write(db).await?;
    let fields = validate(&txn, fields, None).await?;
    let mut am = account::ActiveModel {
        is_target_account: Set(false),
        fit_score: Set(0),
        deleted_at: Set(None),
        ..Default::default()
    };
    fields.apply(&mut am);
    let model = records::insert::<account::Entity>(&txn, viewer, am)
        .await
        .map_err(|e| e.on_unique("domain", "another account already has this domain"))?;
    txn.commit().await?;
    Ok(model)
}

/// Edits an account. A stale `expected_version` is a CONFLICT and writes
/// nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: AccountFields,
) -> AppResult<account::Model> {
    viewer.require(Action::WriteAccount)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<account::Entity>(&txn, id).await?;
    records::check_version("account", current.version, expected_version)?;
    let fields = validate(&txn, fields, Some(id)).await?;
    let (model, changed) =
        records::update::<account::Entity>(&txn, Some(viewer.user_id), current, |am| {
            fields.apply(am)
        })
        .await
        .map_err(|e| e.on_unique("domain", "another account already has this domain"))?;
    if changed {
        // Industry, head count, country and target status feed its leads' fit.
        scoring::rescore_if_approved(&txn, Scope::Account(id), Some(viewer.user_id)).await?;
    }
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes an account. Its leads and opportunities keep existing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::DeleteAccount)?;
    records::delete_by_id::<account::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
