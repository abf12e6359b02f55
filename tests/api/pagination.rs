//! Relay pagination: forward and backward, page limits, stable order under
//! ties, filters and ordering.

use chrono::{TimeZone, Utc};
use entity::{account, enums::Role};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::TestApp;

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $order: AccountOrder) {
  accounts(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    edges { cursor node { name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// Seven accounts, four of them created at the very same instant.
async fn seed(app: &TestApp) {
    let same = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let rows = (0..7).map(|i| {
        let at = if i < 4 {
            same
        } else {
            same + chrono::Duration::hours(i)
        };
        account::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(at),
            updated_at: Set(at),
            name: Set(format!(
                "Account {}",
                ["G", "E", "A", "C", "F", "B", "D"][i as usize]
            )),
            domain: Set(None),
            industry: Set(None),
            employee_count: Set(None),
            annual_revenue: Set(None),
            currency: Set(None),
            country: Set(None),
            is_target_account: Set(i % 2 == 0),
            owner_id: Set(None),
            fit_score: Set(0),
            version: Set(1),
            deleted_at: Set(None),
        }
    });
    account::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .unwrap();
}

fn names(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn walk_forward(app: &TestApp, order: Value) -> Vec<String> {
    let mut all = vec![];
    let mut after = Value::Null;
    loop {
        let page = app
            .gql(
                Role::Sales,
                PAGE,
                json!({ "first": 3, "after": after, "order": order }),
            )
            .await["accounts"]
            .clone();
        assert_eq!(page["totalCount"], 7);
        all.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    all
}

async fn walk_backward(app: &TestApp, order: Value) -> Vec<String> {
    let mut all = vec![];
    let mut before = Value::Null;
    loop {
        let page = app
            .gql(
                Role::Sales,
                PAGE,
                json!({ "last": 3, "before": before, "order": order }),
            )
            .await["accounts"]
            .clone();
        let mut n = names(&page);
        n.extend(all);
        all = n;
        if page["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    all
}

#[db_test]
async fn pages_forward_and_backward_visit_every_row_once_in_a_stable_order(app: TestApp) {
    seed(&app).await;
    for order in [
        json!(null),
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
        json!({ "field": "NAME" }),
        json!({ "field": "NAME", "direction": "DESC" }),
    ] {
        let forward = walk_forward(&app, order.clone()).await;
        assert_eq!(forward.len(), 7, "{order}: {forward:?}");
        let mut unique = forward.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 7, "{order}: duplicates in {forward:?}");
        assert_eq!(walk_backward(&app, order.clone()).await, forward, "{order}");
        // The same request twice gives the same order (ties broken by id).
        assert_eq!(walk_forward(&app, order.clone()).await, forward, "{order}");
    }
    let by_name = walk_forward(&app, json!({ "field": "NAME" })).await;
    assert_eq!(
        by_name,
        ["A", "B", "C", "D", "E", "F", "G"].map(|l| format!("Account {l}"))
    );
}

#[db_test]
async fn page_sizes_outside_one_to_a_hundred_are_bad_user_input(app: TestApp) {
    for (first, last) in [
        (json!(0), json!(null)),
        (json!(101), json!(null)),
        (json!(-5), json!(null)),
        (json!(null), json!(0)),
        (json!(2), json!(2)),
    ] {
        let (_, body) = app
            .post(Role::Sales, PAGE, json!({ "first": first, "last": last }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "first {first} last {last}: {body}"
        );
    }
    let (_, body) = app.post(Role::Sales, PAGE, json!({ "first": 100 })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[db_test]
async fn a_list_without_first_or_last_gets_twenty(app: TestApp) {
    for i in 0..25 {
        app.create_lead(&format!("l{i}@example.com"), json!({}))
            .await;
    }
    let data = app
        .gql(
            Role::Sales,
            "{ leads { totalCount nodes { id } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["leads"]["totalCount"], 25);
    assert_eq!(data["leads"]["nodes"].as_array().unwrap().len(), 20);
    assert_eq!(data["leads"]["pageInfo"]["hasNextPage"], true);
}

#[db_test]
async fn a_cursor_from_another_ordering_or_garbage_is_refused(app: TestApp) {
    seed(&app).await;
    let page = app
        .gql(
            Role::Sales,
            PAGE,
            json!({ "first": 2, "order": { "field": "NAME" } }),
        )
        .await;
    let cursor = page["accounts"]["pageInfo"]["endCursor"].clone();
    let (_, body) = app
        .post(Role::Sales, PAGE, json!({ "first": 2, "after": cursor }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let (_, body) = app
        .post(Role::Sales, PAGE, json!({ "first": 2, "after": "%%%" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

#[db_test]
async fn lead_filters_combine(app: TestApp) {
    let acme = app.create_account("Acme", Some("acme.example")).await;
    let sales = app.user_gid(Role::Sales);
    app.create_lead(
        "ada@acme.example",
        json!({ "accountId": acme, "ownerId": sales, "source": "WEBINAR", "firstName": "Ada" }),
    )
    .await;
    app.create_lead(
        "bob@acme.example",
        json!({ "accountId": acme, "source": "EMAIL" }),
    )
    .await;
    app.create_lead(
        "cy@other.example",
        json!({ "ownerId": sales, "source": "WEBINAR" }),
    )
    .await;
    let count = |filter: Value| {
        let app = &app;
        async move {
            app.gql(
                Role::Marketing,
                "query($f: LeadFilter) { leads(filter: $f) { totalCount nodes { id } } }",
                json!({ "f": filter }),
            )
            .await["leads"]["totalCount"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(count(json!({ "accountId": acme })).await, 2);
    assert_eq!(count(json!({ "sources": ["WEBINAR"] })).await, 2);
    assert_eq!(
        count(json!({ "sources": ["WEBINAR"], "accountId": acme })).await,
        1
    );
    assert_eq!(count(json!({ "ownerIds": [sales] })).await, 2);
    assert_eq!(count(json!({ "hasOwner": false })).await, 1);
    assert_eq!(count(json!({ "stages": ["NEW"] })).await, 3);
    assert_eq!(count(json!({ "stages": ["MQL"] })).await, 0);
    assert_eq!(count(json!({ "search": "ADA" })).await, 1);
    assert_eq!(count(json!({ "search": "acme.example" })).await, 2);
    assert_eq!(count(json!({ "search": "%" })).await, 0);
    assert_eq!(
        count(json!({ "createdAt": { "from": "2000-01-01T00:00:00Z" } })).await,
        3
    );
    assert_eq!(
        count(json!({ "createdAt": { "to": "2000-01-01T00:00:00Z" } })).await,
        0
    );
    let data = app
        .gql(
            Role::Marketing,
            "{ accounts(filter: {search: \"ACME\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["accounts"]["totalCount"], 1);
}
