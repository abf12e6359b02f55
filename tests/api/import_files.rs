//! `handoff import` on files as other tools write them: CRLF and LF line
//! ends (the failed-rows file's line numbers), byte order marks and UTF-16,
//! bytes that are not UTF-8, and header lines the import refuses before
//! any row is written.

use std::path::PathBuf;

use entity::{
    account,
    enums::{ExternalSystem, ObjectType, Role, Team},
    external_id,
};
use handoff::{
    auth::Viewer,
    import::{self, ObjectKind, Options, Summary, System},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use test_macros::db_test;

use crate::common::TestApp;

/// Imports `bytes` as a HubSpot companies export (or `object` of
/// `system`); the summary and the failed-rows file's text, or the error
/// as the command prints it (`error: {e:#}`), in which case no failed-rows
/// file was written.
async fn import_bytes(
    app: &TestApp,
    system: System,
    object: ObjectKind,
    bytes: &[u8],
) -> Result<(Summary, String), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, bytes).unwrap();
    let failed: PathBuf = dir.path().join("failed.csv");
    let options = Options {
        system,
        object,
        file,
        mapping: Default::default(),
        currency: "USD".into(),
        offset: chrono::FixedOffset::east_opt(0).unwrap(),
        failed: Some(failed.clone()),
        unknown_owner: Default::default(),
        dry_run: false,
    };
    let viewer = Viewer {
        user_id: app.user_id(Role::Integration),
        role: Role::Integration,
        team: Team::Revops,
    };
    match import::run(&app.db, &viewer, &options, &mut |_| {}).await {
        Ok(summary) => {
            let text = match &summary.failed_file {
                Some(path) => std::fs::read_to_string(path).unwrap(),
                None => String::new(),
            };
            Ok((summary, text))
        }
        Err(e) => {
            assert!(!failed.exists(), "a refused file writes no failed rows");
            Err(format!("{e:#}"))
        }
    }
}

async fn companies(app: &TestApp, bytes: &[u8]) -> Result<(Summary, String), String> {
    import_bytes(app, System::Hubspot, ObjectKind::Accounts, bytes).await
}

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

async fn account_count(app: &TestApp) -> u64 {
    account::Entity::find().count(&app.db).await.unwrap()
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

/// `text` as UTF-16 with its byte order mark.
fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        bytes.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}

#[db_test]
async fn a_utf8_byte_order_mark_is_dropped_so_the_first_header_matches(app: TestApp) {
    // Excel's "CSV UTF-8" starts with EF BB BF, here before a quoted header.
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(
        "\"Record ID\",Company name,Company Domain Name\r\n\
         b1,Café Zoë,cafe.example.com\r\n\
         b2,\"Broken\",x,y\r\n"
            .as_bytes(),
    );
    let (s, failed) = companies(&app, &bytes).await.unwrap();
    assert_eq!(counts(&s), [2, 1, 0, 0, 1], "{failed}");
    assert!(s.ignored_columns.is_empty(), "{:?}", s.ignored_columns);
    assert_eq!(company_name(&app, "b1").await.as_deref(), Some("Café Zoë"));
    // The failed file's headers are the file's, without the mark.
    let (headers, _) = failures(&failed);
    assert_eq!(headers[2], "Record ID");
    assert_failed(&failed, &[("3", "MALFORMED")]);
}

#[db_test]
async fn utf16_files_with_a_byte_order_mark_are_decoded(app: TestApp) {
    for (big_endian, p) in [(false, "le"), (true, "be")] {
        let text = format!(
            "Record ID,Company name,Company Domain Name\r\n\
             {p}1,\"Café Zoë 😀\nand Co\",{p}zoe.example.com\r\n\
             {p}2,Bad,row,here\r\n\
             {p}3,Ørsted,{p}orsted.example.com\r\n"
        );
        let (s, failed) = companies(&app, &utf16(&text, big_endian)).await.unwrap();
        assert_eq!(counts(&s), [3, 2, 0, 0, 1], "{p}: {failed}");
        assert_failed(
            &failed,
            &[("4", "MALFORMED: the line has 4 fields, the header 3")],
        );
        assert_eq!(
            company_name(&app, &format!("{p}1")).await.as_deref(),
            Some("Café Zoë 😀\nand Co")
        );
        assert_eq!(
            company_name(&app, &format!("{p}3")).await.as_deref(),
            Some("Ørsted")
        );
    }
}

#[db_test]
async fn rows_that_are_not_text_fail_and_nothing_is_stored_as_mojibake(app: TestApp) {
    // Windows-1252: "Café" with é as the one byte E9.
    let (s, failed) = companies(
        &app,
        b"Record ID,Company name,Company Domain Name\n\
          w1,Caf\xE9,cafe.example.com\n\
          w2,Plain,plain.example.com\n",
    )
    .await
    .unwrap();
    assert_eq!(counts(&s), [2, 1, 0, 0, 1], "{failed}");
    assert_failed(&failed, &[("2", "MALFORMED: the line is not UTF-8")]);
    assert_eq!(company_name(&app, "w1").await, None);

    // UTF-16 with an unpaired surrogate in the second row's name.
    let mut bytes = utf16(
        "Record ID,Company name,Company Domain Name\nu1,Fine,fine.example.com\nu2,",
        false,
    );
    bytes.extend([0x3D, 0xD8]);
    bytes.extend(&utf16("x,x.example.com\nu3,Also fine,also.example.com\n", false)[2..]);
    let (s, failed) = companies(&app, &bytes).await.unwrap();
    assert_eq!(counts(&s), [3, 2, 0, 0, 1], "{failed}");
    assert_failed(
        &failed,
        &[("3", "MALFORMED: the line is not valid UTF-16LE")],
    );
    assert_eq!(company_name(&app, "u2").await, None);

    // A header line that is not UTF-8 stops the import.
    let refused = companies(&app, b"Record ID,Soci\xE9t\xE9\nz1,x\n")
        .await
        .unwrap_err();
    assert!(refused.contains("the line is not UTF-8"), "{refused}");
    // UTF-32 is named and refused.
    let refused = companies(&app, b"\xFF\xFE\0\0R\0\0\0").await.unwrap_err();
    assert!(refused.contains("UTF-32"), "{refused}");
    assert_eq!(company_name(&app, "z1").await, None);
}

#[db_test]
async fn a_column_twice_is_refused_by_name_before_any_row_is_written(app: TestApp) {
    let refused = companies(
        &app,
        b"Record ID,Company name,Company Domain Name,Company Name\n\
          d1,One,one.example.com,Uno\n",
    )
    .await
    .unwrap_err();
    assert!(
        refused.contains(
            "the columns \"Company name\" and \"Company Name\" (columns 2 and 4) are the same column"
        ),
        "{refused}"
    );
    // A column the import does not read is no exception.
    let refused = companies(&app, b"Record ID,Company name,Notes,Notes\nd2,Two,a,b\n")
        .await
        .unwrap_err();
    assert!(
        refused.contains("the column \"Notes\" appears twice (columns 3 and 4)"),
        "{refused}"
    );
    assert_eq!(account_count(&app).await, 0);
}

#[db_test]
async fn a_file_without_its_id_column_is_refused_naming_the_column(app: TestApp) {
    let refused = companies(
        &app,
        b"Company name,Company Domain Name\nOne,one.example.com\n",
    )
    .await
    .unwrap_err();
    assert!(
        refused.contains(
            "the file has no id column: it needs a \"Record ID\" column (or \"Company ID\")"
        ),
        "{refused}"
    );
    let refused = import_bytes(
        &app,
        System::Salesforce,
        ObjectKind::Leads,
        b"\xEF\xBB\xBFLead,Email\r\n00Q1,one@example.org\r\n",
    )
    .await
    .unwrap_err();
    assert!(
        refused.contains("it needs a \"Lead ID\" column (or \"Id\")"),
        "{refused}"
    );
    assert_eq!(account_count(&app).await, 0);
}
