//! `Idempotency-Key` on `POST /graphql` mutations, as Stripe's API has it,
//! with the status codes of the IETF draft "The Idempotency-Key HTTP Header
//! Field" (docs/api.md "Retrying mutations safely"):
//!
//! - the first request with a key runs; if it committed a write, its
//!   status and body are stored for 24 hours;
//! - a retry with the same key and the same request gets that response
//!   again, byte for byte, with `Idempotent-Replayed: true`, and runs
//!   nothing;
//! - the same key with another request is 422, while the first request
//!   still runs 409 with `Retry-After: 1`; a malformed key is 400;
//! - a request that committed nothing (refused, invalid, failed, cut off
//!   before its commit) releases its key: its retry runs normally.
//!
//! Queries ignore the header. Storage and the crash rules are in
//! `services::idempotency`. The GraphQL handler calls three things here:
//! [`detached`] around a request that carries the header, [`claim`] before
//! the schema runs, and [`settle`] with the response built.

use std::{future::Future, time::Duration};

use async_graphql::{
    Request,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::Body,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tracing::Instrument;
use uuid::Uuid;

use super::{AppState, graphql::error_response};
use crate::{
    auth::Viewer,
    domain::idempotency::{IdempotencyKey, fingerprint},
    services::{
        self,
        idempotency::{Attempt, Claimed, StoredResponse},
        records::now,
    },
};

/// The request header.
pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header that marks a replayed response.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long after the request time limit a claim without a response is
/// taken for the claim of a server that stopped, and may be recovered.
pub const CLAIM_MARGIN: Duration = Duration::from_secs(60);

/// Whether the request carries an `Idempotency-Key` header.
pub fn is_keyed(headers: &HeaderMap) -> bool {
    headers.contains_key(KEY_HEADER)
}

/// Runs a keyed request on a task of its own, so that it runs to the end
/// and settles its key even when the client hangs up (a client that timed
/// out then finds the answer stored when it retries), and so that its
/// write transactions can be tracked.
pub async fn detached<F>(request_id: String, request: F) -> HttpResponse
where
    F: Future<Output = HttpResponse> + Send + 'static,
{
    // The task keeps the request's span, so its logs keep the request id,
    // the request's clock, and its access-log record.
    let request = services::idempotency::tracking(request).instrument(tracing::Span::current());
    let request = crate::telemetry::access::in_scope(on_current_clock(request));
    match tokio::spawn(request).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "a request with an Idempotency-Key failed");
            internal(&request_id)
        }
    }
}

/// `future` in the clock scope of the current task, for a task of its own.
async fn on_current_clock<F: Future>(future: F) -> F::Output {
    match crate::clock::current() {
        Some(clock) => crate::clock::scope(clock, future).await,
        None => future.await,
    }
}

/// A claimed key: the request may run, then must be [`settle`]d. Dropped
/// unsettled (an early return, a panic), it settles itself in the
/// background as if the response were lost.
#[must_use = "settle the claim with the response"]
pub struct Claim {
    db: DatabaseConnection,
    id: Uuid,
    settled: bool,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        services::idempotency::track(None);
        let (db, id, at) = (self.db.clone(), self.id, now());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = services::idempotency::settle(&db, id, &lost(), at).await {
                    tracing::error!(error = %e, idempotency_key.id = %id, "could not settle an abandoned Idempotency-Key");
                }
            });
        }
    }
}

/// Before the schema runs: when the request is a mutation with an
/// `Idempotency-Key`, claims the key for it (`Ok(Some)`), or returns the
/// answer to send instead (`Err`): the stored response, 409, 422, or 400
/// for a malformed key. `Ok(None)`: no key, or not a mutation.
pub async fn claim(
    state: &AppState,
    headers: &HeaderMap,
    viewer: &Viewer,
    request: &mut Request,
    request_id: &str,
) -> Result<Option<Claim>, HttpResponse> {
    let mut values = headers.get_all(KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if !is_mutation(request) {
        return Ok(None);
    }
    let bad = |message: &str| {
        error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            message,
            request_id,
        )
    };
    if values.next().is_some() {
        return Err(bad("send one Idempotency-Key header, not several"));
    }
    let raw = value.to_str().map_err(|_| {
        bad("the Idempotency-Key may hold only printable ASCII characters (space to ~); a UUID is a good key")
    })?;
    let key = IdempotencyKey::parse(raw).map_err(|message| bad(&message))?;
    let variables = serde_json::to_value(&request.variables).map_err(|e| {
        tracing::error!(error = %e, "could not read a request's variables as JSON");
        internal(request_id)
    })?;
    let attempt = Attempt {
        user_id: viewer.user_id,
        key: key.as_str(),
        fingerprint: &fingerprint(
            &request.query,
            request.operation_name.as_deref(),
            &variables,
        ),
    };
    if !services::idempotency::is_tracking() {
        // Without tracking, a write could not be told from no write.
        tracing::error!("an Idempotency-Key request runs outside `idempotency::detached`");
        return Err(internal(request_id));
    }
    let stale = state.request_timeout + CLAIM_MARGIN;
    match services::idempotency::claim(&state.db, attempt, now(), stale, lost).await {
        Ok(Claimed::Run(id)) => {
            services::idempotency::track(Some(id));
            Ok(Some(Claim {
                db: state.db.clone(),
                id,
                settled: false,
            }))
        }
        Ok(Claimed::Replay(stored)) => Err(replay(stored)),
        Ok(Claimed::InProgress) => {
            let mut response = error_response(
                StatusCode::CONFLICT,
                "CONFLICT",
                "a request with this Idempotency-Key is still running; retry after Retry-After seconds to get its response",
                request_id,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Ok(Claimed::Mismatch) => Err(error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "BAD_USER_INPUT",
            "this Idempotency-Key was already used with a different request (another query, operationName or variables); use a new key for a new request",
            request_id,
        )),
        Err(e) => {
            let _: async_graphql::Error = e.into(); // logs it
            Err(internal(request_id))
        }
    }
}

/// After the response is built: settles the claim (stores the response if
/// the request committed a write, else releases the key) and returns the
/// response unchanged. Without a claim it only returns the response.
pub async fn settle(claim: Option<Claim>, response: HttpResponse) -> HttpResponse {
    let Some(mut claim) = claim else {
        return response;
    };
    claim.settled = true;
    services::idempotency::track(None);
    let (parts, body) = response.into_parts();
    let (body, stored) = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            let stored = StoredResponse {
                status: parts.status.as_u16(),
                body: bytes.to_vec(),
            };
            (Body::from(bytes), stored)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read a response to store it");
            (Body::empty(), lost())
        }
    };
    if let Err(e) = services::idempotency::settle(&claim.db, claim.id, &stored, now()).await {
        // The claim stays; once stale, the next retry recovers it.
        tracing::error!(error = %e, idempotency_key.id = %claim.id, "could not settle an Idempotency-Key");
    }
    HttpResponse::from_parts(parts, body)
}

/// A stored response, sent again.
fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (REPLAYED_HEADER, HeaderValue::from_static("true")),
        ],
        stored.body,
    )
        .into_response()
}

/// The answer stored for a request that committed a write but whose
/// response was lost (its server stopped, or the response could not be
/// read): it must not run again, and it has nothing else to say.
fn lost() -> StoredResponse {
    let body = json!({
        "data": null,
        "errors": [{
            "message": "the first request with this Idempotency-Key saved changes, but its response was lost (the server stopped before recording it), so it is not run again; read the records back to see its result, and use a new key for a new request",
            "extensions": { "code": "INTERNAL" },
        }],
    });
    StoredResponse {
        status: StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
        body: body.to_string().into_bytes(),
    }
}

fn internal(request_id: &str) -> HttpResponse {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error; quote the requestId when reporting it",
        request_id,
    )
}

/// Whether the operation the request runs is a mutation (a document that
/// does not parse, or names no operation, is not: it fails as it would
/// without the key).
fn is_mutation(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    let operation = match (&doc.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
}
