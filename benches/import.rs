//! Benchmark: `handoff import` of a HubSpot contacts export, next to the
//! same records sent through `upsertLeads` over HTTP, with the importer's
//! memory.
//!
//! ```sh
//! cargo bench --bench import                                                          # SQLite
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench import   # PostgreSQL
//! ```
//!
//! `BENCH_ROWS` (default 100,000) contacts are written to a temporary
//! directory as HubSpot exports them: a UTF-8 byte order mark, CRLF line
//! endings, HubSpot's headers (with columns the import does not read,
//! such as "Phone Number" and "Last Activity Date"), lifecycle stage and
//! lead status labels, original sources, "Create Date" and "Became a ...
//! Date" columns in HubSpot's `2025-03-12 09:14` format, owners by full
//! name (most are users, a few are reps who left), "Associated Company
//! IDs" (some with two ids), and a few quoted cells: commas, quotes, and a
//! multi-line "Message". About 1 % of the contacts were moved back from
//! MQL to Lead in HubSpot, which the import reports as a warning. A
//! companies export (`BENCH_ROWS / 20` companies) goes with it.
//!
//! Two fresh databases (temporary SQLite files, or with
//! `BENCH_DATABASE_URL` two new PostgreSQL databases on that server,
//! dropped at the end), each migrated, with users made as `handoff user
//! create` makes them (an INTEGRATION user to import as, sales reps who
//! own leads, a MARKETING and a SALES user who approve a lead definition,
//! so new leads are scored as in production). Then, one after another:
//!
//! 1. **Import**, through the library entry of `handoff import`
//!    (`import::viewer`, then `import::run`): the companies (not timed),
//!    then the contacts. Peak memory (VmHWM of this process) is read
//!    before, after the first `BENCH_MEMORY_AT` (10,000) rows and at the
//!    end: the importer streams the file, so the peak should not grow with
//!    it.
//! 2. **Sync API, first load**: the same contacts as a HubSpot job sends
//!    them (internal stage names, ISO country codes, channels, an owner by
//!    email, or none for a rep who is not a user) through `upsertLeads`
//!    over HTTP as INTEGRATION, in batches of 1,000, into the other
//!    database (its companies written by the sync service, not timed).
//! 3. **Re-import** of the same file: every row must be unchanged.
//! 4. **Sync API, replay** of the same batches: every record unchanged.
//!
//! The phases alternate so that both sides see the same machine load.
//! Both databases must end with the same rows (leads, external ids,
//! stage changes, change-log entries).
//!
//! Results are in docs/benchmarks.md ("Importing a HubSpot export").

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use entity::enums::{ExternalSystem, Role, Team};
use handoff::{
    Application,
    auth::Viewer,
    config::Config,
    db,
    domain::{
        records::AccountPatch,
        scoring::{EmployeeRange, FitCriteria},
    },
    import::{self, ObjectKind, Options, Progress, Summary, System, UnknownOwner},
    services::{
        lead_definitions,
        sync::{self, accounts::AccountUpsert},
        users::{self, UserFields},
    },
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

// The `handoff` binary's allocator (src/main.rs), so the memory measured
// is the memory `handoff import` would use.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const BATCH: usize = 1_000;
const SECRET: &[u8] = b"bench-secret-that-is-at-least-32-bytes";

/// Sales reps who are users: (full name, email).
const REPS: [(&str, &str); 5] = [
    ("Maya Patel", "maya.patel@bench.example"),
    ("Jordan Lee", "jordan.lee@bench.example"),
    ("Sam Okafor", "sam.okafor@bench.example"),
    ("Elena Petrova", "elena.petrova@bench.example"),
    ("Chris Moreno", "chris.moreno@bench.example"),
];
/// Owners in HubSpot who are not Handoff users (reps who left).
const FORMER: [&str; 3] = ["Dana Whitfield", "Lucas Brandt", "Ines Carvalho"];

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
    "Radia", "Linus",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Torvalds",
];
const TITLES: [&str; 7] = [
    "Software Engineer",
    "Engineering Manager",
    "Director of Marketing",
    "VP, Sales",
    "Chief Technology Officer",
    "Operations Analyst",
    "Head of \"Growth\"",
];
/// (as HubSpot's Country/Region holds it, ISO code)
const COUNTRIES: [(&str, &str); 7] = [
    ("United States", "US"),
    ("United Kingdom", "GB"),
    ("Germany", "DE"),
    ("France", "FR"),
    ("Canada", "CA"),
    ("Netherlands", "NL"),
    ("US", "US"),
];
/// (HubSpot's Original Source label, Handoff channel)
const SOURCES: [(&str, &str); 9] = [
    ("Organic Search", "ORGANIC_SEARCH"),
    ("Paid Search", "PAID_SEARCH"),
    ("Paid Social", "PAID_SOCIAL"),
    ("Social Media", "ORGANIC_SOCIAL"),
    ("Email Marketing", "EMAIL"),
    ("Referrals", "REFERRAL"),
    ("Direct Traffic", "OTHER"),
    ("Other Campaigns", "OTHER"),
    ("Offline Sources", "OTHER"),
];
const INDUSTRIES: [&str; 5] = [
    "Software",
    "Financial Services",
    "Manufacturing",
    "Healthcare",
    "Retail",
];

/// Lifecycle stages: (internal name, label as exported).
const SUBSCRIBER: (&str, &str) = ("subscriber", "Subscriber");
const LEAD: (&str, &str) = ("lead", "Lead");
const MQL: (&str, &str) = ("marketingqualifiedlead", "Marketing Qualified Lead");
const SQL: (&str, &str) = ("salesqualifiedlead", "Sales Qualified Lead");
const OPPORTUNITY: (&str, &str) = ("opportunity", "Opportunity");
const CUSTOMER: (&str, &str) = ("customer", "Customer");

/// The "Became a ... Date" columns: (header, internal stage name).
const BECAME: [(&str, &str); 6] = [
    ("Became a Subscriber Date", "subscriber"),
    ("Became a Lead Date", "lead"),
    (
        "Became a Marketing Qualified Lead Date",
        "marketingqualifiedlead",
    ),
    ("Became a Sales Qualified Lead Date", "salesqualifiedlead"),
    ("Became an Opportunity Date", "opportunity"),
    ("Became a Customer Date", "customer"),
];

/// Lead statuses: (internal name, label as exported).
const NEW_STATUS: (&str, &str) = ("NEW", "New");
const OPEN: (&str, &str) = ("OPEN", "Open");
const WORKING: [(&str, &str); 3] = [
    ("IN_PROGRESS", "In Progress"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
];
const SET_ASIDE: [(&str, &str); 2] = [("UNQUALIFIED", "Unqualified"), ("BAD_TIMING", "Bad Timing")];
const OPEN_DEAL: (&str, &str) = ("OPEN_DEAL", "Open Deal");

const CONTACT_HEADERS: [&str; 14] = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Contact owner",
    "Job Title",
    "Company Name",
    "Lifecycle Stage",
    "Lead Status",
    "Create Date",
    "Last Activity Date",
    "Country/Region",
    "Associated Company IDs",
];
const CONTACT_TRAILING_HEADERS: [&str; 3] =
    ["Original Source", "Marketing contact status", "Message"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace(['_', ','], "").parse().ok())
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

/// HubSpot's export format for dates and times.
fn hubspot_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn company_id(k: usize) -> u64 {
    5_000_000 + k as u64
}

/// One company of the companies export.
struct Company {
    id: u64,
    name: String,
    domain: String,
    industry: &'static str,
    employees: i32,
    country: (&'static str, &'static str),
    created: DateTime<Utc>,
}

fn company(k: usize) -> Company {
    let mut rng = ChaCha8Rng::seed_from_u64(7_000_000 + k as u64);
    Company {
        id: company_id(k),
        name: format!("Company {k}"),
        domain: format!("company{k}.example"),
        industry: INDUSTRIES[rng.random_range(0..INDUSTRIES.len())],
        employees: rng.random_range(5..20_000),
        country: COUNTRIES[rng.random_range(0..COUNTRIES.len())],
        created: base_date()
            - chrono::Duration::minutes(rng.random_range(30 * 24 * 60..900 * 24 * 60)),
    }
}

/// Who owns a contact in HubSpot.
#[derive(Clone, Copy)]
enum Owner {
    Nobody,
    /// A rep who is a Handoff user ([`REPS`]).
    User(usize),
    /// A rep who is not ([`FORMER`]).
    Former(usize),
}

/// One contact of the export.
struct Contact {
    id: u64,
    first: &'static str,
    last: &'static str,
    email: String,
    phone: Option<String>,
    owner: Owner,
    title: Option<&'static str>,
    company: String,
    /// Associated company ids; the first is the account.
    companies: Vec<u64>,
    stage: (&'static str, &'static str),
    status: Option<(&'static str, &'static str)>,
    created: DateTime<Utc>,
    last_activity: Option<DateTime<Utc>>,
    country: Option<(&'static str, &'static str)>,
    source: (&'static str, &'static str),
    /// The date of each "Became a ... Date" column ([`BECAME`]).
    became: [Option<DateTime<Utc>>; 6],
    marketing: bool,
    message: Option<&'static str>,
}

impl Contact {
    /// Moved back from MQL to Lead in HubSpot (a warning on import).
    fn moved_back(&self) -> bool {
        self.stage == LEAD && self.became[2].is_some()
    }
}

/// Contact `i` (the same for a given `i` and `companies`, whatever the
/// order they are made in).
fn contact(i: usize, companies: usize) -> Contact {
    let mut rng = ChaCha8Rng::seed_from_u64(42_000_000 + i as u64);
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let created = base_date() + chrono::Duration::minutes(rng.random_range(0..330 * 24 * 60));
    let hours = |rng: &mut ChaCha8Rng, max: i64| chrono::Duration::hours(rng.random_range(1..max));
    let mut c = Contact {
        id: 10_000_000 + i as u64,
        first,
        last,
        email: String::new(),
        phone: rng
            .random_bool(0.4)
            .then(|| format!("+1 555 {:04}", rng.random_range(0..10_000))),
        owner: Owner::Nobody,
        title: rng
            .random_bool(0.8)
            .then(|| TITLES[rng.random_range(0..TITLES.len())]),
        company: String::new(),
        companies: Vec::new(),
        stage: LEAD,
        status: None,
        created,
        last_activity: rng
            .random_bool(0.5)
            .then(|| created + hours(&mut rng, 24 * 60)),
        country: rng
            .random_bool(0.9)
            .then(|| COUNTRIES[rng.random_range(0..COUNTRIES.len())]),
        source: SOURCES[rng.random_range(0..SOURCES.len())],
        became: [None; 6],
        marketing: rng.random_bool(0.7),
        message: match rng.random_range(0..1000) {
            0..5 => Some("Hi,\r\nplease call me back about pricing.\r\nThanks"),
            5..8 => Some("Asked about \"Enterprise\", see notes"),
            8..20 => Some("Requested a demo"),
            _ => None,
        },
    };
    let domain = if companies > 0 && rng.random_bool(0.6) {
        let k = rng.random_range(0..companies);
        c.companies.push(company_id(k));
        if rng.random_bool(0.1) {
            c.companies.push(company_id(rng.random_range(0..companies)));
        }
        c.company = format!("Company {k}");
        format!("company{k}.example")
    } else {
        c.company = match rng.random_range(0..100) {
            0..3 => format!("{last}, {first} & Co."),
            _ => format!("{last} & Sons"),
        };
        format!("mail{}.example", i % 97)
    };
    c.email = format!(
        "{}.{}.{i}@{domain}",
        first.to_lowercase(),
        last.to_lowercase()
    );

    // Lifecycle stages and their dates.
    let mql = created + hours(&mut rng, 24 * 20);
    let sql = mql + hours(&mut rng, 24 * 30);
    let opportunity = sql + hours(&mut rng, 24 * 30);
    let customer = opportunity + hours(&mut rng, 24 * 60);
    let roll = rng.random_range(0..100);
    match roll {
        0..10 => {
            c.stage = SUBSCRIBER;
            c.became[0] = Some(created);
        }
        10..69 => {
            c.stage = LEAD;
            c.became[1] = Some(created);
            c.status = match rng.random_range(0..10) {
                0..3 => Some(NEW_STATUS),
                3..5 => Some(OPEN),
                5 => Some(WORKING[rng.random_range(0..WORKING.len())]),
                _ => None,
            };
        }
        69 => {
            // Moved back to Lead after becoming an MQL.
            c.stage = LEAD;
            c.became[1] = Some(created);
            c.became[2] = Some(mql);
        }
        70..85 => {
            c.stage = MQL;
            c.became[1] = Some(created);
            c.became[2] = Some(mql);
            c.status = match rng.random_range(0..10) {
                0..4 => None,
                4..8 => Some(WORKING[rng.random_range(0..WORKING.len())]),
                _ => Some(SET_ASIDE[rng.random_range(0..SET_ASIDE.len())]),
            };
        }
        85..93 => {
            c.stage = SQL;
            c.became[1] = Some(created);
            c.became[2] = Some(mql);
            c.became[3] = Some(sql);
        }
        93..97 => {
            c.stage = OPPORTUNITY;
            c.became[1] = Some(created);
            c.became[2] = Some(mql);
            c.became[3] = Some(sql);
            c.became[4] = Some(opportunity);
            c.status = rng.random_bool(0.5).then_some(OPEN_DEAL);
        }
        _ => {
            c.stage = CUSTOMER;
            c.became[1] = Some(created);
            c.became[2] = Some(mql);
            c.became[3] = Some(sql);
            c.became[4] = Some(opportunity);
            c.became[5] = Some(customer);
        }
    }
    let worked = roll >= 85 || c.status.is_some_and(|s| s != NEW_STATUS && s != OPEN);
    let (user, former) = if worked { (85, 95) } else { (20, 25) };
    c.owner = match rng.random_range(0..100) {
        r if r < user => Owner::User(rng.random_range(0..REPS.len())),
        r if r < former => Owner::Former(rng.random_range(0..FORMER.len())),
        _ => Owner::Nobody,
    };
    c
}

/// The contact as a row of HubSpot's export.
fn csv_row(c: &Contact) -> Vec<String> {
    let time = |t: Option<DateTime<Utc>>| t.map(hubspot_time).unwrap_or_default();
    let mut row = vec![
        c.id.to_string(),
        c.first.to_owned(),
        c.last.to_owned(),
        c.email.clone(),
        c.phone.clone().unwrap_or_default(),
        match c.owner {
            Owner::Nobody => String::new(),
            Owner::User(k) => REPS[k].0.to_owned(),
            Owner::Former(k) => FORMER[k].to_owned(),
        },
        c.title.unwrap_or_default().to_owned(),
        c.company.clone(),
        c.stage.1.to_owned(),
        c.status.map(|s| s.1).unwrap_or_default().to_owned(),
        hubspot_time(c.created),
        time(c.last_activity),
        c.country.map(|c| c.0).unwrap_or_default().to_owned(),
        c.companies
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(";"),
    ];
    row.extend(c.became.iter().map(|t| time(*t)));
    row.push(c.source.0.to_owned());
    row.push(
        if c.marketing {
            "Marketing contact"
        } else {
            "Non-marketing contact"
        }
        .to_owned(),
    );
    row.push(c.message.unwrap_or_default().to_owned());
    row
}

/// The contact as a HubSpot job sends it to `upsertLeads`.
fn sync_record(c: &Contact) -> Value {
    let mut lead = json!({
        "externalId": c.id.to_string(),
        "email": c.email,
        "firstName": c.first,
        "lastName": c.last,
        "companyName": c.company,
        "source": c.source.1,
        "stage": c.stage.0,
        "createdAt": c.created.to_rfc3339(),
    });
    if let Some(title) = c.title {
        lead["jobTitle"] = json!(title);
    }
    if let Some((_, iso)) = c.country {
        lead["country"] = json!(iso);
    }
    if let Some(first) = c.companies.first() {
        lead["accountExternalId"] = json!(first.to_string());
    }
    if let Owner::User(k) = c.owner {
        lead["ownerEmail"] = json!(REPS[k].1);
    }
    if let Some((status, _)) = c.status {
        lead["leadStatus"] = json!(status);
    }
    let history: Vec<Value> = BECAME
        .iter()
        .zip(c.became)
        .filter_map(|((_, stage), at)| {
            at.map(|at| json!({ "stage": stage, "enteredAt": at.to_rfc3339() }))
        })
        .collect();
    lead["stageHistory"] = json!(history);
    lead
}

/// What the export holds, for the report.
#[derive(Debug, Default)]
struct FileStats {
    bytes: u64,
    lines: usize,
    unknown_owner_rows: usize,
    moved_back: usize,
    multi_line: usize,
}

/// Writes `rows` contacts as HubSpot exports them: a UTF-8 BOM, CRLF.
fn write_contacts(path: &Path, rows: usize, companies: usize) -> anyhow::Result<FileStats> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\xEF\xBB\xBF")?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    let mut header: Vec<&str> = CONTACT_HEADERS.to_vec();
    header.extend(BECAME.iter().map(|(h, _)| *h));
    header.extend(CONTACT_TRAILING_HEADERS);
    writer.write_record(&header)?;
    let mut stats = FileStats {
        lines: 1,
        ..Default::default()
    };
    for i in 0..rows {
        let c = contact(i, companies);
        let row = csv_row(&c);
        stats.lines += 1 + row.iter().map(|f| f.matches('\n').count()).sum::<usize>();
        if row.iter().any(|f| f.contains('\n')) {
            stats.multi_line += 1;
        }
        if matches!(c.owner, Owner::Former(_)) {
            stats.unknown_owner_rows += 1;
        }
        if c.moved_back() {
            stats.moved_back += 1;
        }
        writer.write_record(&row)?;
    }
    writer.flush()?;
    drop(writer);
    stats.bytes = std::fs::metadata(path)?.len();
    Ok(stats)
}

/// Writes the companies export.
fn write_companies(path: &Path, companies: usize) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\xEF\xBB\xBF")?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    writer.write_record([
        "Record ID",
        "Company name",
        "Company Domain Name",
        "Industry",
        "Number of Employees",
        "Country/Region",
        "Create Date",
    ])?;
    for k in 0..companies {
        let c = company(k);
        writer.write_record([
            c.id.to_string(),
            c.name,
            c.domain,
            c.industry.to_owned(),
            c.employees.to_string(),
            c.country.0.to_owned(),
            hubspot_time(c.created),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// A fresh database: a new PostgreSQL database on `BENCH_DATABASE_URL`'s
/// server, or a temporary SQLite file.
struct Fresh {
    url: String,
    /// The server's URL and the database's name, to drop it.
    created: Option<(String, String)>,
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").context("a URL with a scheme")? + 3;
    let path = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |p| p + after_scheme);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

impl Fresh {
    async fn new(purpose: &str, dir: &Path) -> anyhow::Result<Self> {
        match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let name = format!(
                    "handoff_bench_{purpose}_{}",
                    &Uuid::new_v4().simple().to_string()[..12]
                );
                let admin = sea_orm::Database::connect(url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await.ok();
                Ok(Self {
                    url: with_database(&url, &name)?,
                    created: Some((url, name)),
                })
            }
            _ => Ok(Self {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(format!("{purpose}.db")).display()
                ),
                created: None,
            }),
        }
    }

    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::for_database(self.url.clone(), SECRET)?;
        // The bench measures throughput, not the cost budget; and a batch
        // of 1,000 new leads on SQLite took over the 10 s request timeout
        // from a debug build on a busy machine (the import has none).
        config.throttle.capacity = 0.0;
        config.request_timeout = Duration::from_secs(120);
        Ok(config)
    }

    async fn drop(self) -> anyhow::Result<()> {
        if let Some((url, name)) = &self.created {
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await.ok();
        }
        Ok(())
    }
}

/// Connects and migrates, as `handoff` does on start.
async fn open(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let conn = db::connect(config).await?;
    db::migrate(&conn).await?;
    Ok(conn)
}

/// A user made as `handoff user create` makes one.
async fn create_user(
    conn: &DatabaseConnection,
    name: &str,
    email: &str,
    role: Role,
    team: Team,
) -> anyhow::Result<Viewer> {
    let (user, _) = users::ensure(
        conn,
        UserFields {
            name: Some(name.to_owned()),
            email: Some(email.to_owned()),
            role: Some(role),
            team: Some(team),
            active: None,
        },
    )
    .await?;
    Ok(Viewer {
        user_id: user.id,
        role: user.role,
        team: user.team,
    })
}

/// The users (an INTEGRATION user, the reps, the two who approve the lead
/// definition) and an approved lead definition. Returns the INTEGRATION
/// user.
async fn seed(conn: &DatabaseConnection) -> anyhow::Result<Viewer> {
    let integration = create_user(
        conn,
        "CRM import",
        "sync@bench.example",
        Role::Integration,
        Team::Revops,
    )
    .await?;
    for (name, email) in REPS {
        create_user(conn, name, email, Role::Sales, Team::Sales).await?;
    }
    let marketing = create_user(
        conn,
        "Marketing Ops",
        "marketing@bench.example",
        Role::Marketing,
        Team::Marketing,
    )
    .await?;
    let sales = create_user(
        conn,
        "Sales Lead",
        "sales@bench.example",
        Role::Sales,
        Team::Sales,
    )
    .await?;
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
    Ok(integration)
}

fn import_options(file: &Path, object: ObjectKind) -> anyhow::Result<Options> {
    Ok(Options {
        system: System::Hubspot,
        object,
        file: file.to_owned(),
        mapping: Default::default(),
        currency: "USD".into(),
        offset: FixedOffset::east_opt(0).context("UTC")?,
        failed: None,
        unknown_owner: UnknownOwner::Unowned,
        dry_run: false,
    })
}

/// This process's (current RSS, peak RSS) in MB, from /proc/self/status.
fn memory() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = |key: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(key))
            .with_context(|| format!("no {key} in /proc/self/status"))?;
        let n: f64 = line
            .split_whitespace()
            .nth(1)
            .context("no number")?
            .parse()?;
        Ok(n / 1024.0)
    };
    Ok((kb("VmRSS:")?, kb("VmHWM:")?))
}

/// One import of the contacts: the summary, the time, and the memory
/// after `memory_at` rows (if the file has that many) and at the end.
struct ImportRun {
    summary: Summary,
    elapsed: Duration,
    at_mark: Option<(usize, f64, f64)>,
    at_end: (f64, f64),
    progress_calls: usize,
}

async fn import_contacts(
    conn: &DatabaseConnection,
    file: &Path,
    label: &str,
    memory_at: usize,
) -> anyhow::Result<ImportRun> {
    let options = import_options(file, ObjectKind::Leads)?;
    let started = Instant::now();
    let viewer = import::viewer(conn, None).await?;
    let mut at_mark = None;
    let mut progress_calls = 0;
    let mut next_report = 10_000;
    let summary = import::run(conn, &viewer, &options, &mut |p: &Progress| {
        progress_calls += 1;
        if at_mark.is_none() && p.rows >= memory_at {
            at_mark = memory().ok().map(|(rss, peak)| (p.rows, rss, peak));
        }
        if p.rows >= next_report {
            next_report += 10_000;
            let (rss, peak) = memory().unwrap_or_default();
            eprintln!(
                "  {label}: {} rows read, {} written, {} failed; {:.0} rows/s; RSS {rss:.0} MB, peak {peak:.0} MB",
                p.rows,
                p.written,
                p.failed,
                rate(p.rows, started.elapsed())
            );
        }
    })
    .await?;
    let elapsed = started.elapsed();
    Ok(ImportRun {
        summary,
        elapsed,
        at_mark,
        at_end: memory()?,
        progress_calls,
    })
}

/// The companies through the sync service (the other database's import of
/// companies.csv, not timed).
async fn sync_companies(
    conn: &DatabaseConnection,
    viewer: &Viewer,
    companies: usize,
) -> anyhow::Result<()> {
    let all: Vec<usize> = (0..companies).collect();
    for batch in all.chunks(BATCH) {
        let records = batch
            .iter()
            .map(|&k| {
                let c = company(k);
                AccountUpsert {
                    external_id: c.id.to_string(),
                    fields: AccountPatch {
                        name: Some(c.name),
                        domain: Some(Some(c.domain)),
                        industry: Some(Some(c.industry.to_owned())),
                        employee_count: Some(Some(c.employees)),
                        country: Some(Some(c.country.1.to_owned())),
                        ..Default::default()
                    },
                    created_at: Some(c.created),
                    ..Default::default()
                }
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
            "companies created"
        );
    }
    Ok(())
}

const LEADS_MUTATION: &str = "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { created updated unchanged deleted failed results { index externalId status warnings error { code field message } } } }";

/// The sums of a phase's payloads.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
    failed: u64,
    warnings: u64,
}

/// Sends the batches one after another, as one HubSpot job would.
async fn send_all(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    bodies: &[String],
) -> anyhow::Result<(Counts, Duration)> {
    let started = Instant::now();
    let mut counts = Counts::default();
    for (i, body) in bodies.iter().enumerate() {
        let response = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        let reply: Value = response.json().await?;
        ensure!(
            status.is_success() && reply["errors"].is_null(),
            "batch {i}: HTTP {status}: {reply}"
        );
        let payload = &reply["data"]["upsertLeads"];
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
        counts.warnings += payload["results"].as_array().map_or(0, |r| {
            r.iter()
                .map(|r| r["warnings"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        }) as u64;
    }
    Ok((counts, started.elapsed()))
}

async fn row_counts(conn: &DatabaseConnection) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for table in [
        "accounts",
        "leads",
        "external_ids",
        "stage_changes",
        "change_log",
    ] {
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await?
            .context("a count")?;
        out.push((table, row.try_get::<i64>("", "n")?));
    }
    Ok(out)
}

fn describe_counts(counts: &[(&str, i64)]) -> String {
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_import(s: &Summary) -> String {
    format!(
        "{} rows: {} created, {} updated, {} unchanged, {} failed; {} warnings; unknown owners {}",
        s.rows,
        s.created,
        s.updated,
        s.unchanged,
        s.failed,
        s.warning_count,
        s.unknown_owners
            .iter()
            .map(|(o, n)| format!("{o} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = env_usize("BENCH_ROWS", 100_000);
    let memory_at = env_usize("BENCH_MEMORY_AT", 10_000);
    let companies = (rows / 20).max(1);
    let backend = if std::env::var("BENCH_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{backend}: {rows} HubSpot contacts, {companies} companies; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let dir = tempfile::tempdir()?;
    let companies_csv: PathBuf = dir.path().join("companies.csv");
    let contacts_csv: PathBuf = dir.path().join("contacts.csv");
    let t = Instant::now();
    write_companies(&companies_csv, companies)?;
    let stats = write_contacts(&contacts_csv, rows, companies)?;
    println!(
        "contacts.csv: {:.1} MB, {} lines ({} rows with a multi-line cell), {} rows owned by {} reps who are not users, {} moved back from MQL to Lead; written in {:.1} s",
        stats.bytes as f64 / 1e6,
        stats.lines,
        stats.multi_line,
        stats.unknown_owner_rows,
        FORMER.len(),
        stats.moved_back,
        t.elapsed().as_secs_f64()
    );

    // The import's database, its companies imported first.
    let import_db = Fresh::new("import", dir.path()).await?;
    let import_conn = open(&import_db.config()?).await?;
    seed(&import_conn).await?;
    let viewer = import::viewer(&import_conn, None).await?;
    let t = Instant::now();
    let done = import::run(
        &import_conn,
        &viewer,
        &import_options(&companies_csv, ObjectKind::Accounts)?,
        &mut |_| {},
    )
    .await?;
    ensure!(
        done.created == companies && done.failed == 0,
        "companies: {}",
        describe_import(&done)
    );
    println!(
        "import: {companies} companies imported in {:.1} s (not timed below)",
        t.elapsed().as_secs_f64()
    );

    // The sync API's database and server, its companies synced first.
    let sync_db = Fresh::new("sync", dir.path()).await?;
    let sync_config = sync_db.config()?;
    let sync_conn = open(&sync_config).await?;
    let integration = seed(&sync_conn).await?;
    sync_companies(&sync_conn, &integration, companies).await?;
    let app = Application::build(&sync_config, sync_conn.clone()).await?;
    let url = format!("http://{}/graphql", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));
    let token = sync_config.jwt.mint(
        integration.user_id,
        Role::Integration,
        Duration::from_secs(3600),
    )?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    let before = memory()?;

    // 1. The first import.
    let first = import_contacts(&import_conn, &contacts_csv, "import", memory_at).await?;
    let s = &first.summary;
    ensure!(
        s.rows == rows && s.created == rows && s.failed == 0,
        "first import: {}",
        describe_import(s)
    );
    println!(
        "import, first: {} in {:.2} s = {:.0} rows/s ({} progress reports)",
        describe_import(s),
        first.elapsed.as_secs_f64(),
        rate(rows, first.elapsed),
        first.progress_calls
    );

    // 2. The sync API's first load (the bodies are made before the clock
    // starts, as a job would have them ready).
    let bodies: Vec<String> = (0..rows)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|batch| {
            let leads: Vec<Value> = batch
                .iter()
                .map(|&i| sync_record(&contact(i, companies)))
                .collect();
            json!({
                "query": LEADS_MUTATION,
                "variables": { "i": { "system": "HUBSPOT", "leads": leads } },
            })
            .to_string()
        })
        .collect();
    let largest = bodies.iter().map(String::len).max().unwrap_or(0);
    let (counts, sync_first) = send_all(&client, &url, &token, &bodies).await?;
    ensure!(counts.created == rows as u64, "sync first load: {counts:?}");
    println!(
        "sync API, first load: {} created ({} warnings) in {:.2} s = {:.0} records/s (largest request {:.0} KB)",
        counts.created,
        counts.warnings,
        sync_first.as_secs_f64(),
        rate(rows, sync_first),
        largest as f64 / 1024.0
    );

    // 3. The re-import.
    let again = import_contacts(&import_conn, &contacts_csv, "re-import", memory_at).await?;
    let s = &again.summary;
    ensure!(
        s.rows == rows && s.unchanged == rows && s.failed == 0,
        "re-import: {}",
        describe_import(s)
    );
    println!(
        "import, again: {} in {:.2} s = {:.0} rows/s",
        describe_import(s),
        again.elapsed.as_secs_f64(),
        rate(rows, again.elapsed)
    );

    // 4. The sync API's replay.
    let (counts, sync_replay) = send_all(&client, &url, &token, &bodies).await?;
    ensure!(counts.unchanged == rows as u64, "sync replay: {counts:?}");
    println!(
        "sync API, replay: {} unchanged in {:.2} s = {:.0} records/s",
        counts.unchanged,
        sync_replay.as_secs_f64(),
        rate(rows, sync_replay)
    );
    drop(bodies);

    let imported = row_counts(&import_conn).await?;
    let synced = row_counts(&sync_conn).await?;
    println!("rows after the import: {}", describe_counts(&imported));
    println!("rows after the sync:   {}", describe_counts(&synced));
    ensure!(
        imported == synced,
        "the import and the sync API wrote different rows"
    );

    stop.send(()).ok();
    server.await.ok();
    import_conn.close().await.ok();
    sync_conn.close().await.ok();
    import_db.drop().await?;
    sync_db.drop().await?;

    println!();
    println!(
        "| backend | rows | import first rows/s | re-import rows/s | sync first rec/s | sync replay rec/s | import time / sync time (first, replay) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {backend} | {rows} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}, {:.2} |",
        rate(rows, first.elapsed),
        rate(rows, again.elapsed),
        rate(rows, sync_first),
        rate(rows, sync_replay),
        first.elapsed.as_secs_f64() / sync_first.as_secs_f64(),
        again.elapsed.as_secs_f64() / sync_replay.as_secs_f64(),
    );
    println!();
    println!("| this process during the first import | RSS (MB) | peak RSS, VmHWM (MB) |");
    println!("| --- | --- | --- |");
    println!("| before | {:.0} | {:.0} |", before.0, before.1);
    if let Some((at, rss, peak)) = first.at_mark {
        println!("| after {at} rows | {rss:.0} | {peak:.0} |");
    }
    println!(
        "| after {rows} rows | {:.0} | {:.0} |",
        first.at_end.0, first.at_end.1
    );
    Ok(())
}
