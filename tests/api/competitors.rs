//! Competitors: create, update, delete, a name unique regardless of case,
//! http(s) websites, ordering and search.

use entity::{
    change_log,
    enums::{ChangeOperation, ObjectType, Role},
};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::TestApp;

const CREATE: &str = "mutation($i: CreateCompetitorInput!) { createCompetitor(input: $i) { competitor { id name website version } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateCompetitorInput!) { updateCompetitor(input: $i) { competitor { id name website version } userErrors { field message code } } }";
const DELETE: &str = "mutation($i: DeleteCompetitorInput!) { deleteCompetitor(input: $i) { deletedCompetitorId userErrors { field message code } } }";
const READ: &str =
    "query($id: ID!) { node(id: $id) { ... on Competitor { id name website version } } }";

/// Creates a competitor as SALES and returns its global id.
async fn create(app: &TestApp, name: &str, website: Option<&str>) -> String {
    let data = app
        .gql(
            Role::Sales,
            CREATE,
            json!({ "i": { "name": name, "website": website } }),
        )
        .await;
    assert_eq!(data["createCompetitor"]["userErrors"], json!([]), "{data}");
    data["createCompetitor"]["competitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The (field, code) pairs of a payload's user errors.
fn problems(payload: &Value) -> Vec<(Value, String)> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors in {payload}"))
        .iter()
        .map(|e| (e["field"].clone(), e["code"].as_str().unwrap().to_owned()))
        .collect()
}

async fn count(app: &TestApp) -> u64 {
    entity::competitor::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

/// Names of the listed competitors, in list order.
async fn names(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let data = app
        .gql(
            Role::Reporting,
            "query($f: CompetitorFilter, $o: CompetitorOrder) { competitors(filter: $f, orderBy: $o) { totalCount nodes { name } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let nodes = data["competitors"]["nodes"].as_array().unwrap();
    assert_eq!(data["competitors"]["totalCount"], nodes.len(), "{data}");
    nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

#[db_test]
async fn a_competitor_is_created_updated_and_deleted(app: TestApp) {
    let data = app
        .gql(
            Role::Marketing,
            CREATE,
            json!({ "i": { "name": "  Globex ", "website": " https://globex.example/pricing " } }),
        )
        .await;
    assert_eq!(data["createCompetitor"]["userErrors"], json!([]));
    let c = &data["createCompetitor"]["competitor"];
    assert_eq!(c["name"], "Globex");
    assert_eq!(c["website"], "https://globex.example/pricing");
    assert_eq!(c["version"], 1);
    let id = c["id"].as_str().unwrap().to_owned();
    let read = app.gql(Role::Reporting, READ, json!({ "id": id })).await;
    assert_eq!(&read["node"], c);

    // Only the given fields change; null clears the website.
    let data = app
        .gql(
            Role::Sales,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 1, "name": "Globex Corporation" } }),
        )
        .await;
    let c = &data["updateCompetitor"]["competitor"];
    assert_eq!(c["name"], "Globex Corporation");
    assert_eq!(c["website"], "https://globex.example/pricing");
    assert_eq!(c["version"], 2);
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 2, "website": null } }),
        )
        .await;
    let c = &data["updateCompetitor"]["competitor"];
    assert_eq!(c["website"], json!(null));
    assert_eq!(c["name"], "Globex Corporation");
    assert_eq!(c["version"], 3);
    // A stale version is a conflict.
    let code = app
        .error_code(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "expectedVersion": 2, "name": "Stale" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));

    let data = app
        .gql(
            Role::Sales,
            DELETE,
            json!({ "i": { "id": id, "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(data["deleteCompetitor"]["deletedCompetitorId"], id);
    let data = app
        .gql(
            Role::Admin,
            "query($id: ID!) { node(id: $id) { id } competitors { totalCount } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["node"], json!(null));
    assert_eq!(data["competitors"]["totalCount"], 0);
    let code = app
        .error_code(Role::Sales, DELETE, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));

    let log = change_log::Entity::find()
        .order_by_asc(change_log::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let ops: Vec<_> = log.iter().map(|e| (e.object_type, e.operation)).collect();
    let upsert = (ObjectType::Competitor, ChangeOperation::Upsert);
    assert_eq!(
        ops,
        [
            upsert,
            upsert,
            upsert,
            (ObjectType::Competitor, ChangeOperation::Delete)
        ]
    );
}

#[db_test]
async fn a_competitor_name_is_required_and_unique_regardless_of_case(app: TestApp) {
    let globex = create(&app, "Globex", None).await;
    let initech = create(&app, "Initech", None).await;

    for name in ["Globex", "GLOBEX", "  globex  "] {
        let data = app
            .gql(Role::Sales, CREATE, json!({ "i": { "name": name } }))
            .await;
        assert_eq!(
            data["createCompetitor"]["competitor"],
            json!(null),
            "{name}"
        );
        assert_eq!(
            problems(&data["createCompetitor"]),
            [(json!(["input", "name"]), "TAKEN".to_owned())],
            "{name}"
        );
    }
    let data = app
        .gql(Role::Sales, CREATE, json!({ "i": { "name": "   " } }))
        .await;
    assert_eq!(
        problems(&data["createCompetitor"]),
        [(json!(["input", "name"]), "REQUIRED".to_owned())]
    );
    assert_eq!(count(&app).await, 2);

    // Renaming onto another's name is refused; recasing its own is fine.
    let data = app
        .gql(
            Role::Sales,
            UPDATE,
            json!({ "i": { "id": initech, "name": "gLoBeX" } }),
        )
        .await;
    assert_eq!(data["updateCompetitor"]["competitor"], json!(null));
    assert_eq!(
        problems(&data["updateCompetitor"]),
        [(json!(["input", "name"]), "TAKEN".to_owned())]
    );
    let read = app.gql(Role::Sales, READ, json!({ "id": initech })).await;
    assert_eq!(read["node"]["name"], "Initech");
    assert_eq!(read["node"]["version"], 1);
    let data = app
        .gql(
            Role::Sales,
            UPDATE,
            json!({ "i": { "id": globex, "name": "GLOBEX" } }),
        )
        .await;
    assert_eq!(data["updateCompetitor"]["userErrors"], json!([]));
    assert_eq!(data["updateCompetitor"]["competitor"]["name"], "GLOBEX");
}

#[db_test]
async fn a_competitor_website_must_be_an_http_or_https_address(app: TestApp) {
    for bad in [
        "globex.example",
        "ftp://globex.example",
        "https://",
        "http://globex example",
        "mailto:sales@globex.example",
    ] {
        let data = app
            .gql(
                Role::Marketing,
                CREATE,
                json!({ "i": { "name": "Globex", "website": bad } }),
            )
            .await;
        assert_eq!(data["createCompetitor"]["competitor"], json!(null), "{bad}");
        assert_eq!(
            problems(&data["createCompetitor"]),
            [(json!(["input", "website"]), "INVALID".to_owned())],
            "{bad}"
        );
    }
    let data = app.gql(Role::Marketing, CREATE, json!({ "i": { "name": "Globex", "website": format!("https://{}.example", "a".repeat(500)) } })).await;
    assert_eq!(
        problems(&data["createCompetitor"]),
        [(json!(["input", "website"]), "TOO_LONG".to_owned())]
    );
    assert_eq!(count(&app).await, 0);

    let id = create(&app, "Globex", Some("HTTP://Globex.example")).await;
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "website": "www.globex.example" } }),
        )
        .await;
    assert_eq!(
        problems(&data["updateCompetitor"]),
        [(json!(["input", "website"]), "INVALID".to_owned())]
    );
    let read = app.gql(Role::Marketing, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["website"], "HTTP://Globex.example");
    assert_eq!(read["node"]["version"], 1);
    let data = app
        .gql(
            Role::Marketing,
            UPDATE,
            json!({ "i": { "id": id, "website": "https://www.globex.example" } }),
        )
        .await;
    assert_eq!(
        data["updateCompetitor"]["competitor"]["website"],
        "https://www.globex.example"
    );
}

#[db_test]
async fn competitors_are_ordered_by_name_and_searchable(app: TestApp) {
    for name in ["Umbrella", "Acme", "Globex", "Initech", "Hooli"] {
        create(&app, name, None).await;
    }
    // By name unless told otherwise.
    assert_eq!(
        names(&app, json!(null), json!(null)).await,
        ["Acme", "Globex", "Hooli", "Initech", "Umbrella"]
    );
    assert_eq!(
        names(
            &app,
            json!(null),
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        ["Umbrella", "Initech", "Hooli", "Globex", "Acme"]
    );
    assert_eq!(
        names(&app, json!(null), json!({ "field": "CREATED_AT" })).await,
        ["Umbrella", "Acme", "Globex", "Initech", "Hooli"]
    );

    assert_eq!(
        names(&app, json!({ "search": "LOB" }), json!(null)).await,
        ["Globex"]
    );
    assert_eq!(
        names(&app, json!({ "search": "e" }), json!(null)).await,
        ["Acme", "Globex", "Initech", "Umbrella"]
    );
    assert_eq!(
        names(&app, json!({ "search": "  hoo " }), json!(null)).await,
        ["Hooli"]
    );
    assert_eq!(
        names(&app, json!({ "search": "_" }), json!(null)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, json!({ "search": "" }), json!(null))
            .await
            .len(),
        5,
        "a blank search matches everything"
    );

    // Two pages by name visit each once.
    let q = "query($after: String) { competitors(first: 3, after: $after) { nodes { name } pageInfo { hasNextPage endCursor } } }";
    let p1 = app.gql(Role::Sales, q, json!({ "after": null })).await;
    assert_eq!(
        p1["competitors"]["nodes"],
        json!([{ "name": "Acme" }, { "name": "Globex" }, { "name": "Hooli" }])
    );
    let p2 = app
        .gql(
            Role::Sales,
            q,
            json!({ "after": p1["competitors"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        p2["competitors"]["nodes"],
        json!([{ "name": "Initech" }, { "name": "Umbrella" }])
    );
    assert_eq!(p2["competitors"]["pageInfo"]["hasNextPage"], false);
}

#[db_test]
async fn leadership_integration_and_reporting_cannot_write_competitors(app: TestApp) {
    let id = create(&app, "Globex", None).await;
    for role in [Role::Leadership, Role::Integration, Role::Reporting] {
        let code = app
            .error_code(role, CREATE, json!({ "i": { "name": "Initech" } }))
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(
                role,
                UPDATE,
                json!({ "i": { "id": id, "name": "Renamed" } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
        let code = app
            .error_code(role, DELETE, json!({ "i": { "id": id } }))
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{role:?}");
    }
    assert_eq!(count(&app).await, 1);
    let read = app.gql(Role::Admin, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["name"], "Globex");
    assert_eq!(read["node"]["version"], 1);
}

// "Unique regardless of case" holds for every letter: SQLite's lower()
// folds ASCII only, so a check built on it accepts "Ökonom" and "ÖKONOM".
#[db_test]
async fn a_competitor_name_is_unique_regardless_of_case_beyond_ascii_too(app: TestApp) {
    create(&app, "Ökonom", None).await;
    for name in ["ÖKONOM", "ökonom"] {
        let data = app
            .gql(Role::Sales, CREATE, json!({ "i": { "name": name } }))
            .await;
        assert_eq!(
            problems(&data["createCompetitor"]),
            [(json!(["input", "name"]), "TAKEN".to_owned())],
            "{name}: {data}"
        );
    }
    assert_eq!(count(&app).await, 1);
}

// The case-insensitive search holds for every letter too, on SQLite as well
// (whose lower() folds ASCII only).
#[db_test]
async fn a_competitor_search_ignores_the_case_of_non_ascii_letters(app: TestApp) {
    create(&app, "Ökonom", None).await;
    create(&app, "Ærø Systems", None).await;
    assert_eq!(
        names(&app, json!({ "search": "ök" }), json!(null)).await,
        ["Ökonom"]
    );
    assert_eq!(
        names(&app, json!({ "search": "ÆRØ" }), json!(null)).await,
        ["Ærø Systems"]
    );
}

// The name check and the insert are not atomic on PostgreSQL (nothing locks
// an absent row), so the unique index must decide: racing creates of one
// name, in one case or two, leave one competitor and the loser hears TAKEN
// (not INTERNAL, and not a duplicate).
#[db_test]
async fn of_two_racing_creates_of_one_name_exactly_one_wins_and_the_other_is_taken(app: TestApp) {
    for round in 0..10 {
        let name = format!("Rival {round}");
        let other = if round % 2 == 0 {
            name.to_uppercase()
        } else {
            name.clone()
        };
        let a = app.post(Role::Sales, CREATE, json!({ "i": { "name": name } }));
        let b = app.post(Role::Marketing, CREATE, json!({ "i": { "name": other } }));
        let ((_, a), (_, b)) = tokio::join!(a, b);
        let won = [&a, &b]
            .into_iter()
            .filter(|r| r["data"]["createCompetitor"]["competitor"].is_object())
            .count();
        let taken = [&a, &b]
            .into_iter()
            .filter(|r| r["data"]["createCompetitor"]["userErrors"][0]["code"] == "TAKEN")
            .count();
        assert_eq!((won, taken), (1, 1), "round {round}: {a} / {b}");
    }
    assert_eq!(count(&app).await, 10);
}
