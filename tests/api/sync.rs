//! Bulk upserts and deletes by external id, as a sync job calls them:
//! per-record results, idempotent replays, source-dated history, the stage
//! policy, and bad records that never fail the rest.

use entity::enums::Role::*;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{TestApp, eventually, lead_definition};

const RESULT: &str = "created updated unchanged deleted failed
    results { index externalId status id version warnings error { code field message } }";

async fn upsert_leads(app: &TestApp, system: &str, leads: Value) -> Value {
    let q = format!("mutation($i: UpsertLeadsInput!) {{ upsertLeads(input: $i) {{ {RESULT} }} }}");
    app.gql(
        Integration,
        &q,
        json!({ "i": { "system": system, "leads": leads } }),
    )
    .await["upsertLeads"]
        .clone()
}

async fn upsert_accounts(app: &TestApp, system: &str, accounts: Value) -> Value {
    let q = format!(
        "mutation($i: UpsertAccountsInput!) {{ upsertAccounts(input: $i) {{ {RESULT} }} }}"
    );
    app.gql(
        Integration,
        &q,
        json!({ "i": { "system": system, "accounts": accounts } }),
    )
    .await["upsertAccounts"]
        .clone()
}

async fn change_log_len(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::change_log::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

fn statuses(payload: &Value) -> Vec<String> {
    payload["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}

fn history_batch() -> Value {
    json!([
        {
            "externalId": "hs-1", "email": "Ada@Acme.example", "firstName": "Ada",
            "source": "WEBINAR", "accountExternalId": "co-1",
            "createdAt": "2025-01-10T09:00:00Z",
            "stage": "salesqualifiedlead", "stageEnteredAt": "2025-03-02T10:00:00Z",
            "stageHistory": [
                { "stage": "marketingqualifiedlead", "enteredAt": "2025-02-03T08:00:00Z" }
            ]
        },
        {
            "externalId": "hs-2", "email": "bob@globex.example",
            "createdAt": "2025-02-01T09:00:00Z",
            "stage": "lead"
        },
        {
            "externalId": "hs-3", "email": "cy@initech.example", "ownerEmail": "sales@example.com",
            "createdAt": "2025-02-14T09:00:00Z",
            "stage": "marketingqualifiedlead", "leadStatus": "IN_PROGRESS",
            "stageEnteredAt": "2025-02-20T09:00:00Z",
            "stageHistory": [
                { "stage": "MQL", "enteredAt": "2025-02-15T09:00:00Z" }
            ]
        }
    ])
}

#[db_test]
async fn a_replayed_batch_changes_nothing_and_writes_no_change_log(app: TestApp) {
    let accounts = upsert_accounts(&app, "HUBSPOT", json!([
        { "externalId": "co-1", "name": "Acme", "domain": "acme.example", "annualRevenue": { "amount": "1250000.50", "currency": "USD" }, "createdAt": "2024-12-01T00:00:00Z" }
    ])).await;
    assert_eq!(statuses(&accounts), ["CREATED"], "{accounts}");

    let first = upsert_leads(&app, "HUBSPOT", history_batch()).await;
    assert_eq!(first["created"], 3, "{first}");
    assert_eq!(statuses(&first), ["CREATED", "CREATED", "CREATED"]);
    let logged = change_log_len(&app).await;

    let again = upsert_leads(&app, "HUBSPOT", history_batch()).await;
    assert_eq!(
        statuses(&again),
        ["UNCHANGED", "UNCHANGED", "UNCHANGED"],
        "{again}"
    );
    assert_eq!(again["results"][0]["id"], first["results"][0]["id"]);
    assert_eq!(
        again["results"][0]["version"],
        first["results"][0]["version"]
    );
    let accounts_again = upsert_accounts(&app, "HUBSPOT", json!([
        { "externalId": "co-1", "name": "Acme", "domain": "https://www.acme.example/", "annualRevenue": { "amount": "1250000.5", "currency": "USD" }, "createdAt": "2024-12-01T00:00:00Z" }
    ])).await;
    assert_eq!(statuses(&accounts_again), ["UNCHANGED"], "{accounts_again}");
    assert_eq!(
        change_log_len(&app).await,
        logged,
        "a replay must not write the change log"
    );

    // A changed field is an update, with a new version.
    let mut batch = history_batch();
    batch[1]["firstName"] = json!("Bob");
    let third = upsert_leads(&app, "HUBSPOT", batch).await;
    assert_eq!(
        statuses(&third),
        ["UNCHANGED", "UPDATED", "UNCHANGED"],
        "{third}"
    );
    assert_eq!(third["results"][1]["version"], 2);
    assert_eq!(change_log_len(&app).await, logged + 1);
}

#[db_test]
async fn imported_history_keeps_its_source_dates(app: TestApp) {
    upsert_accounts(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "co-1", "name": "Acme" }]),
    )
    .await;
    let done = upsert_leads(&app, "HUBSPOT", history_batch()).await;
    let ada = done["results"][0]["id"].as_str().unwrap().to_owned();
    let cy = done["results"][2]["id"].as_str().unwrap().to_owned();
    let q = "query($id: ID!) { node(id: $id) { ... on Lead { email stage createdAt stageEnteredAt mqlAt account { name } owner { email } stageHistory { from to at } } } }";
    let lead = app.gql(Admin, q, json!({ "id": ada })).await["node"].clone();
    assert_eq!(lead["email"], "ada@acme.example");
    assert_eq!(lead["stage"], "SQL");
    assert_eq!(lead["createdAt"], "2025-01-10T09:00:00+00:00");
    assert_eq!(lead["stageEnteredAt"], "2025-03-02T10:00:00+00:00");
    assert_eq!(lead["mqlAt"], "2025-02-03T08:00:00+00:00");
    assert_eq!(lead["account"]["name"], "Acme");
    let path: Vec<(Value, Value, Value)> = lead["stageHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].clone(), c["to"].clone(), c["at"].clone()))
        .collect();
    assert_eq!(
        path,
        vec![
            (
                Value::Null,
                json!("NEW"),
                json!("2025-01-10T09:00:00+00:00")
            ),
            (
                json!("NEW"),
                json!("MQL"),
                json!("2025-02-03T08:00:00+00:00")
            ),
            (
                json!("MQL"),
                json!("SQL"),
                json!("2025-03-02T10:00:00+00:00")
            ),
        ]
    );
    // HubSpot's lead status IN_PROGRESS makes the MQL a SAL.
    let lead = app.gql(Admin, q, json!({ "id": cy })).await["node"].clone();
    assert_eq!(lead["stage"], "SAL", "{lead}");
    assert_eq!(lead["owner"]["email"], "sales@example.com");

    // KPIs over the imported history count by the source dates: two
    // leads entered MQL in February 2025, none in March.
    let q = "query($i: KpisInput!) { kpis(input: $i) { kpi total { value } } }";
    for (from, to, mqls, created) in [
        ("2025-02-01", "2025-02-28", 2.0, 2.0),
        ("2025-03-01", "2025-03-31", 0.0, 0.0),
        ("2025-01-01", "2025-01-31", 0.0, 1.0),
    ] {
        let k = app
            .gql(
                Leadership,
                q,
                json!({ "i": { "kpis": ["MQLS", "LEADS_CREATED"], "from": from, "to": to } }),
            )
            .await["kpis"]
            .clone();
        assert_eq!(
            k[0]["total"]["value"].as_f64(),
            Some(mqls),
            "MQLS {from}: {k}"
        );
        assert_eq!(
            k[1]["total"]["value"].as_f64(),
            Some(created),
            "LEADS_CREATED {from}: {k}"
        );
    }
}

#[db_test]
async fn one_bad_record_fails_alone_with_its_field_and_index(app: TestApp) {
    let batch = json!([
        { "externalId": "ok-1", "email": "one@ok.example" },
        { "externalId": "bad-email", "email": "not an email" },
        { "externalId": "ok-1", "email": "dup@ok.example" },
        { "externalId": "no-account", "email": "x@ok.example", "accountExternalId": "missing" },
        { "externalId": "future", "email": "f@ok.example", "createdAt": "2999-01-01T00:00:00Z" },
        { "externalId": "order", "email": "o@ok.example", "createdAt": "2025-05-01T00:00:00Z", "stageHistory": [{ "stage": "MQL", "enteredAt": "2025-04-01T00:00:00Z" }] },
        { "externalId": "stage", "email": "s@ok.example", "stage": "Working" },
        { "externalId": "bad-id", "email": "i@ok.example", "accountId": "bm90LWFuLWlk" },
        { "externalId": "  ", "email": "blank@ok.example" },
        { "externalId": "taken", "email": " ONE@ok.example" },
        { "externalId": "ok-2", "email": "two@ok.example", "source": "EVENT" }
    ]);
    let done = upsert_leads(&app, "SALESFORCE", batch).await;
    let errors: Vec<(i64, String, Value)> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "FAILED")
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["error"]["code"].as_str().unwrap().to_owned(),
                r["error"]["field"].clone(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "INVALID".into(), json!("email")),
            (2, "DUPLICATE".into(), json!("externalId")),
            (3, "NOT_FOUND".into(), json!("account")),
            (4, "IN_FUTURE".into(), json!("createdAt")),
            (5, "OUT_OF_ORDER".into(), json!("stageHistory.0")),
            (6, "UNKNOWN_STAGE".into(), json!("stage")),
            (7, "INVALID".into(), json!("accountId")),
            (8, "REQUIRED".into(), json!("externalId")),
            (9, "TAKEN".into(), json!("email")),
        ],
        "{done}"
    );
    assert_eq!(done["created"], 2);
    assert_eq!(done["failed"], 9);
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 11);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i as i64);
    }
    let leads = app.gql(Admin, "{ leads(orderBy: {field: EMAIL, direction: ASC}) { totalCount nodes { email source } } }", json!({})).await;
    assert_eq!(leads["leads"]["totalCount"], 2, "{leads}");
    assert_eq!(
        leads["leads"]["nodes"][0],
        json!({ "email": "one@ok.example", "source": "OTHER" })
    );
    assert_eq!(
        leads["leads"]["nodes"][1],
        json!({ "email": "two@ok.example", "source": "EVENT" })
    );
}

#[db_test]
async fn a_batch_over_a_thousand_records_is_refused_and_writes_nothing(app: TestApp) {
    let leads: Vec<Value> = (0..1001)
        .map(|i| json!({ "externalId": format!("x{i}"), "email": format!("x{i}@big.example") }))
        .collect();
    let body = app
        .post(
            Integration,
            "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created } }",
            json!({ "i": { "system": "OTHER", "leads": leads } }),
        )
        .await
        .1;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1000"),
        "{body}"
    );
    assert_eq!(change_log_len(&app).await, 0);
    // Exactly 1,000 goes through (in several transactions).
    let leads: Vec<Value> = (0..1000)
        .map(|i| json!({ "externalId": format!("x{i}"), "email": format!("x{i}@big.example") }))
        .collect();
    let done = upsert_leads(&app, "OTHER", json!(leads)).await;
    assert_eq!(done["created"], 1000);
    let again = upsert_leads(&app, "OTHER", json!(leads)).await;
    assert_eq!(again["unchanged"], 1000);
}

#[db_test]
async fn expected_version_guards_against_overwriting_newer_edits(app: TestApp) {
    let done = upsert_leads(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "v-1", "email": "v@ok.example" }]),
    )
    .await;
    let id = done["results"][0]["id"].as_str().unwrap().to_owned();
    // Someone edits the lead in Handoff.
    app.gql(Admin, "mutation($id: ID!) { updateLead(input: {id: $id, jobTitle: \"CTO\"}) { lead { version } } }", json!({ "id": id })).await;
    let stale = upsert_leads(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "v-1", "expectedVersion": 1, "jobTitle": "Engineer" }]),
    )
    .await;
    assert_eq!(stale["results"][0]["error"]["code"], "CONFLICT", "{stale}");
    assert_eq!(stale["results"][0]["error"]["field"], "expectedVersion");
    let fresh = upsert_leads(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "v-1", "expectedVersion": 2, "jobTitle": "Engineer" }]),
    )
    .await;
    assert_eq!(statuses(&fresh), ["UPDATED"], "{fresh}");
    assert_eq!(fresh["results"][0]["version"], 3);
    let missing = upsert_leads(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "v-2", "expectedVersion": 1, "email": "w@ok.example" }]),
    )
    .await;
    assert_eq!(missing["results"][0]["error"]["code"], "CONFLICT");
}

#[db_test]
async fn a_stage_the_lead_has_passed_is_kept_with_a_warning(app: TestApp) {
    upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-1", "email": "s@ok.example", "stage": "Working - Contacted", "createdAt": "2025-01-01T00:00:00Z", "stageEnteredAt": "2025-01-05T00:00:00Z" }])).await;
    // The source reports an earlier stage: Handoff keeps SAL.
    let back = upsert_leads(
        &app,
        "SALESFORCE",
        json!([{ "externalId": "s-1", "stage": "Open - Not Contacted" }]),
    )
    .await;
    assert_eq!(statuses(&back), ["UNCHANGED"], "{back}");
    let warning = back["results"][0]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("kept stage SAL"), "{warning}");
    // A skip forward is one move, dated now.
    let skip = upsert_leads(
        &app,
        "SALESFORCE",
        json!([{ "externalId": "s-1", "stage": "Closed - Converted" }]),
    )
    .await;
    assert_eq!(statuses(&skip), ["UPDATED"], "{skip}");
    let id = skip["results"][0]["id"].as_str().unwrap();
    let lead = app
        .gql(
            Admin,
            "query($id: ID!) { node(id: $id) { ... on Lead { stage stageHistory { from to } } } }",
            json!({ "id": id }),
        )
        .await["node"]
        .clone();
    assert_eq!(lead["stage"], "OPPORTUNITY");
    assert_eq!(
        lead["stageHistory"].as_array().unwrap().last().unwrap(),
        &json!({ "from": "SAL", "to": "OPPORTUNITY" })
    );
    // NURTURE back to NEW is a recycle.
    upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-2", "email": "n@ok.example", "stage": "Closed - Not Converted" }])).await;
    let recycled = upsert_leads(
        &app,
        "SALESFORCE",
        json!([{ "externalId": "s-2", "stage": "New" }]),
    )
    .await;
    let id = recycled["results"][0]["id"].as_str().unwrap();
    let lead = app
        .gql(
            Admin,
            "query($id: ID!) { node(id: $id) { ... on Lead { stage recycleCount } } }",
            json!({ "id": id }),
        )
        .await["node"]
        .clone();
    assert_eq!(lead, json!({ "stage": "NEW", "recycleCount": 1 }));
}

#[db_test]
async fn deleting_by_external_id_soft_deletes_and_replays_as_unchanged(app: TestApp) {
    upsert_leads(
        &app,
        "HUBSPOT",
        json!([
            { "externalId": "d-1", "email": "d1@ok.example" },
            { "externalId": "d-2", "email": "d2@ok.example" }
        ]),
    )
    .await;
    let q = format!(
        "mutation($i: DeleteByExternalIdsInput!) {{ deleteByExternalIds(input: $i) {{ {RESULT} }} }}"
    );
    let input = json!({ "i": { "objectType": "LEAD", "system": "HUBSPOT", "records": [{ "externalId": "d-1" }, { "externalId": "nope" }, { "externalId": "d-2", "expectedVersion": 9 }] } });
    let done = app.gql(Integration, &q, input.clone()).await["deleteByExternalIds"].clone();
    assert_eq!(statuses(&done), ["DELETED", "FAILED", "FAILED"], "{done}");
    assert_eq!(done["results"][1]["error"]["code"], "NOT_FOUND");
    assert_eq!(done["results"][2]["error"]["code"], "CONFLICT");
    let again = app.gql(Integration, &q, input).await["deleteByExternalIds"].clone();
    assert_eq!(statuses(&again)[0], "UNCHANGED");
    let leads = app
        .gql(Admin, "{ leads { nodes { email } } }", json!({}))
        .await;
    assert_eq!(
        leads["leads"]["nodes"],
        json!([{ "email": "d2@ok.example" }])
    );
    // The tombstone reaches the change feed.
    // (On PostgreSQL the feed waits for other tests' transactions in the
    // same database, so poll for a moment.)
    eventually("a tombstone in the feed", async || {
        let feed = app
            .gql(
                Integration,
                "{ changes(objectTypes: [LEAD], first: 100) { nodes { operation } } }",
                json!({}),
            )
            .await;
        feed["changes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["operation"] == "DELETE")
            .then_some(())
    })
    .await;
    // Upserting a deleted record restores it.
    let back = upsert_leads(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "d-1", "email": "d1@ok.example" }]),
    )
    .await;
    assert_eq!(statuses(&back), ["UPDATED"], "{back}");
    let leads = app.gql(Admin, "{ leads { totalCount } }", json!({})).await;
    assert_eq!(leads["leads"]["totalCount"], 2);
}

#[db_test]
async fn account_domains_stay_unique_across_a_batch(app: TestApp) {
    app.create_account("Existing", Some("taken.example")).await;
    let done = upsert_accounts(&app, "SALESFORCE", json!([
        { "externalId": "a-1", "name": "One", "domain": "one.example" },
        { "externalId": "a-2", "name": "Two", "domain": "TAKEN.example" },
        { "externalId": "a-3", "name": "Three", "domain": "one.example" },
        { "externalId": "a-4", "name": "" },
        { "externalId": "a-5", "name": "Five", "employeeCount": 120, "country": "de", "ownerEmail": "nobody@nowhere.example" }
    ])).await;
    assert_eq!(
        statuses(&done),
        ["CREATED", "FAILED", "FAILED", "FAILED", "FAILED"],
        "{done}"
    );
    assert_eq!(done["results"][1]["error"]["code"], "TAKEN");
    assert_eq!(done["results"][2]["error"]["code"], "TAKEN");
    assert_eq!(done["results"][3]["error"]["code"], "REQUIRED");
    assert_eq!(done["results"][4]["error"]["code"], "NOT_FOUND");
    assert_eq!(done["results"][4]["error"]["field"], "owner");
    // The same external id in another system is another record.
    let other = upsert_accounts(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "a-1", "name": "Hub One" }]),
    )
    .await;
    assert_eq!(statuses(&other), ["CREATED"]);
}

async fn sync(
    app: &TestApp,
    mutation: &str,
    input_type: &str,
    list: &str,
    system: &str,
    records: Value,
) -> Value {
    let q = format!("mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ {RESULT} }} }}");
    app.gql(
        Integration,
        &q,
        json!({ "i": { "system": system, list: records } }),
    )
    .await[mutation]
        .clone()
}

fn closed_loop() -> [(&'static str, &'static str, &'static str, Value); 4] {
    [
        (
            "upsertCampaigns",
            "UpsertCampaignsInput",
            "campaigns",
            json!([
                { "externalId": "cmp-1", "name": "Spring webinar", "channel": "WEBINAR", "startsOn": "2025-03-01", "endsOn": "2025-03-31", "budget": { "amount": "5000", "currency": "EUR" }, "createdAt": "2025-02-01T00:00:00Z" }
            ]),
        ),
        (
            "upsertLeads",
            "UpsertLeadsInput",
            "leads",
            json!([
                { "externalId": "00Q1", "email": "dana@wayne.example", "sourceCampaignExternalId": "cmp-1", "source": "WEBINAR", "createdAt": "2025-03-05T00:00:00Z", "stage": "Closed - Converted", "stageEnteredAt": "2025-04-02T00:00:00Z" }
            ]),
        ),
        (
            "recordActivities",
            "RecordActivitiesInput",
            "activities",
            json!([
                { "externalId": "act-1", "leadExternalId": "00Q1", "kind": "WEBINAR_ATTENDED", "occurredAt": "2025-03-12T15:00:00Z", "campaignExternalId": "cmp-1" },
                { "externalId": "act-2", "leadExternalId": "00Q1", "kind": "MEETING", "occurredAt": "2025-03-20T15:00:00Z", "note": "intro call" }
            ]),
        ),
        (
            "upsertOpportunities",
            "UpsertOpportunitiesInput",
            "opportunities",
            json!([
                { "externalId": "006A", "name": "Wayne platform", "primaryLeadExternalId": "00Q1", "ownerEmail": "sales@example.com",
                  "amount": { "amount": "48000.00", "currency": "USD" }, "sourcedBy": "MARKETING", "createdAt": "2025-04-02T00:00:00Z",
                  "stage": "Closed Won", "stageEnteredAt": "2025-05-20T00:00:00Z",
                  "stageHistory": [{ "stage": "Prospecting", "enteredAt": "2025-04-02T00:00:00Z" }, { "stage": "Negotiation/Review", "enteredAt": "2025-05-01T00:00:00Z" }] },
                { "externalId": "006B", "name": "Wayne renewal", "amount": { "amount": "1000.00", "currency": "USD" }, "createdAt": "2025-04-10T00:00:00Z", "stage": "Closed Lost", "closedAt": "2025-05-25T00:00:00Z" }
            ]),
        ),
    ]
}

#[db_test]
async fn campaigns_activities_and_deals_sync_with_their_history(app: TestApp) {
    for (mutation, input_type, list, records) in closed_loop() {
        let done = sync(
            &app,
            mutation,
            input_type,
            list,
            "SALESFORCE",
            records.clone(),
        )
        .await;
        assert_eq!(done["failed"], 0, "{mutation}: {done}");
        assert_eq!(
            done["created"].as_u64().unwrap() as usize,
            records.as_array().unwrap().len()
        );
    }
    let logged = change_log_len(&app).await;
    for (mutation, input_type, list, records) in closed_loop() {
        let again = sync(&app, mutation, input_type, list, "SALESFORCE", records).await;
        assert_eq!(
            again["unchanged"],
            again["results"].as_array().unwrap().len(),
            "{mutation}: {again}"
        );
    }
    assert_eq!(change_log_len(&app).await, logged);

    let deals = app.gql(Admin, "{ opportunities(orderBy: {field: CREATED_AT, direction: ASC}) { nodes { name stage closedAt createdAt primaryLead { email } owner { email } stageHistory { from to at } } } }", json!({})).await;
    let won = &deals["opportunities"]["nodes"][0];
    assert_eq!(won["stage"], "CLOSED_WON", "{deals}");
    assert_eq!(won["closedAt"], "2025-05-20T00:00:00+00:00");
    assert_eq!(won["primaryLead"]["email"], "dana@wayne.example");
    assert_eq!(won["stageHistory"].as_array().unwrap().len(), 3, "{won}");
    let lost = &deals["opportunities"]["nodes"][1];
    assert_eq!(lost["closedAt"], "2025-05-25T00:00:00+00:00");
    let leads = app
        .gql(
            Admin,
            "{ leads { nodes { sourceCampaign { name } stage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        leads["leads"]["nodes"][0]["sourceCampaign"]["name"], "Spring webinar",
        "{leads}"
    );
    {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let stored = entity::activity::Entity::find().all(&app.db).await.unwrap();
        assert_eq!(stored.len(), 2);
        let webinar = stored.iter().find(|a| a.note.is_none()).unwrap();
        assert_eq!(
            webinar.occurred_at.to_rfc3339(),
            "2025-03-12T15:00:00+00:00"
        );
        assert!(webinar.campaign_id.is_some());
        assert_eq!(
            entity::external_id::Entity::find()
                .count(&app.db)
                .await
                .unwrap(),
            6
        );
    }

    // KPIs over the imported deals use the source close dates.
    let q =
        "query($i: KpisInput!) { kpis(input: $i) { kpi total { value numerator denominator } } }";
    let k = app.gql(Leadership, q, json!({ "i": { "kpis": ["WIN_RATE", "REVENUE"], "from": "2025-05-01", "to": "2025-05-31" } })).await["kpis"].clone();
    assert_eq!(k[0]["total"]["numerator"].as_f64(), Some(1.0), "{k}");
    assert_eq!(k[0]["total"]["denominator"].as_f64(), Some(2.0), "{k}");
    assert_eq!(k[1]["total"]["value"].as_f64(), Some(48000.0), "{k}");
    let k = app
        .gql(
            Leadership,
            q,
            json!({ "i": { "kpis": ["REVENUE"], "from": "2025-06-01", "to": "2025-06-30" } }),
        )
        .await["kpis"]
        .clone();
    assert_eq!(k[0]["total"]["value"].as_f64(), Some(0.0), "{k}");
}

#[db_test]
async fn bad_activities_and_deals_fail_alone(app: TestApp) {
    sync(&app, "upsertLeads", "UpsertLeadsInput", "leads", "HUBSPOT", json!([{ "externalId": "l-1", "email": "l@ok.example", "createdAt": "2025-01-01T00:00:00Z" }])).await;
    let done = sync(&app, "recordActivities", "RecordActivitiesInput", "activities", "HUBSPOT", json!([
        { "externalId": "a-1", "leadExternalId": "l-1", "kind": "FORM_SUBMIT", "occurredAt": "2999-01-01T00:00:00Z" },
        { "externalId": "a-2", "kind": "FORM_SUBMIT", "occurredAt": "2025-02-01T00:00:00Z" },
        { "externalId": "a-3", "leadExternalId": "nobody", "kind": "FORM_SUBMIT", "occurredAt": "2025-02-01T00:00:00Z" },
        { "externalId": "a-4", "leadExternalId": "l-1", "kind": "FORM_SUBMIT", "occurredAt": "2025-02-01T00:00:00Z" }
    ])).await;
    let codes: Vec<Value> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["status"], r["error"]["code"], r["error"]["field"]]))
        .collect();
    assert_eq!(
        codes,
        vec![
            json!(["FAILED", "IN_FUTURE", "occurredAt"]),
            json!(["FAILED", "REQUIRED", "lead"]),
            json!(["FAILED", "NOT_FOUND", "lead"]),
            json!(["CREATED", null, null]),
        ],
        "{done}"
    );
    let deals = sync(&app, "upsertOpportunities", "UpsertOpportunitiesInput", "opportunities", "HUBSPOT", json!([
        { "externalId": "d-1", "name": "One", "amount": { "amount": "10", "currency": "USD" }, "stage": "closedwon", "createdAt": "2025-01-01T00:00:00Z", "stageEnteredAt": "2025-02-01T00:00:00Z" },
        { "externalId": "d-2", "name": "Two", "amount": { "amount": "10", "currency": "USD" }, "stage": "won-ish" },
        { "externalId": "d-3", "name": "Three", "stage": "appointmentscheduled" },
        { "externalId": "d-4", "name": "Four", "amount": { "amount": "10", "currency": "USD" }, "createdAt": "2025-03-01T00:00:00Z", "stage": "closedlost", "closedAt": "2025-02-01T00:00:00Z" }
    ])).await;
    let codes: Vec<Value> = deals["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["status"], r["error"]["code"], r["error"]["field"]]))
        .collect();
    assert_eq!(
        codes,
        vec![
            json!(["CREATED", null, null]),
            json!(["FAILED", "UNKNOWN_STAGE", "stage"]),
            json!(["FAILED", "REQUIRED", "amount"]),
            json!(["FAILED", "OUT_OF_ORDER", "closedAt"]),
        ],
        "{deals}"
    );
    // A won deal the source now calls lost must be reopened first.
    let flip = sync(
        &app,
        "upsertOpportunities",
        "UpsertOpportunitiesInput",
        "opportunities",
        "HUBSPOT",
        json!([{ "externalId": "d-1", "stage": "closedlost" }]),
    )
    .await;
    assert_eq!(flip["results"][0]["error"]["code"], "INVALID", "{flip}");
    let reopen = sync(
        &app,
        "upsertOpportunities",
        "UpsertOpportunitiesInput",
        "opportunities",
        "HUBSPOT",
        json!([{ "externalId": "d-1", "stage": "contractsent" }]),
    )
    .await;
    assert_eq!(statuses(&reopen), ["UPDATED"], "{reopen}");
}

/// `(code, field)` of every error of a result.
fn errors_of(result: &Value) -> Vec<(String, String)> {
    result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[db_test]
async fn a_deal_with_several_problems_reports_every_one_and_error_is_the_first(app: TestApp) {
    // Closed before it was created, a primary lead nobody synced and a
    // negative amount: three independent problems, all in one answer.
    let q = "mutation($i: UpsertOpportunitiesInput!) { upsertOpportunities(input: $i) {
        created failed results { externalId status error { code field message } errors { code field message } } } }";
    let done = app
        .gql(
            Integration,
            q,
            json!({ "i": { "system": "HUBSPOT", "opportunities": [
                { "externalId": "d-many", "name": "Many", "amount": { "amount": "-5", "currency": "USD" },
                  "primaryLeadExternalId": "ghost", "stage": "closedwon",
                  "createdAt": "2025-03-01T00:00:00Z", "closedAt": "2025-02-01T00:00:00Z" },
                { "externalId": "d-ids", "name": "Ids", "amount": { "amount": "5", "currency": "USD" },
                  "accountId": "not-a-global-id", "primaryLeadId": "nor-this" },
                { "externalId": "d-fine", "name": "Fine", "amount": { "amount": "5", "currency": "USD" } }
            ] } }),
        )
        .await["upsertOpportunities"]
        .clone();
    assert_eq!(
        (done["created"].clone(), done["failed"].clone()),
        (json!(1), json!(2)),
        "{done}"
    );
    let many = &done["results"][0];
    assert_eq!(many["status"], "FAILED");
    assert_eq!(
        errors_of(many),
        [
            ("OUT_OF_RANGE".to_owned(), "amount.amount".to_owned()),
            ("NOT_FOUND".to_owned(), "primaryLead".to_owned()),
            ("OUT_OF_ORDER".to_owned(), "closedAt".to_owned()),
        ],
        "{many}"
    );
    assert!(
        many["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("\"ghost\""),
        "{many}"
    );
    assert_eq!(
        many["error"], many["errors"][0],
        "error is the first of errors"
    );
    // Ids that cannot be read: every one of them, before the service.
    let ids = &done["results"][1];
    assert_eq!(
        errors_of(ids),
        [
            ("INVALID".to_owned(), "accountId".to_owned()),
            ("INVALID".to_owned(), "primaryLeadId".to_owned()),
        ],
        "{ids}"
    );
    assert_eq!(ids["error"], ids["errors"][0]);
    let fine = &done["results"][2];
    assert_eq!(fine["status"], "CREATED");
    assert_eq!(fine["errors"], json!([]));
    assert_eq!(fine["error"], Value::Null);

    // Clients see `error` deprecated in favour of `errors`.
    let fields = app
        .gql(
            Integration,
            r#"{ __type(name: "SyncRecordResult") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }"#,
            json!({}),
        )
        .await;
    let fields = fields["__type"]["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(field("error")["isDeprecated"], true);
    assert!(
        field("error")["deprecationReason"]
            .as_str()
            .unwrap()
            .contains("use errors"),
        "{fields:?}"
    );
    assert_eq!(field("errors")["isDeprecated"], false);
}

#[db_test]
async fn concurrent_jobs_sending_the_same_records_never_duplicate_them(app: TestApp) {
    let batch: Vec<Value> = (0..300)
        .map(|i| json!({ "externalId": format!("c{i}"), "email": format!("c{i}@race.example") }))
        .collect();
    let batch = json!(batch);
    let runs = futures_util::future::join_all(
        (0..4).map(|_| upsert_leads(&app, "HUBSPOT", batch.clone())),
    )
    .await;
    for done in &runs {
        for r in done["results"].as_array().unwrap() {
            let ok = matches!(
                r["status"].as_str(),
                Some("CREATED" | "UNCHANGED" | "UPDATED")
            ) || r["error"]["code"] == "TAKEN";
            assert!(ok, "{r}");
        }
    }
    let created: i64 = runs.iter().map(|d| d["created"].as_i64().unwrap()).sum();
    assert_eq!(created, 300, "each record is created exactly once");
    let count = app.gql(Admin, "{ leads { totalCount } }", json!({})).await;
    assert_eq!(count["leads"]["totalCount"], 300);
    // A retry of the batch settles every record.
    let again = upsert_leads(&app, "HUBSPOT", batch).await;
    assert_eq!(again["unchanged"], 300, "{again}");
}

#[db_test]
async fn synced_leads_are_created_with_their_scores_under_the_approved_definition(app: TestApp) {
    // A NEW lead with fit 50 or more is an MQL (no engagement needed).
    app.approve_definition(lead_definition(50, 0)).await;
    upsert_accounts(&app, "HUBSPOT", json!([{ "externalId": "co-fit", "name": "Fitco", "industry": "Software", "employeeCount": 250, "country": "US" }])).await;

    let batch = json!([
        // 30 + 20 + 20 + 10 (the account's country) = 80: an MQL at once.
        { "externalId": "vp", "email": "vp@fitco.example", "seniority": "VP", "accountExternalId": "co-fit" },
        // 10 (own country) only: stays NEW, created with its score.
        { "externalId": "ic", "email": "ic@elsewhere.example", "country": "US" },
        // A customer is past scoring (rescoring reads open leads only).
        { "externalId": "cu", "email": "cu@fitco.example", "seniority": "VP", "accountExternalId": "co-fit",
          "stage": "customer", "stageEnteredAt": "2025-06-01T00:00:00Z", "createdAt": "2025-01-01T00:00:00Z" },
    ]);
    let before = change_log_len(&app).await;
    let done = upsert_leads(&app, "HUBSPOT", batch.clone()).await;
    assert_eq!(statuses(&done), ["CREATED", "CREATED", "CREATED"], "{done}");
    // The qualifying lead was written twice (created, then moved to
    // MQL); the other once, with its score.
    assert_eq!(done["results"][0]["version"], 2, "{done}");
    assert_eq!(done["results"][1]["version"], 1, "{done}");
    assert_eq!(done["results"][2]["version"], 1, "{done}");
    assert_eq!(change_log_len(&app).await - before, 4);

    let q = "query($id: ID!) { node(id: $id) { ... on Lead { stage fitScore engagementScore version mqlAt slaStatus stageHistory { from to reason } scores { fit { value } engagement { value } } } } }";
    let vp = app
        .gql(Admin, q, json!({ "id": done["results"][0]["id"] }))
        .await["node"]
        .clone();
    assert_eq!(vp["stage"], "MQL", "{vp}");
    assert_eq!(vp["fitScore"], 80, "{vp}");
    assert_eq!(vp["engagementScore"], 0, "{vp}");
    assert_eq!(vp["version"], 2, "{vp}");
    assert_eq!(vp["slaStatus"], "ON_TRACK", "{vp}");
    assert!(vp["mqlAt"].is_string(), "{vp}");
    let last = vp["stageHistory"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("NEW"), Some("MQL")),
        "{vp}"
    );
    assert!(
        last["reason"].as_str().unwrap().contains("lead definition"),
        "{vp}"
    );
    let ic = app
        .gql(Admin, q, json!({ "id": done["results"][1]["id"] }))
        .await["node"]
        .clone();
    assert_eq!(ic["stage"], "NEW", "{ic}");
    assert_eq!(ic["fitScore"], 10, "{ic}");
    assert_eq!(ic["version"], 1, "{ic}");
    let cu = app
        .gql(Admin, q, json!({ "id": done["results"][2]["id"] }))
        .await["node"]
        .clone();
    assert_eq!(
        (cu["stage"].as_str(), cu["fitScore"].as_i64()),
        (Some("CUSTOMER"), Some(0)),
        "{cu}"
    );
    // The stored scores are the ones the definition gives when asked.
    for lead in [&vp, &ic] {
        assert_eq!(lead["fitScore"], lead["scores"]["fit"]["value"], "{lead}");
        assert_eq!(
            lead["engagementScore"], lead["scores"]["engagement"]["value"],
            "{lead}"
        );
    }

    // A replay changes nothing, and a data change rescores.
    let replay = upsert_leads(&app, "HUBSPOT", batch).await;
    assert_eq!(
        statuses(&replay),
        ["UNCHANGED", "UNCHANGED", "UNCHANGED"],
        "{replay}"
    );
    let moved = upsert_leads(&app, "HUBSPOT", json!([
        { "externalId": "ic", "country": "US", "seniority": "VP", "accountExternalId": "co-fit" },
    ])).await;
    assert_eq!(statuses(&moved), ["UPDATED"], "{moved}");
    let ic = app
        .gql(Admin, q, json!({ "id": done["results"][1]["id"] }))
        .await["node"]
        .clone();
    assert_eq!(
        (ic["stage"].as_str(), ic["fitScore"].as_i64()),
        (Some("MQL"), Some(80)),
        "{ic}"
    );
    assert_eq!(
        moved["results"][0]["version"], ic["version"],
        "{moved} {ic}"
    );
}

#[db_test]
async fn a_full_batch_answers_every_record_in_order_whatever_chunk_it_fell_in(app: TestApp) {
    // 1,000 leads are four chunks, written side by side on PostgreSQL.
    let bad = [10, 260, 510, 999];
    let batch: Vec<Value> = (0..1000)
        .map(|i| {
            let email = if bad.contains(&i) {
                format!("not-an-email-{i}")
            } else {
                format!("p{i}@chunks.example")
            };
            json!({ "externalId": format!("p{i}"), "email": email })
        })
        .collect();
    let done = upsert_leads(&app, "HUBSPOT", json!(batch)).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(996), Some(4)),
        "{}",
        done["failed"]
    );
    for (i, r) in done["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["index"], i, "{r}");
        assert_eq!(r["externalId"], format!("p{i}"), "{r}");
        if bad.contains(&i) {
            assert_eq!(
                (r["error"]["code"].as_str(), r["error"]["field"].as_str()),
                (Some("INVALID"), Some("email")),
                "{r}"
            );
        } else {
            assert_eq!(r["status"], "CREATED", "{r}");
        }
    }
    let count = app.gql(Admin, "{ leads { totalCount } }", json!({})).await;
    assert_eq!(count["leads"]["totalCount"], 996);
}
