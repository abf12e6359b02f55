//! Who may own records, by every path that sets an owner (mutations, sync
//! upserts, the CSV import), and ownership checked before `expectedVersion`
//! so a stale version never tells a rep about someone else's record.

use entity::enums::Role::*;
use handoff::import::{ObjectKind, System};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{TestApp, gid};

/// A user created by ADMIN; returns its global id.
async fn user(app: &TestApp, email: &str, role: &str, team: &str, active: bool) -> String {
    let data = app
        .gql(
            Admin,
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } userErrors { message } } }",
            json!({ "i": { "name": email, "email": email, "role": role, "team": team, "active": active } }),
        )
        .await;
    data["createUser"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user: {data}"))
        .to_owned()
}

/// The owners no record may have: a machine client of each kind and a
/// deactivated rep, with what their error must say.
async fn non_owners(app: &TestApp) -> Vec<(String, &'static str)> {
    vec![
        (app.user_gid(Reporting), "REPORTING"),
        (app.user_gid(Integration), "INTEGRATION"),
        (
            user(app, "gone@example.com", "SALES", "SALES", false).await,
            "deactivated",
        ),
    ]
}

/// Runs a create or update mutation and returns its payload.
async fn write(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    let payload = match mutation {
        m if m.ends_with("Lead") => "lead { owner { id } }",
        m if m.ends_with("Account") => "account { owner { id } }",
        m if m.ends_with("Campaign") => "campaign { owner { id } }",
        _ => "opportunity { owner { id } }",
    };
    let doc = format!(
        "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ {payload} userErrors {{ field message code }} }} }}"
    );
    app.gql(Admin, &doc, json!({ "i": input })).await[mutation].clone()
}

#[db_test]
async fn only_active_people_may_own_leads_accounts_campaigns_and_deals(app: TestApp) {
    let lead = app.create_lead("owned@example.com", json!({})).await;
    let account = app.create_account("Owned Inc", None).await;
    let campaign = write(&app, "createCampaign", "CreateCampaignInput", json!({ "name": "Owned", "channel": "EMAIL", "objective": "AWARENESS", "startsOn": "2026-01-01" })).await;
    assert_eq!(campaign["userErrors"], json!([]), "{campaign}");
    let deal = write(
        &app,
        "createOpportunity",
        "CreateOpportunityInput",
        json!({ "name": "Owned deal", "amount": { "amount": "1", "currency": "USD" } }),
    )
    .await;
    assert_eq!(deal["userErrors"], json!([]), "{deal}");
    let campaign_id = app
        .gql(Admin, "{ campaigns(first: 1) { nodes { id } } }", json!({}))
        .await["campaigns"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deal_id = app
        .gql(
            Admin,
            "{ opportunities(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await["opportunities"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let writes = |owner: &str| {
        vec![
            (
                "createLead",
                "CreateLeadInput",
                json!({ "email": "new@example.com", "source": "EMAIL", "ownerId": owner }),
            ),
            (
                "updateLead",
                "UpdateLeadInput",
                json!({ "id": lead, "ownerId": owner }),
            ),
            (
                "createAccount",
                "CreateAccountInput",
                json!({ "name": "New Inc", "ownerId": owner }),
            ),
            (
                "updateAccount",
                "UpdateAccountInput",
                json!({ "id": account, "ownerId": owner }),
            ),
            (
                "createCampaign",
                "CreateCampaignInput",
                json!({ "name": "New", "channel": "EMAIL", "objective": "AWARENESS", "startsOn": "2026-01-01", "ownerId": owner }),
            ),
            (
                "updateCampaign",
                "UpdateCampaignInput",
                json!({ "id": campaign_id, "ownerId": owner }),
            ),
            (
                "createOpportunity",
                "CreateOpportunityInput",
                json!({ "name": "New deal", "amount": { "amount": "1", "currency": "USD" }, "ownerId": owner }),
            ),
            (
                "updateOpportunity",
                "UpdateOpportunityInput",
                json!({ "id": deal_id, "ownerId": owner }),
            ),
        ]
    };
    for (owner, why) in non_owners(&app).await {
        for (mutation, input_type, input) in writes(&owner) {
            let p = write(&app, mutation, input_type, input).await;
            let error = &p["userErrors"][0];
            assert_eq!(
                error["field"],
                json!(["input", "ownerId"]),
                "{mutation} {why}: {p}"
            );
            assert_eq!(error["code"], "INVALID", "{mutation} {why}: {p}");
            assert!(
                error["message"].as_str().unwrap().contains(why),
                "{mutation}: {p}"
            );
        }
    }
    // A user id that names nobody is NOT_FOUND, as before.
    let ghost = gid("User", uuid::Uuid::now_v7());
    let p = write(
        &app,
        "updateLead",
        "UpdateLeadInput",
        json!({ "id": lead, "ownerId": ghost }),
    )
    .await;
    assert_eq!(p["userErrors"][0]["code"], "NOT_FOUND", "{p}");
    // Every role of a person may own.
    for role in [Admin, Marketing, Sales, Leadership] {
        let owner = app.user_gid(role);
        for (mutation, input_type, input) in writes(&owner)
            .into_iter()
            .filter(|w| w.0.starts_with("update"))
        {
            let p = write(&app, mutation, input_type, input).await;
            assert_eq!(p["userErrors"], json!([]), "{mutation} {role:?}: {p}");
        }
    }
}

#[db_test]
async fn a_synced_record_with_an_owner_who_may_not_own_fails_alone(app: TestApp) {
    user(&app, "gone@example.com", "SALES", "SALES", false).await;
    let reporting = app.user_gid(Reporting);
    let sales = app.user_gid(Sales);
    // By id, by email (a machine client and a deactivated rep), and a good one.
    let owners = [
        json!({ "ownerId": reporting }),
        json!({ "ownerEmail": "integration@example.com" }),
        json!({ "ownerEmail": "gone@example.com" }),
        json!({ "ownerId": sales }),
    ];
    let with = |i: usize, record: Value| {
        let mut r = record;
        for (k, v) in owners[i].as_object().unwrap() {
            r[k] = v.clone();
        }
        r["externalId"] = json!(format!("x-{i}"));
        r
    };
    let batches = [
        (
            "upsertLeads",
            "UpsertLeadsInput",
            "leads",
            json!({ "email": "e@example.com", "source": "EMAIL" }),
        ),
        (
            "upsertAccounts",
            "UpsertAccountsInput",
            "accounts",
            json!({ "name": "Acme" }),
        ),
        (
            "upsertCampaigns",
            "UpsertCampaignsInput",
            "campaigns",
            json!({ "name": "Spring", "channel": "EMAIL", "startsOn": "2026-01-01" }),
        ),
        (
            "upsertOpportunities",
            "UpsertOpportunitiesInput",
            "opportunities",
            json!({ "name": "Deal", "amount": { "amount": "1", "currency": "USD" } }),
        ),
    ];
    for (mutation, input_type, list, record) in batches {
        let records: Vec<Value> = (0..owners.len())
            .map(|i| {
                let mut r = with(i, record.clone());
                if list == "leads" {
                    r["email"] = json!(format!("e{i}@example.com"));
                }
                r
            })
            .collect();
        let doc = format!(
            "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ created failed results {{ status error {{ code field message }} }} }} }}"
        );
        let data = app
            .gql(
                Integration,
                &doc,
                json!({ "i": { "system": "HUBSPOT", list: records } }),
            )
            .await;
        let r = &data[mutation];
        assert_eq!(
            (r["created"].as_i64(), r["failed"].as_i64()),
            (Some(1), Some(3)),
            "{mutation}: {data}"
        );
        for (i, why) in [(0, "REPORTING"), (1, "INTEGRATION"), (2, "deactivated")] {
            let error = &r["results"][i]["error"];
            assert_eq!(error["code"], "INVALID", "{mutation} {i}: {data}");
            assert_eq!(error["field"], "owner", "{mutation} {i}: {data}");
            assert!(
                error["message"].as_str().unwrap().contains(why),
                "{mutation} {i}: {data}"
            );
        }
    }
}

#[db_test]
async fn an_imported_row_owned_by_a_machine_client_fails_with_its_reason(app: TestApp) {
    let (summary, failed) = app
        .import_csv(
            System::Hubspot,
            ObjectKind::Leads,
            "Record ID,Email,Contact owner\r\n1,one@example.com,reporting@example.com\r\n2,two@example.com,REPORTING User\r\n3,three@example.com,sales@example.com\r\n",
            0,
        )
        .await;
    assert_eq!(
        (summary.rows, summary.created, summary.failed),
        (3, 1, 2),
        "{summary:?}"
    );
    assert_eq!(
        failed
            .matches("has role REPORTING, which does not own records")
            .count(),
        2,
        "{failed}"
    );
}

#[db_test]
async fn a_stale_version_on_another_reps_record_is_forbidden_not_a_conflict(app: TestApp) {
    let other = user(&app, "other.rep@example.com", "SALES", "SALES", true).await;
    let lead = app
        .create_lead("theirs@example.com", json!({ "ownerId": other }))
        .await;
    for mutation in ["acceptLead", "qualifyLead", "claimLead"] {
        let doc = format!(
            "mutation($i: LeadMoveInput!) {{ {mutation}(input: $i) {{ lead {{ version }} }} }}"
        );
        let code = app
            .error_code(
                Sales,
                &doc,
                json!({ "i": { "id": lead, "expectedVersion": 999 } }),
            )
            .await;
        assert_eq!(code.as_deref(), Some("FORBIDDEN"), "{mutation}");
    }
    let code = app
        .error_code(
            Sales,
            "mutation($i: RejectLeadInput!) { rejectLead(input: $i) { lead { version } } }",
            json!({ "i": { "id": lead, "expectedVersion": 999, "reason": "NO_BUDGET" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"), "rejectLead");
    let code = app.error_code(Sales, "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { lead { version } } }", json!({ "i": { "id": lead, "expectedVersion": 999, "opportunity": { "name": "Deal", "amount": { "amount": "1", "currency": "USD" } } } })).await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"), "convertLead");
    let code = app
        .error_code(
            Sales,
            "mutation($i: UpdateLeadInput!) { updateLead(input: $i) { lead { version } } }",
            json!({ "i": { "id": lead, "expectedVersion": 999, "firstName": "X" } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"), "updateLead");
    // Another rep's deal, with a stale version.
    let deal = write(&app, "createOpportunity", "CreateOpportunityInput", json!({ "name": "Theirs", "amount": { "amount": "1", "currency": "USD" }, "ownerId": other })).await;
    assert_eq!(deal["userErrors"], json!([]), "{deal}");
    let deal_id = app
        .gql(
            Admin,
            "{ opportunities(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await["opportunities"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.error_code(Sales, "mutation($i: UpdateOpportunityInput!) { updateOpportunity(input: $i) { opportunity { version } } }", json!({ "i": { "id": deal_id, "expectedVersion": 999, "name": "Mine" } })).await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"), "updateOpportunity");
    let code = app.error_code(Sales, "mutation($i: DeleteOpportunityInput!) { deleteOpportunity(input: $i) { deletedOpportunityId } }", json!({ "i": { "id": deal_id, "expectedVersion": 999 } })).await;
    assert_eq!(code.as_deref(), Some("FORBIDDEN"), "deleteOpportunity");
    // The owner with the same stale version hears CONFLICT.
    let code = app
        .error_code(
            Admin,
            "mutation($i: LeadMoveInput!) { acceptLead(input: $i) { lead { version } } }",
            json!({ "i": { "id": lead, "expectedVersion": 999 } }),
        )
        .await;
    assert_eq!(code.as_deref(), Some("CONFLICT"));
}
