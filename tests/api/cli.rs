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
