//! Bulk upserts and deletes by external id, as a sync job calls them:
//! per-record results, idempotent replays, source-dated history, the stage
//! policy, and bad records that never fail the rest.

use entity::enums::Role::*;
use serde_json::{Value, json};

use crate::{common::TestApp, db_test};

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

db_test! {
    async fn a_replayed_batch_changes_nothing_and_writes_no_change_log(app) {
        let accounts = upsert_accounts(&app, "HUBSPOT", json!([
            { "externalId": "co-1", "name": "Acme", "domain": "acme.example", "annualRevenue": { "amount": "1250000.50", "currency": "USD" }, "createdAt": "2024-12-01T00:00:00Z" }
        ])).await;
        assert_eq!(statuses(&accounts), ["CREATED"], "{accounts}");

        let first = upsert_leads(&app, "HUBSPOT", history_batch()).await;
        assert_eq!(first["created"], 3, "{first}");
        assert_eq!(statuses(&first), ["CREATED", "CREATED", "CREATED"]);
        let logged = change_log_len(&app).await;

        let again = upsert_leads(&app, "HUBSPOT", history_batch()).await;
        assert_eq!(statuses(&again), ["UNCHANGED", "UNCHANGED", "UNCHANGED"], "{again}");
        assert_eq!(again["results"][0]["id"], first["results"][0]["id"]);
        assert_eq!(again["results"][0]["version"], first["results"][0]["version"]);
        let accounts_again = upsert_accounts(&app, "HUBSPOT", json!([
            { "externalId": "co-1", "name": "Acme", "domain": "https://www.acme.example/", "annualRevenue": { "amount": "1250000.5", "currency": "USD" }, "createdAt": "2024-12-01T00:00:00Z" }
        ])).await;
        assert_eq!(statuses(&accounts_again), ["UNCHANGED"], "{accounts_again}");
        assert_eq!(change_log_len(&app).await, logged, "a replay must not write the change log");

        // A changed field is an update, with a new version.
        let mut batch = history_batch();
        batch[1]["firstName"] = json!("Bob");
        let third = upsert_leads(&app, "HUBSPOT", batch).await;
        assert_eq!(statuses(&third), ["UNCHANGED", "UPDATED", "UNCHANGED"], "{third}");
        assert_eq!(third["results"][1]["version"], 2);
        assert_eq!(change_log_len(&app).await, logged + 1);
    }
}

db_test! {
    async fn imported_history_keeps_its_source_dates(app) {
        upsert_accounts(&app, "HUBSPOT", json!([{ "externalId": "co-1", "name": "Acme" }])).await;
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
                (Value::Null, json!("NEW"), json!("2025-01-10T09:00:00+00:00")),
                (json!("NEW"), json!("MQL"), json!("2025-02-03T08:00:00+00:00")),
                (json!("MQL"), json!("SQL"), json!("2025-03-02T10:00:00+00:00")),
            ]
        );
        // HubSpot's lead status IN_PROGRESS makes the MQL a SAL.
        let lead = app.gql(Admin, q, json!({ "id": cy })).await["node"].clone();
        assert_eq!(lead["stage"], "SAL", "{lead}");
        assert_eq!(lead["owner"]["email"], "sales@example.com");

        // KPIs over the imported history count by the source dates: two
        // leads entered MQL in February 2025, none in March.
        let q = "query($i: KpisInput!) { kpis(input: $i) { kpi total { value } } }";
        for (from, to, mqls, created) in [("2025-02-01", "2025-02-28", 2.0, 2.0), ("2025-03-01", "2025-03-31", 0.0, 0.0), ("2025-01-01", "2025-01-31", 0.0, 1.0)] {
            let k = app.gql(Leadership, q, json!({ "i": { "kpis": ["MQLS", "LEADS_CREATED"], "from": from, "to": to } })).await["kpis"].clone();
            assert_eq!(k[0]["total"]["value"].as_f64(), Some(mqls), "MQLS {from}: {k}");
            assert_eq!(k[1]["total"]["value"].as_f64(), Some(created), "LEADS_CREATED {from}: {k}");
        }
    }
}

db_test! {
    async fn one_bad_record_fails_alone_with_its_field_and_index(app) {
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
            { "externalId": "no-email" },
            { "externalId": "ok-2", "email": "two@ok.example", "source": "EVENT" }
        ]);
        let done = upsert_leads(&app, "SALESFORCE", batch).await;
        let errors: Vec<(i64, String, Value)> = done["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "FAILED")
            .map(|r| (r["index"].as_i64().unwrap(), r["error"]["code"].as_str().unwrap().to_owned(), r["error"]["field"].clone()))
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
                (9, "REQUIRED".into(), json!("email")),
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
        assert_eq!(leads["leads"]["nodes"][0], json!({ "email": "one@ok.example", "source": "OTHER" }));
        assert_eq!(leads["leads"]["nodes"][1], json!({ "email": "two@ok.example", "source": "EVENT" }));
    }
}

db_test! {
    async fn a_batch_over_a_thousand_records_is_refused_and_writes_nothing(app) {
        let leads: Vec<Value> = (0..1001).map(|i| json!({ "externalId": format!("x{i}"), "email": format!("x{i}@big.example") })).collect();
        let body = app.post(Integration, "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created } }", json!({ "i": { "system": "OTHER", "leads": leads } })).await.1;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("1000"), "{body}");
        assert_eq!(change_log_len(&app).await, 0);
        // Exactly 1,000 goes through (in several transactions).
        let leads: Vec<Value> = (0..1000).map(|i| json!({ "externalId": format!("x{i}"), "email": format!("x{i}@big.example") })).collect();
        let done = upsert_leads(&app, "OTHER", json!(leads)).await;
        assert_eq!(done["created"], 1000);
        let again = upsert_leads(&app, "OTHER", json!(leads)).await;
        assert_eq!(again["unchanged"], 1000);
    }
}

db_test! {
    async fn expected_version_guards_against_overwriting_newer_edits(app) {
        let done = upsert_leads(&app, "HUBSPOT", json!([{ "externalId": "v-1", "email": "v@ok.example" }])).await;
        let id = done["results"][0]["id"].as_str().unwrap().to_owned();
        // Someone edits the lead in Handoff.
        app.gql(Admin, "mutation($id: ID!) { updateLead(input: {id: $id, jobTitle: \"CTO\"}) { lead { version } } }", json!({ "id": id })).await;
        let stale = upsert_leads(&app, "HUBSPOT", json!([{ "externalId": "v-1", "expectedVersion": 1, "jobTitle": "Engineer" }])).await;
        assert_eq!(stale["results"][0]["error"]["code"], "CONFLICT", "{stale}");
        assert_eq!(stale["results"][0]["error"]["field"], "expectedVersion");
        let fresh = upsert_leads(&app, "HUBSPOT", json!([{ "externalId": "v-1", "expectedVersion": 2, "jobTitle": "Engineer" }])).await;
        assert_eq!(statuses(&fresh), ["UPDATED"], "{fresh}");
        assert_eq!(fresh["results"][0]["version"], 3);
        let missing = upsert_leads(&app, "HUBSPOT", json!([{ "externalId": "v-2", "expectedVersion": 1, "email": "w@ok.example" }])).await;
        assert_eq!(missing["results"][0]["error"]["code"], "CONFLICT");
    }
}

db_test! {
    async fn a_stage_the_lead_has_passed_is_kept_with_a_warning(app) {
        upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-1", "email": "s@ok.example", "stage": "Working - Contacted", "createdAt": "2025-01-01T00:00:00Z", "stageEnteredAt": "2025-01-05T00:00:00Z" }])).await;
        // The source reports an earlier stage: Handoff keeps SAL.
        let back = upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-1", "stage": "Open - Not Contacted" }])).await;
        assert_eq!(statuses(&back), ["UNCHANGED"], "{back}");
        let warning = back["results"][0]["warnings"][0].as_str().unwrap();
        assert!(warning.contains("kept stage SAL"), "{warning}");
        // A skip forward is one move, dated now.
        let skip = upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-1", "stage": "Closed - Converted" }])).await;
        assert_eq!(statuses(&skip), ["UPDATED"], "{skip}");
        let id = skip["results"][0]["id"].as_str().unwrap();
        let lead = app.gql(Admin, "query($id: ID!) { node(id: $id) { ... on Lead { stage stageHistory { from to } } } }", json!({ "id": id })).await["node"].clone();
        assert_eq!(lead["stage"], "OPPORTUNITY");
        assert_eq!(lead["stageHistory"].as_array().unwrap().last().unwrap(), &json!({ "from": "SAL", "to": "OPPORTUNITY" }));
        // NURTURE back to NEW is a recycle.
        upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-2", "email": "n@ok.example", "stage": "Closed - Not Converted" }])).await;
        let recycled = upsert_leads(&app, "SALESFORCE", json!([{ "externalId": "s-2", "stage": "New" }])).await;
        let id = recycled["results"][0]["id"].as_str().unwrap();
        let lead = app.gql(Admin, "query($id: ID!) { node(id: $id) { ... on Lead { stage recycleCount } } }", json!({ "id": id })).await["node"].clone();
        assert_eq!(lead, json!({ "stage": "NEW", "recycleCount": 1 }));
    }
}

db_test! {
    async fn deleting_by_external_id_soft_deletes_and_replays_as_unchanged(app) {
        upsert_leads(&app, "HUBSPOT", json!([
            { "externalId": "d-1", "email": "d1@ok.example" },
            { "externalId": "d-2", "email": "d2@ok.example" }
        ])).await;
        let q = format!("mutation($i: DeleteByExternalIdsInput!) {{ deleteByExternalIds(input: $i) {{ {RESULT} }} }}");
        let input = json!({ "i": { "objectType": "LEAD", "system": "HUBSPOT", "records": [{ "externalId": "d-1" }, { "externalId": "nope" }, { "externalId": "d-2", "expectedVersion": 9 }] } });
        let done = app.gql(Integration, &q, input.clone()).await["deleteByExternalIds"].clone();
        assert_eq!(statuses(&done), ["DELETED", "FAILED", "FAILED"], "{done}");
        assert_eq!(done["results"][1]["error"]["code"], "NOT_FOUND");
        assert_eq!(done["results"][2]["error"]["code"], "CONFLICT");
        let again = app.gql(Integration, &q, input).await["deleteByExternalIds"].clone();
        assert_eq!(statuses(&again)[0], "UNCHANGED");
        let leads = app.gql(Admin, "{ leads { nodes { email } } }", json!({})).await;
        assert_eq!(leads["leads"]["nodes"], json!([{ "email": "d2@ok.example" }]));
        // The tombstone reaches the change feed.
        let feed = app.gql(Integration, "{ changes(objectTypes: [LEAD], first: 100) { nodes { operation } } }", json!({})).await;
        assert!(feed["changes"]["nodes"].as_array().unwrap().iter().any(|n| n["operation"] == "DELETE"), "{feed}");
        // Upserting a deleted record restores it.
        let back = upsert_leads(&app, "HUBSPOT", json!([{ "externalId": "d-1", "email": "d1@ok.example" }])).await;
        assert_eq!(statuses(&back), ["UPDATED"], "{back}");
        let leads = app.gql(Admin, "{ leads { totalCount } }", json!({})).await;
        assert_eq!(leads["leads"]["totalCount"], 2);
    }
}

db_test! {
    async fn account_domains_stay_unique_across_a_batch(app) {
        app.create_account("Existing", Some("taken.example")).await;
        let done = upsert_accounts(&app, "SALESFORCE", json!([
            { "externalId": "a-1", "name": "One", "domain": "one.example" },
            { "externalId": "a-2", "name": "Two", "domain": "TAKEN.example" },
            { "externalId": "a-3", "name": "Three", "domain": "one.example" },
            { "externalId": "a-4", "name": "" },
            { "externalId": "a-5", "name": "Five", "employeeCount": 120, "country": "de", "ownerEmail": "nobody@nowhere.example" }
        ])).await;
        assert_eq!(statuses(&done), ["CREATED", "FAILED", "FAILED", "FAILED", "FAILED"], "{done}");
        assert_eq!(done["results"][1]["error"]["code"], "TAKEN");
        assert_eq!(done["results"][2]["error"]["code"], "TAKEN");
        assert_eq!(done["results"][3]["error"]["code"], "REQUIRED");
        assert_eq!(done["results"][4]["error"]["code"], "NOT_FOUND");
        assert_eq!(done["results"][4]["error"]["field"], "owner");
        // The same external id in another system is another record.
        let other = upsert_accounts(&app, "HUBSPOT", json!([{ "externalId": "a-1", "name": "Hub One" }])).await;
        assert_eq!(statuses(&other), ["CREATED"]);
    }
}
