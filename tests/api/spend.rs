//! Campaign spend: dated entries inside the campaign's dates, in its
//! currency, totals summed in SQL, every write versioned and logged, and
//! only the roles that write campaigns may write spend.

use entity::{
    campaign_spend, change_log,
    enums::{ChangeOperation, ObjectType, Role},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::TestApp;

const CREATE: &str = "mutation($i: CreateCampaignSpendInput!) { createCampaignSpend(input: $i) { campaignSpend { id spentOn amount { amount currency } note version campaign { id } } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateCampaignSpendInput!) { updateCampaignSpend(input: $i) { campaignSpend { id spentOn amount { amount currency } note version } userErrors { field message code } } }";
const DELETE: &str = "mutation($i: DeleteCampaignSpendInput!) { deleteCampaignSpend(input: $i) { deletedCampaignSpendId userErrors { field message code } } }";
const SPEND: &str = "query($id: ID!, $from: NaiveDate, $to: NaiveDate) { node(id: $id) { ... on Campaign { spend(from: $from, to: $to) { totalCount nodes { spentOn amount { amount currency } } } totalSpend(from: $from, to: $to) { amount currency } } } }";

fn uuid_of(gid: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

fn ghost(kind: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{}", Uuid::now_v7()))
}

/// A campaign in March 2026 with a EUR budget (or open-ended from March
/// when `ends_on` is null).
async fn campaign(app: &TestApp, ends_on: Value) -> String {
    let data = app
        .gql(
            Role::Marketing,
            "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id } userErrors { message } } }",
            json!({ "i": { "name": "Spring webinar", "channel": "WEBINAR", "objective": "CONVERSION", "startsOn": "2026-03-01", "endsOn": ends_on, "budget": { "amount": "10000", "currency": "EUR" } } }),
        )
        .await;
    data["createCampaign"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

async fn create(app: &TestApp, campaign: &str, day: &str, amount: &str) -> Value {
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": { "campaignId": campaign, "spentOn": day, "amount": eur(amount) } }),
        )
        .await;
    assert_eq!(
        data["createCampaignSpend"]["userErrors"],
        json!([]),
        "{data}"
    );
    data["createCampaignSpend"]["campaignSpend"].clone()
}

async fn spend_rows(app: &TestApp) -> u64 {
    campaign_spend::Entity::find().count(&app.db).await.unwrap()
}

async fn spend_log(app: &TestApp) -> Vec<change_log::Model> {
    change_log::Entity::find()
        .filter(change_log::Column::ObjectType.eq(ObjectType::CampaignSpend))
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

#[db_test]
async fn marketing_records_spend_and_reads_it_back_by_day_with_totals(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    let first = create(&app, &c, "2026-03-01", "1200.50").await;
    assert_eq!(first["amount"], eur("1200.50"));
    assert_eq!(first["version"], 1);
    assert_eq!(first["campaign"]["id"], c);
    create(&app, &c, "2026-03-31", "800").await;
    create(&app, &c, "2026-03-15", "99.5").await;

    let data = app.gql(Role::Leadership, SPEND, json!({ "id": c })).await;
    let days: Vec<_> = data["node"]["spend"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["spentOn"].clone())
        .collect();
    assert_eq!(
        days,
        ["2026-03-01", "2026-03-15", "2026-03-31"],
        "oldest day first"
    );
    assert_eq!(data["node"]["spend"]["totalCount"], 3);
    assert_eq!(data["node"]["totalSpend"], eur("2100.00"));

    // `from` and `to` are inclusive days.
    let data = app
        .gql(
            Role::Marketing,
            SPEND,
            json!({ "id": c, "from": "2026-03-15", "to": "2026-03-31" }),
        )
        .await;
    assert_eq!(data["node"]["spend"]["totalCount"], 2);
    assert_eq!(data["node"]["totalSpend"], eur("899.50"));
    let data = app
        .gql(
            Role::Marketing,
            SPEND,
            json!({ "id": c, "from": "2026-04-01" }),
        )
        .await;
    assert_eq!(
        data["node"]["totalSpend"],
        eur("0.00"),
        "no spend is zero, not null"
    );

    // Each create is one change-log entry naming the fields.
    let log = spend_log(&app).await;
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|e| e.operation == ChangeOperation::Upsert
        && e.actor_id == Some(app.user_id(Role::Marketing))));
    let fields: Vec<String> =
        serde_json::from_value(log[0].changed_fields.clone().unwrap()).unwrap();
    assert!(
        fields.contains(&"amount".to_owned()) && fields.contains(&"spentOn".to_owned()),
        "{fields:?}"
    );
}

#[db_test]
async fn spend_is_updated_with_its_version_and_deleted_with_a_tombstone(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    let s = create(&app, &c, "2026-03-02", "100").await;
    let id = s["id"].as_str().unwrap();

    let data = app.gql(Role::Integration, UPDATE, json!({ "i": { "id": id, "expectedVersion": 1, "amount": eur("150"), "note": "invoice 42" } })).await;
    let s = &data["updateCampaignSpend"]["campaignSpend"];
    assert_eq!(s["amount"], eur("150.00"));
    assert_eq!(s["note"], "invoice 42");
    assert_eq!(s["version"], 2);

    // A stale version is a CONFLICT and writes nothing.
    let code = app
        .error_code(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 1, "amount": eur("1") } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    // An update that changes nothing keeps the version.
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "amount": eur("150.00") } }),
        )
        .await;
    assert_eq!(data["updateCampaignSpend"]["campaignSpend"]["version"], 2);

    let data = app
        .gql(
            Role::Marketing,
            DELETE,
            json!({ "i": { "id": id, "expectedVersion": 2 } }),
        )
        .await;
    assert_eq!(data["deleteCampaignSpend"]["deletedCampaignSpendId"], id);
    let data = app.gql(Role::Marketing, SPEND, json!({ "id": c })).await;
    assert_eq!(data["node"]["spend"]["totalCount"], 0);
    assert_eq!(data["node"]["totalSpend"], eur("0.00"));
    let data = app
        .gql(
            Role::Marketing,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!(null),
        "a deleted entry is gone from node"
    );
    assert_eq!(spend_rows(&app).await, 1, "soft delete keeps the row");

    let ops: Vec<_> = spend_log(&app)
        .await
        .iter()
        .map(|e| (e.operation, e.actor_id))
        .collect();
    assert_eq!(
        ops,
        [
            (ChangeOperation::Upsert, Some(app.user_id(Role::Marketing))),
            (
                ChangeOperation::Upsert,
                Some(app.user_id(Role::Integration))
            ),
            (ChangeOperation::Delete, Some(app.user_id(Role::Marketing))),
        ]
    );
    let code = app
        .error_code(Role::Marketing, DELETE, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
}

#[db_test]
async fn bad_spend_is_refused_with_user_errors_and_nothing_is_written(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    let cases = [
        (
            json!({ "campaignId": c, "spentOn": "2026-03-05", "amount": eur("-1") }),
            "amount.amount",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "campaignId": c, "spentOn": "2026-02-28", "amount": eur("10") }),
            "spentOn",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "campaignId": c, "spentOn": "2026-04-01", "amount": eur("10") }),
            "spentOn",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "campaignId": c, "spentOn": "2026-03-05", "amount": { "amount": "10", "currency": "USD" } }),
            "amount.currency",
            "INVALID",
        ),
        (
            json!({ "campaignId": c, "spentOn": "2026-03-05", "amount": eur("1.005") }),
            "amount.amount",
            "INVALID",
        ),
        (
            json!({ "campaignId": c, "spentOn": "2026-03-05", "amount": eur("1"), "note": "x".repeat(1001) }),
            "note",
            "TOO_LONG",
        ),
        (
            json!({ "campaignId": ghost("Campaign"), "spentOn": "2026-03-05", "amount": eur("1") }),
            "campaignId",
            "NOT_FOUND",
        ),
        (
            json!({ "campaignId": ghost("Lead"), "spentOn": "2026-03-05", "amount": eur("1") }),
            "campaignId",
            "INVALID",
        ),
    ];
    for (input, field, code) in cases {
        let data = app
            .gql(Role::Marketing, CREATE, json!({ "i": input }))
            .await;
        let p = &data["createCampaignSpend"];
        assert_eq!(p["campaignSpend"], json!(null), "{input}");
        assert_eq!(
            p["userErrors"][0]["field"],
            json!(["input", field]),
            "{input}: {p}"
        );
        assert_eq!(p["userErrors"][0]["code"], code, "{input}: {p}");
    }
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": { "campaignId": c, "spentOn": "2026-02-01", "amount": eur("-5") } }),
        )
        .await;
    assert_eq!(
        data["createCampaignSpend"]["userErrors"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "every problem is reported"
    );
    let message = data["createCampaignSpend"]["userErrors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("2026-03-01..2026-03-31"), "{message}");
    assert_eq!(spend_rows(&app).await, 0);
    assert!(spend_log(&app).await.is_empty());

    // An update out of the dates writes nothing either.
    let s = create(&app, &c, "2026-03-05", "10").await;
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": s["id"], "spentOn": "2026-05-01", "amount": eur("-3") } }),
        )
        .await;
    assert_eq!(
        data["updateCampaignSpend"]["userErrors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let row = campaign_spend::Entity::find_by_id(uuid_of(s["id"].as_str().unwrap()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.version, row.spent_on.to_string()),
        (1, "2026-03-05".to_owned())
    );
    assert_eq!(spend_log(&app).await.len(), 1);
}

#[db_test]
async fn an_open_ended_campaign_takes_spend_on_or_after_its_start(app: TestApp) {
    let c = campaign(&app, json!(null)).await;
    create(&app, &c, "2026-03-01", "1").await;
    create(&app, &c, "2030-12-31", "1").await;
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": { "campaignId": c, "spentOn": "2026-02-28", "amount": eur("1") } }),
        )
        .await;
    let e = &data["createCampaignSpend"]["userErrors"][0];
    assert_eq!(e["field"], json!(["input", "spentOn"]));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("on or after 2026-03-01"),
        "{e}"
    );
}

#[db_test]
async fn a_campaign_keeps_its_recorded_spend_inside_its_dates_and_currency(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    create(&app, &c, "2026-03-20", "10").await;
    let doc = "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { endsOn budget { currency } version } userErrors { field message code } } }";
    let data = app
        .gql(
            Role::Marketing,
            doc,
            json!({ "i": { "id": c, "endsOn": "2026-03-10" } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["field"],
        json!(["input", "endsOn"])
    );
    let data = app
        .gql(
            Role::Marketing,
            doc,
            json!({ "i": { "id": c, "startsOn": "2026-03-25" } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["field"],
        json!(["input", "startsOn"])
    );
    let data = app
        .gql(
            Role::Marketing,
            doc,
            json!({ "i": { "id": c, "budget": { "amount": "5", "currency": "USD" } } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["field"],
        json!(["input", "budget.currency"])
    );
    // Within the spend, dates and budget still change.
    let data = app.gql(Role::Marketing, doc, json!({ "i": { "id": c, "endsOn": "2026-03-20", "budget": { "amount": "5", "currency": "EUR" } } })).await;
    assert_eq!(data["updateCampaign"]["userErrors"], json!([]));
    assert_eq!(data["updateCampaign"]["campaign"]["version"], 2);
}

#[db_test]
async fn sales_cannot_create_change_or_delete_spend_nor_change_a_budget(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    let s = create(&app, &c, "2026-03-05", "10").await;
    for role in [Role::Sales, Role::Leadership, Role::Reporting] {
        let code = app
            .error_code(
                role,
                CREATE,
                json!({ "i": { "campaignId": c, "spentOn": "2026-03-06", "amount": eur("1") } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(
                role,
                UPDATE,
                json!({ "i": { "id": s["id"], "amount": eur("1") } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(role, DELETE, json!({ "i": { "id": s["id"] } }))
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app.error_code(role, "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { id } } }", json!({ "i": { "id": c, "budget": { "amount": "1", "currency": "EUR" } } })).await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
    }
    assert_eq!(spend_rows(&app).await, 1);
    assert_eq!(spend_log(&app).await.len(), 1);
    let data = app.gql(Role::Sales, SPEND, json!({ "id": c })).await;
    assert_eq!(
        data["node"]["totalSpend"],
        eur("10.00"),
        "nothing changed, and SALES reads it"
    );
}

#[db_test]
async fn reporting_reads_spend_and_totals_but_not_notes(app: TestApp) {
    let c = campaign(&app, json!("2026-03-31")).await;
    app.gql(Role::Marketing, CREATE, json!({ "i": { "campaignId": c, "spentOn": "2026-03-05", "amount": eur("10"), "note": "paid to Jane Roe" } })).await;
    let data = app.gql(Role::Reporting, SPEND, json!({ "id": c })).await;
    assert_eq!(data["node"]["totalSpend"], eur("10.00"));
    let (_, body) = app
        .post(
            Role::Reporting,
            "query($id: ID!) { node(id: $id) { ... on Campaign { spend { nodes { note } } } } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(!body.to_string().contains("Jane Roe"));
}
