//! Benchmark: bulk upsert throughput of `upsertLeads` over HTTP, against a
//! hand-written multi-row `INSERT ... ON CONFLICT` floor.
//!
//! ```sh
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/handoff_bench_sync cargo bench --bench sync_upsert
//! cargo bench --bench sync_upsert          # SQLite, in a temporary file
//! ```
//!
//! Every run starts on a fresh database (a new schema in
//! `BENCH_DATABASE_URL`, dropped at the end, or a temporary SQLite file)
//! with a user per role and an approved lead definition, so new leads are
//! scored as they would be in production. Then:
//!
//! 1. `BENCH_LEADS / 20` accounts (5,000 by default) are synced with
//!    `upsertAccounts`, so that 60 % of the leads can name their account by
//!    external id.
//! 2. **First load**: `BENCH_LEADS` (100,000) deterministic leads in
//!    batches of 1,000 through `upsertLeads` over HTTP as INTEGRATION. A
//!    quarter carry a later stage (MQL, or SQL with an earlier MQL in
//!    `stageHistory`) with source dates; the SQL ones are owned by a sales
//!    rep named by email.
//! 3. **Replay**: the same batches again; every record must be UNCHANGED.
//!
//! Both phases run once per client count in `BENCH_CLIENTS` (default
//! `1,4`; each on its own fresh database): with several clients, each
//! takes the next unsent batch.
//!
//! **The floor** (its own fresh database, same accounts): the same leads
//! written by hand-written SQL in one transaction per batch of 1,000: the
//! account ids looked up by external id (one `SELECT`), then multi-row
//! `INSERT ... ON CONFLICT` statements, chunked under the bind-parameter
//! limits and, on PostgreSQL, under ~16 KB per statement (the fastest
//! size here; `BENCH_FLOOR_ROWS` caps the rows per statement to try
//! others), writing the same rows the service writes for a new lead: the
//! `leads` row (the same columns), its `external_ids` row, its
//! `stage_changes` rows (the entry into NEW and each synced move) and one
//! `change_log` entry. It does not look records up by external id, compare
//! them, validate anything, score them or answer per record: it is the
//! cost of the writes alone.
//!
//! Results are in docs/benchmarks.md ("Sync upsert throughput").

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use entity::{
    enums::{ExternalSystem, Role, Team},
    user,
};
use handoff::{
    Application,
    auth::Viewer,
    config::Config,
    db,
    domain::{
        records::AccountPatch,
        scoring::{EmployeeRange, FitCriteria},
    },
    services::{
        lead_definitions,
        sync::{self, accounts::AccountUpsert},
    },
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement,
    TransactionTrait, Value as SqlValue,
};
use serde_json::{Value, json};
use uuid::Uuid;

const BATCH: usize = 1_000;
const SECRET: &[u8] = b"bench-secret-that-is-at-least-32-bytes";

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
    "Radia", "Linus",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Torvalds",
];
const TITLES: [(&str, &str); 6] = [
    ("Software Engineer", "INDIVIDUAL_CONTRIBUTOR"),
    ("Engineering Manager", "MANAGER"),
    ("Director of Marketing", "DIRECTOR"),
    ("VP Sales", "VP"),
    ("Chief Technology Officer", "C_LEVEL"),
    ("Operations Analyst", "INDIVIDUAL_CONTRIBUTOR"),
];
const COUNTRIES: [&str; 6] = ["US", "GB", "DE", "FR", "CA", "NL"];
const CHANNELS: [&str; 8] = [
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "PAID_SOCIAL",
    "EMAIL",
    "EVENT",
    "WEBINAR",
    "CONTENT",
    "REFERRAL",
];
const INDUSTRIES: [&str; 5] = [
    "Software",
    "Financial Services",
    "Manufacturing",
    "Healthcare",
    "Retail",
];
const SALES_REPS: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn rate(records: usize, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn base_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The accounts: `co-{k}`.
fn accounts(n: usize) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..n)
        .map(|k| {
            let created = base_date() - chrono::Duration::days(rng.random_range(30..900));
            json!({
                "externalId": format!("co-{k}"),
                "name": format!("Company {k}"),
                "domain": format!("company{k}.example"),
                "industry": INDUSTRIES[rng.random_range(0..INDUSTRIES.len())],
                "employeeCount": rng.random_range(5..20_000),
                "country": COUNTRIES[rng.random_range(0..COUNTRIES.len())],
                "isTargetAccount": rng.random_bool(0.1),
                "createdAt": created.to_rfc3339(),
            })
        })
        .collect()
}

/// The leads, in the shape a HubSpot job sends them.
fn leads(n: usize, accounts: usize) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    (0..n)
        .map(|i| {
            let (first, last) = (
                FIRST[rng.random_range(0..FIRST.len())],
                LAST[rng.random_range(0..LAST.len())],
            );
            let (title, seniority) = TITLES[rng.random_range(0..TITLES.len())];
            let created = base_date()
                + chrono::Duration::minutes(rng.random_range(0..330 * 24 * 60));
            let mut lead = json!({
                "externalId": format!("{}", 10_000_000 + i),
                "email": format!("{}.{}.{i}@mail{}.example", first.to_lowercase(), last.to_lowercase(), i % 97),
                "firstName": first,
                "lastName": last,
                "jobTitle": title,
                "seniority": seniority,
                "country": COUNTRIES[rng.random_range(0..COUNTRIES.len())],
                "source": CHANNELS[rng.random_range(0..CHANNELS.len())],
                "createdAt": created.to_rfc3339(),
            });
            if accounts > 0 && rng.random_bool(0.6) {
                let k = rng.random_range(0..accounts);
                lead["accountExternalId"] = json!(format!("co-{k}"));
                lead["companyName"] = json!(format!("Company {k}"));
            } else {
                lead["companyName"] = json!(format!("{last} & Sons"));
            }
            let mql = created + chrono::Duration::hours(rng.random_range(1..24 * 20));
            match rng.random_range(0..100) {
                0..10 => lead["stage"] = json!("subscriber"),
                10..75 => lead["stage"] = json!("lead"),
                75..90 => {
                    lead["stage"] = json!("marketingqualifiedlead");
                    lead["stageEnteredAt"] = json!(mql.to_rfc3339());
                }
                _ => {
                    let sql = mql + chrono::Duration::hours(rng.random_range(1..24 * 30));
                    lead["stage"] = json!("salesqualifiedlead");
                    lead["stageEnteredAt"] = json!(sql.to_rfc3339());
                    lead["stageHistory"] =
                        json!([{ "stage": "marketingqualifiedlead", "enteredAt": mql.to_rfc3339() }]);
                    lead["ownerEmail"] =
                        json!(format!("rep{}@bench.example", i % SALES_REPS));
                }
            }
            lead
        })
        .collect()
}

/// A fresh database: a new schema in `BENCH_DATABASE_URL`, or a temporary
/// SQLite file.
struct Fresh {
    url: String,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Fresh {
    async fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let schema = format!("bench_sync_{}", Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await?;
                admin.close().await.ok();
                Ok(Self {
                    url,
                    schema: Some(schema),
                    _dir: dir,
                })
            }
            _ => Ok(Self {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                ),
                schema: None,
                _dir: dir,
            }),
        }
    }

    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::for_database(self.url.clone(), SECRET)?;
        // The bench measures throughput, not the cost budget.
        config.throttle.capacity = 0.0;
        Ok(config)
    }

    /// Connects, migrates and seeds users (one per role and the sales
    /// reps) and an approved lead definition.
    async fn prepare(&self, config: &Config) -> anyhow::Result<(DatabaseConnection, Users)> {
        let conn = db::connect_with(config, |o| {
            if let Some(s) = &self.schema {
                o.set_schema_search_path(s.clone());
            }
        })
        .await?;
        db::migrate(&conn).await?;
        let users = seed(&conn).await?;
        Ok((conn, users))
    }

    async fn drop(self) -> anyhow::Result<()> {
        if let Some(schema) = &self.schema {
            let admin = sea_orm::Database::connect(self.url.as_str()).await?;
            admin
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await?;
        }
        Ok(())
    }
}

struct Users {
    integration: Viewer,
}

async fn seed(conn: &DatabaseConnection) -> anyhow::Result<Users> {
    let mut viewers = Vec::new();
    let mut people: Vec<(Role, Team, String)> = vec![
        (Role::Admin, Team::Revops, "admin@bench.example".into()),
        (
            Role::Marketing,
            Team::Marketing,
            "marketing@bench.example".into(),
        ),
        (Role::Sales, Team::Sales, "sales@bench.example".into()),
        (
            Role::Integration,
            Team::Revops,
            "integration@bench.example".into(),
        ),
    ];
    for r in 0..SALES_REPS {
        people.push((Role::Sales, Team::Sales, format!("rep{r}@bench.example")));
    }
    for (role, team, email) in people {
        let id = Uuid::now_v7();
        let now = Utc::now();
        user::Entity::insert(user::ActiveModel {
            id: Set(id),
            created_at: Set(now),
            updated_at: Set(now),
            name: Set(email.clone()),
            email: Set(email),
            role: Set(role),
            team: Set(team),
            active: Set(true),
            version: Set(1),
            deleted_at: Set(None),
        })
        .exec_without_returning(conn)
        .await?;
        viewers.push(Viewer {
            user_id: id,
            role,
            team,
        });
    }
    let find = |role: Role| {
        viewers
            .iter()
            .find(|v| v.role == role)
            .cloned()
            .context("seeded")
    };
    let (marketing, sales) = (find(Role::Marketing)?, find(Role::Sales)?);
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
    let draft = lead_definitions::create_draft(conn, &marketing, fields).await?;
    lead_definitions::sign(conn, &marketing, draft.id, None).await?;
    let signed = lead_definitions::sign(conn, &sales, draft.id, None).await?;
    ensure!(signed.approved, "the definition is approved");
    Ok(Users {
        integration: find(Role::Integration)?,
    })
}

/// Loads the accounts through the service (not timed for the floor).
async fn load_accounts_directly(
    conn: &DatabaseConnection,
    viewer: &Viewer,
    accounts: &[Value],
) -> anyhow::Result<()> {
    for batch in accounts.chunks(BATCH) {
        let records = batch
            .iter()
            .map(|a| AccountUpsert {
                external_id: a["externalId"].as_str().unwrap_or_default().to_owned(),
                fields: AccountPatch {
                    name: a["name"].as_str().map(str::to_owned),
                    domain: Some(a["domain"].as_str().map(str::to_owned)),
                    industry: Some(a["industry"].as_str().map(str::to_owned)),
                    employee_count: Some(a["employeeCount"].as_i64().map(|n| n as i32)),
                    country: Some(a["country"].as_str().map(str::to_owned)),
                    is_target_account: a["isTargetAccount"].as_bool(),
                    ..Default::default()
                },
                created_at: a["createdAt"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc)),
                ..Default::default()
            })
            .collect();
        let done = sync::accounts::upsert(
            conn,
            viewer,
            ExternalSystem::Hubspot,
            records,
            sync::Mode::Write,
        )
        .await?;
        ensure!(
            sync::Tally::of(&done).created == batch.len(),
            "accounts created"
        );
    }
    Ok(())
}

const LEADS_MUTATION: &str = "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created updated unchanged deleted failed results { index externalId status id version error { code field message } } } }";
const ACCOUNTS_MUTATION: &str = "mutation($i: UpsertAccountsInput!) { upsertAccounts(input: $i) { created updated unchanged deleted failed results { index externalId status id version error { code field message } } } }";

/// The sums of a phase's payloads.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
    failed: u64,
}

/// Sends `bodies` with `clients` concurrent clients (each takes the next
/// unsent batch) and sums the payloads' counts. Returns the counts, the
/// elapsed time and the slowest request.
async fn send_all(
    url: &str,
    token: &str,
    field: &'static str,
    bodies: Arc<Vec<String>>,
    clients: usize,
) -> anyhow::Result<(Counts, Duration, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (next, bodies) = (next.clone(), bodies.clone());
        let (url, token) = (url.to_owned(), token.to_owned());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        tasks.push(tokio::spawn(async move {
            let mut counts = Counts::default();
            let mut slowest = Duration::ZERO;
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                let reply: Value = response.json().await?;
                slowest = slowest.max(sent.elapsed());
                ensure!(
                    status.is_success() && reply["errors"].is_null(),
                    "batch {i}: HTTP {status}: {reply}"
                );
                let payload = &reply["data"][field];
                let n = |k: &str| payload[k].as_u64().unwrap_or(0);
                if n("failed") > 0 {
                    let first = payload["results"]
                        .as_array()
                        .and_then(|r| r.iter().find(|r| r["status"] == "FAILED"))
                        .cloned()
                        .unwrap_or_default();
                    anyhow::bail!("batch {i}: {} failed, e.g. {first}", n("failed"));
                }
                counts.created += n("created");
                counts.updated += n("updated");
                counts.unchanged += n("unchanged");
                counts.failed += n("failed");
            }
            anyhow::Ok((counts, slowest))
        }));
    }
    let mut total = Counts::default();
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (c, s) = task.await??;
        total.created += c.created;
        total.updated += c.updated;
        total.unchanged += c.unchanged;
        total.failed += c.failed;
        slowest = slowest.max(s);
    }
    Ok((total, started.elapsed(), slowest))
}

fn bodies(field: &str, records: &[Value], mutation: &str) -> Vec<String> {
    records
        .chunks(BATCH)
        .map(|batch| {
            json!({ "query": mutation, "variables": { "i": { "system": "HUBSPOT", field: batch } } })
                .to_string()
        })
        .collect()
}

async fn row_counts(conn: &DatabaseConnection) -> anyhow::Result<String> {
    let mut out = Vec::new();
    for table in ["leads", "external_ids", "stage_changes", "change_log"] {
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await?
            .context("a count")?;
        let n: i64 = row.try_get("", "n")?;
        out.push(format!("{table} {n}"));
    }
    Ok(out.join(", "))
}

/// One GraphQL run: first load and replay with `clients` clients.
struct GraphqlRun {
    clients: usize,
    first: Duration,
    replay: Duration,
}

async fn graphql_run(
    clients: usize,
    account_rows: &[Value],
    lead_rows: &[Value],
) -> anyhow::Result<GraphqlRun> {
    let fresh = Fresh::new().await?;
    let config = fresh.config()?;
    let (conn, users) = fresh.prepare(&config).await?;
    let app = Application::build(&config, conn.clone()).await?;
    let url = format!("http://{}/graphql", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));
    let token = config.jwt.mint(
        users.integration.user_id,
        Role::Integration,
        Duration::from_secs(3600),
    )?;

    let account_bodies = Arc::new(bodies("accounts", account_rows, ACCOUNTS_MUTATION));
    let (counts, elapsed, _) =
        send_all(&url, &token, "upsertAccounts", account_bodies, clients).await?;
    ensure!(
        counts.created == account_rows.len() as u64,
        "accounts: {counts:?}"
    );
    eprintln!(
        "  [{clients} client(s)] {} accounts in {:.2} s ({:.0}/s)",
        account_rows.len(),
        elapsed.as_secs_f64(),
        rate(account_rows.len(), elapsed)
    );

    let n = lead_rows.len();
    let lead_bodies = Arc::new(bodies("leads", lead_rows, LEADS_MUTATION));
    let (counts, first, slowest) =
        send_all(&url, &token, "upsertLeads", lead_bodies.clone(), clients).await?;
    ensure!(
        counts.created == n as u64 && counts.failed == 0,
        "first load: {counts:?}"
    );
    println!(
        "GraphQL {clients} client(s), first load: {n} leads created in {:.2} s = {:.0} records/s (slowest batch {:.0} ms)",
        first.as_secs_f64(),
        rate(n, first),
        slowest.as_secs_f64() * 1e3
    );
    println!("  rows: {}", row_counts(&conn).await?);

    let (counts, replay, slowest) =
        send_all(&url, &token, "upsertLeads", lead_bodies, clients).await?;
    ensure!(
        counts.unchanged == n as u64 && counts.failed == 0,
        "replay: {counts:?}"
    );
    println!(
        "GraphQL {clients} client(s), replay: {n} leads unchanged in {:.2} s = {:.0} records/s (slowest batch {:.0} ms)",
        replay.as_secs_f64(),
        rate(n, replay),
        slowest.as_secs_f64() * 1e3
    );
    println!("  rows after the replay: {}", row_counts(&conn).await?);

    stop.send(()).ok();
    server.await.ok();
    conn.close().await.ok();
    fresh.drop().await?;
    Ok(GraphqlRun {
        clients,
        first,
        replay,
    })
}

/// Bind parameters per statement: under SQLite's 32,766 and PostgreSQL's
/// 65,535.
const MAX_BINDS: usize = 32_000;

/// The largest statement the floor sends to PostgreSQL (estimated).
const PG_STATEMENT_BYTES: usize = 16 * 1024;

/// `INSERT INTO table (columns) VALUES (...), ... suffix`, as few statements
/// as the bind limit allows.
async fn insert_values(
    txn: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlValue>>,
    suffix: &str,
) -> anyhow::Result<()> {
    let backend = txn.get_database_backend();
    let mut per_statement = MAX_BINDS / columns.len();
    if backend == DbBackend::Postgres {
        // Under ~16 KB per message: sqlx does not set TCP_NODELAY, and a
        // bigger statement can wait ~40 ms for the server's delayed ACK.
        per_statement = per_statement.min(PG_STATEMENT_BYTES / (columns.len() * 22));
    }
    let per_statement = per_statement
        .min(env_usize("BENCH_FLOOR_ROWS", usize::MAX))
        .max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<SqlValue>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for (r, row) in chunk.into_iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, v) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                values.push(v);
                match backend {
                    DbBackend::Postgres => sql.push_str(&format!("${}", values.len())),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(suffix);
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

fn text(v: &Value) -> SqlValue {
    v.as_str().map(str::to_owned).into()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

const LEAD_COLUMNS: [&str; 21] = [
    "id",
    "created_at",
    "updated_at",
    "email",
    "first_name",
    "last_name",
    "job_title",
    "seniority",
    "account_id",
    "company_name",
    "country",
    "source",
    "stage",
    "stage_entered_at",
    "owner_id",
    "fit_score",
    "engagement_score",
    "mql_at",
    "dispositioned_at",
    "recycle_count",
    "version",
];

/// Writes one batch of leads with hand-written SQL in one transaction.
async fn floor_batch(
    conn: &DatabaseConnection,
    batch: &[Value],
    owners: &std::collections::HashMap<String, Uuid>,
    actor: Uuid,
) -> anyhow::Result<()> {
    let backend = conn.get_database_backend();
    let txn = conn.begin().await?;
    let now = Utc::now();
    // The accounts named in the batch, by external id, in one query.
    let names: Vec<String> = batch
        .iter()
        .filter_map(|l| l["accountExternalId"].as_str().map(str::to_owned))
        .collect();
    let mut accounts = std::collections::HashMap::new();
    if !names.is_empty() {
        let mut sql = "SELECT external_id, object_id FROM external_ids WHERE system = 'HUBSPOT' AND object_type = 'ACCOUNT' AND external_id IN (".to_owned();
        for i in 0..names.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => sql.push_str(&format!("${}", i + 1)),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
        let values: Vec<SqlValue> = names.into_iter().map(Into::into).collect();
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            let key: String = row.try_get("", "external_id")?;
            let id: Uuid = row.try_get("", "object_id")?;
            accounts.insert(key, id);
        }
    }
    let (mut leads, mut ext, mut changes, mut log) = (vec![], vec![], vec![], vec![]);
    for l in batch {
        let id = Uuid::now_v7();
        let created = time(&l["createdAt"]).unwrap_or(now);
        let entered = time(&l["stageEnteredAt"]).unwrap_or(created);
        let stage = match l["stage"].as_str() {
            Some("marketingqualifiedlead") => "MQL",
            Some("salesqualifiedlead") => "SQL",
            _ => "NEW",
        };
        let mql_at = match stage {
            "MQL" => Some(entered),
            "SQL" => time(&l["stageHistory"][0]["enteredAt"]),
            _ => None,
        };
        let account: Option<Uuid> = l["accountExternalId"]
            .as_str()
            .and_then(|k| accounts.get(k).copied());
        let owner: Option<Uuid> = l["ownerEmail"]
            .as_str()
            .and_then(|e| owners.get(e).copied());
        leads.push(vec![
            id.into(),
            created.into(),
            now.into(),
            l["email"].as_str().map(str::to_lowercase).into(),
            text(&l["firstName"]),
            text(&l["lastName"]),
            text(&l["jobTitle"]),
            text(&l["seniority"]),
            account.into(),
            text(&l["companyName"]),
            text(&l["country"]),
            text(&l["source"]),
            stage.into(),
            entered.into(),
            owner.into(),
            0i32.into(),
            0i32.into(),
            mql_at.into(),
            Option::<DateTime<Utc>>::None.into(),
            0i32.into(),
            1i32.into(),
        ]);
        ext.push(vec![
            Uuid::now_v7().into(),
            now.into(),
            now.into(),
            "HUBSPOT".into(),
            "LEAD".into(),
            text(&l["externalId"]),
            id.into(),
        ]);
        let mut path = vec![(None, "NEW", created)];
        if let Some(mql) = mql_at {
            path.push((Some("NEW"), "MQL", mql));
        }
        if stage == "SQL" {
            path.push((Some("MQL"), "SQL", entered));
        }
        for (from, to, at) in path {
            changes.push(vec![
                Uuid::now_v7().into(),
                at.into(),
                at.into(),
                "LEAD".into(),
                id.into(),
                from.map(str::to_owned).into(),
                to.into(),
                at.into(),
                Some(actor).into(),
            ]);
        }
        let fields: Vec<&str> = vec![
            "email",
            "firstName",
            "lastName",
            "jobTitle",
            "seniority",
            "accountId",
            "companyName",
            "country",
            "source",
            "stage",
            "stageEnteredAt",
            "ownerId",
            "mqlAt",
        ];
        log.push(vec![
            "LEAD".into(),
            id.into(),
            "UPSERT".into(),
            Some(actor).into(),
            Some(json!(fields)).into(),
            now.into(),
        ]);
    }
    let update: Vec<String> = LEAD_COLUMNS[3..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    insert_values(
        &txn,
        "leads",
        &LEAD_COLUMNS,
        leads,
        &format!("ON CONFLICT (id) DO UPDATE SET {}", update.join(", ")),
    )
    .await?;
    insert_values(
        &txn,
        "external_ids",
        &[
            "id",
            "created_at",
            "updated_at",
            "system",
            "object_type",
            "external_id",
            "object_id",
        ],
        ext,
        "ON CONFLICT (system, object_type, external_id) DO NOTHING",
    )
    .await?;
    insert_values(
        &txn,
        "stage_changes",
        &[
            "id",
            "created_at",
            "updated_at",
            "subject_type",
            "subject_id",
            "from_stage",
            "to_stage",
            "at",
            "actor_id",
        ],
        changes,
        "",
    )
    .await?;
    insert_values(
        &txn,
        "change_log",
        &[
            "object_type",
            "object_id",
            "operation",
            "actor_id",
            "changed_fields",
            "at",
        ],
        log,
        "",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn floor_run(account_rows: &[Value], lead_rows: &[Value]) -> anyhow::Result<Duration> {
    let fresh = Fresh::new().await?;
    let config = fresh.config()?;
    let (conn, users) = fresh.prepare(&config).await?;
    load_accounts_directly(&conn, &users.integration, account_rows).await?;
    let mut owners = std::collections::HashMap::new();
    for u in user::Entity::find().all(&conn).await? {
        owners.insert(u.email, u.id);
    }
    let started = Instant::now();
    for batch in lead_rows.chunks(BATCH) {
        floor_batch(&conn, batch, &owners, users.integration.user_id).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "floor (hand-written INSERT ... ON CONFLICT): {} leads in {:.2} s = {:.0} records/s",
        lead_rows.len(),
        elapsed.as_secs_f64(),
        rate(lead_rows.len(), elapsed)
    );
    println!("  rows: {}", row_counts(&conn).await?);
    conn.close().await.ok();
    fresh.drop().await?;
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_usize("BENCH_LEADS", 100_000);
    let clients: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let account_rows = accounts((n / 20).max(1));
    let lead_rows = leads(n, account_rows.len());
    let backend = if std::env::var("BENCH_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{backend}: {n} leads in batches of {BATCH}, {} accounts; load average {}",
        account_rows.len(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let floor = floor_run(&account_rows, &lead_rows).await?;
    let mut runs = Vec::new();
    for c in clients {
        runs.push(graphql_run(c, &account_rows, &lead_rows).await?);
    }
    println!();
    println!(
        "| backend | clients | first load rec/s | replay rec/s | floor rec/s | first load time / floor time | first load time / replay time |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in runs {
        println!(
            "| {backend} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            r.clients,
            rate(n, r.first),
            rate(n, r.replay),
            rate(n, floor),
            r.first.as_secs_f64() / floor.as_secs_f64(),
            r.first.as_secs_f64() / r.replay.as_secs_f64(),
        );
    }
    Ok(())
}
