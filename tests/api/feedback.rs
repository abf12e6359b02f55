//! The closed loop: pipeline stage rules, closing a deal with its win/loss
//! feedback in one call, the feedback-missing queue, submitting and
//! updating feedback, who may write it and what REPORTING may read.

use entity::{
    change_log,
    enums::{ChangeOperation, ObjectType, Role},
    opportunity, stage_change, win_loss_feedback,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{TestApp, manual_clock};

const FEEDBACK: &str = "id outcome primaryReason secondaryReasons competitor { id name } objections leadFitRating notes author { id } lastEditedBy { id } version createdAt updatedAt opportunity { id stage }";

fn close_doc() -> String {
    format!(
        "mutation($i: CloseOpportunityInput!) {{ closeOpportunity(input: $i) {{ opportunity {{ id stage closedAt version feedbackMissing amount {{ amount }} }} winLossFeedback {{ {FEEDBACK} }} userErrors {{ field message code }} }} }}"
    )
}

fn submit_doc() -> String {
    format!(
        "mutation($i: SubmitWinLossFeedbackInput!) {{ submitWinLossFeedback(input: $i) {{ winLossFeedback {{ {FEEDBACK} }} userErrors {{ field message code }} }} }}"
    )
}

fn update_doc() -> String {
    format!(
        "mutation($i: UpdateWinLossFeedbackInput!) {{ updateWinLossFeedback(input: $i) {{ winLossFeedback {{ {FEEDBACK} }} userErrors {{ field message code }} }} }}"
    )
}

const MOVE: &str = "mutation($i: UpdateOpportunityInput!) { updateOpportunity(input: $i) { opportunity { id stage closedAt version } userErrors { field message code } } }";
const QUEUE: &str = "query($owner: ID!) { opportunities(filter: {feedbackMissing: true, ownerIds: [$owner]}) { totalCount nodes { id feedbackMissing } } }";

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

/// An opportunity owned by the SALES user (created by ADMIN), in `stage`.
async fn deal(app: &TestApp, name: &str, stage: &str) -> String {
    let data = app
        .gql(
            Role::Admin,
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } userErrors { message } } }",
            json!({ "i": { "name": name, "ownerId": app.user_gid(Role::Sales), "stage": stage, "amount": { "amount": "1000", "currency": "USD" } } }),
        )
        .await;
    data["createOpportunity"]["opportunity"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn competitor(app: &TestApp, name: &str) -> String {
    app.gql(
        Role::Sales,
        "mutation($n: String!) { createCompetitor(input: {name: $n}) { competitor { id } } }",
        json!({ "n": name }),
    )
    .await["createCompetitor"]["competitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn move_to(app: &TestApp, role: Role, id: &str, stage: &str) -> Value {
    app.gql(role, MOVE, json!({ "i": { "id": id, "stage": stage } }))
        .await["updateOpportunity"]
        .clone()
}

async fn submit(app: &TestApp, role: Role, input: Value) -> Value {
    app.gql(role, &submit_doc(), json!({ "i": input })).await["submitWinLossFeedback"].clone()
}

async fn feedback_rows(app: &TestApp) -> u64 {
    win_loss_feedback::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

async fn log_of(app: &TestApp, object: ObjectType) -> Vec<change_log::Model> {
    change_log::Entity::find()
        .filter(change_log::Column::ObjectType.eq(object))
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

fn fields_of(entry: &change_log::Model) -> Vec<String> {
    let mut f: Vec<String> = serde_json::from_value(entry.changed_fields.clone().unwrap()).unwrap();
    f.sort();
    f
}

#[db_test]
async fn closing_with_feedback_writes_the_stage_and_the_feedback_in_one_call(app: TestApp) {
    let id = deal(&app, "Acme", "NEGOTIATION").await;
    let rival = competitor(&app, "Rival").await;
    let data = app
        .gql(Role::Sales, &close_doc(), json!({ "i": { "id": id, "expectedVersion": 1, "outcome": "LOST", "amount": { "amount": "900", "currency": "USD" }, "feedback": {
            "primaryReason": "PRICE", "secondaryReasons": ["TIMING", "COMPETITOR", "TIMING"], "competitorId": rival,
            "objections": ["  Too   Expensive ", "too expensive", "no SSO"], "leadFitRating": 2, "notes": "They went with Rival." } } }))
        .await;
    let p = &data["closeOpportunity"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let o = &p["opportunity"];
    assert_eq!(o["stage"], "CLOSED_LOST");
    assert!(o["closedAt"].is_string());
    assert_eq!(o["version"], 2);
    assert_eq!(o["amount"]["amount"], "900.00");
    assert_eq!(o["feedbackMissing"], false);
    let f = &p["winLossFeedback"];
    assert_eq!(f["outcome"], "LOST");
    assert_eq!(f["primaryReason"], "PRICE");
    assert_eq!(f["secondaryReasons"], json!(["TIMING", "COMPETITOR"]));
    assert_eq!(f["competitor"]["id"], rival);
    assert_eq!(f["objections"], json!(["too-expensive", "no-sso"]));
    assert_eq!(f["leadFitRating"], 2);
    assert_eq!(f["notes"], "They went with Rival.");
    assert_eq!(f["author"]["id"], app.user_gid(Role::Sales));
    assert_eq!(f["lastEditedBy"], json!(null));
    assert_eq!(f["version"], 1);

    // The same from the opportunity's side, with the stage history.
    let data = app
        .gql(Role::Marketing, "query($id: ID!) { node(id: $id) { ... on Opportunity { feedback { id } stageHistory { opportunityId from to actor { id } reason } } } }", json!({ "id": id }))
        .await;
    assert_eq!(data["node"]["feedback"]["id"], f["id"]);
    let last = data["node"]["stageHistory"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last,
        json!({ "opportunityId": id, "from": "NEGOTIATION", "to": "CLOSED_LOST", "actor": { "id": app.user_gid(Role::Sales) }, "reason": "PRICE" })
    );

    // One change-log entry each, by the closer.
    let deal_log = log_of(&app, ObjectType::Opportunity).await;
    assert_eq!(deal_log.len(), 2);
    assert_eq!(
        fields_of(&deal_log[1]),
        ["amount", "closedAt", "stage", "stageEnteredAt"]
    );
    let fb_log = log_of(&app, ObjectType::WinLossFeedback).await;
    assert_eq!(fb_log.len(), 1);
    assert_eq!(fb_log[0].operation, ChangeOperation::Upsert);
    assert_eq!(fb_log[0].actor_id, Some(app.user_id(Role::Sales)));
    assert_eq!(fb_log[0].object_id, uuid_of(f["id"].as_str().unwrap()));
}

#[db_test]
async fn closing_with_invalid_feedback_or_amount_writes_nothing(app: TestApp) {
    let id = deal(&app, "Acme", "PROPOSAL").await;
    let data = app
        .gql(Role::Sales, &close_doc(), json!({ "i": { "id": id, "outcome": "WON", "amount": { "amount": "-5", "currency": "USD" }, "feedback": {
            "primaryReason": "PRICE", "secondaryReasons": ["PRICE"], "competitorId": ghost("Competitor"),
            "objections": ["x".repeat(51)], "leadFitRating": 6 } } }))
        .await;
    let p = &data["closeOpportunity"];
    assert_eq!(p["opportunity"], json!(null));
    assert_eq!(p["winLossFeedback"], json!(null));
    let mut fields: Vec<String> = p["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"][1].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "amount.amount",
            "feedback.competitorId",
            "feedback.leadFitRating",
            "feedback.objections",
            "feedback.secondaryReasons"
        ],
        "{p}"
    );

    // Nothing written: the deal is as it was, no feedback, no stage change, no log.
    let row = opportunity::Entity::find_by_id(uuid_of(&id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.stage.as_str(), row.version, row.closed_at),
        ("PROPOSAL", 1, None)
    );
    assert_eq!(feedback_rows(&app).await, 0);
    let changes = stage_change::Entity::find()
        .filter(stage_change::Column::SubjectId.eq(uuid_of(&id)))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(changes, 1, "only the creation");
    assert_eq!(log_of(&app, ObjectType::Opportunity).await.len(), 1);
    assert!(log_of(&app, ObjectType::WinLossFeedback).await.is_empty());

    // A closed deal is not closed again.
    move_to(&app, Role::Sales, &id, "CLOSED_WON").await;
    let data = app.gql(Role::Sales, &close_doc(), json!({ "i": { "id": id, "outcome": "WON", "feedback": { "primaryReason": "PRODUCT_FIT" } } })).await;
    let e = &data["closeOpportunity"]["userErrors"][0];
    assert_eq!(e["field"], json!(["input", "outcome"]));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("submitWinLossFeedback"),
        "{e}"
    );
    assert_eq!(feedback_rows(&app).await, 0);
}

#[db_test]
async fn a_deal_closed_without_feedback_waits_in_its_owners_queue_until_feedback_comes(
    app: TestApp,
) {
    let synced = deal(&app, "Synced win", "PROPOSAL").await;
    let open = deal(&app, "Still open", "PROPOSAL").await;
    // A sync job closes it with no feedback: allowed.
    let p = move_to(&app, Role::Integration, &synced, "CLOSED_WON").await;
    assert_eq!(p["userErrors"], json!([]));
    // Someone else's closed deal is in their queue, not SALES'.
    let admins = app
        .gql(Role::Admin, "mutation { createOpportunity(input: {name: \"Admin's\", stage: CLOSED_LOST, amount: {amount: \"1\", currency: \"USD\"}}) { opportunity { id } } }", json!({}))
        .await["createOpportunity"]["opportunity"]["id"].as_str().unwrap().to_owned();

    let data = app
        .gql(
            Role::Sales,
            QUEUE,
            json!({ "owner": app.user_gid(Role::Sales) }),
        )
        .await;
    assert_eq!(
        data["opportunities"]["nodes"],
        json!([{ "id": synced, "feedbackMissing": true }])
    );
    let data = app
        .gql(
            Role::Admin,
            "{ opportunities(filter: {feedbackMissing: true}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["opportunities"]["totalCount"], 2,
        "both closed deals lack feedback"
    );
    let data = app
        .gql(
            Role::Admin,
            "{ opportunities(filter: {feedbackMissing: false}) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["opportunities"]["nodes"], json!([{ "id": open }]));
    let _ = admins;

    let p = submit(&app, Role::Sales, json!({ "opportunityId": synced, "outcome": "WON", "primaryReason": "PRODUCT_FIT", "leadFitRating": 5 })).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let data = app
        .gql(
            Role::Sales,
            QUEUE,
            json!({ "owner": app.user_gid(Role::Sales) }),
        )
        .await;
    assert_eq!(
        data["opportunities"]["totalCount"], 0,
        "gone once the feedback is in"
    );

    // Reopened and closed the other way, the old feedback no longer
    // matches: back in the queue until it is updated.
    move_to(&app, Role::Admin, &synced, "NEGOTIATION").await;
    move_to(&app, Role::Sales, &synced, "CLOSED_LOST").await;
    let data = app
        .gql(
            Role::Sales,
            QUEUE,
            json!({ "owner": app.user_gid(Role::Sales) }),
        )
        .await;
    assert_eq!(data["opportunities"]["totalCount"], 1);
    let fid = p["winLossFeedback"]["id"].clone();
    let data = app
        .gql(
            Role::Sales,
            &update_doc(),
            json!({ "i": { "id": fid, "outcome": "LOST", "primaryReason": "TIMING" } }),
        )
        .await;
    assert_eq!(data["updateWinLossFeedback"]["userErrors"], json!([]));
    let data = app
        .gql(
            Role::Sales,
            QUEUE,
            json!({ "owner": app.user_gid(Role::Sales) }),
        )
        .await;
    assert_eq!(data["opportunities"]["totalCount"], 0);
}

#[db_test]
async fn feedback_on_an_open_deal_with_the_wrong_outcome_or_twice_is_refused(app: TestApp) {
    let open = deal(&app, "Open", "DISCOVERY").await;
    let p = submit(
        &app,
        Role::Sales,
        json!({ "opportunityId": open, "outcome": "WON", "primaryReason": "PRICE" }),
    )
    .await;
    assert_eq!(
        p["userErrors"][0]["field"],
        json!(["input", "opportunityId"])
    );
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("closeOpportunity")
    );

    let won = deal(&app, "Won", "CLOSED_WON").await;
    let p = submit(
        &app,
        Role::Sales,
        json!({ "opportunityId": won, "outcome": "LOST", "primaryReason": "PRICE" }),
    )
    .await;
    assert_eq!(p["userErrors"][0]["field"], json!(["input", "outcome"]));
    let p = submit(&app, Role::Sales, json!({ "opportunityId": ghost("Opportunity"), "outcome": "WON", "primaryReason": "PRICE" })).await;
    assert_eq!(p["userErrors"][0]["code"], "NOT_FOUND");
    assert_eq!(feedback_rows(&app).await, 0);

    let p = submit(
        &app,
        Role::Sales,
        json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "PRODUCT_FIT" }),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]));
    let p = submit(
        &app,
        Role::Admin,
        json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "PRICE" }),
    )
    .await;
    assert_eq!(p["userErrors"][0]["code"], "TAKEN");
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("updateWinLossFeedback")
    );
    assert_eq!(feedback_rows(&app).await, 1);
    assert_eq!(log_of(&app, ObjectType::WinLossFeedback).await.len(), 1);
}

#[db_test(with = manual_clock)]
async fn updating_feedback_keeps_its_author_and_records_who_changed_it(app: TestApp) {
    let won = deal(&app, "Won", "CLOSED_WON").await;
    let rival = competitor(&app, "Rival").await;
    let p = submit(&app, Role::Sales, json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "PRODUCT_FIT", "secondaryReasons": ["TIMING"], "competitorId": rival, "notes": "n" })).await;
    let f = p["winLossFeedback"].clone();
    let id = f["id"].as_str().unwrap().to_owned();

    app.clock().advance(std::time::Duration::from_secs(1));
    let data = app.gql(Role::Admin, &update_doc(), json!({ "i": { "id": id, "expectedVersion": 1, "leadFitRating": 4, "competitorId": null, "objections": ["Legal review"] } })).await;
    let p = &data["updateWinLossFeedback"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let g = &p["winLossFeedback"];
    assert_eq!(g["version"], 2);
    assert_eq!(
        g["author"]["id"],
        app.user_gid(Role::Sales),
        "the author stays"
    );
    assert_eq!(g["lastEditedBy"]["id"], app.user_gid(Role::Admin));
    assert!(g["updatedAt"].as_str() > f["updatedAt"].as_str());
    assert_eq!(g["competitor"], json!(null));
    assert_eq!(g["objections"], json!(["legal-review"]));
    assert_eq!(g["leadFitRating"], 4);
    assert_eq!(
        g["secondaryReasons"],
        json!(["TIMING"]),
        "untouched fields stay"
    );
    let log = log_of(&app, ObjectType::WinLossFeedback).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].actor_id, Some(app.user_id(Role::Admin)));
    assert_eq!(
        fields_of(&log[1]),
        [
            "competitorId",
            "lastEditedById",
            "leadFitRating",
            "objections"
        ]
    );

    // A stale version is a CONFLICT; bad values are user errors; neither writes.
    let code = app
        .error_code(
            Role::Sales,
            &update_doc(),
            json!({ "i": { "id": id, "expectedVersion": 1, "notes": "x" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    for (input, field) in [
        (json!({ "id": id, "outcome": "LOST" }), "outcome"),
        (
            json!({ "id": id, "primaryReason": "TIMING" }),
            "secondaryReasons",
        ),
        (json!({ "id": id, "leadFitRating": 0 }), "leadFitRating"),
        (
            json!({ "id": id, "competitorId": ghost("Competitor") }),
            "competitorId",
        ),
    ] {
        let data = app
            .gql(Role::Sales, &update_doc(), json!({ "i": input }))
            .await;
        assert_eq!(
            data["updateWinLossFeedback"]["userErrors"][0]["field"],
            json!(["input", field]),
            "{input}"
        );
    }
    // A no-op update changes nothing, editor included.
    let data = app
        .gql(
            Role::Sales,
            &update_doc(),
            json!({ "i": { "id": id, "leadFitRating": 4 } }),
        )
        .await;
    assert_eq!(
        data["updateWinLossFeedback"]["winLossFeedback"]["version"],
        2
    );
    assert_eq!(
        data["updateWinLossFeedback"]["winLossFeedback"]["lastEditedBy"]["id"],
        app.user_gid(Role::Admin)
    );
    assert_eq!(log_of(&app, ObjectType::WinLossFeedback).await.len(), 2);
}

#[db_test]
async fn open_stages_move_freely_but_closed_deals_reopen_only_for_admin_and_sync(app: TestApp) {
    let id = deal(&app, "Deal", "DISCOVERY").await;
    for stage in ["NEGOTIATION", "QUALIFICATION", "CLOSED_WON"] {
        let p = move_to(&app, Role::Sales, &id, stage).await;
        assert_eq!(p["userErrors"], json!([]), "{stage}: {p}");
    }
    // SALES may not reopen.
    let p = move_to(&app, Role::Sales, &id, "NEGOTIATION").await;
    let e = &p["userErrors"][0];
    assert_eq!(e["field"], json!(["input", "stage"]));
    assert_eq!(e["code"], "INVALID");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("allowed from CLOSED_WON: none"),
        "{e}"
    );
    // Nobody flips WON and LOST directly; the error names the allowed stages.
    for role in [Role::Admin, Role::Integration, Role::Sales] {
        let p = move_to(&app, role, &id, "CLOSED_LOST").await;
        assert_eq!(p["opportunity"], json!(null));
        assert_eq!(p["userErrors"][0]["field"], json!(["input", "stage"]));
    }
    let p = move_to(&app, Role::Admin, &id, "CLOSED_LOST").await;
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("allowed from CLOSED_WON: DISCOVERY, QUALIFICATION, PROPOSAL, NEGOTIATION"),
        "{p}"
    );
    let row = opportunity::Entity::find_by_id(uuid_of(&id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.stage.as_str(), row.version),
        ("CLOSED_WON", 4),
        "refused moves write nothing"
    );

    // ADMIN reopens; the history reads as typed stages.
    let p = move_to(&app, Role::Admin, &id, "PROPOSAL").await;
    assert_eq!(p["opportunity"]["closedAt"], json!(null));
    let data = app
        .gql(
            Role::Leadership,
            "query($id: ID!) { node(id: $id) { ... on Opportunity { stageHistory { from to } } } }",
            json!({ "id": id }),
        )
        .await;
    let moves: Vec<_> = data["node"]["stageHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].clone(), c["to"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        moves,
        [
            (json!(null), "DISCOVERY".to_owned()),
            (json!("DISCOVERY"), "NEGOTIATION".to_owned()),
            (json!("NEGOTIATION"), "QUALIFICATION".to_owned()),
            (json!("QUALIFICATION"), "CLOSED_WON".to_owned()),
            (json!("CLOSED_WON"), "PROPOSAL".to_owned()),
        ]
    );
}

#[db_test]
async fn marketing_reads_the_loop_but_cannot_write_feedback_or_move_stages(app: TestApp) {
    let won = deal(&app, "Won", "CLOSED_WON").await;
    let open = deal(&app, "Open", "PROPOSAL").await;
    let p = submit(&app, Role::Sales, json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "RELATIONSHIP", "notes": "met at the event" })).await;
    let fid = p["winLossFeedback"]["id"].clone();
    for role in [Role::Marketing, Role::Leadership, Role::Reporting] {
        let code = app.error_code(role, &submit_doc(), json!({ "i": { "opportunityId": won, "outcome": "WON", "primaryReason": "PRICE" } })).await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(
                role,
                &update_doc(),
                json!({ "i": { "id": fid, "notes": "x" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app.error_code(role, &close_doc(), json!({ "i": { "id": open, "outcome": "LOST", "feedback": { "primaryReason": "PRICE" } } })).await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(
                role,
                MOVE,
                json!({ "i": { "id": open, "stage": "NEGOTIATION" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
    }
    let row = opportunity::Entity::find_by_id(uuid_of(&open))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.stage.as_str(), row.version), ("PROPOSAL", 1));
    assert_eq!(log_of(&app, ObjectType::WinLossFeedback).await.len(), 1);

    let data = app.gql(Role::Marketing, "{ winLossFeedback { totalCount nodes { outcome primaryReason notes author { name } opportunity { name } } } }", json!({})).await;
    assert_eq!(data["winLossFeedback"]["totalCount"], 1);
    assert_eq!(
        data["winLossFeedback"]["nodes"][0]["notes"],
        "met at the event"
    );
    assert_eq!(
        data["winLossFeedback"]["nodes"][0]["author"]["name"],
        "SALES User"
    );
    assert_eq!(
        data["winLossFeedback"]["nodes"][0]["opportunity"]["name"],
        "Won"
    );
}

#[db_test]
async fn sales_writes_feedback_only_on_deals_it_owns(app: TestApp) {
    let theirs = app
        .gql(Role::Admin, "mutation { createOpportunity(input: {name: \"Theirs\", stage: CLOSED_LOST, amount: {amount: \"1\", currency: \"USD\"}}) { opportunity { id } } }", json!({}))
        .await["createOpportunity"]["opportunity"]["id"].as_str().unwrap().to_owned();
    let code = app.error_code(Role::Sales, &submit_doc(), json!({ "i": { "opportunityId": theirs, "outcome": "LOST", "primaryReason": "PRICE" } })).await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    let p = submit(
        &app,
        Role::Integration,
        json!({ "opportunityId": theirs, "outcome": "LOST", "primaryReason": "PRICE" }),
    )
    .await;
    let code = app
        .error_code(
            Role::Sales,
            &update_doc(),
            json!({ "i": { "id": p["winLossFeedback"]["id"], "notes": "mine now" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    let open = app
        .gql(Role::Admin, "mutation { createOpportunity(input: {name: \"Open theirs\", amount: {amount: \"1\", currency: \"USD\"}}) { opportunity { id } } }", json!({}))
        .await["createOpportunity"]["opportunity"]["id"].as_str().unwrap().to_owned();
    let code = app.error_code(Role::Sales, &close_doc(), json!({ "i": { "id": open, "outcome": "WON", "feedback": { "primaryReason": "PRICE" } } })).await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    assert_eq!(feedback_rows(&app).await, 1);
}

#[db_test]
async fn reporting_reads_feedback_aggregates_without_notes_or_author_names(app: TestApp) {
    let won = deal(&app, "Won", "CLOSED_WON").await;
    submit(&app, Role::Sales, json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "PRODUCT_FIT", "notes": "Call Jane Roe on her mobile" })).await;
    let data = app.gql(Role::Reporting, "{ winLossFeedback { totalCount nodes { id outcome primaryReason objections leadFitRating } } }", json!({})).await;
    assert_eq!(data["winLossFeedback"]["totalCount"], 1);
    let fid = data["winLossFeedback"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for document in [
        "{ winLossFeedback { nodes { notes } } }".to_owned(),
        "{ winLossFeedback { nodes { author { name } } } }".to_owned(),
        "{ winLossFeedback { nodes { lastEditedBy { email } } } }".to_owned(),
        format!(
            "{{ node(id: \"{fid}\") {{ ... on WinLossFeedback {{ notes author {{ name }} }} }} }}"
        ),
        format!("{{ node(id: \"{won}\") {{ ... on Opportunity {{ feedback {{ notes }} }} }} }}"),
        "{ opportunities { nodes { feedback { ...F } } } } fragment F on WinLossFeedback { notes }"
            .to_owned(),
    ] {
        let (status, body) = app.post(Role::Reporting, &document, json!({})).await;
        assert_eq!(status, 200);
        let text = body.to_string();
        assert!(
            !text.contains("Jane Roe") && !text.contains("SALES User"),
            "{document}: {text}"
        );
        if !document.contains("lastEditedBy") {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{document}: {body}"
            );
        }
    }
}

#[db_test]
async fn objections_are_tags_and_free_text_is_refused_by_every_mutation_that_writes_them(
    app: TestApp,
) {
    let hostile = json!(["price", "Ceo jane.doe@acme.example said no"]);
    let expect_refused = |payload: &Value, field: &str| {
        let errors = payload["userErrors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{payload}");
        assert_eq!(errors[0]["field"][1], field, "{payload}");
        assert_eq!(errors[0]["code"], "INVALID", "{payload}");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .starts_with("objection 2 is not a tag"),
            "{payload}"
        );
        assert!(
            !payload.to_string().contains("jane.doe"),
            "the text is not echoed: {payload}"
        );
    };

    // closeOpportunity
    let a = deal(&app, "A", "NEGOTIATION").await;
    let data = app.gql(Role::Sales, &close_doc(), json!({ "i": { "id": a, "outcome": "LOST", "feedback": { "primaryReason": "PRICE", "objections": hostile } } })).await;
    expect_refused(&data["closeOpportunity"], "feedback.objections");

    // submitWinLossFeedback
    let b = deal(&app, "B", "CLOSED_LOST").await;
    let p = submit(&app, Role::Sales, json!({ "opportunityId": b, "outcome": "LOST", "primaryReason": "PRICE", "objections": hostile })).await;
    expect_refused(&p, "objections");
    assert_eq!(feedback_rows(&app).await, 0);

    // updateWinLossFeedback
    let p = submit(&app, Role::Sales, json!({ "opportunityId": b, "outcome": "LOST", "primaryReason": "PRICE", "objections": ["No SSO", "contract_terms"] })).await;
    assert_eq!(
        p["winLossFeedback"]["objections"],
        json!(["no-sso", "contract-terms"]),
        "{p}"
    );
    let id = p["winLossFeedback"]["id"].clone();
    let data = app
        .gql(
            Role::Sales,
            &update_doc(),
            json!({ "i": { "id": id, "objections": hostile } }),
        )
        .await;
    expect_refused(&data["updateWinLossFeedback"], "objections");
    let stored = win_loss_feedback::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.objections, json!(["no-sso", "contract-terms"]));
}

#[db_test]
async fn objections_stored_as_free_text_before_tags_are_hidden_from_reporting(app: TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let won = deal(&app, "Won", "CLOSED_WON").await;
    let p = submit(
        &app,
        Role::Sales,
        json!({ "opportunityId": won, "outcome": "WON", "primaryReason": "PRODUCT_FIT" }),
    )
    .await;
    let fid = p["winLossFeedback"]["id"].as_str().unwrap().to_owned();
    // A row as the old rules let it be written.
    let mut row = win_loss_feedback::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.objections = Set(json!(["Too expensive", "bob@acme.example", "security"]));
    row.update(&app.db).await.unwrap();

    let list = "{ winLossFeedback { nodes { objections } } }".to_owned();
    let by_node =
        format!("{{ node(id: \"{fid}\") {{ ... on WinLossFeedback {{ objections }} }} }}");
    let by_fragment = format!(
        "{{ node(id: \"{won}\") {{ ...O }} }} fragment O on Opportunity {{ feedback {{ objections }} }}"
    );
    for (document, path) in [
        (&list, "/winLossFeedback/nodes/0/objections"),
        (&by_node, "/node/objections"),
        (&by_fragment, "/node/feedback/objections"),
    ] {
        let reporting = app.gql(Role::Reporting, document, json!({})).await;
        assert_eq!(
            reporting.pointer(path),
            Some(&json!(["too-expensive", "security"])),
            "{document}: {reporting}"
        );
        let sales = app.gql(Role::Sales, document, json!({})).await;
        assert_eq!(
            sales.pointer(path),
            Some(&json!(["too-expensive", "bob@acme.example", "security"])),
            "{document}: {sales}"
        );
    }
}

#[db_test]
async fn the_feedback_list_filters_by_outcome_reason_competitor_and_closed_period(app: TestApp) {
    let rival = competitor(&app, "Rival").await;
    let a = deal(&app, "A", "CLOSED_WON").await;
    let b = deal(&app, "B", "CLOSED_LOST").await;
    let c = deal(&app, "C", "CLOSED_LOST").await;
    submit(&app, Role::Sales, json!({ "opportunityId": a, "outcome": "WON", "primaryReason": "PRODUCT_FIT", "secondaryReasons": ["PRICE"] })).await;
    submit(&app, Role::Sales, json!({ "opportunityId": b, "outcome": "LOST", "primaryReason": "PRICE", "competitorId": rival })).await;
    submit(&app, Role::Sales, json!({ "opportunityId": c, "outcome": "LOST", "primaryReason": "TIMING", "secondaryReasons": ["NO_DECISION"] })).await;
    let list = |filter: Value| {
        let app = &app;
        async move {
            let data = app.gql(Role::Marketing, "query($f: WinLossFeedbackFilter) { winLossFeedback(filter: $f) { totalCount nodes { opportunity { name } } } }", json!({ "f": filter })).await;
            let mut names: Vec<String> = data["winLossFeedback"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["opportunity"]["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(list(json!({})).await, ["A", "B", "C"]);
    assert_eq!(list(json!({ "outcomes": ["LOST"] })).await, ["B", "C"]);
    assert_eq!(list(json!({ "primaryReasons": ["PRICE"] })).await, ["B"]);
    assert_eq!(
        list(json!({ "reasons": ["PRICE"] })).await,
        ["A", "B"],
        "primary or secondary"
    );
    assert_eq!(list(json!({ "reasons": ["NO_DECISION"] })).await, ["C"]);
    assert_eq!(list(json!({ "competitorIds": [rival] })).await, ["B"]);
    assert_eq!(
        list(json!({ "ownerIds": [app.user_gid(Role::Sales)], "outcomes": ["WON"] })).await,
        ["A"]
    );
    assert_eq!(
        list(json!({ "closedAt": { "from": "2000-01-01T00:00:00Z" } })).await,
        ["A", "B", "C"]
    );
    assert_eq!(
        list(json!({ "closedAt": { "to": "2000-01-01T00:00:00Z" } })).await,
        Vec::<String>::new()
    );
    // Feedback of a deleted deal leaves the list.
    app.gql(
        Role::Admin,
        "mutation($id: ID!) { deleteOpportunity(input: {id: $id}) { deletedOpportunityId } }",
        json!({ "id": c }),
    )
    .await;
    assert_eq!(list(json!({ "outcomes": ["LOST"] })).await, ["B"]);
}

#[db_test]
async fn the_reasons_filter_takes_a_list_that_repeats_its_values(app: TestApp) {
    // 1,001 items were 1,001 nested LIKEs: past SQLite's expression
    // depth limit, an INTERNAL error.
    let a = deal(&app, "A", "CLOSED_WON").await;
    submit(&app, Role::Sales, json!({ "opportunityId": a, "outcome": "WON", "primaryReason": "PRODUCT_FIT", "secondaryReasons": ["PRICE"] })).await;
    let reasons: Vec<&str> = ["TIMING", "PRICE"].into_iter().cycle().take(1001).collect();
    let data = app
        .gql(
            Role::Marketing,
            "query($f: WinLossFeedbackFilter) { winLossFeedback(filter: $f) { totalCount } }",
            json!({ "f": { "reasons": reasons } }),
        )
        .await;
    assert_eq!(data["winLossFeedback"]["totalCount"], 1);
}
