//! The middleware that gives each request its access-log record, then its
//! metrics and its access line (docs/operations.md "Access log").

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::Response,
};
use tokio::time::Instant;

use super::{AppState, graphql};
use crate::telemetry::{
    self,
    access::{self, Record},
    metrics::route,
};

/// Routes whose requests are logged at `debug`, not `info`: probes and
/// scrapes, which arrive every few seconds and say nothing about use.
const QUIET_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The status logged and counted for a request whose client went away
/// before its response was ready (nginx's "client closed request").
const CLIENT_CLOSED: u16 = 499;

/// Runs the request in an access-log scope ([`access::scope`]), then
/// records its metrics and writes its access line (target
/// `handoff::access`). A WebSocket upgrade (101) is logged when its socket
/// closes, by [`super::ws`], instead. A request dropped before it was
/// answered (the client hung up) is logged and counted as 499,
/// `CANCELLED`.
pub(super) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut seen = Seen {
        state,
        started: Instant::now(),
        route: route(request.uri().path()),
        method: request.method().clone(),
        request_id: graphql::request_id(request.headers()),
        record: Arc::new(Record::default()),
        done: false,
    };
    let response = access::scope(seen.record.clone(), next.run(request)).await;
    seen.finish(response.status().as_u16());
    response
}

/// A request on its way; [`Seen::finish`] once, or on drop as 499.
struct Seen {
    state: AppState,
    started: Instant,
    route: &'static str,
    method: Method,
    request_id: String,
    record: Arc<Record>,
    done: bool,
}

impl Drop for Seen {
    fn drop(&mut self) {
        if !self.done {
            self.record
                .note(|f| f.outcome = Some("CANCELLED".to_owned()));
            self.finish(CLIENT_CLOSED);
        }
    }
}

impl Seen {
    fn finish(&mut self, status: u16) {
        self.done = true;
        let elapsed = self.started.elapsed();
        let route = self.route;
        let fields = self.record.fields();
        let outcome = fields.outcome.as_deref().unwrap_or("ok");
        let metrics = &self.state.metrics;
        metrics.http_request(route, status, elapsed);
        if route == "/graphql" {
            let operation = fields.operation.as_deref().unwrap_or(telemetry::UNKNOWN);
            let operation_type = fields.operation_type.unwrap_or(telemetry::UNKNOWN);
            metrics.graphql_operation(operation, operation_type, outcome, elapsed);
        }
        if outcome == "RATE_LIMITED" {
            metrics.rate_limited(route);
        }
        if status == StatusCode::SWITCHING_PROTOCOLS.as_u16() {
            return;
        }
        macro_rules! line {
            ($level:expr) => {
                tracing::event!(
                    target: "handoff::access",
                    $level,
                    request.id = %self.request_id,
                    user.id = fields.user_id.map(tracing::field::display),
                    user.role = fields.role.map(|r| r.as_str()),
                    http.method = %self.method,
                    http.path = route,
                    http.status = status,
                    graphql.operation = fields.operation.as_deref(),
                    graphql.operation_type = fields.operation_type,
                    graphql.cost = fields.cost.map(|c| c as u64),
                    outcome,
                    db.statements = self.record.statements(),
                    duration_ms = millis(elapsed),
                    "request"
                )
            };
        }
        if QUIET_ROUTES.contains(&route) {
            line!(tracing::Level::DEBUG);
        } else {
            line!(tracing::Level::INFO);
        }
    }
}

/// A duration in milliseconds, to a tenth, for log lines.
pub(crate) fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 10_000.0).round() / 10.0
}
