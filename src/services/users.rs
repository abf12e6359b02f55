//! Users: the people and machine clients tokens are issued to.

use entity::{
    enums::{Role, Team},
    user,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use super::{
    filters::{TimeRange, in_range, text_search},
    pagination::{KeyOf, Page, PageRequest, SortKey, SortValue, paginate},
    records::{self, Record},
};
use crate::{
    auth::{
        Action, Viewer,
        jwt::{ClaimedRole, Claims, Principal, UserRef},
        policy,
    },
    db::begin_write,
    domain::validate::Errors,
    error::{AppError, AppResult, UserErrorCode},
};

/// Maps validated token claims to a [`Viewer`]: the `sub` must name an
/// active user whose role is the token's role, so demoting or deactivating
/// a user revokes their tokens at once.
pub async fn viewer_for_claims(db: &DatabaseConnection, claims: &Claims) -> AppResult<Viewer> {
    viewer_for(db, &Principal::from(claims.clone())).await
}

/// Maps a verified token, Handoff's own or an identity provider's, to a
/// [`Viewer`]: it must name an active user, whose role is the role the
/// token claims or maps to (when it has one), so demoting or deactivating a
/// user revokes their tokens at once.
#[tracing::instrument(skip_all)]
pub async fn viewer_for(db: &DatabaseConnection, principal: &Principal) -> AppResult<Viewer> {
    let unknown = || {
        AppError::Unauthenticated(match &principal.user {
            UserRef::Subject(_) => "the token's subject is not an active user".into(),
            UserRef::Id { claim, .. } | UserRef::Email { claim, .. } => {
                format!("the token's `{claim}` claim names no active Handoff user")
            }
        })
    };
    let by = match &principal.user {
        UserRef::Subject(sub) => user::Column::Id.eq(Uuid::parse_str(sub).map_err(|_| unknown())?),
        UserRef::Id { id, .. } => user::Column::Id.eq(*id),
        UserRef::Email { email, .. } => user::Column::Email.eq(email.trim().to_lowercase()),
    };
    let user = user::Entity::live()
        .filter(by)
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?
        .ok_or_else(unknown)?;
    match &principal.role {
        ClaimedRole::Named(role) if user.role.as_str() != role => {
            return Err(AppError::Unauthenticated(format!(
                "the token's role {role} is not the user's role; mint a new token"
            )));
        }
        ClaimedRole::Mapped { claim, role } if user.role != *role => {
            return Err(AppError::Unauthenticated(format!(
                "the token's `{claim}` claim maps to role {role}, which is not the user's role in Handoff; \
                 an administrator must change one of them"
            )));
        }
        _ => {}
    }
    Ok(Viewer {
        user_id: user.id,
        role: user.role,
        team: user.team,
    })
}

/// Finds an active user with this role (the CLI mints tokens for them).
pub async fn first_with_role(
    db: &DatabaseConnection,
    role: Role,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::live()
        .filter(user::Column::Role.eq(role))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::CreatedAt)
        .order_by_asc(user::Column::Id)
        .one(db)
        .await?)
}

/// Finds a live user by email address, compared in lower case (the CLI
/// mints tokens for them).
pub async fn find_by_email(db: &DatabaseConnection, email: &str) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::live()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The ids, names and emails of the active users (the CSV import matches
/// owners exported by name or email; a users table is small).
pub async fn active_names(db: &DatabaseConnection) -> AppResult<Vec<(Uuid, String, String)>> {
    Ok(user::Entity::live()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Name)
        .column(user::Column::Email)
        .filter(user::Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await?)
}

/// Why `user` may not own records, or `None` when they may: an owner is an
/// active user of a role that owns records ([`policy::may_own_records`]).
pub fn owner_refusal(user: &user::Model) -> Option<String> {
    if !user.active {
        Some(format!(
            "user {} is deactivated; only active users own records",
            user.id
        ))
    } else if !policy::may_own_records(user.role) {
        Some(format!(
            "user {} has role {}, which does not own records (owners are {} users)",
            user.id,
            user.role.as_str(),
            policy::OWNER_ROLES.map(|r| r.as_str()).join(", ")
        ))
    } else {
        None
    }
}

/// Checks the owner an input names in `field`: NOT_FOUND when no user has
/// the id, INVALID when that user may not own records ([`owner_refusal`]).
pub async fn check_owner(
    db: &impl ConnectionTrait,
    field: &str,
    id: Uuid,
    errors: &mut Errors,
) -> AppResult<()> {
    match records::find::<user::Entity>(db, id).await? {
        None => errors.add(
            field,
            UserErrorCode::NotFound,
            format!("`{field}` names no user"),
        ),
        Some(user) => {
            if let Some(why) = owner_refusal(&user) {
                errors.add(field, UserErrorCode::Invalid, format!("`{field}`: {why}"));
            }
        }
    }
    Ok(())
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive match on name or email; needs
    /// [`Action::ReadPersonalData`].
    pub search: Option<String>,
    /// With one of these roles.
    pub roles: Option<Vec<Role>>,
    /// In one of these teams.
    pub teams: Option<Vec<Team>>,
    /// Active users only, or inactive only.
    pub active: Option<bool>,
    /// Created in this range.
    pub created_at: Option<TimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<TimeRange>,
    /// With, or without, an id in an external system.
    pub external_ids: super::external_ids::Presence,
}

/// How to order users.
#[derive(Debug, Clone, Copy, Default)]
pub enum UserSort {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name; needs [`Action::ReadPersonalData`] (cursors carry the name).
    Name,
}

fn sort_key(sort: UserSort, descending: bool) -> SortKey<user::Entity> {
    use user::Column as C;
    let (name, column, key_of): (_, _, KeyOf<user::Entity>) = match sort {
        UserSort::CreatedAt => ("CREATED_AT", C::CreatedAt, |m| {
            (SortValue::Time(m.created_at), m.id)
        }),
        UserSort::UpdatedAt => ("UPDATED_AT", C::UpdatedAt, |m| {
            (SortValue::Time(m.updated_at), m.id)
        }),
        UserSort::Name => ("NAME", C::Name, |m| (SortValue::Text(m.name.clone()), m.id)),
    };
    SortKey {
        name,
        column,
        id_column: C::Id,
        descending,
        key_of,
    }
}

/// The users matching a filter, unpaged (for `totalCount`).
pub fn select(filter: &UserFilter) -> Select<user::Entity> {
    use user::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = filter
        .search
        .as_deref()
        .and_then(|s| text_search(s, &[C::Name, C::Email]))
    {
        cond = cond.add(search);
    }
    if let Some(roles) = &filter.roles {
        cond = cond.add(C::Role.is_in(roles.iter().copied()));
    }
    if let Some(teams) = &filter.teams {
        cond = cond.add(C::Team.is_in(teams.iter().copied()));
    }
    if let Some(active) = filter.active {
        cond = cond.add(C::Active.eq(active));
    }
    cond = in_range(cond, C::CreatedAt, filter.created_at.as_ref());
    cond = in_range(cond, C::UpdatedAt, filter.updated_at.as_ref());
    cond = filter.external_ids.apply::<user::Entity>(cond);
    user::Entity::live().filter(cond)
}

/// One page of users. Searching by name or email and ordering by name need
/// [`Action::ReadPersonalData`], or REPORTING could probe personal data
/// through the filter or the order.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &UserFilter,
    sort: UserSort,
    descending: bool,
    page: &PageRequest,
) -> AppResult<Page<user::Model>> {
    viewer.require(Action::ReadRecords)?;
    if filter.search.is_some() || matches!(sort, UserSort::Name) {
        viewer.require(Action::ReadPersonalData)?;
    }
    paginate(db, select(filter), &sort_key(sort, descending), page).await
}

/// The viewer's own user, or NOT_FOUND when it was deleted meanwhile.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn current(db: &DatabaseConnection, viewer: &Viewer) -> AppResult<user::Model> {
    viewer.require(Action::ReadRecords)?;
    records::find::<user::Entity>(db, viewer.user_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user with id {}", viewer.user_id)))
}

/// The fields of a user a caller may set.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    /// Display name.
    pub name: Option<String>,
    /// Email address, unique among users.
    pub email: Option<String>,
    /// What the user may do.
    pub role: Option<Role>,
    /// Team the user belongs to.
    pub team: Option<Team>,
    /// Whether the user may sign in.
    pub active: Option<bool>,
}

/// Validates and normalises the fields, checking uniqueness. `current` is
/// the user being edited (`None` when creating); the viewer may not
/// deactivate themself or change their own role, so that the last admin
/// cannot lock the deployment out.
async fn validate(
    db: &impl ConnectionTrait,
    acting: Option<Uuid>,
    fields: UserFields,
    current: Option<&user::Model>,
) -> AppResult<UserFields> {
    let creating = current.is_none();
    let mut e = Errors::new();
    let mut out = UserFields::default();
    match fields.name.as_deref() {
        Some(name) => out.name = Some(e.required_text("name", name, 200)),
        None if creating => e.add("name", UserErrorCode::Required, "`name` is required"),
        None => {}
    }
    match fields.email.as_deref() {
        Some(email) => out.email = Some(e.email("email", email)),
        None if creating => e.add("email", UserErrorCode::Required, "`email` is required"),
        None => {}
    }
    out.role = fields.role;
    if creating && out.role.is_none() {
        e.add("role", UserErrorCode::Required, "`role` is required");
    }
    out.team = fields.team;
    if creating && out.team.is_none() {
        e.add("team", UserErrorCode::Required, "`team` is required");
    }
    out.active = fields.active;
    if let Some(current) = current.filter(|c| Some(c.id) == acting) {
        if out.active == Some(false) {
            e.add(
                "active",
                UserErrorCode::Invalid,
                "you cannot deactivate yourself",
            );
        }
        if out.role.is_some_and(|role| role != current.role) {
            e.add(
                "role",
                UserErrorCode::Invalid,
                "you cannot change your own role",
            );
        }
    }
    if let Some(email) = &out.email {
        // Deleted users keep their address: the unique index covers them too.
        let mut taken = user::Entity::find().filter(user::Column::Email.eq(email.clone()));
        if let Some(current) = current {
            taken = taken.filter(user::Column::Id.ne(current.id));
        }
        if taken.one(db).await?.is_some() {
            e.add(
                "email",
                UserErrorCode::Taken,
                "another user already has this email",
            );
        }
    }
    e.finish()?;
    Ok(out)
}

fn apply(am: &mut user::ActiveModel, f: UserFields) {
    if let Some(v) = f.name {
        am.name.set_if_not_equals(v);
    }
    if let Some(v) = f.email {
        am.email.set_if_not_equals(v);
    }
    if let Some(v) = f.role {
        am.role.set_if_not_equals(v);
    }
    if let Some(v) = f.team {
        am.team.set_if_not_equals(v);
    }
    if let Some(v) = f.active {
        am.active.set_if_not_equals(v);
    }
}

/// Creates a user (active unless told otherwise).
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    fields: UserFields,
) -> AppResult<user::Model> {
    viewer.require(Action::ManageUsers)?;
    let txn = begin_write(db).await?;
    let fields = validate(&txn, Some(viewer.user_id), fields, None).await?;
    let model = insert_new(&txn, Some(viewer.user_id), fields).await?;
    txn.commit().await?;
    Ok(model)
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The user was created.
    Created,
    /// A user with that email already existed; nothing was written.
    Existed,
}

/// Creates a user from the command line (`handoff user create`), the way
/// into an empty database: no token is needed and the change log names no
/// actor. Run again with the same email, it leaves the existing user as it
/// is, whatever the other fields say, and answers [`Ensured::Existed`]. The
/// fields are validated as `createUser` validates them.
#[tracing::instrument(skip_all)]
pub async fn ensure(
    db: &DatabaseConnection,
    fields: UserFields,
) -> AppResult<(user::Model, Ensured)> {
    let txn = begin_write(db).await?;
    let fields = validate_unless_taken(&txn, fields).await?;
    let fields = match fields {
        Ok(fields) => fields,
        Err(existing) => return Ok((existing, Ensured::Existed)),
    };
    let model = insert_new(&txn, None, fields).await?;
    txn.commit().await?;
    Ok((model, Ensured::Created))
}

/// Inserts a user (active) with validated fields, by `actor`.
async fn insert_new(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    fields: UserFields,
) -> AppResult<user::Model> {
    let mut am = user::ActiveModel {
        active: Set(true),
        deleted_at: Set(None),
        ..Default::default()
    };
    apply(&mut am, fields);
    records::insert_by::<user::Entity>(txn, actor, am)
        .await
        .map_err(|e| e.on_unique("email", "another user already has this email"))
}

/// The validated fields of a new user, or the user (live or deleted) who
/// already has the email.
async fn validate_unless_taken(
    db: &impl ConnectionTrait,
    fields: UserFields,
) -> AppResult<Result<UserFields, user::Model>> {
    let email = fields.email.as_deref().map(|e| e.trim().to_lowercase());
    if let Some(email) = email {
        let existing = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(db)
            .await?;
        if let Some(existing) = existing {
            return Ok(Err(existing));
        }
    }
    Ok(Ok(validate(db, None, fields, None).await?))
}

/// Edits a user. A stale `expected_version` is a CONFLICT and writes
/// nothing; a changed role or deactivation revokes the user's tokens.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
    fields: UserFields,
) -> AppResult<user::Model> {
    viewer.require(Action::ManageUsers)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<user::Entity>(&txn, id).await?;
    records::check_version("user", current.version, expected_version)?;
    let fields = validate(&txn, Some(viewer.user_id), fields, Some(&current)).await?;
    let (model, _) = records::update::<user::Entity>(&txn, Some(viewer.user_id), current, |am| {
        apply(am, fields)
    })
    .await
    .map_err(|e| e.on_unique("email", "another user already has this email"))?;
    txn.commit().await?;
    Ok(model)
}

/// Deactivates and soft-deletes a user, revoking their tokens. The records
/// they own keep pointing at them. The viewer cannot delete themself.
#[tracing::instrument(skip_all, fields(viewer = %viewer, id = %id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Uuid> {
    viewer.require(Action::ManageUsers)?;
    let txn = begin_write(db).await?;
    let current = records::lock::<user::Entity>(&txn, id).await?;
    records::check_version("user", current.version, expected_version)?;
    if id == viewer.user_id {
        return Err(AppError::invalid(
            "id",
            UserErrorCode::Invalid,
            "you cannot delete yourself",
        ));
    }
    records::soft_delete_with::<user::Entity>(&txn, Some(viewer.user_id), current, |am| {
        am.active = Set(false);
    })
    .await?;
    txn.commit().await?;
    Ok(id)
}
