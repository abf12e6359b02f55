//! Users in the API.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{enums::ObjectType, user};

use super::{
    common::{
        DateTimeRange, OrderDirection, UserError, connection, db, decode_arg_id, global_id,
        page_request, payload, personal, viewer,
    },
    enums::{Role, Team},
};
use crate::{
    auth::{Action, PolicyGuard},
    services::users::{self as svc, UserFields, UserFilter as SvcFilter, UserSort},
};

/// A person or machine client that signs in with a token.
pub struct User(pub user::Model);

/// A person or machine client that signs in with a token.
/// A person or machine client that signs in with a token.
#[Object]
impl User {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::User, self.0.id)
    }
    /// Display name. Personal data: FORBIDDEN (and null) for REPORTING.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, Some(self.0.name.as_str()))
    }
    /// Email address, unique among users. Personal data: FORBIDDEN (and
    /// null) for REPORTING.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        personal(ctx, Some(self.0.email.as_str()))
    }
    /// What the user may do.
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    /// The team the user belongs to.
    async fn team(&self) -> Team {
        self.0.team.into()
    }
    /// Whether the user may sign in; deactivating revokes their tokens.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Ids of this user in external systems (HubSpot owners, Salesforce
    /// users), ordered by system and id.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<super::external_id::ExternalId>> {
        super::external_id::of(ctx, ObjectType::User, self.0.id).await
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the user was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl User {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        ctx: &Context<'_>,
        selection: &async_graphql::Lookahead<'_>,
        models: &[user::Model],
    ) -> Result<()> {
        super::external_id::prefetch(
            ctx,
            selection,
            ObjectType::User,
            models.iter().map(|m| m.id),
        )
        .await?;
        Ok(())
    }
}

connection!(UserConnection, UserEdge, User, user::Entity, "users");

/// Which users to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct UserFilter {
    /// Case-insensitive match on name or email; at most 200 characters.
    /// FORBIDDEN for REPORTING, which may not read personal data.
    pub search: Option<String>,
    /// With one of these roles.
    pub roles: Option<Vec<Role>>,
    /// In one of these teams.
    pub teams: Option<Vec<Team>>,
    /// Only active users (true) or only inactive ones (false).
    pub active: Option<bool>,
    /// Created in this range.
    pub created_at: Option<DateTimeRange>,
    /// Last updated in this range.
    pub updated_at: Option<DateTimeRange>,
    /// Only users with at least one id in this external system.
    pub has_external_id_in: Option<super::enums::ExternalSystem>,
    /// Only users with no id in this external system.
    pub lacks_external_id_in: Option<super::enums::ExternalSystem>,
}

/// Fields users can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum UserOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last update.
    UpdatedAt,
    /// Name. Needs access to personal data: FORBIDDEN for REPORTING.
    Name,
}

/// Order of a user list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct UserOrder {
    /// The field to order by.
    pub field: UserOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Lists users (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<UserFilter>,
    order_by: Option<UserOrder>,
) -> Result<UserConnection> {
    let viewer = viewer(ctx)?;
    let f = filter.unwrap_or_default();
    let filter = SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
        roles: f
            .roles
            .map(|roles| roles.into_iter().map(Into::into).collect()),
        teams: f
            .teams
            .map(|teams| teams.into_iter().map(Into::into).collect()),
        active: f.active,
        created_at: f.created_at.map(Into::into),
        updated_at: f.updated_at.map(Into::into),
        external_ids: super::external_id::presence(f.has_external_id_in, f.lacks_external_id_in),
    };
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        UserOrderField::CreatedAt => UserSort::CreatedAt,
        UserOrderField::UpdatedAt => UserSort::UpdatedAt,
        UserOrderField::Name => UserSort::Name,
    };
    let page = page_request(first, after, last, before);
    let result = svc::list(
        db(ctx)?,
        viewer,
        &filter,
        sort,
        order.direction == OrderDirection::Desc,
        &page,
    )
    .await?;
    Ok(UserConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// User queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Users, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
        order_by: Option<UserOrder>,
    ) -> Result<UserConnection> {
        list(ctx, first, after, last, before, filter, order_by).await
    }

    /// The caller's own user; NOT_FOUND when it was deleted meanwhile.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn viewer(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(svc::current(db(ctx)?, viewer(ctx)?).await?))
    }
}

/// Input of `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Display name (at most 200 characters).
    pub name: String,
    /// Email address; normalised to lower case, unique among users.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// The team the user belongs to.
    pub team: Team,
    /// Whether the user may sign in.
    #[graphql(default = true)]
    pub active: bool,
}

/// Input of `updateUser`: only the fields given change.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the user is at this version.
    pub expected_version: Option<i32>,
    /// Display name (at most 200 characters).
    pub name: Option<String>,
    /// Email address; normalised to lower case, unique among users.
    pub email: Option<String>,
    /// What the user may do; changing it revokes the user's tokens. You
    /// cannot change your own role.
    pub role: Option<Role>,
    /// The team the user belongs to.
    pub team: Option<Team>,
    /// Whether the user may sign in; false revokes the user's tokens. You
    /// cannot deactivate yourself.
    pub active: Option<bool>,
}

/// Input of `deleteUser`.
#[derive(InputObject)]
pub struct DeleteUserInput {
    /// The user to delete; not yourself.
    pub id: ID,
    /// Refuse with CONFLICT unless the user is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createUser` and `updateUser`.
#[derive(SimpleObject)]
pub struct UserPayload {
    /// The user as it now is; null when nothing was written.
    pub user: Option<User>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteUser`.
#[derive(SimpleObject)]
pub struct DeleteUserPayload {
    /// Id of the deleted user; null when nothing was deleted.
    pub deleted_user_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// User mutations.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user. Roles: ADMIN.
    #[graphql(guard = "PolicyGuard(Action::ManageUsers)")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let fields = UserFields {
            name: Some(input.name),
            email: Some(input.email),
            role: Some(input.role.into()),
            team: Some(input.team.into()),
            active: Some(input.active),
        };
        let result = svc::create(db(ctx)?, viewer(ctx)?, fields).await;
        let (user, user_errors) = payload(result, User)?;
        Ok(UserPayload { user, user_errors })
    }

    /// Changes a user. Roles: ADMIN.
    #[graphql(guard = "PolicyGuard(Action::ManageUsers)")]
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> Result<UserPayload> {
        let id = decode_arg_id(&input.id, ObjectType::User, "input.id")?;
        let fields = UserFields {
            name: input.name,
            email: input.email,
            role: input.role.map(Into::into),
            team: input.team.map(Into::into),
            active: input.active,
        };
        let result = svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await;
        let (user, user_errors) = payload(result, User)?;
        Ok(UserPayload { user, user_errors })
    }

    /// Deactivates and deletes a user, revoking their tokens. Roles: ADMIN.
    /// It is a soft delete, so sync jobs see a tombstone.
    #[graphql(guard = "PolicyGuard(Action::ManageUsers)")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> Result<DeleteUserPayload> {
        let id = decode_arg_id(&input.id, ObjectType::User, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::User, id))?;
        Ok(DeleteUserPayload {
            deleted_user_id: deleted,
            user_errors,
        })
    }
}
