//! docs/api.md "Transport and limits" against a hostile or careless client:
//! the cost count bounds the work a request does, introspection and
//! aliases included; each user's budget refuses a burst with 429 and
//! serves it again once refilled; an unreachable database is a quick 503.

use std::time::{Duration, Instant};

use entity::enums::Role;
use handoff::{config::Config, http::throttle::ThrottleSettings};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{Backend, TestApp, each_backend_with, gid, manual_clock};

/// GraphiQL's introspection query.
const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

fn cost(body: &Value, key: &str) -> u64 {
    body["extensions"]["cost"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no extensions.cost.{key}: {body}"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[db_test]
async fn aliased_introspection_is_refused_before_it_runs_for_every_role(app: TestApp) {
    let small = "__schema { types { name fields { name } } }";
    let many: String = (0..300).map(|i| format!("a{i}: {small} ")).collect();
    for role in [Role::Reporting, Role::Admin] {
        let started = Instant::now();
        let (status, body) = app.post(role, &format!("{{ {many} }}"), json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("the limit is 30"),
            "{body}"
        );
        assert!(body["data"].is_null());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // Aliases nested inside one __schema count too: each copy of the
    // fields list is charged.
    let nested: String = (0..95)
        .map(|i| format!("f{i}: fields {{ name }} "))
        .collect();
    let (_, body) = app
        .post(
            Role::Reporting,
            &format!("{{ __schema {{ types {{ {nested} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(cost(&body, "requestedQueryCost") > 1000);
}

#[db_test]
async fn the_standard_introspection_query_runs_and_pays_for_what_it_returns(app: TestApp) {
    let (status, body) = app
        .post(Role::Reporting, STANDARD_INTROSPECTION, json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 100),
        "{body}"
    );
    let requested = cost(&body, "requestedQueryCost");
    let actual = cost(&body, "actualQueryCost");
    assert!((150..=400).contains(&requested), "{requested}");
    // One point per 50 objects returned, and never more than asked.
    let objects = count_objects(&body["data"]["__schema"]) as u64;
    assert_eq!(actual, objects.div_ceil(50));
    assert!(actual <= requested, "{actual} > {requested}");
}

#[db_test]
async fn root_fields_aliases_and_fragment_bombs_are_limited(app: TestApp) {
    let aliased: String = (0..101).map(|i| format!("a{i}: name ")).collect();
    let (_, body) = app
        .post(
            Role::Admin,
            &format!("{{ viewer {{ {aliased} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("100"),
        "{body}"
    );

    // Each fragment spreads the next twice: 2^24 selections, refused at once.
    let mut doc = String::from("{ viewer { ...F0 } } ");
    for i in 0..24 {
        doc.push_str(&format!(
            "fragment F{i} on User {{ ...F{} ...F{} }} ",
            i + 1,
            i + 1
        ));
    }
    doc.push_str("fragment F24 on User { id }");
    app.reset_queries();
    let started = Instant::now();
    let (_, body) = app.post(Role::Admin, &doc, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Only the token's user was read.
    assert!(app.queries() <= 1);
}

/// Seeds an account with 30 leads (each with an external id) through the
/// bulk API; returns the leads' global ids.
async fn seed(app: &TestApp) -> Vec<String> {
    let account = json!([{ "externalId": "acc-1", "name": "Acme", "domain": "acme.example" }]);
    app.gql(
        Role::Integration,
        "mutation($a: [AccountUpsertInput!]!) { upsertAccounts(input: {system: HUBSPOT, accounts: $a}) { failed } }",
        json!({ "a": account }),
    )
    .await;
    let leads: Vec<Value> = (0..30)
        .map(|i| {
            json!({ "externalId": format!("lead-{i}"), "email": format!("p{i}@acme.example"),
                    "accountExternalId": "acc-1", "ownerEmail": "sales@example.com" })
        })
        .collect();
    let data = app
        .gql(
            Role::Integration,
            "mutation($l: [LeadUpsertInput!]!) { upsertLeads(input: {system: HUBSPOT, leads: $l}) { failed results { id } } }",
            json!({ "l": leads }),
        )
        .await;
    assert_eq!(data["upsertLeads"]["failed"], 0, "{data}");
    data["upsertLeads"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Objects in a JSON value, itself included.
fn count_objects(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(count_objects).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_objects).sum(),
        _ => 0,
    }
}

/// Records a response holds (objects with an `id`), those under a
/// change-feed page counted one per ten as the rules say.
fn records(value: &Value, in_feed: bool) -> f64 {
    match value {
        Value::Object(map) => {
            let own = if map.contains_key("id") {
                if in_feed { 0.1 } else { 1.0 }
            } else {
                0.0
            };
            own + map
                .iter()
                .map(|(k, v)| records(v, in_feed || k == "changes"))
                .sum::<f64>()
        }
        Value::Array(items) => items.iter().map(|v| records(v, in_feed)).sum(),
        _ => 0.0,
    }
}

#[db_test]
async fn the_charged_cost_bounds_the_records_and_statements_a_request_reads(app: TestApp) {
    let ids = seed(&app).await;
    let counts = format!(
        "{{ {} }}",
        (0..25)
            .map(|i| format!("c{i}: leads {{ totalCount }} "))
            .collect::<String>()
    );
    let cases: Vec<(&str, Value)> = vec![
        // A variable's default counts (was charged 861 for 20,301 units).
        (
            "query($n: Int = 100) { leads(first: $n) { nodes { id account { id leads(first: $n) { nodes { id } } } } } }",
            json!({}),
        ),
        (
            "query($n: Int = 100) { leads(first: $n) { nodes { id account { id leads(first: $n) { nodes { id } } } } } }",
            json!({ "n": 5 }),
        ),
        // The change feed's page of up to 1,000 (was charged as 100).
        (
            "{ changes(first: 1000) { nodes { cursor node { id } } } }",
            json!({}),
        ),
        (
            "{ changes { nodes { cursor node { id ... on Lead { account { id } } } } } }",
            json!({}),
        ),
        // Every totalCount is a COUNT statement (was free).
        (&counts, json!({})),
        (
            "{ leads(first: 100) { totalCount nodes { id account { id } owner { id } externalIds { externalId } stageHistory { to at } } } }",
            json!({}),
        ),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Lead { account { id } owner { id } } } }",
            json!({ "ids": ids }),
        ),
        (
            "{ accounts(first: 5) { nodes { id leads(first: 50) { totalCount nodes { id } } } } }",
            json!({}),
        ),
        (
            "{ kpis(input: {kpis: [LEADS_CREATED, MQLS, WIN_RATE], from: \"2026-01-01\", to: \"2026-12-31\", granularity: MONTH}) { kpi series { start value { value } } } }",
            json!({}),
        ),
    ];
    for (query, variables) in cases {
        app.reset_queries();
        let (status, body) = app.post(Role::Admin, query, variables.clone()).await;
        assert_eq!(status, 200, "{body}");
        let requested = cost(&body, "requestedQueryCost");
        if code(&body) == "QUERY_TOO_COMPLEX" {
            // Refused before anything ran: only the token's user was read.
            assert!(requested > 1000, "{query}: {body}");
            assert!(
                app.queries() <= 1,
                "{query} ran {} statements",
                app.queries()
            );
            continue;
        }
        assert!(body.get("errors").is_none(), "{query}: {body}");
        let statements = app.queries() as u64;
        let read = records(&body["data"], false).ceil() as u64;
        let actual = cost(&body, "actualQueryCost");
        assert!(
            read <= requested,
            "{query} {variables}: charged {requested}, returned {read} records"
        );
        assert!(
            statements <= requested,
            "{query} {variables}: charged {requested}, ran {statements} statements"
        );
        assert!(
            read <= actual && actual <= requested,
            "{query} {variables}: read {read}, actual {actual}, requested {requested}"
        );
    }
}

#[db_test]
async fn bulk_mutations_cost_a_point_per_ten_records(app: TestApp) {
    let leads: Vec<Value> = (0..250)
        .map(|i| json!({ "externalId": format!("b-{i}"), "email": format!("b{i}@bulk.example") }))
        .collect();
    let (_, body) = app
        .post(
            Role::Integration,
            "mutation($l: [LeadUpsertInput!]!) { upsertLeads(input: {system: HUBSPOT, leads: $l}) { created results { status } } }",
            json!({ "l": leads }),
        )
        .await;
    assert_eq!(body["data"]["upsertLeads"]["created"], 250, "{body}");
    assert_eq!(cost(&body, "requestedQueryCost"), 1 + 25);
}

/// A server whose budget holds `capacity` points refilling at `rate` a
/// second, on a clock the test moves ([`TestApp::clock`]).
fn throttled(capacity: f64, rate: f64) -> impl Fn(&mut Config) {
    move |c| {
        manual_clock(c);
        c.throttle = ThrottleSettings {
            capacity,
            restore_rate: rate,
        };
    }
}

/// 1 + 100 x (lead 1 + account 1 + owner 1) = 301 points.
const PAGE_301: &str = "{ leads(first: 100) { nodes { id account { name } owner { name } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_served_up_to_the_budget_refused_with_429_and_served_again_after_the_refill() {
    each_backend_with(throttled(1000.0, 50.0), async |app| {
        let clock = app.clock();
        // The page comes back empty: it is refunded down to its actual cost
        // of 1, so 301 points are taken and 300 given back each time.
        let (_, body) = app.post(Role::Sales, PAGE_301, json!({})).await;
        assert_eq!(cost(&body, "requestedQueryCost"), 301);
        assert_eq!(cost(&body, "actualQueryCost"), 1);
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"],
            json!({
                "maximumAvailable": 1000, "currentlyAvailable": 999, "restoreRate": 50.0
            })
        );

        // Without refunds: three lookups of 100 ids that do not exist are
        // charged 300 and cost 300 (each null lookup ran).
        let ids: Vec<String> = (0..100)
            .map(|_| gid("Lead", uuid::Uuid::new_v4()))
            .collect();
        let q = "query($ids: [ID!]!) { a: nodes(ids: $ids) { id } b: nodes(ids: $ids) { id } c: nodes(ids: $ids) { id } }";
        for left in [699, 399, 99] {
            let (status, body) = app.post(Role::Sales, q, json!({ "ids": ids })).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], left,
                "{body}"
            );
        }
        // 99 left, 300 wanted: 201 points at 50 a second is 4.02 s, so 5.
        app.reset_queries();
        let resp = app
            .client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(app.token(Role::Sales))
            .json(&json!({ "query": q, "variables": { "ids": ids } }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "5");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "RATE_LIMITED");
        assert!(body["extensions"]["requestId"].is_string());
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
            99
        );
        // Refused before any resolver ran: only the token's user was read.
        assert!(app.queries() <= 1);
        // Another user has a budget of their own.
        let (status, _) = app.post(Role::Marketing, q, json!({ "ids": ids })).await;
        assert_eq!(status, 200);
        // Still short after 4 s; served after the fifth.
        clock.advance(Duration::from_secs(4));
        let (status, _) = app.post(Role::Sales, q, json!({ "ids": ids })).await;
        assert_eq!(status, 429);
        clock.advance(Duration::from_secs(1));
        let (status, body) = app.post(Role::Sales, q, json!({ "ids": ids })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
            49
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_is_charged_to_the_budget_too() {
    each_backend_with(throttled(300.0, 0.001), async |app| {
        let (status, body) = app
            .post(Role::Reporting, STANDARD_INTROSPECTION, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        let actual = cost(&body, "actualQueryCost");
        assert!(actual > 70, "{actual}");
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"].as_u64(),
            Some(300 - actual)
        );
        // What is left is less than the query asks for.
        let (status, body) = app
            .post(Role::Reporting, STANDARD_INTROSPECTION, json!({}))
            .await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(code(&body), "RATE_LIMITED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_is_a_quick_503_unavailable_with_retry_after() {
    each_backend_with(
        |c| {
            c.db_max_connections = 1;
            c.db_acquire_timeout = Duration::from_millis(500);
        },
        async |app| {
            // The test holds the pool's only connection.
            let held = app.db.begin().await.unwrap();
            assert_unavailable_at_once(&app, Duration::from_secs(3)).await;
            drop(held);
            let (status, _) = app
                .post(Role::Admin, "{ leads { totalCount } }", json!({}))
                .await;
            assert_eq!(status, 200);
        },
    )
    .await;
}

/// A query is answered 503 `UNAVAILABLE` with `Retry-After` and a request
/// id within `within`, and `/readyz` says 503 within 1.5 s.
async fn assert_unavailable_at_once(app: &TestApp, within: Duration) {
    let started = Instant::now();
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "query": "{ leads { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "UNAVAILABLE", "{body}");
    assert!(body["extensions"]["requestId"].is_string());
    assert!(started.elapsed() < within, "{:?}", started.elapsed());
    let started = Instant::now();
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

/// A TCP proxy to PostgreSQL that the test can cut, as a network failure
/// or a database restart would.
struct Proxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut stop = watch.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => break, // the listener closes: connections are refused
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { break };
                        let target = target.clone();
                        let mut cut = watch.clone();
                        tokio::spawn(async move {
                            let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = cut.changed() => {} // both sockets drop
                            }
                        });
                    }
                }
            }
        });
        Self { port, cut }
    }

    fn cut(&self) {
        let _ = self.cut.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_a_quick_503_unavailable_and_readyz_answers_within_a_second_on_postgres()
{
    // PostgreSQL only: SQLite is a file, there is no connection to lose.
    let Some(Backend::Postgres(url)) = crate::common::postgres() else {
        return;
    };
    let target = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(target.clone()).await;
    let via_proxy = url.replacen(&target, &format!("127.0.0.1:{}", proxy.port), 1);
    let app = TestApp::spawn(Backend::Postgres(via_proxy)).await;
    let (status, _) = app
        .post(Role::Admin, "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(status, 200);

    proxy.cut();
    for _ in 0..3 {
        assert_unavailable_at_once(&app, Duration::from_secs(4)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_the_size_limit_is_replaced_by_an_error() {
    each_backend_with(
        |c| c.max_response_bytes = 4096,
        async |app| {
            let (status, body) = app
                .post(Role::Reporting, STANDARD_INTROSPECTION, json!({}))
                .await;
            assert_eq!(status, 200);
            assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("4096 bytes")
            );
            assert!(body["extensions"]["requestId"].is_string());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kpi_csv_export_is_charged_to_the_budget_too() {
    // The kpis surcharge 100 + 2 KPIs: 102 points; the budget holds 250.
    each_backend_with(throttled(250.0, 1.0), async |app| {
        let clock = app.clock();
        let url = format!(
            "{}/reports/kpis.csv?kpis=LEADS_CREATED,MQLS&from=2026-01-01&to=2026-03-31",
            app.base
        );
        let get = || {
            app.client
                .get(&url)
                .bearer_auth(app.token(Role::Reporting))
                .send()
        };
        assert_eq!(get().await.unwrap().status(), 200);
        assert_eq!(get().await.unwrap().status(), 200);
        let refused = get().await.unwrap();
        assert_eq!(refused.status(), 429);
        // 46 left, 102 wanted: 56 s at 1 point a second.
        assert_eq!(refused.headers()["retry-after"], "56");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(code(&body), "RATE_LIMITED");
        clock.advance(Duration::from_secs(56));
        assert_eq!(get().await.unwrap().status(), 200);
    })
    .await;
}
