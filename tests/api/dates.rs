//! Every date and timestamp input is range-checked to the years 1900 to
//! 9999: out of range is BAD_USER_INPUT naming the argument, in a
//! well-formed response, never a dropped connection or a silently empty
//! answer; the edges of the range work on both engines.

use entity::enums::Role::*;
use handoff::import::{ObjectKind, System};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

/// Days outside the range: the year 262142 (chrono's last, whose next day
/// overflows), before year 1, year 1, the first year past 9999, 1899.
const BAD_DAYS: [&str; 5] = [
    "+262142-12-31",
    "-000001-01-01",
    "0001-01-01",
    "10000-01-01",
    "1899-12-31",
];

/// The same as instants, and one that is in 1899 only in UTC.
const BAD_TIMES: [&str; 6] = [
    "+262142-12-31T00:00:00Z",
    "-000001-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
    "1900-01-01T01:00:00+02:00",
];

/// Posts `doc` with `bad` in place of `BAD` and checks the refusal.
async fn refused(app: &TestApp, role: entity::enums::Role, doc: &str, bad: &str, argument: &str) {
    let doc = doc.replace("BAD", bad);
    let (status, body) = app.post(role, &doc, json!({})).await;
    assert_eq!(status, 200, "{doc}: {body}");
    assert_eq!(body["data"], Value::Null, "{doc}: {body}");
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "BAD_USER_INPUT",
        "{doc}: {body}"
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("argument \"{argument}\"")) && message.contains("1900 to 9999"),
        "{doc}: {message}"
    );
}

async fn campaign(app: &TestApp) -> String {
    app.gql(
        Marketing,
        "mutation { createCampaign(input: {name: \"Always on\", channel: PAID_SEARCH, objective: CONVERSION, startsOn: \"2026-01-01\", budget: {amount: \"100\", currency: \"USD\"}}) { campaign { id } } }",
        json!({}),
    )
    .await["createCampaign"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[db_test]
async fn every_date_argument_out_of_range_is_bad_user_input_naming_it(app: TestApp) {
    let c = campaign(&app).await;
    let lead = app.create_lead("ada@example.com", json!({})).await;
    let on_campaign =
        |field: &str| format!("{{ node(id: \"{c}\") {{ ... on Campaign {{ {field} }} }} }}");
    let queries = [
        (
            "{ kpis(input: {kpis: [LEADS_CREATED], from: \"2026-01-01\", to: \"BAD\"}) { kpi } }"
                .to_owned(),
            "input.to",
        ),
        (
            "{ kpis(input: {kpis: [LEADS_CREATED], from: \"BAD\", to: \"2026-01-01\"}) { kpi } }"
                .to_owned(),
            "input.from",
        ),
        (
            "{ funnel(input: {from: \"BAD\", to: \"2026-12-31\"}) { from } }".to_owned(),
            "input.from",
        ),
        (
            "{ winLossAnalysis(from: \"2026-01-01\", to: \"BAD\") { key } }".to_owned(),
            "to",
        ),
        (
            "{ leadRejectionAnalysis(from: \"BAD\", to: \"2026-01-01\") { key } }".to_owned(),
            "from",
        ),
        ("{ kpiTargets(from: \"BAD\") { id } }".to_owned(), "from"),
        (
            on_campaign("performance(from: \"2026-01-01\", to: \"BAD\") { touches }"),
            "to",
        ),
        (on_campaign("totalSpend(from: \"BAD\") { amount }"), "from"),
        (on_campaign("spend(to: \"BAD\") { totalCount }"), "to"),
        (
            "{ campaigns(filter: {activeOn: \"BAD\"}) { totalCount } }".to_owned(),
            "filter.activeOn",
        ),
    ];
    for bad in BAD_DAYS {
        for (doc, argument) in &queries {
            refused(&app, Admin, doc, bad, argument).await;
        }
    }
    let times = [
        ("{ leads(filter: {createdAt: {to: \"BAD\"}}) { totalCount } }".to_owned(), "filter.createdAt.to"),
        ("{ accounts(filter: {updatedAt: {from: \"BAD\"}}) { totalCount } }".to_owned(), "filter.updatedAt.from"),
        (format!("mutation {{ recordActivity(input: {{leadId: \"{lead}\", kind: EMAIL_CLICK, occurredAt: \"BAD\"}}) {{ activity {{ kind }} }} }}"), "input.occurredAt"),
        ("mutation { upsertLeads(input: {system: HUBSPOT, leads: [{externalId: \"1\", email: \"a@b.example\", createdAt: \"2026-01-01T00:00:00Z\"}, {externalId: \"2\", createdAt: \"BAD\"}]}) { created } }".to_owned(), "input.leads.1.createdAt"),
        ("mutation { upsertOpportunities(input: {system: HUBSPOT, opportunities: [{externalId: \"1\", stageHistory: [{stage: \"DISCOVERY\", enteredAt: \"BAD\"}]}]}) { created } }".to_owned(), "input.opportunities.0.stageHistory.0.enteredAt"),
    ];
    for bad in BAD_TIMES {
        for (doc, argument) in &times {
            refused(&app, Admin, doc, bad, argument).await;
        }
    }
    let mutations = [
        ("mutation { createCampaign(input: {name: \"X\", channel: EMAIL, objective: AWARENESS, startsOn: \"BAD\"}) { campaign { id } } }".to_owned(), "input.startsOn"),
        (format!("mutation {{ updateCampaign(input: {{id: \"{c}\", endsOn: \"BAD\"}}) {{ campaign {{ id }} }} }}"), "input.endsOn"),
        (format!("mutation {{ createCampaignSpend(input: {{campaignId: \"{c}\", spentOn: \"BAD\", amount: {{amount: \"1\", currency: \"USD\"}}}}) {{ campaignSpend {{ id }} }} }}"), "input.spentOn"),
        ("mutation { createOpportunity(input: {name: \"X\", amount: {amount: \"1\", currency: \"USD\"}, expectedCloseOn: \"BAD\"}) { opportunity { id } } }".to_owned(), "input.expectedCloseOn"),
        ("mutation { setKpiTarget(input: {kpi: LEADS_CREATED, periodKind: MONTH, periodStart: \"BAD\", target: 10, direction: AT_LEAST}) { kpiTarget { id } } }".to_owned(), "input.periodStart"),
        ("mutation { upsertCampaigns(input: {system: HUBSPOT, campaigns: [{externalId: \"1\", startsOn: \"BAD\"}]}) { created } }".to_owned(), "input.campaigns.0.startsOn"),
    ];
    for bad in BAD_DAYS {
        for (doc, argument) in &mutations {
            refused(&app, Admin, doc, bad, argument).await;
        }
    }
    // The same through a variable.
    let (_, body) = app.post(Reporting, "query($to: NaiveDate!) { kpis(input: {kpis: [LEADS_CREATED], from: \"2026-01-01\", to: $to}) { kpi } }", json!({ "to": "+262142-12-31" })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("argument \"input.to\""),
        "{body}"
    );
    // Nothing was written by the refused mutations.
    let data = app
        .gql(
            Admin,
            "{ campaigns { totalCount } opportunities { totalCount } leads { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "campaigns": { "totalCount": 1 }, "opportunities": { "totalCount": 0 }, "leads": { "totalCount": 1 } })
    );
}

#[db_test]
async fn the_csv_report_refuses_a_day_out_of_range_by_parameter(app: TestApp) {
    for (from, to, parameter) in BAD_DAYS
        .iter()
        .flat_map(|bad| [("2026-01-01", *bad, "`to`"), (*bad, "2026-01-01", "`from`")])
    {
        let url = format!(
            "{}/reports/kpis.csv?kpis=LEADS_CREATED&from={}&to={}",
            app.base,
            urlencode(from),
            urlencode(to)
        );
        let res = app
            .client
            .get(url)
            .bearer_auth(app.token(Reporting))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{from}..{to}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(parameter) && message.contains("1900 to 9999"),
            "{message}"
        );
    }
    let url = format!(
        "{}/reports/kpis.csv?kpis=LEADS_CREATED&from=1900-01-01&to=9999-12-31",
        app.base
    );
    let res = app
        .client
        .get(url)
        .bearer_auth(app.token(Reporting))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("LEADS_CREATED,COUNT,,,1900-01-01,9999-12-31,0,")
    );
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B")
}

#[db_test]
async fn the_first_and_last_days_in_range_answer_on_both_engines(app: TestApp) {
    let c = campaign(&app).await;
    app.create_lead("one@example.com", json!({})).await;
    app.create_lead("two@example.com", json!({})).await;
    let spend = "mutation($i: CreateCampaignSpendInput!) { createCampaignSpend(input: $i) { userErrors { message } } }";
    for (day, amount) in [("2026-03-01", "5"), ("9999-12-31", "10")] {
        let data = app.gql(Marketing, spend, json!({ "i": { "campaignId": c, "spentOn": day, "amount": { "amount": amount, "currency": "USD" } } })).await;
        assert_eq!(
            data["createCampaignSpend"]["userErrors"],
            json!([]),
            "{data}"
        );
    }
    // A period ending on the last day counts everything, including
    // spend on that day (a day column) and leads created now (a
    // timestamp column), on SQLite as on PostgreSQL.
    let data = app.gql(Leadership, "{ kpis(input: {kpis: [LEADS_CREATED, MARKETING_SPEND], from: \"1900-01-01\", to: \"9999-12-31\"}) { kpi total { value } } funnel(input: {from: \"1900-01-01\", to: \"9999-12-31\"}) { stages { count } } }", json!({})).await;
    assert_eq!(data["kpis"][0]["total"]["value"], 2.0, "{data}");
    assert_eq!(data["kpis"][1]["total"]["value"], 15.0, "{data}");
    assert_eq!(data["funnel"]["stages"][0]["count"], 2, "{data}");
    let data = app.gql(Admin, &format!("{{ node(id: \"{c}\") {{ ... on Campaign {{ totalSpend(from: \"1900-01-01\", to: \"9999-12-31\") {{ amount }} spend(to: \"9999-12-31\") {{ totalCount }} performance(from: \"1900-01-01\", to: \"9999-12-31\") {{ spend {{ amount }} }} }} }} }}"), json!({})).await;
    assert_eq!(data["node"]["totalSpend"]["amount"], "15.00", "{data}");
    assert_eq!(data["node"]["spend"]["totalCount"], 2, "{data}");
    assert_eq!(
        data["node"]["performance"]["spend"][0]["amount"], "15.00",
        "{data}"
    );
    let data = app.gql(Admin, "{ winLossAnalysis(from: \"1900-01-01\", to: \"9999-12-31\") { key } leadRejectionAnalysis(from: \"1900-01-01\", to: \"9999-12-31\") { rejected } }", json!({})).await;
    assert!(data["winLossAnalysis"].is_array(), "{data}");
    // A timestamp filter up to the last second in range.
    let data = app.gql(Admin, "{ leads(filter: {createdAt: {from: \"1900-01-01T00:00:00Z\", to: \"9999-12-31T23:59:59Z\"}}) { totalCount } }", json!({})).await;
    assert_eq!(data["leads"]["totalCount"], 2, "{data}");
}

#[db_test]
async fn an_imported_row_with_a_date_out_of_range_fails_with_its_reason(app: TestApp) {
    let (summary, failed) = app
        .import_csv(
            System::Hubspot,
            ObjectKind::Leads,
            "Record ID,Email,Create Date\n1,one@example.com,+262142-12-31\n2,two@example.com,1899-12-31\n3,three@example.com,9999-12-31 23:00\n4,four@example.com,2024-03-12 09:14\n",
            -5,
        )
        .await;
    assert_eq!(
        (summary.rows, summary.created, summary.failed),
        (4, 1, 3),
        "{summary:?}"
    );
    // 1899 and 10000 (04:00 UTC) are out of range; +262142 too, or no
    // date the import reads.
    assert!(failed.matches("1900 to 9999").count() >= 2, "{failed}");
    assert!(
        failed.contains("1899-12-31") && failed.contains("9999-12-31 23:00"),
        "{failed}"
    );
}
