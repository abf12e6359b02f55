//! Leads: create, read, update, delete, validation, stage history, nested
//! relations.

use entity::{enums::Role, stage_change};
use sea_orm::EntityTrait;
use serde_json::json;
use test_macros::db_test;

use crate::common::TestApp;

const UPDATE: &str = "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { id firstName lastName jobTitle seniority country account { name } version } userErrors { field message code } } }";

#[db_test]
async fn a_lead_is_created_in_new_with_its_first_stage_change(app: TestApp) {
    let acme = app.create_account("Acme", Some("acme.example")).await;
    let id = app
        .create_lead("  Ada.Lovelace@ACME.example ", json!({ "firstName": "Ada", "lastName": "Lovelace", "jobTitle": "CTO", "seniority": "C_LEVEL", "country": "gb", "accountId": acme, "source": "WEBINAR" }))
        .await;
    let data = app
        .gql(Role::Sales, "query($id: ID!) { node(id: $id) { ... on Lead { email firstName stage source seniority country fitScore engagementScore slaStatus recycleCount account { name leads { totalCount } } version createdAt stageEnteredAt } } }", json!({ "id": id }))
        .await;
    let lead = &data["node"];
    assert_eq!(lead["email"], "ada.lovelace@acme.example");
    assert_eq!(lead["stage"], "NEW");
    assert_eq!(lead["source"], "WEBINAR");
    assert_eq!(lead["seniority"], "C_LEVEL");
    assert_eq!(lead["country"], "GB");
    assert_eq!(lead["slaStatus"], json!(null));
    assert_eq!(lead["account"]["name"], "Acme");
    assert_eq!(lead["account"]["leads"]["totalCount"], 1);
    let changes = stage_change::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].from_stage, None);
    assert_eq!(changes[0].to_stage, "NEW");
    assert_eq!(changes[0].actor_id, Some(app.user_id(Role::Marketing)));
}

#[db_test]
async fn an_update_changes_only_the_given_fields_and_null_clears(app: TestApp) {
    let id = app
        .create_lead(
            "grace@example.com",
            json!({ "firstName": "Grace", "lastName": "Hopper", "jobTitle": "Admiral" }),
        )
        .await;
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "jobTitle": null, "seniority": "DIRECTOR" } }),
        )
        .await;
    let lead = &data["updateLead"]["lead"];
    assert_eq!(lead["jobTitle"], json!(null));
    assert_eq!(lead["firstName"], "Grace");
    assert_eq!(lead["seniority"], "DIRECTOR");
    assert_eq!(lead["version"], 2);
}

#[db_test]
async fn bad_lead_input_is_a_user_error_naming_the_field(app: TestApp) {
    let data = app
        .gql(Role::Marketing, "mutation { createLead(input: {email: \"not-an-email\", source: EMAIL, country: \"XYZ\"}) { lead { id } userErrors { field code } } }", json!({}))
        .await;
    assert_eq!(data["createLead"]["lead"], json!(null));
    assert_eq!(
        data["createLead"]["userErrors"],
        json!([
            { "field": ["input", "email"], "code": "INVALID" },
            { "field": ["input", "country"], "code": "INVALID" },
        ])
    );
    use base64::Engine;
    let ghost = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("Account:{}", uuid::Uuid::now_v7()));
    let data = app
        .gql(Role::Marketing, "mutation($a: ID) { createLead(input: {email: \"a@b.example\", source: EMAIL, accountId: $a}) { lead { id } userErrors { field code } } }", json!({ "a": ghost }))
        .await;
    assert_eq!(
        data["createLead"]["userErrors"],
        json!([{ "field": ["input", "accountId"], "code": "NOT_FOUND" }])
    );
    let data = app
        .gql(Role::Admin, "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(data["leads"]["totalCount"], 0);
}

#[db_test]
async fn a_deleted_lead_disappears_from_lists_and_lookups(app: TestApp) {
    let keep = app.create_lead("keep@example.com", json!({})).await;
    let gone = app.create_lead("gone@example.com", json!({})).await;
    let data = app.gql(Role::Marketing, "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId userErrors { message } } }", json!({ "id": gone })).await;
    assert_eq!(data["deleteLead"]["deletedLeadId"], gone);
    let data = app
        .gql(
            Role::Admin,
            "query($ids: [ID!]!) { leads { totalCount nodes { id } } nodes(ids: $ids) { id } }",
            json!({ "ids": [keep, gone] }),
        )
        .await;
    assert_eq!(data["leads"]["totalCount"], 1);
    assert_eq!(data["nodes"], json!([{ "id": keep }, null]));
    let code = app
        .error_code(
            Role::Marketing,
            "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
            json!({ "id": gone }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
}

#[db_test]
async fn nodes_takes_at_most_a_hundred_ids(app: TestApp) {
    let ids: Vec<String> = (0..101).map(|_| "x".to_owned()).collect();
    let (_, body) = app
        .post(
            Role::Admin,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}
