//! External ids: attaching and detaching them by hand, reading them on
//! records, looking records up by them, and filtering lists on them.

use entity::enums::Role::{self, *};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{TestApp, eventually};

const ADD: &str = "mutation($i: AddExternalIdInput!) { addExternalId(input: $i) { record { id ... on Lead { version externalIds { system externalId } } ... on Account { version externalIds { system externalId } } ... on User { version externalIds { system externalId } } ... on Activity { version externalIds { system externalId } } } userErrors { field code message } } }";
const REMOVE: &str = "mutation($i: RemoveExternalIdInput!) { removeExternalId(input: $i) { record { id ... on Lead { version externalIds { system externalId } } } userErrors { field code message } } }";
const BY_ID: &str = "query($s: ExternalSystem!, $t: ObjectType!, $x: String!) { recordByExternalId(system: $s, objectType: $t, externalId: $x) { id } }";
const BY_IDS: &str = "query($s: ExternalSystem!, $t: ObjectType!, $x: [String!]!) { recordsByExternalIds(system: $s, objectType: $t, externalIds: $x) { id } }";

/// Adds an id as INTEGRATION and returns the payload.
async fn add(app: &TestApp, id: &str, system: &str, external_id: &str) -> Value {
    app.gql(
        Integration,
        ADD,
        json!({ "i": { "id": id, "system": system, "externalId": external_id } }),
    )
    .await["addExternalId"]
        .clone()
}

/// The global id of the record `recordByExternalId` finds, or null.
async fn find(app: &TestApp, role: Role, system: &str, object: &str, external_id: &str) -> Value {
    app.gql(
        role,
        BY_ID,
        json!({ "s": system, "t": object, "x": external_id }),
    )
    .await["recordByExternalId"]["id"]
        .clone()
}

#[db_test]
async fn an_attached_external_id_shows_on_the_record_and_finds_it(app: TestApp) {
    let lead = app.create_lead("ada@example.com", json!({})).await;
    let p = add(&app, &lead, "HUBSPOT", " 101 ").await;
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(p["record"]["id"], lead.as_str());
    assert_eq!(p["record"]["version"], 2);
    assert_eq!(
        p["record"]["externalIds"],
        json!([{ "system": "HUBSPOT", "externalId": "101" }])
    );
    add(&app, &lead, "SALESFORCE", "00Q5e00000AbCdE").await;

    // Every role that reads records reads them, REPORTING included:
    // they identify records, not people.
    for role in [Admin, Marketing, Sales, Leadership, Integration, Reporting] {
        let data = app
            .gql(role, "query($id: ID!) { node(id: $id) { ... on Lead { externalIds { system externalId } } } }", json!({ "id": lead }))
            .await;
        assert_eq!(
            data["node"]["externalIds"],
            json!([
                { "system": "HUBSPOT", "externalId": "101" },
                { "system": "SALESFORCE", "externalId": "00Q5e00000AbCdE" },
            ]),
            "{role:?}"
        );
        assert_eq!(
            find(&app, role, "HUBSPOT", "LEAD", "101").await,
            lead.as_str(),
            "{role:?}"
        );
    }
    // Found by its external id, a lead's personal data stays closed to REPORTING.
    let code = app
        .error_code(Reporting, "{ recordByExternalId(system: HUBSPOT, objectType: LEAD, externalId: \"101\") { id ... on Lead { email } } }", json!({}))
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    // Surrounding spaces are ignored; case is not.
    assert_eq!(
        find(&app, Sales, "SALESFORCE", "LEAD", " 00Q5e00000AbCdE ").await,
        lead.as_str()
    );
    assert_eq!(
        find(&app, Sales, "SALESFORCE", "LEAD", "00q5e00000abcde").await,
        Value::Null
    );
    // The id names a lead, not an account; unknown ids find nothing.
    assert_eq!(
        find(&app, Sales, "HUBSPOT", "ACCOUNT", "101").await,
        Value::Null
    );
    assert_eq!(
        find(&app, Sales, "HUBSPOT", "LEAD", "102").await,
        Value::Null
    );
    assert_eq!(find(&app, Sales, "HUBSPOT", "LEAD", "").await, Value::Null);

    // Attaching it again changes nothing: no new version.
    let p = add(&app, &lead, "HUBSPOT", "101").await;
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(p["record"]["version"], 3);
}

/// The whole change feed once every committed entry is readable (on
/// PostgreSQL, other tests' transactions in the same database hold the
/// feed back for a moment).
async fn settled_feed(app: &TestApp) -> Vec<Value> {
    use entity::change_log;
    use sea_orm::{EntityTrait, PaginatorTrait};

    eventually("every committed entry in the feed", async || {
        let committed = change_log::Entity::find().count(&app.db).await.unwrap();
        let data = app
            .gql(
                Integration,
                "{ changes(first: 1000) { nodes { objectId changedFields version } } }",
                json!({}),
            )
            .await;
        let nodes = data["changes"]["nodes"].as_array().cloned().unwrap();
        (nodes.len() as u64 == committed).then_some(nodes)
    })
    .await
}

#[db_test]
async fn attaching_an_id_is_a_versioned_write_in_the_change_feed(app: TestApp) {
    let lead = app.create_lead("feed@example.com", json!({})).await;
    let before = settled_feed(&app).await.len();
    add(&app, &lead, "HUBSPOT", "55").await;
    let nodes = settled_feed(&app).await;
    assert_eq!(nodes.len(), before + 1);
    let last = nodes.last().unwrap();
    assert_eq!(last["objectId"], lead.as_str());
    assert_eq!(last["changedFields"], json!(["externalIds"]));
    assert_eq!(last["version"], 2);

    // A stale expectedVersion is a CONFLICT and writes nothing.
    let code = app
        .error_code(Integration, ADD, json!({ "i": { "id": lead, "system": "OTHER", "externalId": "w-1", "expectedVersion": 1 } }))
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    let p = app
        .gql(Integration, ADD, json!({ "i": { "id": lead, "system": "OTHER", "externalId": "w-1", "expectedVersion": 2 } }))
        .await;
    assert_eq!(p["addExternalId"]["record"]["version"], 3);

    // Removing is a write too.
    let p = app
        .gql(Admin, REMOVE, json!({ "i": { "id": lead, "system": "OTHER", "externalId": "w-1", "expectedVersion": 3 } }))
        .await;
    assert_eq!(p["removeExternalId"]["userErrors"], json!([]));
    assert_eq!(p["removeExternalId"]["record"]["version"], 4);
    assert_eq!(
        p["removeExternalId"]["record"]["externalIds"],
        json!([{ "system": "HUBSPOT", "externalId": "55" }])
    );
    let nodes = settled_feed(&app).await;
    assert_eq!(nodes.len(), before + 3);
    assert_eq!(
        nodes.last().unwrap()["changedFields"],
        json!(["externalIds"])
    );
}

#[db_test]
async fn an_external_id_is_unique_per_system_and_kind_of_record(app: TestApp) {
    let first = app.create_lead("first@example.com", json!({})).await;
    let second = app.create_lead("second@example.com", json!({})).await;
    let account = app.create_account("Acme", Some("acme.example")).await;
    add(&app, &first, "HUBSPOT", "7").await;

    // Another lead may not take it in the same system.
    let p = add(&app, &second, "HUBSPOT", "7").await;
    assert_eq!(p["record"], Value::Null);
    assert_eq!(p["userErrors"][0]["field"], json!(["input", "externalId"]));
    assert_eq!(p["userErrors"][0]["code"], "TAKEN");
    // The same id in another system, or on an account, is someone else.
    assert_eq!(
        add(&app, &second, "SALESFORCE", "7").await["userErrors"],
        json!([])
    );
    assert_eq!(
        add(&app, &account, "HUBSPOT", "7").await["userErrors"],
        json!([])
    );

    assert_eq!(
        find(&app, Marketing, "HUBSPOT", "LEAD", "7").await,
        first.as_str()
    );
    assert_eq!(
        find(&app, Marketing, "SALESFORCE", "LEAD", "7").await,
        second.as_str()
    );
    assert_eq!(
        find(&app, Marketing, "HUBSPOT", "ACCOUNT", "7").await,
        account.as_str()
    );

    // A record may carry several ids in one system (a CRM merge keeps both).
    assert_eq!(
        add(&app, &first, "HUBSPOT", "8").await["userErrors"],
        json!([])
    );
    assert_eq!(
        find(&app, Marketing, "HUBSPOT", "LEAD", "8").await,
        first.as_str()
    );

    // A deleted lead keeps its ids taken, and is not found by them.
    app.gql(
        Admin,
        "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
        json!({ "id": first }),
    )
    .await;
    assert_eq!(
        find(&app, Marketing, "HUBSPOT", "LEAD", "7").await,
        Value::Null
    );
    assert_eq!(
        add(&app, &second, "HUBSPOT", "7").await["userErrors"][0]["code"],
        "TAKEN"
    );
}

#[db_test]
async fn removing_an_id_frees_it_for_another_record(app: TestApp) {
    let first = app.create_lead("one@example.com", json!({})).await;
    let second = app.create_lead("two@example.com", json!({})).await;
    add(&app, &first, "SALESFORCE", "00Q1").await;
    let p = app
        .gql(
            Integration,
            REMOVE,
            json!({ "i": { "id": first, "system": "SALESFORCE", "externalId": "00Q1" } }),
        )
        .await;
    assert_eq!(p["removeExternalId"]["userErrors"], json!([]));
    assert_eq!(p["removeExternalId"]["record"]["externalIds"], json!([]));
    assert_eq!(
        find(&app, Admin, "SALESFORCE", "LEAD", "00Q1").await,
        Value::Null
    );

    // Removing an id the record does not carry is NOT_FOUND.
    let p = app
        .gql(
            Integration,
            REMOVE,
            json!({ "i": { "id": first, "system": "SALESFORCE", "externalId": "00Q1" } }),
        )
        .await;
    assert_eq!(p["removeExternalId"]["record"], Value::Null);
    assert_eq!(
        p["removeExternalId"]["userErrors"],
        json!([{ "field": ["input", "externalId"], "code": "NOT_FOUND", "message": "the lead does not carry SALESFORCE id \"00Q1\"" }])
    );

    assert_eq!(
        add(&app, &second, "SALESFORCE", "00Q1").await["userErrors"],
        json!([])
    );
    assert_eq!(
        find(&app, Admin, "SALESFORCE", "LEAD", "00Q1").await,
        second.as_str()
    );
}

#[db_test]
async fn bad_external_id_input_is_refused_and_writes_nothing(app: TestApp) {
    let lead = app.create_lead("bad@example.com", json!({})).await;
    let p = add(&app, &lead, "HUBSPOT", "   ").await;
    assert_eq!(p["record"], Value::Null);
    assert_eq!(p["userErrors"][0]["field"], json!(["input", "externalId"]));
    assert_eq!(p["userErrors"][0]["code"], "REQUIRED");
    let p = add(&app, &lead, "HUBSPOT", &"x".repeat(256)).await;
    assert_eq!(p["userErrors"][0]["code"], "TOO_LONG");
    // 255 characters fit.
    assert_eq!(
        add(&app, &lead, "HUBSPOT", &"x".repeat(255)).await["userErrors"],
        json!([])
    );

    // Records that carry no external ids, malformed ids, unknown records.
    let competitor = app
        .gql(
            Admin,
            "mutation { createCompetitor(input: {name: \"Rival\"}) { competitor { id } } }",
            json!({}),
        )
        .await["createCompetitor"]["competitor"]["id"]
        .clone();
    for id in [competitor, json!("not-an-id")] {
        let code = app
            .error_code(
                Integration,
                ADD,
                json!({ "i": { "id": id, "system": "HUBSPOT", "externalId": "1" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("BAD_USER_INPUT"), "{id}");
    }
    app.gql(
        Admin,
        "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
        json!({ "id": lead }),
    )
    .await;
    let code = app
        .error_code(
            Integration,
            ADD,
            json!({ "i": { "id": lead, "system": "HUBSPOT", "externalId": "1" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));

    // Lookups: kinds that carry no external ids, too many ids.
    let code = app
        .error_code(
            Admin,
            BY_ID,
            json!({ "s": "HUBSPOT", "t": "COMPETITOR", "x": "1" }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("BAD_USER_INPUT"));
    let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let code = app
        .error_code(
            Admin,
            BY_IDS,
            json!({ "s": "HUBSPOT", "t": "LEAD", "x": many }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("BAD_USER_INPUT"));
}

#[db_test]
async fn records_by_external_ids_answers_in_the_order_asked_with_nulls(app: TestApp) {
    let mut leads = vec![];
    for i in 0..3 {
        let lead = app
            .create_lead(&format!("l{i}@example.com"), json!({}))
            .await;
        add(&app, &lead, "HUBSPOT", &format!("h{i}")).await;
        leads.push(lead);
    }
    app.gql(
        Admin,
        "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
        json!({ "id": leads[1] }),
    )
    .await;
    let data = app
        .gql(
            Integration,
            BY_IDS,
            json!({ "s": "HUBSPOT", "t": "LEAD", "x": ["h2", "nope", "h1", "h0", "h2"] }),
        )
        .await;
    assert_eq!(
        data["recordsByExternalIds"],
        json!([
            { "id": leads[2] }, null, null, { "id": leads[0] }, { "id": leads[2] },
        ])
    );
    let data = app
        .gql(
            Integration,
            BY_IDS,
            json!({ "s": "HUBSPOT", "t": "LEAD", "x": [] }),
        )
        .await;
    assert_eq!(data["recordsByExternalIds"], json!([]));
}

#[db_test]
async fn users_and_activities_carry_external_ids_too(app: TestApp) {
    let user = app.user_gid(Sales);
    let p = add(&app, &user, "SALESFORCE", "005Aa").await;
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(p["record"]["version"], 2);
    let data = app
        .gql(
            Sales,
            "{ viewer { externalIds { system externalId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"]["externalIds"],
        json!([{ "system": "SALESFORCE", "externalId": "005Aa" }])
    );
    assert_eq!(
        find(&app, Leadership, "SALESFORCE", "USER", "005Aa").await,
        user.as_str()
    );
    // Only ADMIN and INTEGRATION attach ids.
    let code = app
        .error_code(
            Admin,
            ADD,
            json!({ "i": { "id": user, "system": "HUBSPOT", "externalId": "42" } }),
        )
        .await;
    assert_eq!(code, None);
    for role in [Marketing, Sales, Leadership, Reporting] {
        let code = app
            .error_code(
                role,
                ADD,
                json!({ "i": { "id": user, "system": "HUBSPOT", "externalId": "43" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
    }

    // Activities are nodes, found by their ids in the CRM.
    let lead = app.create_lead("act@example.com", json!({})).await;
    let activity = app
        .gql(Sales, "mutation($l: ID!) { recordActivity(input: {leadId: $l, kind: CALL}) { activity { id } } }", json!({ "l": lead }))
        .await["recordActivity"]["activity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = add(&app, &activity, "HUBSPOT", "eng-9").await;
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(
        p["record"]["externalIds"],
        json!([{ "system": "HUBSPOT", "externalId": "eng-9" }])
    );
    let data = app
        .gql(Marketing, "query { recordByExternalId(system: HUBSPOT, objectType: ACTIVITY, externalId: \"eng-9\") { id ... on Activity { kind version lead { id } } } }", json!({}))
        .await;
    assert_eq!(data["recordByExternalId"]["id"], activity.as_str());
    assert_eq!(data["recordByExternalId"]["kind"], "CALL");
    assert_eq!(data["recordByExternalId"]["lead"]["id"], lead.as_str());
    let data = app
        .gql(
            Marketing,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": activity }),
        )
        .await;
    assert_eq!(data["node"]["id"], activity.as_str());
}

/// The global ids of a list's nodes, under a filter.
async fn listed(app: &TestApp, list: &str, filter: Value) -> Vec<String> {
    let data = app
        .gql(
            Reporting,
            &format!("query($f: {}Filter) {{ {list}(filter: $f, first: 100) {{ totalCount nodes {{ id }} }} }}", filter_type(list)),
            json!({ "f": filter }),
        )
        .await;
    let nodes = data[list]["nodes"].as_array().unwrap();
    assert_eq!(data[list]["totalCount"], nodes.len(), "{list}");
    let mut ids: Vec<String> = nodes
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn filter_type(list: &str) -> &'static str {
    match list {
        "leads" => "Lead",
        "accounts" => "Account",
        "campaigns" => "Campaign",
        "opportunities" => "Opportunity",
        _ => "User",
    }
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

#[db_test]
async fn lists_filter_on_having_or_lacking_an_id_in_a_system(app: TestApp) {
    let hub = app.create_lead("hub@example.com", json!({})).await;
    let both = app.create_lead("both@example.com", json!({})).await;
    let none = app.create_lead("none@example.com", json!({})).await;
    add(&app, &hub, "HUBSPOT", "1").await;
    add(&app, &both, "HUBSPOT", "2").await;
    add(&app, &both, "SALESFORCE", "2").await;
    // An account with HubSpot id "3" must not make a lead match.
    let account = app.create_account("Acme", None).await;
    add(&app, &account, "OTHER", "3").await;

    assert_eq!(
        listed(&app, "leads", json!({ "hasExternalIdIn": "HUBSPOT" })).await,
        sorted(&[&hub, &both])
    );
    assert_eq!(
        listed(&app, "leads", json!({ "lacksExternalIdIn": "HUBSPOT" })).await,
        sorted(&[&none])
    );
    assert_eq!(
        listed(&app, "leads", json!({ "lacksExternalIdIn": "SALESFORCE" })).await,
        sorted(&[&hub, &none])
    );
    assert_eq!(
        listed(
            &app,
            "leads",
            json!({ "hasExternalIdIn": "HUBSPOT", "lacksExternalIdIn": "SALESFORCE" })
        )
        .await,
        sorted(&[&hub])
    );
    assert_eq!(
        listed(&app, "leads", json!({ "hasExternalIdIn": "OTHER" })).await,
        Vec::<String>::new()
    );
    assert_eq!(listed(&app, "leads", json!({})).await.len(), 3);

    // The same filter on every list that carries external ids.
    let campaign = app
        .gql(Admin, "mutation { createCampaign(input: {name: \"Q\", channel: EMAIL, objective: AWARENESS, startsOn: \"2026-01-01\"}) { campaign { id } } }", json!({}))
        .await["createCampaign"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deal = app
        .gql(Admin, "mutation { createOpportunity(input: {name: \"D\", amount: {amount: \"5.00\", currency: \"USD\"}}) { opportunity { id } } }", json!({}))
        .await["createOpportunity"]["opportunity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = app.user_gid(Sales);
    for (list, id) in [
        ("accounts", &account),
        ("campaigns", &campaign),
        ("opportunities", &deal),
        ("users", &user),
    ] {
        add(&app, id, "SALESFORCE", "sf-1").await;
        assert_eq!(
            listed(&app, list, json!({ "hasExternalIdIn": "SALESFORCE" })).await,
            sorted(&[id]),
            "{list}"
        );
        assert!(
            !listed(&app, list, json!({ "lacksExternalIdIn": "SALESFORCE" }))
                .await
                .contains(id),
            "{list}"
        );
        assert!(
            listed(&app, list, json!({ "hasExternalIdIn": "HUBSPOT" }))
                .await
                .is_empty(),
            "{list}"
        );
    }
    // Nested lists take it too.
    let data = app
        .gql(Admin, "query($id: ID!) { node(id: $id) { ... on Account { leads(filter: {hasExternalIdIn: HUBSPOT}) { totalCount } } } }", json!({ "id": account }))
        .await;
    assert_eq!(data["node"]["leads"]["totalCount"], 0);
}

#[db_test]
async fn a_mutation_returns_the_ids_even_when_the_request_read_them_before(app: TestApp) {
    let lead = app.create_lead("cache@example.com", json!({})).await;
    // One document: a read, then a write of the same record's ids.
    let data = app
        .gql(
            Integration,
            "mutation($id: ID!) { a: addExternalId(input: {id: $id, system: HUBSPOT, externalId: \"1\"}) { record { ... on Lead { externalIds { externalId } } } } b: addExternalId(input: {id: $id, system: HUBSPOT, externalId: \"2\"}) { record { ... on Lead { externalIds { externalId } } } } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(
        data["a"]["record"]["externalIds"],
        json!([{ "externalId": "1" }])
    );
    assert_eq!(
        data["b"]["record"]["externalIds"],
        json!([{ "externalId": "1" }, { "externalId": "2" }])
    );
}
