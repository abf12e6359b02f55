//! `Idempotency-Key` on mutations (docs/api.md "Retrying mutations
//! safely"): a retry gets the first answer and writes nothing; another
//! request with the key is 422, one while the first runs 409; a request that
//! wrote nothing releases its key; keys expire after 24 hours and are per
//! user.

use std::time::Duration;

use chrono::Utc;
use entity::{enums::Role, idempotency_key, idempotency_key_write};
use handoff::{
    domain::idempotency::fingerprint,
    services::idempotency::{self as keys, Attempt, Claimed, Settled, StoredResponse},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{TestApp, eventually};

const CREATE: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id email version } userErrors { field message code } } }";

fn lead(email: &str) -> Value {
    json!({ "i": { "email": email, "firstName": "Ada", "source": "WEBINAR" } })
}

/// A lead without an email: the same input twice makes two leads (an email
/// would be TAKEN the second time).
fn unmailed_lead() -> Value {
    json!({ "i": { "firstName": "Ada", "source": "WEBINAR" } })
}

/// What a keyed request got back.
struct Reply {
    status: u16,
    replayed: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn code(&self) -> Value {
        self.json()["errors"][0]["extensions"]["code"].clone()
    }
}

/// `POST /graphql` as `role`, with `key` as the `Idempotency-Key` header.
async fn send(
    app: &TestApp,
    role: Role,
    key: Option<&[u8]>,
    query: &str,
    variables: Value,
) -> Reply {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(role))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(key) = key {
        request = request.header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(key).unwrap(),
        );
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Reply {
        status: response.status().as_u16(),
        replayed: header("idempotent-replayed"),
        retry_after: header("retry-after"),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn create(app: &TestApp, role: Role, key: &str, variables: Value) -> Reply {
    send(app, role, Some(key.as_bytes()), CREATE, variables).await
}

async fn lead_count(app: &TestApp) -> i64 {
    app.gql(Role::Admin, "{ leads { totalCount } }", json!({}))
        .await["leads"]["totalCount"]
        .as_i64()
        .unwrap()
}

async fn change_log_rows(app: &TestApp) -> u64 {
    entity::change_log::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

async fn key_rows(app: &TestApp) -> Vec<idempotency_key::Model> {
    idempotency_key::Entity::find().all(&app.db).await.unwrap()
}

/// A key row as a request that is still running (or whose server stopped
/// at `claimed_at`) leaves it.
async fn insert_claim(
    app: &TestApp,
    role: Role,
    key: &str,
    variables: &Value,
    claimed_at: chrono::DateTime<Utc>,
) -> Uuid {
    let id = Uuid::now_v7();
    idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        id: Set(id),
        created_at: Set(claimed_at),
        updated_at: Set(claimed_at),
        user_id: Set(app.user_id(role)),
        key: Set(key.to_owned()),
        fingerprint: Set(fingerprint(CREATE, None, variables)),
        response_status: Set(None),
        response_body: Set(None),
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    id
}

/// Holds a write lock that makes `createLead` wait: the `leads` table on
/// PostgreSQL, the whole database on SQLite. Roll it back to release it.
async fn hold_lead_writes(app: &TestApp) -> DatabaseTransaction {
    let txn = handoff::db::begin_write(&app.db).await.unwrap();
    if app.db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE leads IN SHARE MODE")
            .await
            .unwrap();
    }
    txn
}

#[db_test]
async fn a_retried_create_lead_gets_the_first_answer_and_writes_once(app: TestApp) {
    let first = create(
        &app,
        Role::Marketing,
        "create-ada-1",
        lead("ada@acme.example"),
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.replayed, None, "the first answer is not a replay");
    let id = first.json()["data"]["createLead"]["lead"]["id"].clone();
    assert!(id.is_string(), "{}", first.json());
    let changes = change_log_rows(&app).await;

    let retry = create(
        &app,
        Role::Marketing,
        "create-ada-1",
        lead("ada@acme.example"),
    )
    .await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.replayed.as_deref(), Some("true"));
    assert_eq!(
        retry.body, first.body,
        "the same bytes, so the same lead id"
    );
    assert_eq!(lead_count(&app).await, 1);
    assert_eq!(
        change_log_rows(&app).await,
        changes,
        "the replay wrote nothing"
    );
}

#[db_test]
async fn keys_are_per_user_so_another_users_same_key_runs_their_own_request(app: TestApp) {
    let marketing = create(
        &app,
        Role::Marketing,
        "shared-key",
        lead("ada@acme.example"),
    )
    .await;
    let admin = create(&app, Role::Admin, "shared-key", lead("cy@acme.example")).await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.replayed, None);
    assert_ne!(
        admin.json()["data"]["createLead"]["lead"]["id"],
        marketing.json()["data"]["createLead"]["lead"]["id"]
    );
    // Nor is another request under the same key a mismatch across users.
    let other = create(
        &app,
        Role::Integration,
        "shared-key",
        lead("bob@acme.example"),
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.json());
    assert_eq!(lead_count(&app).await, 3);
}

#[db_test]
async fn the_same_key_with_other_variables_is_422_and_writes_nothing(app: TestApp) {
    create(&app, Role::Marketing, "k-422", lead("ada@acme.example")).await;
    let other = create(&app, Role::Marketing, "k-422", lead("bob@acme.example")).await;
    assert_eq!(other.status, 422);
    assert_eq!(other.code(), "BAD_USER_INPUT");
    let message = other.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("different request"), "{message}");
    assert_eq!(other.replayed, None);
    assert_eq!(lead_count(&app).await, 1);
}

#[db_test]
async fn a_request_while_the_first_with_its_key_still_runs_is_409_with_retry_after(app: TestApp) {
    // The first request has claimed the key and is running.
    let variables = lead("ada@acme.example");
    insert_claim(&app, Role::Marketing, "k-409", &variables, Utc::now()).await;

    let second = create(&app, Role::Marketing, "k-409", variables).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.code(), "CONFLICT");
    assert_eq!(second.retry_after.as_deref(), Some("1"));
    assert_eq!(lead_count(&app).await, 0, "the second request did not run");

    // Another request under the running key is still the 422 mismatch.
    let other = create(&app, Role::Marketing, "k-409", lead("bob@acme.example")).await;
    assert_eq!(other.status, 422);
}

#[db_test]
async fn two_requests_with_one_key_at_the_same_moment_write_once(app: TestApp) {
    // The first waits on a lock after claiming (on SQLite, before), so
    // the two overlap; whichever claims first runs, the other gets 409
    // or, once the first is done, its answer.
    let blocker = hold_lead_writes(&app).await;
    let a = create(&app, Role::Marketing, "k-race", lead("ada@acme.example"));
    let b = create(&app, Role::Marketing, "k-race", lead("ada@acme.example"));
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        blocker.rollback().await.unwrap();
    };
    let (a, b, ()) = tokio::join!(a, b, release);
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 200] || statuses == [200, 409],
        "{statuses:?}: {} / {}",
        a.json(),
        b.json()
    );
    if statuses == [200, 200] {
        assert_eq!(a.body, b.body);
        assert!(a.replayed.is_some() || b.replayed.is_some());
    }
    assert_eq!(lead_count(&app).await, 1);
}

#[db_test]
async fn a_request_without_a_key_runs_every_time(app: TestApp) {
    for _ in 0..2 {
        let (status, body) = app.post(Role::Marketing, CREATE, unmailed_lead()).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        lead_count(&app).await,
        2,
        "two identical requests, two leads"
    );
    assert!(key_rows(&app).await.is_empty());
}

#[db_test]
async fn an_expired_key_lets_the_request_run_again(app: TestApp) {
    let first = create(&app, Role::Marketing, "k-old", unmailed_lead()).await;
    let rows = key_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let day_ago = Utc::now() - chrono::Duration::hours(24) - chrono::Duration::seconds(1);
    idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(day_ago),
        )
        .exec(&app.db)
        .await
        .unwrap();

    let again = create(&app, Role::Marketing, "k-old", unmailed_lead()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.replayed, None, "over 24 hours: not a replay");
    assert_ne!(again.body, first.body);
    assert_eq!(lead_count(&app).await, 2);
    let rows = key_rows(&app).await;
    assert_eq!(rows.len(), 1, "the expired key was replaced");
    assert!(rows[0].created_at > day_ago);
}

#[db_test]
async fn the_sweep_deletes_keys_over_24_hours_old_with_their_responses(app: TestApp) {
    create(&app, Role::Marketing, "k-keep", lead("ada@acme.example")).await;
    create(&app, Role::Marketing, "k-drop", lead("bob@acme.example")).await;
    let day_ago = Utc::now() - chrono::Duration::hours(25);
    idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(day_ago),
        )
        .filter(idempotency_key::Column::Key.eq("k-drop"))
        .exec(&app.db)
        .await
        .unwrap();

    assert_eq!(keys::delete_expired(&app.db, Utc::now()).await.unwrap(), 1);
    let left: Vec<String> = key_rows(&app).await.into_iter().map(|k| k.key).collect();
    assert_eq!(left, ["k-keep"]);
    assert_eq!(
        idempotency_key_write::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1,
        "the dropped key's write rows went with it"
    );
}

#[db_test]
async fn a_malformed_key_is_400_and_nothing_runs(app: TestApp) {
    let too_long = "k".repeat(256);
    for key in [too_long.as_bytes(), "clé".as_bytes(), b"", b"\"unclosed"] {
        let reply = send(
            &app,
            Role::Marketing,
            Some(key),
            CREATE,
            lead("ada@acme.example"),
        )
        .await;
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(key));
        assert_eq!(reply.code(), "BAD_USER_INPUT");
    }
    let max = "k".repeat(255);
    assert_eq!(
        create(&app, Role::Marketing, &max, lead("ada@acme.example"))
            .await
            .status,
        200
    );
    assert_eq!(lead_count(&app).await, 1);
}

#[db_test]
async fn a_query_ignores_the_key(app: TestApp) {
    for _ in 0..2 {
        let reply = send(
            &app,
            Role::Marketing,
            Some(b"k-query"),
            "{ viewer { role } }",
            json!({}),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.replayed, None);
        assert_eq!(reply.json()["data"]["viewer"]["role"], "MARKETING");
    }
    let bad = send(
        &app,
        Role::Marketing,
        Some("clé".as_bytes()),
        "{ viewer { role } }",
        json!({}),
    )
    .await;
    assert_eq!(bad.status, 200, "a query does not even read the key");
    assert!(key_rows(&app).await.is_empty());
}

#[db_test]
async fn a_request_that_wrote_nothing_releases_its_key(app: TestApp) {
    // User errors: nothing written, so nothing stored.
    let invalid = create(&app, Role::Marketing, "k-free", lead("not an email")).await;
    assert_eq!(invalid.status, 200);
    assert!(
        invalid.json()["data"]["createLead"]["userErrors"][0].is_object(),
        "{}",
        invalid.json()
    );
    // A denied mutation writes nothing either.
    let denied = create(&app, Role::Reporting, "k-free", lead("ada@acme.example")).await;
    assert_eq!(denied.code(), "FORBIDDEN");
    assert!(key_rows(&app).await.is_empty());

    // The corrected request under the same key runs (no 422), and counts.
    let fixed = create(&app, Role::Marketing, "k-free", lead("ada@acme.example")).await;
    assert_eq!(fixed.status, 200);
    assert_eq!(fixed.replayed, None);
    assert_eq!(lead_count(&app).await, 1);
    assert_eq!(
        create(&app, Role::Marketing, "k-free", lead("ada@acme.example"))
            .await
            .replayed
            .as_deref(),
        Some("true")
    );
}

#[db_test]
async fn a_client_that_gave_up_gets_the_first_answer_when_it_retries(app: TestApp) {
    let blocker = hold_lead_writes(&app).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Marketing))
        .header("Idempotency-Key", "k-slow")
        .json(&json!({ "query": CREATE, "variables": lead("ada@acme.example") }))
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    blocker.rollback().await.unwrap();

    // The server went on without the client and stored its answer.
    let stored = eventually("the stored answer", async || {
        let rows = key_rows(&app).await;
        rows.first().and_then(|k| k.response_body.clone())
    })
    .await;

    let retry = create(&app, Role::Marketing, "k-slow", lead("ada@acme.example")).await;
    assert_eq!(retry.replayed.as_deref(), Some("true"));
    assert_eq!(retry.body, stored);
    assert!(
        retry.json()["data"]["createLead"]["lead"]["id"].is_string(),
        "{}",
        retry.json()
    );
    assert_eq!(lead_count(&app).await, 1);
}

#[db_test]
async fn a_claim_left_by_a_stopped_server_that_wrote_nothing_runs_again(app: TestApp) {
    let variables = lead("ada@acme.example");
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    insert_claim(&app, Role::Marketing, "k-crash", &variables, long_ago).await;

    let reply = create(&app, Role::Marketing, "k-crash", variables.clone()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.replayed, None);
    assert_eq!(lead_count(&app).await, 1);
    let retry = create(&app, Role::Marketing, "k-crash", variables).await;
    assert_eq!(retry.replayed.as_deref(), Some("true"));
    assert_eq!(retry.body, reply.body);
}

#[db_test]
async fn a_claim_left_by_a_stopped_server_after_it_wrote_is_never_run_again(app: TestApp) {
    let variables = lead("ada@acme.example");
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    let id = insert_claim(&app, Role::Marketing, "k-lost", &variables, long_ago).await;
    idempotency_key_write::Entity::insert(idempotency_key_write::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(long_ago),
        idempotency_key_id: Set(id),
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();

    let reply = create(&app, Role::Marketing, "k-lost", variables.clone()).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.replayed.as_deref(), Some("true"));
    assert_eq!(reply.code(), "INTERNAL");
    let message = reply.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("response was lost"), "{message}");
    assert_eq!(lead_count(&app).await, 0);
    let again = create(&app, Role::Marketing, "k-lost", variables).await;
    assert_eq!(again.body, reply.body, "the same answer every time");
}

#[db_test]
async fn settling_waits_for_a_write_still_committing_and_then_keeps_the_answer(app: TestApp) {
    let attempt = Attempt {
        user_id: app.user_id(Role::Admin),
        key: "k-settle",
        fingerprint: "f",
    };
    let lost = || StoredResponse {
        status: 500,
        body: b"lost".to_vec(),
    };
    let stale = Duration::from_secs(70);
    let Claimed::Run(id) = keys::claim(&app.db, attempt, Utc::now(), stale, lost)
        .await
        .unwrap()
    else {
        panic!("the first claim runs");
    };
    let answer = StoredResponse {
        status: 200,
        body: b"{\"data\":{}}".to_vec(),
    };

    // A write of the request, begun but not committed yet (as when the
    // time limit cut the request off during its COMMIT).
    let writer = keys::tracking(async {
        keys::track(Some(id));
        handoff::db::begin_write(&app.db).await.unwrap()
    })
    .await;
    let db = app.db.clone();
    let settled = {
        let answer = answer.clone();
        tokio::spawn(async move { keys::settle(&db, id, &answer, Utc::now()).await })
    };
    let mut settled = std::pin::pin!(settled);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut settled)
            .await
            .is_err(),
        "settling must wait for the write transaction"
    );
    writer.commit().await.unwrap();
    assert_eq!(settled.await.unwrap().unwrap(), Settled::Stored);
    assert_eq!(
        keys::claim(&app.db, attempt, Utc::now(), stale, lost)
            .await
            .unwrap(),
        Claimed::Replay(answer)
    );
}

#[db_test]
async fn settling_a_request_whose_write_rolled_back_releases_the_key(app: TestApp) {
    let attempt = Attempt {
        user_id: app.user_id(Role::Admin),
        key: "k-rollback",
        fingerprint: "f",
    };
    let lost = || StoredResponse {
        status: 500,
        body: b"lost".to_vec(),
    };
    let stale = Duration::from_secs(70);
    let Claimed::Run(id) = keys::claim(&app.db, attempt, Utc::now(), stale, lost)
        .await
        .unwrap()
    else {
        panic!("the first claim runs");
    };
    let writer = keys::tracking(async {
        keys::track(Some(id));
        handoff::db::begin_write(&app.db).await.unwrap()
    })
    .await;
    writer.rollback().await.unwrap();
    let answer = StoredResponse {
        status: 503,
        body: b"cut off".to_vec(),
    };
    assert_eq!(
        keys::settle(&app.db, id, &answer, Utc::now())
            .await
            .unwrap(),
        Settled::Released
    );
    assert!(matches!(
        keys::claim(&app.db, attempt, Utc::now(), stale, lost)
            .await
            .unwrap(),
        Claimed::Run(_)
    ));
}
