//! Competitors: the rivals named in win/loss feedback.

use entity::competitor;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Select,
};
use uuid::Uuid;

use super::{
    filters::text_search,
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::validate::Errors,
    error::{AppResult, UserErrorCode},
};

/// Which competitors to list.
#[derive(Debug, Clone, Default)]
pub struct CompetitorFilter {
    /// Case-insensitive match on name.
    pub search: Option<String>,
}

/// How to order competitors.
#[derive(Debug, Clone, Copy, Default)]
pub enum CompetitorSort {
    /// By name.
    #[default]
    Name,
    /// By creation time.
    CreatedAt,
}

fn sort_key(sort: CompetitorSort, descending: bool) -> SortKey<competitor::Entity> {
    use competitor::Column as C;
    let (name, column, key_of): (_, _, KeyOf<competitor::Entity>) = match sort {
        CompetitorSort::Name => ("NAME", C::Name, |m| (SortValue::Text(m.name.clone()), m.id)),
        CompetitorSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
    };
    SortKey {
        name,
        column,
        id_column: C::Id,
        descending,
        key_of,
    }
}

/// The competitors matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &CompetitorFilter) -> Select<competitor::Entity> {
    use competitor::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::NameKey]))
    {
        cond = cond.add(search);
    }
    competitor::Entity::live().filter(cond)
}

/// One page of competitors.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &CompetitorFilter,
    sort: CompetitorSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<competitor::Model>> {
    viewer.require(Action::ReadRecords)?;
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The fields of a competitor a caller may set.
#[derive(Debug, Clone, Default)]
pub struct CompetitorFields {
    /// Name, unique regardless of case.
    pub name: Option<String>,
    /// Website address; `Some(None)` clears it.
    pub website: Option<Option<String>>,
}

/// Checks a website: at most 500 characters, an `http://` or `https://`
/// address.
fn website(e: &mut Errors, field: &str, value: Option<&str>) -> Option<String> {
    let v = e.optional_text(field, value, 500)?;
    let lower = v.to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(|host| host.is_empty() || host.chars().any(char::is_whitespace)) {
        e.add(
            field,
            UserErrorCode::Invalid,
            format!("`{field}` must be an http:// or https:// address"),
        );
    }
    Some(v)
}

/// Validates and normalises the fields, checking uniqueness.
async fn validate(
    db: &impl ConnectionTrait,
    fields: CompetitorFields,
    creating: bool,
    self_id: Option<Uuid>,
) -> AppResult<CompetitorFields> {
    let mut e = Errors::new();
    let mut out = CompetitorFields::default();
    match fields.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 200)),
        None if creating => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    out.website = fields
        .website
        .map(|w| website(&mut e, "website", w.as_deref()));
    if let Some(name) = out.name.as_deref().filter(|n| !n.is_empty()) {
        // Deleted competitors keep their name: the unique index covers them too.
        let mut taken =
            competitor::Entity::find().filter(competitor::Column::NameKey.eq(name.to_lowercase()));
        if let Some(id) = self_id {
            taken = taken.filter(competitor::Column::Id.ne(id));
        }
        if taken.one(db).await?.is_some() {
            e.add(
                "name",
                UserErrorCode::Taken,
                format!("another competitor is already named {name}"),
            );
        }
    }
    e.finish()?;
    Ok(out)
}

fn apply(am: &mut competitor::ActiveModel, f: CompetitorFields) {
    if let Some(v) = f.name {
        am.name_key.set_if_not_equals(Some(v.to_lowercase()));
        am.name.set_if_not_equals(v);
    }
    if let Some(v) = f.website {
        am.website.set_if_not_equals(v);
    }
}

/// Creates a competitor.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: CompetitorFields,
) -> AppResult<competitor::Model> {
    viewer.require(Action::WriteCompetitor)?;
    let txn = begin_write(db).await?;
    let fields = validate(&txn, fields, true, None).await?;
    let mut am = competitor::ActiveModel {
        website: Set(None),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut am, fields);
    let model = records::insert::<competitor::Entity>(&txn, viewer, am)
        .await
        .map_err(|e| e.on_unique("name", "another competitor already has this name"))?;
    txn.commit().await?;
    Ok(model)
}

/// Edits a competitor. A stale `expected_version` is a CONFLICT and writes
/// nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: CompetitorFields,
) -> AppResult<competitor::Model> {
    viewer.require(Action::WriteCompetitor)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<competitor::Entity>(&txn, id).await?;
    records::check_version("competitor", current.version, expected_version)?;
    let fields = validate(&txn, fields, false, Some(id)).await?;
    let (model, _) =
        records::update::<competitor::Entity>(&txn, Some(viewer.user_id), current, |am| {
            apply(am, fields)
        })
        .await
        .map_err(|e| e.on_unique("name", "another competitor already has this name"))?;
    txn.commit().await?;
    Ok(model)
}

/// Soft-deletes a competitor. Win/loss feedback naming it keeps it.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::WriteCompetitor)?;
    records::delete_by_id::<competitor::Entity>(db, viewer, id, expected_version, |_| Ok(())).await
}
