//! GraphQL subscriptions over WebSocket at `/graphql/ws`, speaking the
//! `graphql-transport-ws` protocol (the `graphql-ws` library's protocol):
//! <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>.
//!
//! We implement the protocol here rather than use async-graphql's
//! `GraphQLWebSocket`, which closes with 1002/1011 where the protocol says
//! 4400/4401/4403, silently replaces a subscription whose id is reused
//! (protocol: 4409), has no initialisation timeout (4408) and never notices
//! a token expiring after `connection_init`.
//!
//! - The client opens the socket with subprotocol `graphql-transport-ws` and
//!   sends `connection_init` with its token in the payload
//!   (`{"token": "<jwt>"}` or `{"Authorization": "Bearer <jwt>"}`) within
//!   [`INIT_TIMEOUT`]. A missing or bad token closes with 4403.
//! - Only subscription operations run here (queries and mutations go to
//!   `POST /graphql`); the depth and cost limits are those of HTTP.
//! - When the token expires the socket closes with 4403; reconnect with a
//!   new token and resume with `after:`.
//! - The principal is checked again while the socket is open, not only at
//!   `connection_init`: before an event is delivered when the last check is
//!   older than the recheck interval ([`RECHECK_INTERVAL`] unless
//!   configured), and every interval without events. A user deactivated or
//!   given another role gets no further event; the socket closes with 4403.
//! - A client message over [`MAX_MESSAGE_BYTES`] (the HTTP body limit)
//!   closes the socket with 1009, the WebSocket code for a message too big.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::{
    Request, Response, ServerError,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::Response as HttpResponse,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::AbortHandle, time::Instant};

use super::{AppState, graphql};
use crate::{
    auth::{self, Viewer},
    error::AppError,
    event_hub::Reserved,
    graphql::loaders::Loaders,
    services,
    telemetry::access,
};

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most subscriptions running at once on one connection.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// How long a connection trusts its last check that the token's user is
/// still active with the token's role, unless `HANDOFF_WS_RECHECK_SECS`
/// says otherwise.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(5);
/// Largest message (and frame) a client may send: the HTTP body limit.
pub const MAX_MESSAGE_BYTES: usize = graphql::MAX_BODY_BYTES;

/// Close codes of the protocol.
mod close {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
    /// RFC 6455's "message too big".
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// RFC 6455's "going away": the server shuts down.
    pub const GOING_AWAY: u16 = 1001;
}

/// `GET /graphql/ws`: upgrades to a `graphql-transport-ws` socket.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> HttpResponse {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !state.cors.admits(&headers) {
        return graphql::error_response(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "WebSockets from this page's origin are not allowed: \
             add the origin to HANDOFF_CORS_ALLOWED_ORIGINS",
            &graphql::request_id(&headers),
        );
    }
    let request_id = graphql::request_id(&headers);
    if !offered {
        return graphql::error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "open the WebSocket with subprotocol `graphql-transport-ws`",
            &request_id,
        );
    }
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            // The socket's statements are counted for its access line.
            let connection = Connection::new(state.clone(), socket, request_id).run();
            access::scope(
                Arc::new(access::Record::default()),
                crate::clock::scope(state.clock.clone(), connection),
            )
        })
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
}

/// What a subscription task hands back to the connection.
enum Outgoing {
    Next(Response),
    Error(Vec<ServerError>),
    Complete,
}

/// Why the server closes the socket.
struct Close(u16, String);

/// What `connection_init` established.
struct Session {
    /// The token, checked again while the socket is open.
    token: String,
    /// When the token expires.
    expires: Instant,
    /// When the token and its user last passed [`authenticate`], by the
    /// server's clock.
    checked_at: Duration,
}

struct Connection {
    state: AppState,
    socket: WebSocket,
    /// For log lines and error responses: the upgrade request's id.
    id: String,
    /// When the socket opened.
    opened: Instant,
    /// Subscriptions started, for the access line.
    subscriptions: u64,
    /// Events sent, for the access line.
    events: u64,
    /// Subscriptions running, as last reported to the metrics.
    reported_running: usize,
    /// Set by `connection_init`.
    session: Option<Session>,
    /// Running subscriptions by client id, with a generation number so a
    /// late message of a finished one is not mistaken for its successor.
    running: HashMap<String, (u64, AbortHandle)>,
    generation: u64,
    outgoing_tx: mpsc::Sender<(String, u64, Outgoing)>,
    outgoing_rx: mpsc::Receiver<(String, u64, Outgoing)>,
}

impl Connection {
    fn new(state: AppState, socket: WebSocket, request_id: String) -> Self {
        let (outgoing_tx, outgoing_rx) = mpsc::channel(64);
        Self {
            state,
            socket,
            id: request_id,
            opened: Instant::now(),
            subscriptions: 0,
            events: 0,
            reported_running: 0,
            session: None,
            running: HashMap::new(),
            generation: 0,
            outgoing_tx,
            outgoing_rx,
        }
    }

    async fn run(mut self) {
        self.state.metrics.ws_connections(1);
        let init_deadline = Instant::now() + INIT_TIMEOUT;
        let mut closing = self.state.closing.clone();
        // The close code for the access line when the client closes.
        let mut client_close = 1006;
        let closed = loop {
            self.report_running();
            let expiry = self.session.as_ref().map(|s| s.expires);
            let interval = self.state.ws_recheck_interval;
            // A periodic check only with a positive interval (0 checks
            // before every event instead).
            let next_check = self
                .session
                .as_ref()
                .filter(|_| !interval.is_zero())
                .map(|s| s.checked_at + interval);
            tokio::select! {
                _ = async { closing.wait_for(|closing| *closing).await.is_ok() } => {
                    break Some(Close(
                        close::GOING_AWAY,
                        "Going away: the server is shutting down; reconnect and resume after your last event id".into(),
                    ));
                }
                _ = tokio::time::sleep_until(init_deadline), if self.session.is_none() => {
                    break Some(Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                _ = tokio::time::sleep_until(expiry.unwrap_or(init_deadline)), if expiry.is_some() => {
                    break Some(Close(close::FORBIDDEN, "Forbidden: the token expired; reconnect with a new one".into()));
                }
                _ = self.state.clock.sleep_until(next_check.unwrap_or_default()), if next_check.is_some() => {
                    if let Err(close) = self.recheck().await {
                        break Some(close);
                    }
                }
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Err(close) = self.on_text(text.as_str()).await {
                            break Some(close);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break Some(Close(close::BAD_REQUEST, "binary messages are not part of the protocol".into()));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Err(e)) if is_too_big(&e) => {
                        break Some(Close(
                            close::MESSAGE_TOO_BIG,
                            format!("Message too big: at most {MAX_MESSAGE_BYTES} bytes"),
                        ));
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // RFC 6455: 1005 when the frame has no code.
                        client_close = frame.map_or(1005, |f| f.code);
                        break None;
                    }
                    Some(Err(_)) | None => break None,
                },
                Some((id, generation, message)) = self.outgoing_rx.recv() => {
                    if let Err(close) = self.on_outgoing(id, generation, message).await {
                        break Some(close);
                    }
                }
            }
        };
        for (_, (_, task)) in self.running.drain() {
            task.abort();
        }
        self.report_running();
        self.state.metrics.ws_connections(-1);
        let close_code = closed.as_ref().map_or(client_close, |Close(code, _)| *code);
        self.log_closed(close_code);
        if let Some(Close(code, reason)) = closed {
            tracing::debug!(ws.connection = %self.id, ws.close = code, %reason, "closing");
            let _ = self
                .socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
    }

    /// Brings the metrics' count of running subscriptions up to date.
    fn report_running(&mut self) {
        let now = self.running.len();
        if now != self.reported_running {
            let delta = now as i64 - self.reported_running as i64;
            self.state.metrics.ws_subscriptions(delta);
            self.reported_running = now;
        }
    }

    /// The socket's access line: who, how long, how much, how it closed.
    fn log_closed(&self, close_code: u16) {
        let record = access::current();
        let fields = record.as_ref().map(|r| r.fields()).unwrap_or_default();
        tracing::event!(
            target: "handoff::access",
            tracing::Level::INFO,
            request.id = %self.id,
            user.id = fields.user_id.map(tracing::field::display),
            user.role = fields.role.map(|r| r.as_str()),
            http.path = "/graphql/ws",
            http.status = 101,
            ws.subscriptions = self.subscriptions,
            ws.events = self.events,
            ws.close_code = close_code,
            db.statements = record.as_ref().map_or(0, |r| r.statements()),
            duration_ms = crate::http::millis(self.opened.elapsed()),
            "websocket closed"
        );
    }

    async fn send(&mut self, message: Value) -> Result<(), axum::Error> {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
            Close(
                close::BAD_REQUEST,
                format!("invalid message: {}", truncate(&e.to_string())),
            )
        })?;
        let sent = match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.session.is_some() {
                    return Err(Close(
                        close::TOO_MANY_INITS,
                        "Too many initialisation requests".into(),
                    ));
                }
                let token = token_of(payload.as_ref()).ok_or_else(|| {
                    Close(
                        close::FORBIDDEN,
                        "Forbidden: send the token in the connection_init payload as {\"token\": \"<jwt>\"}"
                            .into(),
                    )
                })?;
                let (_, expires) = authenticate(&self.state, &token).await?;
                self.session = Some(Session {
                    token,
                    expires,
                    checked_at: self.state.clock.now(),
                });
                self.send(json!({ "type": "connection_ack" })).await
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                self.send(pong).await
            }
            ClientMessage::Pong {} => Ok(()),
            ClientMessage::Subscribe { id, payload } => return self.subscribe(id, *payload).await,
            ClientMessage::Complete { id } => {
                if let Some((_, task)) = self.running.remove(&id) {
                    task.abort();
                }
                Ok(())
            }
        };
        sent.map_err(|_| Close(1011, "socket write failed".into()))
    }

    async fn subscribe(&mut self, id: String, mut request: Request) -> Result<(), Close> {
        let Some(session) = self.session.as_mut() else {
            return Err(Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        if self.running.contains_key(&id) {
            return Err(Close(
                close::DUPLICATE_ID,
                truncate(&format!("Subscriber for {id} already exists")),
            ));
        }
        // The user may have been deactivated or demoted since init.
        let (viewer, _) = authenticate(&self.state, &session.token).await?;
        session.checked_at = self.state.clock.now();
        if self.running.len() >= MAX_SUBSCRIPTIONS {
            return self
                .refuse(
                    &id,
                    &format!("at most {MAX_SUBSCRIPTIONS} subscriptions may run on one connection"),
                    "BAD_USER_INPUT",
                )
                .await;
        }
        // Persisted queries and trusted documents, as over HTTP.
        if let Err(refusal) = self
            .state
            .documents
            .resolve(viewer.role, &mut request, None)
        {
            return self.refuse(&id, &refusal.message(), refusal.code()).await;
        }
        let requested = match self.check_operation(&mut request) {
            Ok(cost) => cost,
            Err((message, code)) => return self.refuse(&id, &message, code).await,
        };
        // Starting a subscription is charged to the budget like a request
        // (its events are not: each is held to the cost limit instead).
        if let Some(Err(throttled)) = self.state.throttle.take(viewer.user_id, requested) {
            self.state.metrics.rate_limited("/graphql/ws");
            let message = format!(
                "Throttled: this subscription costs {requested} points and your budget holds {:.0}; retry in {} s",
                throttled.status.currently_available,
                throttled.retry_after_secs()
            );
            return self.refuse(&id, &message, "RATE_LIMITED").await;
        }

        // Fix where the subscription starts now, before the next message
        // is read, so a `pong` to a later `ping` means it has started.
        let reserved = match self.state.events.subscribe().await {
            Ok(subscription) => Reserved::new(subscription),
            Err(e) => {
                tracing::error!(error = %e, "cannot start an event subscription");
                return self
                    .refuse(&id, "the event stream is unavailable; retry", "INTERNAL")
                    .await;
            }
        };
        let request = request
            .data(viewer)
            .data(std::sync::Arc::new(Loaders::new(self.state.db.clone())))
            .data(self.state.metrics.clone())
            .data(self.state.events.clone())
            .data(reserved);
        let mut stream = self.state.schema.execute_stream(request);
        self.generation += 1;
        let generation = self.generation;
        let tx = self.outgoing_tx.clone();
        let subscription = id.clone();
        let clock = self.state.clock.clone();
        let task = tokio::spawn(access::in_scope(crate::clock::scope(clock, async move {
            let mut first = true;
            while let Some(response) = stream.next().await {
                // A request that fails before it starts (validation,
                // arguments, permissions) gets `error`, not `next`.
                let message = if first && response.is_err() && response.data == Default::default() {
                    Outgoing::Error(response.errors)
                } else {
                    Outgoing::Next(response)
                };
                let stop = matches!(message, Outgoing::Error(_));
                first = false;
                if tx
                    .send((subscription.clone(), generation, message))
                    .await
                    .is_err()
                    || stop
                {
                    return;
                }
            }
            let _ = tx
                .send((subscription, generation, Outgoing::Complete))
                .await;
        })));
        self.running.insert(id, (generation, task.abort_handle()));
        self.subscriptions += 1;
        Ok(())
    }

    /// Sends an `error` for a subscription that does not start.
    async fn refuse(&mut self, id: &str, message: &str, code: &str) -> Result<(), Close> {
        let mut error = ServerError::new(message, None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
        self.send(json!({ "type": "error", "id": id, "payload": [error] }))
            .await
            .map_err(|_| Close(1011, "socket write failed".into()))
    }

    /// Refuses what this endpoint does not run, with the HTTP limits; the
    /// requested cost of what it runs.
    fn check_operation(&self, request: &mut Request) -> Result<usize, (String, &'static str)> {
        let operation_name = request.operation_name.clone();
        let variables = request.variables.clone();
        // Parse errors are reported by execution itself.
        let Ok(doc) = request.parsed_query() else {
            return Ok(0);
        };
        let op = match (&doc.operations, operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            _ => None,
        };
        let Some(op) = op else { return Ok(0) };
        if op.node.ty != OperationType::Subscription {
            return Err((
                "only subscriptions run over WebSocket; send queries and mutations to POST /graphql"
                    .into(),
                "BAD_USER_INPUT",
            ));
        }
        self.state
            .cost
            .requested(doc, &op.node, &variables)
            .map_err(|refusal| (refusal.message(), "QUERY_TOO_COMPLEX"))
    }

    /// Checks again that the token holds (its user is active and still has
    /// its role) when the last check is older than the recheck interval;
    /// a failure is the 4403 to close with.
    async fn recheck(&mut self) -> Result<(), Close> {
        let interval = self.state.ws_recheck_interval;
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        if self.state.clock.now().saturating_sub(session.checked_at) < interval {
            return Ok(());
        }
        authenticate(&self.state, &session.token).await?;
        session.checked_at = self.state.clock.now();
        Ok(())
    }

    async fn on_outgoing(
        &mut self,
        id: String,
        generation: u64,
        message: Outgoing,
    ) -> Result<(), Close> {
        // Only for the subscription that is still running under this id.
        if self.running.get(&id).map(|(g, _)| *g) != Some(generation) {
            return Ok(());
        }
        let sent = match message {
            Outgoing::Next(response) => {
                // The event was resolved for the principal as it was at
                // subscribe time: deliver it only if that still holds.
                self.recheck().await?;
                self.events += 1;
                self.state.metrics.event_delivered();
                let response = graphql::finish(response, &self.id);
                self.send(json!({ "type": "next", "id": id, "payload": response }))
                    .await
            }
            Outgoing::Error(errors) => {
                self.running.remove(&id);
                let response = graphql::finish(Response::from_errors(errors), &self.id);
                self.send(json!({ "type": "error", "id": id, "payload": response.errors }))
                    .await
            }
            Outgoing::Complete => {
                self.running.remove(&id);
                self.send(json!({ "type": "complete", "id": id })).await
            }
        };
        sent.map_err(|e| {
            tracing::debug!(ws.connection = %self.id, error = %e, "socket write failed");
            Close(1011, "socket write failed".into())
        })
    }
}

/// Whether a read failed because the client's message (or frame) is over
/// [`MAX_MESSAGE_BYTES`].
fn is_too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                tungstenite::Error::Capacity(
                    tungstenite::error::CapacityError::MessageTooLong { .. }
                )
            )
        })
}

/// Checks the token and its user; the token's expiry as an instant.
async fn authenticate(state: &AppState, token: &str) -> Result<(Viewer, Instant), Close> {
    let forbidden = |why: String| Close(close::FORBIDDEN, truncate(&format!("Forbidden: {why}")));
    let principal = auth::verify(&state.jwt, state.idp.as_deref(), token)
        .await
        .map_err(|e| forbidden(e.to_string()))?;
    let viewer = services::users::viewer_for(&state.db, &principal)
        .await
        .inspect(|viewer| {
            access::note(|f| {
                f.user_id = Some(viewer.user_id);
                f.role = Some(viewer.role);
            })
        })
        .map_err(|e| match e {
            AppError::Unauthenticated(why) | AppError::Forbidden(why) => forbidden(why),
            // The user could not be checked (the database): closed, since
            // nothing may be delivered unchecked, but not as a refusal and
            // without the detail.
            other => {
                tracing::error!(error = %other, "cannot check a WebSocket user");
                Close(1011, "Internal error; reconnect".into())
            }
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let left = Duration::from_secs(principal.exp.saturating_sub(now));
    Ok((viewer, Instant::now() + left))
}

/// The token in a `connection_init` payload: `token`, or an
/// `Authorization`/`authorization` value with or without `Bearer `.
fn token_of(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
    let raw = ["token", "Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(*key)?.as_str())?;
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw)
        .trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Close reasons must fit in 123 bytes.
fn truncate(reason: &str) -> String {
    if reason.len() <= 123 {
        return reason.to_owned();
    }
    let mut end = 120;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_usual_payload_shapes() {
        assert_eq!(
            token_of(Some(&json!({"token": "abc"}))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_of(Some(&json!({"Authorization": "Bearer abc"}))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_of(Some(&json!({"authorization": "abc"}))).as_deref(),
            Some("abc")
        );
        assert_eq!(token_of(Some(&json!({"token": ""}))), None);
        assert_eq!(token_of(Some(&json!({"other": "abc"}))), None);
        assert_eq!(token_of(None), None);
    }

    #[test]
    fn close_reasons_fit_the_frame() {
        let long = "é".repeat(100);
        assert!(truncate(&long).len() <= 123);
        assert_eq!(truncate("short"), "short");
    }
}
