//! docs/api.md "Browsers and HTTP": cross-origin access, compression and
//! the GraphQL-over-HTTP media type.

use std::io::Read;

use entity::enums::Role;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const APP_ORIGIN: &str = "https://dashboard.example.com";

fn allow_dashboard(config: &mut handoff::config::Config) {
    config.cors_allowed_origins =
        handoff::http::cors::AllowedOrigins::parse(APP_ORIGIN).expect("origins");
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[db_test(with = allow_dashboard)]
async fn an_allowed_origin_gets_its_preflight_answered_and_may_read_responses(app: TestApp) {
    let response = preflight(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), 204);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    let allowed_headers = h["access-control-allow-headers"].to_str().unwrap();
    for needed in ["authorization", "content-type"] {
        assert!(allowed_headers.contains(needed), "{allowed_headers}");
    }
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(h.get("access-control-allow-credentials").is_none());

    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("origin", APP_ORIGIN)
        .bearer_auth(app.token(Role::Sales))
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        APP_ORIGIN
    );
    assert!(
        response.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    assert_eq!(response.headers()["vary"], "origin");
}

#[db_test(with = allow_dashboard)]
async fn another_origin_gets_no_cors_header_at_all(app: TestApp) {
    let response = preflight(&app, "https://evil.example.net").await;
    assert_eq!(response.status(), 403);
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("HANDOFF_CORS_ALLOWED_ORIGINS")
    );

    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("origin", "https://evil.example.net")
        .bearer_auth(app.token(Role::Sales))
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cors_headers(&response), Vec::<String>::new());
}

#[db_test]
async fn by_default_no_origin_is_allowed_and_options_is_not_405(app: TestApp) {
    let response = preflight(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), 403);
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["allow"], "GET, POST, OPTIONS");
}

/// Opens `/graphql/ws` with an `Origin`; the HTTP status of the handshake.
async fn socket_status(app: &TestApp, origin: &str) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake: {e}"),
    }
}

#[db_test(with = allow_dashboard)]
async fn sockets_from_other_origins_are_refused_like_requests(app: TestApp) {
    assert_eq!(socket_status(&app, APP_ORIGIN).await, 101);
    assert_eq!(socket_status(&app, &app.base).await, 101);
    assert_eq!(socket_status(&app, "https://evil.example.net").await, 403);
}

/// A large response: every type and field of the schema, with descriptions.
async fn large_request(app: &TestApp, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "query": "{ __schema { types { name description fields { name description } } } }" }));
    if let Some(encoding) = accept_encoding {
        request = request.header("accept-encoding", encoding);
    }
    request.send().await.unwrap()
}

/// Whether two response bodies hold the same `data` (their budgets differ).
fn same_data(a: &[u8], b: &[u8]) -> bool {
    let a: Value = serde_json::from_slice(a).unwrap();
    let b: Value = serde_json::from_slice(b).unwrap();
    a["data"]["__schema"]["types"]
        .as_array()
        .is_some_and(|t| t.len() > 50)
        && a["data"] == b["data"]
}

#[db_test]
async fn large_responses_are_compressed_as_the_client_accepts(app: TestApp) {
    let plain = large_request(&app, None).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    assert!(plain.len() > 20_000, "{}", plain.len());

    let gzipped = large_request(&app, Some("gzip")).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let gzipped = gzipped.bytes().await.unwrap();
    assert!(
        gzipped.len() * 3 < plain.len(),
        "{} vs {}",
        gzipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert!(same_data(&unzipped, &plain));

    let brotli = large_request(&app, Some("gzip, deflate, br")).await;
    assert_eq!(brotli.headers()["content-encoding"], "br");
    let brotli = brotli.bytes().await.unwrap();
    let mut unbrotlied = Vec::new();
    brotli::Decompressor::new(&brotli[..], 4096)
        .read_to_end(&mut unbrotlied)
        .unwrap();
    assert!(same_data(&unbrotlied, &plain));

    // A small response is not worth it.
    let small = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert!(small.headers().get("content-encoding").is_none());
}

async fn post_accepting(app: &TestApp, accept: &str, body: Value) -> (u16, String, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Sales))
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[db_test]
async fn the_graphql_response_media_type_is_served_when_asked_for(app: TestApp) {
    let ok = json!({ "query": "{ viewer { role } }" });
    let (status, content_type, body) = post_accepting(&app, GRAPHQL_RESPONSE, ok.clone()).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    assert_eq!(body["data"]["viewer"]["role"], "SALES");

    // As Apollo Client and graphql-http's clients send it.
    let accept = "application/graphql-response+json, application/json;q=0.9";
    let (_, content_type, _) = post_accepting(&app, accept, ok.clone()).await;
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    for accept in [
        "application/json",
        "*/*",
        "application/json, application/graphql-response+json;q=0.5",
    ] {
        let (status, content_type, _) = post_accepting(&app, accept, ok.clone()).await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/json"),
            "{accept}: {content_type}"
        );
    }
}

#[db_test]
async fn request_errors_have_no_data_and_are_400_with_the_graphql_response_media_type(
    app: TestApp,
) {
    let bad = [
        json!({ "query": "{ viewer { role " }),    // does not parse
        json!({ "query": "{ viewer { nope } }" }), // does not validate
        json!({ "query": "query Q($n: Int!) { leads(first: $n) { totalCount } }", "variables": { "n": "x" } }),
        json!({ "query": "query A { viewer { id } } query B { viewer { id } }" }), // which one?
    ];
    for body in bad {
        let (status, content_type, answer) =
            post_accepting(&app, GRAPHQL_RESPONSE, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(content_type.starts_with(GRAPHQL_RESPONSE));
        assert!(answer.get("data").is_none(), "{answer}");
        assert!(answer["errors"][0]["message"].is_string());

        // application/json: 200, and no `data` either.
        let (status, _, answer) = post_accepting(&app, "application/json", body.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert!(answer.get("data").is_none(), "{answer}");
    }
    // A field error is not a request error: 200 with data.
    let (status, _, answer) = post_accepting(
        &app,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ node(id: \"not-an-id\") { id } viewer { role } }" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["viewer"]["role"], "SALES");
    // Errors outside GraphQL keep their status.
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("accept", GRAPHQL_RESPONSE)
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(GRAPHQL_RESPONSE)
    );
}

/// graphql-http's audits of the GraphQL over HTTP specification
/// (tests/graphql-http, `npm ci --prefix tests/graphql-http`): no warning,
/// no error. Skipped without node and the packages, unless
/// `HANDOFF_NODE_TESTS=required` (as `.ci/run` sets it).
#[db_test]
async fn graphql_over_http_audits_pass_without_a_warning(app: TestApp) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphql-http");
    let has_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node || !dir.join("node_modules/graphql-http").exists() {
        let required = std::env::var("HANDOFF_NODE_TESTS").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "HANDOFF_NODE_TESTS=required but node or tests/graphql-http/node_modules is missing"
        );
        eprintln!(
            "skipped: install node and run `npm ci --prefix tests/graphql-http` to audit GraphQL over HTTP"
        );
        return;
    }
    let url = format!("{}/graphql", app.base);
    let token = app.token(Role::Admin);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("audit.mjs")
            .arg(url)
            .env("TOKEN", token)
            .current_dir(dir)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(" warn 0 error 0"), "{stdout}");
}
