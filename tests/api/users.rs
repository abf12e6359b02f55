//! Users: ADMIN manages them; emails are normalised and unique; an admin
//! cannot lock themself out; deleting revokes tokens; `viewer`; filters.

use std::time::Duration;

use entity::{
    change_log,
    enums::{ChangeOperation, ObjectType, Role},
    user,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use test_macros::db_test;
use uuid::Uuid;

use crate::common::{ROLES, TestApp};

const CREATE: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id name email role team active version } userErrors { field message code } } }";
const UPDATE: &str = "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id name email role team active version } userErrors { field message code } } }";
const DELETE: &str = "mutation($i: DeleteUserInput!) { deleteUser(input: $i) { deletedUserId userErrors { field message code } } }";
const READ: &str =
    "query($id: ID!) { node(id: $id) { ... on User { id name email role team active version } } }";

/// The uuid inside a global id.
fn uuid_of(gid: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(gid)
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

/// Creates a user as ADMIN and returns it.
async fn create(app: &TestApp, input: Value) -> Value {
    let data = app.gql(Role::Admin, CREATE, json!({ "i": input })).await;
    assert_eq!(data["createUser"]["userErrors"], json!([]), "{data}");
    data["createUser"]["user"].clone()
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

fn field(name: &str) -> Value {
    json!(["input", name])
}

#[db_test]
async fn an_admin_creates_updates_and_deletes_a_user(app: TestApp) {
    let u = create(&app, json!({ "name": "  Grace Hopper ", "email": " Grace.Hopper@Example.COM ", "role": "SALES", "team": "SALES" })).await;
    assert_eq!(u["name"], "Grace Hopper");
    assert_eq!(
        u["email"], "grace.hopper@example.com",
        "emails are stored in lower case"
    );
    assert_eq!(u["role"], "SALES");
    assert_eq!(u["team"], "SALES");
    assert_eq!(
        u["active"], true,
        "a new user is active unless told otherwise"
    );
    assert_eq!(u["version"], 1);
    let id = u["id"].as_str().unwrap().to_owned();
    let read = app.gql(Role::Marketing, READ, json!({ "id": id })).await;
    assert_eq!(read["node"], u);

    // Only the given fields change.
    let data = app.gql(Role::Admin, UPDATE, json!({ "i": { "id": id, "expectedVersion": 1, "role": "MARKETING", "team": "MARKETING" } })).await;
    assert_eq!(data["updateUser"]["userErrors"], json!([]));
    let u = &data["updateUser"]["user"];
    assert_eq!(u["role"], "MARKETING");
    assert_eq!(u["team"], "MARKETING");
    assert_eq!(u["name"], "Grace Hopper");
    assert_eq!(u["email"], "grace.hopper@example.com");
    assert_eq!(u["active"], true);
    assert_eq!(u["version"], 2);
    let data = app.gql(Role::Admin, UPDATE, json!({ "i": { "id": id, "email": "GRACE@Navy.example", "name": "Rear Admiral Hopper" } })).await;
    let u = &data["updateUser"]["user"];
    assert_eq!(u["email"], "grace@navy.example");
    assert_eq!(u["name"], "Rear Admiral Hopper");
    assert_eq!(u["role"], "MARKETING");
    assert_eq!(u["version"], 3);

    // Deleting deactivates the user and takes them out of every list.
    let data = app
        .gql(
            Role::Admin,
            DELETE,
            json!({ "i": { "id": id, "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(data["deleteUser"]["deletedUserId"], id);
    assert_eq!(data["deleteUser"]["userErrors"], json!([]));
    let data = app
        .gql(Role::Admin, "query($id: ID!) { node(id: $id) { id } users { totalCount nodes { id } } inactive: users(filter: {active: false}) { totalCount } }", json!({ "id": id }))
        .await;
    assert_eq!(data["node"], json!(null));
    assert_eq!(data["users"]["totalCount"], 6);
    assert!(
        !data["users"]["nodes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "id": id }))
    );
    assert_eq!(
        data["inactive"]["totalCount"], 0,
        "a deleted user is not listed as inactive either"
    );
    let row = user::Entity::find_by_id(uuid_of(&id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.active, "a deleted user is deactivated");
    assert!(row.deleted_at.is_some());

    // The change log ends with a tombstone; editing or deleting again is NOT_FOUND.
    let log = change_log::Entity::find()
        .filter(change_log::Column::ObjectType.eq(ObjectType::User))
        .filter(change_log::Column::ObjectId.eq(uuid_of(&id)))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        log.first().map(|e| e.operation),
        Some(ChangeOperation::Upsert)
    );
    assert_eq!(
        log.last().map(|e| e.operation),
        Some(ChangeOperation::Delete)
    );
    assert!(
        log.iter()
            .all(|e| e.actor_id == Some(app.user_id(Role::Admin)))
    );
    let code = app
        .error_code(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "name": "Back" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
    let code = app
        .error_code(Role::Admin, DELETE, json!({ "i": { "id": id } }))
        .await;
    assert_eq!(code.as_deref(), Some("NOT_FOUND"));
}

#[db_test]
async fn a_user_can_be_created_inactive(app: TestApp) {
    let u = create(&app, json!({ "name": "Dormant", "email": "dormant@example.com", "role": "REPORTING", "team": "REVOPS", "active": false })).await;
    assert_eq!(u["active"], false);
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": u["id"], "active": true } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"]["active"], true);
    assert_eq!(data["updateUser"]["user"]["version"], 2);
}

#[db_test]
async fn invalid_user_input_names_every_field_and_writes_nothing(app: TestApp) {
    let data = app.gql(Role::Admin, CREATE, json!({ "i": { "name": " ", "email": "not an email", "role": "SALES", "team": "SALES" } })).await;
    assert_eq!(data["createUser"]["user"], json!(null));
    assert_eq!(
        problems(&data["createUser"]),
        [
            (field("name"), "REQUIRED".to_owned()),
            (field("email"), "INVALID".to_owned())
        ]
    );
    let data = app.gql(Role::Admin, CREATE, json!({ "i": { "name": "x".repeat(201), "email": "long@example.com", "role": "SALES", "team": "SALES" } })).await;
    assert_eq!(
        problems(&data["createUser"]),
        [(field("name"), "TOO_LONG".to_owned())]
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 6);
}

#[db_test]
async fn an_email_is_unique_among_users_regardless_of_case(app: TestApp) {
    // The seeded MARKETING user is marketing@example.com.
    let data = app.gql(Role::Admin, CREATE, json!({ "i": { "name": "Copy", "email": "  MARKETING@Example.com", "role": "MARKETING", "team": "MARKETING" } })).await;
    assert_eq!(data["createUser"]["user"], json!(null));
    assert_eq!(
        problems(&data["createUser"]),
        [(field("email"), "TAKEN".to_owned())]
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 6);

    let u = create(
        &app,
        json!({ "name": "Ada", "email": "ada@example.com", "role": "SALES", "team": "SALES" }),
    )
    .await;
    let id = u["id"].as_str().unwrap();
    let data = app.gql(Role::Admin, CREATE, json!({ "i": { "name": "Ada Again", "email": "ADA@EXAMPLE.COM", "role": "SALES", "team": "SALES" } })).await;
    assert_eq!(
        problems(&data["createUser"]),
        [(field("email"), "TAKEN".to_owned())]
    );

    // Taking another user's address by an update is refused too ...
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "email": "Sales@Example.COM", "name": "Renamed" } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"], json!(null));
    assert_eq!(
        problems(&data["updateUser"]),
        [(field("email"), "TAKEN".to_owned())]
    );
    let read = app.gql(Role::Admin, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["email"], "ada@example.com");
    assert_eq!(read["node"]["name"], "Ada");
    assert_eq!(read["node"]["version"], 1);

    // ... while a user keeps their own address in any case.
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": id, "email": "Ada@Example.com" } }),
        )
        .await;
    assert_eq!(data["updateUser"]["userErrors"], json!([]));
    assert_eq!(data["updateUser"]["user"]["email"], "ada@example.com");
    assert_eq!(
        data["updateUser"]["user"]["version"], 1,
        "the same address is no change"
    );
}

#[db_test]
async fn an_admin_cannot_deactivate_delete_or_demote_themself(app: TestApp) {
    let me = app.user_gid(Role::Admin);
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": me, "active": false } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"], json!(null));
    assert_eq!(
        problems(&data["updateUser"]),
        [(field("active"), "INVALID".to_owned())]
    );

    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": me, "role": "MARKETING" } }),
        )
        .await;
    assert_eq!(
        problems(&data["updateUser"]),
        [(field("role"), "INVALID".to_owned())]
    );

    let data = app.gql(Role::Admin, UPDATE, json!({ "i": { "id": me, "role": "REPORTING", "active": false, "name": "Locked Out" } })).await;
    let mut found = problems(&data["updateUser"]);
    found.sort_by_key(|(f, _)| f.to_string());
    assert_eq!(
        found,
        [
            (field("active"), "INVALID".to_owned()),
            (field("role"), "INVALID".to_owned())
        ]
    );

    let data = app
        .gql(Role::Admin, DELETE, json!({ "i": { "id": me } }))
        .await;
    assert_eq!(data["deleteUser"]["deletedUserId"], json!(null));
    assert_eq!(
        problems(&data["deleteUser"]),
        [(field("id"), "INVALID".to_owned())]
    );

    // Nothing was written and the admin's token still works.
    let data = app
        .gql(
            Role::Admin,
            "{ viewer { id name role active version } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"],
        json!({ "id": me, "name": "ADMIN User", "role": "ADMIN", "active": true, "version": 1 })
    );
    assert_eq!(change_log::Entity::find().count(&app.db).await.unwrap(), 0);

    // Other changes to themself are fine, including naming their own role.
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": me, "name": "Root", "role": "ADMIN", "active": true } }),
        )
        .await;
    assert_eq!(data["updateUser"]["userErrors"], json!([]));
    assert_eq!(data["updateUser"]["user"]["name"], "Root");
    assert_eq!(data["updateUser"]["user"]["version"], 2);

    // Another admin may be demoted and deactivated.
    let other = create(&app, json!({ "name": "Second Admin", "email": "admin2@example.com", "role": "ADMIN", "team": "REVOPS" })).await;
    let data = app
        .gql(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": other["id"], "role": "LEADERSHIP", "active": false } }),
        )
        .await;
    assert_eq!(data["updateUser"]["userErrors"], json!([]));
    assert_eq!(data["updateUser"]["user"]["role"], "LEADERSHIP");
    assert_eq!(data["updateUser"]["user"]["active"], false);
}

#[db_test]
async fn viewer_is_the_caller(app: TestApp) {
    for role in ROLES {
        let data = app
            .gql(role, "{ viewer { id role team active } }", json!({}))
            .await;
        assert_eq!(data["viewer"]["id"], app.user_gid(role), "{role:?}");
        assert_eq!(data["viewer"]["role"], role.as_str());
        assert_eq!(data["viewer"]["active"], true);
    }
    let data = app
        .gql(Role::Sales, "{ viewer { name email team } }", json!({}))
        .await;
    assert_eq!(
        data["viewer"],
        json!({ "name": "SALES User", "email": "sales@example.com", "team": "SALES" })
    );
}

#[db_test]
async fn a_deleted_or_deactivated_users_token_is_401(app: TestApp) {
    let gone = create(&app, json!({ "name": "Leaver", "email": "leaver@example.com", "role": "MARKETING", "team": "MARKETING" })).await;
    let paused = create(&app, json!({ "name": "Paused", "email": "paused@example.com", "role": "SALES", "team": "SALES" })).await;
    let gone_token = app
        .config
        .jwt
        .mint(
            uuid_of(gone["id"].as_str().unwrap()),
            Role::Marketing,
            Duration::from_secs(600),
        )
        .unwrap();
    let paused_token = app
        .config
        .jwt
        .mint(
            uuid_of(paused["id"].as_str().unwrap()),
            Role::Sales,
            Duration::from_secs(600),
        )
        .unwrap();
    for (token, who) in [(&gone_token, &gone), (&paused_token, &paused)] {
        let (status, body) = app
            .post_with_token(Some(token), "{ viewer { id } }", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["viewer"]["id"], who["id"]);
    }

    app.gql(Role::Admin, DELETE, json!({ "i": { "id": gone["id"] } }))
        .await;
    app.gql(
        Role::Admin,
        UPDATE,
        json!({ "i": { "id": paused["id"], "active": false } }),
    )
    .await;
    for token in [&gone_token, &paused_token] {
        let (status, body) = app
            .post_with_token(Some(token), "{ viewer { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body["data"].is_null(), "{body}");
    }
}

#[db_test]
async fn users_filter_by_role_team_and_active(app: TestApp) {
    // Seeded: one active user per role; ADMIN, INTEGRATION and REPORTING in REVOPS.
    create(&app, json!({ "name": "Inactive Rep", "email": "inactive.rep@example.com", "role": "SALES", "team": "SALES", "active": false })).await;
    create(&app, json!({ "name": "Ops Marketer", "email": "ops.marketer@example.com", "role": "MARKETING", "team": "REVOPS" })).await;
    let emails = |filter: Value| {
        let app = &app;
        async move {
            let data = app
                .gql(Role::Admin, "query($f: UserFilter) { users(filter: $f, first: 100) { totalCount nodes { email } } }", json!({ "f": filter }))
                .await;
            let mut emails: Vec<String> = data["users"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["email"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(data["users"]["totalCount"], emails.len(), "{data}");
            emails.sort();
            emails
        }
    };
    assert_eq!(emails(json!(null)).await.len(), 8);
    assert_eq!(
        emails(json!({ "roles": ["SALES"] })).await,
        ["inactive.rep@example.com", "sales@example.com"]
    );
    assert_eq!(
        emails(json!({ "roles": ["ADMIN", "LEADERSHIP"] })).await,
        ["admin@example.com", "leadership@example.com"]
    );
    assert_eq!(
        emails(json!({ "teams": ["REVOPS"] })).await,
        [
            "admin@example.com",
            "integration@example.com",
            "ops.marketer@example.com",
            "reporting@example.com"
        ]
    );
    assert_eq!(
        emails(json!({ "teams": ["MARKETING", "LEADERSHIP"] })).await,
        ["leadership@example.com", "marketing@example.com"]
    );
    assert_eq!(
        emails(json!({ "active": false })).await,
        ["inactive.rep@example.com"]
    );
    assert_eq!(emails(json!({ "active": true })).await.len(), 7);
    assert_eq!(
        emails(json!({ "roles": ["SALES"], "active": true })).await,
        ["sales@example.com"]
    );
    assert_eq!(
        emails(json!({ "roles": ["MARKETING"], "teams": ["REVOPS"] })).await,
        ["ops.marketer@example.com"]
    );
    assert_eq!(
        emails(json!({ "roles": ["INTEGRATION"], "teams": ["SALES"] })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        emails(json!({ "search": "OPS.MARK" })).await,
        ["ops.marketer@example.com"]
    );
    assert_eq!(
        emails(json!({ "search": "rep" })).await,
        ["inactive.rep@example.com", "reporting@example.com"]
    );

    // REPORTING may filter by role but not search personal data.
    let data = app
        .gql(
            Role::Reporting,
            "{ users(filter: {roles: [SALES], active: true}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["users"]["totalCount"], 1);
    let code = app
        .error_code(
            Role::Reporting,
            "{ users(filter: {search: \"sales\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"));
}

#[db_test]
async fn only_admins_may_create_update_or_delete_users(app: TestApp) {
    let target = create(&app, json!({ "name": "Target", "email": "target@example.com", "role": "SALES", "team": "SALES" })).await;
    let id = target["id"].as_str().unwrap();
    for role in [
        Role::Marketing,
        Role::Sales,
        Role::Leadership,
        Role::Integration,
        Role::Reporting,
    ] {
        let code = app.error_code(role, CREATE, json!({ "i": { "name": "Sneaky", "email": format!("sneaky.{}@example.com", role.as_str().to_lowercase()), "role": "ADMIN", "team": "REVOPS" } })).await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "{role:?} created a user"
        );
        let code = app
            .error_code(role, UPDATE, json!({ "i": { "id": id, "role": "ADMIN" } }))
            .await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "{role:?} updated a user"
        );
        let code = app
            .error_code(role, DELETE, json!({ "i": { "id": id } }))
            .await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "{role:?} deleted a user"
        );
        // Not even themself.
        let code = app
            .error_code(
                role,
                UPDATE,
                json!({ "i": { "id": app.user_gid(role), "role": "ADMIN" } }),
            )
            .await;
        assert_eq!(
            code.as_deref(),
            Some("FORBIDDEN"),
            "{role:?} promoted themself"
        );
    }
    let read = app.gql(Role::Admin, READ, json!({ "id": id })).await;
    assert_eq!(read["node"]["role"], "SALES");
    assert_eq!(read["node"]["version"], 1);
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 7);
    for role in [
        Role::Marketing,
        Role::Sales,
        Role::Leadership,
        Role::Integration,
        Role::Reporting,
    ] {
        let data = app.gql(role, "{ viewer { role } }", json!({})).await;
        assert_eq!(data["viewer"]["role"], role.as_str());
    }
}

#[db_test]
async fn a_stale_expected_version_on_a_user_is_a_conflict(app: TestApp) {
    let u = create(&app, json!({ "name": "Versioned", "email": "versioned@example.com", "role": "SALES", "team": "SALES" })).await;
    app.gql(
        Role::Admin,
        UPDATE,
        json!({ "i": { "id": u["id"], "team": "REVOPS" } }),
    )
    .await;
    let code = app
        .error_code(
            Role::Admin,
            UPDATE,
            json!({ "i": { "id": u["id"], "expectedVersion": 1, "name": "Stale" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    let code = app
        .error_code(
            Role::Admin,
            DELETE,
            json!({ "i": { "id": u["id"], "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
    let read = app.gql(Role::Admin, READ, json!({ "id": u["id"] })).await;
    assert_eq!(read["node"]["name"], "Versioned");
    assert_eq!(read["node"]["active"], true);
    assert_eq!(read["node"]["version"], 2);
}

// The email check and the insert are not atomic on PostgreSQL, so the
// unique index decides a race; the loser must hear TAKEN, not INTERNAL.
#[db_test]
async fn of_two_racing_creates_of_one_email_exactly_one_wins_and_the_other_is_taken(app: TestApp) {
    for round in 0..10 {
        let input = |email: String| json!({ "i": { "name": "Racer", "email": email, "role": "SALES", "team": "SALES" } });
        let a = app.post(
            Role::Admin,
            CREATE,
            input(format!("racer{round}@example.com")),
        );
        let b = app.post(
            Role::Admin,
            CREATE,
            input(format!("Racer{round}@Example.com")),
        );
        let ((_, a), (_, b)) = tokio::join!(a, b);
        let won = [&a, &b]
            .into_iter()
            .filter(|r| r["data"]["createUser"]["user"].is_object())
            .count();
        let taken = [&a, &b]
            .into_iter()
            .filter(|r| r["data"]["createUser"]["userErrors"][0]["code"] == "TAKEN")
            .count();
        assert_eq!((won, taken), (1, 1), "round {round}: {a} / {b}");
    }
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 16);
}
