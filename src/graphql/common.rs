//! Types and helpers every domain module uses: context access, global ids,
//! paging, money, user errors.

use async_graphql::{Context, Enum, ID, InputObject, SimpleObject};
use entity::enums::ObjectType;
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::scalars::InputDateTime;
use crate::{
    auth::{Action, Viewer},
    error::{AppError, AppResult, FieldError, UserErrorCode},
    graphql::loaders::Loaders,
    services::pagination::PageRequest,
};

/// The viewer of this request (set by the HTTP handler).
pub fn viewer<'a>(ctx: &Context<'a>) -> AppResult<&'a Viewer> {
    ctx.data_opt::<Viewer>()
        .ok_or_else(|| AppError::Unauthenticated("authentication required".into()))
}

/// The database pool.
pub fn db<'a>(ctx: &Context<'a>) -> AppResult<&'a DatabaseConnection> {
    ctx.data_opt::<DatabaseConnection>()
        .ok_or_else(|| AppError::Internal("no database in the schema".into()))
}

/// This request's DataLoaders.
pub fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a Loaders> {
    ctx.data_opt::<std::sync::Arc<Loaders>>()
        .map(AsRef::as_ref)
        .ok_or_else(|| AppError::Internal("no loaders in the request".into()))
}

/// Returns a personal field's value only when the viewer may read personal
/// data; REPORTING gets FORBIDDEN. Checked inside the resolver, so it also
/// holds when the field is reached through `node(id:)`.
pub fn personal<T>(ctx: &Context<'_>, value: T) -> async_graphql::Result<T> {
    viewer(ctx)?.require(Action::ReadPersonalData)?;
    Ok(value)
}

pub use crate::domain::global_id::type_name;

/// Encodes an opaque global id: base64url of `Type:uuid`.
pub fn global_id(object: ObjectType, id: Uuid) -> ID {
    ID(crate::domain::global_id::encode(object, id))
}

/// Decodes any global id into its type name and uuid.
pub fn parse_global_id(id: &str) -> Option<(String, Uuid)> {
    crate::domain::global_id::decode(id)
}

/// Decodes a global id that must name an `object`; `field` names the input
/// field in the error.
pub fn decode_id(id: &ID, object: ObjectType, field: &str) -> AppResult<Uuid> {
    match parse_global_id(id) {
        Some((kind, uuid)) if kind == type_name(object) => Ok(uuid),
        _ => Err(AppError::invalid(
            field,
            UserErrorCode::Invalid,
            format!("`{field}` is not the id of a {}", type_name(object)),
        )),
    }
}

/// Decodes an optional global id.
pub fn decode_opt_id(id: Option<&ID>, object: ObjectType, field: &str) -> AppResult<Option<Uuid>> {
    id.map(|id| decode_id(id, object, field)).transpose()
}

/// Decodes a global id given as a top-level argument (NOT_FOUND-free: a
/// malformed id is a BAD_USER_INPUT error).
pub fn decode_arg_id(id: &ID, object: ObjectType, argument: &str) -> AppResult<Uuid> {
    decode_id(id, object, argument).map_err(|_| {
        AppError::BadUserInput(format!(
            "`{argument}` is not the id of a {}",
            type_name(object)
        ))
    })
}

/// Relay page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow this page.
    pub has_next_page: bool,
    /// More items precede this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of this page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of this page.
    pub end_cursor: Option<String>,
}

/// Builds the service page request from the Relay arguments.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageRequest {
    PageRequest {
        first,
        after,
        last,
        before,
    }
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// A time range; either end may be left open. `from` is inclusive, `to`
/// exclusive.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DateTimeRange {
    /// Inclusive lower bound.
    pub from: Option<InputDateTime>,
    /// Exclusive upper bound.
    pub to: Option<InputDateTime>,
}

impl From<DateTimeRange> for crate::services::filters::TimeRange {
    fn from(r: DateTimeRange) -> Self {
        Self {
            from: r.from.map(InputDateTime::get),
            to: r.to.map(InputDateTime::get),
        }
    }
}

/// An amount of money: an exact decimal and its ISO 4217 currency.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// The amount, exact, as a decimal string (e.g. "12500.00").
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. "USD".
    pub currency: String,
}

impl Money {
    /// Money with exactly two decimals (SQLite stores REAL; see the
    /// migration), so "1250000.5" reads back as "1250000.50".
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        let mut amount = amount.round_dp(2);
        amount.rescale(2);
        Self {
            amount,
            currency: currency.into(),
        }
    }
}

/// An amount of money in an input.
#[derive(InputObject, Clone, Debug)]
pub struct MoneyInput {
    /// The amount, as a decimal string (e.g. "12500.00"); at most 2 decimals.
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. "USD".
    pub currency: String,
}

/// Machine-readable code of a user error.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserErrorCodeGql {
    /// The value is malformed or not allowed.
    Invalid,
    /// A required value is missing or blank.
    Required,
    /// The value must be unique and another record has it.
    Taken,
    /// A referenced record does not exist.
    NotFound,
    /// The value is too long.
    TooLong,
    /// A number or date is outside its allowed range.
    OutOfRange,
}

/// A validation failure of a mutation's input. Nothing was written.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "UserError")]
pub struct UserError {
    /// Path to the input field, e.g. `["input", "email"]`.
    pub field: Vec<String>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Stable code to branch on.
    pub code: UserErrorCodeGql,
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
            code: match e.code {
                UserErrorCode::Invalid => UserErrorCodeGql::Invalid,
                UserErrorCode::Required => UserErrorCodeGql::Required,
                UserErrorCode::Taken => UserErrorCodeGql::Taken,
                UserErrorCode::NotFound => UserErrorCodeGql::NotFound,
                UserErrorCode::TooLong => UserErrorCodeGql::TooLong,
                UserErrorCode::OutOfRange => UserErrorCodeGql::OutOfRange,
            },
        }
    }
}

/// Splits a service result into a payload's `(object, userErrors)`:
/// validation failures become user errors, everything else a top-level error.
pub fn payload<T, U>(
    result: AppResult<T>,
    convert: impl FnOnce(T) -> U,
) -> async_graphql::Result<(Option<U>, Vec<UserError>)> {
    match result {
        Ok(v) => Ok((Some(convert(v)), vec![])),
        Err(AppError::Invalid(errors)) => Ok((None, errors.into_iter().map(Into::into).collect())),
        Err(other) => Err(other.into()),
    }
}

/// Generates a Relay connection and edge type over a service [`Page`].
/// The node type must have `prefetch(ctx, selection, models)`, which loads
/// the page's selected relations with one query each, so a page costs the
/// same number of statements whatever its size (DataLoader batching alone
/// depends on timing).
///
/// [`Page`]: crate::services::pagination::Page
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ident, $entity:path, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $conn {
            pub(crate) page:
                $crate::services::pagination::Page<<$entity as sea_orm::EntityTrait>::Model>,
            pub(crate) total: sea_orm::Select<$entity>,
        }

        #[doc = concat!("One of ", $what, " with its cursor.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque cursor of this item, for `after` / `before`.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        #[doc = concat!("A page of ", $what, ".")]
        #[async_graphql::Object]
        impl $conn {
            /// The items of this page with their cursors.
            async fn edges(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<Vec<$edge>> {
                let models: Vec<_> = self.page.edges.iter().map(|(_, m)| m.clone()).collect();
                $node::prefetch(ctx, &ctx.look_ahead().field("node"), &models).await?;
                Ok(self
                    .page
                    .edges
                    .iter()
                    .zip(models)
                    .map(|((cursor, _), m)| $edge {
                        cursor: cursor.clone(),
                        node: $node(m),
                    })
                    .collect())
            }

            /// The items of this page.
            async fn nodes(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<Vec<$node>> {
                let models: Vec<_> = self.page.edges.iter().map(|(_, m)| m.clone()).collect();
                $node::prefetch(ctx, &ctx.look_ahead(), &models).await?;
                Ok(models.into_iter().map($node).collect())
            }

            /// Where this page is in the list.
            async fn page_info(&self) -> $crate::graphql::common::PageInfo {
                $crate::graphql::common::PageInfo {
                    has_next_page: self.page.has_next_page,
                    has_previous_page: self.page.has_previous_page,
                    start_cursor: self.page.edges.first().map(|(c, _)| c.clone()),
                    end_cursor: self.page.edges.last().map(|(c, _)| c.clone()),
                }
            }

            /// How many items match the filter, across all pages.
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<i64> {
                let db = $crate::graphql::common::db(ctx)?;
                Ok($crate::services::pagination::count(db, self.total.clone()).await?)
            }
        }
    };
}
pub(crate) use connection;

/// A ratio with its parts, so a dashboard can show "42 % (126 / 300)" and
/// add groups up honestly.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct Ratio {
    /// `numerator / denominator` (0.0-1.0 for shares); null when the
    /// denominator is 0.
    pub value: Option<f64>,
    /// The part counted.
    pub numerator: i64,
    /// The whole it is a part of.
    pub denominator: i64,
}

impl Ratio {
    /// The ratio of two counts.
    pub fn of(numerator: i64, denominator: i64) -> Self {
        Self {
            value: (denominator != 0).then(|| numerator as f64 / denominator as f64),
            numerator,
            denominator,
        }
    }
}
