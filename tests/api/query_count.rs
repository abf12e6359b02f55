//! Relations go through per-request DataLoaders: a page of leads with their
//! account, owner and campaign costs the same number of SQL statements
//! whether it holds 10 leads or 100.

use entity::enums::Role;
use serde_json::json;
use test_macros::db_test;

use crate::common::TestApp;

const PAGE: &str = "query($n: Int!) { leads(first: $n) { nodes { id email account { name } owner { name } sourceCampaign { name } } } }";

async fn statements_for(app: &TestApp, n: usize) -> usize {
    app.reset_queries();
    let data = app.gql(Role::Admin, PAGE, json!({ "n": n })).await;
    let nodes = data["leads"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), n);
    assert!(nodes.iter().all(|l| l["account"]["name"].is_string()
        && l["owner"]["name"].is_string()
        && l["sourceCampaign"]["name"].is_string()));
    app.queries()
}

#[db_test]
async fn a_page_of_a_hundred_leads_with_relations_costs_a_constant_number_of_queries(app: TestApp) {
    let campaign = app
        .gql(Role::Admin, "mutation { createCampaign(input: {name: \"Q\", channel: EMAIL, objective: AWARENESS, startsOn: \"2026-01-01\"}) { campaign { id } } }", json!({}))
        .await["createCampaign"]["campaign"]["id"].clone();
    let owner = app.user_gid(Role::Sales);
    for i in 0..100 {
        let account = app
            .create_account(&format!("Acme {i}"), Some(&format!("acme{i}.example")))
            .await;
        app.gql(
            Role::Admin,
            "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { account { id } } }",
            json!({ "i": { "id": account, "ownerId": owner } }),
        )
        .await;
        app.create_lead(
            &format!("lead{i}@acme{i}.example"),
            json!({ "accountId": account, "ownerId": owner, "sourceCampaignId": campaign }),
        )
        .await;
    }
    let ten = statements_for(&app, 10).await;
    let hundred = statements_for(&app, 100).await;
    assert_eq!(
        ten, hundred,
        "10 leads cost {ten} statements, 100 cost {hundred}"
    );
    // viewer lookup + page + accounts + users + campaigns: a handful,
    // never one per lead.
    assert!(hundred <= 6, "{hundred} statements");
}

const WITH_EXTERNAL_IDS: &str = "query($n: Int!) { leads(first: $n) { nodes { id externalIds { system externalId } account { externalIds { externalId } } owner { externalIds { externalId } } } } }";

async fn statements_with_external_ids(app: &TestApp, n: usize) -> usize {
    app.reset_queries();
    let data = app
        .gql(Role::Admin, WITH_EXTERNAL_IDS, json!({ "n": n }))
        .await;
    let nodes = data["leads"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), n);
    assert!(
        nodes
            .iter()
            .all(|l| l["externalIds"].as_array().unwrap().len() == 2
                && l["account"]["externalIds"][0]["externalId"].is_string()
                && l["owner"]["externalIds"][0]["externalId"] == "005-owner")
    );
    app.queries()
}

#[db_test]
async fn external_ids_of_a_page_cost_one_query_per_kind_of_record(app: TestApp) {
    let owner = app.user_gid(Role::Sales);
    let add =
        "mutation($i: AddExternalIdInput!) { addExternalId(input: $i) { userErrors { message } } }";
    app.gql(
        Role::Admin,
        add,
        json!({ "i": { "id": owner, "system": "SALESFORCE", "externalId": "005-owner" } }),
    )
    .await;
    for i in 0..100 {
        let account = app.create_account(&format!("Acme {i}"), None).await;
        let lead = app
            .create_lead(
                &format!("lead{i}@example.com"),
                json!({ "accountId": account, "ownerId": owner }),
            )
            .await;
        app.gql(
            Role::Admin,
            add,
            json!({ "i": { "id": account, "system": "HUBSPOT", "externalId": format!("c-{i}") } }),
        )
        .await;
        app.gql(
            Role::Admin,
            add,
            json!({ "i": { "id": lead, "system": "HUBSPOT", "externalId": format!("{i}") } }),
        )
        .await;
        app.gql(
            Role::Admin,
            add,
            json!({ "i": { "id": lead, "system": "SALESFORCE", "externalId": format!("00Q{i}") } }),
        )
        .await;
    }
    let ten = statements_with_external_ids(&app, 10).await;
    let hundred = statements_with_external_ids(&app, 100).await;
    assert_eq!(
        ten, hundred,
        "10 leads cost {ten} statements, 100 cost {hundred}"
    );
    // viewer + page + lead ids + accounts + their ids + users + their
    // ids: never one per lead.
    assert!(hundred <= 8, "{hundred} statements");
}
