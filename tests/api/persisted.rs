//! docs/api.md "Persisted queries and trusted documents": Apollo's automatic
//! persisted queries and the trusted-documents mode.

use entity::enums::Role;
use handoff::http::documents::{TrustedDocuments, sha256_hex};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const QUERY: &str = "query Me { viewer { role } }";

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn get(app: &TestApp, role: Role, params: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(params)
        .bearer_auth(app.token(role))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[db_test]
async fn an_apollo_client_recovers_from_an_unknown_hash_by_sending_the_text(app: TestApp) {
    let hash = sha256_hex(QUERY);
    // First: the hash alone, unknown.
    let bare = json!({ "extensions": persisted(&hash) });
    let answer = app.gql_body(Role::Sales, &bare).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND", "{answer}");
    // Then: the text with its hash, which runs and is remembered.
    let full = json!({ "query": QUERY, "extensions": persisted(&hash) });
    let answer = app.gql_body(Role::Sales, &full).await;
    assert_eq!(answer["data"]["viewer"]["role"], "SALES", "{answer}");
    // From now on the hash alone runs, by POST and by GET, for anyone.
    let answer = app.gql_body(Role::Marketing, &bare).await;
    assert_eq!(answer["data"]["viewer"]["role"], "MARKETING", "{answer}");
    let extensions = persisted(&hash).to_string();
    let (status, answer) = get(&app, Role::Sales, &[("extensions", &extensions)]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["viewer"]["role"], "SALES", "{answer}");
}

#[db_test]
async fn a_hash_that_does_not_match_its_text_is_refused(app: TestApp) {
    let wrong = sha256_hex("{ viewer { id } }");
    let body = json!({ "query": QUERY, "extensions": persisted(&wrong) });
    let (status, answer) = app.post_body(Role::Sales, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    assert!(answer.get("data").is_none());
    // And it was not remembered under the wrong hash.
    let bare = json!({ "extensions": persisted(&wrong) });
    assert_eq!(
        code(&app.gql_body(Role::Sales, &bare).await),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let malformed =
        json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": wrong } } });
    let (status, answer) = app.post_body(Role::Sales, &malformed).await;
    assert_eq!(status, 400, "{answer}");
}

const LEADS: &str = "query Leads { leads(first: 1) { totalCount } }";

fn trust_two_documents(config: &mut handoff::config::Config) {
    // As graphql-codegen's client preset writes persisted-documents.json
    // (here with sha1-like ids of its own).
    let manifest = json!({
        "a1b2c3": QUERY,
        "d4e5f6": LEADS,
    });
    config.trusted_documents = Some(std::sync::Arc::new(
        TrustedDocuments::parse(&manifest.to_string()).expect("manifest"),
    ));
}

#[db_test(with = trust_two_documents)]
async fn in_trusted_mode_only_manifest_documents_run_except_for_admins(app: TestApp) {
    // By documentId, by Apollo's hash, or as the same text.
    let by_id = json!({ "documentId": "a1b2c3" });
    assert_eq!(
        app.gql_body(Role::Sales, &by_id).await["data"]["viewer"]["role"],
        "SALES"
    );
    let (status, answer) = get(&app, Role::Sales, &[("documentId", "d4e5f6")]).await;
    assert_eq!(status, 200);
    assert!(
        answer["data"]["leads"]["totalCount"].is_number(),
        "{answer}"
    );
    let by_hash = json!({ "extensions": persisted(&sha256_hex(QUERY)) });
    assert_eq!(
        app.gql_body(Role::Marketing, &by_hash).await["data"]["viewer"]["role"],
        "MARKETING"
    );
    let as_text = json!({ "query": LEADS });
    assert!(
        app.gql_body(Role::Leadership, &as_text).await["data"]["leads"]["totalCount"].is_number()
    );

    // Anything else is refused before it runs, for every role but ADMIN.
    let other = "{ viewer { id role } }";
    for role in [
        Role::Sales,
        Role::Marketing,
        Role::Leadership,
        Role::Integration,
    ] {
        let answer = app.gql_body(role, &json!({ "query": other })).await;
        assert_eq!(code(&answer), "FORBIDDEN", "{role:?}: {answer}");
        assert!(answer.get("data").is_none());
        let registering = json!({ "query": other, "extensions": persisted(&sha256_hex(other)) });
        assert_eq!(code(&app.gql_body(role, &registering).await), "FORBIDDEN");
        let unknown = json!({ "documentId": "zzz" });
        assert_eq!(code(&app.gql_body(role, &unknown).await), "FORBIDDEN");
    }
    let answer = app.gql_body(Role::Admin, &json!({ "query": other })).await;
    assert_eq!(answer["data"]["viewer"]["role"], "ADMIN", "{answer}");
}

#[db_test]
async fn unreadable_get_parameters_are_a_json_400(app: TestApp) {
    let (status, answer) = get(
        &app,
        Role::Sales,
        &[("documentId", "a"), ("documentId", "b")],
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(code(&answer), "BAD_USER_INPUT");
}
