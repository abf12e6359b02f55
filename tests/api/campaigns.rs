//! Campaigns: create, read, update, delete, validation, filters, ordering,
//! the leads a campaign sourced, and who may write them.

use entity::{
    campaign, change_log,
    enums::{ChangeOperation, ObjectType, Role},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const CREATE: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id name channel objective status startsOn endsOn budget { amount currency } owner { id } version } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { id name channel objective status startsOn endsOn budget { amount currency } owner { id } version } userErrors { field message code } } }";
const DELETE: &str = "mutation($i: DeleteCampaignInput!) { deleteCampaign(input: $i) { deletedCampaignId userErrors { field message code } } }";
const READ: &str = "query($id: ID!) { node(id: $id) { ... on Campaign { id name channel objective status startsOn endsOn budget { amount currency } owner { id } version } } }";

/// Creates a campaign as MARKETING and returns its global id.
async fn create(app: &TestApp, input: Value) -> String {
    let data = app
        .gql(Role::Marketing, CREATE, json!({ "i": input }))
        .await;
    assert_eq!(data["createCampaign"]["userErrors"], json!([]), "{data}");
    data["createCampaign"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Names of the campaigns a filter and order select, in list order.
async fn names(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let data = app
        .gql(
            Role::Sales,
            "query($f: CampaignFilter, $o: CampaignOrder) { campaigns(filter: $f, orderBy: $o) { totalCount nodes { name } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let nodes = data["campaigns"]["nodes"].as_array().unwrap();
    assert_eq!(
        data["campaigns"]["totalCount"],
        nodes.len(),
        "totalCount disagrees with the page: {data}"
    );
    nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

#[db_test]
async fn a_campaign_is_created_with_every_field_and_a_planned_status(app: TestApp) {
    let owner = app.user_gid(Role::Marketing);
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": {
            "name": "  Spring Webinar Series ", "channel": "WEBINAR", "objective": "CONVERSION",
            "startsOn": "2026-03-01", "endsOn": "2026-05-31",
            "budget": { "amount": "5000", "currency": "eur" }, "ownerId": owner
        } }),
        )
        .await;
    assert_eq!(data["createCampaign"]["userErrors"], json!([]));
    let c = &data["createCampaign"]["campaign"];
    assert_eq!(c["name"], "Spring Webinar Series");
    assert_eq!(c["channel"], "WEBINAR");
    assert_eq!(c["objective"], "CONVERSION");
    assert_eq!(
        c["status"], "PLANNED",
        "a campaign created without a status is PLANNED"
    );
    assert_eq!(c["startsOn"], "2026-03-01");
    assert_eq!(c["endsOn"], "2026-05-31");
    assert_eq!(
        c["budget"],
        json!({ "amount": "5000.00", "currency": "EUR" })
    );
    assert_eq!(c["owner"]["id"], owner);
    assert_eq!(c["version"], 1);

    // Read back by another role, through `node`, it is the same.
    let id = c["id"].as_str().unwrap();
    let read = app.gql(Role::Leadership, READ, json!({ "id": id })).await;
    assert_eq!(&read["node"], c);

    // A given status is kept; a campaign without a budget has none.
    let data = app
        .gql(
            Role::Integration,
            CREATE,
            json!({ "i": {
            "name": "Always-on search", "channel": "PAID_SEARCH", "objective": "AWARENESS",
            "status": "ACTIVE", "startsOn": "2026-01-01"
        } }),
        )
        .await;
    let c = &data["createCampaign"]["campaign"];
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["endsOn"], json!(null));
    assert_eq!(c["budget"], json!(null));
    assert_eq!(c["owner"], json!(null));

    let log = change_log::Entity::find()
        .filter(change_log::Column::ObjectType.eq(ObjectType::Campaign))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].actor_id, Some(app.user_id(Role::Marketing)));
}

#[db_test]
async fn an_update_changes_only_the_given_fields_null_clears_and_the_version_goes_up(app: TestApp) {
    let owner = app.user_gid(Role::Marketing);
    let id = create(
        &app,
        json!({
            "name": "Q2 Event", "channel": "EVENT", "objective": "CONSIDERATION",
            "startsOn": "2026-04-01", "endsOn": "2026-04-03",
            "budget": { "amount": "12000.5", "currency": "USD" }, "ownerId": owner
        }),
    )
    .await;

    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 1, "status": "ACTIVE", "endsOn": null } }),
        )
        .await;
    assert_eq!(data["updateCampaign"]["userErrors"], json!([]));
    let c = &data["updateCampaign"]["campaign"];
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["endsOn"], json!(null), "null clears endsOn");
    assert_eq!(c["name"], "Q2 Event", "fields not given stay as they were");
    assert_eq!(c["channel"], "EVENT");
    assert_eq!(c["objective"], "CONSIDERATION");
    assert_eq!(c["startsOn"], "2026-04-01");
    assert_eq!(
        c["budget"],
        json!({ "amount": "12000.50", "currency": "USD" })
    );
    assert_eq!(c["owner"]["id"], owner);
    assert_eq!(c["version"], 2);

    let data = app
        .gql(Role::Admin, UPDATE, json!({ "i": { "id": id, "expectedVersion": 2, "name": "Q2 Roadshow", "budget": { "amount": "8000.25", "currency": "gbp" }, "ownerId": null } }))
        .await;
    let c = &data["updateCampaign"]["campaign"];
    assert_eq!(c["name"], "Q2 Roadshow");
    assert_eq!(
        c["budget"],
        json!({ "amount": "8000.25", "currency": "GBP" })
    );
    assert_eq!(c["owner"], json!(null), "null clears the owner");
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["version"], 3);

    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "budget": null } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["campaign"]["budget"],
        json!(null),
        "null clears the budget"
    );
    assert_eq!(data["updateCampaign"]["campaign"]["version"], 4);

    // The changed fields are in the change log.
    let log = change_log::Entity::find()
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let mut fields: Vec<String> =
        serde_json::from_value(log[1].changed_fields.clone().unwrap()).unwrap();
    fields.sort();
    assert_eq!(fields, ["endsOn", "status"]);
    assert_eq!(log[1].actor_id, Some(app.user_id(Role::Marketing)));

    // An update that changes nothing keeps the version.
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "name": "Q2 Roadshow", "status": "ACTIVE" } }),
        )
        .await;
    assert_eq!(data["updateCampaign"]["campaign"]["version"], 4);
    assert_eq!(change_log::Entity::find().count(&app.db).await.unwrap(), 4);
}

#[db_test]
async fn a_deleted_campaign_disappears_from_lists_and_lookups_but_its_leads_stay(app: TestApp) {
    let keep = create(&app, json!({ "name": "Keep", "channel": "EMAIL", "objective": "CONVERSION", "startsOn": "2026-01-01" })).await;
    let gone = create(&app, json!({ "name": "Gone", "channel": "EMAIL", "objective": "CONVERSION", "startsOn": "2026-01-01" })).await;
    let lead = app
        .create_lead("sourced@example.com", json!({ "sourceCampaignId": gone }))
        .await;

    let data = app
        .gql(
            Role::Marketing,
            DELETE,
            json!({ "i": { "id": gone, "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(data["deleteCampaign"]["deletedCampaignId"], gone);
    assert_eq!(data["deleteCampaign"]["userErrors"], json!([]));

    let data = app
        .gql(Role::Admin, "query($ids: [ID!]!, $gone: ID!) { campaigns { totalCount nodes { id } } node(id: $gone) { id } nodes(ids: $ids) { id } }", json!({ "ids": [keep, gone], "gone": gone }))
        .await;
    assert_eq!(data["campaigns"]["totalCount"], 1);
    assert_eq!(data["campaigns"]["nodes"], json!([{ "id": keep }]));
    assert_eq!(data["node"], json!(null));
    assert_eq!(data["nodes"], json!([{ "id": keep }, null]));

    let data = app
        .gql(
            Role::Admin,
            "query($id: ID!) { node(id: $id) { ... on Lead { email } } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(
        data["node"]["email"], "sourced@example.com",
        "the campaign's lead keeps existing"
    );

    // A tombstone in the change log; deleting again or editing it is NOT_FOUND.
    let last = change_log::Entity::find()
        .order_by_desc(change_log::Column::Seq)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (last.object_type, last.operation),
        (ObjectType::Campaign, ChangeOperation::Delete)
    );
    let code = app
        .error_code(Role::Marketing, DELETE, json!({ "i": { "id": gone } }))
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
    let code = app
        .error_code(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": gone, "name": "Back" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
}

#[db_test]
async fn invalid_campaign_input_names_every_field_and_writes_nothing(app: TestApp) {
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": {
            "name": "   ", "channel": "EVENT", "objective": "AWARENESS",
            "startsOn": "2026-03-10", "endsOn": "2026-03-01",
            "budget": { "amount": "-100", "currency": "USD" }
        } }),
        )
        .await;
    assert_eq!(data["createCampaign"]["campaign"], json!(null));
    let errors = data["createCampaign"]["userErrors"].as_array().unwrap();
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e["field"].clone(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            (json!(["input", "name"]), "REQUIRED"),
            (json!(["input", "endsOn"]), "OUT_OF_RANGE"),
            (json!(["input", "budget.amount"]), "OUT_OF_RANGE"),
        ],
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| !e["message"].as_str().unwrap().is_empty())
    );
    assert_eq!(campaign::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(change_log::Entity::find().count(&app.db).await.unwrap(), 0);

    // On an update, an end before the stored start is refused too, and
    // nothing changes.
    let id = create(&app, json!({ "name": "Valid", "channel": "EVENT", "objective": "AWARENESS", "startsOn": "2026-03-10" })).await;
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "name": "Renamed", "endsOn": "2026-03-09" } }),
        )
        .await;
    assert_eq!(data["updateCampaign"]["campaign"], json!(null));
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["field"],
        json!(["input", "endsOn"])
    );
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["code"],
        "OUT_OF_RANGE"
    );
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "startsOn": "2026-04-01", "endsOn": "2026-03-31" } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["userErrors"][0]["field"],
        json!(["input", "endsOn"])
    );
    let read = app.gql(Role::Admin, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["name"], "Valid");
    assert_eq!(read["node"]["startsOn"], "2026-03-10");
    assert_eq!(read["node"]["endsOn"], json!(null));
    assert_eq!(read["node"]["version"], 1);

    // An end on the start day is fine.
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "endsOn": "2026-03-10" } }),
        )
        .await;
    assert_eq!(data["updateCampaign"]["userErrors"], json!([]));
    assert_eq!(data["updateCampaign"]["campaign"]["endsOn"], "2026-03-10");
}

#[db_test]
async fn campaigns_filter_by_channel_objective_status_active_day_and_name(app: TestApp) {
    let marketing = app.user_gid(Role::Marketing);
    create(&app, json!({ "name": "Spring Webinar", "channel": "WEBINAR", "objective": "CONVERSION", "status": "ACTIVE", "startsOn": "2026-03-01", "endsOn": "2026-03-31", "ownerId": marketing })).await;
    create(&app, json!({ "name": "Summer Search", "channel": "PAID_SEARCH", "objective": "AWARENESS", "startsOn": "2026-06-01" })).await;
    create(&app, json!({ "name": "Autumn Event", "channel": "EVENT", "objective": "CONSIDERATION", "status": "COMPLETED", "startsOn": "2025-09-01", "endsOn": "2025-09-30" })).await;
    create(&app, json!({ "name": "Winter Webinar", "channel": "WEBINAR", "objective": "AWARENESS", "status": "PAUSED", "startsOn": "2026-01-10", "endsOn": "2026-02-10", "ownerId": marketing })).await;
    let by_name = json!({ "field": "NAME" });
    let n = |filter: Value| names(&app, filter, by_name.clone());

    assert_eq!(
        n(json!(null)).await,
        [
            "Autumn Event",
            "Spring Webinar",
            "Summer Search",
            "Winter Webinar"
        ]
    );
    assert_eq!(
        n(json!({ "channels": ["WEBINAR"] })).await,
        ["Spring Webinar", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "channels": ["WEBINAR", "EVENT"] })).await,
        ["Autumn Event", "Spring Webinar", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "channels": ["REFERRAL"] })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        n(json!({ "objectives": ["AWARENESS"] })).await,
        ["Summer Search", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "statuses": ["PLANNED"] })).await,
        ["Summer Search"]
    );
    assert_eq!(
        n(json!({ "statuses": ["ACTIVE", "PAUSED"] })).await,
        ["Spring Webinar", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "ownerIds": [marketing] })).await,
        ["Spring Webinar", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "channels": ["WEBINAR"], "objectives": ["AWARENESS"] })).await,
        ["Winter Webinar"]
    );

    // activeOn: started on or before the day and not ended before it
    // (both ends inclusive); an open-ended campaign runs on.
    assert_eq!(
        n(json!({ "activeOn": "2026-03-15" })).await,
        ["Spring Webinar"]
    );
    assert_eq!(
        n(json!({ "activeOn": "2026-03-01" })).await,
        ["Spring Webinar"]
    );
    assert_eq!(
        n(json!({ "activeOn": "2026-03-31" })).await,
        ["Spring Webinar"]
    );
    assert_eq!(
        n(json!({ "activeOn": "2026-04-01" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        n(json!({ "activeOn": "2027-12-31" })).await,
        ["Summer Search"]
    );
    assert_eq!(
        n(json!({ "activeOn": "2026-02-10" })).await,
        ["Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "activeOn": "2025-01-01" })).await,
        Vec::<String>::new()
    );

    // search is a case-insensitive "contains" on the name.
    assert_eq!(
        n(json!({ "search": "webinar" })).await,
        ["Spring Webinar", "Winter Webinar"]
    );
    assert_eq!(
        n(json!({ "search": "  WINTER " })).await,
        ["Winter Webinar"]
    );
    assert_eq!(n(json!({ "search": "mer sea" })).await, ["Summer Search"]);
    assert_eq!(n(json!({ "search": "%" })).await, Vec::<String>::new());
    assert_eq!(
        n(json!({ "search": "webinar", "statuses": ["ACTIVE"] })).await,
        ["Spring Webinar"]
    );
}

#[db_test]
async fn campaigns_are_ordered_by_name_either_way(app: TestApp) {
    for name in ["Delta", "Alpha", "Charlie", "Echo", "Bravo"] {
        create(&app, json!({ "name": name, "channel": "CONTENT", "objective": "AWARENESS", "startsOn": "2026-01-01" })).await;
    }
    let asc = names(
        &app,
        json!(null),
        json!({ "field": "NAME", "direction": "ASC" }),
    )
    .await;
    assert_eq!(asc, ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]);
    let desc = names(
        &app,
        json!(null),
        json!({ "field": "NAME", "direction": "DESC" }),
    )
    .await;
    assert_eq!(desc, ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]);
    // The direction defaults to ascending.
    assert_eq!(
        names(&app, json!(null), json!({ "field": "NAME" })).await,
        asc
    );
    // By default the oldest comes first.
    assert_eq!(
        names(&app, json!(null), json!(null)).await,
        ["Delta", "Alpha", "Charlie", "Echo", "Bravo"]
    );

    // Pages in name order visit every campaign once.
    let page = app
        .gql(Role::Sales, "query($after: String) { campaigns(first: 3, after: $after, orderBy: {field: NAME, direction: DESC}) { nodes { name } pageInfo { hasNextPage endCursor } } }", json!({ "after": null }))
        .await;
    assert_eq!(
        page["campaigns"]["nodes"],
        json!([{ "name": "Echo" }, { "name": "Delta" }, { "name": "Charlie" }])
    );
    assert_eq!(page["campaigns"]["pageInfo"]["hasNextPage"], true);
    let page = app
        .gql(Role::Sales, "query($after: String) { campaigns(first: 3, after: $after, orderBy: {field: NAME, direction: DESC}) { nodes { name } pageInfo { hasNextPage endCursor } } }", json!({ "after": page["campaigns"]["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(
        page["campaigns"]["nodes"],
        json!([{ "name": "Bravo" }, { "name": "Alpha" }])
    );
    assert_eq!(page["campaigns"]["pageInfo"]["hasNextPage"], false);
}

#[db_test]
async fn a_campaign_lists_the_leads_it_sourced(app: TestApp) {
    let spring = create(&app, json!({ "name": "Spring", "channel": "WEBINAR", "objective": "CONVERSION", "startsOn": "2026-03-01" })).await;
    let summer = create(&app, json!({ "name": "Summer", "channel": "EMAIL", "objective": "CONVERSION", "startsOn": "2026-06-01" })).await;
    let empty = create(&app, json!({ "name": "Empty", "channel": "EMAIL", "objective": "AWARENESS", "startsOn": "2026-06-01" })).await;
    app.create_lead(
        "ada@example.com",
        json!({ "sourceCampaignId": spring, "source": "WEBINAR" }),
    )
    .await;
    app.create_lead(
        "bob@example.com",
        json!({ "sourceCampaignId": spring, "source": "WEBINAR" }),
    )
    .await;
    app.create_lead(
        "cy@example.com",
        json!({ "sourceCampaignId": summer, "source": "EMAIL" }),
    )
    .await;
    app.create_lead("dee@example.com", json!({})).await;

    let query = "query($id: ID!) { node(id: $id) { ... on Campaign { leads(orderBy: {field: CREATED_AT}) { totalCount nodes { email sourceCampaign { id } } } } } }";
    let data = app.gql(Role::Sales, query, json!({ "id": spring })).await;
    assert_eq!(data["node"]["leads"]["totalCount"], 2);
    assert_eq!(
        data["node"]["leads"]["nodes"],
        json!([
            { "email": "ada@example.com", "sourceCampaign": { "id": spring } },
            { "email": "bob@example.com", "sourceCampaign": { "id": spring } },
        ])
    );
    let data = app.gql(Role::Sales, query, json!({ "id": summer })).await;
    assert_eq!(data["node"]["leads"]["totalCount"], 1);
    assert_eq!(data["node"]["leads"]["nodes"][0]["email"], "cy@example.com");
    let data = app.gql(Role::Sales, query, json!({ "id": empty })).await;
    assert_eq!(data["node"]["leads"]["totalCount"], 0);

    // The nested list takes a filter too, and from the campaign list.
    let data = app
        .gql(Role::Marketing, "{ campaigns(orderBy: {field: NAME}) { nodes { name leads(filter: {search: \"bob\"}) { totalCount } } } }", json!({}))
        .await;
    assert_eq!(
        data["campaigns"]["nodes"],
        json!([
            { "name": "Empty", "leads": { "totalCount": 0 } },
            { "name": "Spring", "leads": { "totalCount": 1 } },
            { "name": "Summer", "leads": { "totalCount": 0 } },
        ])
    );
}

#[db_test]
async fn sales_cannot_create_update_or_delete_campaigns_but_marketing_can(app: TestApp) {
    let input = json!({ "name": "Outbound push", "channel": "OUTBOUND", "objective": "CONVERSION", "startsOn": "2026-02-01" });
    for role in [Role::Sales, Role::Leadership, Role::Reporting] {
        let code = app.error_code(role, CREATE, json!({ "i": input })).await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "{role:?} created a campaign"
        );
    }
    assert_eq!(campaign::Entity::find().count(&app.db).await.unwrap(), 0);

    let id = create(&app, input.clone()).await;
    let code = app
        .error_code(
            Role::Sales,
            UPDATE,
            json!({ "i": { "id": id, "name": "Hijacked" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    let code = app
        .error_code(Role::Sales, DELETE, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
    let read = app.gql(Role::Sales, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["name"], "Outbound push");
    assert_eq!(read["node"]["version"], 1);

    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "name": "Outbound push v2" } }),
        )
        .await;
    assert_eq!(
        data["updateCampaign"]["campaign"]["name"],
        "Outbound push v2"
    );
    let data = app
        .gql(Role::Marketing, DELETE, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(data["deleteCampaign"]["deletedCampaignId"], id);
}

#[db_test]
async fn a_stale_expected_version_on_a_campaign_is_a_conflict(app: TestApp) {
    let id = create(&app, json!({ "name": "Versioned", "channel": "EMAIL", "objective": "AWARENESS", "startsOn": "2026-01-01" })).await;
    app.gql(
        Role::Marketing,
        UPDATE,
        json!({ "i": { "id": id, "status": "ACTIVE" } }),
    )
    .await;
    let code = app
        .error_code(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 1, "name": "Stale" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    let code = app
        .error_code(
            Role::Marketing,
            DELETE,
            json!({ "i": { "id": id, "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    let read = app.gql(Role::Admin, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["name"], "Versioned");
    assert_eq!(read["node"]["version"], 2);
}
