//! A dashboard on another origin, in a real browser (tests/api/browser.rs):
//! with its origin in `HANDOFF_CORS_ALLOWED_ORIGINS` it queries the API
//! and opens a subscription; without it, the browser blocks both.

use std::time::Duration;

use axum::{Router, response::Html, routing::get};
use entity::enums::Role;
use serde_json::json;

use crate::{
    browser::{Browser, Page},
    common::{TestApp, each_backend, each_backend_with, lead_definition},
};

const WAIT: Duration = Duration::from_secs(10);

/// Serves a blank dashboard page on a port of its own (another origin than
/// the API's); its origin.
async fn dashboard() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/",
        get(|| async { Html("<!doctype html><title>Dashboard</title><p>dashboard</p>") }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    origin
}

/// Runs `{ viewer { role } }` from the page with `fetch`: the role, or
/// `blocked` when the browser refuses the response to the page.
async fn query_from(page: &Page, app: &TestApp, token: &str) -> String {
    let js = format!(
        "fetch({url}, {{ method: 'POST', headers: {{ 'content-type': 'application/json', \
         authorization: 'Bearer ' + {token} }}, body: JSON.stringify({{ query: '{{ viewer {{ role }} }}' }}) }})\
         .then(r => r.json()).then(b => b.data.viewer.role).catch(() => 'blocked')",
        url = json!(format!("{}/graphql", app.base)),
        token = json!(token),
    );
    page.eval(&js).await.as_str().unwrap_or_default().to_owned()
}

/// Opens `/graphql/ws` from the page, subscribes to definition approvals
/// and pings; `window.socket` records `ready` (the pong: the subscription
/// has started), `events` and `failed`.
async fn subscribe_from(page: &Page, app: &TestApp, token: &str) {
    let js = format!(
        "(() => {{
            const s = window.socket = {{ ready: false, failed: false, events: [] }};
            const ws = new WebSocket({url}, 'graphql-transport-ws');
            ws.onopen = () => ws.send(JSON.stringify({{ type: 'connection_init', payload: {{ token: {token} }} }}));
            ws.onerror = () => {{ s.failed = true; }};
            ws.onclose = () => {{ if (!s.ready) s.failed = true; }};
            ws.onmessage = (m) => {{
                const msg = JSON.parse(m.data);
                if (msg.type === 'connection_ack') {{
                    ws.send(JSON.stringify({{ id: '1', type: 'subscribe', payload: {{
                        query: 'subscription {{ events(kinds: [DEFINITION_APPROVED]) {{ kind }} }}' }} }}));
                    ws.send(JSON.stringify({{ type: 'ping' }}));
                }} else if (msg.type === 'pong') {{
                    s.ready = true;
                }} else if (msg.type === 'next') {{
                    s.events.push(msg.payload.data.events.kind);
                }}
            }};
            return true;
        }})()",
        url = json!(format!("{}/graphql/ws", app.base.replacen("http://", "ws://", 1))),
        token = json!(token),
    );
    page.eval(&js).await;
}

#[tokio::test]
async fn a_dashboard_on_an_allowed_origin_queries_and_subscribes_from_the_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let origin = dashboard().await;
    let allowed = origin.clone();
    each_backend_with(
        move |config| {
            config.cors_allowed_origins =
                handoff::http::cors::AllowedOrigins::parse(&allowed).expect("origin");
        },
        async |app| {
            let page = browser.open(&format!("{origin}/")).await;
            let token = app.token(Role::Marketing);
            assert_eq!(query_from(&page, &app, &token).await, "MARKETING");

            subscribe_from(&page, &app, &token).await;
            page.wait_for("window.socket.ready || window.socket.failed", WAIT)
                .await;
            assert_eq!(page.eval("window.socket.failed").await, false);
            app.approve_definition(lead_definition(50, 30)).await;
            page.wait_for("window.socket.events.length > 0", WAIT).await;
            assert_eq!(
                page.eval("window.socket.events[0]").await,
                "DEFINITION_APPROVED"
            );
            assert!(
                page.errors().iter().all(|e| !e.contains("CORS")),
                "{:?}",
                page.errors()
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_dashboard_on_an_origin_not_allowed_is_blocked_by_the_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let origin = dashboard().await;
    each_backend(async |app| {
        let page = browser.open(&format!("{origin}/")).await;
        let token = app.token(Role::Marketing);
        assert_eq!(query_from(&page, &app, &token).await, "blocked");
        subscribe_from(&page, &app, &token).await;
        page.wait_for("window.socket.ready || window.socket.failed", WAIT)
            .await;
        assert_eq!(page.eval("window.socket.failed").await, true);
    })
    .await;
}
