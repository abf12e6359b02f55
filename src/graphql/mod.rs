//! The GraphQL schema: one query and one mutation object per domain, merged
//! at the root. Resolvers read the viewer and the database from the context,
//! call a service and convert the result; no SQL here.

pub mod account;
pub mod analytics;
pub mod campaign;
pub mod changes;
pub mod common;
pub mod competitor;
pub mod cost;
pub mod enums;
pub mod events;
pub mod external_id;
pub mod feedback;
pub mod kpi;
pub mod lead;
pub mod lead_definition;
pub mod lifecycle;
pub mod loaders;
pub mod node;
pub mod opportunity;
pub mod scalars;
pub mod spend;
pub mod sync;
pub mod text;
pub mod user;

use async_graphql::{MergedObject, Schema};
use sea_orm::DatabaseConnection;

/// Deepest selection allowed (docs/api.md, "Transport and limits": 12).
pub const MAX_DEPTH: usize = 12;
/// Depth allowed for introspection-only operations (the standard
/// introspection query is 15 deep).
pub const MAX_INTROSPECTION_DEPTH: usize = 16;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 5;

/// Every query field.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    // No fields: first so that the range-checked input date scalars are
    // registered before chrono's output scalars of the same names.
    scalars::InputScalarsFirst,
    node::NodeQuery,
    external_id::ExternalIdQuery,
    user::UserQuery,
    account::AccountQuery,
    lead::LeadQuery,
    lead_definition::LeadDefinitionQuery,
    lifecycle::LifecycleQuery,
    campaign::CampaignQuery,
    opportunity::OpportunityQuery,
    feedback::FeedbackQuery,
    competitor::CompetitorQuery,
    analytics::AnalyticsQuery,
    kpi::KpiQuery,
    changes::ChangesQuery,
);

/// Every mutation. Send an `Idempotency-Key` header (1-255 printable ASCII
/// characters, e.g. a UUID) to make a retry safe: for 24 hours, a retry
/// with the same key of a request that wrote gets its first response
/// again, marked `Idempotent-Replayed: true`, instead of writing twice.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    user::UserMutation,
    account::AccountMutation,
    lead::LeadMutation,
    lead_definition::LeadDefinitionMutation,
    lifecycle::LifecycleMutation,
    campaign::CampaignMutation,
    spend::SpendMutation,
    opportunity::OpportunityMutation,
    feedback::FeedbackMutation,
    competitor::CompetitorMutation,
    kpi::KpiMutation,
    external_id::ExternalIdMutation,
    sync::SyncMutation,
);

/// The schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, events::SubscriptionRoot>;

/// Schema switches from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct SchemaOptions {
    /// Answer introspection queries.
    pub introspection: bool,
    /// "Did you mean" hints in validation errors.
    pub field_suggestions: bool,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            introspection: true,
            field_suggestions: true,
        }
    }
}

/// Builds the schema with the depth and directive limits and, when `db` is
/// given, the database in its data. Query cost is limited by the HTTP
/// handler ([`cost`]), which counts the way Shopify and GitHub do. `depth` is [`MAX_DEPTH`] except for the
/// introspection-only schema.
pub fn build_schema(
    db: Option<DatabaseConnection>,
    options: SchemaOptions,
    depth: usize,
) -> AppSchema {
    // Inputs take the range-checked `DateTime` and `NaiveDate` of
    // `scalars`, outputs chrono's: the same GraphQL scalars.
    let mut builder = Schema::build_with_ignore_name_conflicts(
        QueryRoot::default(),
        MutationRoot::default(),
        events::SubscriptionRoot,
        scalars::NAMES,
    )
    .extension(scalars::DateHints)
    .extension(text::NoNulText)
    .limit_depth(depth)
    .limit_directives(MAX_DIRECTIVES);
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    if !options.field_suggestions {
        builder = builder.disable_suggestions();
    }
    if let Some(db) = db {
        builder = builder.data(db);
    }
    builder.finish()
}

/// The schema as SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None, SchemaOptions::default(), MAX_DEPTH).sdl()
}
