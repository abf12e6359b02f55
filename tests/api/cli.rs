//! The way into an empty database: `handoff user create` then `handoff
//! token`, run as the binary a user runs, on a database nothing else has
//! touched (a fresh SQLite data directory; a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` names a server).

use std::process::{Command, Output};

use entity::{
    enums::{Role, Team},
    user,
};
use jsonwebtoken::{DecodingKey, Validation};
use sea_orm::{ConnectionTrait, Database, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::common::TEST_SECRET;

/// Where the binary finds its database.
enum Target {
    /// An empty data directory: the embedded SQLite file is created there.
    Sqlite(tempfile::TempDir),
    /// A database created for the test (`DATABASE_URL`), dropped at the end.
    Postgres { server: String, name: String },
}

impl Target {
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Sqlite(dir) => vec![("HANDOFF_DATA_DIR", dir.path().display().to_string())],
            Self::Postgres { server, name } => vec![("DATABASE_URL", with_database(server, name))],
        }
    }

    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}/handoff.db", dir.path().display()),
            Self::Postgres { server, name } => with_database(server, name),
        }
    }
}

/// `postgres://user@host:port/NAME`, the server's URL with another database.
fn with_database(server: &str, name: &str) -> String {
    let base = server.split('?').next().unwrap_or(server);
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    format!("{root}/{name}")
}

async fn targets() -> Vec<Target> {
    let mut targets = vec![Target::Sqlite(tempfile::tempdir().unwrap())];
    if let Ok(server) = std::env::var("TEST_DATABASE_URL")
        && !server.trim().is_empty()
    {
        let name = format!("handoff_cli_{}", Uuid::new_v4().simple());
        let admin = Database::connect(&server).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        targets.push(Target::Postgres { server, name });
    }
    targets
}

async fn drop_target(target: Target) {
    if let Target::Postgres { server, name } = target {
        let admin = Database::connect(&server).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}

fn handoff(target: &Target, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handoff"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env(
            "HANDOFF_JWT_SECRET",
            std::str::from_utf8(TEST_SECRET).unwrap(),
        )
        .env("RUST_LOG", "warn");
    for (key, value) in target.env() {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_database_is_entered_with_user_create_then_token() {
    for target in targets().await {
        let on = match target {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres { .. } => "PostgreSQL",
        };

        // A token on a database nobody has migrated is refused, and says how
        // to go on; nothing is created.
        let out = handoff(&target, &["token", "--role", "ADMIN"]);
        assert!(!out.status.success(), "{on}: token on an empty database");
        let err = text(&out.stderr);
        assert!(
            err.contains("not migrated") && err.contains("handoff user create"),
            "{on}: {err}"
        );

        // The first user: the database is migrated, and the command says so.
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                " Ada@Example.COM ",
                "--name",
                "Ada Lovelace",
                "--role",
                "admin",
            ],
        );
        assert!(out.status.success(), "{on}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("migrated the database"),
            "{on}: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("created user ada@example.com (Ada Lovelace, ADMIN, team REVOPS)"),
            "{on}: {stdout}"
        );

        // Run again, with other fields: the user is left as it is.
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                "ada@example.com",
                "--name",
                "Someone Else",
                "--role",
                "SALES",
            ],
        );
        assert!(out.status.success(), "{on}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("user ada@example.com already exists (ADMIN, active)"),
            "{on}: {}",
            text(&out.stdout)
        );
        assert!(
            !text(&out.stderr).contains("migrated the database"),
            "{on}: migrated twice"
        );

        // Bad input: one line naming the option, nothing written.
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                "not-an-email",
                "--name",
                "X",
                "--role",
                "SALES",
            ],
        );
        assert!(!out.status.success(), "{on}: a bad email was accepted");
        assert!(
            text(&out.stderr).contains("--email"),
            "{on}: {}",
            text(&out.stderr)
        );

        // A SALES user gets the SALES team by default.
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                "sam@example.com",
                "--name",
                "Sam",
                "--role",
                "SALES",
            ],
        );
        assert!(text(&out.stdout).contains("SALES, team SALES"), "{on}");

        // The token names the new admin with its role.
        let out = handoff(
            &target,
            &["token", "--role", "ADMIN", "--sub", "ada@example.com"],
        );
        assert!(out.status.success(), "{on}: {}", text(&out.stderr));
        let token = text(&out.stdout).trim().to_owned();
        let mut validation = Validation::default();
        validation.set_audience(&["handoff-api"]);
        let claims = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_secret(TEST_SECRET),
            &validation,
        )
        .unwrap()
        .claims;

        let db = Database::connect(target.url()).await.unwrap();
        let users = user::Entity::find().all(&db).await.unwrap();
        assert_eq!(users.len(), 2, "{on}: the bad email wrote nothing");
        let ada = users.iter().find(|u| u.email == "ada@example.com").unwrap();
        assert_eq!(
            (ada.name.as_str(), ada.role, ada.team, ada.active),
            ("Ada Lovelace", Role::Admin, Team::Revops, true),
            "{on}"
        );
        assert_eq!(claims["sub"], ada.id.to_string(), "{on}");
        assert_eq!(claims["role"], "ADMIN", "{on}");
        db.close().await.unwrap();
        drop_target(target).await;
    }
}

/// `handoff import` as run: a header line it refuses stops it with exit
/// code 1 and one `error:` line naming the column, before any row and
/// without a failed-rows file; a UTF-16 file with a BOM and CRLF line ends
/// imports, its bad row reported on its physical line with exit code 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_bad_header_line_with_exit_code_1_and_reads_utf16() {
    for target in targets().await {
        let on = match target {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres { .. } => "PostgreSQL",
        };
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                "ops@example.com",
                "--name",
                "Ops",
                "--role",
                "admin",
            ],
        );
        assert!(out.status.success(), "{on}: {}", text(&out.stderr));
        let dir = tempfile::tempdir().unwrap();
        let import = |name: &str, bytes: &[u8]| {
            let file = dir.path().join(name);
            std::fs::write(&file, bytes).unwrap();
            let out = handoff(
                &target,
                &[
                    "import",
                    "--system",
                    "hubspot",
                    "--object",
                    "companies",
                    file.to_str().unwrap(),
                ],
            );
            let failed = file.with_extension("failed.csv");
            let failed = std::fs::read_to_string(failed).ok();
            (out, failed)
        };

        let (out, failed) = import(
            "twice.csv",
            b"Record ID,Company name,company  NAME\r\nc1,One,Uno\r\n",
        );
        assert_eq!(out.status.code(), Some(1), "{on}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains("error: matching the columns of ")
                && err.contains(
                    "the columns \"Company name\" and \"company  NAME\" (columns 2 and 3) are the same column"
                ),
            "{on}: {err}"
        );
        assert_eq!(failed, None, "{on}");

        let (out, failed) = import("no-id.csv", b"Company name\nOne\n");
        assert_eq!(out.status.code(), Some(1), "{on}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains("the file has no id column: it needs a \"Record ID\" column"),
            "{on}: {err}"
        );
        assert_eq!(failed, None, "{on}");

        let csv = "Record ID,Company name,Company Domain Name\r\n\
                   c1,\"Zoë\r\n& Co\",zoe.example.com\r\n\
                   c2,Bad,row,extra\r\n";
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in csv.encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let (out, failed) = import("utf16.csv", &utf16);
        assert_eq!(out.status.code(), Some(2), "{on}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("2 rows: 1 created, 0 updated, 0 unchanged, 1 failed"),
            "{on}: {}",
            text(&out.stdout)
        );
        let failed = failed.unwrap_or_default();
        assert!(
            failed.contains("4,\"MALFORMED: the line has 4 fields"),
            "{on}: {failed}"
        );
        drop_target(target).await;
    }
}

/// What one `handoff import` run printed and wrote.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    failed: String,
}

/// Runs `handoff import` on a file of tests/fixtures/exports, writing the
/// failed rows into `dir`.
fn import_export(target: &Target, dir: &std::path::Path, file: &str, extra: &[&str]) -> Run {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exports")
        .join(file);
    let (system, object) = file.split_once('/').unwrap();
    let object = object.trim_end_matches(".csv");
    let failed = dir.join(format!("{system}-{object}.failed.csv"));
    let mut args = vec![
        "import",
        "--system",
        system,
        "--object",
        object,
        "--failed",
        failed.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let out = handoff(target, &args);
    Run {
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        failed: std::fs::read_to_string(&failed).unwrap_or_default(),
    }
}

/// The line numbers and error cells of a failed-rows file.
fn failures(failed: &str) -> Vec<(u64, String)> {
    csv::Reader::from_reader(failed.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_owned())
        })
        .collect()
}

/// Each system's exports as they really come (CRLF and LF, UTF-8 BOMs,
/// multi-line quoted cells, standard picklist values, owners who are not
/// users, contacts and leads without email, a Salesforce opportunity
/// export that names its account instead of giving its id), imported with
/// the binary into a database bootstrapped with `handoff user create` only:
/// every good row is created, every bad one is in the failed-rows file with
/// its physical line and all of its errors, and a second import changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_exports_import_into_a_database_bootstrapped_with_user_create_only() {
    // (file, rows, created, failed: (line, error fragments)).
    type Expected = (&'static str, usize, usize, Vec<(u64, Vec<&'static str>)>);
    let files: Vec<Expected> = vec![
        (
            "hubspot/companies.csv",
            5,
            4,
            vec![(6, vec!["INVALID (Number of Employees)"])],
        ),
        (
            "hubspot/contacts.csv",
            6,
            4,
            vec![
                (6, vec!["INVALID (Email)"]),
                (8, vec!["IN_FUTURE (Create Date)"]),
            ],
        ),
        (
            "hubspot/deals.csv",
            4,
            3,
            vec![(
                5,
                vec![
                    "OUT_OF_ORDER (Close Date)",
                    "NOT_FOUND (Associated Contact IDs)",
                ],
            )],
        ),
        (
            "salesforce/accounts.csv",
            4,
            3,
            vec![(6, vec!["REQUIRED (Account Name)"])],
        ),
        (
            "salesforce/leads.csv",
            5,
            4,
            vec![(7, vec!["INVALID (Email)"])],
        ),
        (
            "salesforce/opportunities.csv",
            5,
            4,
            vec![(6, vec!["NOT_FOUND (Account Name)"])],
        ),
    ];
    for target in targets().await {
        let on = match target {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres { .. } => "PostgreSQL",
        };
        let out = handoff(
            &target,
            &[
                "user",
                "create",
                "--email",
                "sync@example.com",
                "--name",
                "CRM import",
                "--role",
                "INTEGRATION",
            ],
        );
        assert!(out.status.success(), "{on}: {}", text(&out.stderr));
        let dir = tempfile::tempdir().unwrap();

        // A dry run checks a file and stores nothing (the import below
        // creates every good row).
        let run = import_export(&target, dir.path(), "hubspot/companies.csv", &["--dry-run"]);
        assert_eq!(run.code, Some(2), "{on}: {}", run.stderr);
        assert!(
            run.stdout
                .contains("5 rows: 4 would be created, 0 updated, 0 unchanged, 1 failed (dry run"),
            "{on}: {}",
            run.stdout
        );
        assert_eq!(failures(&run.failed).len(), 1, "{on}: {}", run.failed);

        for (file, rows, created, failed) in &files {
            let run = import_export(&target, dir.path(), file, &[]);
            let expected = format!(
                "{rows} rows: {created} created, 0 updated, 0 unchanged, {} failed",
                failed.len()
            );
            assert!(
                run.stdout.contains(&expected),
                "{on} {file}: expected {expected:?} in {}\n{}",
                run.stdout,
                run.stderr
            );
            assert_eq!(run.code, Some(2), "{on} {file}");
            let got = failures(&run.failed);
            assert_eq!(
                got.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
                failed.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
                "{on} {file}: {}",
                run.failed
            );
            for ((_, error), (line, fragments)) in got.iter().zip(failed) {
                for fragment in fragments {
                    assert!(
                        error.contains(fragment),
                        "{on} {file} line {line}: {fragment:?} not in {error:?}"
                    );
                }
            }
            if *file == "hubspot/companies.csv" {
                assert!(
                    run.stderr
                        .contains("owners who are not active Handoff users")
                        && run.stderr.contains("\"Jordan Lee\" (1 rows)")
                        && run
                            .stderr
                            .contains("\"jordan.lee@oldcrm.example\" (1 rows)"),
                    "{on}: {}",
                    run.stderr
                );
            }
            if *file == "salesforce/leads.csv" {
                assert!(
                    run.stderr.contains(
                        "not imported: Industry, No. of Employees and Annual Revenue of leads without a Converted Account ID"
                    ) && run.stderr.contains("(1 rows)"),
                    "{on}: {}",
                    run.stderr
                );
            }
        }

        // Imported again, every file changes nothing.
        for (file, rows, created, failed) in &files {
            let run = import_export(&target, dir.path(), file, &[]);
            let expected = format!(
                "{rows} rows: 0 created, 0 updated, {created} unchanged, {} failed",
                failed.len()
            );
            assert!(
                run.stdout.contains(&expected),
                "{on} {file} again: expected {expected:?} in {}\n{}",
                run.stdout,
                run.stderr
            );
        }

        // What the standard values and the company facts became.
        let db = Database::connect(target.url()).await.unwrap();
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT o.name, o.\"type\", a.name FROM opportunities o \
                 JOIN accounts a ON a.id = o.account_id ORDER BY o.name",
            ))
            .await
            .unwrap();
        let deals: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get_by_index::<String>(0).unwrap(),
                    r.try_get_by_index::<String>(1).unwrap(),
                    r.try_get_by_index::<String>(2).unwrap(),
                )
            })
            .filter(|(name, _, _)| name.contains(" - "))
            .collect();
        assert_eq!(
            deals,
            [
                ("Corvid Security - Downgrade", "RENEWAL", "Corvid Security"),
                (
                    "Corvid Security - SOC rollout",
                    "NEW_BUSINESS",
                    "Corvid Security"
                ),
                ("Meridian Bank - Upgrade", "EXPANSION", "Meridian Bank"),
                (
                    "Solstice Energy - Replacement",
                    "RENEWAL",
                    "Solstice Energy"
                ),
            ]
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
            "{on}"
        );
        let meridian = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT industry, employee_count FROM accounts WHERE name = 'Meridian Bank'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                meridian.try_get_by_index::<Option<String>>(0).unwrap(),
                meridian.try_get_by_index::<Option<i32>>(1).unwrap()
            ),
            (Some("Banking".to_owned()), Some(12_000)),
            "{on}: a lead's company facts fill its account's gaps"
        );
        let corvid = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT employee_count FROM accounts WHERE name = 'Corvid Security'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            corvid.try_get_by_index::<Option<i32>>(0).unwrap(),
            Some(780),
            "{on}: and never overwrite its own"
        );
        db.close().await.unwrap();
        drop_target(target).await;
    }
}
