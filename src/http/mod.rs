//! The axum application: routes, middleware and shared state.

pub mod graphql;
pub mod idempotency;
pub mod reports;
pub mod ws;

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{Request, StatusCode},
    response::IntoResponse,
    routing::get,
};
use sea_orm::DatabaseConnection;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{auth::jwt::JwtSettings, event_hub::EventHub, graphql::AppSchema};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The schema with the production limits.
    pub schema: AppSchema,
    /// The same schema with a depth limit that fits the standard
    /// introspection query; used only for introspection-only operations.
    pub introspection_schema: AppSchema,
    /// Live events for subscriptions.
    pub events: EventHub,
    /// Token validation.
    pub jwt: JwtSettings,
    /// Longest a request may run.
    pub request_timeout: Duration,
    /// Whether introspection is answered (off: an explicit error, not null).
    pub introspection: bool,
}

/// Builds the router with its middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphiql", get(graphql::graphiql))
        .route("/reports/kpis.csv", get(reports::kpis_csv))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(graphql::MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!(
                    "http.request",
                    http.method = %request.method(),
                    http.path = %request.uri().path(),
                    request.id = %graphql::request_id(request.headers()),
                )
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Readiness: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
