//! `/metrics` and the access log, through the real server: what a few
//! requests of each kind leave in the counters, where `/metrics` is served
//! (`HANDOFF_METRICS`, `HANDOFF_METRICS_BIND`), that client-chosen
//! operation names cannot blow up the number of series, and (running the
//! binary) that the access log has a line per request, without colour
//! codes when it goes to a file.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use entity::enums::Role::*;
use handoff::config::Config;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::{
    common::{TEST_SECRET, TestApp, eventually, lead_definition, manual_clock},
    subscriptions::Client,
};

/// `GET /metrics` at `base`: status and body.
async fn scrape_at(app: &TestApp, base: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
    (status, response.text().await.unwrap())
}

/// `/metrics` on the API's address.
async fn scrape(app: &TestApp) -> String {
    let (status, body) = scrape_at(app, &app.base).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of one series, written as in the text format
/// (`name{label="value",...}`), or None when it is absent.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn operations(operation: &str, operation_type: &str, outcome: &str) -> String {
    format!(
        "handoff_graphql_operations_total{{operation=\"{operation}\",operation_type=\"{operation_type}\",outcome=\"{outcome}\"}}"
    )
}

/// A budget of 200 points per user (a page of 100 leads with their
/// account, 201 points, is refused), on a clock the test moves.
fn small_budget(config: &mut Config) {
    manual_clock(config);
    config.throttle.capacity = 200.0;
}

#[db_test(with = small_budget)]
async fn requests_of_each_kind_are_counted_with_their_operation_and_outcome(app: TestApp) {
    // A good query, a refused one, one without a token, one over the
    // budget, an anonymous one.
    app.gql(
        Admin,
        "query Dashboard { leads(first: 5) { totalCount } }",
        json!({}),
    )
    .await;
    let (status, body) = app
        .post(Admin, "query Broken { leads { noSuchField } }", json!({}))
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (200, json!("BAD_USER_INPUT")),
        "{body}"
    );
    let (status, _) = app
        .post_with_token(None, "query Whoami { __typename }", json!({}))
        .await;
    assert_eq!(status, 401);
    let (status, body) = app
        .post(
            Leadership,
            "query BigPage { leads(first: 100) { nodes { id account { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    app.gql(Admin, "{ __typename }", json!({})).await;

    // A sync batch: two leads created, then the same batch unchanged.
    let batch = json!({ "i": { "system": "HUBSPOT", "leads": [
        { "externalId": "m-1", "email": "m1@metrics.example" },
        { "externalId": "m-2", "email": "m2@metrics.example" },
    ] } });
    const UPSERT: &str = "mutation Sync($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created unchanged failed } }";
    let first = app.gql(Integration, UPSERT, batch.clone()).await;
    assert_eq!(first["upsertLeads"]["created"], 2, "{first}");
    app.gql(Integration, UPSERT, batch).await;

    // A subscriber that gets one event.
    let mut client = Client::connect(&app.base, &app.token(Reporting)).await;
    client
        .subscribe("1", json!({ "kinds": ["DEFINITION_APPROVED"] }))
        .await;
    client.send(json!({ "type": "ping" })).await;
    assert_eq!(client.next().await["type"], "pong");
    app.approve_definition(lead_definition(50, 30)).await;
    assert_eq!(client.event("1").await["kind"], "DEFINITION_APPROVED");

    let text = scrape(&app).await;
    let expect = |series: &str, wanted: f64| {
        assert_eq!(value(&text, series), Some(wanted), "{series} in\n{text}");
    };
    expect(&operations("Dashboard", "query", "ok"), 1.0);
    expect(&operations("Broken", "query", "BAD_USER_INPUT"), 1.0);
    // Refused before its document was read.
    expect(&operations("unknown", "unknown", "UNAUTHENTICATED"), 1.0);
    expect(&operations("BigPage", "query", "RATE_LIMITED"), 1.0);
    expect(&operations("anonymous", "query", "ok"), 1.0);
    expect(&operations("Sync", "mutation", "ok"), 2.0);
    expect(
        "handoff_rate_limited_requests_total{route=\"/graphql\"}",
        1.0,
    );
    expect(
        "handoff_http_requests_total{route=\"/graphql\",status=\"429\"}",
        1.0,
    );
    expect(
        "handoff_http_requests_total{route=\"/graphql\",status=\"401\"}",
        1.0,
    );
    expect(
        "handoff_sync_records_total{object=\"LEAD\",result=\"created\"}",
        2.0,
    );
    expect(
        "handoff_sync_records_total{object=\"LEAD\",result=\"unchanged\"}",
        2.0,
    );
    expect(
        "handoff_graphql_operation_duration_seconds_count{operation=\"Dashboard\",operation_type=\"query\"}",
        1.0,
    );
    // The cost of everything that ran (not the refused requests).
    assert!(
        value(
            &text,
            "handoff_graphql_query_cost_count{operation_type=\"query\"}"
        ) >= Some(2.0),
        "{text}"
    );
    expect("handoff_ws_connections", 1.0);
    expect("handoff_ws_subscriptions", 1.0);
    expect("handoff_events_delivered_total", 1.0);
    expect("handoff_event_delivery_lag_seconds_count", 1.0);
    assert!(
        value(
            &text,
            "handoff_db_statement_duration_seconds_count{outcome=\"ok\"}"
        ) > Some(10.0),
        "{text}"
    );
    expect("handoff_db_pool_max_connections", 5.0);
    assert!(value(&text, "handoff_db_pool_connections{state=\"in_use\"}").is_some());
    expect("handoff_sla_sweep_interval_seconds", 60.0);
    // No personal data: the emails of the synced leads and users appear
    // nowhere.
    assert!(!text.contains('@'), "{text}");

    // The socket closes: nothing is left open.
    client.close().await;
    // The SLA sweep runs one interval after the start.
    app.clock().advance(Duration::from_secs(61));
    eventually("the socket closed and a sweep ran", async || {
        let text = scrape(&app).await;
        (value(&text, "handoff_ws_connections") == Some(0.0)
            && value(&text, "handoff_ws_subscriptions") == Some(0.0)
            && value(&text, "handoff_sla_sweeps_total{outcome=\"ok\"}") == Some(1.0))
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_request_whose_client_hangs_up_is_counted_as_499_cancelled() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    // The test holds SQLite's write lock, so the mutation waits for it.
    let lock = handoff::db::begin_write(&app.db).await.unwrap();
    let hung_up = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Marketing))
        .timeout(Duration::from_millis(300))
        .json(&json!({ "query": "mutation Stuck { createLead(input: {email: \"s@stuck.example\", source: ORGANIC_SEARCH}) { lead { id } } }" }))
        .send()
        .await;
    assert!(hung_up.is_err(), "{hung_up:?}");
    let series = "handoff_http_requests_total{route=\"/graphql\",status=\"499\"}";
    let text = eventually("the hang-up counted", async || {
        let text = scrape(&app).await;
        value(&text, series).map(|_| text)
    })
    .await;
    lock.rollback().await.unwrap();
    assert_eq!(value(&text, series), Some(1.0), "{text}");
    assert_eq!(
        value(&text, &operations("Stuck", "mutation", "CANCELLED")),
        Some(1.0),
        "{text}"
    );
}

#[db_test(with = |c: &mut Config| c.metrics.enabled = false)]
async fn metrics_turned_off_are_not_found(app: TestApp) {
    app.gql(Admin, "query Dashboard { __typename }", json!({}))
        .await;
    assert_eq!(scrape_at(&app, &app.base).await.0, 404);
}

#[db_test(with = |c: &mut Config| c.metrics.bind = Some(([127, 0, 0, 1], 0).into()))]
async fn metrics_on_their_own_address_are_not_on_the_api_port(app: TestApp) {
    app.gql(Admin, "query Dashboard { __typename }", json!({}))
        .await;
    assert_eq!(scrape_at(&app, &app.base).await.0, 404);
    let own = app.metrics_base.clone().expect("a metrics address");
    let (status, text) = scrape_at(&app, &own).await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&text, &operations("Dashboard", "query", "ok")),
        Some(1.0),
        "{text}"
    );
    // That listener serves nothing else.
    let graphql = app
        .client
        .post(format!("{own}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status().as_u16(), 404);
}

#[db_test]
async fn client_chosen_operation_names_cannot_grow_the_series_without_bound(app: TestApp) {
    for i in 0..300 {
        app.gql(Admin, &format!("query Op{i} {{ __typename }}"), json!({}))
            .await;
    }
    app.gql(Admin, "{ __typename }", json!({})).await;
    // Not a name: an email in the operation name.
    let raw = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Admin))
        .json(&json!({ "query": "query x { __typename }", "operationName": "query x@y.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 200);

    let text = scrape(&app).await;
    let names: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("handoff_graphql_operations_total{"))
        .filter_map(|l| l.split("operation=\"").nth(1)?.split('"').next())
        .collect();
    // 200 names, then `other` (which also holds the bad name), and the
    // anonymous query.
    assert_eq!(names.len(), 202, "{names:?}");
    assert!(names.contains("Op0") && names.contains("Op199"));
    assert!(!names.contains("Op200"));
    assert!(names.contains("other") && names.contains("anonymous"));
    assert_eq!(
        value(&text, &operations("other", "query", "ok")),
        Some(100.0)
    );
    // The bad name names no operation of the document: refused.
    assert_eq!(
        value(&text, &operations("other", "unknown", "BAD_USER_INPUT")),
        Some(1.0)
    );
    assert!(!text.contains('@'), "{text}");
    let statements = text
        .lines()
        .filter(|l| l.starts_with("handoff_graphql_operation_duration_seconds_count{"))
        .count();
    assert_eq!(statements, 203);
}

/// Runs `handoff serve` on a fresh SQLite file with stderr piped (as a file
/// or a log collector takes it), sends a request without a token, a named
/// query with one, asks for the KPI report, opens and closes a WebSocket,
/// and returns what the server wrote to stderr.
async fn serve_and_log(log_format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(["serve", "--demo", "--demo-leads", "20"])
        .env_remove("DATABASE_URL")
        .env("HANDOFF_DATA_DIR", dir.path())
        .env("HANDOFF_BIND", "127.0.0.1:0")
        .env(
            "HANDOFF_JWT_SECRET",
            std::str::from_utf8(TEST_SECRET).unwrap(),
        )
        .env("HANDOFF_LOG_FORMAT", log_format)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut base = None;
    let mut token = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("GraphQL:") {
            base = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = t.strip_prefix("ADMIN") {
            token = Some(rest.trim().to_owned());
        } else if t.starts_with("Try it") {
            break;
        }
    }
    // Keep reading: a closed stdout would fail the server's next print.
    std::thread::spawn(move || for _ in lines {});
    let (url, token) = (base.unwrap(), token.unwrap());
    let client = reqwest::Client::new();
    let statuses = async {
        let anonymous = client
            .post(&url)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await?;
        let page = client
            .post(&url)
            .bearer_auth(&token)
            .header("x-request-id", "log-test-1")
            .json(&json!({ "query": "query LeadPage { leads(first: 3) { nodes { id email } } }" }))
            .send()
            .await?;
        let report = client
            .get(url.replace(
                "/graphql",
                "/reports/kpis.csv?kpis=LEADS_CREATED&from=2026-01-01&to=2026-03-31",
            ))
            .bearer_auth(&token)
            .send()
            .await?;
        Ok::<_, reqwest::Error>((
            anonymous.status().as_u16(),
            page.status().as_u16(),
            report.status().as_u16(),
        ))
    }
    .await;
    if statuses.is_ok() {
        let socket = Client::connect(url.trim_end_matches("/graphql"), &token).await;
        socket.close().await;
        // The server writes the socket's line once it has seen the close.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        statuses.ok(),
        Some((401, 200, 200)),
        "the server said:\n{log}"
    );
    log
}

#[tokio::test]
async fn the_text_log_has_an_access_line_per_request_and_no_colour_codes_in_a_file() {
    let log = serve_and_log("text").await;
    assert!(!log.contains("\x1b["), "colour codes in\n{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("handoff::access"))
        .collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(lines[0].contains("http.status=401"), "{}", lines[0]);
    assert!(
        lines[0].contains("outcome=\"UNAUTHENTICATED\""),
        "{}",
        lines[0]
    );
    let page = lines[1];
    for field in [
        "request.id=log-test-1",
        "user.role=\"ADMIN\"",
        "graphql.operation=\"LeadPage\"",
        "graphql.operation_type=\"query\"",
        "http.status=200",
        "outcome=\"ok\"",
        "graphql.cost=",
        "db.statements=",
        "duration_ms=",
        "user.id=",
    ] {
        assert!(page.contains(field), "no {field} in {page}");
    }
    // Not the query, nor the data.
    assert!(!page.contains("email") && !page.contains('@'), "{page}");
    let report = lines[2];
    for field in [
        "http.path=\"/reports/kpis.csv\"",
        "http.status=200",
        "user.role=\"ADMIN\"",
        "graphql.cost=",
        "db.statements=",
    ] {
        assert!(report.contains(field), "no {field} in {report}");
    }
    let socket = lines[3];
    for field in [
        "websocket closed",
        "http.path=\"/graphql/ws\"",
        "user.role=\"ADMIN\"",
        "ws.subscriptions=0",
        "ws.events=0",
        "ws.close_code=1000",
        "duration_ms=",
    ] {
        assert!(socket.contains(field), "no {field} in {socket}");
    }
}

#[tokio::test]
async fn the_json_log_has_an_access_object_per_request() {
    let log = serve_and_log("json").await;
    assert!(!log.contains("\x1b["), "colour codes in\n{log}");
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "handoff::access")
        .collect();
    assert_eq!(lines.len(), 4, "{log}");
    let page = &lines[1];
    assert_eq!(page["request.id"], "log-test-1", "{page}");
    assert_eq!(page["user.role"], "ADMIN", "{page}");
    assert_eq!(page["graphql.operation"], "LeadPage", "{page}");
    assert_eq!(page["http.status"], 200, "{page}");
    assert_eq!(page["outcome"], "ok", "{page}");
    assert!(page["graphql.cost"].as_u64() > Some(0), "{page}");
    assert!(page["db.statements"].as_u64() >= Some(1), "{page}");
    assert!(page["duration_ms"].as_f64().is_some(), "{page}");
    assert!(page["user.id"].as_str().is_some(), "{page}");
    assert!(!page.to_string().contains('@'), "{page}");
    assert_eq!(lines[2]["http.path"], "/reports/kpis.csv", "{}", lines[2]);
    assert_eq!(lines[3]["message"], "websocket closed", "{}", lines[3]);
    assert_eq!(lines[3]["ws.close_code"], 1000, "{}", lines[3]);
}
