//! Opportunities: create, stage changes with their history, closing and
//! reopening, references, ownership, concurrency, filters and ordering.

use chrono::{DateTime, Utc};
use entity::{
    change_log,
    enums::{ChangeOperation, ObjectType, Role, StageSubject},
    opportunity, stage_change,
};
use handoff::clock::Clock;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{TestApp, manual_clock};

const FIELDS: &str = "id name stage stageEnteredAt closedAt amount { amount currency } type sourcedBy expectedCloseOn account { id name } primaryLead { id email } owner { id } version";

fn create_doc() -> String {
    format!(
        "mutation($i: CreateOpportunityInput!) {{ createOpportunity(input: $i) {{ opportunity {{ {FIELDS} }} userErrors {{ field message code }} }} }}"
    )
}

fn update_doc() -> String {
    format!(
        "mutation($i: UpdateOpportunityInput!) {{ updateOpportunity(input: $i) {{ opportunity {{ {FIELDS} }} userErrors {{ field message code }} }} }}"
    )
}

fn read_doc() -> String {
    format!("query($id: ID!) {{ node(id: $id) {{ ... on Opportunity {{ {FIELDS} }} }} }}")
}

const DELETE: &str = "mutation($i: DeleteOpportunityInput!) { deleteOpportunity(input: $i) { deletedOpportunityId userErrors { field message code } } }";

/// The uuid inside a global id.
fn uuid_of(gid: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

/// A well-formed global id that names nothing.
fn ghost(kind: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{}", Uuid::now_v7()))
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Creates an opportunity as `role` and returns it.
async fn create(app: &TestApp, role: Role, input: Value) -> Value {
    let data = app.gql(role, &create_doc(), json!({ "i": input })).await;
    assert_eq!(data["createOpportunity"]["userErrors"], json!([]), "{data}");
    data["createOpportunity"]["opportunity"].clone()
}

/// Updates an opportunity as `role` and returns it.
async fn update(app: &TestApp, role: Role, input: Value) -> Value {
    let data = app.gql(role, &update_doc(), json!({ "i": input })).await;
    assert_eq!(data["updateOpportunity"]["userErrors"], json!([]), "{data}");
    data["updateOpportunity"]["opportunity"].clone()
}

fn usd(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "USD" })
}

/// The stage history of one opportunity, oldest first.
async fn history(app: &TestApp, id: &str) -> Vec<stage_change::Model> {
    stage_change::Entity::find()
        .filter(stage_change::Column::SubjectId.eq(uuid_of(id)))
        .order_by_asc(stage_change::Column::At)
        .order_by_asc(stage_change::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// Moves the server's clock on a second so that successive writes get
/// distinct times (the test runs on a [`manual_clock`]).
fn tick(app: &TestApp) {
    app.clock().advance(std::time::Duration::from_secs(1));
}

#[db_test]
async fn an_opportunity_is_created_in_discovery_with_its_relations(app: TestApp) {
    let acme = app.create_account("Acme", Some("acme.example")).await;
    let lead = app
        .create_lead("ada@acme.example", json!({ "accountId": acme }))
        .await;
    let owner = app.user_gid(Role::Sales);
    let o = create(&app, Role::Admin, json!({
        "name": "  Acme platform deal ", "accountId": acme, "primaryLeadId": lead, "ownerId": owner,
        "amount": { "amount": "12500.5", "currency": "usd" }, "sourcedBy": "MARKETING",
        "expectedCloseOn": "2026-09-30"
    }))
    .await;
    assert_eq!(o["name"], "Acme platform deal");
    assert_eq!(o["stage"], "DISCOVERY", "the default stage");
    assert_eq!(o["type"], "NEW_BUSINESS", "the default type");
    assert_eq!(o["sourcedBy"], "MARKETING");
    assert_eq!(
        o["amount"],
        json!({ "amount": "12500.50", "currency": "USD" })
    );
    assert_eq!(o["expectedCloseOn"], "2026-09-30");
    assert_eq!(o["closedAt"], json!(null));
    assert_eq!(o["account"], json!({ "id": acme, "name": "Acme" }));
    assert_eq!(
        o["primaryLead"],
        json!({ "id": lead, "email": "ada@acme.example" })
    );
    assert_eq!(o["owner"]["id"], owner);
    assert_eq!(o["version"], 1);
    let id = o["id"].as_str().unwrap();

    // The same through `node`, and from the account's and lead's side.
    let read = app
        .gql(Role::Leadership, &read_doc(), json!({ "id": id }))
        .await;
    assert_eq!(read["node"], o);
    let data = app
        .gql(Role::Sales, "query($lead: ID!) { node(id: $lead) { ... on Lead { opportunities { totalCount nodes { id } } } } }", json!({ "lead": lead }))
        .await;
    assert_eq!(
        data["node"]["opportunities"]["nodes"],
        json!([{ "id": id }])
    );

    // The first stage is recorded.
    let h = history(&app, id).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].subject_type, StageSubject::Opportunity);
    assert_eq!(h[0].from_stage, None);
    assert_eq!(h[0].to_stage, "DISCOVERY");
    assert_eq!(h[0].actor_id, Some(app.user_id(Role::Admin)));
    assert_eq!(h[0].at, time(&o["stageEnteredAt"]));

    // Defaults give way to given values, and a sourcedBy defaults to SALES.
    let o = create(
        &app,
        Role::Admin,
        json!({ "name": "Renewal", "amount": usd("100"), "type": "RENEWAL", "stage": "PROPOSAL" }),
    )
    .await;
    assert_eq!(o["type"], "RENEWAL");
    assert_eq!(o["stage"], "PROPOSAL");
    assert_eq!(o["sourcedBy"], "SALES");
    assert_eq!(o["account"], json!(null));
    assert_eq!(o["owner"], json!(null));
    assert_eq!(
        history(&app, o["id"].as_str().unwrap()).await[0].to_stage,
        "PROPOSAL"
    );
}

#[db_test]
async fn an_opportunity_created_already_won_is_closed_at_creation(app: TestApp) {
    let o = create(
        &app,
        Role::Integration,
        json!({ "name": "Imported win", "amount": usd("900"), "stage": "CLOSED_WON" }),
    )
    .await;
    assert_eq!(o["stage"], "CLOSED_WON");
    assert_eq!(o["closedAt"], o["stageEnteredAt"]);
}

#[db_test]
async fn a_sales_rep_who_creates_an_opportunity_owns_it(app: TestApp) {
    let o = create(
        &app,
        Role::Sales,
        json!({ "name": "My deal", "amount": usd("4000") }),
    )
    .await;
    assert_eq!(o["owner"]["id"], app.user_gid(Role::Sales));
    let o = create(&app, Role::Sales, json!({ "name": "My named deal", "amount": usd("4000"), "ownerId": app.user_gid(Role::Sales) })).await;
    assert_eq!(o["owner"]["id"], app.user_gid(Role::Sales));

    // Naming another owner is refused and writes nothing.
    let code = app
        .error_code(Role::Sales, &create_doc(), json!({ "i": { "name": "Not mine", "amount": usd("1"), "ownerId": app.user_gid(Role::Admin) } }))
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    assert_eq!(opportunity::Entity::find().count(&app.db).await.unwrap(), 2);

    // An ADMIN's opportunity without an owner has none.
    let o = create(
        &app,
        Role::Admin,
        json!({ "name": "Unowned", "amount": usd("1") }),
    )
    .await;
    assert_eq!(o["owner"], json!(null));
}

#[db_test(with = manual_clock)]
async fn closing_an_opportunity_sets_closed_at_and_reopening_clears_it(app: TestApp) {
    let o = create(
        &app,
        Role::Sales,
        json!({ "name": "Pipeline", "amount": usd("5000") }),
    )
    .await;
    let id = o["id"].as_str().unwrap().to_owned();
    let created_entered = time(&o["stageEnteredAt"]);

    tick(&app);
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": id, "expectedVersion": 1, "stage": "PROPOSAL" }),
    )
    .await;
    assert_eq!(o["stage"], "PROPOSAL");
    assert_eq!(o["closedAt"], json!(null));
    assert_eq!(o["version"], 2);
    let proposal_entered = time(&o["stageEnteredAt"]);
    assert!(
        proposal_entered > created_entered,
        "stageEnteredAt moves with the stage"
    );

    // A change that leaves the stage alone does not touch stageEnteredAt.
    tick(&app);
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": id, "name": "Pipeline deal", "stage": "PROPOSAL" }),
    )
    .await;
    assert_eq!(time(&o["stageEnteredAt"]), proposal_entered);
    assert_eq!(o["version"], 3);

    tick(&app);
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": id, "expectedVersion": 3, "stage": "CLOSED_WON" }),
    )
    .await;
    assert_eq!(o["stage"], "CLOSED_WON");
    let won_entered = time(&o["stageEnteredAt"]);
    assert!(won_entered > proposal_entered);
    assert_eq!(time(&o["closedAt"]), won_entered, "closing sets closedAt");
    assert_eq!(o["version"], 4);

    // Reopening is for revenue operations (ADMIN) and sync jobs.
    tick(&app);
    let o = update(
        &app,
        Role::Admin,
        json!({ "id": id, "stage": "NEGOTIATION" }),
    )
    .await;
    assert_eq!(o["stage"], "NEGOTIATION");
    assert_eq!(o["closedAt"], json!(null), "reopening clears closedAt");
    assert!(time(&o["stageEnteredAt"]) > won_entered);

    tick(&app);
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": id, "stage": "CLOSED_LOST" }),
    )
    .await;
    assert_eq!(time(&o["closedAt"]), time(&o["stageEnteredAt"]));

    // Every stage change is in the history, with its actor.
    let h = history(&app, &id).await;
    let moves: Vec<_> = h
        .iter()
        .map(|c| (c.from_stage.as_deref(), c.to_stage.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (None, "DISCOVERY"),
            (Some("DISCOVERY"), "PROPOSAL"),
            (Some("PROPOSAL"), "CLOSED_WON"),
            (Some("CLOSED_WON"), "NEGOTIATION"),
            (Some("NEGOTIATION"), "CLOSED_LOST"),
        ]
    );
    assert!(
        h.iter()
            .all(|c| c.subject_type == StageSubject::Opportunity)
    );
    let actors: Vec<_> = h.iter().map(|c| c.actor_id).collect();
    let (sales, admin) = (
        Some(app.user_id(Role::Sales)),
        Some(app.user_id(Role::Admin)),
    );
    assert_eq!(actors, [sales, sales, sales, admin, sales]);
    assert_eq!(h[2].at, won_entered);

    // ... and every write in the change log, naming the changed fields.
    let log = change_log::Entity::find()
        .filter(change_log::Column::ObjectId.eq(uuid_of(&id)))
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(
        |e| e.object_type == ObjectType::Opportunity && e.operation == ChangeOperation::Upsert
    ));
    let fields = |i: usize| {
        let mut f: Vec<String> =
            serde_json::from_value(log[i].changed_fields.clone().unwrap()).unwrap();
        f.sort();
        f
    };
    assert_eq!(fields(1), ["stage", "stageEnteredAt"]);
    assert_eq!(fields(2), ["name"]);
    assert_eq!(fields(3), ["closedAt", "stage", "stageEnteredAt"]);
    assert_eq!(fields(4), ["closedAt", "stage", "stageEnteredAt"]);
}

#[db_test]
async fn unknown_accounts_and_leads_are_not_found_user_errors(app: TestApp) {
    let data = app
        .gql(Role::Admin, &create_doc(), json!({ "i": { "name": "Ghost deal", "amount": usd("10"), "accountId": ghost("Account"), "primaryLeadId": ghost("Lead") } }))
        .await;
    assert_eq!(data["createOpportunity"]["opportunity"], json!(null));
    let errors: Vec<_> = data["createOpportunity"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].clone(), e["code"].clone()))
        .collect();
    assert_eq!(
        errors,
        [
            (json!(["input", "accountId"]), json!("NOT_FOUND")),
            (json!(["input", "primaryLeadId"]), json!("NOT_FOUND")),
        ]
    );
    assert_eq!(opportunity::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(
        stage_change::Entity::find().count(&app.db).await.unwrap(),
        0
    );

    // A deleted account is as good as none.
    let gone = app.create_account("Gone", None).await;
    app.gql(
        Role::Admin,
        "mutation($id: ID!) { deleteAccount(input: {id: $id}) { deletedAccountId } }",
        json!({ "id": gone }),
    )
    .await;
    let data = app
        .gql(
            Role::Admin,
            &create_doc(),
            json!({ "i": { "name": "Deal", "amount": usd("10"), "accountId": gone } }),
        )
        .await;
    assert_eq!(
        data["createOpportunity"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );

    // An id of another type is INVALID.
    let account = app.create_account("Real", None).await;
    let data = app
        .gql(
            Role::Admin,
            &create_doc(),
            json!({ "i": { "name": "Deal", "amount": usd("10"), "primaryLeadId": account } }),
        )
        .await;
    assert_eq!(
        data["createOpportunity"]["userErrors"],
        json!([{ "field": ["input", "primaryLeadId"], "message": data["createOpportunity"]["userErrors"][0]["message"], "code": "INVALID" }])
    );

    // On an update too, and nothing changes.
    let o = create(
        &app,
        Role::Admin,
        json!({ "name": "Deal", "amount": usd("10"), "accountId": account }),
    )
    .await;
    let id = o["id"].as_str().unwrap();
    let data = app
        .gql(
            Role::Admin,
            &update_doc(),
            json!({ "i": { "id": id, "accountId": ghost("Account"), "stage": "PROPOSAL" } }),
        )
        .await;
    assert_eq!(
        data["updateOpportunity"]["userErrors"][0]["field"],
        json!(["input", "accountId"])
    );
    assert_eq!(
        data["updateOpportunity"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let read = app.gql(Role::Admin, &read_doc(), json!({ "id": id })).await;
    assert_eq!(read["node"]["account"]["id"], account);
    assert_eq!(read["node"]["stage"], "DISCOVERY");
    assert_eq!(read["node"]["version"], 1);
    assert_eq!(history(&app, id).await.len(), 1);

    // null clears the account.
    let o = update(&app, Role::Admin, json!({ "id": id, "accountId": null })).await;
    assert_eq!(o["account"], json!(null));
}

#[db_test]
async fn a_sales_rep_cannot_edit_or_delete_another_owners_opportunity(app: TestApp) {
    let other = app
        .gql(Role::Admin, "mutation { createUser(input: {name: \"Other Rep\", email: \"other.rep@example.com\", role: SALES, team: SALES}) { user { id } } }", json!({}))
        .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = create(
        &app,
        Role::Admin,
        json!({ "name": "Theirs", "amount": usd("700"), "ownerId": other }),
    )
    .await;
    let theirs = theirs["id"].as_str().unwrap();
    let unowned = create(
        &app,
        Role::Admin,
        json!({ "name": "Unowned", "amount": usd("700") }),
    )
    .await;
    let unowned = unowned["id"].as_str().unwrap();

    for id in [theirs, unowned] {
        let code = app
            .error_code(
                Role::Sales,
                &update_doc(),
                json!({ "i": { "id": id, "stage": "CLOSED_WON" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"));
        let code = app
            .error_code(
                Role::Sales,
                &update_doc(),
                json!({ "i": { "id": id, "ownerId": app.user_gid(Role::Sales) } }),
            )
            .await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "a rep may not take over a deal"
        );
        let code = app
            .error_code(Role::Sales, DELETE, json!({ "i": { "id": id } }))
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"));
        let read = app.gql(Role::Sales, &read_doc(), json!({ "id": id })).await;
        assert_eq!(read["node"]["stage"], "DISCOVERY");
        assert_eq!(read["node"]["version"], 1);
        assert_eq!(history(&app, id).await.len(), 1);
    }

    // Its own it may edit, but not hand to someone else or leave unowned.
    let mine = create(
        &app,
        Role::Sales,
        json!({ "name": "Mine", "amount": usd("700") }),
    )
    .await;
    let mine = mine["id"].as_str().unwrap();
    for owner in [json!(other), json!(null)] {
        let code = app
            .error_code(
                Role::Sales,
                &update_doc(),
                json!({ "i": { "id": mine, "ownerId": owner } }),
            )
            .await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "handing over to {owner}"
        );
    }
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": mine, "stage": "QUALIFICATION" }),
    )
    .await;
    assert_eq!(o["version"], 2);
    assert_eq!(o["owner"]["id"], app.user_gid(Role::Sales));
    let data = app
        .gql(
            Role::Sales,
            DELETE,
            json!({ "i": { "id": mine, "expectedVersion": 2 } }),
        )
        .await;
    assert_eq!(data["deleteOpportunity"]["deletedOpportunityId"], mine);

    // ADMIN may edit anyone's.
    let o = update(
        &app,
        Role::Admin,
        json!({ "id": theirs, "ownerId": app.user_gid(Role::Sales) }),
    )
    .await;
    assert_eq!(o["owner"]["id"], app.user_gid(Role::Sales));
}

#[db_test]
async fn a_stale_expected_version_on_an_opportunity_is_a_conflict_and_writes_nothing(app: TestApp) {
    let o = create(
        &app,
        Role::Sales,
        json!({ "name": "Contested", "amount": usd("300") }),
    )
    .await;
    let id = o["id"].as_str().unwrap();
    update(
        &app,
        Role::Sales,
        json!({ "id": id, "expectedVersion": 1, "name": "Contested deal" }),
    )
    .await;
    let logged = change_log::Entity::find().count(&app.db).await.unwrap();

    let (_, body) = app
        .post(Role::Sales, &update_doc(), json!({ "i": { "id": id, "expectedVersion": 1, "stage": "CLOSED_WON", "amount": usd("999") } }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    assert_eq!(body["data"]["updateOpportunity"], json!(null));
    let code = app
        .error_code(
            Role::Sales,
            DELETE,
            json!({ "i": { "id": id, "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));

    let read = app.gql(Role::Sales, &read_doc(), json!({ "id": id })).await;
    assert_eq!(read["node"]["stage"], "DISCOVERY");
    assert_eq!(read["node"]["closedAt"], json!(null));
    assert_eq!(read["node"]["amount"], usd("300.00"));
    assert_eq!(read["node"]["version"], 2);
    assert_eq!(
        history(&app, id).await.len(),
        1,
        "no stage change was recorded"
    );
    assert_eq!(
        change_log::Entity::find().count(&app.db).await.unwrap(),
        logged
    );

    // The current version works.
    let o = update(
        &app,
        Role::Sales,
        json!({ "id": id, "expectedVersion": 2, "stage": "CLOSED_WON" }),
    )
    .await;
    assert_eq!(o["version"], 3);
}

#[db_test(with = manual_clock)]
async fn opportunity_filters_combine(app: TestApp) {
    let acme = app.create_account("Acme", None).await;
    let globex = app.create_account("Globex", None).await;
    let ada = app
        .create_lead("ada@acme.example", json!({ "accountId": acme }))
        .await;
    let sales = app.user_gid(Role::Sales);
    let a = create(&app, Role::Sales, json!({ "name": "Acme one", "amount": usd("100"), "accountId": acme, "primaryLeadId": ada })).await;
    let b = create(&app, Role::Sales, json!({ "name": "Acme two", "amount": usd("200"), "accountId": acme, "stage": "PROPOSAL", "type": "EXPANSION" })).await;
    let c = create(&app, Role::Admin, json!({ "name": "Globex one", "amount": usd("300"), "accountId": globex, "sourcedBy": "PARTNER" })).await;
    let d = create(
        &app,
        Role::Admin,
        json!({ "name": "Loose", "amount": usd("400"), "ownerId": app.user_gid(Role::Admin) }),
    )
    .await;
    let [a, b, c, d] = [&a, &b, &c, &d].map(|o| o["id"].as_str().unwrap());

    tick(&app);
    let before_closing = app.clock().utc();
    tick(&app);
    update(&app, Role::Sales, json!({ "id": a, "stage": "CLOSED_WON" })).await;
    update(
        &app,
        Role::Admin,
        json!({ "id": c, "stage": "CLOSED_LOST" }),
    )
    .await;
    tick(&app);
    let after_closing = app.clock().utc();

    let ids = |filter: Value| {
        let app = &app;
        async move {
            let data = app
                .gql(Role::Leadership, "query($f: OpportunityFilter) { opportunities(filter: $f, orderBy: {field: NAME}) { totalCount nodes { id } } }", json!({ "f": filter }))
                .await;
            let nodes: Vec<String> = data["opportunities"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(data["opportunities"]["totalCount"], nodes.len(), "{data}");
            nodes
        }
    };
    assert_eq!(ids(json!(null)).await, [a, b, c, d]);
    assert_eq!(ids(json!({ "stages": ["DISCOVERY"] })).await, [d]);
    assert_eq!(
        ids(json!({ "stages": ["CLOSED_WON", "CLOSED_LOST"] })).await,
        [a, c]
    );
    assert_eq!(
        ids(json!({ "stages": ["PROPOSAL", "NEGOTIATION"] })).await,
        [b]
    );
    assert_eq!(ids(json!({ "accountId": acme })).await, [a, b]);
    assert_eq!(ids(json!({ "accountId": globex })).await, [c]);
    assert_eq!(ids(json!({ "primaryLeadId": ada })).await, [a]);
    assert_eq!(ids(json!({ "ownerIds": [sales] })).await, [a, b]);
    assert_eq!(
        ids(json!({ "ownerIds": [sales, app.user_gid(Role::Admin)] })).await,
        [a, b, d]
    );
    assert_eq!(
        ids(json!({ "ownerIds": [app.user_gid(Role::Marketing)] })).await,
        Vec::<&str>::new()
    );
    assert_eq!(ids(json!({ "types": ["EXPANSION"] })).await, [b]);
    assert_eq!(ids(json!({ "sourcedBy": ["PARTNER"] })).await, [c]);
    assert_eq!(ids(json!({ "search": "ACME" })).await, [a, b]);
    assert_eq!(
        ids(json!({ "accountId": acme, "stages": ["CLOSED_WON"] })).await,
        [a]
    );

    // closedAt: from inclusive, to exclusive; open deals have none.
    let t = |d: DateTime<Utc>| json!(d.to_rfc3339());
    assert_eq!(
        ids(json!({ "closedAt": { "from": t(before_closing) } })).await,
        [a, c]
    );
    assert_eq!(
        ids(json!({ "closedAt": { "from": t(before_closing), "to": t(after_closing) } })).await,
        [a, c]
    );
    assert_eq!(
        ids(json!({ "closedAt": { "to": t(before_closing) } })).await,
        Vec::<&str>::new()
    );
    assert_eq!(
        ids(json!({ "closedAt": { "from": t(after_closing) } })).await,
        Vec::<&str>::new()
    );
    assert_eq!(
        ids(json!({ "closedAt": { "from": t(before_closing) }, "accountId": globex })).await,
        [c]
    );
    let won_at =
        app.gql(Role::Admin, &read_doc(), json!({ "id": a })).await["node"]["closedAt"].clone();
    assert_eq!(
        ids(json!({ "closedAt": { "from": won_at } })).await.first(),
        Some(&a.to_owned()),
        "from is inclusive"
    );
    assert!(
        !ids(json!({ "closedAt": { "to": won_at } }))
            .await
            .contains(&a.to_owned()),
        "to is exclusive"
    );

    // An id of the wrong type in a filter is a bad argument.
    let (_, body) = app
        .post(
            Role::Admin,
            "query($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }",
            json!({ "f": { "accountId": ada } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

#[db_test]
async fn opportunities_ordered_by_amount_descending_page_across_two_pages(app: TestApp) {
    for (name, amount) in [
        ("Small", "100.50"),
        ("Tie A", "1500.10"),
        ("Huge", "75000.25"),
        ("Mid", "999.99"),
        ("Tie B", "1500.10"),
    ] {
        create(
            &app,
            Role::Admin,
            json!({ "name": name, "amount": usd(amount) }),
        )
        .await;
    }
    let page = |first: i32, after: Value| {
        let app = &app;
        async move {
            app.gql(Role::Sales, "query($first: Int, $after: String) { opportunities(first: $first, after: $after, orderBy: {field: AMOUNT, direction: DESC}) { totalCount edges { cursor node { name amount { amount } } } pageInfo { hasNextPage hasPreviousPage endCursor } } }", json!({ "first": first, "after": after }))
                .await["opportunities"]
                .clone()
        }
    };
    let rows = |p: &Value| -> Vec<(String, String)> {
        p["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["node"]["name"].as_str().unwrap().to_owned(),
                    e["node"]["amount"]["amount"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };

    // The first page ends between the two equal amounts.
    let first = page(2, json!(null)).await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let mut all = rows(&first);
    assert_eq!(all.len(), 2);
    let second = page(3, first["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(second["totalCount"], 5);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    all.extend(rows(&second));

    let amounts: Vec<&str> = all.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        amounts,
        ["75000.25", "1500.10", "1500.10", "999.99", "100.50"],
        "{all:?}"
    );
    let mut names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "Huge");
    assert_eq!(&names[3..], ["Mid", "Small"]);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5, "every opportunity exactly once: {all:?}");

    // Ascending is the mirror image.
    let data = app
        .gql(
            Role::Sales,
            "{ opportunities(orderBy: {field: AMOUNT}) { nodes { amount { amount } } } }",
            json!({}),
        )
        .await;
    let asc: Vec<&str> = data["opportunities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["amount"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(asc, ["100.50", "999.99", "1500.10", "1500.10", "75000.25"]);
}
