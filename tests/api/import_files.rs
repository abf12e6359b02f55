//! `handoff import` on files as other tools write them: CRLF and LF line
//! ends (the failed-rows file's line numbers).

use entity::{
    account,
    enums::{ExternalSystem, ObjectType},
    external_id,
};
use handoff::import::{ObjectKind, Summary, System};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use test_macros::db_test;

use crate::common::TestApp;

fn counts(s: &Summary) -> [usize; 5] {
    [s.rows, s.created, s.updated, s.unchanged, s.failed]
}

/// The failed-rows file as its header and `(line, error)` rows.
fn failures(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect();
    (headers, rows)
}

fn assert_failed(text: &str, expected: &[(&str, &str)]) {
    let (_, got) = failures(text);
    assert_eq!(got.len(), expected.len(), "failed rows: {got:#?}");
    for ((line, error), (want_line, want_start)) in got.iter().zip(expected) {
        assert_eq!(line, want_line, "{error}");
        assert!(
            error.starts_with(want_start),
            "line {line}: {error:?} does not start with {want_start:?}"
        );
    }
}

/// The name of the HubSpot company `id`, if it was imported.
async fn company_name(app: &TestApp, id: &str) -> Option<String> {
    let link = external_id::Entity::find()
        .filter(external_id::Column::System.eq(ExternalSystem::Hubspot))
        .filter(external_id::Column::ObjectType.eq(ObjectType::Account))
        .filter(external_id::Column::ExternalId.eq(id))
        .one(&app.db)
        .await
        .unwrap()?;
    account::Entity::find_by_id(link.object_id)
        .one(&app.db)
        .await
        .unwrap()
        .map(|a| a.name)
}

/// A companies export with line ends `eol` and ids prefixed `p`: quoted
/// cells over two and three lines, each followed by a bad row, a blank
/// line, and a row the service refuses. The physical lines are in the
/// comments.
fn companies_text(eol: &str, p: &str) -> String {
    [
        "Record ID,Company name,Company Domain Name", // 1
        &format!("{p}1,\"Alpha, Inc\",{p}alpha.example.com"), // 2
        &format!("{p}2,\"Beta"),                      // 3
        &format!("Holdings\",{p}beta.example.com"),   // 4
        &format!("{p}3,Gamma,{p}gamma.example.com,extra"), // 5: four fields
        &format!("{p}4,\"Delta"),                     // 6
        "Dynamics",                                   // 7
        &format!("Group\",{p}delta.example.com"),     // 8
        &format!("{p}5,Epsilon"),                     // 9: two fields
        "",                                           // 10: blank
        &format!("{p}6,,{p}zeta.example.com"),        // 11: no name
        &format!("{p}7,Eta,{p}eta.example.com"),      // 12
    ]
    .join(eol)
        + eol
}

#[db_test]
async fn failed_rows_carry_the_physical_line_they_start_on_for_lf_crlf_and_cr(app: TestApp) {
    for (eol, p) in [("\n", "lf"), ("\r\n", "crlf"), ("\r", "cr")] {
        let text = companies_text(eol, p);
        let (s, failed) = app
            .import_csv(System::Hubspot, ObjectKind::Accounts, &text, 0)
            .await;
        assert_eq!(counts(&s), [7, 4, 0, 0, 3], "{p}: {failed}");
        assert_eq!(s.malformed, 2, "{p}");
        assert_failed(
            &failed,
            &[
                ("5", "MALFORMED: the line has 4 fields, the header 3"),
                ("9", "MALFORMED: the line has 2 fields, the header 3"),
                ("11", "REQUIRED (Company name)"),
            ],
        );
        // The multi-line names are kept, line breaks as the file has them.
        assert_eq!(
            company_name(&app, &format!("{p}2")).await.as_deref(),
            Some(format!("Beta{eol}Holdings").as_str())
        );
        assert_eq!(
            company_name(&app, &format!("{p}4")).await.as_deref(),
            Some(format!("Delta{eol}Dynamics{eol}Group").as_str())
        );
        assert!(company_name(&app, &format!("{p}7")).await.is_some());
    }
}
