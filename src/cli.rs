//! The `handoff` command line: serve, migrate, user, token, export-schema,
//! demo, import.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use entity::enums::{Role, Team};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{Application, config::Config, db, demo, graphql, import, services};

/// Handoff: the shared system of record between marketing and sales.
#[derive(Parser, Debug)]
#[command(name = "handoff", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database and serve the API (the embedded SQLite file by default).
    Serve {
        /// Load the demo dataset first when the database is empty, and print a
        /// token for each role.
        #[arg(long)]
        demo: bool,
        /// Leads in the demo dataset.
        #[arg(long, default_value_t = 3000)]
        demo_leads: usize,
        /// Seed of the demo dataset.
        #[arg(long, default_value_t = 42)]
        demo_seed: u64,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users from the command line (the way into an empty database).
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Mint a bearer token for a user. Refuses a database that is not
    /// migrated (run `handoff migrate` or `handoff user create` first).
    Token {
        /// Role of the token; the user must have it.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The user: a UUID or an email. Default: the first active user with the role.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime, e.g. `30m`, `12h` or seconds; at most
        /// `HANDOFF_JWT_MAX_TTL_SECS` (default 24 h).
        #[arg(long, default_value = "12h", value_parser = parse_ttl)]
        ttl: Duration,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is this output.
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Load the demo dataset into the configured database (refuses a
    /// non-empty one), with progress output.
    Demo {
        /// Leads to generate.
        #[arg(long, default_value_t = 3000)]
        leads: usize,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// About this many opportunities per 1,000 leads (lead conversion
        /// makes about 38; sales opens the rest on existing accounts).
        /// Default: only converted leads' deals.
        #[arg(long)]
        deals_per_thousand_leads: Option<u32>,
    },
    /// Import a HubSpot or Salesforce CSV export through the sync service:
    /// prints created / updated / unchanged / failed and writes failed rows
    /// to a file. Exits with 0 when every row was imported, 2 when some
    /// failed.
    Import {
        /// The system that exported the file.
        #[arg(long, value_enum)]
        system: import::System,
        /// What the file holds (`contacts`, `companies` and `deals` are aliases).
        #[arg(long, value_enum)]
        object: import::ObjectKind,
        /// The CSV file.
        file: PathBuf,
        /// A JSON mapping file: `{"columns": {"email": "E-mail Address"},
        /// "stages": {"Working": "SAL"}, "sources": {"Web": "ORGANIC_SEARCH"},
        /// "types": {"New Customer": "NEW_BUSINESS"}}` (docs/import.md).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Currency of money columns when the file has no currency column.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Offset of times written without a zone, e.g. `+01:00`.
        #[arg(long, default_value = "UTC", value_parser = import::dates::parse_offset)]
        timezone: chrono::FixedOffset,
        /// Where to write failed rows (default: FILE.failed.csv beside FILE).
        #[arg(long)]
        failed: Option<PathBuf>,
        /// Import as this user (email; ADMIN or INTEGRATION). Default: the
        /// first active INTEGRATION user, else the first ADMIN.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
        /// A row whose owner (email or name) is not an active user:
        /// `unowned` imports the record without an owner and lists the
        /// owner at the end; `fail` fails the row; `assign:EMAIL` gives the
        /// record to that user.
        #[arg(
            long,
            default_value = "unowned",
            value_name = "unowned|fail|assign:EMAIL"
        )]
        unknown_owner: import::UnknownOwner,
        /// Check every row as the import would, the database's checks
        /// included, and write the failed-rows file, but store nothing.
        /// Rows that reference records of another file not yet imported
        /// show as NOT_FOUND.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The `handoff user` subcommands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, or leave the one with that email as it is.
    ///
    /// Works on an empty database (it is migrated first) and needs no
    /// token. The first step of an install:
    /// `handoff user create --email you@example.com --name "You" --role ADMIN`,
    /// then `handoff token --role ADMIN --sub you@example.com`.
    Create {
        /// Email address (the user's sign-in name, unique).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// ADMIN, MARKETING, SALES, LEADERSHIP, INTEGRATION or REPORTING.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// MARKETING, SALES, REVOPS or LEADERSHIP. Default: MARKETING,
        /// SALES or LEADERSHIP for those roles, REVOPS for the others.
        #[arg(long, value_parser = parse_team)]
        team: Option<Team>,
    },
}

fn parse_team(s: &str) -> Result<Team, String> {
    let upper = s.trim().to_ascii_uppercase();
    [Team::Marketing, Team::Sales, Team::Revops, Team::Leadership]
        .into_iter()
        .find(|t| t.as_str() == upper)
        .ok_or_else(|| format!("unknown team {s:?}: use MARKETING, SALES, REVOPS or LEADERSHIP"))
}

/// The team of a user of `role` when none is given.
fn default_team(role: Role) -> Team {
    match role {
        Role::Marketing => Team::Marketing,
        Role::Sales => Team::Sales,
        Role::Leadership => Team::Leadership,
        Role::Admin | Role::Integration | Role::Reporting => Team::Revops,
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    let upper = s.trim().to_ascii_uppercase();
    [
        Role::Admin,
        Role::Marketing,
        Role::Sales,
        Role::Leadership,
        Role::Integration,
        Role::Reporting,
    ]
    .into_iter()
    .find(|r| r.as_str() == upper)
    .ok_or_else(|| {
        format!(
            "unknown role {s:?}: use ADMIN, MARKETING, SALES, LEADERSHIP, INTEGRATION or REPORTING"
        )
    })
}

/// Parses `30m`, `12h`, `7d`, `45s` or plain seconds.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30m, 12h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    if secs == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Initialises logging: text or JSON, filtered by `RUST_LOG` (default
/// `info`), on stderr, so that what a command prints on stdout (a token,
/// the schema, an import's summary) can be captured alone.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or a log collector
    // would keep the escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// Runs a parsed command line; the exit code is 0 unless an import left
/// failed rows (2).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::ExportSchema { output } = &cli.command {
        let sdl = graphql::sdl();
        match output {
            Some(path) => {
                std::fs::write(path, sdl).with_context(|| format!("writing {}", path.display()))?
            }
            None => print!("{sdl}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let early_json = std::env::var("HANDOFF_LOG_FORMAT").is_ok_and(|v| v == "json");
    init_tracing(early_json);
    let config = Config::from_env()?;
    let db = db::connect(&config)
        .await
        .with_context(|| "connecting to the database (DATABASE_URL)")?;
    let pending = db::pending_migrations(&db)
        .await
        .context("reading the database's migrations")?;
    if pending > 0 {
        if matches!(cli.command, Command::Token { .. }) {
            bail!(
                "the database is not migrated ({pending} migrations pending), so it has no users: \
                 run `handoff user create` (which migrates it) or `handoff migrate` first"
            );
        }
        db::migrate(&db).await.context("migrating the database")?;
        eprintln!("migrated the database: {pending} migrations applied");
    }
    match cli.command {
        Command::Migrate => {
            println!("database is up to date");
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    role,
                    team,
                },
        } => {
            let fields = services::users::UserFields {
                name: Some(name),
                email: Some(email),
                role: Some(role),
                team: Some(team.unwrap_or(default_team(role))),
                active: None,
            };
            let (user, ensured) = services::users::ensure(&db, fields)
                .await
                .map_err(describe_user_error)?;
            match ensured {
                services::users::Ensured::Created => println!(
                    "created user {} ({}, {}, team {}): id {}",
                    user.email,
                    user.name,
                    user.role.as_str(),
                    user.team.as_str(),
                    user.id
                ),
                services::users::Ensured::Existed => println!(
                    "user {} already exists ({}, {}{}), left as it is: id {}",
                    user.email,
                    user.role.as_str(),
                    if user.active { "active" } else { "inactive" },
                    if user.deleted_at.is_some() {
                        ", deleted"
                    } else {
                        ""
                    },
                    user.id
                ),
            }
        }
        Command::Token { role, sub, ttl } => {
            // Before looking for the user, so the lifetime is what is reported.
            config.jwt.check_ttl(ttl)?;
            let user_id = resolve_user(&db, role, sub.as_deref()).await?;
            println!("{}", config.jwt.mint(user_id, role, ttl)?);
        }
        Command::Demo {
            leads,
            seed,
            deals_per_thousand_leads,
        } => {
            if !demo::is_empty(&db).await? {
                bail!("the database already has data; the demo loads only into an empty one");
            }
            let options = demo::DemoOptions {
                seed,
                leads,
                deals_per_thousand_leads,
                ..Default::default()
            };
            load_demo(&db, &options).await?;
        }
        Command::Import {
            system,
            object,
            file,
            mapping,
            currency,
            timezone,
            failed,
            as_user,
            unknown_owner,
            dry_run,
        } => {
            let mapping = match mapping {
                Some(path) => import::columns::Mapping::load(&path)?,
                None => Default::default(),
            };
            let options = import::Options {
                system,
                object,
                file,
                mapping,
                currency,
                offset: timezone,
                failed,
                unknown_owner,
                dry_run,
            };
            return run_import(&db, as_user.as_deref(), &options).await;
        }
        Command::Serve {
            demo: with_demo,
            demo_leads,
            demo_seed,
        } => {
            if with_demo && demo::is_empty(&db).await? {
                let options = demo::DemoOptions {
                    seed: demo_seed,
                    leads: demo_leads,
                    ..Default::default()
                };
                load_demo(&db, &options).await?;
            }
            serve(config, db, with_demo).await?;
        }
        Command::ExportSchema { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// A user's field errors as one line each (`email: ... is not an email
/// address`) instead of the API's structure.
fn describe_user_error(e: crate::error::AppError) -> anyhow::Error {
    match e {
        crate::error::AppError::Invalid(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|f| format!(
                    "--{}: {}",
                    f.field.last().map_or("", String::as_str),
                    f.message
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.into(),
    }
}

/// Imports a file with progress on standard error and the summary on
/// standard output.
async fn run_import(
    db: &DatabaseConnection,
    as_user: Option<&str>,
    options: &import::Options,
) -> anyhow::Result<ExitCode> {
    let viewer = import::viewer(db, as_user).await?;
    let file = options.file.display().to_string();
    match options.dry_run {
        true => eprintln!("checking {file} (dry run: nothing is stored)..."),
        false => eprintln!("importing {file}..."),
    }
    let summary = import::run(db, &viewer, options, &mut |p: &import::Progress| {
        eprintln!(
            "  {} rows read, {} written, {} failed",
            p.rows, p.written, p.failed
        );
    })
    .await?;
    if !summary.ignored_columns.is_empty() {
        eprintln!(
            "columns not imported: {}",
            summary.ignored_columns.join(", ")
        );
    }
    if !summary.unknown_owners.is_empty() {
        let owners: Vec<String> = summary
            .unknown_owners
            .iter()
            .map(|(owner, rows)| format!("{owner:?} ({rows} rows)"))
            .collect();
        eprintln!(
            "owners who are not active Handoff users ({}): {}",
            match &options.unknown_owner {
                import::UnknownOwner::Assign(email) => format!("their records went to {email}"),
                _ => "their records were imported without an owner; create them and import \
                      again, or pass --unknown-owner assign:EMAIL"
                    .to_owned(),
            },
            owners.join(", ")
        );
    }
    for (reason, rows) in &summary.unplaced {
        eprintln!("not imported: {reason} ({rows} rows)");
    }
    const SHOWN: usize = 20;
    for (line, warning) in summary.warnings.iter().take(SHOWN) {
        eprintln!("line {line}: {warning}");
    }
    let shown = summary.warnings.len().min(SHOWN);
    if summary.warning_count > shown {
        eprintln!("... and {} more warnings", summary.warning_count - shown);
    }
    match summary.dry_run {
        true => println!(
            "{file}: {} rows: {} would be created, {} updated, {} unchanged, {} failed (dry run: nothing was stored)",
            summary.rows, summary.created, summary.updated, summary.unchanged, summary.failed
        ),
        false => println!(
            "{file}: {} rows: {} created, {} updated, {} unchanged, {} failed",
            summary.rows, summary.created, summary.updated, summary.unchanged, summary.failed
        ),
    }
    if let Some(path) = &summary.failed_file {
        println!(
            "failed rows ({} malformed) with their line and reason: {}",
            summary.malformed,
            path.display()
        );
    }
    Ok(ExitCode::from(summary.exit_code()))
}

async fn load_demo(db: &DatabaseConnection, options: &demo::DemoOptions) -> anyhow::Result<()> {
    eprintln!(
        "loading the demo dataset ({} leads, seed {})...",
        options.leads, options.seed
    );
    let started = std::time::Instant::now();
    let summary = demo::load(db, options, &|line| eprintln!("  {line}")).await?;
    eprintln!(
        "loaded {} users, {} accounts, {} campaigns, {} leads, {} activities, {} opportunities in {:.1} s",
        summary.users,
        summary.accounts,
        summary.campaigns,
        summary.leads,
        summary.activities,
        summary.opportunities,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn resolve_user(
    db: &DatabaseConnection,
    role: Role,
    sub: Option<&str>,
) -> anyhow::Result<Uuid> {
    match sub {
        Some(sub) => {
            if let Ok(id) = Uuid::parse_str(sub) {
                return Ok(id);
            }
            services::users::find_by_email(db, sub)
                .await?
                .map(|u| u.id)
                .with_context(|| format!("no user with email {sub}"))
        }
        None => services::users::first_with_role(db, role)
            .await?
            .map(|u| u.id)
            .with_context(|| format!("no active user has role {}; pass --sub", role.as_str())),
    }
}

async fn serve(config: Config, db: DatabaseConnection, print_tokens: bool) -> anyhow::Result<()> {
    let app = Application::build(&config, db.clone()).await?;
    let addr = app.local_addr()?;
    let base = format!("http://{addr}");
    let token_source = if print_tokens {
        "one of the tokens below"
    } else {
        "one from `handoff token --role ROLE`"
    };
    let mut banner = format!(
        "\nHandoff is running.\n  GraphQL:  {base}/graphql  (POST application/json, Authorization: Bearer <token>)\n  GraphiQL: {base}/graphiql  (open it in a browser and paste a token: {token_source})\n  Live:     ws://{addr}/graphql/ws  (subscriptions, graphql-transport-ws; send {{\"token\": \"<token>\"}} in connection_init)\n  Health:   {base}/healthz, {base}/readyz\n"
    );
    match app.metrics_addr()? {
        Some(metrics) => banner.push_str(&format!("  Metrics:  http://{metrics}/metrics\n")),
        None if app.metrics_on_api() => banner.push_str(&format!("  Metrics:  {base}/metrics\n")),
        None => {}
    }
    if print_tokens {
        // 12 h, unless HANDOFF_JWT_MAX_TTL_SECS allows less.
        let ttl = Duration::from_secs(12 * 3600).min(config.jwt.max_ttl());
        banner.push_str(&format!(
            "\nTokens (valid {}; mint more with `handoff token --role ROLE`):\n",
            crate::auth::jwt::describe_ttl(ttl)
        ));
        for (_, _, role, _) in demo::ROLE_USERS {
            if let Some(user) = services::users::first_with_role(&db, role).await? {
                let token = config.jwt.mint(user.id, role, ttl)?;
                banner.push_str(&format!("  {:<12} {token}\n", role.as_str()));
            }
        }
        banner.push_str(&format!(
            "\nTry it:\n  curl -s {base}/graphql -H 'Content-Type: application/json' \\\n    -H \"Authorization: Bearer $TOKEN\" \\\n    -d '{{\"query\":\"{{ leads(first: 5) {{ totalCount nodes {{ email stage source account {{ name }} }} }} }}\"}}'\n"
        ));
    }
    println!("{banner}");
    app.run_until(shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn teams_parse_and_default_by_role() {
        assert_eq!(parse_team("revops"), Ok(Team::Revops));
        assert!(parse_team("finance").is_err());
        assert_eq!(default_team(Role::Sales), Team::Sales);
        assert_eq!(default_team(Role::Marketing), Team::Marketing);
        assert_eq!(default_team(Role::Leadership), Team::Leadership);
        assert_eq!(default_team(Role::Admin), Team::Revops);
        assert_eq!(default_team(Role::Integration), Team::Revops);
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(parse_role("sales"), Ok(Role::Sales));
        assert!(parse_role("boss").is_err());
    }
}
