//! Accounts: the companies leads work at and deals are sold to.

use entity::account;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range, text_search},
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
    scoring::{self, Scope},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::validate::Errors,
    error::{AppResult, UserErrorCode},
};

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

/// The fields of an account a caller may set.
#[derive(Debug, Clone, Default)]
pub struct AccountFields {
    /// Company name.
    pub name: Option<String>,
    /// Web domain; `Some(None)` clears it.
    pub domain: Option<Option<String>>,
    /// Industry.
    pub industry: Option<Option<String>>,
    /// Head count.
    pub employee_count: Option<Option<i32>>,
    /// Annual revenue and its currency.
    pub annual_revenue: Option<Option<(Decimal, String)>>,
    /// ISO country code.
    pub country: Option<Option<String>>,
    /// Target (ABM) account.
    pub is_target_account: Option<bool>,
    /// Owning user.
    pub owner_id: Option<Option<Uuid>>,
}

/// Validates and normalises the fields, checking references and uniqueness.
async fn validate(
    db: &impl ConnectionTrait,
    fields: AccountFields,
    creating: bool,
    self_id: Option<Uuid>,
) -> AppResult<AccountFields> {
    let mut e = Errors::new();
    let mut out = AccountFields::default();
    match fields.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 300)),
        None if creating => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    out.domain = fields.domain.map(|d| e.domain("domain", d.as_deref()));
    out.industry = fields
        .industry
        .map(|v| e.optional_text("industry", v.as_deref(), 100));
    out.employee_count = fields
        .employee_count
        .map(|v| v.map(|n| e.range("employeeCount", n, 0, 10_000_000)));
    out.annual_revenue = fields.annual_revenue.map(|v| {
        v.map(|(amount, currency)| {
            (
                e.amount("annualRevenue.amount", amount),
                e.currency("annualRevenue.currency", &currency),
            )
        })
    });
    out.country = fields.country.map(|v| e.country("country", v.as_deref()));
    out.is_target_account = fields.is_target_account;
    out.owner_id = fields.owner_id;
    if let Some(Some(owner)) = out.owner_id {
        super::users::check_owner(db, "ownerId", owner, &mut e).await?;
    }
    if let Some(Some(domain)) = &out.domain {
        let mut taken = account::Entity::find().filter(account::Column::Domain.eq(domain.clone()));
        if let Some(id) = self_id {
            taken = taken.filter(account::Column::Id.ne(id));
        }
        if taken.one(db).await?.is_some() {
            e.add(
                "domain",
                UserErrorCode::Taken,
                format!("another account already has the domain {domain}"),
            );
        }
    }
    e.finish()?;
    Ok(out)
}

fn apply(am: &mut account::ActiveModel, f: AccountFields) {
    if let Some(v) = f.name {
        am.name.set_if_not_equals(v);
    }
    if let Some(v) = f.domain {
        am.domain.set_if_not_equals(v);
    }
    if let Some(v) = f.industry {
        am.industry.set_if_not_equals(v);
    }
    if let Some(v) = f.employee_count {
        am.employee_count.set_if_not_equals(v);
    }
    if let Some(v) = f.annual_revenue {
        let (amount, currency) = v.map_or((None, None), |(a, c)| (Some(a), Some(c)));
        am.annual_revenue.set_if_not_equals(amount);
        am.currency.set_if_not_equals(currency);
    }
    if let Some(v) = f.country {
        am.country.set_if_not_equals(v);
    }
    if let Some(v) = f.is_target_account {
        am.is_target_account.set_if_not_equals(v);
    }
    if let Some(v) = f.owner_id {
        am.owner_id.set_if_not_equals(v);
    }
}

/// Creates an account.
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: AccountFields,
) -> AppResult<account::Model> {
    viewer.require(Action::WriteAccount)?;
    let txn = begin_write(db).await?;
    let fields = validate(&txn, fields, true, None).await?;
    let mut am = account::ActiveModel {
        is_target_account: Set(false),
        fit_score: Set(0),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut am, fields);
    let model = records::insert::<account::Entity>(&txn, viewer, am)
        .await
        .map_err(|e| e.on_unique("domain", "another account already has this domain"))?;
    txn.commit().await?;
    Ok(model)
}

/// Edits an account. A stale `expected_version` is a CONFLICT and writes
/// nothing.
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
    let fields = validate(&txn, fields, false, Some(id)).await?;
    let (model, changed) =
        records::update::<account::Entity>(&txn, Some(viewer.user_id), current, |am| {
            apply(am, fields)
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
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::DeleteAccount)?;
    records::delete_by_id::<account::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
