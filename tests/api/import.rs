//! `handoff import`: the sample exports of each system, imported through
//! the library function the command calls, on each backend.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use entity::{
    account,
    enums::{Channel, ExternalSystem, LeadStage, ObjectType, Role, StageSubject, Team},
    external_id, lead, stage_change, user,
};
use handoff::{
    auth::Viewer,
    import::{self, ObjectKind, Options, Summary, System, columns::Mapping},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use test_macros::db_test;
use uuid::Uuid;

use crate::common::TestApp;

fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(path)
}

/// The owners the samples name (the demo dataset's users).
async fn add_sample_owners(app: &TestApp) {
    for (email, name, role, team) in [
        ("sales@handoff.demo", "Sam Sales", Role::Sales, Team::Sales),
        (
            "marketing@handoff.demo",
            "Maya Marketing",
            Role::Marketing,
            Team::Marketing,
        ),
    ] {
        let now = Utc::now();
        user::Entity::insert(user::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            updated_at: Set(now),
            name: Set(name.to_owned()),
            email: Set(email.to_owned()),
            role: Set(role),
            team: Set(team),
            active: Set(true),
            version: Set(1),
            deleted_at: Set(None),
        })
        .exec_without_returning(&app.db)
        .await
        .unwrap();
    }
}

fn integration(app: &TestApp) -> Viewer {
    Viewer {
        user_id: app.user_id(Role::Integration),
        role: Role::Integration,
        team: Team::Revops,
    }
}

/// Imports `file` into the app's database; returns the summary and the
/// failed-rows file's text ("" when none was written).
async fn import(
    app: &TestApp,
    system: System,
    object: ObjectKind,
    file: &Path,
    mapping: Mapping,
) -> (Summary, String) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        system,
        object,
        file: file.to_owned(),
        mapping,
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: Some(dir.path().join("failed.csv")),
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let mut batches = 0;
    let summary = import::run(&app.db, &integration(app), &options, &mut |_| batches += 1)
        .await
        .unwrap();
    assert!(batches >= 1, "progress is reported");
    let failed = match &summary.failed_file {
        Some(path) => std::fs::read_to_string(path).unwrap(),
        None => String::new(),
    };
    (summary, failed)
}

fn counts(s: &Summary) -> [usize; 5] {
    [s.rows, s.created, s.updated, s.unchanged, s.failed]
}

async fn object_id(app: &TestApp, system: ExternalSystem, object: ObjectType, id: &str) -> Uuid {
    external_id::Entity::find()
        .filter(external_id::Column::System.eq(system))
        .filter(external_id::Column::ObjectType.eq(object))
        .filter(external_id::Column::ExternalId.eq(id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {object:?} with external id {id}"))
        .object_id
}

async fn lead_of(app: &TestApp, system: ExternalSystem, id: &str) -> lead::Model {
    let id = object_id(app, system, ObjectType::Lead, id).await;
    lead::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn account_of(app: &TestApp, system: ExternalSystem, id: &str) -> account::Model {
    let id = object_id(app, system, ObjectType::Account, id).await;
    account::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn owner_email(app: &TestApp, id: Option<Uuid>) -> Option<String> {
    let id = id?;
    user::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .map(|u| u.email)
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
}

/// The failed file's rows as `(line, error)`.
fn failures(text: &str) -> Vec<(String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "line");
    assert_eq!(&headers[1], "error");
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect()
}

fn assert_failed(text: &str, expected: &[(&str, &str)]) {
    let got = failures(text);
    assert_eq!(got.len(), expected.len(), "failed rows: {got:#?}");
    for ((line, error), (want_line, want_start)) in got.iter().zip(expected) {
        assert_eq!(line, want_line, "{error}");
        assert!(
            error.starts_with(want_start),
            "line {line}: {error:?} does not start with {want_start:?}"
        );
    }
}

#[db_test]
async fn hubspot_companies_and_contacts_import_with_their_stage_dates_and_reimport_unchanged(
    app: TestApp,
) {
    add_sample_owners(&app).await;
    let hs = ExternalSystem::Hubspot;
    let companies = sample("hubspot/companies.csv");
    let contacts = sample("hubspot/contacts.csv");

    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &companies,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [11, 8, 0, 0, 3], "{failed}");
    assert_eq!(s.exit_code(), 2);
    assert_eq!(s.ignored_columns, vec!["Phone Number".to_owned()]);
    assert_failed(
        &failed,
        &[
            ("10", "IN_FUTURE (Create Date)"),
            ("11", "INVALID (Number of  Employees)"),
            ("12", "INVALID (COMPANY DOMAIN NAME)"),
        ],
    );
    assert!(
        failed.lines().nth(1).unwrap().contains("Orbital Ventures"),
        "original columns are kept: {failed}"
    );

    let brightpath = account_of(&app, hs, "9001").await;
    assert_eq!(brightpath.name, "Brightpath Logistics");
    assert_eq!(brightpath.employee_count, Some(1200));
    assert_eq!(brightpath.annual_revenue, Some(85_000_000.into()));
    assert_eq!(brightpath.currency.as_deref(), Some("USD"));
    assert_eq!(brightpath.country.as_deref(), Some("US"));
    assert!(brightpath.is_target_account);
    assert_eq!(brightpath.created_at, at(2024, 3, 12, 9, 14));
    assert_eq!(
        owner_email(&app, brightpath.owner_id).await.as_deref(),
        Some("sales@handoff.demo")
    );
    let halcyon = account_of(&app, hs, "9004").await;
    assert_eq!(halcyon.domain.as_deref(), Some("halcyon-health.com"));
    assert_eq!(
        halcyon.created_at,
        at(2024, 4, 1, 9, 0),
        "epoch milliseconds"
    );
    assert_eq!(
        account_of(&app, hs, "9002").await.created_at,
        at(2024, 3, 15, 14, 30)
    );

    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Leads,
        &contacts,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [13, 8, 0, 0, 5], "{failed}");
    assert_failed(
        &failed,
        &[
            ("10", "INVALID (EMAIL)"),
            ("11", "IN_FUTURE (Became a Marketing Qualified Lead Date)"),
            ("12", "UNKNOWN_STAGE (Lifecycle stage)"),
            ("13", "NOT_FOUND (Associated Company IDs)"),
            ("14", "INVALID (Create date)"),
        ],
    );

    let avery = lead_of(&app, hs, "101").await;
    assert_eq!(avery.stage, LeadStage::Customer);
    assert_eq!(avery.mql_at, Some(at(2024, 3, 20, 10, 0)));
    assert_eq!(avery.stage_entered_at, at(2024, 6, 1, 12, 0));
    assert_eq!(
        avery.account_id,
        Some(brightpath.id),
        "the first of the associated companies"
    );
    assert_eq!(avery.source, Channel::OrganicSearch);
    assert_eq!(avery.country.as_deref(), Some("US"));
    assert_eq!(
        owner_email(&app, avery.owner_id).await.as_deref(),
        Some("sales@handoff.demo")
    );
    let path: Vec<(Option<String>, String, DateTime<Utc>)> = stage_change::Entity::find()
        .filter(stage_change::Column::SubjectType.eq(StageSubject::Lead))
        .filter(stage_change::Column::SubjectId.eq(avery.id))
        .order_by_asc(stage_change::Column::At)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.from_stage, c.to_stage, c.at))
        .collect();
    assert_eq!(
        path,
        vec![
            (None, "NEW".into(), at(2024, 3, 12, 9, 14)),
            (Some("NEW".into()), "MQL".into(), at(2024, 3, 20, 10, 0)),
            (Some("MQL".into()), "SQL".into(), at(2024, 4, 2, 15, 30)),
            (
                Some("SQL".into()),
                "OPPORTUNITY".into(),
                at(2024, 4, 10, 9, 0)
            ),
            (
                Some("OPPORTUNITY".into()),
                "CUSTOMER".into(),
                at(2024, 6, 1, 12, 0)
            ),
        ]
    );

    let jonas = lead_of(&app, hs, "102").await;
    assert_eq!(jonas.stage, LeadStage::Sal, "IN_PROGRESS refines MQL");
    assert_eq!(jonas.mql_at, Some(at(2024, 3, 18, 9, 5)));
    let priya = lead_of(&app, hs, "103").await;
    assert_eq!(priya.stage, LeadStage::Sql);
    assert_eq!(
        priya.mql_at,
        Some(at(2024, 4, 9, 12, 0)),
        "the offset in the value counts"
    );
    assert_eq!(
        lead_of(&app, hs, "104").await.source,
        Channel::Other,
        "Direct Traffic"
    );
    let sofia = lead_of(&app, hs, "106").await;
    assert_eq!(
        (sofia.stage, sofia.source, sofia.account_id),
        (LeadStage::New, Channel::OrganicSocial, None)
    );
    assert_eq!(lead_of(&app, hs, "107").await.stage, LeadStage::Nurture);
    assert_eq!(
        lead_of(&app, hs, "107").await.country.as_deref(),
        Some("GB")
    );

    // What the API shows of an imported lead.
    let data = app.gql(Role::Admin,
        r#"{ leads(first: 5, filter: {search: "avery.chen"}) { nodes { stage mqlAt account { name } owner { email } } } }"#,
        json!({})).await;
    let node = &data["leads"]["nodes"][0];
    assert_eq!(node["stage"], "CUSTOMER");
    assert_eq!(node["account"]["name"], "Brightpath Logistics");
    assert_eq!(node["owner"]["email"], "sales@handoff.demo");
    assert!(
        node["mqlAt"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-20T10:00:00")
    );

    let (s, _) = import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &companies,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [11, 0, 0, 8, 3]);
    let (s, _) = import(
        &app,
        System::Hubspot,
        ObjectKind::Leads,
        &contacts,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [13, 0, 0, 8, 5]);
}

#[db_test]
async fn salesforce_accounts_and_leads_import_past_a_malformed_line_and_reimport_unchanged(
    app: TestApp,
) {
    add_sample_owners(&app).await;
    let sf = ExternalSystem::Salesforce;
    let accounts = sample("salesforce/accounts.csv");
    let leads = sample("salesforce/leads.csv");

    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Accounts,
        &accounts,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [11, 9, 0, 0, 2], "{failed}");
    assert_failed(
        &failed,
        &[
            ("10", "REQUIRED (Account Name)"),
            ("11", "IN_FUTURE (Created Date)"),
        ],
    );
    // An owner who is not a Handoff user: imported unowned, listed once.
    assert_eq!(s.unknown_owners, [("Pat Former".to_owned(), 1)]);
    assert_eq!(
        account_of(&app, sf, "001Hs00001aBcDoIAA").await.owner_id,
        None
    );
    let ironclad = account_of(&app, sf, "001Hs00001aBcDlIAA").await;
    assert_eq!(
        owner_email(&app, ironclad.owner_id).await.as_deref(),
        Some("sales@handoff.demo"),
        "an owner exported by name"
    );
    let corvid = account_of(&app, sf, "001Hs00001aBcDeIAA").await;
    assert_eq!(corvid.domain.as_deref(), Some("corvid-security.com"));
    assert_eq!(corvid.country.as_deref(), Some("US"));
    assert_eq!(corvid.created_at, at(2024, 1, 9, 11, 20));
    assert_eq!(
        account_of(&app, sf, "001Hs00001aBcDfIAA")
            .await
            .country
            .as_deref(),
        Some("GB")
    );
    assert_eq!(
        account_of(&app, sf, "001Hs00001aBcDhIAA")
            .await
            .annual_revenue,
        Some(27_000_000.into())
    );

    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Leads,
        &leads,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [13, 9, 0, 0, 4], "{failed}");
    assert_eq!(s.malformed, 1);
    assert_failed(
        &failed,
        &[
            ("11", "MALFORMED: the line has 14 fields, the header 13"),
            ("12", "INVALID (Email)"),
            ("13", "UNKNOWN_STAGE (lead status)"),
            ("14", "IN_FUTURE (Created Date)"),
        ],
    );
    assert!(
        failed.contains("Acme"),
        "the malformed line's fields are kept: {failed}"
    );

    let hannah = lead_of(&app, sf, "00QHs00000Xy1aAAA").await;
    assert_eq!(hannah.stage, LeadStage::Mql);
    assert_eq!(hannah.mql_at, Some(at(2024, 1, 10, 9, 30)));
    assert_eq!(hannah.account_id, Some(corvid.id));
    assert_eq!(hannah.source, Channel::Other, "Web");
    assert_eq!(
        lead_of(&app, sf, "00QHs00000Xy1bAAA").await.stage,
        LeadStage::Sal
    );
    assert_eq!(
        lead_of(&app, sf, "00QHs00000Xy1bAAA").await.source,
        Channel::Event
    );
    assert_eq!(
        lead_of(&app, sf, "00QHs00000Xy1cAAA").await.stage,
        LeadStage::Sql
    );
    assert_eq!(
        lead_of(&app, sf, "00QHs00000Xy1dAAA").await.stage,
        LeadStage::Opportunity
    );
    let emma = lead_of(&app, sf, "00QHs00000Xy1eAAA").await;
    assert_eq!(
        (emma.stage, emma.created_at),
        (LeadStage::Nurture, at(2024, 3, 4, 23, 0))
    );
    assert_eq!(
        lead_of(&app, sf, "00QHs00000Xy1hAAA").await.stage,
        LeadStage::Sal
    );
    let isla = lead_of(&app, sf, "00QHs00000Xy1mAAA").await;
    assert_eq!(
        (isla.country.as_deref(), isla.source),
        (Some("CZ"), Channel::Outbound)
    );

    let (s, _) = import(
        &app,
        System::Salesforce,
        ObjectKind::Accounts,
        &accounts,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [11, 0, 0, 9, 2]);
    let (s, _) = import(
        &app,
        System::Salesforce,
        ObjectKind::Leads,
        &leads,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [13, 0, 0, 9, 4]);
}

#[db_test]
async fn a_mapping_file_renames_columns_and_adds_stage_and_source_values(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(
        &file,
        "Lead ID,E-mail Address,Lead Status,Lead Source,Created Date\n\
         L1,one@example.org,Contacted,Web,2024-05-01\n\
         L2,two@example.org,New,Inbound Call,2024-05-02\n",
    )
    .unwrap();

    // Without a mapping, the email column is unknown (which alone fails no
    // row: the id identifies a lead) and so are the values.
    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Leads,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [2, 0, 0, 0, 2]);
    assert_eq!(s.ignored_columns, vec!["E-mail Address".to_owned()]);
    assert_failed(
        &failed,
        &[
            ("2", "UNKNOWN_STAGE (Lead Status)"),
            ("3", "INVALID (Lead Source)"),
        ],
    );

    let mapping: Mapping = serde_json::from_value(json!({
        "columns": {"email": "e-mail address"},
        "stages": {"Contacted": "SAL"},
        "sources": {"Web": "ORGANIC_SEARCH", "inbound call": "OUTBOUND"}
    }))
    .unwrap();
    let (s, failed) = import(&app, System::Salesforce, ObjectKind::Leads, &file, mapping).await;
    assert_eq!(counts(&s), [2, 2, 0, 0, 0], "{failed}");
    assert_eq!(s.exit_code(), 0);
    assert!(s.failed_file.is_none());
    let one = lead_of(&app, ExternalSystem::Salesforce, "L1").await;
    assert_eq!(
        (one.email.as_deref(), one.stage, one.source),
        (
            Some("one@example.org"),
            LeadStage::Sal,
            Channel::OrganicSearch
        )
    );
    assert_eq!(
        lead_of(&app, ExternalSystem::Salesforce, "L2").await.source,
        Channel::Outbound
    );
}

#[db_test]
async fn malformed_lines_are_reported_by_line_number_and_the_rest_is_imported(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("companies.csv");
    std::fs::write(
        &file,
        "Record ID,Company name,Company Domain Name\n\
         1,\"Alpha, Inc\",alpha-inc.com\n\
         2,Beta,beta.example.com,extra\n\
         3,\"Gamma\nGroup\",gamma-group.com\n\
         4,Delta\n\
         5,Epsilon,epsilon.example.com\n",
    )
    .unwrap();
    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [5, 3, 0, 0, 2], "{failed}");
    assert_eq!(s.malformed, 2);
    assert_failed(
        &failed,
        &[
            ("3", "MALFORMED: the line has 4 fields, the header 3"),
            ("6", "MALFORMED: the line has 2 fields, the header 3"),
        ],
    );
    let gamma = account_of(&app, ExternalSystem::Hubspot, "3").await;
    assert_eq!(gamma.name, "Gamma\nGroup");
    assert_eq!(
        account_of(&app, ExternalSystem::Hubspot, "5").await.name,
        "Epsilon"
    );
}

#[db_test]
async fn the_import_acts_as_an_integration_user_unless_told_otherwise(app: TestApp) {
    let viewer = import::viewer(&app.db, None).await.unwrap();
    assert_eq!(viewer.user_id, app.user_id(Role::Integration));
    let admin = import::viewer(&app.db, Some("ADMIN@example.com"))
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    let refused = import::viewer(&app.db, Some("sales@example.com"))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("INTEGRATION or ADMIN"),
        "{refused}"
    );
    assert!(
        import::viewer(&app.db, Some("nobody@example.com"))
            .await
            .is_err()
    );
}

#[db_test]
async fn a_long_file_is_sent_in_batches_of_a_thousand_with_progress_after_each(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("companies.csv");
    let mut text = String::from("Record ID,Company name,Company Domain Name\n");
    for i in 0..2_100 {
        text += &format!("c{i},Company {i},company-{i}.example.com\n");
    }
    std::fs::write(&file, text).unwrap();
    let options = Options {
        system: System::Hubspot,
        object: ObjectKind::Accounts,
        file,
        mapping: Mapping::default(),
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: None,
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let mut seen = Vec::new();
    let summary = import::run(&app.db, &integration(&app), &options, &mut |p| {
        seen.push((p.rows, p.written, p.failed))
    })
    .await
    .unwrap();
    assert_eq!(
        seen,
        vec![(1_000, 1_000, 0), (2_000, 2_000, 0), (2_100, 2_100, 0)]
    );
    assert_eq!(counts(&summary), [2_100, 2_100, 0, 0, 0]);
    assert_eq!(summary.exit_code(), 0);
}

#[db_test]
async fn a_file_where_every_row_warns_keeps_the_first_warnings_and_counts_the_rest(app: TestApp) {
    // Each contact became an MQL and was then moved back to Lead in
    // HubSpot: Handoff keeps MQL and warns, once per row.
    let rows = import::WARNINGS_KEPT + 5;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contacts.csv");
    let mut text = String::from(
        "Record ID,Email,Lifecycle Stage,Create Date,Became a Marketing Qualified Lead Date\n",
    );
    for i in 0..rows {
        text += &format!("{i},c{i}@example.com,Lead,2024-03-01 09:00,2024-03-05 10:00\n");
    }
    std::fs::write(&file, text).unwrap();
    let (summary, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Leads,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&summary), [rows, rows, 0, 0, 0], "{failed}");
    assert_eq!(summary.warning_count, rows);
    assert_eq!(summary.warnings.len(), import::WARNINGS_KEPT);
    // The first ones, by line (the header is line 1).
    assert_eq!(summary.warnings[0].0, 2);
    assert!(
        summary.warnings[0].1.contains("kept stage MQL"),
        "{:?}",
        summary.warnings[0]
    );
    assert_eq!(
        summary.warnings.last().map(|(line, _)| *line),
        Some(import::WARNINGS_KEPT as u64 + 1)
    );
}

#[db_test]
async fn deals_of_both_systems_import_with_their_close_dates_and_reimport_unchanged(app: TestApp) {
    use entity::{enums::OpportunityStage, opportunity};
    add_sample_owners(&app).await;
    let hs = ExternalSystem::Hubspot;
    import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &sample("hubspot/companies.csv"),
        Mapping::default(),
    )
    .await;
    import(
        &app,
        System::Hubspot,
        ObjectKind::Leads,
        &sample("hubspot/contacts.csv"),
        Mapping::default(),
    )
    .await;
    let deals = sample("hubspot/deals.csv");
    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Opportunities,
        &deals,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [6, 4, 0, 0, 2], "{failed}");
    assert_failed(
        &failed,
        &[
            ("6", "UNKNOWN_STAGE (Deal Stage)"),
            ("7", "IN_FUTURE (Close Date)"),
        ],
    );
    let deal_of = |id: Uuid| opportunity::Entity::find_by_id(id).one(&app.db);
    let won = deal_of(object_id(&app, hs, ObjectType::Opportunity, "7001").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(won.stage, OpportunityStage::ClosedWon);
    assert_eq!(won.amount, 48_000.into());
    assert_eq!(won.created_at, at(2024, 4, 10, 9, 0));
    assert_eq!(won.closed_at, Some(at(2024, 6, 1, 12, 0)));
    assert_eq!(won.account_id, Some(account_of(&app, hs, "9001").await.id));
    assert_eq!(won.primary_lead_id, Some(lead_of(&app, hs, "101").await.id));
    let open = deal_of(object_id(&app, hs, ObjectType::Opportunity, "7002").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.stage, OpportunityStage::Negotiation);
    assert_eq!(open.closed_at, None);
    assert_eq!(
        open.expected_close_on,
        chrono::NaiveDate::from_ymd_opt(2024, 7, 30)
    );
    let (again, _) = import(
        &app,
        System::Hubspot,
        ObjectKind::Opportunities,
        &deals,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&again), [6, 0, 0, 4, 2]);

    let sf = ExternalSystem::Salesforce;
    import(
        &app,
        System::Salesforce,
        ObjectKind::Accounts,
        &sample("salesforce/accounts.csv"),
        Mapping::default(),
    )
    .await;
    let opportunities = sample("salesforce/opportunities.csv");
    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Opportunities,
        &opportunities,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [6, 4, 0, 0, 2], "{failed}");
    assert_failed(
        &failed,
        &[
            ("6", "OUT_OF_ORDER (Close Date)"),
            ("7", "REQUIRED (Amount)"),
        ],
    );
    let corvid = deal_of(object_id(&app, sf, ObjectType::Opportunity, "006Hs00000Ab1AAA").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(corvid.stage, OpportunityStage::ClosedWon);
    assert_eq!(corvid.closed_at, Some(at(2024, 3, 28, 0, 0)));
    assert_eq!(corvid.sourced_by, entity::enums::SourcedBy::Marketing);
    let renewal = deal_of(object_id(&app, sf, ObjectType::Opportunity, "006Hs00000Ab4AAA").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        renewal.opportunity_type,
        entity::enums::OpportunityType::Renewal
    );
    assert_eq!(renewal.sourced_by, entity::enums::SourcedBy::Sales);
    let (again, _) = import(
        &app,
        System::Salesforce,
        ObjectKind::Opportunities,
        &opportunities,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&again), [6, 0, 0, 4, 2]);
}

/// The failed file's `error` cell of each failed row, by line.
fn error_cells(text: &str) -> Vec<(String, Vec<String>)> {
    failures(text)
        .into_iter()
        .map(|(line, error)| (line, error.split(" | ").map(str::to_owned).collect()))
        .collect()
}

#[db_test]
async fn a_deal_row_lists_every_problem_and_every_unreadable_cell_on_its_line(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deals.csv");
    // Line 4 is a deal closed before it was created, whose contact
    // Handoff does not know, with a negative amount: the service's three
    // problems. Line 5 has three cells that cannot be read (the deal type
    // is the last column, so it comes last whatever order the cells are
    // read in). The blank line 3 counts.
    std::fs::write(
        &file,
        "Record ID,Deal Name,Amount,Deal Stage,Create Date,Close Date,Associated Contact IDs,Deal Type\r\n\
         8001,Fine deal,1000,appointmentscheduled,2024-05-01,2024-09-30,,newbusiness\r\n\
         \r\n\
         8002,Many problems,-5,closedwon,2024-05-01,2024-04-01,ghost-contact,newbusiness\r\n\
         8003,Unreadable,12abc,appointmentscheduled,not a date,2024-09-30,,freebie\r\n",
    )
    .unwrap();
    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Opportunities,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [3, 1, 0, 0, 2], "{failed}");
    let cells = error_cells(&failed);
    assert_eq!(cells.len(), 2, "{cells:#?}");
    assert_eq!(cells[0].0, "4");
    assert_eq!(
        cells[0].1,
        [
            "OUT_OF_RANGE (Amount): `amount.amount` must not be negative",
            "NOT_FOUND (Associated Contact IDs): `primaryLead` names no lead (external id \"ghost-contact\"); sync it first",
            "OUT_OF_ORDER (Close Date): `closedAt` (2024-04-01 00:00:00 UTC) is before the opportunity was created (2024-05-01 00:00:00 UTC)",
        ],
        "{failed}"
    );
    assert_eq!(cells[1].0, "5");
    let unreadable: Vec<&str> = cells[1]
        .1
        .iter()
        .map(|e| e.split(':').next().unwrap())
        .collect();
    assert_eq!(
        unreadable,
        [
            "INVALID (Amount)",
            "INVALID (Create Date)",
            "INVALID (Deal Type)"
        ],
        "{failed}"
    );
    assert!(
        cells[1].1[0].contains("\"12abc\" is not an amount"),
        "{failed}"
    );
    assert!(
        cells[1].1[1].contains("\"not a date\" is not a date"),
        "{failed}"
    );
}

#[db_test]
async fn the_failed_rows_file_neutralises_formulas_and_reads_back_as_the_original_values(
    app: TestApp,
) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("companies.csv");
    let hostile = r#"=HYPERLINK("http://evil.example","x")"#;
    // No Record ID: the row fails and is written to the failed file.
    std::fs::write(
        &file,
        format!("Record ID,Company name,Company Domain Name\n,\"{}\",evil.example\n,-12.5,minus.example\n", hostile.replace('"', "\"\"")),
    )
    .unwrap();
    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [2, 0, 0, 0, 2], "{failed}");
    let mut reader = csv::Reader::from_reader(failed.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0][3], format!("'{hostile}"), "{failed}");
    assert_eq!(rows[1][3], "-12.5", "a number stays a number: {failed}");

    // Fixed in a spreadsheet (ids filled in) and imported again: the
    // names are the original ones, without the quote.
    let fixed = dir.path().join("fixed.csv");
    let mut writer = csv::Writer::from_path(&fixed).unwrap();
    writer.write_record(reader.headers().unwrap()).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        row[2] = format!("c{i}");
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let (s, failed) = import(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        &fixed,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [2, 2, 0, 0, 0], "{failed}");
    assert_eq!(
        account_of(&app, ExternalSystem::Hubspot, "c0").await.name,
        hostile
    );
    assert_eq!(
        account_of(&app, ExternalSystem::Hubspot, "c1").await.name,
        "-12.5"
    );
}

#[db_test]
async fn salesforce_standard_deal_types_import_and_the_mapping_file_can_remap_them(app: TestApp) {
    use entity::{enums::OpportunityType, opportunity};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opportunities.csv");
    std::fs::write(
        &file,
        "Opportunity ID,Opportunity Name,Amount,Stage,Created Date,Type\n\
         006A,Upgrade,1000,Prospecting,2024-03-01,Existing Customer - Upgrade\n\
         006B,New logo,2000,Prospecting,2024-03-01,New Customer\n\
         006C,Swap,3000,Prospecting,2024-03-01,Existing Customer - Replacement\n\
         006D,Smaller,4000,Prospecting,2024-03-01,Existing Customer - Downgrade\n\
         006E,Trial,5000,Prospecting,2024-03-01,Pilot\n",
    )
    .unwrap();
    let sf = ExternalSystem::Salesforce;
    let type_of = async |id: &str| {
        let id = object_id(&app, sf, ObjectType::Opportunity, id).await;
        opportunity::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .opportunity_type
    };

    // The standard values map by default; an unknown one fails its row,
    // naming the column and the way to map it.
    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Opportunities,
        &file,
        Mapping::default(),
    )
    .await;
    assert_eq!(counts(&s), [5, 4, 0, 0, 1], "{failed}");
    assert!(
        failed.contains("\n6,\"INVALID (Type): \"\"Pilot\"\" is not a deal type the import knows: map it in the mapping file's \"\"types\"\""),
        "{failed}"
    );
    assert_eq!(type_of("006A").await, OpportunityType::Expansion);
    assert_eq!(type_of("006B").await, OpportunityType::NewBusiness);
    assert_eq!(type_of("006C").await, OpportunityType::Renewal);
    assert_eq!(type_of("006D").await, OpportunityType::Renewal);

    // The mapping file's types come first.
    let mapping: Mapping = serde_json::from_value(json!({
        "types": { "existing customer-downgrade": "EXPANSION", "Pilot": "new_business" }
    }))
    .unwrap();
    let (s, failed) = import(
        &app,
        System::Salesforce,
        ObjectKind::Opportunities,
        &file,
        mapping,
    )
    .await;
    assert_eq!(counts(&s), [5, 1, 1, 3, 0], "{failed}");
    assert_eq!(type_of("006D").await, OpportunityType::Expansion);
    assert_eq!(type_of("006E").await, OpportunityType::NewBusiness);

    // A mapping to something that is no deal type is refused before any row.
    let bad: Mapping = serde_json::from_value(json!({ "types": { "Pilot": "FREEBIE" } })).unwrap();
    let options = Options {
        system: System::Salesforce,
        object: ObjectKind::Opportunities,
        file: file.clone(),
        mapping: bad,
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: Some(dir.path().join("failed.csv")),
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let error = import::run(&app.db, &integration(&app), &options, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"FREEBIE\", which is not a deal type"),
        "{error}"
    );
}

#[db_test]
async fn owners_who_are_not_users_are_left_out_failed_or_assigned_as_asked(app: TestApp) {
    use handoff::import::UnknownOwner;
    add_sample_owners(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("companies.csv");
    std::fs::write(
        &file,
        "Record ID,Company name,Company owner\n\
         1,Known by email,sales@handoff.demo\n\
         2,Known by name,Maya Marketing\n\
         3,Former rep,Pat Former\n\
         4,Former rep again,pat former\n\
         5,Outside email,pat@agency.example\n",
    )
    .unwrap();
    let hs = ExternalSystem::Hubspot;
    let run = async |unknown_owner: UnknownOwner| {
        let options = Options {
            system: System::Hubspot,
            object: ObjectKind::Accounts,
            file: file.clone(),
            mapping: Mapping::default(),
            currency: "USD".into(),
            offset: chrono::FixedOffset::east_opt(0).unwrap(),
            failed: Some(dir.path().join("failed.csv")),
            unknown_owner,
            dry_run: false,
        };
        let summary = import::run(&app.db, &integration(&app), &options, &mut |_| {})
            .await
            .unwrap();
        let failed = match &summary.failed_file {
            Some(path) => std::fs::read_to_string(path).unwrap(),
            None => String::new(),
        };
        (summary, failed)
    };
    let owner_of =
        async |id: &str| owner_email(&app, account_of(&app, hs, id).await.owner_id).await;

    // `fail`: the rows of unknown owners fail, naming them.
    let (s, failed) = run(UnknownOwner::Fail).await;
    assert_eq!(counts(&s), [5, 2, 0, 0, 3], "{failed}");
    assert_failed(
        &failed,
        &[
            ("4", "NOT_FOUND (Company owner)"),
            ("5", "NOT_FOUND (Company owner)"),
            ("6", "NOT_FOUND (Company owner)"),
        ],
    );
    assert!(s.unknown_owners.is_empty());

    // The default: imported without an owner; each owner listed once, as
    // first written, with its rows (names compare as the owner match does).
    let (s, failed) = run(UnknownOwner::default()).await;
    assert_eq!(counts(&s), [5, 3, 0, 2, 0], "{failed}");
    assert_eq!(
        s.unknown_owners,
        [
            ("Pat Former".to_owned(), 2),
            ("pat@agency.example".to_owned(), 1)
        ]
    );
    assert_eq!(owner_of("1").await.as_deref(), Some("sales@handoff.demo"));
    assert_eq!(
        owner_of("2").await.as_deref(),
        Some("marketing@handoff.demo")
    );
    assert_eq!(owner_of("3").await, None);
    assert_eq!(owner_of("5").await, None);

    // `assign:EMAIL`: the records go to that user.
    let (s, failed) = run(UnknownOwner::Assign("sales@handoff.demo".into())).await;
    assert_eq!(counts(&s), [5, 0, 3, 2, 0], "{failed}");
    assert_eq!(owner_of("3").await.as_deref(), Some("sales@handoff.demo"));
    assert_eq!(owner_of("5").await.as_deref(), Some("sales@handoff.demo"));

    // An assignee who is not an active user stops the import before a row.
    let options = Options {
        system: System::Hubspot,
        object: ObjectKind::Accounts,
        file: file.clone(),
        mapping: Mapping::default(),
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: None,
        unknown_owner: "assign:nobody@example.org".parse().unwrap(),
        dry_run: false,
    };
    let error = import::run(&app.db, &integration(&app), &options, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no active user has this email"), "{error}");
    assert!("assign:".parse::<UnknownOwner>().is_err());
    assert!("sometimes".parse::<UnknownOwner>().is_err());
}

/// Imports `text` as `object` of `system` with `dry_run` as given.
async fn import_text(
    app: &TestApp,
    system: System,
    object: ObjectKind,
    text: &str,
    mapping: Mapping,
    dry_run: bool,
) -> (Summary, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, text).unwrap();
    let options = Options {
        system,
        object,
        file,
        mapping,
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: Some(dir.path().join("failed.csv")),
        unknown_owner: Default::default(),
        dry_run,
    };
    let summary = import::run(&app.db, &integration(app), &options, &mut |_| {})
        .await
        .unwrap();
    let failed = match &summary.failed_file {
        Some(path) => std::fs::read_to_string(path).unwrap(),
        None => String::new(),
    };
    (summary, failed)
}

#[db_test]
async fn a_dry_run_reports_what_an_import_would_do_and_stores_nothing(app: TestApp) {
    let companies = "Record ID,Company name,Company Domain Name,Number of Employees\r\n\
                     c1,One,one.example.com,10\r\n\
                     c2,Two,two.example.com,lots\r\n\
                     c3,Three,one.example.com,5\r\n";
    let (dry, dry_failed) = import_text(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        companies,
        Mapping::default(),
        true,
    )
    .await;
    assert!(dry.dry_run);
    // The database's checks run too: c3 takes c1's domain in the same
    // transaction, so it fails as it would for real.
    assert_eq!(counts(&dry), [3, 1, 0, 0, 2]);
    assert!(
        dry_failed.contains("3,\"INVALID (Number of Employees)"),
        "{dry_failed}"
    );
    assert!(
        dry_failed.contains("4,TAKEN (Company Domain Name)"),
        "{dry_failed}"
    );
    assert_eq!(account::Entity::find().all(&app.db).await.unwrap().len(), 0);
    assert_eq!(
        external_id::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        0
    );

    let (real, real_failed) = import_text(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        companies,
        Mapping::default(),
        false,
    )
    .await;
    assert!(!real.dry_run);
    assert_eq!(counts(&real), counts(&dry));
    assert_eq!(real_failed, dry_failed);
    assert_eq!(account::Entity::find().all(&app.db).await.unwrap().len(), 1);

    // A dry run over stored records says what would change.
    let (again, _) = import_text(
        &app,
        System::Hubspot,
        ObjectKind::Accounts,
        "Record ID,Company name\nc1,One Renamed\n",
        Mapping::default(),
        true,
    )
    .await;
    assert_eq!(counts(&again), [1, 0, 1, 0, 0]);
    assert_eq!(
        account_of(&app, ExternalSystem::Hubspot, "c1").await.name,
        "One"
    );
}

#[db_test]
async fn the_mapping_file_maps_lead_statuses_and_seniorities(app: TestApp) {
    use entity::enums::Seniority;
    let contacts = "Record ID,Email,Seniority,Lifecycle Stage,Lead Status,Original Source\n\
                    1,a@example.com,Vice President,lead,Call back later,Organic Search\n\
                    2,b@example.com,Head of,lead,In Progress,Organic Search\n\
                    3,c@example.com,Intern,lead,,Organic Search\n\
                    4,d@example.com,c_level,lead,Open,Organic Search\n";
    let mapping: Mapping = serde_json::from_value(json!({
        "statuses": {"call back later": "NURTURE"},
        "seniorities": {"Head of": "DIRECTOR"}
    }))
    .unwrap();
    let (s, failed) = import_text(
        &app,
        System::Hubspot,
        ObjectKind::Leads,
        contacts,
        mapping,
        false,
    )
    .await;
    assert_eq!(counts(&s), [4, 3, 0, 0, 1], "{failed}");
    assert!(
        failed.contains("4,\"INVALID (Seniority): \"\"Intern\"\" is not a seniority"),
        "{failed}"
    );
    let hs = ExternalSystem::Hubspot;
    let one = lead_of(&app, hs, "1").await;
    assert_eq!(
        (one.seniority, one.stage),
        (Some(Seniority::Vp), LeadStage::Nurture)
    );
    let two = lead_of(&app, hs, "2").await;
    assert_eq!(
        (two.seniority, two.stage),
        (Some(Seniority::Director), LeadStage::Sal)
    );
    let four = lead_of(&app, hs, "4").await;
    assert_eq!(
        (four.seniority, four.stage),
        (Some(Seniority::CLevel), LeadStage::New)
    );

    // A mapping to a seniority Handoff does not have stops the import.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, contacts).unwrap();
    let options = Options {
        system: System::Hubspot,
        object: ObjectKind::Leads,
        file,
        mapping: serde_json::from_value(json!({"seniorities": {"Boss": "CEO"}})).unwrap(),
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: None,
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let error = import::run(&app.db, &integration(&app), &options, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"CEO\", which is not a seniority"),
        "{error}"
    );
}

#[db_test]
async fn salesforce_opportunities_find_their_account_by_name_when_they_lack_its_id(app: TestApp) {
    use entity::opportunity;
    import_text(
        &app,
        System::Salesforce,
        ObjectKind::Accounts,
        "Account ID,Account Name\nA1,Corvid Security\nA2,Twin Co\nA3,Twin  co\n",
        Mapping::default(),
        false,
    )
    .await;
    let (s, failed) = import_text(
        &app,
        System::Salesforce,
        ObjectKind::Opportunities,
        "Opportunity ID,Opportunity Name,Account Name,Account ID,Amount,Stage,Type\n\
         O1,Rollout, corvid  SECURITY ,,1000,Prospecting,New Customer\n\
         O2,Twin deal,Twin Co,,1000,Prospecting,New Customer\n\
         O3,Twin deal by id,Twin Co,A2,1000,Prospecting,New Customer\n\
         O4,Nobody's deal,Nobody Inc,,1000,Prospecting,New Customer\n",
        Mapping::default(),
        false,
    )
    .await;
    assert_eq!(counts(&s), [4, 2, 0, 0, 2], "{failed}");
    assert!(
        failed.contains("3,\"INVALID (Account Name): several accounts are named \"\"Twin Co\"\""),
        "{failed}"
    );
    assert!(
        failed.contains("5,\"NOT_FOUND (Account Name): no account is named \"\"Nobody Inc\"\""),
        "{failed}"
    );
    let sf = ExternalSystem::Salesforce;
    let corvid = account_of(&app, sf, "A1").await.id;
    let o1 = object_id(&app, sf, ObjectType::Opportunity, "O1").await;
    let o1 = opportunity::Entity::find_by_id(o1)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o1.account_id, Some(corvid));
    let twin = account_of(&app, sf, "A2").await.id;
    let o3 = object_id(&app, sf, ObjectType::Opportunity, "O3").await;
    let o3 = opportunity::Entity::find_by_id(o3)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        o3.account_id,
        Some(twin),
        "the Account ID wins over the name"
    );
}

#[db_test]
async fn a_salesforce_leads_company_facts_fill_its_accounts_gaps_only(app: TestApp) {
    import_text(
        &app,
        System::Salesforce,
        ObjectKind::Accounts,
        "Account ID,Account Name,Industry\nA1,Corvid Security,Security\nA2,Meridian Bank,\n",
        Mapping::default(),
        false,
    )
    .await;
    let (s, failed) = import_text(
        &app,
        System::Salesforce,
        ObjectKind::Leads,
        "Lead ID,Last Name,Company,Email,Industry,No. of Employees,Annual Revenue,Converted Account ID\n\
         L1,Lee,Corvid Security,lee@corvid.example,Technology,800,64000000,A1\n\
         L2,Grant,Meridian Bank,grant@meridian.example,Banking,\"12,000\",2100000000,A2\n\
         L3,Young,Meridian Bank,young@meridian.example,Insurance,5,,A2\n\
         L4,Martin,Blue Heron,martin@blueheron.example,Software,45,,\n",
        Mapping::default(),
        false,
    )
    .await;
    assert_eq!(counts(&s), [4, 4, 0, 0, 0], "{failed}");
    let sf = ExternalSystem::Salesforce;
    let corvid = account_of(&app, sf, "A1").await;
    assert_eq!(
        (corvid.industry.as_deref(), corvid.employee_count),
        (Some("Security"), Some(800)),
        "an account's own industry stays; its missing head count is filled"
    );
    let meridian = account_of(&app, sf, "A2").await;
    assert_eq!(
        (
            meridian.industry.as_deref(),
            meridian.employee_count,
            meridian.annual_revenue.map(|r| r.normalize().to_string()),
            meridian.currency.as_deref()
        ),
        (
            Some("Banking"),
            Some(12_000),
            Some("2100000000".to_owned()),
            Some("USD")
        ),
        "the first lead of an account fills its gaps"
    );
    assert_eq!(
        s.unplaced,
        vec![(
            "Industry, No. of Employees and Annual Revenue of leads without a Converted Account ID (company facts go to the lead's account)".to_owned(),
            1
        )]
    );
}
