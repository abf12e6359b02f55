//! The written, shared definition of a qualified lead: drafted by
//! marketing, signed by one marketing and one sales user (an ADMIN may sign
//! for either team), approved the moment the second team signs. Approval
//! supersedes the previous version and rescores every open lead, all in one
//! transaction. A draft nobody wants can be discarded (soft-deleted); approved
//! and superseded versions are history and stay.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use entity::{
    enums::{ChangeOperation, DefinitionStatus, ObjectType, Role, Team},
    event::EventKind,
    lead_definition, lead_definition_signature,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    events::{self, NewEvent},
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, now},
    scoring::{self, Definition, Rescored, Scope},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::scoring::{EngagementRules, FitCriteria, validate},
    error::{AppError, AppResult, FieldError, UserErrorCode},
};

/// What a draft says.
#[derive(Debug, Clone)]
pub struct DefinitionFields {
    /// The definition in words.
    pub description: Option<String>,
    /// Fit criteria with points.
    pub fit_criteria: FitCriteria,
    /// Activity kind -> points.
    pub engagement_rules: EngagementRules,
    /// Engagement half-life in days.
    pub half_life_days: f64,
    /// Fit needed for MQL.
    pub mql_fit_min: i32,
    /// Engagement needed for MQL.
    pub mql_engagement_min: i32,
    /// Hours to the first sales touch.
    pub first_contact_hours: i32,
    /// Hours to accept or reject.
    pub disposition_hours: i32,
    /// When both teams review it next.
    pub review_by: NaiveDate,
}

/// Longest description of a definition.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

fn check(fields: &DefinitionFields) -> AppResult<()> {
    let too_long = fields
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS);
    let errors = validate(
        &fields.fit_criteria,
        &fields.engagement_rules,
        fields.half_life_days,
        fields.mql_fit_min,
        fields.mql_engagement_min,
        fields.first_contact_hours,
        fields.disposition_hours,
    );
    if errors.is_empty() && !too_long {
        return Ok(());
    }
    let description = too_long.then(|| {
        FieldError::new(
            "description",
            UserErrorCode::TooLong,
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        )
    });
    Err(AppError::Invalid(
        description
            .into_iter()
            .chain(errors.into_iter().map(|(field, message)| {
                FieldError {
                    field: std::iter::once("input".to_owned())
                        .chain(field.split('.').map(str::to_owned))
                        .collect(),
                    message,
                    code: if field.ends_with("min")
                        || field.ends_with("max")
                        || field.contains("Hours")
                    {
                        UserErrorCode::OutOfRange
                    } else {
                        UserErrorCode::Invalid
                    },
                }
            }))
            .collect(),
    ))
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| AppError::Internal(format!("serialising a definition: {e}")))
}

/// Creates a DRAFT with the next version number.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create_draft(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: DefinitionFields,
) -> AppResult<lead_definition::Model> {
    viewer.require(Action::DraftDefinition)?;
    check(&fields)?;
    let txn = begin_write(db).await?;
    // Over every row, discarded drafts included: a version number names one
    // text for good and is never reused.
    let latest: Option<i32> = lead_definition::Entity::find()
        .select_only()
        .column_as(lead_definition::Column::Version.max(), "v")
        .into_tuple::<Option<i32>>()
        .one(&txn)
        .await?
        .flatten();
    let at = now();
    let version = latest.unwrap_or(0) + 1;
    let model = lead_definition::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(version),
        status: Set(DefinitionStatus::Draft),
        description: Set(fields.description),
        fit_criteria: Set(json(&fields.fit_criteria)?),
        engagement_rules: Set(json(&fields.engagement_rules)?),
        half_life_days: Set(fields.half_life_days),
        mql_fit_min: Set(fields.mql_fit_min),
        mql_engagement_min: Set(fields.mql_engagement_min),
        first_contact_hours: Set(fields.first_contact_hours),
        disposition_hours: Set(fields.disposition_hours),
        review_by: Set(fields.review_by),
        created_by_id: Set(Some(viewer.user_id)),
        approved_at: Set(None),
        superseded_at: Set(None),
        revision: Set(1),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await
    // On PostgreSQL a draft created at the same moment can read the same
    // latest version; the unique index decides, and the loser wrote nothing.
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(format!(
            "another draft took version {version} at the same moment; nothing was written, retry"
        )),
        _ => AppError::Db(e),
    })?;
    log(&txn, viewer, model.id, &["version", "status"], at).await?;
    txn.commit().await?;
    Ok(model)
}

/// Replaces a draft's content. Signatures given to the old text are removed:
/// both teams sign what is finally approved.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update_draft(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    fields: DefinitionFields,
) -> AppResult<lead_definition::Model> {
    viewer.require(Action::DraftDefinition)?;
    check(&fields)?;
    let txn = begin_write(db).await?;
    let current = find_locked(&txn, id).await?;
    if current.status != DefinitionStatus::Draft {
        return Err(AppError::invalid(
            "id",
            UserErrorCode::Invalid,
            format!(
                "version {} is {}; only drafts can be edited (create a new draft instead)",
                current.version,
                current.status.as_str()
            ),
        ));
    }
    lead_definition_signature::Entity::delete_many()
        .filter(lead_definition_signature::Column::DefinitionId.eq(id))
        .exec(&txn)
        .await?;
    let at = now();
    let revision = current.revision + 1;
    let mut am = current.into_active_model();
    am.description = Set(fields.description);
    am.fit_criteria = Set(json(&fields.fit_criteria)?);
    am.engagement_rules = Set(json(&fields.engagement_rules)?);
    am.half_life_days = Set(fields.half_life_days);
    am.mql_fit_min = Set(fields.mql_fit_min);
    am.mql_engagement_min = Set(fields.mql_engagement_min);
    am.first_contact_hours = Set(fields.first_contact_hours);
    am.disposition_hours = Set(fields.disposition_hours);
    am.review_by = Set(fields.review_by);
    am.revision = Set(revision);
    am.updated_at = Set(at);
    let model = am.update(&txn).await?;
    log(&txn, viewer, id, &["content"], at).await?;
    txn.commit().await?;
    Ok(model)
}

/// The outcome of a signature.
pub struct Signed {
    /// The definition as it now is.
    pub definition: lead_definition::Model,
    /// Whether this signature approved it.
    pub approved: bool,
    /// What the approval's rescoring did.
    pub rescored: Rescored,
}

/// Signs a draft for the viewer's team (MARKETING or SALES; an ADMIN names
/// the team it signs for). The second team's signature approves it.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn sign(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    as_team: Option<Team>,
) -> AppResult<Signed> {
    viewer.require(Action::SignDefinition)?;
    let team = match (viewer.role, as_team) {
        (Role::Admin, Some(team @ (Team::Marketing | Team::Sales))) => team,
        (Role::Admin, _) => {
            return Err(AppError::invalid(
                "asTeam",
                UserErrorCode::Required,
                "an ADMIN signs for one team at a time: pass asTeam MARKETING or SALES",
            ));
        }
        (Role::Marketing, None | Some(Team::Marketing)) => Team::Marketing,
        (Role::Sales, None | Some(Team::Sales)) => Team::Sales,
        (role, Some(team)) => {
            return Err(AppError::invalid(
                "asTeam",
                UserErrorCode::Invalid,
                format!(
                    "role {} signs for its own team, not for {}",
                    role.as_str(),
                    team.as_str()
                ),
            ));
        }
        (role, None) => {
            return Err(AppError::Forbidden(format!(
                "role {} may not sign lead definitions",
                role.as_str()
            )));
        }
    };
    let txn = begin_write(db).await?;
    let current = find_locked(&txn, id).await?;
    if current.status != DefinitionStatus::Draft {
        return Err(AppError::invalid(
            "id",
            UserErrorCode::Invalid,
            format!(
                "version {} is already {}; only drafts are signed",
                current.version,
                current.status.as_str()
            ),
        ));
    }
    let existing = lead_definition_signature::Entity::find()
        .filter(lead_definition_signature::Column::DefinitionId.eq(id))
        .all(&txn)
        .await?;
    if existing.iter().any(|s| s.team == team) {
        return Err(AppError::invalid(
            "id",
            UserErrorCode::Taken,
            format!(
                "{} has already signed version {}",
                team.as_str(),
                current.version
            ),
        ));
    }
    let at = now();
    lead_definition_signature::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(at),
        updated_at: Set(at),
        definition_id: Set(id),
        user_id: Set(viewer.user_id),
        team: Set(team),
        signed_at: Set(at),
    }
    .insert(&txn)
    .await?;
    log(&txn, viewer, id, &["signatures"], at).await?;

    if existing.is_empty() {
        // A signature is a write to the draft: a concurrent discard that read
        // the unsigned draft must see a newer revision. (The approval below
        // is that write when this is the second signature.)
        let definition = bump(&txn, current, at).await?;
        txn.commit().await?;
        return Ok(Signed {
            definition,
            approved: false,
            rescored: Rescored::default(),
        });
    }

    // Both teams have signed: approve, supersede the previous version, rescore.
    let previous = lead_definition::Entity::find()
        .filter(lead_definition::Column::Status.eq(DefinitionStatus::Approved))
        .all(&txn)
        .await?;
    for p in previous {
        let pid = p.id;
        let revision = p.revision + 1;
        let mut am = p.into_active_model();
        am.status = Set(DefinitionStatus::Superseded);
        am.superseded_at = Set(Some(at));
        am.revision = Set(revision);
        am.updated_at = Set(at);
        am.update(&txn).await?;
        log(&txn, viewer, pid, &["status", "supersededAt"], at).await?;
    }
    let revision = current.revision + 1;
    let mut am = current.into_active_model();
    am.status = Set(DefinitionStatus::Approved);
    am.approved_at = Set(Some(at));
    am.revision = Set(revision);
    am.updated_at = Set(at);
    let approved = am.update(&txn).await?;
    log(&txn, viewer, id, &["status", "approvedAt"], at).await?;
    let definition = Definition::parse(approved.clone())?;
    let rescored =
        scoring::rescore(&txn, &definition, Scope::AllOpen, Some(viewer.user_id), at).await?;
    events::emit(
        &txn,
        vec![NewEvent {
            kind: EventKind::DefinitionApproved,
            subject_id: approved.id,
            owner_id: None,
            at,
            data: Some(serde_json::json!({
                "version": approved.version,
                "rescoredLeads": rescored.scored,
                "newMqls": rescored.became_mql,
            })),
        }],
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        definition.version = approved.version,
        leads.scored = rescored.scored,
        leads.changed = rescored.changed,
        leads.became_mql = rescored.became_mql,
        "lead definition approved"
    );
    Ok(Signed {
        definition: approved,
        approved: true,
        rescored,
    })
}

/// Discards a draft: it disappears from `leadDefinition(version:)`,
/// `leadDefinitions` and `compareLeadDefinitions`, and reaches sync jobs as a
/// tombstone. Its signatures are removed (they were given to a text that no
/// longer exists); its row stays, soft-deleted, so its version number is not
/// reused. Approved and superseded versions are history and cannot be
/// discarded. A stale `expected_revision` is a CONFLICT and writes nothing.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn discard_draft(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_revision: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::DraftDefinition)?;
    let txn = begin_write(db).await?;
    let current = find_locked(&txn, id).await?;
    if let Some(expected) = expected_revision
        && expected != current.revision
    {
        return Err(AppError::Conflict(format!(
            "the lead definition is at revision {}, not {expected}: reload it and retry",
            current.revision
        )));
    }
    if current.status != DefinitionStatus::Draft {
        return Err(AppError::invalid(
            "id",
            UserErrorCode::Invalid,
            format!(
                "version {} is {}; only drafts can be discarded (approved and superseded \
                 versions are history)",
                current.version,
                current.status.as_str()
            ),
        ));
    }
    lead_definition_signature::Entity::delete_many()
        .filter(lead_definition_signature::Column::DefinitionId.eq(id))
        .exec(&txn)
        .await?;
    let at = now();
    let version = current.version;
    let revision = current.revision + 1;
    let mut am = current.into_active_model();
    am.deleted_at = Set(Some(at));
    am.revision = Set(revision);
    am.updated_at = Set(at);
    am.update(&txn).await?;
    records::log(
        &txn,
        Some(viewer.user_id),
        ObjectType::LeadDefinition,
        id,
        ChangeOperation::Delete,
        vec![],
        at,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        definition.version = version,
        viewer = %viewer,
        "lead definition draft discarded"
    );
    Ok(id)
}

/// Bumps a definition's revision and `updated_at` (a write that changes no
/// column of its own, e.g. a signature).
async fn bump(
    txn: &impl ConnectionTrait,
    current: lead_definition::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<lead_definition::Model> {
    let revision = current.revision + 1;
    let mut am = current.into_active_model();
    am.revision = Set(revision);
    am.updated_at = Set(at);
    Ok(am.update(txn).await?)
}

/// Definitions that have not been discarded.
fn live() -> Select<lead_definition::Entity> {
    lead_definition::Entity::find().filter(lead_definition::Column::DeletedAt.is_null())
}

async fn find_locked(txn: &impl ConnectionTrait, id: Uuid) -> AppResult<lead_definition::Model> {
    live()
        .filter(lead_definition::Column::Id.eq(id))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no lead definition with id {id}")))
}

async fn log(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    fields: &[&str],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    records::log(
        txn,
        Some(viewer.user_id),
        ObjectType::LeadDefinition,
        id,
        ChangeOperation::Upsert,
        fields.iter().map(|f| (*f).to_owned()).collect(),
        at,
    )
    .await
}

/// A definition by version, or the approved one when `version` is None.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn find(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    version: Option<i32>,
) -> AppResult<Option<lead_definition::Model>> {
    viewer.require(Action::ReadRecords)?;
    let query = live();
    let query = match version {
        Some(v) => query.filter(lead_definition::Column::Version.eq(v)),
        None => query.filter(lead_definition::Column::Status.eq(DefinitionStatus::Approved)),
    };
    Ok(query.one(db).await?)
}

/// A definition by id (for `Lead.qualifiedUnder`).
pub async fn by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<Option<lead_definition::Model>> {
    Ok(live()
        .filter(lead_definition::Column::Id.eq(id))
        .one(db)
        .await?)
}

/// Every definition but discarded drafts (the list's total count).
pub fn select() -> Select<lead_definition::Entity> {
    live()
}

/// One page of definitions, newest first.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    page: &PageRequest,
) -> AppResult<Page<lead_definition::Model>> {
    viewer.require(Action::ReadRecords)?;
    let key_of: KeyOf<lead_definition::Entity> = |m| (SortValue::Int(m.version.into()), m.id);
    let key = SortKey {
        name: "VERSION",
        column: lead_definition::Column::Version,
        id_column: lead_definition::Column::Id,
        descending: true,
        key_of,
    };
    paginate(db, select(), &key, page).await
}

/// The signatures of some definitions, oldest first.
pub async fn signatures(
    db: &impl ConnectionTrait,
    definition_ids: &[Uuid],
) -> AppResult<Vec<lead_definition_signature::Model>> {
    Ok(lead_definition_signature::Entity::find()
        .filter(
            lead_definition_signature::Column::DefinitionId.is_in(definition_ids.iter().copied()),
        )
        .order_by_asc(lead_definition_signature::Column::SignedAt)
        .all(db)
        .await?)
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Dotted path, e.g. `fitCriteria.industries.Software` or `mqlFitMin`.
    pub field: String,
    /// The value in the older version (JSON), None when absent.
    pub before: Option<Value>,
    /// The value in the newer version (JSON), None when absent.
    pub after: Option<Value>,
}

/// What changed from version `from` to version `to`.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn compare(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    from: i32,
    to: i32,
) -> AppResult<Vec<Difference>> {
    let load = |v: i32| async move {
        find(db, viewer, Some(v))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no lead definition version {v}")))
    };
    let (a, b) = (load(from).await?, load(to).await?);
    Ok(diff(&flatten(&a), &flatten(&b)))
}

fn flatten(m: &lead_definition::Model) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    walk("fitCriteria", &m.fit_criteria, &mut out);
    walk("engagementRules", &m.engagement_rules, &mut out);
    for (k, v) in [
        ("description", Value::from(m.description.clone())),
        ("halfLifeDays", Value::from(m.half_life_days)),
        ("mqlFitMin", Value::from(m.mql_fit_min)),
        ("mqlEngagementMin", Value::from(m.mql_engagement_min)),
        ("firstContactHours", Value::from(m.first_contact_hours)),
        ("dispositionHours", Value::from(m.disposition_hours)),
        ("reviewBy", Value::from(m.review_by.to_string())),
    ] {
        walk(k, &v, &mut out);
    }
    out
}

fn diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> Vec<Difference> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Difference {
            field: k.clone(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_lists_added_removed_and_changed_paths() {
        let a: BTreeMap<String, Value> = [
            ("mqlFitMin".to_owned(), Value::from(40)),
            (
                "fitCriteria.industries.Software".to_owned(),
                Value::from(20),
            ),
            ("fitCriteria.countries.US".to_owned(), Value::from(10)),
        ]
        .into();
        let b: BTreeMap<String, Value> = [
            ("mqlFitMin".to_owned(), Value::from(50)),
            (
                "fitCriteria.industries.Software".to_owned(),
                Value::from(20),
            ),
            ("fitCriteria.industries.Retail".to_owned(), Value::from(5)),
        ]
        .into();
        let d = diff(&a, &b);
        let fields: Vec<_> = d.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "fitCriteria.countries.US",
                "fitCriteria.industries.Retail",
                "mqlFitMin"
            ]
        );
        assert_eq!(d[0].after, None);
        assert_eq!(d[1].before, None);
        assert_eq!(d[2].before, Some(Value::from(40)));
    }
}
