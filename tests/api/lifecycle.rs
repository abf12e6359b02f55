//! The shared lead definition, scoring and the lead lifecycle, end to end.

use entity::enums::{
    ChangeOperation,
    Role::{self, *},
};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const CREATE_DEF: &str = "mutation($i: LeadDefinitionInput!) { createLeadDefinition(input: $i) { leadDefinition { id version status } userErrors { field message code } } }";
const SIGN: &str = "mutation($i: SignLeadDefinitionInput!) { signLeadDefinition(input: $i) { leadDefinition { version status approvedAt signatures { team user { id } } } approved rescoredLeads newMqls userErrors { field message code } } }";
const LEAD: &str = "query($id: ID!) { node(id: $id) { ... on Lead { stage fitScore engagementScore mqlAt slaStatus slaFirstContactDueAt slaDispositionDueAt firstContactedAt dispositionedAt owner { id } rejectionReason rejectionNote recycleCount version qualifiedUnder { version } stageHistory { from to reason actor { id } } scores { definitionVersion qualifies fit { value capped lines { criterion detail points } } engagement { value lines { criterion points } } } } } }";

/// Fit: Software 30 + 50..5000 employees 20 + VP 20 + US 10 = 80 for the
/// ideal lead; engagement: a DEMO_REQUEST today = 40.
fn definition(mql_fit_min: i32, mql_engagement_min: i32) -> Value {
    json!({
        "description": "Software companies of 50-5000 people, VP and up",
        "fitCriteria": {
            "industries": [{ "value": "Software", "points": 30 }],
            "employeeRange": { "min": 50, "max": 5000, "points": 20 },
            "seniorities": [{ "seniority": "VP", "points": 20 }],
            "countries": [{ "value": "US", "points": 10 }]
        },
        "engagementRules": [{ "kind": "DEMO_REQUEST", "points": 40 }, { "kind": "EMAIL_CLICK", "points": 5 }],
        "halfLifeDays": 30,
        "mqlFitMin": mql_fit_min,
        "mqlEngagementMin": mql_engagement_min,
        "reviewBy": "2027-03-31"
    })
}

async fn approve(app: &TestApp, def: Value) -> (String, Value) {
    let data = app.gql(Marketing, CREATE_DEF, json!({ "i": def })).await;
    let id = data["createLeadDefinition"]["leadDefinition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(Sales, SIGN, json!({ "i": { "id": id } })).await;
    let signed = app.gql(Marketing, SIGN, json!({ "i": { "id": id } })).await;
    (id, signed["signLeadDefinition"].clone())
}

/// An account that fits and a VP there who asked for a demo.
async fn ideal_lead(app: &TestApp, email: &str) -> String {
    let account = app
        .gql(Admin, "mutation { createAccount(input: {name: \"Fitco\", industry: \"software\", employeeCount: 250, country: \"US\"}) { account { id } } }", json!({}))
        .await["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = app
        .create_lead(
            email,
            json!({ "accountId": account, "seniority": "VP", "jobTitle": "VP Engineering" }),
        )
        .await;
    activity(app, Marketing, &lead, "DEMO_REQUEST").await;
    lead
}

async fn activity(app: &TestApp, role: Role, lead: &str, kind: &str) -> Value {
    app.gql(
        role,
        "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { activity { kind } lead { stage fitScore engagementScore firstContactedAt slaStatus } userErrors { field code } } }",
        json!({ "i": { "leadId": lead, "kind": kind } }),
    )
    .await["recordActivity"]
        .clone()
}

async fn lead(app: &TestApp, id: &str) -> Value {
    app.gql(Admin, LEAD, json!({ "id": id })).await["node"].clone()
}

async fn mv(app: &TestApp, role: Role, mutation: &str, input: Value) -> Value {
    let (_, body) = app
        .post(role, &format!("mutation($i: {}) {{ {mutation}(input: $i) {{ lead {{ stage owner {{ id }} version }} userErrors {{ field code message }} }} }}", input_type(mutation)), json!({ "i": input }))
        .await;
    body
}

fn input_type(mutation: &str) -> &'static str {
    match mutation {
        "rejectLead" | "disqualifyLead" => "RejectLeadInput!",
        _ => "LeadMoveInput!",
    }
}

#[db_test]
async fn a_definition_needs_both_teams_and_its_approval_rescores_open_leads(app: TestApp) {
    let ideal = ideal_lead(&app, "vp@fitco.example").await;
    let other = app
        .create_lead("someone@elsewhere.example", json!({}))
        .await;
    // Before any definition, nothing is scored.
    assert_eq!(lead(&app, &ideal).await["stage"], "NEW");
    assert_eq!(lead(&app, &ideal).await["scores"], Value::Null);

    let data = app
        .gql(Marketing, CREATE_DEF, json!({ "i": definition(50, 30) }))
        .await;
    let def = &data["createLeadDefinition"]["leadDefinition"];
    assert_eq!(def["status"], "DRAFT");
    assert_eq!(def["version"], 1);
    let id = def["id"].as_str().unwrap().to_owned();

    let one = app.gql(Sales, SIGN, json!({ "i": { "id": id } })).await;
    assert_eq!(one["signLeadDefinition"]["approved"], false);
    assert_eq!(
        one["signLeadDefinition"]["leadDefinition"]["status"],
        "DRAFT"
    );
    // Signing twice for the same team, or for the other team, is refused.
    let twice = app.gql(Sales, SIGN, json!({ "i": { "id": id } })).await;
    assert_eq!(
        twice["signLeadDefinition"]["userErrors"][0]["code"],
        "TAKEN"
    );
    let wrong = app
        .gql(
            Marketing,
            SIGN,
            json!({ "i": { "id": id, "asTeam": "SALES" } }),
        )
        .await;
    assert_eq!(
        wrong["signLeadDefinition"]["userErrors"][0]["code"],
        "INVALID"
    );
    let admin = app.gql(Admin, SIGN, json!({ "i": { "id": id } })).await;
    assert_eq!(
        admin["signLeadDefinition"]["userErrors"][0]["field"],
        json!(["input", "asTeam"])
    );
    assert_eq!(
        lead(&app, &ideal).await["stage"],
        "NEW",
        "one signature approves nothing"
    );

    let two =
        app.gql(Marketing, SIGN, json!({ "i": { "id": id } })).await["signLeadDefinition"].clone();
    assert_eq!(two["approved"], true, "{two}");
    assert_eq!(two["leadDefinition"]["status"], "APPROVED");
    assert_eq!(two["rescoredLeads"], 2);
    assert_eq!(two["newMqls"], 1);
    let teams: Vec<_> = two["leadDefinition"]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["team"].clone())
        .collect();
    assert_eq!(teams, [json!("SALES"), json!("MARKETING")]);

    let l = lead(&app, &ideal).await;
    assert_eq!(l["stage"], "MQL");
    assert_eq!(l["fitScore"], 80);
    assert_eq!(l["engagementScore"], 40);
    assert_eq!(l["slaStatus"], "ON_TRACK");
    assert_eq!(l["qualifiedUnder"]["version"], 1);
    let mql_at = chrono::DateTime::parse_from_rfc3339(l["mqlAt"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(l["slaFirstContactDueAt"].as_str().unwrap()).unwrap();
    let disposition =
        chrono::DateTime::parse_from_rfc3339(l["slaDispositionDueAt"].as_str().unwrap()).unwrap();
    assert_eq!((due - mql_at).num_hours(), 24);
    assert_eq!((disposition - mql_at).num_hours(), 48);
    let history: Vec<_> = l["stageHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].clone(), c["to"].clone()))
        .collect();
    assert_eq!(
        history,
        [(Value::Null, json!("NEW")), (json!("NEW"), json!("MQL"))]
    );
    assert!(
        l["stageHistory"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("v1")
    );
    // The breakdown explains the 80 and the 40.
    let fit: Vec<_> = l["scores"]["fit"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["criterion"].as_str().unwrap().to_owned(),
                x["points"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(fit.iter().map(|(_, p)| p).sum::<f64>(), 80.0, "{fit:?}");
    assert_eq!(
        l["scores"]["engagement"]["lines"][0]["criterion"],
        "DEMO_REQUEST"
    );
    assert_eq!(l["scores"]["qualifies"], true);

    let o = lead(&app, &other).await;
    assert_eq!(o["stage"], "NEW");
    assert_eq!(o["fitScore"], 0);

    let current = app
        .gql(
            Reporting,
            "{ leadDefinition { version status } leadDefinitions { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(current["leadDefinition"]["version"], 1);
    assert_eq!(current["leadDefinitions"]["totalCount"], 1);
}

#[db_test]
async fn a_rescoring_logs_score_changes_and_bumps_versions_but_moves_updated_at_only_for_new_mqls(
    app: TestApp,
) {
    const READ: &str =
        "query($id: ID!) { node(id: $id) { ... on Lead { stage fitScore version updatedAt } } }";
    let read = |id: String| {
        let app = &app;
        async move { app.gql(Admin, READ, json!({ "id": id })).await["node"].clone() }
    };
    let ideal = ideal_lead(&app, "vp@fitco.example").await;
    // A VP without an account: fit 20, no engagement, does not qualify.
    let partial = app
        .create_lead("vp@nowhere.example", json!({ "seniority": "VP" }))
        .await;
    // Nothing that scores: stays at 0.
    let nobody = app
        .create_lead("someone@elsewhere.example", json!({}))
        .await;
    let before: Vec<Value> = vec![
        read(ideal.clone()).await,
        read(partial.clone()).await,
        read(nobody.clone()).await,
    ];
    let logged_before = [
        log_of(&app, &ideal).await.len(),
        log_of(&app, &partial).await.len(),
        log_of(&app, &nobody).await.len(),
    ];

    approve(&app, definition(50, 30)).await;
    let [ideal_after, partial_after, nobody_after] = [
        read(ideal.clone()).await,
        read(partial.clone()).await,
        read(nobody.clone()).await,
    ];
    let version = |v: &Value| v["version"].as_i64().unwrap();

    // Scores only: a new version and a change-log entry, same updatedAt.
    assert_eq!(partial_after["fitScore"], 20);
    assert_eq!(version(&partial_after), version(&before[1]) + 1);
    assert_eq!(partial_after["updatedAt"], before[1]["updatedAt"]);
    // Becoming MQL changes the stage and the SLA: updatedAt moves.
    assert_eq!(ideal_after["stage"], "MQL");
    assert_eq!(version(&ideal_after), version(&before[0]) + 2);
    assert_ne!(ideal_after["updatedAt"], before[0]["updatedAt"]);
    // Unchanged scores write nothing.
    assert_eq!(nobody_after, before[2]);

    let mut entries = vec![];
    for (gid, before) in [&ideal, &partial, &nobody].into_iter().zip(logged_before) {
        entries.push(log_of(&app, gid).await.split_off(before));
    }
    let fields = |i: usize| -> Vec<Value> {
        entries[i]
            .iter()
            .map(|e| e.changed_fields.clone().unwrap())
            .collect()
    };
    assert_eq!(
        fields(0),
        [json!([
            "fitScore",
            "engagementScore",
            "stage",
            "mqlAt",
            "slaStatus"
        ])]
    );
    assert_eq!(fields(1), [json!(["fitScore", "engagementScore"])]);
    assert_eq!(fields(2), Vec::<Value>::new());
    assert!(
        entries
            .iter()
            .flatten()
            .all(|e| e.actor_id == Some(app.user_id(Marketing))
                && e.operation == ChangeOperation::Upsert)
    );
}

#[db_test(postgres_only)]
async fn leads_stay_rescorable_in_place_on_postgresql(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    // Rescoring writes fit_score, engagement_score and version and relies
    // on PostgreSQL updating those in place (HOT): that needs room on
    // the page (fillfactor) and no index on any of the three.
    let one = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_owned());
    let options = app.db.query_one_raw(one("SELECT array_to_string(reloptions, ',') AS o FROM pg_class WHERE oid = 'leads'::regclass")).await.unwrap().unwrap();
    assert_eq!(
        options
            .try_get::<Option<String>>("", "o")
            .unwrap()
            .as_deref(),
        Some("fillfactor=50")
    );
    let indexed = app
        .db
        .query_all_raw(one(
            "SELECT c.relname AS index, a.attname AS col FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = 'leads'::regclass \
             AND a.attname IN ('fit_score', 'engagement_score', 'version')",
        ))
        .await
        .unwrap();
    let indexed: Vec<(String, String)> = indexed
        .iter()
        .map(|r| {
            (
                r.try_get("", "index").unwrap(),
                r.try_get("", "col").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        indexed,
        Vec::<(String, String)>::new(),
        "an index on a column rescoring writes ends in-place rescoring"
    );
}

#[db_test]
async fn contradictory_definitions_are_refused_with_the_field_named(app: TestApp) {
    let mut bad = definition(150, 30);
    bad["fitCriteria"]["employeeRange"] = json!({ "min": 5000, "max": 50, "points": 20 });
    bad["fitCriteria"]["industries"] = json!([{ "value": "Software", "points": -5 }]);
    bad["halfLifeDays"] = json!(0);
    let data = app.gql(Marketing, CREATE_DEF, json!({ "i": bad })).await;
    assert_eq!(data["createLeadDefinition"]["leadDefinition"], Value::Null);
    let fields: Vec<String> = data["createLeadDefinition"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    for expected in [
        "input.fitCriteria.employeeRange",
        "input.fitCriteria.industries.Software",
        "input.halfLifeDays",
        "input.mqlFitMin",
    ] {
        assert!(
            fields.iter().any(|f| f.starts_with(expected)),
            "{expected} not in {fields:?}"
        );
    }
    let count = app
        .gql(Admin, "{ leadDefinitions { totalCount } }", json!({}))
        .await;
    assert_eq!(count["leadDefinitions"]["totalCount"], 0);
    // SALES may sign but not draft; REPORTING may do neither.
    assert_eq!(
        app.error_code(Sales, CREATE_DEF, json!({ "i": definition(50, 30) }))
            .await
            .as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        app.error_code(Reporting, SIGN, json!({ "i": { "id": "x" } }))
            .await
            .as_deref(),
        Some("FORBIDDEN")
    );
}

#[db_test]
async fn a_new_version_supersedes_the_old_and_leads_cross_the_threshold_both_ways(app: TestApp) {
    let ideal = ideal_lead(&app, "vp@fitco.example").await;
    // A lead with fit 0 and a demo request: engagement 40 but no fit.
    let unfit = app.create_lead("intern@nowhere.example", json!({})).await;
    activity(&app, Marketing, &unfit, "DEMO_REQUEST").await;
    approve(&app, definition(50, 30)).await;
    assert_eq!(lead(&app, &ideal).await["stage"], "MQL");
    assert_eq!(lead(&app, &unfit).await["stage"], "NEW");

    // v2 asks for more fit than the ideal lead has, and none at all.
    let (_, signed) = approve(&app, definition(90, 0)).await;
    assert_eq!(signed["leadDefinition"]["version"], 2);
    let versions = app
        .gql(
            Admin,
            "{ leadDefinitions { nodes { version status supersededAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        versions["leadDefinitions"]["nodes"][0]["status"],
        "APPROVED"
    );
    assert_eq!(
        versions["leadDefinitions"]["nodes"][1]["status"],
        "SUPERSEDED"
    );
    assert!(versions["leadDefinitions"]["nodes"][1]["supersededAt"].is_string());
    // The MQL no longer qualifies; it stays MQL (sales may be working it)
    // and its scores show it.
    let l = lead(&app, &ideal).await;
    assert_eq!(l["stage"], "MQL");
    assert_eq!(l["qualifiedUnder"]["version"], 1);
    assert_eq!(l["scores"]["qualifies"], false);
    assert_eq!(l["scores"]["definitionVersion"], 2);

    // v3 asks for no fit: the unfit lead with a demo request now qualifies.
    let (_, signed) = approve(&app, definition(0, 30)).await;
    assert_eq!(signed["newMqls"], 1);
    assert_eq!(lead(&app, &unfit).await["stage"], "MQL");

    let diff = app
        .gql(
            Admin,
            "{ compareLeadDefinitions(fromVersion: 1, toVersion: 2) { field before after } }",
            json!({}),
        )
        .await;
    assert_eq!(
        diff["compareLeadDefinitions"],
        json!([
            { "field": "mqlEngagementMin", "before": "30", "after": "0" },
            { "field": "mqlFitMin", "before": "50", "after": "90" },
        ])
    );
}

const DISCARD: &str = "mutation($i: DiscardLeadDefinitionDraftInput!) { discardLeadDefinitionDraft(input: $i) { discardedLeadDefinitionId userErrors { field message code } } }";
const DEFINITIONS: &str = "{ leadDefinition { version } leadDefinitions { totalCount nodes { id version status revision } } }";

/// Drafts a definition as MARKETING; returns its id.
async fn draft(app: &TestApp, def: Value) -> String {
    let data = app.gql(Marketing, CREATE_DEF, json!({ "i": def })).await;
    data["createLeadDefinition"]["leadDefinition"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no draft: {data}"))
        .to_owned()
}

/// A definition's `revision` as the list shows it (None when not listed).
async fn revision(app: &TestApp, id: &str) -> Option<i64> {
    let data = app.gql(Admin, DEFINITIONS, json!({})).await;
    data["leadDefinitions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .map(|n| n["revision"].as_i64().unwrap())
}

/// The uuid inside a global id.
fn uuid_of(gid: &str) -> uuid::Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    uuid::Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

/// The change-log entries about one object, oldest first.
async fn log_of(app: &TestApp, gid: &str) -> Vec<entity::change_log::Model> {
    use entity::change_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    change_log::Entity::find()
        .filter(change_log::Column::ObjectId.eq(uuid_of(gid)))
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

#[db_test]
async fn a_signed_draft_can_be_discarded_and_disappears_with_its_signature(app: TestApp) {
    approve(&app, definition(50, 30)).await;
    let id = draft(&app, definition(60, 30)).await;
    let signed = app.gql(Sales, SIGN, json!({ "i": { "id": id } })).await;
    assert_eq!(signed["signLeadDefinition"]["approved"], false, "{signed}");
    // Drafted at revision 1, the signature made it 2.
    assert_eq!(revision(&app, &id).await, Some(2));

    let data = app
        .gql(
            Marketing,
            DISCARD,
            json!({ "i": { "id": id, "expectedRevision": 2 } }),
        )
        .await;
    assert_eq!(
        data["discardLeadDefinitionDraft"]["discardedLeadDefinitionId"],
        id.as_str(),
        "{data}"
    );
    assert_eq!(data["discardLeadDefinitionDraft"]["userErrors"], json!([]));

    // Gone from the list and every lookup; the approved version stays in force.
    let data = app.gql(Reporting, DEFINITIONS, json!({})).await;
    assert_eq!(data["leadDefinition"]["version"], 1);
    assert_eq!(data["leadDefinitions"]["totalCount"], 1);
    assert_eq!(data["leadDefinitions"]["nodes"][0]["version"], 1);
    let data = app
        .gql(Admin, "{ leadDefinition(version: 2) { id } }", json!({}))
        .await;
    assert_eq!(data["leadDefinition"], Value::Null);
    let compare = "{ compareLeadDefinitions(fromVersion: 1, toVersion: 2) { field } }";
    assert_eq!(
        app.error_code(Admin, compare, json!({})).await.as_deref(),
        Some("NOT_FOUND")
    );
    // It can be neither signed, edited nor discarded again.
    assert_eq!(
        app.error_code(Marketing, SIGN, json!({ "i": { "id": id } }))
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );
    let update = "mutation($i: UpdateLeadDefinitionInput!) { updateLeadDefinition(input: $i) { leadDefinition { id } } }";
    assert_eq!(
        app.error_code(
            Marketing,
            update,
            json!({ "i": { "id": id, "definition": definition(70, 30) } })
        )
        .await
        .as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(
        app.error_code(Admin, DISCARD, json!({ "i": { "id": id } }))
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );

    // Its signature went with it.
    {
        use entity::lead_definition_signature as sig;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let left = sig::Entity::find()
            .filter(sig::Column::DefinitionId.eq(uuid_of(&id)))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
    // Sync jobs see a tombstone by the MARKETING user.
    let last = log_of(&app, &id).await.pop().unwrap();
    assert_eq!(last.operation, entity::enums::ChangeOperation::Delete);
    assert_eq!(last.actor_id, Some(app.user_id(Marketing)));

    // Its version number is not reused.
    let data = app
        .gql(Marketing, CREATE_DEF, json!({ "i": definition(60, 30) }))
        .await;
    assert_eq!(data["createLeadDefinition"]["leadDefinition"]["version"], 3);
}

#[db_test]
async fn approved_and_superseded_versions_cannot_be_discarded(app: TestApp) {
    let (v1, _) = approve(&app, definition(50, 30)).await;
    let (v2, _) = approve(&app, definition(60, 30)).await;
    for (id, status) in [(&v1, "SUPERSEDED"), (&v2, "APPROVED")] {
        let before_revision = revision(&app, id).await;
        let before_log = log_of(&app, id).await.len();
        let data = app.gql(Admin, DISCARD, json!({ "i": { "id": id } })).await;
        let payload = &data["discardLeadDefinitionDraft"];
        assert_eq!(payload["discardedLeadDefinitionId"], Value::Null, "{data}");
        assert_eq!(
            payload["userErrors"][0]["field"],
            json!(["input", "id"]),
            "{data}"
        );
        assert_eq!(payload["userErrors"][0]["code"], "INVALID");
        let message = payload["userErrors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(status) && message.contains("only drafts"),
            "{message}"
        );
        // Nothing written.
        assert_eq!(revision(&app, id).await, before_revision);
        assert_eq!(log_of(&app, id).await.len(), before_log);
    }
    let data = app.gql(Admin, DEFINITIONS, json!({})).await;
    assert_eq!(data["leadDefinition"]["version"], 2);
    assert_eq!(data["leadDefinitions"]["totalCount"], 2);
}

#[db_test]
async fn a_stale_expected_revision_is_a_conflict_and_discards_nothing(app: TestApp) {
    let id = draft(&app, definition(50, 30)).await;
    // Read at revision 1; meanwhile SALES signs it (revision 2).
    app.gql(Sales, SIGN, json!({ "i": { "id": id } })).await;
    let before_log = log_of(&app, &id).await.len();
    let (status, body) = app
        .post(
            Marketing,
            DISCARD,
            json!({ "i": { "id": id, "expectedRevision": 1 } }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    assert_eq!(revision(&app, &id).await, Some(2));
    assert_eq!(log_of(&app, &id).await.len(), before_log);
    let data = app
        .gql(
            Admin,
            "{ leadDefinition(version: 1) { signatures { team } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["leadDefinition"]["signatures"],
        json!([{ "team": "SALES" }])
    );

    // An edit is a write too (and removes the signature): revision 3.
    let update = "mutation($i: UpdateLeadDefinitionInput!) { updateLeadDefinition(input: $i) { leadDefinition { revision signatures { team } } userErrors { message } } }";
    let data = app
        .gql(
            Marketing,
            update,
            json!({ "i": { "id": id, "definition": definition(55, 30) } }),
        )
        .await;
    assert_eq!(
        data["updateLeadDefinition"]["leadDefinition"],
        json!({ "revision": 3, "signatures": [] })
    );
    assert_eq!(
        app.error_code(
            Admin,
            DISCARD,
            json!({ "i": { "id": id, "expectedRevision": 2 } })
        )
        .await
        .as_deref(),
        Some("CONFLICT")
    );
    let data = app
        .gql(
            Admin,
            DISCARD,
            json!({ "i": { "id": id, "expectedRevision": 3 } }),
        )
        .await;
    assert_eq!(
        data["discardLeadDefinitionDraft"]["discardedLeadDefinitionId"],
        id.as_str()
    );
}

#[db_test]
async fn only_marketing_and_admin_may_discard_a_draft(app: TestApp) {
    let id = draft(&app, definition(50, 30)).await;
    for role in [Sales, Leadership, Reporting, Integration] {
        let (_, body) = app.post(role, DISCARD, json!({ "i": { "id": id } })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "FORBIDDEN",
            "{}: {body}",
            role.as_str()
        );
        assert_eq!(body["data"], Value::Null, "{}: {body}", role.as_str());
    }
    assert_eq!(revision(&app, &id).await, Some(1), "nothing written");
    let data = app
        .gql(Marketing, DISCARD, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(
        data["discardLeadDefinitionDraft"]["discardedLeadDefinitionId"],
        id.as_str()
    );
}

#[db_test]
async fn sales_works_a_lead_through_the_lifecycle_with_every_move_recorded(app: TestApp) {
    let id = ideal_lead(&app, "vp@fitco.example").await;
    approve(&app, definition(50, 30)).await;
    let sales = app.user_gid(Sales);

    // Illegal moves name the allowed ones.
    let body = mv(&app, Sales, "qualifyLead", json!({ "id": id })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("MQL") && message.contains("accept") && message.contains("reject"),
        "{message}"
    );

    // A sales touch is the first contact and keeps the SLA on track.
    let touched = activity(&app, Sales, &id, "CALL").await;
    assert!(touched["lead"]["firstContactedAt"].is_string(), "{touched}");
    assert_eq!(touched["lead"]["slaStatus"], "ON_TRACK");

    // Accepting an unowned MQL makes it the caller's; the SLA is met.
    let body = mv(&app, Sales, "acceptLead", json!({ "id": id })).await;
    assert_eq!(body["data"]["acceptLead"]["lead"]["stage"], "SAL", "{body}");
    assert_eq!(body["data"]["acceptLead"]["lead"]["owner"]["id"], sales);
    assert_eq!(lead(&app, &id).await["slaStatus"], "MET");

    let body = mv(&app, Sales, "qualifyLead", json!({ "id": id })).await;
    assert_eq!(
        body["data"]["qualifyLead"]["lead"]["stage"], "SQL",
        "{body}"
    );

    // Disqualifying needs a reason; OTHER needs a note.
    let body = mv(&app, Sales, "disqualifyLead", json!({ "id": id })).await;
    assert_eq!(
        body["data"]["disqualifyLead"]["userErrors"][0]["field"],
        json!(["input", "reason"])
    );
    let body = mv(
        &app,
        Sales,
        "disqualifyLead",
        json!({ "id": id, "reason": "OTHER" }),
    )
    .await;
    assert_eq!(
        body["data"]["disqualifyLead"]["userErrors"][0]["field"],
        json!(["input", "note"])
    );
    assert_eq!(
        lead(&app, &id).await["stage"],
        "SQL",
        "a refused move writes nothing"
    );
    let body = mv(
        &app,
        Sales,
        "disqualifyLead",
        json!({ "id": id, "reason": "NO_BUDGET", "note": "next fiscal year" }),
    )
    .await;
    assert_eq!(
        body["data"]["disqualifyLead"]["lead"]["stage"], "NURTURE",
        "{body}"
    );

    // Back with marketing: only MARKETING or ADMIN recycles.
    assert_eq!(
        mv(&app, Sales, "recycleLead", json!({ "id": id })).await["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    let body = mv(&app, Marketing, "recycleLead", json!({ "id": id })).await;
    assert_eq!(
        body["data"]["recycleLead"]["lead"]["stage"], "NEW",
        "{body}"
    );

    let l = lead(&app, &id).await;
    assert_eq!(l["recycleCount"], 1);
    assert_eq!(l["slaStatus"], Value::Null);
    let moves: Vec<String> = l["stageHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}>{}",
                c["from"].as_str().unwrap_or("-"),
                c["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            "->NEW",
            "NEW>MQL",
            "MQL>SAL",
            "SAL>SQL",
            "SQL>NURTURE",
            "NURTURE>NEW"
        ]
    );
    assert_eq!(l["stageHistory"][4]["reason"], "NO_BUDGET");
    assert_eq!(l["stageHistory"][2]["actor"]["id"], sales);

    let changes = app
        .gql(Reporting, "query($id: ID!) { leadsStageChanges(filter: {leadIds: [$id], toStages: [NURTURE]}) { totalCount nodes { from to reason } } }", json!({ "id": id }))
        .await;
    assert_eq!(changes["leadsStageChanges"]["totalCount"], 1);
    assert_eq!(changes["leadsStageChanges"]["nodes"][0]["from"], "SQL");
}

#[db_test]
async fn a_rejected_mql_goes_to_nurture_with_its_reason_and_sales_cannot_touch_others_leads(
    app: TestApp,
) {
    let id = ideal_lead(&app, "vp@fitco.example").await;
    approve(&app, definition(50, 30)).await;
    // MARKETING owns the lead now: SALES may not reject it.
    app.gql(
        Admin,
        "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { id } } }",
        json!({ "i": { "id": id, "ownerId": app.user_gid(Marketing) } }),
    )
    .await;
    let body = mv(
        &app,
        Sales,
        "rejectLead",
        json!({ "id": id, "reason": "WRONG_PERSONA" }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let body = mv(
        &app,
        Admin,
        "rejectLead",
        json!({ "id": id, "reason": "WRONG_PERSONA", "note": "an engineer, not a buyer" }),
    )
    .await;
    assert_eq!(
        body["data"]["rejectLead"]["lead"]["stage"], "NURTURE",
        "{body}"
    );
    let l = lead(&app, &id).await;
    assert_eq!(l["rejectionReason"], "WRONG_PERSONA");
    assert_eq!(l["rejectionNote"], "an engineer, not a buyer");
    assert!(l["dispositionedAt"].is_string());
    // REPORTING sees the reason (for aggregates) but not the free-text note.
    let (_, body) = app
        .post(
            Reporting,
            "query($id: ID!) { node(id: $id) { ... on Lead { rejectionReason rejectionNote } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["node"]["rejectionReason"], "WRONG_PERSONA");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[db_test]
async fn activities_are_checked_and_stay_with_their_team(app: TestApp) {
    let id = app.create_lead("a@b.example", json!({})).await;
    // Marketing does not log calls; sales does not log webinars.
    let (_, body) = app.post(Marketing, "mutation($l: ID!) { recordActivity(input: {leadId: $l, kind: CALL}) { activity { kind } } }", json!({ "l": id })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (_, body) = app.post(Sales, "mutation($l: ID!) { recordActivity(input: {leadId: $l, kind: WEBINAR_ATTENDED}) { activity { kind } } }", json!({ "l": id })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let data = app
        .gql(Marketing, "mutation($l: ID!) { recordActivity(input: {leadId: $l, kind: EMAIL_CLICK, occurredAt: \"2999-01-01T00:00:00Z\"}) { activity { kind } userErrors { field code } } }", json!({ "l": id }))
        .await;
    assert_eq!(
        data["recordActivity"]["userErrors"],
        json!([{ "field": ["input", "occurredAt"], "code": "OUT_OF_RANGE" }])
    );
    assert_eq!(data["recordActivity"]["activity"], Value::Null);
}

#[db_test]
async fn scores_follow_changes_to_the_lead_and_its_account(app: TestApp) {
    approve(&app, definition(50, 30)).await;
    let account = app
        .gql(Admin, "mutation { createAccount(input: {name: \"Fitco\", industry: \"Software\", employeeCount: 250, country: \"US\"}) { account { id } } }", json!({}))
        .await["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Scored on creation: Software 30 + 250 people 20 + US 10 = 60.
    let id = app
        .create_lead("new@fitco.example", json!({ "accountId": account }))
        .await;
    assert_eq!(lead(&app, &id).await["fitScore"], 60);
    // The lead's own data: VP adds 20.
    let data = app
        .gql(Marketing, "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { fitScore version } } }", json!({ "i": { "id": id, "seniority": "VP" } }))
        .await;
    assert_eq!(data["updateLead"]["lead"]["fitScore"], 80);
    // The account's data: no longer Software, 30 fewer.
    app.gql(
        Admin,
        "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { account { id } } }",
        json!({ "i": { "id": account, "industry": "Retail" } }),
    )
    .await;
    assert_eq!(lead(&app, &id).await["fitScore"], 50);
    // Engagement decays: a demo request 30 days ago is worth half (20).
    let thirty_days_ago = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let data = app
        .gql(Marketing, "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { lead { engagementScore stage } } }", json!({ "i": { "leadId": id, "kind": "DEMO_REQUEST", "occurredAt": thirty_days_ago } }))
        .await;
    assert_eq!(data["recordActivity"]["lead"]["engagementScore"], 20);
    assert_eq!(
        data["recordActivity"]["lead"]["stage"], "NEW",
        "20 is under the 30 needed"
    );
    // A fresh one (40) on top: 60, and both thresholds are met.
    let data = activity(&app, Marketing, &id, "DEMO_REQUEST").await;
    assert_eq!(data["lead"]["engagementScore"], 60);
    assert_eq!(data["lead"]["stage"], "MQL");
}

const CONVERT: &str = "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { lead { stage account { name } } opportunity { id name stage sourcedBy amount { amount currency } owner { id } account { name } primaryLead { email } } userErrors { field code message } } }";

#[db_test]
async fn converting_an_sql_creates_the_opportunity_and_winning_it_makes_a_customer(app: TestApp) {
    let id = ideal_lead(&app, "vp@fitco.example").await;
    approve(&app, definition(50, 30)).await;
    let deal =
        json!({ "name": "Fitco - Platform", "amount": { "amount": "48000", "currency": "USD" } });
    // Only an SQL converts; the error names what is allowed instead.
    let (_, body) = app
        .post(
            Sales,
            CONVERT,
            json!({ "i": { "id": id, "opportunity": deal } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("accept"),
        "{body}"
    );
    assert_eq!(
        app.gql(Admin, "{ opportunities { totalCount } }", json!({}))
            .await["opportunities"]["totalCount"],
        0
    );

    mv(&app, Sales, "acceptLead", json!({ "id": id })).await;
    mv(&app, Sales, "qualifyLead", json!({ "id": id })).await;
    let data = app
        .gql(
            Sales,
            CONVERT,
            json!({ "i": { "id": id, "opportunity": deal } }),
        )
        .await["convertLead"]
        .clone();
    assert_eq!(data["userErrors"], json!([]), "{data}");
    assert_eq!(data["lead"]["stage"], "OPPORTUNITY");
    let o = &data["opportunity"];
    assert_eq!(o["stage"], "DISCOVERY");
    assert_eq!(
        o["sourcedBy"], "MARKETING",
        "an organic-search lead is marketing-sourced"
    );
    assert_eq!(
        o["amount"],
        json!({ "amount": "48000.00", "currency": "USD" })
    );
    assert_eq!(o["account"]["name"], "Fitco");
    assert_eq!(o["primaryLead"]["email"], "vp@fitco.example");
    assert_eq!(o["owner"]["id"], app.user_gid(Sales));

    let won = app
        .gql(Sales, "mutation($i: UpdateOpportunityInput!) { updateOpportunity(input: $i) { opportunity { stage closedAt } } }", json!({ "i": { "id": o["id"], "stage": "CLOSED_WON" } }))
        .await;
    assert!(won["updateOpportunity"]["opportunity"]["closedAt"].is_string());
    let l = lead(&app, &id).await;
    assert_eq!(l["stage"], "CUSTOMER");
    let last = l["stageHistory"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["from"].clone(), last["to"].clone()),
        (json!("OPPORTUNITY"), json!("CUSTOMER"))
    );
    assert!(last["reason"].as_str().unwrap().contains("won"));
}

#[db_test]
async fn a_lead_without_an_account_gets_one_named_after_its_company(app: TestApp) {
    // Thresholds nobody reaches: the lead is made MQL by hand.
    approve(&app, definition(100, 100)).await;
    let id = app
        .create_lead(
            "cfo@initech.example",
            json!({ "companyName": "Initech", "source": "PARTNER" }),
        )
        .await;
    app.gql(
        Admin,
        "mutation($id: ID!) { forceLeadMql(input: {id: $id}) { lead { stage } } }",
        json!({ "id": id }),
    )
    .await;
    let body = mv(&app, Admin, "acceptLead", json!({ "id": id })).await;
    assert_eq!(body["data"]["acceptLead"]["lead"]["stage"], "SAL", "{body}");
    mv(&app, Admin, "qualifyLead", json!({ "id": id })).await;
    let data = app
        .gql(Admin, CONVERT, json!({ "i": { "id": id, "opportunity": { "name": "Initech deal", "amount": { "amount": "1000.00", "currency": "EUR" } } } }))
        .await["convertLead"]
        .clone();
    assert_eq!(data["opportunity"]["account"]["name"], "Initech", "{data}");
    assert_eq!(data["lead"]["account"]["name"], "Initech");
    assert_eq!(data["opportunity"]["sourcedBy"], "PARTNER");
}

async fn event_kinds(app: &TestApp) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::event::Entity::find()
        .order_by_asc(entity::event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect()
}

#[db_test]
async fn every_lifecycle_milestone_lands_once_in_the_event_stream(app: TestApp) {
    let id = ideal_lead(&app, "vp@fitco.example").await;
    approve(&app, definition(50, 30)).await;
    mv(&app, Sales, "acceptLead", json!({ "id": id })).await;
    mv(&app, Sales, "qualifyLead", json!({ "id": id })).await;
    let deal = app
        .gql(Sales, CONVERT, json!({ "i": { "id": id, "opportunity": { "name": "Deal", "amount": { "amount": "10", "currency": "USD" } } } }))
        .await["convertLead"]["opportunity"]["id"]
        .clone();
    app.gql(Sales, "mutation($i: UpdateOpportunityInput!) { updateOpportunity(input: $i) { opportunity { stage } } }", json!({ "i": { "id": deal, "stage": "CLOSED_LOST" } }))
        .await;
    assert_eq!(
        event_kinds(&app).await,
        [
            "LEAD_BECAME_MQL",
            "DEFINITION_APPROVED",
            "LEAD_ACCEPTED",
            "OPPORTUNITY_CLOSED"
        ]
    );
}

#[db_test]
async fn a_breach_stays_a_breach_when_an_in_time_touch_is_logged_late(app: TestApp) {
    let id = ideal_lead(&app, "vp@fitco.example").await;
    approve(&app, definition(50, 30)).await;
    let mql_at =
        chrono::DateTime::parse_from_rfc3339(lead(&app, &id).await["mqlAt"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    let report = handoff::services::sla::sweep(&app.db, mql_at + chrono::Duration::hours(25))
        .await
        .unwrap();
    assert_eq!(report.breached.len(), 1);
    // The call really happened at MQL time, but is logged after the breach.
    let in_time = mql_at.to_rfc3339();
    app.gql(
        Sales,
        "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { lead { slaStatus } } }",
        json!({ "i": { "leadId": id, "kind": "CALL", "occurredAt": in_time } }),
    )
    .await;
    let l = lead(&app, &id).await;
    assert!(l["firstContactedAt"].is_string());
    assert_eq!(l["slaStatus"], "BREACHED");
}

#[db_test]
async fn a_page_of_definitions_loads_all_their_signatures_in_one_batch(app: TestApp) {
    const Q: &str = "{ leadDefinitions { nodes { version signatures { team user { id } } } } }";
    approve(&app, definition(50, 30)).await;
    app.reset_queries();
    let one = app.gql(Admin, Q, json!({})).await;
    let for_one = app.queries();
    approve(&app, definition(60, 30)).await;
    approve(&app, definition(70, 30)).await;
    app.reset_queries();
    let three = app.gql(Admin, Q, json!({})).await;
    assert_eq!(
        app.queries(),
        for_one,
        "statements grew with the number of definitions"
    );
    assert_eq!(
        one["leadDefinitions"]["nodes"][0]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let nodes = three["leadDefinitions"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes
            .iter()
            .all(|n| n["signatures"].as_array().unwrap().len() == 2)
    );
}

#[db_test]
async fn reporting_reads_score_lines_but_not_the_job_title_words_behind_them(app: TestApp) {
    let mut def = crate::common::lead_definition(50, 30);
    def["fitCriteria"]["titleKeywords"] = json!([{ "value": "demand", "points": 15 }]);
    app.approve_definition(def).await;
    let account = app
        .gql(Admin, "mutation { createAccount(input: {name: \"Fitco\", industry: \"Software\"}) { account { id } } }", json!({}))
        .await["createAccount"]["account"]["id"].as_str().unwrap().to_owned();
    let lead = app
        .create_lead(
            "head@fitco.example",
            json!({ "accountId": account, "jobTitle": "Head of Demand Gen" }),
        )
        .await;

    let lines = "lines { criterion detail points }";
    let documents = [
        (
            "leads",
            format!("{{ leads {{ nodes {{ scores {{ fit {{ {lines} }} }} }} }} }}"),
            "/leads/nodes/0/scores/fit/lines",
        ),
        (
            "node",
            format!(
                "{{ node(id: \"{lead}\") {{ ... on Lead {{ scores {{ fit {{ {lines} }} }} }} }} }}"
            ),
            "/node/scores/fit/lines",
        ),
        (
            "fragment",
            format!(
                "{{ leads {{ nodes {{ ...S }} }} }} fragment S on Lead {{ scores {{ fit {{ ...L }} }} }} fragment L on ScoreBreakdown {{ {lines} }}"
            ),
            "/leads/nodes/0/scores/fit/lines",
        ),
    ];
    for (path_name, document, pointer) in &documents {
        // Roles that read personal data see the matched word.
        let marketing = app.gql(Marketing, document, json!({})).await;
        assert_eq!(
            marketing.pointer(pointer),
            Some(&json!([
                { "criterion": "industry", "detail": "Software", "points": 30.0 },
                { "criterion": "titleKeyword", "detail": "demand", "points": 15.0 },
            ])),
            "{path_name}: {marketing}"
        );

        // REPORTING gets the line, its points and the other details,
        // but the title word is null (left out) with FORBIDDEN.
        let (status, body) = app.post(Reporting, document, json!({})).await;
        assert_eq!(status, 200, "{path_name}: {body}");
        let got: Vec<(Value, Value, Value)> = body["data"]
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{path_name}: {body}"))
            .iter()
            .map(|l| {
                (
                    l["criterion"].clone(),
                    l["detail"].clone(),
                    l["points"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (json!("industry"), json!("Software"), json!(30.0)),
                (json!("titleKeyword"), Value::Null, json!(15.0)),
            ],
            "{path_name}: {body}"
        );
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{path_name}: {body}");
        assert_eq!(
            errors[0]["extensions"]["code"], "FORBIDDEN",
            "{path_name}: {body}"
        );
        assert_eq!(
            errors[0]["path"].as_array().unwrap().last(),
            Some(&json!("detail")),
            "{path_name}: {body}"
        );
        assert!(
            !body.to_string().to_lowercase().contains("demand"),
            "{path_name}: {body}"
        );
    }
}

#[db_test]
async fn a_definition_that_would_grow_without_bound_is_refused_with_user_errors(app: TestApp) {
    let mut input = definition(50, 30);
    input["description"] = json!("x".repeat(10_001));
    input["halfLifeDays"] = json!(5e-324);
    input["fitCriteria"]["industries"] = json!(
        (0..101)
            .map(|i| json!({ "value": format!("I{i}"), "points": 1 }))
            .collect::<Vec<_>>()
    );
    input["engagementRules"] = json!([{ "kind": "DEMO_REQUEST", "points": 2_147_483_647 }]);
    let data = app
        .gql(Role::Marketing, CREATE_DEF, json!({ "i": input }))
        .await;
    let payload = &data["createLeadDefinition"];
    assert!(payload["leadDefinition"].is_null(), "{payload}");
    let errors: Vec<(String, String)> = payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("."),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("input.description", "TOO_LONG"),
        ("input.fitCriteria.industries", "INVALID"),
        ("input.engagementRules.DEMO_REQUEST", "INVALID"),
        ("input.halfLifeDays", "INVALID"),
    ] {
        assert!(
            errors
                .iter()
                .any(|(f, c)| (f.as_str(), c.as_str()) == expected),
            "{expected:?} in {errors:?}"
        );
    }
    let none = app
        .gql(
            Role::Marketing,
            "{ leadDefinitions { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(none["leadDefinitions"]["totalCount"], 0);
}
