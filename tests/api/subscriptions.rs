//! Subscriptions over a real WebSocket with the graphql-transport-ws
//! protocol: authentication in `connection_init`, protocol errors, event
//! filters, resuming after the last event, and (on PostgreSQL) events that
//! cross from one server to another.

use std::time::Duration;

use entity::enums::Role::{self, *};
use futures_util::{SinkExt, StreamExt};
use handoff::{Application, config::Config, db};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use test_macros::db_test;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::common::{
    TestApp, each_backend_with, eventually, lead_definition, manual_clock, postgres,
};

pub(crate) const EVENTS: &str = "subscription($kinds: [EventKind!], $owner: ID, $after: ID) { events(kinds: $kinds, ownerId: $owner, after: $after) { id kind occurredAt subjectId fromStage toStage reason fitScore definitionVersion owner { id } lead { id stage } leadDefinition { version status } } }";

/// How long a test waits for a message it expects.
const WAIT: Duration = Duration::from_secs(10);

/// A graphql-transport-ws client over a real socket.
pub(crate) struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Opens `/graphql/ws` with the protocol's subprotocol.
    pub(crate) async fn open(base: &str) -> Self {
        let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, response) = connect_async(request).await.expect("websocket handshake");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Self { socket }
    }

    /// Opens, initialises with `token` and expects the ack.
    pub(crate) async fn connect(base: &str, token: &str) -> Self {
        let mut client = Self::open(base).await;
        client
            .send(json!({ "type": "connection_init", "payload": { "token": token } }))
            .await;
        assert_eq!(client.next().await["type"], "connection_ack");
        client
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Closes the socket normally (1000) from the client's side.
    pub(crate) async fn close(mut self) {
        self.socket
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "done".into(),
            }))
            .await
            .expect("close");
    }

    /// Starts the event subscription `id` with these variables.
    pub(crate) async fn subscribe(&mut self, id: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": EVENTS, "variables": variables },
        }))
        .await;
    }

    /// The next protocol message; fails the test after [`WAIT`] or if the
    /// server closes.
    pub(crate) async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message in time")
                .expect("the socket to stay open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(close) => panic!("closed unexpectedly: {close:?}"),
                _ => continue,
            }
        }
    }

    /// The payload of the next `next` message for subscription `id`.
    pub(crate) async fn event(&mut self, id: &str) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"]["events"].clone()
    }

    /// Asserts that nothing arrives for a moment.
    async fn expect_silence(&mut self) {
        if let Ok(Some(frame)) =
            tokio::time::timeout(Duration::from_millis(700), self.socket.next()).await
        {
            panic!("expected nothing, got {frame:?}");
        }
    }

    /// The code the server closes with, failing the test if any protocol
    /// message (an event) arrives first.
    async fn closes_with_nothing_before(&mut self) -> u16 {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("the server to close in time");
            match frame {
                Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
                Some(Ok(Message::Text(text))) => panic!("expected the socket to close, got {text}"),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// The code the server closes with.
    async fn close_code(&mut self) -> u16 {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("the server to close in time");
            match frame {
                Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

/// Approves the shared definition (fit 80 for the ideal lead, a DEMO_REQUEST
/// 40 engagement, MQL at fit 50 and engagement 30); returns its id.
async fn approve(app: &TestApp) -> String {
    app.approve_definition(lead_definition(50, 30)).await
}

/// A VP at a fitting account who asked for a demo: an MQL once a
/// definition is approved.
async fn ideal_lead(app: &TestApp, email: &str) -> String {
    let account = app
        .gql(Admin, "mutation { createAccount(input: {name: \"Fitco\", industry: \"software\", employeeCount: 250, country: \"US\"}) { account { id } } }", json!({}))
        .await["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = app
        .create_lead(email, json!({ "accountId": account, "seniority": "VP" }))
        .await;
    let data = app
        .gql(
            Marketing,
            "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { lead { stage } userErrors { code } } }",
            json!({ "i": { "leadId": lead, "kind": "DEMO_REQUEST" } }),
        )
        .await;
    assert_eq!(data["recordActivity"]["lead"]["stage"], "MQL", "{data}");
    lead
}

async fn lead_move(app: &TestApp, role: Role, mutation: &str, input: Value) {
    let input_type = if mutation == "rejectLead" {
        "RejectLeadInput!"
    } else {
        "LeadMoveInput!"
    };
    let data = app
        .gql(
            role,
            &format!("mutation($i: {input_type}) {{ {mutation}(input: $i) {{ userErrors {{ code message }} }} }}"),
            json!({ "i": input }),
        )
        .await;
    assert_eq!(data[mutation]["userErrors"], json!([]), "{data}");
}

#[tokio::test]
async fn the_socket_refuses_clients_that_do_not_speak_the_protocol() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    // No subprotocol: a plain HTTP error before any upgrade.
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let refused = connect_async(url).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }

    // A bad token: 4403.
    let mut client = Client::open(&app.base).await;
    client
        .send(json!({ "type": "connection_init", "payload": { "token": "not-a-jwt" } }))
        .await;
    assert_eq!(client.close_code().await, 4403);

    // No token at all: 4403.
    let mut client = Client::open(&app.base).await;
    client.send(json!({ "type": "connection_init" })).await;
    assert_eq!(client.close_code().await, 4403);

    // Subscribing before the ack: 4401.
    let mut client = Client::open(&app.base).await;
    client.subscribe("1", json!({})).await;
    assert_eq!(client.close_code().await, 4401);

    // Not JSON: 4400.
    let mut client = Client::open(&app.base).await;
    client
        .socket
        .send(Message::Text("hello".into()))
        .await
        .unwrap();
    assert_eq!(client.close_code().await, 4400);

    // A second init: 4429.
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    client
        .send(json!({ "type": "connection_init", "payload": { "token": app.token(Admin) } }))
        .await;
    assert_eq!(client.close_code().await, 4429);

    // The same id twice while the first runs: 4409.
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    client.subscribe("dup", json!({})).await;
    client.subscribe("dup", json!({})).await;
    assert_eq!(client.close_code().await, 4409);
}

#[tokio::test]
async fn a_connection_closes_with_4403_when_its_token_expires() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let token = app
        .config
        .jwt
        .mint(app.user_id(Sales), Sales, Duration::from_secs(2))
        .unwrap();
    let mut client = Client::connect(&app.base, &token).await;
    client.subscribe("1", json!({})).await;
    assert_eq!(client.close_code().await, 4403);
}

#[db_test]
async fn only_subscriptions_run_on_the_socket_and_bad_ones_get_an_error(app: TestApp) {
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    // Ping and pong.
    client
        .send(json!({ "type": "ping", "payload": { "n": 1 } }))
        .await;
    assert_eq!(
        client.next().await,
        json!({ "type": "pong", "payload": { "n": 1 } })
    );

    client
        .send(
            json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ viewer { id } }" } }),
        )
        .await;
    let error = client.next().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "q");
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{error}"
    );

    // An unknown field is a validation error, sent as `error`.
    client
        .send(json!({ "id": "v", "type": "subscribe", "payload": { "query": "subscription { events { nope } }" } }))
        .await;
    let error = client.next().await;
    assert_eq!(error["type"], "error", "{error}");
    assert!(
        error["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{error}"
    );

    // A resume point that is not an event id.
    client
        .subscribe("bad", json!({ "after": app.user_gid(Admin) }))
        .await;
    let error = client.next().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{error}"
    );

    // The socket is still usable.
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");
}

#[db_test]
async fn subscribers_hear_lead_events_as_they_commit_filtered_by_kind_and_owner(app: TestApp) {
    let mut all = Client::connect(&app.base, &app.token(Marketing)).await;
    all.subscribe("all", json!({})).await;
    let mut accepted = Client::connect(&app.base, &app.token(Sales)).await;
    accepted
        .subscribe(
            "mine",
            json!({ "kinds": ["LEAD_ACCEPTED"], "owner": app.user_gid(Sales) }),
        )
        .await;
    // Subscriptions start when the server has them; a round trip
    // through the socket makes sure.
    for client in [&mut all, &mut accepted] {
        client.send(json!({ "type": "ping" })).await;
        assert_eq!(client.next().await["type"], "pong");
    }

    let definition = approve(&app).await;
    let approved = all.event("all").await;
    assert_eq!(approved["kind"], "DEFINITION_APPROVED");
    assert_eq!(approved["subjectId"], definition);
    assert_eq!(approved["definitionVersion"], 1);
    assert_eq!(approved["leadDefinition"]["status"], "APPROVED");

    let lead = ideal_lead(&app, "vp@fitco.example").await;
    let mql = all.event("all").await;
    assert_eq!(mql["kind"], "LEAD_BECAME_MQL");
    assert_eq!(mql["lead"]["id"], lead);
    assert_eq!(mql["subjectId"], lead);
    assert_eq!(mql["fitScore"], 80);
    assert_eq!(mql["lead"]["stage"], "MQL");

    lead_move(&app, Sales, "claimLead", json!({ "id": lead })).await;
    lead_move(&app, Sales, "acceptLead", json!({ "id": lead })).await;
    let event = all.event("all").await;
    assert_eq!(event["kind"], "LEAD_ACCEPTED");
    assert_eq!(event["fromStage"], "MQL");
    assert_eq!(event["toStage"], "SAL");
    assert_eq!(event["owner"]["id"], app.user_gid(Sales));
    // The filtered subscriber heard only this one.
    let mine = accepted.event("mine").await;
    assert_eq!(mine["id"], event["id"]);
    assert_eq!(mine["lead"]["stage"], "SAL");

    // A second lead, unowned, rejected by ADMIN: not SALES' event.
    let other = ideal_lead(&app, "vp2@fitco.example").await;
    assert_eq!(all.event("all").await["kind"], "LEAD_BECAME_MQL");
    lead_move(
        &app,
        Admin,
        "rejectLead",
        json!({ "id": other, "reason": "WRONG_PERSONA" }),
    )
    .await;
    let rejected = all.event("all").await;
    assert_eq!(rejected["kind"], "LEAD_REJECTED");
    assert_eq!(rejected["reason"], "WRONG_PERSONA");
    assert_eq!(rejected["toStage"], "NURTURE");
    accepted.expect_silence().await;

    // `complete` stops a subscription; the connection stays.
    all.send(json!({ "id": "all", "type": "complete" })).await;
    let third = ideal_lead(&app, "vp3@fitco.example").await;
    assert!(!third.is_empty());
    all.expect_silence().await;
}

#[db_test]
async fn a_subscriber_that_reconnects_resumes_after_its_last_event_without_a_gap(app: TestApp) {
    approve(&app).await;
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    client
        .subscribe("s", json!({ "kinds": ["LEAD_BECAME_MQL"] }))
        .await;
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");
    let first = ideal_lead(&app, "a@fitco.example").await;
    let seen = client.event("s").await;
    assert_eq!(seen["lead"]["id"], first);
    drop(client);

    // While nobody listens, three more leads become MQL.
    let mut missed = Vec::new();
    for email in ["b@fitco.example", "c@fitco.example", "d@fitco.example"] {
        missed.push(ideal_lead(&app, email).await);
    }

    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    client
        .subscribe(
            "s",
            json!({ "kinds": ["LEAD_BECAME_MQL"], "after": seen["id"] }),
        )
        .await;
    for lead in &missed {
        assert_eq!(client.event("s").await["lead"]["id"], *lead);
    }
    // Then live events follow, each once.
    let live = ideal_lead(&app, "e@fitco.example").await;
    assert_eq!(client.event("s").await["lead"]["id"], live);
    client.expect_silence().await;
}

/// A second server over the same PostgreSQL schema as `app`, as a replica
/// would run; dropping the sender stops it.
async fn replica(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let schema = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS s",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "s")
        .unwrap();
    let db = db::connect_with(&app.config, |opt| {
        opt.set_schema_search_path(schema.clone());
    })
    .await
    .unwrap();
    let server = Application::build(&app.config, db).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async {
        stopped.await.ok();
    }));
    (base, stop)
}

#[db_test(postgres_only)]
async fn events_cross_from_one_replica_to_another_on_postgres(app: TestApp) {
    let (other, _stop) = replica(&app).await;

    let mut client = Client::connect(&other, &app.token(Sales)).await;
    client.subscribe("s", json!({})).await;
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");

    // Written through the first server, heard on the second.
    approve(&app).await;
    assert_eq!(client.event("s").await["kind"], "DEFINITION_APPROVED");
    let lead = ideal_lead(&app, "vp@fitco.example").await;
    let event = client.event("s").await;
    assert_eq!(event["kind"], "LEAD_BECAME_MQL");
    assert_eq!(event["lead"]["id"], lead);
}

#[db_test]
async fn every_role_may_subscribe_but_reporting_gets_no_personal_fields(app: TestApp) {
    approve(&app).await;
    let mut clients = Vec::new();
    for role in crate::common::ROLES {
        let mut client = Client::connect(&app.base, &app.token(role)).await;
        client
            .send(json!({
                "id": "p",
                "type": "subscribe",
                "payload": { "query": "subscription { events(kinds: [LEAD_BECAME_MQL]) { kind lead { email } } }" },
            }))
            .await;
        client.send(json!({ "type": "ping" })).await;
        assert_eq!(client.next().await["type"], "pong");
        clients.push((role, client));
    }
    ideal_lead(&app, "private@fitco.example").await;
    for (role, client) in &mut clients {
        let message = client.next().await;
        assert_eq!(message["type"], "next", "{role:?}: {message}");
        let payload = &message["payload"];
        assert_eq!(
            payload["data"]["events"]["kind"], "LEAD_BECAME_MQL",
            "{role:?}"
        );
        if *role == Reporting {
            assert_eq!(payload["data"]["events"]["lead"]["email"], Value::Null);
            assert_eq!(
                payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{payload}"
            );
        } else {
            assert_eq!(
                payload["data"]["events"]["lead"]["email"], "private@fitco.example",
                "{role:?}: {payload}"
            );
        }
    }
}

/// The gap the event stream must not have: a transaction that wrote an
/// event first but commits after a later one. Read by `seq`, a reader that
/// passed the later event would never see the earlier one.
#[db_test(postgres_only)]
async fn an_event_that_commits_late_is_held_back_not_skipped_on_postgres(app: TestApp) {
    use entity::event::EventKind;
    use handoff::services::events::{NewEvent, emit, read_after, settled_head};
    use sea_orm::TransactionTrait;

    let event = |kind| NewEvent {
        kind,
        subject_id: uuid::Uuid::now_v7(),
        owner_id: None,
        at: chrono::Utc::now(),
        data: None,
    };
    let start = settled_head(&app.db).await.unwrap();

    let early = app.db.begin().await.unwrap();
    emit(&early, vec![event(EventKind::LeadAccepted)])
        .await
        .unwrap();
    let late = app.db.begin().await.unwrap();
    emit(&late, vec![event(EventKind::LeadRejected)])
        .await
        .unwrap();
    late.commit().await.unwrap();

    // The second event is committed and has the higher seq, but the first
    // transaction is still open: nothing may be released yet.
    assert_eq!(read_after(&app.db, start, 100).await.unwrap(), vec![]);

    early.commit().await.unwrap();
    let read = eventually("both events to be released", async || {
        let read = read_after(&app.db, start, 100).await.unwrap();
        // Other tests' transactions on the same server may hold it back a
        // little longer.
        (read.len() == 2).then_some(read)
    })
    .await;
    let kinds: Vec<_> = read.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![EventKind::LeadAccepted, EventKind::LeadRejected]
    );
    assert!(read[0].seq < read[1].seq);
}

/// A long transaction in another database of the same server cannot write
/// our events, so it does not hold them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_in_another_database_does_not_hold_events_back_on_postgres() {
    use entity::event::EventKind;
    use handoff::services::events::{NewEvent, emit, read_after, settled_head};
    use sea_orm::TransactionTrait;

    let Some(crate::common::Backend::Postgres(url)) = postgres() else {
        return;
    };
    let app = TestApp::spawn(crate::common::Backend::Postgres(url.clone())).await;
    // The server's maintenance database, `postgres`, always exists.
    let Some((server, _)) = url.rsplit_once('/') else {
        panic!("TEST_DATABASE_URL has no database: {url}");
    };
    let elsewhere = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    let long = elsewhere.begin().await.unwrap();
    long.execute_unprepared("SELECT pg_current_xact_id()")
        .await
        .unwrap();

    let start = settled_head(&app.db).await.unwrap();
    let ours = app.db.begin().await.unwrap();
    emit(
        &ours,
        vec![NewEvent {
            kind: EventKind::LeadAccepted,
            subject_id: uuid::Uuid::now_v7(),
            owner_id: None,
            at: chrono::Utc::now(),
            data: None,
        }],
    )
    .await
    .unwrap();
    ours.commit().await.unwrap();

    let read = eventually(
        "our event, held back by another database's transaction",
        async || {
            let read = read_after(&app.db, start, 100).await.unwrap();
            (!read.is_empty()).then_some(read)
        },
    )
    .await;
    assert_eq!(read.len(), 1, "held back by another database's transaction");
    long.rollback().await.unwrap();
}

/// Changes the seeded user of `role` as ADMIN (`{"active": false}`,
/// `{"role": "REPORTING"}`).
async fn update_user(app: &TestApp, role: Role, changes: Value) {
    let mut input = changes;
    input["id"] = json!(app.user_gid(role));
    let data = app
        .gql(
            Admin,
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } userErrors { message } } }",
            json!({ "i": input }),
        )
        .await;
    assert_eq!(data["updateUser"]["userErrors"], json!([]), "{data}");
}

/// Subscribes as LEADERSHIP (a role no fixture step needs) to the lead
/// events with a personal field, and waits until the subscription runs.
async fn leadership_listening(app: &TestApp) -> Client {
    let mut client = Client::connect(&app.base, &app.token(Leadership)).await;
    client
        .send(json!({
            "id": "s",
            "type": "subscribe",
            "payload": { "query": "subscription { events(kinds: [LEAD_BECAME_MQL]) { kind lead { email } } }" },
        }))
        .await;
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");
    client
}

// Not `#[db_test]`: these need a configuration (the recheck interval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deactivated_or_demoted_while_subscribed_gets_no_further_event_and_is_closed_with_4403()
 {
    for change in [json!({ "active": false }), json!({ "role": "REPORTING" })] {
        // Checked before every event, so the test needs no clock.
        each_backend_with(
            |c| c.ws_recheck_interval = Duration::ZERO,
            async |app| {
                approve(&app).await;
                let mut client = leadership_listening(&app).await;
                // Events arrive while the user is as the token says.
                ideal_lead(&app, "first@fitco.example").await;
                let event = client.event("s").await;
                assert_eq!(event["lead"]["email"], "first@fitco.example");

                update_user(&app, Leadership, change.clone()).await;
                ideal_lead(&app, "second@fitco.example").await;
                assert_eq!(client.closes_with_nothing_before().await, 4403, "{change}");
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_user_is_closed_within_the_recheck_interval_even_without_events() {
    let config = |c: &mut Config| {
        manual_clock(c);
        c.ws_recheck_interval = Duration::from_secs(60);
    };
    each_backend_with(config, async |app| {
        let mut client = leadership_listening(&app).await;
        update_user(&app, Leadership, json!({ "active": false })).await;
        // One interval after the last check, without any event.
        app.clock().advance(Duration::from_secs(60));
        assert_eq!(client.closes_with_nothing_before().await, 4403);
    })
    .await;
}

#[db_test]
async fn a_message_over_one_mebibyte_closes_the_socket_with_1009(app: TestApp) {
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    // Just under the limit: an ordinary ping, answered.
    let filler = "x".repeat(1024 * 1024 - 64);
    let ping = json!({ "type": "ping", "payload": { "f": filler } });
    assert!(ping.to_string().len() <= 1024 * 1024);
    client.send(ping).await;
    assert_eq!(client.next().await["type"], "pong");

    // One byte over. The server refuses it from the frame header and
    // closes without reading the rest, so the client's own write may
    // fail (connection reset); the close frame still arrives.
    let over = "x".repeat(1024 * 1024 + 1);
    let _ = client.socket.send(Message::Text(over.into())).await;
    assert_eq!(client.close_code().await, 1009);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_subscriptions_is_charged_to_the_budget_and_refused_when_it_runs_out() {
    // EVENTS costs 1 + owner 1 + lead 1 + leadDefinition 1 = 4 points;
    // a budget of 10 that does not refill starts two.
    each_backend_with(
        |c| {
            c.throttle = handoff::http::throttle::ThrottleSettings {
                capacity: 10.0,
                restore_rate: 0.0001,
            };
        },
        async |app| {
            let mut client = Client::connect(&app.base, &app.token(Marketing)).await;
            client.subscribe("a", json!({})).await;
            client.subscribe("b", json!({})).await;
            client.subscribe("c", json!({})).await;
            let error = client.next().await;
            assert_eq!(error["type"], "error", "{error}");
            assert_eq!(error["id"], "c");
            assert_eq!(
                error["payload"][0]["extensions"]["code"], "RATE_LIMITED",
                "{error}"
            );
            // The two that started still run, and the socket stays usable.
            client.send(json!({ "type": "ping" })).await;
            assert_eq!(client.next().await["type"], "pong");
            // A query over HTTP by the same user meets the same empty budget.
            let (status, body) = app
                .post(Marketing, "{ leads(first: 5) { nodes { id } } }", json!({}))
                .await;
            assert_eq!(status, 429, "{body}");
        },
    )
    .await;
}

#[db_test]
async fn on_shutdown_a_subscriber_is_told_to_go_away_and_resumes_on_another_server(app: TestApp) {
    approve(&app).await;
    let leaving = app.spawn_instances(1, |_| {}).await.remove(0);
    let mut client = Client::connect(&leaving.base, &app.token(Admin)).await;
    client
        .subscribe("s", json!({ "kinds": ["LEAD_BECAME_MQL"] }))
        .await;
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");
    let first = ideal_lead(&app, "a@fitco.example").await;
    let seen = client.event("s").await;
    assert_eq!(seen["lead"]["id"], first);

    // The server shuts down (as on SIGTERM): 1001, going away.
    drop(leaving);
    assert_eq!(client.closes_with_nothing_before().await, 1001);

    // The client reconnects to another server and misses nothing.
    let missed = ideal_lead(&app, "b@fitco.example").await;
    let mut client = Client::connect(&app.base, &app.token(Admin)).await;
    client
        .subscribe(
            "s",
            json!({ "kinds": ["LEAD_BECAME_MQL"], "after": seen["id"] }),
        )
        .await;
    assert_eq!(client.event("s").await["lead"]["id"], missed);
}
