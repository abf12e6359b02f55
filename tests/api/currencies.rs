//! Money is only accepted in an active ISO 4217 currency, by every path
//! that takes one: opportunities, campaign budgets and spend, the KPI
//! `currency` argument and CSV parameter, sync upserts and `handoff import`.

use entity::enums::{Role::*, Team};
use handoff::{
    auth::Viewer,
    import::{self, ObjectKind, Options, System},
};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const CREATE_DEAL: &str = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { amount { amount currency } } userErrors { field message code } } }";
const CREATE_CAMPAIGN: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id budget { currency } } userErrors { field message code } } }";
const CREATE_SPEND: &str = "mutation($i: CreateCampaignSpendInput!) { createCampaignSpend(input: $i) { campaignSpend { amount { currency } } userErrors { field message code } } }";

async fn deal(app: &TestApp, currency: &str) -> Value {
    app.gql(
        Admin,
        CREATE_DEAL,
        json!({ "i": { "name": "Deal", "amount": { "amount": "100", "currency": currency } } }),
    )
    .await["createOpportunity"]
        .clone()
}

#[db_test]
async fn a_made_up_currency_is_refused_and_real_ones_are_kept(app: TestApp) {
    let refused = deal(&app, "XYZ").await;
    assert_eq!(refused["opportunity"], Value::Null, "{refused}");
    let error = &refused["userErrors"][0];
    assert_eq!(
        error["field"],
        json!(["input", "amount.currency"]),
        "{refused}"
    );
    assert_eq!(error["code"], "INVALID");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("ISO 4217") && message.contains("XYZ"),
        "{message}"
    );
    for code in ["EUR", "USD", "JPY", "jpy"] {
        let kept = deal(&app, code).await;
        assert_eq!(kept["userErrors"], json!([]), "{code}: {kept}");
        assert_eq!(
            kept["opportunity"]["amount"]["currency"],
            code.to_uppercase()
        );
    }
}

#[db_test]
async fn campaign_budgets_and_spend_take_only_real_currencies(app: TestApp) {
    let campaign = |currency: &str| json!({ "i": { "name": format!("Webinar {currency}"), "channel": "WEBINAR", "objective": "CONVERSION", "startsOn": "2026-03-01", "budget": { "amount": "1000", "currency": currency } } });
    let data = app.gql(Marketing, CREATE_CAMPAIGN, campaign("XYZ")).await;
    assert_eq!(
        data["createCampaign"]["userErrors"][0]["field"],
        json!(["input", "budget.currency"]),
        "{data}"
    );
    assert_eq!(data["createCampaign"]["userErrors"][0]["code"], "INVALID");
    let data = app.gql(Marketing, CREATE_CAMPAIGN, campaign("JPY")).await;
    assert_eq!(
        data["createCampaign"]["campaign"]["budget"]["currency"], "JPY",
        "{data}"
    );
    let id = data["createCampaign"]["campaign"]["id"].as_str().unwrap();
    let spend = |currency: &str| json!({ "i": { "campaignId": id, "spentOn": "2026-03-02", "amount": { "amount": "10", "currency": currency } } });
    let data = app.gql(Marketing, CREATE_SPEND, spend("XYZ")).await;
    let error = &data["createCampaignSpend"]["userErrors"][0];
    assert_eq!(
        error["field"],
        json!(["input", "amount.currency"]),
        "{data}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("ISO 4217"),
        "{data}"
    );
    let data = app.gql(Marketing, CREATE_SPEND, spend("JPY")).await;
    assert_eq!(
        data["createCampaignSpend"]["campaignSpend"]["amount"]["currency"], "JPY",
        "{data}"
    );
}

#[db_test]
async fn kpis_and_the_csv_report_refuse_a_made_up_currency_by_name(app: TestApp) {
    let doc = "query($c: String) { kpis(input: {kpis: [REVENUE], from: \"2026-01-01\", to: \"2026-03-31\", currency: $c}) { currency total { value } } }";
    let (status, body) = app.post(Leadership, doc, json!({ "c": "XYZ" })).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("`input.currency`") && message.contains("ISO 4217"),
        "{message}"
    );
    for code in ["EUR", "USD", "JPY"] {
        let data = app.gql(Leadership, doc, json!({ "c": code })).await;
        assert_eq!(data["kpis"][0]["currency"], code, "{data}");
    }
    let csv = |currency: &str| {
        let url = format!(
            "{}/reports/kpis.csv?kpis=REVENUE&from=2026-01-01&to=2026-03-31&currency={currency}",
            app.base
        );
        let req = app.client.get(url).bearer_auth(app.token(Reporting));
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, body) = csv("XYZ").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("BAD_USER_INPUT") && body.contains("`input.currency`"),
        "{body}"
    );
    let (status, body) = csv("EUR").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("REVENUE,MONEY,EUR,"), "{body}");
}

#[db_test]
async fn a_synced_record_in_a_made_up_currency_fails_alone(app: TestApp) {
    let doc = "mutation($i: UpsertOpportunitiesInput!) { upsertOpportunities(input: $i) { created failed results { externalId status error { code field message } } } }";
    let deals = json!([
        { "externalId": "d-1", "name": "One", "amount": { "amount": "5", "currency": "XYZ" } },
        { "externalId": "d-2", "name": "Two", "amount": { "amount": "5", "currency": "EUR" } },
        { "externalId": "d-3", "name": "Three", "amount": { "amount": "5", "currency": "JPY" } },
    ]);
    let data = app
        .gql(
            Integration,
            doc,
            json!({ "i": { "system": "HUBSPOT", "opportunities": deals } }),
        )
        .await;
    let r = &data["upsertOpportunities"];
    assert_eq!(
        (r["created"].as_i64(), r["failed"].as_i64()),
        (Some(2), Some(1)),
        "{data}"
    );
    let error = &r["results"][0]["error"];
    assert_eq!(error["code"], "INVALID", "{data}");
    assert_eq!(error["field"], "amount.currency", "{data}");
    assert!(
        error["message"].as_str().unwrap().contains("ISO 4217"),
        "{data}"
    );
}

#[db_test]
async fn an_import_with_a_made_up_default_currency_stops_before_reading_a_row(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deals.csv");
    std::fs::write(&file, "Deal ID,Deal Name,Amount\n1,One,100\n").unwrap();
    let viewer = Viewer {
        user_id: app.user_id(Integration),
        role: Integration,
        team: Team::Revops,
    };
    let options = |currency: &str| Options {
        system: System::Hubspot,
        object: ObjectKind::Opportunities,
        file: file.clone(),
        mapping: Default::default(),
        currency: currency.into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: Some(dir.path().join("failed.csv")),
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let error = import::run(&app.db, &viewer, &options("XYZ"), &mut |_| {})
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("--currency") && message.contains("XYZ") && message.contains("ISO 4217"),
        "{message}"
    );
    let summary = import::run(&app.db, &viewer, &options("eur"), &mut |_| {})
        .await
        .unwrap();
    assert_eq!((summary.rows, summary.failed), (1, 0), "{summary:?}");
}
