//! Accounts: create, read, update, delete, validation, change log.

use entity::{
    change_log,
    enums::{ChangeOperation, Role},
};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::json;
use test_macros::db_test;

use crate::common::TestApp;

const CREATE: &str = "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id name domain industry employeeCount annualRevenue { amount currency } country isTargetAccount owner { id } version } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { account { id name domain industry version } userErrors { field message code } } }";

#[db_test]
async fn an_account_is_created_read_updated_and_deleted(app: TestApp) {
    let owner = app.user_gid(Role::Sales);
    let data = app
        .gql(
            Role::Sales,
            CREATE,
            json!({ "i": {
            "name": "  Initech ", "domain": "https://www.Initech.com/about", "industry": "Software",
            "employeeCount": 250, "annualRevenue": { "amount": "1250000.50", "currency": "usd" },
            "country": "us", "isTargetAccount": true, "ownerId": owner
        } }),
        )
        .await;
    let a = &data["createAccount"]["account"];
    assert_eq!(data["createAccount"]["userErrors"], json!([]));
    assert_eq!(a["name"], "Initech");
    assert_eq!(a["domain"], "initech.com");
    assert_eq!(
        a["annualRevenue"],
        json!({ "amount": "1250000.50", "currency": "USD" })
    );
    assert_eq!(a["country"], "US");
    assert_eq!(a["isTargetAccount"], true);
    assert_eq!(a["owner"]["id"], owner);
    assert_eq!(a["version"], 1);
    let id = a["id"].as_str().unwrap().to_owned();

    let data = app.gql(Role::Marketing, UPDATE, json!({ "i": { "id": id, "expectedVersion": 1, "industry": null, "name": "Initech Corp" } })).await;
    let a = &data["updateAccount"]["account"];
    assert_eq!(a["name"], "Initech Corp");
    assert_eq!(a["industry"], json!(null));
    assert_eq!(
        a["domain"], "initech.com",
        "fields not given stay as they were"
    );
    assert_eq!(a["version"], 2);

    let read = app
        .gql(
            Role::Reporting,
            "query($id: ID!) { node(id: $id) { ... on Account { name version } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["node"]["name"], "Initech Corp");

    let data = app.gql(Role::Admin, "mutation($id: ID!) { deleteAccount(input: {id: $id, expectedVersion: 2}) { deletedAccountId userErrors { message } } }", json!({ "id": id })).await;
    assert_eq!(data["deleteAccount"]["deletedAccountId"], id);
    let read = app
        .gql(
            Role::Admin,
            "query($id: ID!) { node(id: $id) { id } accounts { totalCount } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["node"], json!(null));
    assert_eq!(read["accounts"]["totalCount"], 0);

    // The change log has the whole story, with the changed fields.
    let log = change_log::Entity::find()
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let ops: Vec<_> = log.iter().map(|e| e.operation).collect();
    assert_eq!(
        ops,
        [
            ChangeOperation::Upsert,
            ChangeOperation::Upsert,
            ChangeOperation::Delete
        ]
    );
    let mut fields: Vec<String> =
        serde_json::from_value(log[1].changed_fields.clone().unwrap()).unwrap();
    fields.sort();
    assert_eq!(fields, ["industry", "name"]);
    assert_eq!(log[1].actor_id, Some(app.user_id(Role::Marketing)));
}

#[db_test]
async fn invalid_input_lists_every_problem_and_writes_nothing(app: TestApp) {
    let data = app
        .gql(
            Role::Admin,
            CREATE,
            json!({ "i": {
            "name": " ", "domain": "not a domain", "employeeCount": -3,
            "annualRevenue": { "amount": "-1", "currency": "dollars" }, "country": "Germany"
        } }),
        )
        .await;
    assert_eq!(data["createAccount"]["account"], json!(null));
    let errors = data["createAccount"]["userErrors"].as_array().unwrap();
    let fields: Vec<_> = errors
        .iter()
        .map(|e| e["field"][1].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "domain",
            "employeeCount",
            "annualRevenue.amount",
            "annualRevenue.currency",
            "country"
        ]
    );
    assert_eq!(errors[0]["code"], "REQUIRED");
    assert_eq!(
        entity::account::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(change_log::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[db_test]
async fn a_taken_domain_or_an_unknown_owner_is_a_user_error(app: TestApp) {
    app.create_account("First", Some("dup.example")).await;
    let data = app
        .gql(
            Role::Admin,
            CREATE,
            json!({ "i": { "name": "Second", "domain": "WWW.DUP.example" } }),
        )
        .await;
    assert_eq!(data["createAccount"]["userErrors"][0]["code"], "TAKEN");
    assert_eq!(
        data["createAccount"]["userErrors"][0]["field"],
        json!(["input", "domain"])
    );

    use base64::Engine;
    let ghost = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("User:{}", uuid::Uuid::now_v7()));
    let data = app
        .gql(
            Role::Admin,
            CREATE,
            json!({ "i": { "name": "Third", "ownerId": ghost } }),
        )
        .await;
    assert_eq!(data["createAccount"]["userErrors"][0]["code"], "NOT_FOUND");

    let not_a_user = app.create_account("Fourth", None).await;
    let data = app
        .gql(
            Role::Admin,
            CREATE,
            json!({ "i": { "name": "Fifth", "ownerId": not_a_user } }),
        )
        .await;
    assert_eq!(data["createAccount"]["userErrors"][0]["code"], "INVALID");
}

#[db_test]
async fn updating_or_deleting_a_missing_account_is_not_found(app: TestApp) {
    use base64::Engine;
    let ghost = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("Account:{}", uuid::Uuid::now_v7()));
    let code = app
        .error_code(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": ghost, "name": "x" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
    let code = app
        .error_code(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": "garbage", "name": "x" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("BAD_USER_INPUT"));
}
