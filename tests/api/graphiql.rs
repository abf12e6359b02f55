//! GraphiQL in a real browser (tests/api/browser.rs): served from the
//! binary with nothing loaded from elsewhere, it asks for a token before it
//! fetches the schema, then shows the schema, runs queries over HTTP and
//! subscriptions over `/graphql/ws`. One Chromium per test, a fresh tab per
//! backend. That the browser could reach nothing but loopback anyway is
//! `browser::the_test_browser_reaches_loopback_and_nothing_else`.

use std::time::Duration;

use entity::enums::Role;
use serde_json::{Value, json};

use crate::{
    browser::{Browser, Page},
    common::{TestApp, each_backend, each_backend_with, lead_definition},
};

/// How long the page has for anything it does.
const WAIT: Duration = Duration::from_secs(10);

/// Whether the token form shows.
const FORM_SHOWN: &str = "!document.getElementById('sign-in').hidden \
     && document.getElementById('explorer').hidden";
/// Whether GraphiQL shows.
const GRAPHIQL_SHOWN: &str = "document.getElementById('sign-in').hidden \
     && !document.getElementById('explorer').hidden \
     && !!document.querySelector('.graphiql-container')";

/// Pastes `token` into the form and sends it.
async fn enter_token(page: &Page, token: &str) {
    page.eval(&format!(
        "document.getElementById('token-input').value = {}; \
         document.getElementById('token-submit').click()",
        json!(token)
    ))
    .await;
}

/// Opens GraphiQL and signs in with `token`.
async fn open_with(browser: &Browser, app: &TestApp, token: &str) -> Page {
    let page = browser.open(&format!("{}/graphiql", app.base)).await;
    page.wait_for(FORM_SHOWN, WAIT).await;
    enter_token(&page, token).await;
    page.wait_for(GRAPHIQL_SHOWN, WAIT).await;
    page
}

/// Puts `document` in the query editor and presses the run button, once
/// both editors are there (GraphiQL ignores the button until the response
/// editor is).
async fn run(page: &Page, document: &str) {
    page.wait_for(
        "!!document.querySelector('.graphiql-query-editor .CodeMirror') \
         && !!document.querySelector('.result-window .CodeMirror')",
        WAIT,
    )
    .await;
    page.eval(&format!(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue({}); \
         document.querySelector('.graphiql-execute-button').click()",
        json!(document)
    ))
    .await;
}

/// Waits for the response pane to show JSON containing `text`, and returns
/// that JSON.
async fn response_with(page: &Page, text: &str) -> Value {
    let shown = page
        .wait_for(
            &format!(
                "(() => {{ const r = document.querySelector('.result-window .CodeMirror'); \
                 const v = r ? r.CodeMirror.getValue() : ''; return v.includes({}) ? v : ''; }})()",
                json!(text)
            ),
            WAIT,
        )
        .await;
    serde_json::from_str(shown.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the response pane does not hold JSON ({e}): {shown}"))
}

/// How long a subscriber waits for an event before deciding it was missed.
const HEAR: Duration = Duration::from_secs(2);

/// Like [`response_with`], but `None` when the pane has not shown `text`
/// within `timeout`.
async fn response_within(page: &Page, text: &str, timeout: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    let pane = "(() => { const r = document.querySelector('.result-window .CodeMirror'); \
                return r ? r.CodeMirror.getValue() : ''; })()";
    loop {
        let shown = page.eval(pane).await;
        let shown = shown.as_str().unwrap_or_default();
        if shown.contains(text) {
            return Some(serde_json::from_str(shown).unwrap());
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails the test unless every request the page made went to the server
/// it came from (HTTP and WebSocket alike).
fn assert_only_local_requests(page: &Page, app: &TestApp) {
    let ws = app.base.replacen("http://", "ws://", 1);
    let requests = page.requests();
    assert!(!requests.is_empty());
    for url in &requests {
        assert!(
            url.starts_with(&format!("{}/", app.base)) || url.starts_with(&format!("{ws}/")),
            "a request left the server's origin: {url} (all: {requests:#?})"
        );
    }
}

#[tokio::test]
async fn graphiql_asks_for_a_token_before_the_schema_and_loads_nothing_from_elsewhere() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    each_backend(async |app| {
        let page = browser.open(&format!("{}/graphiql", app.base)).await;
        page.wait_for(FORM_SHOWN, WAIT).await;
        let hint = page.eval("document.getElementById('token-form').innerText").await;
        assert!(
            hint.as_str().unwrap().contains("handoff token --role ROLE"),
            "{hint}"
        );
        assert!(
            !page.requests().iter().any(|url| url.ends_with("/graphql")),
            "the page asked the API before it had a token: {:#?}",
            page.requests()
        );

        // A bad token is refused on the form, with the server's reason.
        enter_token(&page, "not-a-token").await;
        let refusal = page
            .wait_for(
                "!document.getElementById('token-error').hidden \
                 && document.getElementById('token-error').textContent",
                WAIT,
            )
            .await;
        assert!(
            refusal.as_str().unwrap().starts_with("The token was refused"),
            "{refusal}"
        );
        assert!(page.eval(FORM_SHOWN).await.as_bool().unwrap());

        // A good one opens GraphiQL, whose documentation shows the schema.
        let token = app.token(Role::Sales);
        enter_token(&page, &format!("Bearer {token}\n")).await;
        page.wait_for(GRAPHIQL_SHOWN, WAIT).await;
        assert_eq!(
            page.eval("document.getElementById('signed-in-as').textContent")
                .await,
            "as SALES"
        );
        page.eval("document.querySelector('button[aria-label=\"Show Documentation Explorer\"]').click()")
            .await;
        page.wait_for(
            "(() => { const q = [...document.querySelectorAll('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name')] \
             .find(a => a.textContent === 'QueryRoot'); if (q) q.click(); return !!q; })()",
            WAIT,
        )
        .await;
        let fields = page
            .wait_for(
                "[...document.querySelectorAll('.graphiql-doc-explorer-field-name')].map(a => a.textContent)",
                WAIT,
            )
            .await;
        for field in ["viewer", "leads", "accounts"] {
            assert!(
                fields.as_array().unwrap().contains(&json!(field)),
                "{field} not in {fields}"
            );
        }

        // The token stays for the tab's session: a reload goes straight
        // to GraphiQL.
        assert_eq!(
            page.eval("sessionStorage.getItem('handoff.graphiql.token')")
                .await,
            token.as_str()
        );
        page.goto(&format!("{}/graphiql", app.base)).await;
        page.wait_for(GRAPHIQL_SHOWN, WAIT).await;
        // Another token replaces it.
        page.eval("document.getElementById('change-token').click()")
            .await;
        page.wait_for(FORM_SHOWN, WAIT).await;
        let admin = app.token(Role::Admin);
        enter_token(&page, &admin).await;
        page.wait_for(
            "document.getElementById('signed-in-as').textContent === 'as ADMIN'",
            WAIT,
        )
        .await;
        page.wait_for(GRAPHIQL_SHOWN, WAIT).await;
        assert_eq!(
            page.eval("sessionStorage.getItem('handoff.graphiql.token')")
                .await,
            admin.as_str()
        );
        // Forgetting it brings the form back and clears the storage.
        page.eval("document.getElementById('forget-token').click()")
            .await;
        page.wait_for(FORM_SHOWN, WAIT).await;
        assert_eq!(
            page.eval("sessionStorage.getItem('handoff.graphiql.token')")
                .await,
            Value::Null
        );

        assert_only_local_requests(&page, &app);
        assert_eq!(page.errors(), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn a_query_run_in_graphiql_returns_data_with_the_token() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    each_backend(async |app| {
        app.create_account("Browser Co", Some("browser.example"))
            .await;
        let token = app.token(Role::Admin);
        let page = open_with(&browser, &app, &token).await;
        run(&page, "{ accounts(first: 5) { nodes { name domain } } }").await;
        let response = response_with(&page, "Browser Co").await;
        assert_eq!(
            response["data"]["accounts"]["nodes"],
            json!([{ "name": "Browser Co", "domain": "browser.example" }]),
            "{response}"
        );

        // Every request to the API (the token check, the schema, the
        // query) carried the token.
        let bearer = format!("Bearer {token}");
        let api_calls: Vec<Value> = page
            .events("Network.requestWillBeSent")
            .into_iter()
            .filter(|e| e["request"]["url"] == format!("{}/graphql", app.base))
            .collect();
        assert!(api_calls.len() >= 3, "{api_calls:#?}");
        for call in &api_calls {
            assert_eq!(call["request"]["method"], "POST");
            assert_eq!(call["request"]["headers"]["Authorization"], bearer.as_str());
        }
        assert_only_local_requests(&page, &app);
        assert_eq!(page.errors(), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn a_subscription_started_in_graphiql_receives_events_until_its_user_is_deactivated() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    // The principal is checked before every event, so the test needs no
    // clock.
    each_backend_with(
        |c| c.ws_recheck_interval = Duration::ZERO,
        async |app| {
            // LEADERSHIP listens: approving a definition needs the others.
            let token = app.token(Role::Leadership);
            let page = open_with(&browser, &app, &token).await;
            const EVENTS: &str =
                "subscription { events(kinds: [DEFINITION_APPROVED]) { kind definitionVersion } }";
            run(&page, EVENTS).await;
            // The server starts a subscription when it reads `subscribe`;
            // the page has sent it once the browser says so.
            wait_for_frames_sent(&page, "\"type\":\"subscribe\"", 1).await;
            let init: Value = serde_json::from_str(&frames_sent(&page)[0]).unwrap();
            assert_eq!(init["type"], "connection_init");
            assert_eq!(init["payload"]["token"], token.as_str());

            // The server starts the subscription when it reads `subscribe`,
            // a moment after the page sent it, and nothing in the protocol
            // tells the page when: an approval made in that moment is not
            // heard. Approve until the page hears one (nearly always the
            // first).
            let mut heard = None;
            for _ in 0..5 {
                app.approve_definition(lead_definition(50, 30)).await;
                heard = response_within(&page, "DEFINITION_APPROVED", HEAR).await;
                if heard.is_some() {
                    break;
                }
                eprintln!("the page missed an approval made as it subscribed; approving again");
            }
            let response = heard.expect("the page heard none of 5 approvals");
            assert_eq!(
                response["data"]["events"]["kind"], "DEFINITION_APPROVED",
                "{response}"
            );

            // The run button, now a stop button, ends the subscription.
            page.eval("document.querySelector('.graphiql-execute-button').click()")
                .await;
            wait_for_frames_sent(&page, "\"type\":\"complete\"", 1).await;

            // Listening again; the user loses access: the server closes the
            // socket with 4403 and the page says why instead of retrying.
            run(&page, EVENTS).await;
            wait_for_frames_sent(&page, "\"type\":\"subscribe\"", 2).await;
            let data = app
                .gql(
                    Role::Admin,
                    "mutation($i: UpdateUserInput!) { updateUser(input: $i) { userErrors { message } } }",
                    json!({ "i": { "id": app.user_gid(Role::Leadership), "active": false } }),
                )
                .await;
            assert_eq!(data["updateUser"]["userErrors"], json!([]), "{data}");
            app.approve_definition(lead_definition(50, 30)).await;
            let response = response_with(&page, "4403").await;
            let message = response["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("token was refused"), "{message}");

            let socket = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
            let sockets: Vec<String> = page
                .requests()
                .into_iter()
                .filter(|url| url.starts_with("ws:"))
                .collect();
            assert!(
                !sockets.is_empty() && sockets.iter().all(|url| *url == socket),
                "{sockets:?}"
            );
            assert_only_local_requests(&page, &app);
            assert_eq!(page.errors(), Vec::<String>::new());
        },
    )
    .await;
}

/// The text of every WebSocket frame the page sent, in order.
fn frames_sent(page: &Page) -> Vec<String> {
    page.events("Network.webSocketFrameSent")
        .into_iter()
        .filter_map(|e| e["response"]["payloadData"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until the page has sent `count` WebSocket frames containing
/// `text`.
async fn wait_for_frames_sent(page: &Page, text: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let seen = || {
        frames_sent(page)
            .iter()
            .filter(|frame| frame.contains(text))
            .count()
    };
    while seen() < count {
        if tokio::time::Instant::now() >= deadline {
            let text_shown = page.eval("document.body.innerText").await;
            panic!(
                "not {count} frames with {text} in {WAIT:?}; sent: {:#?}\npage: {text_shown}\n\
                 requests: {:#?}\nerrors: {:#?}",
                frames_sent(page),
                page.requests(),
                page.errors()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
