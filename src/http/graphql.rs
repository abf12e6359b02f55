//! Our GraphQL handler. async-graphql's stock axum service runs array
//! batches, executes mutations sent with GET, parses any content type and has
//! no body limit; this one follows DESIGN.md "Transport and limits" instead:
//!
//! - POST with `application/json` (415 otherwise), one operation per request
//!   (a JSON array is 400), a body over 1 MiB is 413;
//! - GET for queries only (a mutation is 405 with `Allow: POST`); a browser
//!   GET without a query gets GraphiQL;
//! - a missing or bad token is 401 for the whole request;
//! - depth, complexity and directive limits refuse a query before it runs,
//!   with `extensions.code` QUERY_TOO_COMPLEX;
//! - a request over the time limit is cut off with code TIMEOUT;
//! - every response with errors carries the request id in `extensions`.

use async_graphql::{
    Request, Response, ServerError,
    http::GraphiQLSource,
    parser::types::{DocumentOperations, OperationType, Selection},
};
use axum::{
    body::Bytes,
    extract::{RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response as HttpResponse},
};
use serde_json::json;

use super::{AppState, idempotency};
use crate::{
    auth::Viewer,
    error::AppError,
    graphql::{cost, loaders::Loaders},
    services,
};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `POST /graphql`.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let request_id = request_id(&headers);
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send the request as Content-Type: application/json",
            &request_id,
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BAD_USER_INPUT",
                "the request body is over the 1 MiB limit",
                &request_id,
            );
        }
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("could not read the request body: {rejection}"),
                &request_id,
            );
        }
    };
    let request = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Array(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "batched requests are not supported: send one operation per request",
                &request_id,
            );
        }
        Ok(value) => serde_json::from_value::<Request>(value),
        Err(e) => Err(e),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("the body is not a GraphQL request ({{\"query\": ...}}): {e}"),
                &request_id,
            );
        }
    };
    // Idempotency-Key (src/http/idempotency.rs): a keyed request runs on its
    // own task, to the end even if the client hangs up.
    if idempotency::is_keyed(&headers) {
        let id = request_id.clone();
        return idempotency::detached(id, async move {
            execute(state, &headers, request, false, request_id).await
        })
        .await;
    }
    execute(state, &headers, request, false, request_id).await
}

/// `GET /graphql`: a query in the URL, or GraphiQL for a browser.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> HttpResponse {
    let request_id = request_id(&headers);
    let query = query.unwrap_or_default();
    if !query.contains("query=") {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html {
            return graphiql().await.into_response();
        }
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "GET /graphql needs a `query` parameter; send mutations with POST",
            &request_id,
        );
    }
    match async_graphql::http::parse_query_string(&query) {
        Ok(request) => execute(state, &headers, request, true, request_id).await,
        Err(e) => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("could not read the query parameters: {e}"),
            &request_id,
        ),
    }
}

/// `GET /graphiql`: the in-browser IDE.
pub async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Handoff GraphiQL")
            .finish(),
    )
}

async fn execute(
    state: AppState,
    headers: &HeaderMap,
    mut request: Request,
    via_get: bool,
    request_id: String,
) -> HttpResponse {
    let viewer = match authenticate(&state, headers).await {
        Ok(viewer) => viewer,
        Err(AppError::Unauthenticated(message)) => {
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                &message,
                &request_id,
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"handoff\""),
            );
            return response;
        }
        Err(other) => {
            let _: async_graphql::Error = other.into(); // logs it
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error; quote the requestId when reporting it",
                &request_id,
            );
        }
    };

    let mut introspection_only = false;
    let mut requested_cost = 0;
    let operation_name = request.operation_name.clone();
    let variables = request.variables.clone();
    if let Ok(doc) = request.parsed_query() {
        let operation = match (&doc.operations, operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            _ => None,
        };
        if let Some(op) = operation {
            match op.node.ty {
                OperationType::Mutation if via_get => {
                    let mut response = error_response(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "BAD_USER_INPUT",
                        "mutations must be sent with POST",
                        &request_id,
                    );
                    response
                        .headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static("POST"));
                    return response;
                }
                OperationType::Subscription => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        "BAD_USER_INPUT",
                        "subscriptions are served over WebSocket, not HTTP",
                        &request_id,
                    );
                }
                _ => {}
            }
            requested_cost = cost::cost(doc, &op.node.selection_set.node, &variables);
            if requested_cost > cost::MAX_COST {
                let mut response = Response::from_errors(vec![ServerError::new(
                    format!(
                        "Query is too complex: it would cost {requested_cost} points and the limit is {}. \
                         A connection costs its page size (first/last, default 20) times the cost of one \
                         item; ask for smaller pages or fewer nested lists.",
                        cost::MAX_COST
                    ),
                    None,
                )]);
                response
                    .extensions
                    .insert("cost".into(), cost_extension(requested_cost));
                return json_response(finish(response, &request_id));
            }
            let asks_schema = op.node.selection_set.node.items.iter().any(|s| {
                matches!(&s.node, Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "__schema" | "__type"))
            });
            if asks_schema && !state.introspection {
                return error_response(
                    StatusCode::OK,
                    "FORBIDDEN",
                    "introspection is disabled on this server; use the published schema.graphql",
                    &request_id,
                );
            }
            introspection_only = !op.node.selection_set.node.items.is_empty()
                && op.node.selection_set.node.items.iter().all(|s| {
                    matches!(&s.node, Selection::Field(f)
                        if matches!(f.node.name.node.as_str(), "__schema" | "__type" | "__typename"))
                });
        }
    }

    // Idempotency-Key (src/http/idempotency.rs): replay, refuse, or claim
    // the key of a mutation; every response from here on goes to `settle`.
    let claim = match idempotency::claim(&state, headers, &viewer, &mut request, &request_id).await
    {
        Ok(claim) => claim,
        Err(answer) => return answer,
    };

    let schema = if introspection_only {
        // The standard introspection query is 15 levels deep; it runs on a
        // schema with a higher depth limit that answers introspection only.
        request = request.only_introspection();
        &state.introspection_schema
    } else {
        &state.schema
    };
    let request = request
        .data(viewer)
        .data(std::sync::Arc::new(Loaders::new(state.db.clone())));

    let response = match tokio::time::timeout(state.request_timeout, schema.execute(request)).await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout.secs = state.request_timeout.as_secs(),
                "request cut off"
            );
            let response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                &format!(
                    "the request took longer than {} s and was cut off; ask for less data",
                    state.request_timeout.as_secs()
                ),
                &request_id,
            );
            return idempotency::settle(claim, response).await;
        }
    };
    let mut response = response;
    response
        .extensions
        .insert("cost".into(), cost_extension(requested_cost));
    idempotency::settle(claim, json_response(finish(response, &request_id))).await
}

/// `extensions.cost`: what the query was charged and the limit.
fn cost_extension(requested: usize) -> async_graphql::Value {
    let mut map = async_graphql::indexmap::IndexMap::new();
    map.insert(
        async_graphql::Name::new("requestedQueryCost"),
        async_graphql::Value::from(requested as u64),
    );
    map.insert(
        async_graphql::Name::new("maximumQueryCost"),
        async_graphql::Value::from(cost::MAX_COST as u64),
    );
    async_graphql::Value::Object(map)
}

/// Gives every error a code and every response with errors the request id.
pub(super) fn finish(mut response: Response, request_id: &str) -> Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            let code = limit_code(error).unwrap_or("BAD_USER_INPUT");
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
        }
    }
    if !response.errors.is_empty() {
        response
            .extensions
            .insert("requestId".into(), async_graphql::Value::from(request_id));
    }
    response
}

fn limit_code(error: &ServerError) -> Option<&'static str> {
    let m = error.message.as_str();
    (m.starts_with("Query is nested too deep")
        || m.starts_with("Query is too complex")
        || m.starts_with("The number of directives")
        || m.starts_with("The recursion depth"))
    .then_some("QUERY_TOO_COMPLEX")
}

pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Viewer, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            AppError::Unauthenticated(
                "authentication required: send Authorization: Bearer <token>".into(),
            )
        })?
        .to_str()
        .map_err(|_| AppError::Unauthenticated("the Authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            AppError::Unauthenticated("the Authorization header must be `Bearer <token>`".into())
        })?
        .trim();
    let claims = state
        .jwt
        .decode(token)
        .map_err(|e| AppError::Unauthenticated(e.to_string()))?;
    services::users::viewer_for_claims(&state.db, &claims).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The request id the request-id layer set (or the client sent).
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn json_response(response: Response) -> HttpResponse {
    match serde_json::to_vec(&response) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A GraphQL-shaped error response with an HTTP status.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> HttpResponse {
    (
        status,
        axum::Json(json!({
            "errors": [{ "message": message, "extensions": { "code": code } }],
            "extensions": { "requestId": request_id },
        })),
    )
        .into_response()
}
