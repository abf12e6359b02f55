//! Who a lead is: leads without an email, the one duplicate rule (email
//! when present, external id always) applied by the mutations, the sync
//! upserts and the import, a lead's phone as personal data, the order of
//! leads without an email, and the migration that made email optional.

use entity::enums::Role::{self, *};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{TestApp, eventually};

const CREATE: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id email phone firstName lastName } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { id email phone version } userErrors { field message code } } }";
const UPSERT: &str = "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created updated unchanged failed results { index externalId status id version error { code field message } } } }";

async fn create(app: &TestApp, input: Value) -> Value {
    app.gql(Marketing, CREATE, json!({ "i": input })).await["createLead"].clone()
}

async fn upsert(app: &TestApp, system: &str, leads: Value) -> Value {
    app.gql(
        Integration,
        UPSERT,
        json!({ "i": { "system": system, "leads": leads } }),
    )
    .await["upsertLeads"]
        .clone()
}

fn codes(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = e["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap());
            (
                field.collect::<Vec<_>>().join("."),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[db_test]
async fn a_lead_without_an_email_is_created_when_it_has_a_name(app: TestApp) {
    let made = create(
        &app,
        json!({ "lastName": "Lovelace", "source": "EVENT", "phone": " +44 20 7946 0958 x12 " }),
    )
    .await;
    assert_eq!(made["userErrors"], json!([]));
    assert_eq!(made["lead"]["email"], json!(null));
    assert_eq!(made["lead"]["lastName"], "Lovelace");
    assert_eq!(made["lead"]["phone"], "+44 20 7946 0958 x12");
}

#[db_test]
async fn a_lead_with_neither_email_nor_name_is_refused_naming_email(app: TestApp) {
    let refused = create(&app, json!({ "firstName": "  ", "source": "EVENT" })).await;
    assert_eq!(refused["lead"], json!(null));
    assert_eq!(
        codes(&refused),
        [("input.email".to_owned(), "REQUIRED".to_owned())]
    );

    // An update may clear the email while a name stays, not both.
    let id = app
        .create_lead("grace@example.com", json!({ "lastName": "Hopper" }))
        .await;
    let both = app
        .gql(
            Marketing,
            UPDATE,
            json!({ "i": { "id": id, "email": null, "lastName": null } }),
        )
        .await["updateLead"]
        .clone();
    assert_eq!(
        codes(&both),
        [("input.email".to_owned(), "REQUIRED".to_owned())]
    );
    let email = app
        .gql(
            Marketing,
            UPDATE,
            json!({ "i": { "id": id, "email": null } }),
        )
        .await["updateLead"]
        .clone();
    assert_eq!(email["userErrors"], json!([]));
    assert_eq!(email["lead"]["email"], json!(null));

    let bad_phone = create(
        &app,
        json!({ "email": "p@example.com", "source": "EVENT", "phone": "1-800-FLOWERS" }),
    )
    .await;
    assert_eq!(
        codes(&bad_phone),
        [("input.phone".to_owned(), "INVALID".to_owned())]
    );
}

#[db_test]
async fn an_email_another_live_lead_has_is_taken_on_create_and_update(app: TestApp) {
    let ada = app.create_lead("ada@example.com", json!({})).await;
    let dup = create(
        &app,
        json!({ "email": "  ADA@Example.com ", "source": "EVENT" }),
    )
    .await;
    assert_eq!(dup["lead"], json!(null));
    assert_eq!(
        codes(&dup),
        [("input.email".to_owned(), "TAKEN".to_owned())]
    );
    let message = dup["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&ada),
        "names the lead holding it: {message}"
    );

    let bob = app.create_lead("bob@example.com", json!({})).await;
    let update = app
        .gql(
            Marketing,
            UPDATE,
            json!({ "i": { "id": bob, "email": "Ada@example.COM" } }),
        )
        .await["updateLead"]
        .clone();
    assert_eq!(
        codes(&update),
        [("input.email".to_owned(), "TAKEN".to_owned())]
    );
    assert!(
        update["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&ada)
    );
    // A lead keeps its own email, whatever the case it is sent in.
    let same = app
        .gql(
            Marketing,
            UPDATE,
            json!({ "i": { "id": ada, "email": " ADA@example.com" } }),
        )
        .await["updateLead"]
        .clone();
    assert_eq!(same["userErrors"], json!([]));
    assert_eq!(same["lead"]["version"], 1);

    // Only live leads count: once Ada is deleted, her email is free.
    app.gql(
        Marketing,
        "mutation($id: ID!) { deleteLead(input: {id: $id}) { deletedLeadId } }",
        json!({ "id": ada }),
    )
    .await;
    let again = create(
        &app,
        json!({ "email": "ada@example.com", "source": "EVENT" }),
    )
    .await;
    assert_eq!(again["userErrors"], json!([]));
}

#[db_test]
async fn a_synced_lead_needs_no_email_and_an_unknown_id_with_a_known_email_adopts_the_lead(
    app: TestApp,
) {
    let r = upsert(&app, "HUBSPOT", json!([{ "externalId": "hs-1" }])).await;
    assert_eq!(r["created"], 1, "{r}");

    let ada = app
        .create_lead("ada@example.com", json!({ "firstName": "Ada" }))
        .await;
    let r = upsert(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "hs-2", "email": " Ada@Example.com", "lastName": "Lovelace", "phone": "555 0100" }]),
    )
    .await;
    assert_eq!(r["results"][0]["status"], "UPDATED", "{r}");
    assert_eq!(r["results"][0]["id"], ada.as_str());
    assert_eq!(r["results"][0]["version"], 2);
    let found = app
        .gql(
            Admin,
            "{ recordByExternalId(system: HUBSPOT, objectType: LEAD, externalId: \"hs-2\") { id ... on Lead { firstName lastName phone externalIds { system externalId } } } }",
            json!({}),
        )
        .await;
    let lead = &found["recordByExternalId"];
    assert_eq!(lead["id"], ada.as_str());
    assert_eq!(
        (&lead["firstName"], &lead["lastName"], &lead["phone"]),
        (&json!("Ada"), &json!("Lovelace"), &json!("555 0100"))
    );
    // A replay matches by the external id now and changes nothing.
    let replay = upsert(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "hs-2", "email": "ada@example.com", "lastName": "Lovelace", "phone": "555 0100" }]),
    )
    .await;
    assert_eq!(replay["unchanged"], 1, "{replay}");

    // A second HubSpot id with the same email is another person's claim.
    let r = upsert(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "hs-3", "email": "ADA@example.com" }]),
    )
    .await;
    assert_eq!(r["failed"], 1, "{r}");
    let error = &r["results"][0]["error"];
    assert_eq!(
        (&error["code"], &error["field"]),
        (&json!("TAKEN"), &json!("email"))
    );
    assert!(error["message"].as_str().unwrap().contains(&ada), "{error}");
    // Salesforce has no id for her yet: its lead is the same person.
    let r = upsert(
        &app,
        "SALESFORCE",
        json!([{ "externalId": "00Q1", "email": "ada@example.com" }]),
    )
    .await;
    assert_eq!(r["results"][0]["status"], "UPDATED", "{r}");
    assert_eq!(r["results"][0]["id"], ada.as_str());

    // Within one batch: the first record creates the lead, the second is TAKEN.
    let r = upsert(
        &app,
        "HUBSPOT",
        json!([
            { "externalId": "hs-4", "email": "cy@example.com" },
            { "externalId": "hs-5", "email": "Cy@example.com" }
        ]),
    )
    .await;
    assert_eq!((&r["created"], &r["failed"]), (&json!(1), &json!(1)), "{r}");
    assert_eq!(r["results"][1]["error"]["code"], "TAKEN");
    assert!(
        r["results"][1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r["results"][0]["id"].as_str().unwrap())
    );
    // A known lead cannot take another live lead's email either.
    let r = upsert(
        &app,
        "HUBSPOT",
        json!([{ "externalId": "hs-1", "email": "cy@example.com" }]),
    )
    .await;
    assert_eq!(r["results"][0]["error"]["code"], "TAKEN", "{r}");
}

#[db_test]
async fn hubspot_contacts_without_an_email_import_and_their_deals_find_them(app: TestApp) {
    use handoff::import::{ObjectKind, System};
    let contacts = "Record ID,First Name,Last Name,Email,Phone Number,Lifecycle Stage\n\
                    201,Nora,Quinn,,+1 555 0101,lead\n\
                    202,,Okoye,,,lead\n\
                    203,Sam,Reyes,sam@example.com,,lead\n\
                    204,,,,,lead\n";
    let (s, failed) = app
        .import_csv(System::Hubspot, ObjectKind::Leads, contacts, 0)
        .await;
    assert_eq!((s.created, s.failed), (4, 0), "{failed}");
    assert!(s.ignored_columns.is_empty(), "{:?}", s.ignored_columns);
    let deals = "Record ID,Deal Name,Amount,Deal Stage,Create Date,Associated Contact IDs\n\
                 7101,Quinn pilot,1000,appointmentscheduled,2024-05-01,201\n\
                 7102,Okoye rollout,2000,appointmentscheduled,2024-05-02,202;203\n";
    let (s, failed) = app
        .import_csv(System::Hubspot, ObjectKind::Opportunities, deals, 0)
        .await;
    assert_eq!((s.created, s.failed), (2, 0), "{failed}");
    let data = app
        .gql(
            Admin,
            "{ opportunities(orderBy: {field: NAME}) { nodes { name primaryLead { email lastName phone } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["opportunities"]["nodes"],
        json!([
            { "name": "Okoye rollout", "primaryLead": { "email": null, "lastName": "Okoye", "phone": null } },
            { "name": "Quinn pilot", "primaryLead": { "email": null, "lastName": "Quinn", "phone": "+1 555 0101" } },
        ])
    );
}

#[db_test]
async fn reporting_gets_no_phone_by_any_path(app: TestApp) {
    let id = app
        .create_lead("ada@example.com", json!({ "phone": "+1 555 0100" }))
        .await;
    let read = async |role: Role, query: &str| {
        let (_, body) = app.post(role, query, json!({ "id": id })).await;
        body
    };
    for query in [
        "query($id: ID!) { node(id: $id) { ... on Lead { id phone } } }",
        "query($id: ID!) { nodes(ids: [$id]) { ... on Lead { id phone } } }",
        "query($id: ID!) { leads { nodes { id phone } } node(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id ...P } } fragment P on Lead { phone }",
        "query($id: ID!) { changes(first: 10) { nodes { node { ... on Lead { phone } } } } node(id: $id) { id } }",
    ] {
        // The change feed may hold a commit back a moment (behind other
        // transactions in flight on PostgreSQL): wait until ADMIN sees it.
        eventually(query, async || {
            let body = read(Admin, query).await;
            assert!(body.get("errors").is_none(), "{query}: {body}");
            body.to_string().contains("+1 555 0100").then_some(())
        })
        .await;
        let body = read(Reporting, query).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{query}: {body}"
        );
        assert!(!body.to_string().contains("555"), "{query}: {body}");
    }
}

#[db_test]
async fn ordering_by_email_pages_through_every_lead_once_with_the_ones_without_last(app: TestApp) {
    let mut emails = Vec::new();
    for i in 0..7 {
        let with = i % 2 == 0;
        let email = with.then(|| format!("l{}@example.com", 7 - i));
        let data = create(
            &app,
            json!({ "email": email, "lastName": format!("L{i}"), "source": "EVENT" }),
        )
        .await;
        assert_eq!(data["userErrors"], json!([]));
        emails.push((email, data["lead"]["id"].as_str().unwrap().to_owned()));
    }
    // Ascending: emails in order, then the leads without one by id.
    let mut expected: Vec<(Option<String>, String)> = emails.clone();
    expected.sort_by(|(a, x), (b, y)| match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ids_order(x).cmp(&ids_order(y)),
    });
    let ids =
        |v: &[(Option<String>, String)]| v.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>();
    let asc = ids(&expected);
    let mut desc = asc.clone();
    desc.reverse();
    for (direction, want) in [("ASC", &asc), ("DESC", &desc)] {
        for size in [1, 2, 3] {
            let forward = walk(&app, direction, size, true).await;
            assert_eq!(&forward, want, "{direction} by {size} forward");
            let mut backward = walk(&app, direction, size, false).await;
            backward.reverse();
            assert_eq!(&backward, want, "{direction} by {size} backward");
        }
    }
}

/// A lead id's uuid, for the tie-break order (ids are v7: creation order).
fn ids_order(gid: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    String::from_utf8(raw).unwrap()
}

/// Every lead's id ordered by email, page by page (`size` at a time,
/// forward with `first`/`after` or backward with `last`/`before`).
async fn walk(app: &TestApp, direction: &str, size: i32, forward: bool) -> Vec<String> {
    let (q, page) = match forward {
        true => (
            "query($o: LeadOrder, $n: Int, $c: String) { leads(orderBy: $o, first: $n, after: $c) { nodes { id } pageInfo { endCursor hasNextPage } } }",
            ("endCursor", "hasNextPage"),
        ),
        false => (
            "query($o: LeadOrder, $n: Int, $c: String) { leads(orderBy: $o, last: $n, before: $c) { nodes { id } pageInfo { startCursor hasPreviousPage } } }",
            ("startCursor", "hasPreviousPage"),
        ),
    };
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app
            .gql(
                Sales,
                q,
                json!({ "o": { "field": "EMAIL", "direction": direction }, "n": size, "c": cursor }),
            )
            .await;
        let mut nodes: Vec<String> = data["leads"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        if !forward {
            nodes.reverse();
        }
        seen.extend(nodes);
        let info = &data["leads"]["pageInfo"];
        if info[page.1] != true {
            break;
        }
        cursor = info[page.0].clone();
        assert!(seen.len() < 50, "no end: {seen:?}");
    }
    seen
}

#[db_test]
async fn the_migration_keeps_every_lead_and_goes_down_only_while_all_have_an_email(app: TestApp) {
    let ada = app
        .create_lead(
            "ada@example.com",
            json!({ "firstName": "Ada", "lastName": "Lovelace" }),
        )
        .await;
    let backend = app.db.get_database_backend();
    let count = async |sql: &str| {
        let row = app
            .db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let indexes = "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'leads' AND schemaname = current_schema()";
    let indexes = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
        }
        _ => indexes,
    };
    let before = count(indexes).await;

    // Down: email is required again, and the lead is as it was.
    Migrator::down(&app.db, Some(1)).await.unwrap();
    let insert = |id: &str, email: &str| {
        format!(
            "INSERT INTO leads (id, created_at, updated_at, email, source, stage, stage_entered_at, \
             fit_score, engagement_score, recycle_count, version) VALUES ('{id}', '2025-01-01 00:00:00+00:00', \
             '2025-01-01 00:00:00+00:00', {email}, 'EVENT', 'NEW', '2025-01-01 00:00:00+00:00', 0, 0, 0, 1)"
        )
    };
    let nil = "00000000-0000-7000-8000-000000000001";
    assert!(
        app.db
            .execute_unprepared(&insert(nil, "NULL"))
            .await
            .is_err()
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM leads WHERE email = 'ada@example.com'").await,
        1
    );

    // Up again: the lead, its indexes and its stage change are all there,
    // and a lead without an email can be written.
    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(count(indexes).await, before);
    app.db
        .execute_unprepared(&insert(nil, "NULL"))
        .await
        .unwrap();
    let data = app
        .gql(
            Admin,
            "query($id: ID!) { node(id: $id) { ... on Lead { email firstName lastName phone stageHistory { to } } } }",
            json!({ "id": ada }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({ "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "phone": null, "stageHistory": [{ "to": "NEW" }] })
    );

    // Down refuses while a lead has no email.
    let err = Migrator::down(&app.db, Some(1)).await.unwrap_err();
    assert!(err.to_string().contains("1 leads have no email"), "{err}");
}

#[db_test]
async fn concurrent_creates_and_upserts_of_one_email_make_one_lead(app: TestApp) {
    let input = json!({ "i": { "email": "race@example.com", "source": "EVENT" } });
    let creates = (0..4).map(|_| app.post(Marketing, CREATE, input.clone()));
    let upserts = (0..4).map(|i| {
        let leads = json!([{ "externalId": format!("hs-{i}"), "email": "RACE@example.com" }]);
        app.post(
            Integration,
            UPSERT,
            json!({ "i": { "system": "HUBSPOT", "leads": leads } }),
        )
    });
    let (creates, upserts) = tokio::join!(
        futures_util::future::join_all(creates),
        futures_util::future::join_all(upserts)
    );
    let made = creates
        .iter()
        .filter(|(_, b)| b["data"]["createLead"]["lead"].is_object())
        .count();
    let created = upserts
        .iter()
        .filter(|(_, b)| b["data"]["upsertLeads"]["created"] == 1)
        .count();
    let adopted = upserts
        .iter()
        .filter(|(_, b)| b["data"]["upsertLeads"]["updated"] == 1)
        .count();
    // One writer creates the lead (a createLead or an upsert); if a
    // createLead won, one upsert adopts it; every other writer is TAKEN.
    assert_eq!(made + created, 1, "{creates:?} {upserts:?}");
    assert_eq!(adopted, made, "{upserts:?}");
    let count = app
        .gql(
            Admin,
            "{ leads(filter: {search: \"race@\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(count["leads"]["totalCount"], 1);
}
