//! The axum application: routes, middleware and shared state.

pub mod cors;
pub mod documents;
pub mod graphiql;
pub mod graphql;
pub mod idempotency;
mod observe;
pub mod reports;
pub mod throttle;
pub mod ws;

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{Request, StatusCode, header},
    middleware::{self, Next, map_request},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::FutureExt;
use sea_orm::DatabaseConnection;
use tower_http::{
    compression::{
        CompressionLayer, CompressionLevel, Predicate,
        predicate::{NotForContentType, SizeAbove},
    },
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    auth::{idp::IdentityProvider, jwt::JwtSettings},
    clock::Clock,
    event_hub::EventHub,
    graphql::{AppSchema, cost::CostModel},
    telemetry::{self, Metrics},
};

pub(crate) use observe::millis;

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
    /// The identity provider whose tokens are accepted too, if any.
    pub idp: Option<Arc<IdentityProvider>>,
    /// Longest a request may run.
    pub request_timeout: Duration,
    /// Whether introspection is answered (off: an explicit error, not null).
    pub introspection: bool,
    /// How queries are costed (read from the schema once).
    pub cost: Arc<CostModel>,
    /// Every user's cost budget.
    pub throttle: Arc<throttle::Throttle>,
    /// Largest response body.
    pub max_response_bytes: usize,
    /// How long a WebSocket connection trusts its last principal check.
    pub ws_recheck_interval: Duration,
    /// The server's clock (see [`crate::clock`]).
    pub clock: Arc<dyn Clock>,
    /// Web origins that may call the API from a browser.
    pub cors: Arc<cors::AllowedOrigins>,
    /// Persisted queries and trusted documents.
    pub documents: Arc<documents::Documents>,
    /// Becomes true when the server starts shutting down: open sockets
    /// close with 1001.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Held by every request and socket while it runs (through its clone
    /// of the state), so that shutdown can wait for them.
    pub in_flight: tokio::sync::mpsc::Sender<()>,
    /// Prometheus metrics (recording nothing when `HANDOFF_METRICS=false`).
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` is a route of the API's router (metrics on and
    /// no `HANDOFF_METRICS_BIND`).
    pub metrics_on_api: bool,
}

/// Builds the router with its middleware.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/assets/{dir}/{file}", get(graphiql::asset))
        .route("/reports/kpis.csv", get(reports::kpis_csv))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if state.metrics_on_api {
        routes = routes.route("/metrics", get(metrics));
    }
    routes
        .layer(DefaultBodyLimit::max(graphql::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), on_the_clock))
        .layer(
            CompressionLayer::new()
                .quality(COMPRESSION_QUALITY)
                .compress_when(compressible()),
        )
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn_with_state(
            state.cors.clone(),
            cors::layer,
        ))
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
        // Outside the span above, so that its line stands alone; inside
        // the request-id layer, so that it has the id.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost: runs first, so the layer above generates an id in
        // place of one that is not safe to echo.
        .layer(map_request(drop_unsafe_request_id))
        .with_state(state)
}

/// How hard responses are compressed: each library's fastest level. The
/// defaults (brotli's is 11, its densest) halved the requests a second of
/// a page of 100 leads; at the fastest level brotli costs about 4 % and
/// gzip about 11 % (docs/benchmarks.md), and a 17 KB page still shrinks
/// to less than half.
pub const COMPRESSION_QUALITY: CompressionLevel = CompressionLevel::Fastest;

/// Smallest response body worth compressing.
pub const COMPRESS_MIN_BYTES: u16 = 1024;

/// Which responses are compressed (gzip or brotli, as the client's
/// `Accept-Encoding` prefers): bodies of [`COMPRESS_MIN_BYTES`] or more
/// that are not images or event streams, never a protocol switch.
fn compressible() -> impl Predicate {
    SizeAbove::new(COMPRESS_MIN_BYTES)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(
            |status: StatusCode,
             _: axum::http::Version,
             _: &axum::http::HeaderMap,
             _: &axum::http::Extensions| { status != StatusCode::SWITCHING_PROTOCOLS },
        )
}

/// The router of `/metrics` alone, for its own address
/// (`HANDOFF_METRICS_BIND`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /metrics`: the Prometheus text format, with the pool read now.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.encode(crate::db::pool_stats(&state.db));
    (
        [(header::CONTENT_TYPE, telemetry::metrics::CONTENT_TYPE)],
        body,
    )
}

/// Runs the request in the scope of the server's clock, so that what it
/// writes is stamped by that clock ([`crate::clock::scope`]).
async fn on_the_clock(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    crate::clock::scope(state.clock, next.run(request)).await
}

/// Longest client-sent `x-request-id` that is kept.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's `x-request-id` may be echoed (in the response header,
/// `extensions.requestId` and the logs): 1 to [`MAX_REQUEST_ID_LEN`]
/// characters of `A-Z a-z 0-9 . _ -`.
pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes a client's `x-request-id` (every one, if several) unless it is
/// a single safe one, so that a generated UUID takes its place.
async fn drop_unsafe_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request.headers_mut();
    let mut ids = headers.get_all("x-request-id").iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => is_safe_request_id(id.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove("x-request-id");
    }
    request
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_millis(900);

/// Readiness: the server is not shutting down and the database answers,
/// within [`READY_TIMEOUT`].
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if *state.closing.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database did not answer within 1 s",
            )
        }
    }
}

/// Turns a panic anywhere in a handler into HTTP 500 with code INTERNAL and
/// the request id, instead of a dropped connection. The panic is logged
/// (by the panic hook and here), never sent.
async fn catch_panic(request: Request<axum::body::Body>, next: Next) -> Response {
    let request_id = graphql::request_id(request.headers());
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(panic = %panic_message(&panic), "a request panicked");
            graphql::internal_error_response(&request_id)
        }
    }
}

/// The text of a panic payload, when it has one.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, routing::get};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_internal_with_the_request_id() {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(middleware::from_fn(catch_panic));
        let response = app
            .oneshot(
                Request::get("/boom")
                    .header("x-request-id", "req-1")
                    .body(Body::empty())
                    .unwrap_or_default(),
            )
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
        assert_eq!(body["extensions"]["requestId"], "req-1");
        assert!(!body.to_string().contains("boom"));
    }

    #[test]
    fn request_ids_are_kept_only_when_short_and_plain() {
        for ok in ["a", "req-42", "01HZX.abc_DEF-9", &"x".repeat(64)] {
            assert!(is_safe_request_id(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            "<script>alert(1)</script>",
            "has space",
            "semi;colon",
            "quote\"",
            "caf\u{e9}",
            "tab\there",
        ] {
            assert!(!is_safe_request_id(bad.as_bytes()), "{bad:?}");
        }
    }
}
