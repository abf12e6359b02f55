//! Competitors in the API.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{competitor, enums::ObjectType};

use super::common::{
    OrderDirection, UserError, connection, db, decode_arg_id, global_id, page_request, payload,
    viewer,
};
use crate::{
    auth::{Action, PolicyGuard},
    services::competitors::{
        self as svc, CompetitorFields, CompetitorFilter as SvcFilter, CompetitorSort,
    },
};

/// A rival vendor, named in win/loss feedback.
pub struct Competitor(pub competitor::Model);

/// A rival vendor, named in win/loss feedback.
/// A rival vendor, named in win/loss feedback.
#[Object]
impl Competitor {
    /// Global id.
    pub async fn id(&self) -> ID {
        global_id(ObjectType::Competitor, self.0.id)
    }
    /// Name, unique regardless of case.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Website address (http:// or https://).
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Version, +1 on every write; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the competitor was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the competitor was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Competitor {
    /// Loads the relations `selection` asks for, for a whole page at once.
    pub(crate) async fn prefetch(
        _ctx: &Context<'_>,
        _selection: &async_graphql::Lookahead<'_>,
        _models: &[competitor::Model],
    ) -> Result<()> {
        Ok(())
    }
}

connection!(
    CompetitorConnection,
    CompetitorEdge,
    Competitor,
    competitor::Entity,
    "competitors"
);

/// Which competitors to list. All given conditions must hold.
#[derive(InputObject, Default, Clone)]
pub struct CompetitorFilter {
    /// Case-insensitive match on name; at most 200 characters.
    pub search: Option<String>,
}

/// Fields competitors can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum CompetitorOrderField {
    /// Name.
    #[default]
    Name,
    /// Creation time.
    CreatedAt,
}

/// Order of a competitor list; ties are broken by id.
#[derive(InputObject, Default, Clone, Copy)]
pub struct CompetitorOrder {
    /// The field to order by.
    pub field: CompetitorOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Lists competitors (shared by the root field and nested lists).
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<CompetitorFilter>,
    order_by: Option<CompetitorOrder>,
) -> Result<CompetitorConnection> {
    let viewer = viewer(ctx)?;
    let f = filter.unwrap_or_default();
    let filter = SvcFilter {
        search: crate::services::filters::search_term(f.search)?,
    };
    let order = order_by.unwrap_or_default();
    let sort = match order.field {
        CompetitorOrderField::Name => CompetitorSort::Name,
        CompetitorOrderField::CreatedAt => CompetitorSort::CreatedAt,
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
    Ok(CompetitorConnection {
        page: result,
        total: svc::select(&filter),
    })
}

/// Competitor queries.
#[derive(Default)]
pub struct CompetitorQuery;

#[Object]
impl CompetitorQuery {
    /// Competitors, filtered and ordered, 1-100 per page (20 by default).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn competitors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<CompetitorFilter>,
        order_by: Option<CompetitorOrder>,
    ) -> Result<CompetitorConnection> {
        list(ctx, first, after, last, before, filter, order_by).await
    }
}

/// Input of `createCompetitor`.
#[derive(InputObject)]
pub struct CreateCompetitorInput {
    /// Name (at most 200 characters), unique regardless of case.
    pub name: String,
    /// Website address: http:// or https://, at most 500 characters.
    pub website: Option<String>,
}

/// Input of `updateCompetitor`: only the fields given change; `null` clears.
#[derive(InputObject)]
pub struct UpdateCompetitorInput {
    /// The competitor to change.
    pub id: ID,
    /// Refuse the change with CONFLICT unless the competitor is at this version.
    pub expected_version: Option<i32>,
    /// Name (at most 200 characters), unique regardless of case.
    pub name: Option<String>,
    /// Website address: http:// or https://, at most 500 characters.
    pub website: MaybeUndefined<String>,
}

/// Input of `deleteCompetitor`.
#[derive(InputObject)]
pub struct DeleteCompetitorInput {
    /// The competitor to delete.
    pub id: ID,
    /// Refuse with CONFLICT unless the competitor is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `createCompetitor` and `updateCompetitor`.
#[derive(SimpleObject)]
pub struct CompetitorPayload {
    /// The competitor as it now is; null when nothing was written.
    pub competitor: Option<Competitor>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteCompetitor`.
#[derive(SimpleObject)]
pub struct DeleteCompetitorPayload {
    /// Id of the deleted competitor; null when nothing was deleted.
    pub deleted_competitor_id: Option<ID>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Competitor mutations.
#[derive(Default)]
pub struct CompetitorMutation;

#[Object]
impl CompetitorMutation {
    /// Creates a competitor. Roles: ADMIN, MARKETING, SALES.
    #[graphql(guard = "PolicyGuard(Action::WriteCompetitor)")]
    async fn create_competitor(
        &self,
        ctx: &Context<'_>,
        input: CreateCompetitorInput,
    ) -> Result<CompetitorPayload> {
        let fields = CompetitorFields {
            name: Some(input.name),
            website: Some(input.website),
        };
        let result = svc::create(db(ctx)?, viewer(ctx)?, fields).await;
        let (competitor, user_errors) = payload(result, Competitor)?;
        Ok(CompetitorPayload {
            competitor,
            user_errors,
        })
    }

    /// Changes a competitor. Roles: ADMIN, MARKETING, SALES.
    #[graphql(guard = "PolicyGuard(Action::WriteCompetitor)")]
    async fn update_competitor(
        &self,
        ctx: &Context<'_>,
        input: UpdateCompetitorInput,
    ) -> Result<CompetitorPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Competitor, "input.id")?;
        let fields = CompetitorFields {
            name: input.name,
            website: input.website.into(),
        };
        let result = svc::update(db(ctx)?, viewer(ctx)?, id, input.expected_version, fields).await;
        let (competitor, user_errors) = payload(result, Competitor)?;
        Ok(CompetitorPayload {
            competitor,
            user_errors,
        })
    }

    /// Deletes a competitor. Roles: ADMIN, MARKETING, SALES. It is a soft
    /// delete, so sync jobs see a tombstone and win/loss feedback keeps it.
    #[graphql(guard = "PolicyGuard(Action::WriteCompetitor)")]
    async fn delete_competitor(
        &self,
        ctx: &Context<'_>,
        input: DeleteCompetitorInput,
    ) -> Result<DeleteCompetitorPayload> {
        let id = decode_arg_id(&input.id, ObjectType::Competitor, "input.id")?;
        let result = svc::delete(db(ctx)?, viewer(ctx)?, id, input.expected_version).await;
        let (deleted, user_errors) = payload(result, |id| global_id(ObjectType::Competitor, id))?;
        Ok(DeleteCompetitorPayload {
            deleted_competitor_id: deleted,
            user_errors,
        })
    }
}
