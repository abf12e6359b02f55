//! Benchmark: approving a lead definition rescores every open lead.
//!
//! Loads the demo dataset (`BENCH_LEADS`, default 100,000 leads) into a fresh
//! PostgreSQL schema (or SQLite file) and times the second signature of a new
//! definition, which approves it and rescores all open leads in the same
//! transaction. Run:
//!
//! ```sh
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench rescore
//! ```
//!
//! Without `BENCH_DATABASE_URL` it runs on a temporary SQLite file. Results
//! are recorded in docs/benchmarks.md.

use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use entity::enums::{Role, Team};
use handoff::{
    auth::Viewer,
    config::Config,
    db, demo,
    domain::scoring::{EmployeeRange, FitCriteria},
    services::{lead_definitions, users},
};
use sea_orm::ConnectionTrait;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let leads: usize = std::env::var("BENCH_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let (url, schema) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await?;
            (url, Some(schema))
        }
        _ => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
    };
    let config = Config::for_database(url.clone(), b"bench-secret-that-is-at-least-32-bytes")?;
    let conn = db::connect_with(&config, |o| {
        if let Some(s) = &schema {
            o.set_schema_search_path(s.clone());
        }
    })
    .await?;
    db::migrate(&conn).await?;

    eprintln!(
        "loading {leads} demo leads into {}...",
        if schema.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let started = Instant::now();
    let options = demo::DemoOptions {
        leads,
        ..Default::default()
    };
    demo::load(&conn, &options, &|line| eprintln!("  {line}")).await?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    let viewer = |role: Role, team: Team| {
        let conn = conn.clone();
        async move {
            let user = users::first_with_role(&conn, role)
                .await?
                .context("the demo has a user of every role")?;
            anyhow::Ok(Viewer {
                user_id: user.id,
                role,
                team,
            })
        }
    };
    let marketing = viewer(Role::Marketing, Team::Marketing).await?;
    let sales = viewer(Role::Sales, Team::Sales).await?;
    let fields = lead_definitions::DefinitionFields {
        description: Some("benchmark".into()),
        fit_criteria: FitCriteria {
            industries: [
                ("Software".to_owned(), 25),
                ("Financial Services".to_owned(), 20),
            ]
            .into(),
            employee_range: Some(EmployeeRange {
                min: Some(100),
                max: Some(10_000),
                points: 20,
            }),
            seniorities: [("VP".to_owned(), 20), ("C_LEVEL".to_owned(), 25)].into(),
            countries: [("US".to_owned(), 10)].into(),
            ..Default::default()
        },
        engagement_rules: [
            ("DEMO_REQUEST".to_owned(), 35),
            ("PRICING_PAGE_VIEW".to_owned(), 15),
        ]
        .into(),
        half_life_days: 21.0,
        mql_fit_min: 45,
        mql_engagement_min: 25,
        first_contact_hours: 24,
        disposition_hours: 48,
        review_by: NaiveDate::from_ymd_opt(2027, 3, 31).context("date")?,
    };
    let draft = lead_definitions::create_draft(&conn, &marketing, fields).await?;
    lead_definitions::sign(&conn, &marketing, draft.id, None).await?;

    let started = Instant::now();
    let signed = lead_definitions::sign(&conn, &sales, draft.id, None).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(signed.approved, "the second signature approves");
    println!(
        "approve + rescore: {} open leads scored, {} changed, {} became MQL in {:.2} s ({:.0} leads/s)",
        signed.rescored.scored,
        signed.rescored.changed,
        signed.rescored.became_mql,
        elapsed.as_secs_f64(),
        signed.rescored.scored as f64 / elapsed.as_secs_f64()
    );
    if let Some(schema) = schema {
        let admin = sea_orm::Database::connect(url.as_str()).await?;
        admin
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await?;
    }
    Ok(())
}
