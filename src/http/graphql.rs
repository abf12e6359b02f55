//! Our GraphQL handler. async-graphql's stock axum service runs array
//! batches, executes mutations sent with GET, parses any content type and has
//! no body limit; this one follows docs/api.md "Transport and limits"
//! instead:
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

use std::panic::AssertUnwindSafe;

use async_graphql::{
    Request, Response, ServerError,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    },
};
use axum::{
    body::Bytes,
    extract::{
        Query, RawQuery, State,
        rejection::{BytesRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::FutureExt;
use serde_json::json;
use tokio::time::Instant;

use super::{AppState, documents, idempotency};
use crate::{
    auth::{self, Viewer},
    error::AppError,
    graphql::{
        cost::{self, Refusal},
        loaders::Loaders,
    },
    http::throttle::{ThrottleStatus, Throttled},
    services,
    telemetry::{self, access},
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
    let media = MediaType::negotiate(&headers);
    media.answer(post_inner(state, headers, body, request_id).await)
}

async fn post_inner(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: String,
) -> HttpResponse {
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
    let mut document_id = None;
    let request = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Array(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "batched requests are not supported: send one operation per request",
                &request_id,
            );
        }
        Ok(value) => {
            document_id = value
                .get("documentId")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            serde_json::from_value::<Request>(value)
        }
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
            execute(state, &headers, request, document_id, false, request_id).await
        })
        .await;
    }
    execute(state, &headers, request, document_id, false, request_id).await
}

/// `GET /graphql`: a query in the URL, or GraphiQL for a browser.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ByReference>, QueryRejection>,
    RawQuery(query): RawQuery,
) -> HttpResponse {
    let request_id = request_id(&headers);
    let media = MediaType::negotiate(&headers);
    let query = query.unwrap_or_default();
    let by_reference = match params {
        Ok(Query(params)) => params,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("could not read the query parameters: {e}"),
                &request_id,
            );
        }
    };
    if by_reference.query.is_none()
        && by_reference.extensions.is_none()
        && by_reference.document_id.is_none()
    {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html {
            return super::graphiql::page().await;
        }
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "GET /graphql needs a `query` parameter; send mutations with POST",
            &request_id,
        );
    }
    match async_graphql::http::parse_query_string(&query) {
        Ok(request) => {
            let id = by_reference.document_id;
            media.answer(execute(state, &headers, request, id, true, request_id).await)
        }
        Err(e) => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("could not read the query parameters: {e}"),
            &request_id,
        ),
    }
}

/// What a GET request names its document by: its text, a persisted
/// query's hash (in `extensions`) or a trusted document's id.
#[derive(serde::Deserialize)]
pub struct ByReference {
    query: Option<String>,
    extensions: Option<String>,
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

async fn execute(
    state: AppState,
    headers: &HeaderMap,
    mut request: Request,
    document_id: Option<String>,
    via_get: bool,
    request_id: String,
) -> HttpResponse {
    // The time limit covers everything from here to the last byte of the
    // body: authentication, execution and serialisation.
    let deadline = Instant::now() + state.request_timeout;
    // What the access log and the metrics call the operation, until the
    // document says more.
    if let Some(name) = request.operation_name.as_deref() {
        access::note(|f| f.operation = Some(telemetry::operation_name(Some(name)).to_owned()));
    }
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
        Err(other) => return app_error_response(other, &request_id),
    };
    // A document sent by reference (src/http/documents.rs).
    if let Err(refusal) = state
        .documents
        .resolve(viewer.role, &mut request, document_id.as_deref())
    {
        return refused_document(&refusal, &request_id);
    }

    // Parsed once, here; execution reuses it. A document that does not
    // parse is answered by execution itself.
    let operation_name = request.operation_name.clone();
    let variables = request.variables.clone();
    let document = request.parsed_query().ok().cloned();
    let operation = document
        .as_ref()
        .and_then(|doc| operation(doc, operation_name.as_deref()));
    if let (Some(doc), Some(op)) = (&document, operation) {
        let name = operation_name
            .as_deref()
            .or_else(|| only_operation_name(doc));
        access::note(|f| {
            f.operation = Some(telemetry::operation_name(name).to_owned());
            f.operation_type = Some(operation_type(op.ty));
        });
    }
    let mut introspection_only = false;
    let mut requested = 0;
    if let (Some(doc), Some(op)) = (&document, operation) {
        match op.ty {
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
        requested = match state.cost.requested(doc, op, &variables) {
            Ok(cost) => cost,
            Err(refusal) => {
                let mut response =
                    Response::from_errors(vec![ServerError::new(refusal.message(), None)]);
                let cost = match refusal {
                    Refusal::Cost(cost) => cost,
                    _ => 0,
                };
                response
                    .extensions
                    .insert("cost".into(), cost_extension(cost, 0, None));
                return json_response(
                    finish(response, &request_id),
                    &request_id,
                    deadline,
                    state.max_response_bytes,
                );
            }
        };
        let asks_schema = op.selection_set.node.items.iter().any(|s| {
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
        introspection_only = !op.selection_set.node.items.is_empty()
            && op.selection_set.node.items.iter().all(|s| {
                matches!(&s.node, Selection::Field(f)
                    if matches!(f.node.name.node.as_str(), "__schema" | "__type" | "__typename"))
            });
    }

    // The budget is charged before anything runs.
    let user = viewer.user_id;
    if let Some(Err(throttled)) = state.throttle.take(user, requested) {
        return rate_limited(requested, &throttled, &request_id);
    }

    // Idempotency-Key (src/http/idempotency.rs): replay, refuse, or claim
    // the key of a mutation; every response from here on goes to `settle`.
    let claim = match idempotency::claim(&state, headers, &viewer, &mut request, &request_id).await
    {
        Ok(claim) => claim,
        Err(answer) => {
            // A replay or a refusal runs nothing: it costs 1.
            state.throttle.settle(user, requested, 1);
            return answer;
        }
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
        .data(std::sync::Arc::new(Loaders::new(state.db.clone())))
        .data(state.metrics.clone());

    let run = AssertUnwindSafe(schema.execute(request)).catch_unwind();
    let mut response = match tokio::time::timeout_at(deadline, run).await {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => {
            tracing::error!(panic = %super::panic_message(&panic), "a GraphQL request panicked");
            return idempotency::settle(claim, internal_error_response(&request_id)).await;
        }
        Err(_) => return idempotency::settle(claim, timed_out(&state, &request_id)).await,
    };
    let actual = match (&document, operation) {
        (Some(doc), Some(op)) => state.cost.actual(doc, op, &variables, &response.data),
        _ => 0,
    };
    let status = state.throttle.settle(user, requested, actual);
    access::note(|f| f.cost = Some(actual));
    if let Some(op) = operation {
        state.metrics.query_cost(operation_type(op.ty), actual);
    }
    response
        .extensions
        .insert("cost".into(), cost_extension(requested, actual, status));
    let response = finish(response, &request_id);
    let response = if Instant::now() >= deadline {
        timed_out(&state, &request_id)
    } else {
        json_response(response, &request_id, deadline, state.max_response_bytes)
    };
    idempotency::settle(claim, response).await
}

/// A document that cannot run: `PERSISTED_QUERY_NOT_FOUND` is HTTP 200
/// whatever the media type (Apollo's clients look for it in the body), a
/// hash that does not match or a malformed `persistedQuery` is 400, an
/// untrusted document is a request error.
fn refused_document(refusal: &documents::Refusal, request_id: &str) -> HttpResponse {
    let status = match refusal {
        documents::Refusal::NotFound | documents::Refusal::NotTrusted => StatusCode::OK,
        documents::Refusal::HashMismatch | documents::Refusal::Malformed(_) => {
            StatusCode::BAD_REQUEST
        }
    };
    let mut response = error_response(status, refusal.code(), &refusal.message(), request_id);
    if *refusal == documents::Refusal::NotFound {
        response.extensions_mut().remove::<RequestError>();
    }
    response
}

/// The operation a request runs: the only one, or the one named.
fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    op.map(|op| &op.node)
}

/// The name of a document's operation when it has one named operation and
/// the request names none.
fn only_operation_name(doc: &ExecutableDocument) -> Option<&str> {
    match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|name| name.as_str())
        }
        _ => None,
    }
}

/// An operation's type as logs and metrics name it.
pub(crate) fn operation_type(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// HTTP 503 `TIMEOUT`: the request ran past its time limit.
fn timed_out(state: &AppState, request_id: &str) -> HttpResponse {
    tracing::warn!(
        timeout.secs = state.request_timeout.as_secs_f64(),
        "request cut off"
    );
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "TIMEOUT",
        &format!(
            "the request took longer than {} s and was cut off; ask for less data",
            state.request_timeout.as_secs_f64()
        ),
        request_id,
    )
}

/// HTTP 429 `RATE_LIMITED` with `Retry-After`: the user's budget holds
/// less than the request's cost.
pub(crate) fn rate_limited(
    requested: usize,
    throttled: &Throttled,
    request_id: &str,
) -> HttpResponse {
    access::note_error("RATE_LIMITED");
    let retry_after = throttled.retry_after_secs();
    let body = json!({
        "errors": [{
            "message": format!(
                "Throttled: this request costs {requested} points and your budget holds {:.0} \
                 (it refills at {} points a second); retry in {retry_after} s",
                throttled.status.currently_available, throttled.status.restore_rate
            ),
            "extensions": { "code": "RATE_LIMITED" },
        }],
        "extensions": {
            "requestId": request_id,
            "cost": serde_json::to_value(cost_extension(requested, 0, Some(throttled.status)))
                .unwrap_or_default(),
        },
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// `extensions.cost`, as Shopify reports it: what the query was charged
/// before it ran, what it cost as it ran, the limit, and the budget.
fn cost_extension(
    requested: usize,
    actual: usize,
    throttle: Option<ThrottleStatus>,
) -> async_graphql::Value {
    let mut map = async_graphql::indexmap::IndexMap::new();
    map.insert(
        async_graphql::Name::new("requestedQueryCost"),
        async_graphql::Value::from(requested as u64),
    );
    map.insert(
        async_graphql::Name::new("actualQueryCost"),
        async_graphql::Value::from(actual as u64),
    );
    map.insert(
        async_graphql::Name::new("maximumQueryCost"),
        async_graphql::Value::from(cost::MAX_COST as u64),
    );
    if let Some(status) = throttle {
        let mut t = async_graphql::indexmap::IndexMap::new();
        t.insert(
            async_graphql::Name::new("maximumAvailable"),
            async_graphql::Value::from(status.maximum_available.floor() as u64),
        );
        t.insert(
            async_graphql::Name::new("currentlyAvailable"),
            async_graphql::Value::from(status.currently_available.floor() as u64),
        );
        t.insert(
            async_graphql::Name::new("restoreRate"),
            async_graphql::Value::from(status.restore_rate),
        );
        map.insert(
            async_graphql::Name::new("throttleStatus"),
            async_graphql::Value::Object(t),
        );
    }
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
    if let Some(code) = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref()?.get("code"))
    {
        match code {
            async_graphql::Value::String(code) => access::note_error(code),
            _ => access::note_error("OTHER"),
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
    let principal = auth::verify(&state.jwt, state.idp.as_deref(), token)
        .await
        .map_err(|e| AppError::Unauthenticated(e.to_string()))?;
    let viewer = services::users::viewer_for(&state.db, &principal).await?;
    access::note(|f| {
        f.user_id = Some(viewer.user_id);
        f.role = Some(viewer.role);
    });
    Ok(viewer)
}

/// The media type of a response, as the client's `Accept` asks (GraphQL
/// over HTTP): `application/graphql-response+json` when listed and not
/// ranked below `application/json`, else `application/json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: HTTP 200 for every well-formed request.
    Json,
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphQLResponse,
}

/// `application/graphql-response+json`.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";

impl MediaType {
    /// Reads `Accept`.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let mut graphql = None;
        let mut json = None;
        for value in headers.get_all(header::ACCEPT) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                // Thousandths, so that weights compare exactly.
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u32);
                match mime.as_str() {
                    "application/graphql-response+json" => graphql = graphql.max(Some(q)),
                    "application/json" => json = json.max(Some(q)),
                    _ => {}
                }
            }
        }
        match (graphql, json) {
            (Some(g), j) if g > 0 && g >= j.unwrap_or(0) => Self::GraphQLResponse,
            _ => Self::Json,
        }
    }

    /// Gives a response this media type: its `Content-Type` and, for
    /// `application/graphql-response+json`, 400 for a request error
    /// (nothing ran, so no `data`) that `application/json` answers with 200.
    pub fn answer(self, mut response: HttpResponse) -> HttpResponse {
        if self == Self::Json {
            return response;
        }
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
            );
            if response.status() == StatusCode::OK
                && response.extensions().get::<RequestError>().is_some()
            {
                *response.status_mut() = StatusCode::BAD_REQUEST;
            }
        }
        response
    }
}

/// Marks a response to a request error: a request that did not run (it
/// did not parse or validate, or was refused before execution).
#[derive(Clone, Copy, Debug)]
pub struct RequestError;

/// Whether a GraphQL response answers a request error: no data, and no
/// error raised by a field (those have a path).
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// A response to a request error, as the GraphQL specification writes it:
/// without a `data` entry.
#[derive(serde::Serialize)]
struct WithoutData<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
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

/// Serialises a response within the size limit and the request's deadline.
/// A response with an `UNAVAILABLE` error is HTTP 503 with `Retry-After`
/// (the database is out of reach: retry); any other is HTTP 200.
fn json_response(
    response: Response,
    request_id: &str,
    deadline: Instant,
    max_bytes: usize,
) -> HttpResponse {
    let unavailable = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from("UNAVAILABLE"))
    });
    let request_error = is_request_error(&response);
    let mut body = BoundedBody::new(deadline, max_bytes);
    let written = if request_error {
        let errors = WithoutData {
            errors: &response.errors,
            extensions: &response.extensions,
        };
        serde_json::to_writer(&mut body, &errors)
    } else {
        serde_json::to_writer(&mut body, &response)
    };
    match written {
        Ok(()) => {
            let mut http = (
                if unavailable {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                },
                [(header::CONTENT_TYPE, "application/json")],
                body.bytes,
            )
                .into_response();
            if unavailable {
                http.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(RETRY_UNAVAILABLE_SECS),
                );
            }
            if request_error {
                http.extensions_mut().insert(RequestError);
            }
            http
        }
        Err(e) => match body.stopped {
            Some(Stop::TooLarge) => error_response(
                StatusCode::OK,
                "QUERY_TOO_COMPLEX",
                &format!("the response would be larger than {max_bytes} bytes; ask for less data"),
                request_id,
            ),
            Some(Stop::Deadline) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                "the request took longer than its time limit and was cut off; ask for less data",
                request_id,
            ),
            None => {
                tracing::error!(error = %e, "could not serialise a response");
                internal_error_response(request_id)
            }
        },
    }
}

/// `Retry-After` of a 503 `UNAVAILABLE`, in seconds.
pub const RETRY_UNAVAILABLE_SECS: u64 = 2;

/// Why serialisation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    TooLarge,
    Deadline,
}

/// A body buffer that refuses to grow past a size or past a deadline
/// (checked every 64 KiB).
struct BoundedBody {
    bytes: Vec<u8>,
    max_bytes: usize,
    deadline: Instant,
    checked_at: usize,
    stopped: Option<Stop>,
}

impl BoundedBody {
    fn new(deadline: Instant, max_bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(1024),
            max_bytes,
            deadline,
            checked_at: 0,
            stopped: None,
        }
    }
}

impl std::io::Write for BoundedBody {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + data.len() > self.max_bytes {
            self.stopped = Some(Stop::TooLarge);
            return Err(std::io::Error::other("response too large"));
        }
        if self.bytes.len() - self.checked_at >= 64 * 1024 {
            self.checked_at = self.bytes.len();
            if Instant::now() >= self.deadline {
                self.stopped = Some(Stop::Deadline);
                return Err(std::io::Error::other("deadline passed"));
            }
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// HTTP 500 `INTERNAL` with only the request id.
pub fn internal_error_response(request_id: &str) -> HttpResponse {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error; quote the requestId when reporting it",
        request_id,
    )
}

/// An [`AppError`] outside GraphQL execution as an HTTP response: 503 with
/// `Retry-After` when the database is unavailable, 500 for our failures
/// (logged), else its code with 400.
pub fn app_error_response(error: AppError, request_id: &str) -> HttpResponse {
    match error.code() {
        "UNAVAILABLE" => {
            let message = error.public_message();
            let _: async_graphql::Error = error.into(); // logs it
            let mut response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                &message,
                request_id,
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_UNAVAILABLE_SECS),
            );
            response
        }
        "INTERNAL" => {
            let _: async_graphql::Error = error.into(); // logs it
            internal_error_response(request_id)
        }
        code => error_response(
            StatusCode::BAD_REQUEST,
            code,
            &error.public_message(),
            request_id,
        ),
    }
}

/// A GraphQL-shaped error response with an HTTP status. One with status
/// 200 answers a request error ([`RequestError`]): with
/// `application/graphql-response+json` it becomes 400.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> HttpResponse {
    access::note_error(code);
    let mut response = (
        status,
        axum::Json(json!({
            "errors": [{ "message": message, "extensions": { "code": code } }],
            "extensions": { "requestId": request_id },
        })),
    )
        .into_response();
    if status == StatusCode::OK {
        response.extensions_mut().insert(RequestError);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_body_stops_at_its_size_limit() {
        let mut body = BoundedBody::new(Instant::now() + std::time::Duration::from_secs(60), 10);
        assert!(body.write_all(b"0123456789").is_ok());
        assert!(body.write_all(b"x").is_err());
        assert_eq!(body.stopped, Some(Stop::TooLarge));
        assert_eq!(body.bytes.len(), 10);
    }

    #[test]
    fn a_body_stops_once_its_deadline_has_passed() {
        let mut body = BoundedBody::new(Instant::now(), usize::MAX);
        let chunk = vec![b'x'; 64 * 1024];
        assert!(body.write_all(&chunk).is_ok());
        assert!(body.write_all(&chunk).is_err());
        assert_eq!(body.stopped, Some(Stop::Deadline));
    }

    #[test]
    fn a_response_with_an_unavailable_error_is_503_with_retry_after() {
        let mut error = ServerError::new("down", None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", "UNAVAILABLE");
        let response = json_response(
            Response::from_errors(vec![error]),
            "r",
            Instant::now() + std::time::Duration::from_secs(60),
            1 << 20,
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
