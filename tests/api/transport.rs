//! docs/api.md "Transport and limits": methods, content types, sizes, batching,
//! query shape limits, GraphiQL, health and request ids.

use entity::enums::Role;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

#[db_test]
async fn a_query_over_get_runs(app: TestApp) {
    let resp = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "{ viewer { role } }")])
        .bearer_auth(app.token(Role::Sales))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["role"], "SALES");
}

#[db_test]
async fn a_mutation_over_get_is_405_with_allow_post(app: TestApp) {
    let resp = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[(
            "query",
            "mutation { deleteLead(input: {id: \"x\"}) { deletedLeadId } }",
        )])
        .bearer_auth(app.token(Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[db_test]
async fn a_body_that_is_not_json_is_415(app: TestApp) {
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let resp = app
            .client
            .post(format!("{}/graphql", app.base))
            .header("content-type", content_type)
            .bearer_auth(app.token(Role::Admin))
            .body(r#"{"query":"{ viewer { role } }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415, "{content_type}");
    }
}

#[db_test]
async fn a_body_over_one_mebibyte_is_413(app: TestApp) {
    let padding = "x".repeat(1024 * 1024 + 10);
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "query": "{ viewer { role } }", "variables": { "pad": padding } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[db_test]
async fn a_batch_array_is_400_and_runs_nothing(app: TestApp) {
    app.reset_queries();
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!([{ "query": "{ viewer { role } }" }, { "query": "{ viewer { role } }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(app.queries(), 0);
}

#[db_test]
async fn malformed_json_is_400(app: TestApp) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .bearer_auth(app.token(Role::Admin))
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// A query `levels` selections deep through account -> leads -> account ...
fn deep_query(levels: usize) -> String {
    let mut q = String::from("id");
    for i in 0..levels {
        q = if i % 2 == 0 {
            format!("account {{ {q} }}")
        } else {
            format!("leads(first: 1) {{ nodes {{ {q} }} }}")
        };
    }
    format!("{{ leads(first: 1) {{ nodes {{ {q} }} }} }}")
}

#[db_test]
async fn an_over_deep_query_is_refused_before_it_touches_the_data(app: TestApp) {
    // Baseline: what authentication alone costs.
    app.reset_queries();
    app.gql(Role::Admin, "{ __typename }", json!({})).await;
    let auth_only = app.queries();

    app.reset_queries();
    let (status, body) = app.post(Role::Admin, &deep_query(12), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deep")
    );
    assert_eq!(app.queries(), auth_only, "the refused query ran SQL");
}

#[db_test]
async fn an_over_complex_query_is_refused_and_says_which_limit(app: TestApp) {
    app.reset_queries();
    app.gql(Role::Admin, "{ __typename }", json!({})).await;
    let auth_only = app.queries();
    app.reset_queries();
    let q = "{ leads(first: 100) { nodes { id email account { leads(first: 100) { nodes { id } } } } } }";
    let (_, body) = app.post(Role::Admin, q, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex")
    );
    assert_eq!(app.queries(), auth_only);
}

#[db_test]
async fn a_query_within_the_limits_runs(app: TestApp) {
    // 12 levels deep is allowed; 20 x (a few fields) is far under 1,000.
    let data = app
        .gql(
            Role::Admin,
            "{ leads(first: 20) { nodes { id email account { name } } } }",
            json!({}),
        )
        .await;
    assert!(data["leads"]["nodes"].is_array());
}

#[db_test]
async fn more_than_five_directives_on_a_field_are_refused(app: TestApp) {
    let q = "{ viewer { role @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) } }";
    let (_, body) = app.post(Role::Admin, q, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
}

const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

#[db_test]
async fn the_standard_introspection_query_answers_for_code_generators(app: TestApp) {
    let data = app.gql(Role::Reporting, INTROSPECTION, json!({})).await;
    let types = data["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Lead"));
    assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let app = crate::common::TestApp::spawn_with(crate::common::Backend::Sqlite, |c| {
        c.introspection = false
    })
    .await;
    let (_, body) = app
        .post(Role::Admin, "{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("introspection is disabled")
    );
    // Ordinary queries still run.
    app.gql(Role::Admin, "{ viewer { role } }", json!({})).await;
}

#[db_test]
async fn graphiql_is_served_to_browsers_from_the_binary_under_a_strict_csp(app: TestApp) {
    let mut pages = Vec::new();
    for path in ["/graphiql", "/graphql"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        pages.push(resp.text().await.unwrap());
    }
    assert_eq!(pages[0], pages[1], "/graphql shows the same page");

    // Every script and stylesheet is the server's own, cached for good
    // (its path changes with its content).
    let assets: Vec<&str> = pages[0]
        .split("=\"/graphiql/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(assets.len(), 7, "{}", pages[0]);
    assert!(!pages[0].contains("://"), "{}", pages[0]);
    for asset in assets {
        let resp = app
            .client
            .get(format!("{}/graphiql/assets/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(resp.headers()["content-type"], expected, "{asset}");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        assert!(!resp.bytes().await.unwrap().is_empty(), "{asset}");
    }
    let missing = app
        .client
        .get(format!(
            "{}/graphiql/assets/graphiql-0.0.0/graphiql.min.js",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[db_test]
async fn health_and_readiness_answer(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[db_test]
async fn every_response_carries_a_request_id_and_errors_quote_it(app: TestApp) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "query": "{ nosuchfield }" }))
        .send()
        .await
        .unwrap();
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!header.is_empty());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["extensions"]["requestId"], header.as_str());
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[db_test(postgres_only)]
async fn postgres_connections_plan_each_execution_without_parallel_workers(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    // Session settings of the server's pool (`src/db.rs`): custom plans
    // for every execution, and no parallel workers by default.
    for (setting, expected) in [
        ("plan_cache_mode", "force_custom_plan"),
        ("max_parallel_workers_per_gather", "0"),
    ] {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SHOW {setting}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let value: String = row.try_get_by_index(0).unwrap();
        assert_eq!(value, expected, "{setting}");
    }
}

/// Sends a query with this `x-request-id` header; returns the response's
/// header and `extensions.requestId`.
async fn echoed_request_id(app: &TestApp, sent: &str) -> (String, String) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .header("x-request-id", sent)
        .json(&json!({ "query": "{ nosuchfield }" }))
        .send()
        .await
        .unwrap();
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let in_body = body["extensions"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (header, in_body)
}

#[db_test]
async fn a_safe_client_request_id_is_echoed_and_any_other_is_replaced_by_a_uuid(app: TestApp) {
    let safe = "sync-job.2026-07-01_run-42";
    assert_eq!(
        echoed_request_id(&app, safe).await,
        (safe.to_owned(), safe.to_owned())
    );

    for hostile in [
        "<script>alert(1)</script>".to_owned(),
        "x".repeat(200),
        "two words".to_owned(),
        "id;drop".to_owned(),
    ] {
        let (header, in_body) = echoed_request_id(&app, &hostile).await;
        assert_eq!(header, in_body, "{hostile}");
        assert!(
            uuid::Uuid::parse_str(&header).is_ok(),
            "{hostile:?} came back as {header:?}"
        );
    }
}

#[db_test]
async fn text_with_a_nul_character_is_refused_before_anything_runs_naming_where(app: TestApp) {
    // PostgreSQL cannot store U+0000 in text: a lead named with one
    // was an INTERNAL error there (and written on SQLite).
    let create = "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } userErrors { code } } }";
    let (status, body) = app
        .post(Role::Admin, create, json!({ "i": { "email": "nul@example.com", "firstName": "A\u{0}da", "source": "EMAIL" } }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"$i.firstName\""),
        "{body}"
    );
    let leads = app
        .gql(Role::Admin, "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(leads["leads"]["totalCount"], 0);

    // In a literal too (the escape is the only way to write one).
    let search = r#"{ accounts(filter: {search: "a\u0000"}) { totalCount } }"#;
    let (_, body) = app.post(Role::Admin, search, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("accounts.filter.search"),
        "{body}"
    );

    // Other characters a database stores are text like any other.
    let data = app
        .gql(Role::Admin, create, json!({ "i": { "email": "rtl@example.com", "firstName": "\u{202E}\u{5E9}\u{5DC}\u{5D5}\u{5DD} \u{1F600}", "source": "EMAIL" } }))
        .await;
    assert!(data["createLead"]["lead"]["id"].is_string(), "{data}");
}

#[db_test]
async fn the_csv_report_refuses_a_parameter_with_a_nul_character_by_name(app: TestApp) {
    // An industry with U+0000 was an INTERNAL error on PostgreSQL.
    let url = format!(
        "{}/reports/kpis.csv?kpis=LEADS_CREATED&from=2026-01-01&to=2026-03-31&industries=Soft%00ware",
        app.base
    );
    let res = app
        .client
        .get(url)
        .bearer_auth(app.token(Role::Reporting))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`industries`"),
        "{body}"
    );
}
