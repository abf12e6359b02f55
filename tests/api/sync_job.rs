//! The example sync job (`examples/sync_job.rs`) against a real server: its
//! own functions, with its own GraphQL documents and sample leads.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use entity::enums::Role;
use serde_json::Value;
use test_macros::db_test;

use crate::common::{TestApp, eventually};

#[path = "../../examples/sync_job/job.rs"]
mod job;

use job::{CallError, Handoff, Retry, pull_changes, push_leads, read_cursor, write_cursor};

const SAMPLE: &str = include_str!("../../examples/sync_job/leads.json");

fn handoff(app: &TestApp) -> Handoff {
    Handoff::new(
        format!("{}/graphql", app.base),
        app.token(Role::Integration),
    )
    .unwrap()
}

/// Pulls until `want` entries were handled in all (on PostgreSQL other
/// tests' transactions in the same database hold the feed back for a
/// moment), returning them.
async fn pull_until(handoff: &Handoff, cursor_file: &std::path::Path, want: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    eventually("the entries to pull", async || {
        pull_changes(handoff, cursor_file, 2, |entries| {
            seen.extend(entries.iter().cloned());
            Ok::<(), std::io::Error>(())
        })
        .await
        .unwrap();
        (seen.len() >= want).then_some(())
    })
    .await;
    seen
}

#[db_test]
async fn the_example_job_pushes_idempotently_and_resumes_the_feed_from_its_cursor_file(
    app: TestApp,
) {
    let handoff = handoff(&app);
    let leads: Vec<Value> = serde_json::from_str(SAMPLE).unwrap();

    let first = push_leads(&handoff, "HUBSPOT", &leads).await.unwrap();
    assert_eq!(
        (first.created, first.updated, first.unchanged),
        (3, 0, 0),
        "{first:?}"
    );
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.failed[0].0, "hs-1004");
    assert_eq!(first.failed[0].1, "INVALID");
    assert_eq!(first.failed[0].2.as_deref(), Some("email"));
    assert_eq!(first.written.len(), 3);

    // The whole batch again, as after a lost answer: nothing changes.
    let again = push_leads(&handoff, "HUBSPOT", &leads).await.unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 3),
        "{again:?}"
    );
    assert_eq!(again.written, first.written);

    let dir = tempfile::tempdir().unwrap();
    let cursor_file = dir.path().join(".handoff-cursor");
    assert_eq!(read_cursor(&cursor_file).unwrap(), None);
    let seen = pull_until(&handoff, &cursor_file, 3).await;
    let ids: Vec<&str> = seen
        .iter()
        .map(|e| e["objectId"].as_str().unwrap())
        .collect();
    let written: Vec<&str> = first.written.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, written, "one entry per created lead, in commit order");
    let stored = read_cursor(&cursor_file)
        .unwrap()
        .expect("a cursor is stored");
    assert_eq!(stored, seen.last().unwrap()["cursor"].as_str().unwrap());

    // One lead changes; the next run reads only that change.
    let mut changed = leads.clone();
    changed[1]["jobTitle"] = "CTO".into();
    let update = push_leads(&handoff, "HUBSPOT", &changed[1..2])
        .await
        .unwrap();
    assert_eq!(update.updated, 1);
    let next = pull_until(&handoff, &cursor_file, 1).await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0]["objectId"], first.written[1].0.as_str());
    assert_eq!(next[0]["changedFields"], serde_json::json!(["jobTitle"]));

    // A page whose processing fails leaves the cursor where it was.
    push_leads(&handoff, "HUBSPOT", &leads[2..3]).await.unwrap();
    changed[2]["firstName"] = "Alan M.".into();
    push_leads(&handoff, "HUBSPOT", &changed[2..3])
        .await
        .unwrap();
    let before = read_cursor(&cursor_file).unwrap();
    let failed = pull_changes(&handoff, &cursor_file, 10, |_| {
        Err(std::io::Error::other("the CRM is down"))
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(read_cursor(&cursor_file).unwrap(), before);
}

#[test]
fn the_backoff_doubles_honours_retry_after_and_is_capped() {
    let retry = Retry {
        attempts: 6,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    for attempt in 1..=3u32 {
        let wait = retry.wait(attempt, None);
        let exp = Duration::from_millis(100 * 2u64.pow(attempt - 1));
        assert!(
            wait >= exp && wait <= exp.mul_f64(1.5),
            "{attempt}: {wait:?}"
        );
    }
    assert_eq!(retry.wait(10, None), Duration::from_secs(1));
    assert_eq!(
        retry.wait(1, Some(Duration::from_secs(0))),
        Duration::from_secs(0)
    );
    assert_eq!(
        retry.wait(1, Some(Duration::from_secs(120))),
        Duration::from_secs(1)
    );
}

#[test]
fn the_cursor_file_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".handoff-cursor");
    write_cursor(&path, "first").unwrap();
    write_cursor(&path, "second").unwrap();
    assert_eq!(read_cursor(&path).unwrap().as_deref(), Some("second"));
    assert!(!path.with_extension("tmp").exists());
}

/// The `Idempotency-Key` of each request a test server received, in order.
type Keys = Arc<Mutex<Vec<Option<String>>>>;

fn key_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/graphql")
}

/// A server that answers 429 (with `Retry-After: 0`), then 503, then 409
/// (with `Retry-After: 0`), then a GraphQL reply to every request.
async fn flaky_server() -> (String, Keys) {
    let keys = Keys::default();
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/graphql",
        post(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push(key_of(&headers));
                match seen.len() {
                    1 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "0")],
                        "slow down",
                    )
                        .into_response(),
                    2 => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
                    3 => (
                        StatusCode::CONFLICT,
                        [("retry-after", "0")],
                        "still running",
                    )
                        .into_response(),
                    _ => axum::Json(serde_json::json!({ "data": { "ok": true } })).into_response(),
                }
            }
        }),
    );
    (serve(app).await, keys)
}

#[tokio::test]
async fn a_call_retries_429_409_and_5xx_with_one_key_and_gives_up_on_a_dead_server() {
    let (url, keys) = flaky_server().await;
    let mut handoff = Handoff::new(url, "token").unwrap();
    handoff.retry.base = Duration::from_millis(5);
    let data = handoff.call("{ ok }", Value::Null).await.unwrap();
    assert_eq!(data["ok"], true);
    handoff.call("{ ok }", Value::Null).await.unwrap();
    let keys = keys.lock().unwrap().clone();
    assert_eq!(
        keys.len(),
        5,
        "four attempts of the first call, one of the second"
    );
    assert!(keys[0].is_some());
    assert!(
        keys[..4].iter().all(|k| *k == keys[0]),
        "one key for every attempt of a call: {keys:?}"
    );
    assert_ne!(keys[4], keys[0], "a new key for a new call");

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dead = Handoff::new(format!("http://127.0.0.1:{port}/graphql"), "token").unwrap();
    dead.retry = Retry {
        attempts: 3,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    let err = dead.call("{ ok }", Value::Null).await.unwrap_err();
    assert!(matches!(err, CallError::GaveUp(_)), "{err}");
}

/// A proxy to `upstream` that loses the answer to the first request it
/// forwards (a 502, as from a load balancer whose upstream connection
/// dropped after the request went through). For every request it records
/// the `Idempotency-Key` sent and the `Idempotent-Replayed` header received.
async fn lossy_proxy(
    upstream: String,
) -> (String, Arc<Mutex<Vec<(Option<String>, Option<String>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let client = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/graphql",
        post(move |headers: HeaderMap, body: Bytes| {
            let (log, client, upstream) = (log.clone(), client.clone(), upstream.clone());
            async move {
                let mut forward = client.post(&upstream).body(body);
                for name in ["authorization", "content-type", "idempotency-key"] {
                    if let Some(value) = headers.get(name) {
                        forward = forward.header(name, value.as_bytes());
                    }
                }
                let answer = forward.send().await.unwrap();
                let status = answer.status().as_u16();
                let replayed = answer
                    .headers()
                    .get("idempotent-replayed")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = answer.bytes().await.unwrap();
                let first = {
                    let mut log = log.lock().unwrap();
                    log.push((key_of(&headers), replayed.clone()));
                    log.len() == 1
                };
                if first {
                    return (StatusCode::BAD_GATEWAY, "upstream connection lost").into_response();
                }
                let mut response = (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
                    .into_response();
                if let Some(replayed) = replayed {
                    response
                        .headers_mut()
                        .insert("idempotent-replayed", replayed.parse().unwrap());
                }
                response
            }
        }),
    );
    (serve(app).await, seen)
}

#[db_test]
async fn a_push_whose_answer_was_lost_is_retried_with_its_key_and_gets_the_first_answer(
    app: TestApp,
) {
    let (url, seen) = lossy_proxy(format!("{}/graphql", app.base)).await;
    let mut handoff = Handoff::new(url, app.token(Role::Integration)).unwrap();
    handoff.retry.base = Duration::from_millis(5);
    let leads: Vec<Value> = serde_json::from_str(SAMPLE).unwrap();

    let pushed = push_leads(&handoff, "HUBSPOT", &leads).await.unwrap();
    // The first attempt created the three leads; resent without the key,
    // the batch would have come back 0 created, 3 unchanged.
    assert_eq!(
        (pushed.created, pushed.updated, pushed.unchanged),
        (3, 0, 0),
        "{pushed:?}"
    );
    assert_eq!(pushed.written.len(), 3);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].0.is_some());
    assert_eq!(seen[1].0, seen[0].0, "the retry sent the same key");
    assert_eq!(seen[0].1, None);
    assert_eq!(
        seen[1].1.as_deref(),
        Some("true"),
        "the retry was answered from the key"
    );
}
