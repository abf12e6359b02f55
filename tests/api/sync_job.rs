//! The example sync job (`examples/sync_job.rs`) against a real server: its
//! own functions, with its own GraphQL documents and sample leads.

use std::time::Duration;

use entity::enums::Role;
use serde_json::Value;

use crate::{common::TestApp, db_test};

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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while seen.len() < want && tokio::time::Instant::now() < deadline {
        pull_changes(handoff, cursor_file, 2, |entries| {
            seen.extend(entries.iter().cloned());
            Ok::<(), std::io::Error>(())
        })
        .await
        .unwrap();
        if seen.len() < want {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    seen
}

db_test! {
    async fn the_example_job_pushes_idempotently_and_resumes_the_feed_from_its_cursor_file(app) {
        let handoff = handoff(&app);
        let leads: Vec<Value> = serde_json::from_str(SAMPLE).unwrap();

        let first = push_leads(&handoff, "HUBSPOT", &leads).await.unwrap();
        assert_eq!((first.created, first.updated, first.unchanged), (3, 0, 0), "{first:?}");
        assert_eq!(first.failed.len(), 1);
        assert_eq!(first.failed[0].0, "hs-1004");
        assert_eq!(first.failed[0].1, "INVALID");
        assert_eq!(first.failed[0].2.as_deref(), Some("email"));
        assert_eq!(first.written.len(), 3);

        // The whole batch again, as after a lost answer: nothing changes.
        let again = push_leads(&handoff, "HUBSPOT", &leads).await.unwrap();
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3), "{again:?}");
        assert_eq!(again.written, first.written);

        let dir = tempfile::tempdir().unwrap();
        let cursor_file = dir.path().join(".handoff-cursor");
        assert_eq!(read_cursor(&cursor_file).unwrap(), None);
        let seen = pull_until(&handoff, &cursor_file, 3).await;
        let ids: Vec<&str> = seen.iter().map(|e| e["objectId"].as_str().unwrap()).collect();
        let written: Vec<&str> = first.written.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, written, "one entry per created lead, in commit order");
        let stored = read_cursor(&cursor_file).unwrap().expect("a cursor is stored");
        assert_eq!(stored, seen.last().unwrap()["cursor"].as_str().unwrap());

        // One lead changes; the next run reads only that change.
        let mut changed = leads.clone();
        changed[1]["jobTitle"] = "CTO".into();
        let update = push_leads(&handoff, "HUBSPOT", &changed[1..2]).await.unwrap();
        assert_eq!(update.updated, 1);
        let next = pull_until(&handoff, &cursor_file, 1).await;
        assert_eq!(next.len(), 1, "{next:?}");
        assert_eq!(next[0]["objectId"], first.written[1].0.as_str());
        assert_eq!(next[0]["changedFields"], serde_json::json!(["jobTitle"]));

        // A page whose processing fails leaves the cursor where it was.
        push_leads(&handoff, "HUBSPOT", &leads[2..3]).await.unwrap();
        changed[2]["firstName"] = "Alan M.".into();
        push_leads(&handoff, "HUBSPOT", &changed[2..3]).await.unwrap();
        let before = read_cursor(&cursor_file).unwrap();
        let failed = pull_changes(&handoff, &cursor_file, 10, |_| {
            Err(std::io::Error::other("the CRM is down"))
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(read_cursor(&cursor_file).unwrap(), before);
    }
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

/// A server that answers 429 (with `Retry-After: 0`), then 503, then a
/// GraphQL reply.
async fn flaky_server() -> String {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{http::StatusCode, response::IntoResponse, routing::post};

    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/graphql",
        post(move || {
            let calls = calls.clone();
            async move {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "0")],
                        "slow down",
                    )
                        .into_response(),
                    1 => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
                    _ => axum::Json(serde_json::json!({ "data": { "ok": true } })).into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/graphql")
}

#[tokio::test]
async fn a_call_retries_429_and_5xx_and_gives_up_on_a_dead_server() {
    let mut handoff = Handoff::new(flaky_server().await, "token").unwrap();
    handoff.retry.base = Duration::from_millis(5);
    let data = handoff.call("{ ok }", Value::Null).await.unwrap();
    assert_eq!(data["ok"], true);

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
