//! Optimistic concurrency: a stale `expectedVersion` is a CONFLICT and
//! writes nothing; of two racing updates from the same version exactly one
//! wins.

use entity::enums::Role;
use serde_json::json;
use test_macros::db_test;

use crate::common::TestApp;

const UPDATE: &str = "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { version jobTitle } userErrors { message } } }";

#[db_test]
async fn two_updates_from_the_same_version_exactly_one_wins(app: TestApp) {
    let lead = app.create_lead("race@example.com", json!({})).await;
    for round in 0..5 {
        let version = app
            .gql(
                Role::Admin,
                "query($id: ID!) { node(id: $id) { ... on Lead { version } } }",
                json!({ "id": lead }),
            )
            .await["node"]["version"]
            .as_i64()
            .unwrap();
        let a = app.post(Role::Marketing, UPDATE, json!({ "i": { "id": lead, "expectedVersion": version, "jobTitle": format!("A{round}") } }));
        let b = app.post(Role::Admin, UPDATE, json!({ "i": { "id": lead, "expectedVersion": version, "jobTitle": format!("B{round}") } }));
        let ((_, a), (_, b)) = tokio::join!(a, b);
        let won: Vec<_> = [&a, &b]
            .into_iter()
            .filter(|r| r["errors"].is_null())
            .collect();
        let lost: Vec<_> = [&a, &b]
            .into_iter()
            .filter(|r| r["errors"][0]["extensions"]["code"] == "CONFLICT")
            .collect();
        assert_eq!((won.len(), lost.len()), (1, 1), "round {round}: {a} / {b}");
        assert_eq!(won[0]["data"]["updateLead"]["lead"]["version"], version + 1);
        let now = app
            .gql(
                Role::Admin,
                "query($id: ID!) { node(id: $id) { ... on Lead { version jobTitle } } }",
                json!({ "id": lead }),
            )
            .await;
        assert_eq!(
            now["node"]["version"],
            version + 1,
            "the loser wrote something"
        );
        assert_eq!(
            now["node"]["jobTitle"],
            won[0]["data"]["updateLead"]["lead"]["jobTitle"]
        );
    }
}

#[db_test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing(app: TestApp) {
    let lead = app
        .create_lead("stale@example.com", json!({ "jobTitle": "Before" }))
        .await;
    let (_, body) = app
        .post(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": lead, "expectedVersion": 7, "jobTitle": "After" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    let now = app
        .gql(
            Role::Admin,
            "query($id: ID!) { node(id: $id) { ... on Lead { version jobTitle } } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(now["node"]["version"], 1);
    assert_eq!(now["node"]["jobTitle"], "Before");
}

#[db_test]
async fn an_update_that_changes_nothing_keeps_the_version_and_logs_nothing(app: TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let lead = app
        .create_lead("same@example.com", json!({ "jobTitle": "CTO" }))
        .await;
    let before = entity::change_log::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": lead, "jobTitle": "CTO" } }),
        )
        .await;
    assert_eq!(data["updateLead"]["lead"]["version"], 1);
    assert_eq!(
        entity::change_log::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        before
    );
}

#[db_test]
async fn drafts_created_at_the_same_moment_get_distinct_versions_or_a_conflict(app: TestApp) {
    // A draft takes the next version number. On PostgreSQL, drafts
    // created at once read the same latest version, and the losers'
    // inserts met the unique index as INTERNAL errors.
    const CREATE: &str = "mutation($i: LeadDefinitionInput!) { createLeadDefinition(input: $i) { leadDefinition { version } } }";
    let sent = (0..8).map(|_| {
        app.post(
            Role::Marketing,
            CREATE,
            json!({ "i": crate::common::lead_definition(50, 30) }),
        )
    });
    let mut versions = vec![];
    for (status, body) in futures_util::future::join_all(sent).await {
        assert_eq!(status, 200, "{body}");
        match body["data"]["createLeadDefinition"]["leadDefinition"]["version"].as_i64() {
            Some(version) => versions.push(version),
            None => assert_eq!(
                body["errors"][0]["extensions"]["code"], "CONFLICT",
                "{body}"
            ),
        }
    }
    let created = versions.len();
    versions.sort_unstable();
    versions.dedup();
    assert!(
        created > 0 && versions.len() == created,
        "versions {versions:?} of {created} drafts"
    );
    let listed = app
        .gql(
            Role::Marketing,
            "{ leadDefinitions { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["leadDefinitions"]["totalCount"], created,
        "a conflict wrote a draft"
    );
}
