//! The demo dataset: a year in the life of a B2B SaaS company's marketing and
//! sales teams, generated from a seed so that the same options always give
//! the same rows.
//!
//! `serve --demo` loads it into an empty database. Leads are generated in
//! creation order and inserted [`BATCH_LEADS`] at a time together with their
//! activities, opportunities, feedback, stage changes and change-log entries,
//! each batch in one transaction, so a million leads load without ever being
//! held in memory at once. Ids are UUID v7 stamped with each record's own
//! (historic) creation time and random bits from the seeded generator.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use entity::{
    account, activity, campaign, campaign_spend, change_log, competitor,
    enums::{
        ActivityKind, CampaignObjective, CampaignStatus, ChangeOperation, Channel,
        DefinitionStatus, FeedbackReason, LeadStage, ObjectType, OpportunityStage, OpportunityType,
        Outcome, RejectionReason, Role, Seniority, SourcedBy, Team,
    },
    lead, lead_definition, lead_definition_signature, opportunity, stage_change, user,
    win_loss_feedback,
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, Iterable, PaginatorTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    db::begin_write,
    domain::{
        lifecycle::LeadAction,
        scoring::{FitCriteria, FitInput, fit_value},
        sla::SlaClock,
        stage_move::StageMove,
    },
    services::{
        records::{self, now},
        scoring::Definition,
        stage_moves,
    },
};

/// Options of the demo dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Seed of the random generator: the same seed, lead count and anchor
    /// give the same rows.
    pub seed: u64,
    /// Number of leads to generate.
    pub leads: usize,
    /// The dataset covers the 12 months before this instant; nothing is
    /// dated after it.
    pub anchor: DateTime<Utc>,
    /// About this many opportunities per 1,000 leads. Converted leads make
    /// about [`CONVERTED_DEALS_PER_THOUSAND_LEADS`]; the rest are deals sales
    /// opens on existing accounts without a lead converting (outbound new
    /// business, expansions, renewals). `None`: only converted leads' deals.
    pub deals_per_thousand_leads: Option<u32>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            leads: 3_000,
            anchor: now().date_naive().and_time(NaiveTime::MIN).and_utc(),
            deals_per_thousand_leads: None,
        }
    }
}

/// What was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Users, the [`ROLE_USERS`] included.
    pub users: usize,
    /// Accounts, including those created when a lead without one converted.
    pub accounts: usize,
    /// Campaigns.
    pub campaigns: usize,
    /// Leads.
    pub leads: usize,
    /// Marketing activities and sales touches.
    pub activities: usize,
    /// Opportunities.
    pub opportunities: usize,
    /// Lead and opportunity stage changes.
    pub stage_changes: usize,
}

/// The fixed demo users, one per role, whose tokens `serve --demo` prints:
/// (email, name, Role, Team).
pub const ROLE_USERS: [(&str, &str, Role, Team); 6] = [
    ("admin@handoff.demo", "Ada Admin", Role::Admin, Team::Revops),
    (
        "marketing@handoff.demo",
        "Maya Marketing",
        Role::Marketing,
        Team::Marketing,
    ),
    ("sales@handoff.demo", "Sam Sales", Role::Sales, Team::Sales),
    (
        "leadership@handoff.demo",
        "Leo Leadership",
        Role::Leadership,
        Team::Leadership,
    ),
    (
        "integration@handoff.demo",
        "HubSpot Sync",
        Role::Integration,
        Team::Revops,
    ),
    (
        "reporting@handoff.demo",
        "Reporting Bot",
        Role::Reporting,
        Team::Revops,
    ),
];

/// Whether the database has no users yet (then `serve --demo` loads the
/// dataset).
pub async fn is_empty(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(user::Entity::find().count(db).await? == 0)
}

/// Loads the dataset, calling `progress` with a short line after each batch.
pub async fn load(
    db: &DatabaseConnection,
    options: &DemoOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<DemoSummary> {
    let mut g = Generator::new(options.seed, options.anchor);
    let mut summary = DemoSummary::default();

    // Reference data: users, the lead definition, competitors, campaigns.
    let users = g.users();
    let (definition, signatures) = g.definition();
    // Fit scores come from the definition as the services read it.
    g.fit = Definition::parse(definition.clone())?.fit;
    let competitors = g.competitors();
    let (campaigns, spend) = g.campaigns();
    summary.users = users.len();
    summary.campaigns = campaigns.len();
    let mut log = Vec::with_capacity(users.len() + competitors.len() + campaigns.len());
    log.extend(
        users
            .iter()
            .map(|r| log_entry(ObjectType::User, r.id, r.updated_at)),
    );
    log.extend(
        competitors
            .iter()
            .map(|r| log_entry(ObjectType::Competitor, r.id, r.updated_at)),
    );
    log.extend(
        campaigns
            .iter()
            .map(|r| log_entry(ObjectType::Campaign, r.id, r.updated_at)),
    );
    let line = format!(
        "users {}, competitors {}, campaigns {} ({} weekly spend rows)",
        users.len(),
        competitors.len(),
        campaigns.len(),
        spend.len()
    );
    let txn = begin_write(db).await?;
    insert_all(&txn, users).await?;
    insert_all(&txn, vec![definition]).await?;
    insert_all(&txn, signatures).await?;
    insert_all(&txn, competitors).await?;
    insert_all(&txn, campaigns).await?;
    insert_all(&txn, spend).await?;
    insert_all(&txn, log).await?;
    txn.commit().await?;
    progress(&line);

    // The account pool leads are linked to.
    let pool = (options.leads / 4).max(MIN_ACCOUNTS);
    g.generate_accounts(pool);
    let mut done = 0;
    while done < pool {
        let end = (done + ACCOUNT_BATCH).min(pool);
        let models: Vec<account::Model> = g.accounts[done..end]
            .iter()
            .map(PoolAccount::model)
            .collect();
        let log: Vec<_> = models
            .iter()
            .map(|r| log_entry(ObjectType::Account, r.id, r.updated_at))
            .collect();
        let txn = begin_write(db).await?;
        insert_all(&txn, models).await?;
        insert_all(&txn, log).await?;
        txn.commit().await?;
        done = end;
        progress(&format!("accounts {done}/{pool}"));
    }
    summary.accounts = pool;

    // Leads and everything hanging off them, in creation order, with the
    // account deals opened meanwhile.
    let account_deals = options.deals_per_thousand_leads.map_or(0.0, |n| {
        f64::from(n.saturating_sub(CONVERTED_DEALS_PER_THOUSAND_LEADS)) / 1_000.0
    });
    let mut done = 0;
    while done < options.leads {
        let end = (done + BATCH_LEADS).min(options.leads);
        let mut batch = Batch::default();
        for idx in done..end {
            let created = g.lead(idx, options.leads, &mut batch);
            let mut chance = account_deals;
            while chance > 0.0 {
                if g.chance(chance.min(1.0)) {
                    g.account_deal(created, &mut batch);
                }
                chance -= 1.0;
            }
        }
        summary.accounts += batch.accounts.len();
        summary.leads += batch.leads.len();
        summary.activities += batch.activities.len();
        summary.opportunities += batch.opportunities.len();
        if let Some(refused) = batch.refused {
            anyhow::bail!("the demo generator made a move the stage rules refuse: {refused}");
        }
        summary.stage_changes += batch.stage_changes.len();
        let txn = begin_write(db).await?;
        insert_all(&txn, batch.accounts).await?;
        insert_all(&txn, batch.leads).await?;
        insert_all(&txn, batch.activities).await?;
        insert_all(&txn, batch.opportunities).await?;
        insert_all(&txn, batch.feedback).await?;
        insert_all(&txn, batch.stage_changes).await?;
        insert_all(&txn, batch.log).await?;
        txn.commit().await?;
        done = end;
        progress(&format!(
            "leads {done}/{} (activities {}, opportunities {})",
            options.leads, summary.activities, summary.opportunities
        ));
    }
    // Fresh tables have no planner statistics until autovacuum reaches them,
    // and the first queries after a load (a benchmark's) would be planned
    // blind; nor a visibility map, without which an index-only scan reads
    // the heap anyway. The tables are named: a bare VACUUM would visit every
    // schema.
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(
            "VACUUM (ANALYZE) users, accounts, campaigns, campaign_spend, leads, activities, \
             opportunities, win_loss_feedback, stage_changes, change_log",
        )
        .await?;
    }
    tracing::info!(
        demo.leads = summary.leads,
        demo.activities = summary.activities,
        demo.opportunities = summary.opportunities,
        "demo dataset loaded"
    );
    Ok(summary)
}

/// Opportunities per 1,000 leads that lead conversion alone makes (37,870
/// for a million leads with the default seed).
pub const CONVERTED_DEALS_PER_THOUSAND_LEADS: u32 = 38;

/// Leads generated and inserted per transaction. Larger batches rewrite the
/// randomly placed index pages (email, account) less often: 5,000 loads a
/// large dataset about a third faster than 1,000.
const BATCH_LEADS: usize = 5_000;
/// Pool accounts inserted per transaction.
const ACCOUNT_BATCH: usize = 5_000;
/// Bind parameters per statement, under SQLite's 32,766.
const MAX_BIND_PARAMS: usize = 30_000;
/// Rows per statement; larger ones are no faster.
const MAX_ROWS_PER_STATEMENT: usize = 1_024;
/// The smallest account pool.
const MIN_ACCOUNTS: usize = 50;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Days of history before the anchor.
const WINDOW_DAYS: i64 = 365;

/// Share of leads linked to a pool account.
const LINKED_SHARE: f64 = 0.70;
/// Share of leads whose first touch is a running campaign.
const CAMPAIGN_SOURCED_SHARE: f64 = 0.62;
/// The demo definition's thresholds and SLA.
const MQL_FIT_MIN: i32 = 40;
const MQL_ENGAGEMENT_MIN: i32 = 30;
const FIRST_CONTACT_HOURS: i32 = 24;
const DISPOSITION_HOURS: i32 = 48;
/// Employee range the definition gives points for.
const EMPLOYEES_MIN: i32 = 50;
const EMPLOYEES_MAX: i32 = 5_000;
const EMPLOYEES_POINTS: i32 = 25;

// ---------------------------------------------------------------------------
// Reference tables.

const SALES_REPS: [&str; 8] = [
    "Priya Shah",
    "Marcus Johnson",
    "Elena Rossi",
    "Tom Becker",
    "Aisha Okafor",
    "Lucas Martin",
    "Hannah Kim",
    "Diego Alvarez",
];

const MARKETERS: [&str; 3] = ["Chloe Dubois", "Noah Williams", "Sofia Lindqvist"];

/// An industry, its fit points and the company-name suffixes that imply it.
struct Industry {
    name: &'static str,
    points: i32,
    suffixes: &'static [&'static str],
}

const INDUSTRIES: [Industry; 8] = [
    Industry {
        name: "Software",
        points: 30,
        suffixes: &[
            "Software",
            "Labs",
            "Cloud",
            "Systems",
            "Technologies",
            "Data",
            "AI",
            "Digital",
        ],
    },
    Industry {
        name: "Financial Services",
        points: 25,
        suffixes: &["Capital", "Financial", "Bank", "Payments", "Insurance"],
    },
    Industry {
        name: "Healthcare",
        points: 20,
        suffixes: &["Health", "Medical", "Care", "Biotech"],
    },
    Industry {
        name: "Manufacturing",
        points: 15,
        suffixes: &[
            "Industries",
            "Manufacturing",
            "Engineering",
            "Materials",
            "Robotics",
        ],
    },
    Industry {
        name: "Retail",
        points: 10,
        suffixes: &["Retail", "Brands", "Outfitters", "Market"],
    },
    Industry {
        name: "Education",
        points: 5,
        suffixes: &["Learning", "Academy", "Education"],
    },
    Industry {
        name: "Logistics",
        points: 15,
        suffixes: &["Logistics", "Freight", "Shipping", "Transport"],
    },
    Industry {
        name: "Media",
        points: 10,
        suffixes: &["Media", "Studios", "Publishing"],
    },
];

/// A country: code, share of companies, local top-level domain, fit points.
struct Country {
    code: &'static str,
    weight: u32,
    tld: &'static str,
    points: i32,
}

#[rustfmt::skip]
const COUNTRIES: [Country; 12] = [
    Country { code: "US", weight: 45, tld: ".com", points: 20 },
    Country { code: "GB", weight: 12, tld: ".co.uk", points: 15 },
    Country { code: "DE", weight: 9, tld: ".de", points: 15 },
    Country { code: "FR", weight: 6, tld: ".fr", points: 10 },
    Country { code: "NL", weight: 5, tld: ".nl", points: 10 },
    Country { code: "CA", weight: 7, tld: ".ca", points: 15 },
    Country { code: "AU", weight: 5, tld: ".com.au", points: 10 },
    Country { code: "SE", weight: 3, tld: ".se", points: 5 },
    Country { code: "ES", weight: 3, tld: ".es", points: 5 },
    Country { code: "IE", weight: 2, tld: ".ie", points: 10 },
    Country { code: "SG", weight: 2, tld: ".sg", points: 5 },
    Country { code: "IN", weight: 3, tld: ".in", points: 0 },
];

/// First halves of company names; none is a prefix of another or a core.
#[rustfmt::skip]
const NAME_PREFIXES: [&str; 48] = [
    "Blue", "North", "Silver", "Iron", "Bright", "Red", "Green", "Summit", "Clear", "Swift", "Oak",
    "Cedar", "Maple", "Pine", "River", "Harbor", "Golden", "Star", "Sun", "Moon", "Frost", "Ember",
    "Falcon", "Eagle", "Wolf", "Fox", "Bear", "Lumen", "Nova", "Vertex", "Apex", "Zen", "Echo",
    "Atlas", "Orbit", "Quartz", "Cobalt", "Copper", "Granite", "Willow", "Aspen", "Birch", "Coral",
    "Delta", "Terra", "Hollow", "Indigo", "Juniper",
];

/// Second halves of company names.
#[rustfmt::skip]
const NAME_CORES: [&str; 30] = [
    "field", "wind", "stone", "bridge", "point", "gate", "path", "line", "wave", "peak", "ridge",
    "brook", "light", "spark", "forge", "works", "mark", "view", "side", "port", "haven", "crest",
    "dale", "wood", "leaf", "way", "shore", "vale", "rock", "bay",
];

/// Qualifiers that keep names unique once every plain name is taken.
const NAME_QUALIFIERS: [&str; 9] = [
    "Group",
    "International",
    "Holdings",
    "Global",
    "Partners",
    "Solutions",
    "Ventures",
    "Collective",
    "Worldwide",
];

#[rustfmt::skip]
const FIRST_NAMES: [&str; 50] = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Daniel", "Karen", "Matthew", "Emily", "Anthony", "Olivia", "Mark", "Emma", "Steven", "Sophie",
    "Andrew", "Laura", "Paul", "Anna", "Kevin", "Julia", "Brian", "Lena", "George", "Chloe",
    "Oliver", "Mia", "Lukas", "Amelia", "Noah", "Isabel", "Arjun", "Priya", "Wei", "Yuki", "Mateo",
    "Fatima",
];

#[rustfmt::skip]
const LAST_NAMES: [&str; 60] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen",
    "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Mitchell", "Campbell",
    "Roberts", "Evans", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Moreau",
    "Laurent", "Bernard", "Jansen", "deVries", "Bakker", "Nguyen", "Chen", "Wang", "Singh",
    "Patel", "Kowalski", "Novak", "Larsen",
];

/// Job titles with their seniority and share of leads.
const TITLES: [((&str, Seniority), u32); 24] = [
    (
        ("Marketing Specialist", Seniority::IndividualContributor),
        8,
    ),
    (("Software Engineer", Seniority::IndividualContributor), 7),
    (("Data Analyst", Seniority::IndividualContributor), 6),
    (
        ("Sales Operations Analyst", Seniority::IndividualContributor),
        5,
    ),
    (("Account Executive", Seniority::IndividualContributor), 5),
    (
        (
            "Demand Generation Specialist",
            Seniority::IndividualContributor,
        ),
        4,
    ),
    (("Marketing Manager", Seniority::Manager), 9),
    (("Engineering Manager", Seniority::Manager), 6),
    (("IT Manager", Seniority::Manager), 6),
    (("Revenue Operations Manager", Seniority::Manager), 5),
    (("Sales Manager", Seniority::Manager), 4),
    (("Director of Marketing", Seniority::Director), 5),
    (("Director of Engineering", Seniority::Director), 4),
    (("Director of Sales Operations", Seniority::Director), 4),
    (("Head of Growth", Seniority::Director), 3),
    (("Head of IT", Seniority::Director), 2),
    (("VP Marketing", Seniority::Vp), 3),
    (("VP Sales", Seniority::Vp), 3),
    (("VP Engineering", Seniority::Vp), 2),
    (("VP Revenue Operations", Seniority::Vp), 2),
    (("Chief Marketing Officer", Seniority::CLevel), 2),
    (("Chief Technology Officer", Seniority::CLevel), 2),
    (("Chief Revenue Officer", Seniority::CLevel), 1),
    (("Chief Executive Officer", Seniority::CLevel), 2),
];

fn seniority_points(s: Seniority) -> i32 {
    match s {
        Seniority::IndividualContributor => 0,
        Seniority::Manager => 10,
        Seniority::Director => 20,
        Seniority::Vp | Seniority::CLevel => 25,
    }
}

/// Sources of leads that did not come from a running campaign.
const ORGANIC_SOURCES: [(Channel, u32); 8] = [
    (Channel::OrganicSearch, 42),
    (Channel::Outbound, 20),
    (Channel::Referral, 14),
    (Channel::Content, 8),
    (Channel::Partner, 5),
    (Channel::OrganicSocial, 4),
    (Channel::Other, 5),
    (Channel::Email, 2),
];

/// Engagement points per marketing activity kind.
const ENGAGEMENT_RULES: [(ActivityKind, i32); 8] = [
    (ActivityKind::DemoRequest, 30),
    (ActivityKind::PricingPageView, 15),
    (ActivityKind::WebinarAttended, 12),
    (ActivityKind::EventVisit, 10),
    (ActivityKind::ContentDownload, 8),
    (ActivityKind::FormSubmit, 8),
    (ActivityKind::WebinarRegistered, 5),
    (ActivityKind::EmailClick, 3),
];

/// Marketing activities that are not campaign touches.
const ORGANIC_KINDS: [(ActivityKind, u32); 6] = [
    (ActivityKind::PricingPageView, 25),
    (ActivityKind::ContentDownload, 20),
    (ActivityKind::EmailClick, 20),
    (ActivityKind::FormSubmit, 15),
    (ActivityKind::DemoRequest, 5),
    (ActivityKind::WebinarRegistered, 5),
];

/// The activity that tips a lead over the MQL thresholds.
const MQL_TRIGGERS: [(ActivityKind, u32); 4] = [
    (ActivityKind::DemoRequest, 40),
    (ActivityKind::PricingPageView, 30),
    (ActivityKind::WebinarAttended, 15),
    (ActivityKind::ContentDownload, 15),
];

const REJECTION_REASONS: [(RejectionReason, u32); 10] = [
    (RejectionReason::NotInMarket, 22),
    (RejectionReason::WrongPersona, 16),
    (RejectionReason::NoBudget, 14),
    (RejectionReason::NotDecisionMaker, 14),
    (RejectionReason::BadContactData, 9),
    (RejectionReason::ExistingCustomer, 6),
    (RejectionReason::Duplicate, 6),
    (RejectionReason::Competitor, 5),
    (RejectionReason::Other, 5),
    (RejectionReason::Spam, 3),
];

/// Reasons for disqualifying an accepted or qualified lead.
const DISQUALIFY_REASONS: [(RejectionReason, u32); 5] = [
    (RejectionReason::NotInMarket, 30),
    (RejectionReason::NoBudget, 30),
    (RejectionReason::NotDecisionMaker, 15),
    (RejectionReason::Competitor, 15),
    (RejectionReason::Other, 10),
];

/// Reasons a lead without a sales touch is rejected.
const UNCONTACTED_REASONS: [(RejectionReason, u32); 4] = [
    (RejectionReason::BadContactData, 45),
    (RejectionReason::Duplicate, 25),
    (RejectionReason::Spam, 15),
    (RejectionReason::WrongPersona, 15),
];

fn rejection_notes(reason: RejectionReason) -> &'static [&'static str] {
    match reason {
        RejectionReason::BadContactData => &[
            "Email bounced and the phone number is disconnected.",
            "Form filled with a personal address; no way to reach them.",
        ],
        RejectionReason::NotInMarket => &[
            "Happy with their current tool; renewal is 18 months out.",
            "Researching for a blog post, not buying.",
            "Asked to be contacted again next quarter.",
        ],
        RejectionReason::NoBudget => &[
            "Budget frozen until next fiscal year.",
            "Team of three; our entry plan is out of reach.",
        ],
        RejectionReason::WrongPersona => &[
            "Student working on a thesis.",
            "Consultant, not an end user.",
        ],
        RejectionReason::NotDecisionMaker => &[
            "Intern collecting vendor info for their manager.",
            "Will forward to the RevOps lead; no authority to evaluate.",
        ],
        RejectionReason::ExistingCustomer => &["Already a customer; routed to their CSM."],
        RejectionReason::Competitor => &["Works at a competitor."],
        RejectionReason::Duplicate => &["Duplicate of an existing contact in Salesforce."],
        RejectionReason::Spam => &["Test submission."],
        RejectionReason::Other => &[
            "Looking for a job, not a product.",
            "Partner inquiry; forwarded to the partnerships team.",
            "Company is being acquired; all purchasing on hold.",
        ],
    }
}

const PRODUCTS: [(&str, u32); 7] = [
    ("Growth Plan", 30),
    ("Enterprise Plan", 20),
    ("Team Plan", 18),
    ("Platform", 12),
    ("Analytics Add-on", 8),
    ("Data Sync", 7),
    ("Professional Services", 5),
];

const COMPETITORS: [(&str, &str); 15] = [
    ("Pipedrift", "https://www.pipedrift.com"),
    ("FunnelForge", "https://funnelforge.io"),
    ("LeadLoop", "https://www.leadloop.com"),
    ("Closewise", "https://closewise.com"),
    ("RevPilot", "https://www.revpilot.io"),
    ("Salesbeam", "https://salesbeam.com"),
    ("Marketly", "https://www.marketly.co"),
    ("PipelineIQ", "https://pipelineiq.com"),
    ("Convertix", "https://www.convertix.io"),
    ("Demandly", "https://demandly.com"),
    ("Quotient CRM", "https://www.quotientcrm.com"),
    ("Nimbus CRM", "https://nimbuscrm.com"),
    ("Outreachify", "https://www.outreachify.com"),
    ("Stackrank", "https://stackrank.io"),
    ("BridgeCRM", "https://www.bridgecrm.com"),
];

const LOSS_REASONS: [(FeedbackReason, u32); 10] = [
    (FeedbackReason::Competitor, 20),
    (FeedbackReason::NoDecision, 16),
    (FeedbackReason::Price, 14),
    (FeedbackReason::Budget, 12),
    (FeedbackReason::MissingFeature, 12),
    (FeedbackReason::Timing, 10),
    (FeedbackReason::ProductFit, 6),
    (FeedbackReason::ChampionLeft, 4),
    (FeedbackReason::ImplementationRisk, 4),
    (FeedbackReason::Other, 2),
];

const WIN_REASONS: [(FeedbackReason, u32); 7] = [
    (FeedbackReason::ProductFit, 35),
    (FeedbackReason::Relationship, 15),
    (FeedbackReason::Price, 15),
    (FeedbackReason::Timing, 10),
    (FeedbackReason::Competitor, 10),
    (FeedbackReason::ImplementationRisk, 10),
    (FeedbackReason::Other, 5),
];

const OBJECTIONS: [&str; 10] = [
    "price",
    "security",
    "integration",
    "onboarding",
    "contract-terms",
    "reporting",
    "scalability",
    "support",
    "data_migration",
    "procurement",
];

const WIN_NOTES: [&str; 6] = [
    "Champion pushed it through; the Salesforce sync sealed it.",
    "Won on time to value: live in two weeks in the pilot.",
    "Security review went smoothly after the SOC 2 report.",
    "Replaced spreadsheets; the shared KPI dashboard was the hook.",
    "Multi-year deal in exchange for a discount.",
    "Strong fit: RevOps team of five, HubSpot plus Salesforce.",
];

fn loss_notes(reason: FeedbackReason) -> &'static [&'static str] {
    match reason {
        FeedbackReason::Price => &[
            "Lost on price in the final round.",
            "Chose a cheaper tool bundled with their CRM.",
        ],
        FeedbackReason::Budget => &["Budget moved to a headcount hire.", "No budget until Q3."],
        FeedbackReason::ProductFit => &["They need field-sales routing, which we do not do."],
        FeedbackReason::MissingFeature => &[
            "Needed a native Marketo connector we do not have.",
            "Asked for multi-currency forecasting.",
        ],
        FeedbackReason::Competitor => &[
            "Competitor offered a free first year.",
            "Incumbent CRM vendor matched our features in their bundle.",
        ],
        FeedbackReason::Timing => &["Project pushed to next year after a reorg."],
        FeedbackReason::NoDecision => &[
            "Went dark after the proposal.",
            "Decided to keep the spreadsheets for now.",
        ],
        FeedbackReason::ChampionLeft => &["Champion left the company mid-evaluation."],
        FeedbackReason::Relationship => &["The buyer preferred a vendor they already knew."],
        FeedbackReason::ImplementationRisk => &[
            "Procurement required on-premise hosting.",
            "IT worried about the Salesforce migration.",
        ],
        FeedbackReason::Other => &["Decided to build it in-house."],
    }
}

const SALES_NOTES_CALL: [&str; 4] = [
    "Intro call; left a voicemail.",
    "Connected; walked through their current handoff process.",
    "Discovery call.",
    "Follow-up call.",
];
const SALES_NOTES_EMAIL: [&str; 4] = [
    "Intro email with a case study.",
    "Follow-up after their webinar visit.",
    "Sent a pricing overview.",
    "Recap of our call and next steps.",
];
const SALES_NOTES_MEETING: [&str; 4] = [
    "Discovery meeting.",
    "Product demo.",
    "Technical deep dive with IT.",
    "Proposal review.",
];

/// How campaigns of one channel look.
struct ChannelPlan {
    channel: Channel,
    label: &'static str,
    /// Historic campaigns of this channel.
    count: usize,
    /// Duration range in days.
    days: (i64, i64),
    /// Budget range in USD.
    budget: (i64, i64),
    /// Relative share of campaign-sourced leads per running campaign.
    lead_weight: u32,
    objectives: &'static [CampaignObjective],
    themes: &'static [&'static str],
}

const CHANNEL_PLANS: [ChannelPlan; 8] = [
    ChannelPlan {
        channel: Channel::PaidSearch,
        label: "Paid Search",
        count: 6,
        days: (60, 120),
        budget: (20_000, 80_000),
        lead_weight: 12,
        objectives: &[CampaignObjective::Conversion],
        themes: &[
            "Brand Keywords",
            "Competitor Keywords",
            "Lead Scoring Software",
            "Revenue Operations Tools",
        ],
    },
    ChannelPlan {
        channel: Channel::PaidSocial,
        label: "LinkedIn Ads",
        count: 6,
        days: (30, 75),
        budget: (15_000, 60_000),
        lead_weight: 10,
        objectives: &[
            CampaignObjective::Awareness,
            CampaignObjective::Consideration,
        ],
        themes: &[
            "RevOps Leaders",
            "Marketing Ops Retargeting",
            "State of the Funnel Report",
            "ABM Target Accounts",
        ],
    },
    ChannelPlan {
        channel: Channel::Email,
        label: "Email Nurture",
        count: 7,
        days: (14, 45),
        budget: (2_000, 8_000),
        lead_weight: 8,
        objectives: &[
            CampaignObjective::Consideration,
            CampaignObjective::Conversion,
        ],
        themes: &[
            "Product Launch",
            "Customer Stories",
            "Pricing Update",
            "Re-engagement",
            "Trial Follow-up",
        ],
    },
    ChannelPlan {
        channel: Channel::Webinar,
        label: "Webinar",
        count: 7,
        days: (21, 35),
        budget: (5_000, 15_000),
        lead_weight: 14,
        objectives: &[CampaignObjective::Consideration],
        themes: &[
            "Fixing the Marketing-Sales Handoff",
            "Forecasting Without Spreadsheets",
            "Lead Scoring That Sales Trusts",
            "Closed-Loop Attribution 101",
            "SLA Playbooks for SDR Teams",
        ],
    },
    ChannelPlan {
        channel: Channel::Event,
        label: "Event",
        count: 5,
        days: (10, 21),
        budget: (25_000, 120_000),
        lead_weight: 20,
        objectives: &[
            CampaignObjective::Awareness,
            CampaignObjective::Consideration,
        ],
        themes: &[
            "SaaStr Annual Booth",
            "RevOps Summit London",
            "Dreamforce Side Event",
            "INBOUND Sponsorship",
            "Customer Roadshow",
        ],
    },
    ChannelPlan {
        channel: Channel::Content,
        label: "Content",
        count: 5,
        days: (60, 150),
        budget: (8_000, 30_000),
        lead_weight: 4,
        objectives: &[
            CampaignObjective::Awareness,
            CampaignObjective::Consideration,
        ],
        themes: &[
            "Benchmark Report",
            "MQL Definition Template",
            "Buyer's Guide",
            "Pipeline Velocity Calculator",
        ],
    },
    ChannelPlan {
        channel: Channel::OrganicSocial,
        label: "Social",
        count: 2,
        days: (30, 90),
        budget: (1_000, 5_000),
        lead_weight: 2,
        objectives: &[CampaignObjective::Awareness],
        themes: &["Founder Stories", "Funnel Myths Series"],
    },
    ChannelPlan {
        channel: Channel::Partner,
        label: "Partner",
        count: 2,
        days: (60, 120),
        budget: (10_000, 40_000),
        lead_weight: 3,
        objectives: &[
            CampaignObjective::Conversion,
            CampaignObjective::Consideration,
        ],
        themes: &["HubSpot Co-marketing", "Reseller Enablement"],
    },
];

/// Channels of the campaigns planned after the anchor.
const PLANNED_CHANNELS: [Channel; 2] = [Channel::Webinar, Channel::Event];

fn month_factor(month: u32) -> f64 {
    match month {
        1 => 1.05,
        3 => 1.10,
        6 => 0.95,
        7 => 0.80,
        8 => 0.75,
        9 => 1.10,
        10 => 1.15,
        11 => 1.05,
        12 => 0.70,
        _ => 1.0,
    }
}

fn weekday_factor(day: Weekday) -> f64 {
    match day {
        Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu => 1.15,
        Weekday::Fri => 0.95,
        Weekday::Sat => 0.30,
        Weekday::Sun => 0.35,
    }
}

/// Relative share of leads created per hour of the day (UTC).
#[rustfmt::skip]
const HOUR_WEIGHTS: [f64; 24] = [
    0.2, 0.2, 0.2, 0.2, 0.2, 0.25, 0.35, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2, 1.2, 1.1,
    1.0, 0.8, 0.7, 0.5, 0.4, 0.3,
];

// ---------------------------------------------------------------------------
// Time and small helpers.

fn ts(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

fn date_of(us: i64) -> NaiveDate {
    ts(us).date_naive()
}

fn midnight(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

fn add_days(day: NaiveDate, n: i64) -> NaiveDate {
    day.checked_add_signed(TimeDelta::days(n)).unwrap_or(day)
}

fn email_part(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The change-log entry of a loaded record: the API's entry
/// ([`records::log_entry`]) by no actor, naming no fields (the record
/// arrives whole, as history).
fn log_entry(object_type: ObjectType, id: Uuid, at: DateTime<Utc>) -> change_log::ActiveModel {
    records::log_entry(
        None,
        object_type,
        id,
        ChangeOperation::Upsert,
        Vec::new(),
        at,
    )
}

/// Inserts rows with multi-row statements of at most [`MAX_BIND_PARAMS`]
/// parameters and [`MAX_ROWS_PER_STATEMENT`] rows each.
///
/// Statements hold a power-of-two number of rows, so each table needs only a
/// handful of distinct statements: sqlx caches every prepared statement on
/// its connection, and a new remainder size per batch would fill that cache
/// with large, never reused INSERTs.
async fn insert_all<A, M>(txn: &DatabaseTransaction, rows: Vec<M>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    M: IntoActiveModel<A> + Send,
{
    let columns = <A::Entity as EntityTrait>::Column::iter().count().max(1);
    let most = (MAX_BIND_PARAMS / columns).clamp(1, MAX_ROWS_PER_STATEMENT);
    let most = 1 << most.ilog2();
    let mut left = rows.len();
    let mut rows = rows.into_iter();
    while left > 0 {
        let size = if left >= most {
            most
        } else {
            1 << left.ilog2()
        };
        let chunk: Vec<A> = rows
            .by_ref()
            .take(size)
            .map(IntoActiveModel::into_active_model)
            .collect();
        left -= chunk.len();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The generator.

/// A company: an account, or the firmographics of a lead without one (used
/// for its fit score and for the account created when it converts).
#[derive(Clone)]
struct Company {
    name: String,
    domain: String,
    industry: usize,
    employees: Option<i32>,
    revenue: Option<Decimal>,
    country: usize,
}

/// An account of the pool leads are linked to.
struct PoolAccount {
    id: Uuid,
    created: i64,
    updated: i64,
    company: Company,
    owner: Uuid,
    target: bool,
    fit: i32,
}

impl PoolAccount {
    fn model(&self) -> account::Model {
        account_model(
            self.id,
            self.created,
            self.updated,
            &self.company,
            self.owner,
            self.target,
            self.fit,
        )
    }
}

fn account_model(
    id: Uuid,
    created: i64,
    updated: i64,
    company: &Company,
    owner: Uuid,
    target: bool,
    fit: i32,
) -> account::Model {
    account::Model {
        id,
        created_at: ts(created),
        updated_at: ts(updated),
        name: company.name.clone(),
        domain: Some(company.domain.clone()),
        industry: Some(INDUSTRIES[company.industry].name.to_owned()),
        employee_count: company.employees,
        annual_revenue: company.revenue,
        currency: company.revenue.map(|_| "USD".to_owned()),
        country: Some(COUNTRIES[company.country].code.to_owned()),
        is_target_account: target,
        owner_id: Some(owner),
        fit_score: fit,
        version: 1,
        deleted_at: None,
    }
}

/// A campaign as leads and activities see it.
struct CampaignInfo {
    id: Uuid,
    channel: Channel,
    lead_weight: u32,
}

/// The rows of one batch of leads, in insertion order.
#[derive(Default)]
struct Batch {
    accounts: Vec<account::Model>,
    leads: Vec<lead::Model>,
    activities: Vec<activity::Model>,
    opportunities: Vec<opportunity::Model>,
    feedback: Vec<win_loss_feedback::Model>,
    stage_changes: Vec<stage_change::Model>,
    log: Vec<change_log::ActiveModel>,
    /// The first move the stage rules refused (a bug in the generator).
    refused: Option<String>,
}

/// A lead's position while its history is written.
struct Track {
    lead: Uuid,
    stage: LeadStage,
    at: i64,
}

/// What an opportunity needs to know.
struct Deal<'a> {
    /// The converted lead; `None` for a deal sales opened on an account.
    lead: Option<Uuid>,
    account: Uuid,
    account_name: &'a str,
    owner: Uuid,
    fit: i32,
    sourced_by: SourcedBy,
    /// The deal's type; `None` draws it (most converted leads are new
    /// business).
    kind: Option<OpportunityType>,
    employees: Option<i32>,
}

struct Generator {
    rng: ChaCha8Rng,
    /// The anchor, in microseconds since the epoch.
    anchor: i64,
    anchor_date: NaiveDate,
    /// Start of the 12-month window.
    start: i64,
    integration: Uuid,
    marketing: Uuid,
    sales: Uuid,
    admin: Uuid,
    reps: Vec<Uuid>,
    marketers: Vec<Uuid>,
    definition: Uuid,
    /// The definition's fit criteria, for the domain's fit score.
    fit: FitCriteria,
    competitors: Vec<Uuid>,
    campaigns: Vec<CampaignInfo>,
    /// Indexes of the campaigns running on each day of the window.
    running: Vec<Vec<u16>>,
    accounts: Vec<PoolAccount>,
    /// Cumulative share of leads created up to each day of the window.
    day_cdf: Vec<f64>,
    /// Cumulative share of leads created up to each hour of a day.
    hour_cdf: [f64; 24],
    /// Every company-name suffix with its industry.
    suffixes: Vec<(usize, &'static str)>,
    /// Company names taken, as (round, index).
    names_taken: HashSet<(u32, u32)>,
    name_round: u32,
}

impl Generator {
    fn new(seed: u64, anchor: DateTime<Utc>) -> Self {
        let anchor = anchor.timestamp_micros();
        let start = anchor - WINDOW_DAYS * DAY;
        let mut day_cdf = Vec::with_capacity(WINDOW_DAYS as usize);
        let mut total = 0.0;
        for d in 0..WINDOW_DAYS {
            let day = date_of(start + d * DAY);
            let growth = 0.8 + 0.4 * d as f64 / WINDOW_DAYS as f64;
            total += month_factor(day.month()) * weekday_factor(day.weekday()) * growth;
            day_cdf.push(total);
        }
        for x in &mut day_cdf {
            *x /= total;
        }
        let mut hour_cdf = [0.0; 24];
        let hours: f64 = HOUR_WEIGHTS.iter().sum();
        let mut acc = 0.0;
        for (h, w) in HOUR_WEIGHTS.iter().enumerate() {
            acc += w / hours;
            hour_cdf[h] = acc;
        }
        let suffixes = INDUSTRIES
            .iter()
            .enumerate()
            .flat_map(|(i, ind)| ind.suffixes.iter().map(move |s| (i, *s)))
            .collect();
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            anchor,
            anchor_date: date_of(anchor),
            start,
            integration: Uuid::nil(),
            marketing: Uuid::nil(),
            sales: Uuid::nil(),
            admin: Uuid::nil(),
            reps: Vec::new(),
            marketers: Vec::new(),
            definition: Uuid::nil(),
            fit: FitCriteria::default(),
            competitors: Vec::new(),
            campaigns: Vec::new(),
            running: Vec::new(),
            accounts: Vec::new(),
            day_cdf,
            hour_cdf,
            suffixes,
            names_taken: HashSet::new(),
            name_round: 0,
        }
    }

    // --- randomness -------------------------------------------------------

    fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform instant in `[lo, hi)`, or `lo` when the range is empty.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// A lognormal duration, clamped to `[min, max]`.
    fn duration(&mut self, median: i64, sigma: f64, min: i64, max: i64) -> i64 {
        (self.lognormal(median as f64, sigma) as i64).clamp(min, max)
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.random_range(0..total.max(1));
        for (item, w) in items {
            if r < *w {
                return *item;
            }
            r -= w;
        }
        items[items.len() - 1].0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn country(&mut self) -> usize {
        let total: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
        let mut r = self.rng.random_range(0..total);
        for (i, c) in COUNTRIES.iter().enumerate() {
            if r < c.weight {
                return i;
            }
            r -= c.weight;
        }
        0
    }

    fn rep(&mut self) -> Uuid {
        self.reps[self.rng.random_range(0..self.reps.len())]
    }

    /// A UUID v7 carrying `at` (microseconds) as its timestamp.
    fn uuid_at(&mut self, at: i64) -> Uuid {
        let mut bytes = [0u8; 10];
        self.rng.fill(&mut bytes);
        let millis = u64::try_from(at.div_euclid(1_000)).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }

    fn day_index(&self, at: i64) -> usize {
        usize::try_from((at - self.start).div_euclid(DAY))
            .unwrap_or(0)
            .min(self.running.len().saturating_sub(1))
    }

    // --- reference data ---------------------------------------------------

    fn users(&mut self) -> Vec<user::Model> {
        let base = self.start - 90 * DAY;
        let mut out = Vec::new();
        let mut push = |g: &mut Self, email: String, name: &str, role: Role, team: Team| {
            let at = base + out.len() as i64 * HOUR;
            let id = g.uuid_at(at);
            out.push(user::Model {
                id,
                created_at: ts(at),
                updated_at: ts(at),
                name: name.to_owned(),
                email,
                role,
                team,
                active: true,
                version: 1,
                deleted_at: None,
            });
            id
        };
        for (email, name, role, team) in ROLE_USERS {
            let id = push(self, email.to_owned(), name, role, team);
            match role {
                Role::Admin => self.admin = id,
                Role::Marketing => self.marketing = id,
                Role::Sales => self.sales = id,
                Role::Integration => self.integration = id,
                Role::Leadership | Role::Reporting => {}
            }
        }
        self.reps = vec![self.sales];
        self.marketers = vec![self.marketing];
        for name in SALES_REPS {
            let email = user_email(name);
            let id = push(self, email, name, Role::Sales, Team::Sales);
            self.reps.push(id);
        }
        for name in MARKETERS {
            let email = user_email(name);
            let id = push(self, email, name, Role::Marketing, Team::Marketing);
            self.marketers.push(id);
        }
        out
    }

    fn definition(
        &mut self,
    ) -> (
        lead_definition::Model,
        Vec<lead_definition_signature::Model>,
    ) {
        let created = self.start - 30 * DAY;
        let marketing_signed = created + 3 * DAY + 2 * HOUR;
        let approved = created + 5 * DAY + 5 * HOUR;
        let id = self.uuid_at(created);
        self.definition = id;
        let industries: Map<String, Value> = INDUSTRIES
            .iter()
            .map(|i| (i.name.to_owned(), json!(i.points)))
            .collect();
        let countries: Map<String, Value> = COUNTRIES
            .iter()
            .filter(|c| c.points > 0)
            .map(|c| (c.code.to_owned(), json!(c.points)))
            .collect();
        let seniorities: Map<String, Value> = [
            Seniority::Manager,
            Seniority::Director,
            Seniority::Vp,
            Seniority::CLevel,
        ]
        .into_iter()
        .map(|s| (s.as_str().to_owned(), json!(seniority_points(s))))
        .collect();
        let rules: Map<String, Value> = ENGAGEMENT_RULES
            .iter()
            .map(|(k, p)| (k.as_str().to_owned(), json!(p)))
            .collect();
        let definition = lead_definition::Model {
            id,
            created_at: ts(created),
            updated_at: ts(approved),
            version: 1,
            status: DefinitionStatus::Approved,
            description: Some(
                "Ideal customer: software, financial services or healthcare companies of 50 to \
                 5,000 employees in our core markets, reached at manager level or above. A lead \
                 becomes an MQL at fit 40 and engagement 30; sales makes first contact within \
                 24 hours and accepts or rejects within 48."
                    .to_owned(),
            ),
            fit_criteria: json!({
                "industries": industries,
                "employeeRange": {
                    "min": EMPLOYEES_MIN,
                    "max": EMPLOYEES_MAX,
                    "points": EMPLOYEES_POINTS,
                },
                "seniorities": seniorities,
                "countries": countries,
            }),
            engagement_rules: Value::Object(rules),
            half_life_days: 30.0,
            mql_fit_min: MQL_FIT_MIN,
            mql_engagement_min: MQL_ENGAGEMENT_MIN,
            first_contact_hours: FIRST_CONTACT_HOURS,
            disposition_hours: DISPOSITION_HOURS,
            review_by: add_days(self.anchor_date, 90),
            created_by_id: Some(self.admin),
            approved_at: Some(ts(approved)),
            superseded_at: None,
            revision: 1,
            deleted_at: None,
        };
        let mut signatures = Vec::with_capacity(2);
        for (user_id, team, at) in [
            (self.marketing, Team::Marketing, marketing_signed),
            (self.sales, Team::Sales, approved),
        ] {
            signatures.push(lead_definition_signature::Model {
                id: self.uuid_at(at),
                created_at: ts(at),
                updated_at: ts(at),
                definition_id: id,
                user_id,
                team,
                signed_at: ts(at),
            });
        }
        (definition, signatures)
    }

    fn competitors(&mut self) -> Vec<competitor::Model> {
        let base = self.start - 60 * DAY;
        let mut out = Vec::with_capacity(COMPETITORS.len());
        for (i, (name, website)) in COMPETITORS.iter().enumerate() {
            let at = base + i as i64 * DAY + 10 * HOUR;
            let id = self.uuid_at(at);
            self.competitors.push(id);
            out.push(competitor::Model {
                id,
                created_at: ts(at),
                updated_at: ts(at),
                name: (*name).to_owned(),
                website: Some((*website).to_owned()),
                name_key: Some(name.to_lowercase()),
                version: 1,
                deleted_at: None,
            });
        }
        out
    }

    fn campaigns(&mut self) -> (Vec<campaign::Model>, Vec<campaign_spend::Model>) {
        let mut slots: Vec<usize> = CHANNEL_PLANS
            .iter()
            .enumerate()
            .flat_map(|(i, p)| std::iter::repeat_n(i, p.count))
            .collect();
        slots.shuffle(&mut self.rng);
        let first_day = date_of(self.start);
        let mut models = Vec::new();
        let mut spend = Vec::new();
        let n = slots.len();
        for (i, &p) in slots.iter().enumerate() {
            let plan = &CHANNEL_PLANS[p];
            let days = self.rng.random_range(plan.days.0..=plan.days.1);
            let center = ((i as f64 + self.unit()) / n as f64 * WINDOW_DAYS as f64) as i64;
            let start_day = (center - days / 2).clamp(0, WINDOW_DAYS - 3);
            let starts_on = add_days(first_day, start_day);
            self.campaign(
                p,
                starts_on,
                add_days(starts_on, days),
                &mut models,
                &mut spend,
            );
        }
        for channel in PLANNED_CHANNELS {
            let p = CHANNEL_PLANS
                .iter()
                .position(|plan| plan.channel == channel)
                .unwrap_or(0);
            let plan = &CHANNEL_PLANS[p];
            let days = self.rng.random_range(plan.days.0..=plan.days.1);
            let starts_on = add_days(self.anchor_date, self.rng.random_range(7..40));
            self.campaign(
                p,
                starts_on,
                add_days(starts_on, days),
                &mut models,
                &mut spend,
            );
        }
        // Which campaigns run on each day of the window.
        self.running = (0..=WINDOW_DAYS)
            .map(|d| {
                let day = add_days(first_day, d);
                models
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| {
                        c.status != CampaignStatus::Planned
                            && c.starts_on <= day
                            && c.ends_on.is_none_or(|end| day <= end)
                    })
                    .filter_map(|(i, _)| u16::try_from(i).ok())
                    .collect()
            })
            .collect();
        (models, spend)
    }

    fn campaign(
        &mut self,
        plan_index: usize,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        models: &mut Vec<campaign::Model>,
        spend: &mut Vec<campaign_spend::Model>,
    ) {
        let plan = &CHANNEL_PLANS[plan_index];
        let a = self.anchor;
        let status = if starts_on > self.anchor_date {
            CampaignStatus::Planned
        } else if ends_on < self.anchor_date {
            CampaignStatus::Completed
        } else if self.chance(0.15) {
            CampaignStatus::Paused
        } else {
            CampaignStatus::Active
        };
        let created = if status == CampaignStatus::Planned {
            a - self.between(DAY, 20 * DAY)
        } else {
            midnight(starts_on) - self.between(7 * DAY, 30 * DAY)
                + self.between(8 * HOUR, 18 * HOUR)
        }
        .min(a);
        let id = self.uuid_at(created);
        let budget_usd = self.rng.random_range(plan.budget.0..=plan.budget.1) / 500 * 500;
        let budget = Decimal::from(budget_usd);
        let theme = self.pick(plan.themes);
        let objective = self.pick(plan.objectives);
        let quarter = (starts_on.month() - 1) / 3 + 1;
        let name = format!("Q{quarter} {} {}: {theme}", starts_on.year(), plan.label);

        // Weekly spend over the planned dates, summing to the budget; only
        // the weeks before the anchor day have happened.
        let days = (ends_on - starts_on).num_days() + 1;
        let weeks = ((days + 6) / 7).max(1);
        let weights: Vec<f64> = (0..weeks).map(|_| 0.85 + 0.3 * self.unit()).collect();
        let total: f64 = weights.iter().sum();
        let budget_cents = budget_usd * 100;
        let mut spent_cents = 0;
        let mut updated = created;
        for (w, weight) in weights.iter().enumerate() {
            let spent_on = add_days(starts_on, 7 * w as i64);
            let amount = if w as i64 == weeks - 1 {
                budget_cents - spent_cents
            } else {
                (budget_cents as f64 * weight / total).round() as i64
            };
            spent_cents += amount;
            if spent_on >= self.anchor_date || status == CampaignStatus::Planned {
                break;
            }
            let at = (midnight(spent_on) + 18 * HOUR).clamp(created, a);
            updated = updated.max(at);
            spend.push(campaign_spend::Model {
                id: self.uuid_at(at),
                created_at: ts(at),
                updated_at: ts(at),
                campaign_id: id,
                spent_on,
                amount: Decimal::new(amount, 2),
                currency: "USD".to_owned(),
                note: None,
                version: 1,
                deleted_at: None,
            });
        }
        if status == CampaignStatus::Completed {
            updated = (midnight(ends_on) + DAY + 10 * HOUR).clamp(created, a);
        }
        self.campaigns.push(CampaignInfo {
            id,
            channel: plan.channel,
            lead_weight: plan.lead_weight,
        });
        models.push(campaign::Model {
            id,
            created_at: ts(created),
            updated_at: ts(updated),
            name,
            channel: plan.channel,
            objective,
            status,
            starts_on,
            ends_on: Some(ends_on),
            budget: Some(budget),
            currency: "USD".to_owned(),
            owner_id: Some(self.pick_marketer()),
            version: 1,
            deleted_at: None,
        });
    }

    fn pick_marketer(&mut self) -> Uuid {
        self.marketers[self.rng.random_range(0..self.marketers.len())]
    }

    /// A campaign running on `day`, weighted by how many leads its channel
    /// brings in.
    fn running_campaign(&mut self, day: usize, channel: Option<Channel>) -> Option<usize> {
        let list = self.running.get(day)?;
        let weight = |i: u16| {
            let c = &self.campaigns[usize::from(i)];
            match channel {
                Some(ch) if c.channel != ch => 0,
                _ => c.lead_weight,
            }
        };
        let total: u32 = list.iter().map(|&i| weight(i)).sum();
        if total == 0 {
            return None;
        }
        let mut r = self.rng.random_range(0..total);
        for &i in list {
            let w = weight(i);
            if r < w {
                return Some(usize::from(i));
            }
            r -= w;
        }
        None
    }

    // --- companies and accounts -------------------------------------------

    /// A company with a name and domain no other company has.
    fn new_company(&mut self) -> Company {
        let space = u32::try_from(NAME_PREFIXES.len() * NAME_CORES.len() * self.suffixes.len())
            .unwrap_or(u32::MAX);
        let index = loop {
            let mut found = None;
            for _ in 0..12 {
                let j = self.rng.random_range(0..space);
                if self.names_taken.insert((self.name_round, j)) {
                    found = Some(j);
                    break;
                }
            }
            match found {
                Some(j) => break j,
                None => self.name_round += 1,
            }
        };
        let (name, slug, industry) = company_name(index as usize, self.name_round, &self.suffixes);
        let country = self.country();
        let tld = if COUNTRIES[country].code == "US" {
            if industry == 0 && self.chance(0.3) {
                ".io"
            } else {
                ".com"
            }
        } else if self.chance(0.5) {
            ".com"
        } else {
            COUNTRIES[country].tld
        };
        let employees = if self.chance(0.03) {
            None
        } else {
            Some(self.lognormal(150.0, 1.6).clamp(2.0, 250_000.0) as i32)
        };
        let revenue = match employees {
            Some(e) if !self.chance(0.08) => {
                let per_head = self.rng.random_range(60_000..320_000_i64);
                let usd = i64::from(e) * per_head / 10_000 * 10_000;
                Some(Decimal::from(usd.max(50_000)))
            }
            _ => None,
        };
        Company {
            name,
            domain: format!("{slug}{tld}"),
            industry,
            employees,
            revenue,
            country,
        }
    }

    fn generate_accounts(&mut self, n: usize) {
        let a = self.anchor;
        self.accounts.reserve(n);
        for k in 0..n {
            // 70% existed before the window (over the two years before it),
            // the rest were created during it; generated in creation order.
            let q = (k as f64 + self.unit()) / n as f64;
            let created = if q < 0.7 {
                self.start - 730 * DAY + (q / 0.7 * 730.0 * DAY as f64) as i64
            } else {
                self.start + ((q - 0.7) / 0.3 * (WINDOW_DAYS - 1) as f64 * DAY as f64) as i64
            }
            .min(a);
            let id = self.uuid_at(created);
            let company = self.new_company();
            let owner = self.rep();
            let fit = self.fit(&company, company.country, None, None, false);
            let target = self.chance(if fit >= 55 { 0.17 } else { 0.04 });
            let fit = if target {
                self.fit(&company, company.country, None, None, true)
            } else {
                fit
            };
            let updated = created + self.between(0, (a - created).min(200 * DAY));
            self.accounts.push(PoolAccount {
                id,
                created,
                updated,
                company,
                owner,
                target,
                fit,
            });
        }
    }

    /// One of the first `available` pool accounts, larger ones more often.
    fn pick_account(&mut self, available: usize) -> usize {
        let i = self.rng.random_range(0..available);
        if self.chance(0.5) {
            let j = self.rng.random_range(0..available);
            if self.accounts[j].company.employees > self.accounts[i].company.employees {
                return j;
            }
        }
        i
    }

    // --- leads --------------------------------------------------------------

    /// The fit score of a company in `country` (an account's, or a lead's
    /// with its seniority and title) under the demo definition, by the
    /// domain's formula ([`fit_value`]).
    fn fit(
        &self,
        company: &Company,
        country: usize,
        seniority: Option<Seniority>,
        job_title: Option<&str>,
        is_target_account: bool,
    ) -> i32 {
        let input = FitInput {
            industry: Some(INDUSTRIES[company.industry].name),
            employee_count: company.employees,
            seniority,
            job_title,
            country: Some(COUNTRIES[country].code),
            is_target_account,
        };
        fit_value(&self.fit, &input)
    }

    /// Creation time of lead `idx` of `total`: leads are spread over the
    /// window by a seasonal, weekly and hourly profile, in index order.
    fn lead_created_at(&mut self, idx: usize, total: usize) -> i64 {
        let q = ((idx as f64 + self.unit()) / total.max(1) as f64).min(1.0 - 1e-12);
        let d = self
            .day_cdf
            .partition_point(|&x| x <= q)
            .min(self.day_cdf.len() - 1);
        let lo = if d == 0 { 0.0 } else { self.day_cdf[d - 1] };
        let frac = ((q - lo) / (self.day_cdf[d] - lo)).clamp(0.0, 0.999_999);
        let h = self.hour_cdf.partition_point(|&x| x <= frac).min(23);
        let hlo = if h == 0 { 0.0 } else { self.hour_cdf[h - 1] };
        let within = ((frac - hlo) / (self.hour_cdf[h] - hlo)).clamp(0.0, 0.999_999);
        let at = self.start + d as i64 * DAY + h as i64 * HOUR + (within * HOUR as f64) as i64;
        at.min(self.anchor - 1)
    }

    /// Moves the lead by `action`, as the lifecycle allows
    /// ([`StageMove::lead`]); a refused move is kept in `b.refused`.
    fn move_lead(
        &mut self,
        b: &mut Batch,
        track: &mut Track,
        action: LeadAction,
        at: i64,
        actor: Option<Uuid>,
        reason: Option<String>,
    ) {
        match StageMove::lead(track.lead, track.stage, action, ts(at), actor) {
            Ok(m) => {
                if let Some(to) = m.lead_stage() {
                    track.stage = to;
                }
                track.at = at;
                let id = self.uuid_at(at);
                b.stage_changes
                    .push(stage_moves::row(id, m.because(reason)));
            }
            Err(e) => {
                b.refused.get_or_insert(e.to_string());
            }
        }
    }

    /// Generates lead `idx` of `total` with its whole history; returns when
    /// it was created.
    fn lead(&mut self, idx: usize, total: usize, b: &mut Batch) -> i64 {
        let a = self.anchor;
        let created = self.lead_created_at(idx, total);
        let id = self.uuid_at(created);

        // Who the lead is.
        let available = self.accounts.partition_point(|acc| acc.created <= created);
        let pool = if available > 0 && self.chance(LINKED_SHARE) {
            Some(self.pick_account(available))
        } else {
            None
        };
        let company = match pool {
            Some(i) => self.accounts[i].company.clone(),
            None => self.new_company(),
        };
        let mut account_id = pool.map(|i| self.accounts[i].id);
        let first = self.pick(&FIRST_NAMES);
        let last = self.pick(&LAST_NAMES);
        let email = format!(
            "{}.{}.{}@{}",
            email_part(first),
            email_part(last),
            idx + 1,
            company.domain
        );
        let title = if self.chance(0.04) {
            None
        } else {
            Some(self.weighted(&TITLES))
        };
        let seniority = title.map(|(_, s)| s);
        let country = if self.chance(0.9) {
            company.country
        } else {
            self.country()
        };

        // Where the lead came from.
        let day = self.day_index(created);
        let source_campaign = if self.chance(CAMPAIGN_SOURCED_SHARE) {
            self.running_campaign(day, None)
        } else {
            None
        };
        let source = match source_campaign {
            Some(i) => self.campaigns[i].channel,
            None => self.weighted(&ORGANIC_SOURCES),
        };

        // Scores and the funnel.
        let target = pool.is_some_and(|i| self.accounts[i].target);
        let fit = self.fit(&company, country, seniority, title.map(|(t, _)| t), target);
        let reaches_mql = fit >= MQL_FIT_MIN && self.chance(mql_probability(fit));
        let owner = match pool {
            Some(i) => self.accounts[i].owner,
            None => self.rep(),
        };
        let mut track = Track {
            lead: id,
            stage: LeadStage::New,
            at: created,
        };
        let entered = self.uuid_at(created);
        b.stage_changes.push(stage_moves::row(
            entered,
            StageMove::lead_created(id, ts(created), Some(self.integration)),
        ));

        let mut mql_at = None;
        let mut first_contacted = None;
        let mut dispositioned = None;
        let mut rejection: Option<(RejectionReason, Option<String>)> = None;
        let mut recycle_count = 0;
        let mut mql_times = Vec::new();
        // Sales touches per MQL cycle: (first touch, end of the window for
        // more, how many more at most, whether meetings are likely).
        let mut touch_windows: Vec<(i64, i64, u32, bool)> = Vec::new();
        let mut accepted_contact = None;
        let mut next_mql = reaches_mql.then(|| created + self.mql_delay());

        while let Some(m) = next_mql.take() {
            if m > a {
                break;
            }
            self.move_lead(b, &mut track, LeadAction::BecomeMql, m, None, None);
            mql_at = Some(m);
            mql_times.push(m);
            dispositioned = None;
            rejection = None;

            let r = self.unit();
            let contact = if r < 0.80 {
                Some(m + self.duration(3 * HOUR, 0.9, 5 * MINUTE, 23 * HOUR + 50 * MINUTE))
            } else if r < 0.92 {
                Some(m + self.between(25 * HOUR, 6 * DAY))
            } else {
                None
            }
            .filter(|&t| t <= a);
            first_contacted = contact;

            let accept = self.chance((0.30 + 0.40 * f64::from(fit - MQL_FIT_MIN) / 60.0).min(0.8));
            let disposition = match contact {
                Some(fc) => {
                    let r = self.unit();
                    if r < 0.86 {
                        let t = m + self.duration(14 * HOUR, 0.8, 30 * MINUTE, 47 * HOUR);
                        Some((t.max(fc + 10 * MINUTE), accept))
                    } else if r < 0.96 {
                        let t = m + self.between(49 * HOUR, 10 * DAY);
                        Some((t.max(fc + HOUR), accept))
                    } else {
                        None
                    }
                }
                None if self.chance(0.45) => Some((m + self.between(2 * HOUR, 72 * HOUR), false)),
                None => None,
            }
            .filter(|&(t, _)| t <= a);

            let Some((d, accepted)) = disposition else {
                if let Some(fc) = contact {
                    touch_windows.push((fc, a.min(fc + 5 * DAY), 2, false));
                }
                break;
            };
            dispositioned = Some(d);
            // As the lifecycle service does, a disposition without a touch
            // counts as the first contact.
            first_contacted = Some(contact.unwrap_or(d));
            if accepted {
                self.move_lead(b, &mut track, LeadAction::Accept, d, Some(owner), None);
                accepted_contact = contact;
                break;
            }
            let reason = if contact.is_some() {
                self.weighted(&REJECTION_REASONS)
            } else {
                self.weighted(&UNCONTACTED_REASONS)
            };
            let note = self.rejection_note(reason);
            self.move_lead(
                b,
                &mut track,
                LeadAction::Reject,
                d,
                Some(owner),
                Some(reason.as_str().to_owned()),
            );
            rejection = Some((reason, note));
            if let Some(fc) = contact {
                touch_windows.push((fc, d, 1, false));
            }
            // A few rejected leads re-engage and are recycled to NEW;
            // half of those qualify again.
            if mql_times.len() == 1 && self.chance(0.15) {
                let r = d + self.between(30 * DAY, 120 * DAY);
                if r <= a {
                    self.move_lead(
                        b,
                        &mut track,
                        LeadAction::Recycle,
                        r,
                        None,
                        Some("recycled: re-engaged with marketing".to_owned()),
                    );
                    // Recycling clears the SLA facts, as the service does.
                    recycle_count = 1;
                    rejection = None;
                    mql_at = None;
                    first_contacted = None;
                    dispositioned = None;
                    if self.chance(0.5) {
                        next_mql = Some(r + self.duration(10 * DAY, 0.8, DAY, 90 * DAY));
                    }
                }
            }
        }

        // Accepted leads: qualification, conversion, the deal.
        let mut opportunity_end = None;
        if track.stage == LeadStage::Sal {
            let d = track.at;
            let r = self.unit();
            if r < 0.64 {
                let s = d + self.duration(6 * DAY, 0.7, DAY, 45 * DAY);
                if s <= a {
                    self.move_lead(b, &mut track, LeadAction::Qualify, s, Some(owner), None);
                }
            } else if r < 0.87 {
                let t = d + self.between(5 * DAY, 40 * DAY);
                if t <= a {
                    rejection = Some(self.disqualify(b, &mut track, t, owner));
                }
            }
        }
        if track.stage == LeadStage::Sql {
            let s = track.at;
            let r = self.unit();
            if r < 0.72 {
                let o = s + self.duration(5 * DAY, 0.6, DAY, 30 * DAY);
                if o <= a {
                    self.move_lead(b, &mut track, LeadAction::Convert, o, Some(owner), None);
                    let account = match account_id {
                        Some(acc) => acc,
                        None => {
                            // Converting creates the account.
                            let acc = self.uuid_at(o);
                            let fit = self.fit(&company, company.country, None, None, false);
                            b.accounts
                                .push(account_model(acc, o, o, &company, owner, false, fit));
                            b.log.push(log_entry(ObjectType::Account, acc, ts(o)));
                            account_id = Some(acc);
                            acc
                        }
                    };
                    let deal = Deal {
                        lead: Some(id),
                        account,
                        account_name: &company.name,
                        owner,
                        fit,
                        sourced_by: match source {
                            Channel::Partner => SourcedBy::Partner,
                            Channel::Outbound | Channel::Referral | Channel::Other => {
                                SourcedBy::Sales
                            }
                            _ => SourcedBy::Marketing,
                        },
                        kind: None,
                        employees: company.employees,
                    };
                    let (end, won) = self.opportunity(b, &deal, o);
                    opportunity_end = Some(end);
                    if let Some(w) = won {
                        self.move_lead(b, &mut track, LeadAction::Win, w, Some(owner), None);
                    }
                }
            } else if r < 0.92 {
                let t = s + self.between(7 * DAY, 45 * DAY);
                if t <= a {
                    rejection = Some(self.disqualify(b, &mut track, t, owner));
                }
            }
        }

        // Sales keeps working accepted leads until they drop out or the deal
        // closes.
        if let Some(fc) = accepted_contact {
            let (end, most) = match track.stage {
                LeadStage::Sal => (track.at + 10 * DAY, 3),
                LeadStage::Sql => (track.at + 14 * DAY, 4),
                LeadStage::Opportunity | LeadStage::Customer => (opportunity_end.unwrap_or(a), 6),
                _ => (track.at, 3),
            };
            touch_windows.push((fc, end.min(a), most, true));
        }
        for (fc, end, most, meetings) in touch_windows {
            self.sales_touches(b, id, owner, fc, end, most, meetings);
        }

        let last_marketing =
            self.marketing_activities(b, id, created, source_campaign, source, &mql_times);

        // Scores: MQL needs both thresholds; leads that never qualified stay
        // under at least one of them.
        let reached_mql = !mql_times.is_empty();
        let qualified_now = mql_at.is_some();
        let engagement = if qualified_now {
            MQL_ENGAGEMENT_MIN + (70.0 * self.unit().powf(1.5)) as i32
        } else if fit >= MQL_FIT_MIN {
            (29.0 * self.unit().powf(1.5)) as i32
        } else {
            (70.0 * self.unit().powi(2)) as i32
        };

        let clock = mql_at.map(|m| SlaClock {
            first_contacted_at: first_contacted.map(ts),
            dispositioned_at: dispositioned.map(ts),
            ..SlaClock::start(ts(m), FIRST_CONTACT_HOURS, DISPOSITION_HOURS)
        });
        let updated = [
            Some(track.at),
            Some(last_marketing),
            first_contacted,
            dispositioned,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(created)
        .clamp(created, a);
        let (rejection_reason, rejection_note) = match rejection {
            Some((r, n)) => (Some(r), n),
            None => (None, None),
        };
        b.log.push(log_entry(ObjectType::Lead, id, ts(updated)));
        b.leads.push(lead::Model {
            id,
            created_at: ts(created),
            updated_at: ts(updated),
            email: Some(email),
            phone: None,
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            job_title: title.map(|(t, _)| t.to_owned()),
            seniority,
            account_id,
            company_name: pool.is_none().then(|| company.name.clone()),
            country: Some(COUNTRIES[country].code.to_owned()),
            source,
            source_campaign_id: source_campaign.map(|i| self.campaigns[i].id),
            stage: track.stage,
            stage_entered_at: ts(track.at),
            owner_id: reached_mql.then_some(owner),
            fit_score: fit,
            engagement_score: engagement,
            qualified_under_id: reached_mql.then_some(self.definition),
            mql_at: mql_at.map(ts),
            sla_first_contact_due_at: clock.map(|c| c.first_contact_due_at),
            first_contacted_at: first_contacted.map(ts),
            sla_disposition_due_at: clock.map(|c| c.disposition_due_at),
            dispositioned_at: dispositioned.map(ts),
            sla_status: clock.map(|c| c.status(ts(a))),
            rejection_reason,
            rejection_note,
            recycle_count,
            version: 1,
            deleted_at: None,
        });
        created
    }

    /// A deal sales opens at `at` on an existing account, without a lead
    /// converting: outbound new business, an expansion or a renewal.
    fn account_deal(&mut self, at: i64, b: &mut Batch) {
        let available = self.accounts.partition_point(|acc| acc.created <= at);
        if available == 0 {
            return;
        }
        let i = self.pick_account(available);
        let kind = self.weighted(&[
            (OpportunityType::NewBusiness, 50),
            (OpportunityType::Expansion, 30),
            (OpportunityType::Renewal, 20),
        ]);
        let sourced_by = if kind == OpportunityType::NewBusiness && self.chance(0.15) {
            SourcedBy::Partner
        } else {
            SourcedBy::Sales
        };
        let account = &self.accounts[i];
        let (id, name, owner, fit, employees) = (
            account.id,
            account.company.name.clone(),
            account.owner,
            account.fit,
            account.company.employees,
        );
        let deal = Deal {
            lead: None,
            account: id,
            account_name: &name,
            owner,
            fit,
            sourced_by,
            kind: Some(kind),
            employees,
        };
        self.opportunity(b, &deal, at);
    }

    /// Time from creation to MQL: a quarter ask for a demo straight away,
    /// the rest build up engagement over days or weeks.
    fn mql_delay(&mut self) -> i64 {
        if self.chance(0.25) {
            self.between(MINUTE, 30 * MINUTE)
        } else {
            self.duration(7 * DAY, 1.0, HOUR, 120 * DAY)
        }
    }

    fn rejection_note(&mut self, reason: RejectionReason) -> Option<String> {
        if reason == RejectionReason::Other || self.chance(0.25) {
            Some(self.pick(rejection_notes(reason)).to_owned())
        } else {
            None
        }
    }

    /// Sends an accepted or qualified lead back to nurture.
    fn disqualify(
        &mut self,
        b: &mut Batch,
        track: &mut Track,
        at: i64,
        owner: Uuid,
    ) -> (RejectionReason, Option<String>) {
        let reason = self.weighted(&DISQUALIFY_REASONS);
        let note = self.rejection_note(reason);
        // An accepted lead is rejected, a qualified one disqualified.
        let action = if track.stage == LeadStage::Sql {
            LeadAction::Disqualify
        } else {
            LeadAction::Reject
        };
        self.move_lead(
            b,
            track,
            action,
            at,
            Some(owner),
            Some(reason.as_str().to_owned()),
        );
        (reason, note)
    }

    /// The opportunity of a converted lead with its stage history and
    /// feedback. Returns when sales stopped working it (or the anchor) and,
    /// when it was won, when.
    fn opportunity(&mut self, b: &mut Batch, deal: &Deal<'_>, opened: i64) -> (i64, Option<i64>) {
        const OPEN_STAGES: [OpportunityStage; 4] = [
            OpportunityStage::Discovery,
            OpportunityStage::Qualification,
            OpportunityStage::Proposal,
            OpportunityStage::Negotiation,
        ];
        const MEDIAN_DAYS: [i64; 4] = [9, 12, 14, 10];
        let a = self.anchor;
        let id = self.uuid_at(opened);
        let product = self.weighted(&PRODUCTS);
        let size = deal.employees.map_or(1.0, |e| {
            (1.0 + 0.3 * (f64::from(e.max(1)) / 200.0).log10()).clamp(0.6, 2.0)
        });
        let usd = (self.lognormal(22_000.0, 0.7) * size).clamp(5_000.0, 150_000.0);
        let amount = Decimal::new((usd / 50.0).round() as i64 * 5_000, 2);
        let kind = match deal.kind {
            Some(kind) => kind,
            None => self.weighted(&[
                (OpportunityType::NewBusiness, 82),
                (OpportunityType::Expansion, 12),
                (OpportunityType::Renewal, 6),
            ]),
        };
        let won =
            self.chance((0.12 + 0.30 * f64::from(deal.fit - MQL_FIT_MIN) / 60.0).clamp(0.1, 0.5));
        let last = if won {
            3
        } else {
            self.weighted(&[(0, 30), (1, 30), (2, 25), (3, 15)])
        };
        // The planned path, then as much of it as happened before the anchor.
        let mut plan = Vec::with_capacity(last + 1);
        let mut t = opened;
        for (k, median) in MEDIAN_DAYS.iter().enumerate().take(last + 1) {
            t += self.duration(median * DAY, 0.5, 2 * DAY, 60 * DAY);
            let to = if k < last {
                OPEN_STAGES[k + 1]
            } else if won {
                OpportunityStage::ClosedWon
            } else {
                OpportunityStage::ClosedLost
            };
            plan.push((to, t));
        }
        let planned_close = t;
        let loss_reason = (!won).then(|| self.weighted(&LOSS_REASONS));

        let mut stage = OpportunityStage::Discovery;
        let mut entered = opened;
        self.opportunity_change(b, id, None, stage, opened, deal.owner, None);
        for (to, at) in plan {
            if at > a {
                break;
            }
            let reason = (to == OpportunityStage::ClosedLost)
                .then(|| loss_reason.map(|r| r.as_str().to_owned()))
                .flatten();
            self.opportunity_change(b, id, Some(stage), to, at, deal.owner, reason);
            stage = to;
            entered = at;
        }
        let closed = matches!(
            stage,
            OpportunityStage::ClosedWon | OpportunityStage::ClosedLost
        );
        let expected_close_on = if closed {
            date_of(planned_close + self.between(-10 * DAY, 20 * DAY))
        } else {
            date_of(planned_close)
        };
        if closed && self.chance(0.85) {
            let at = (entered + self.between(HOUR, 3 * DAY)).min(a);
            self.feedback(b, id, deal, won, loss_reason, at);
        }
        b.log
            .push(log_entry(ObjectType::Opportunity, id, ts(entered)));
        b.opportunities.push(opportunity::Model {
            id,
            created_at: ts(opened),
            updated_at: ts(entered),
            name: format!("{} - {product}", deal.account_name),
            account_id: Some(deal.account),
            primary_lead_id: deal.lead,
            owner_id: Some(deal.owner),
            stage,
            stage_entered_at: ts(entered),
            amount,
            currency: "USD".to_owned(),
            opportunity_type: kind,
            sourced_by: deal.sourced_by,
            expected_close_on: Some(expected_close_on),
            closed_at: closed.then(|| ts(entered)),
            version: 1,
            deleted_at: None,
        });
        let worked_until = if closed { entered } else { a };
        (
            worked_until,
            (stage == OpportunityStage::ClosedWon).then_some(entered),
        )
    }

    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    fn opportunity_change(
        &mut self,
        b: &mut Batch,
        id: Uuid,
        from: Option<OpportunityStage>,
        to: OpportunityStage,
        at: i64,
        actor: Uuid,
        reason: Option<String>,
    ) {
        let stage_move = match from {
            None => Ok(StageMove::deal_opened(id, to, ts(at), Some(actor))),
            // The deal's owner, a rep, moves it.
            Some(from) => StageMove::deal(id, from, to, Role::Sales, ts(at), Some(actor)),
        };
        match stage_move {
            Ok(m) => {
                let row_id = self.uuid_at(at);
                b.stage_changes
                    .push(stage_moves::row(row_id, m.because(reason)));
            }
            Err(e) => {
                b.refused.get_or_insert(e);
            }
        }
    }

    fn feedback(
        &mut self,
        b: &mut Batch,
        opportunity: Uuid,
        deal: &Deal<'_>,
        won: bool,
        loss_reason: Option<FeedbackReason>,
        at: i64,
    ) {
        let primary = match loss_reason {
            Some(r) => r,
            None => self.weighted(&WIN_REASONS),
        };
        let pool: &[(FeedbackReason, u32)] = if won { &WIN_REASONS } else { &LOSS_REASONS };
        let mut secondary: Vec<&str> = Vec::new();
        for _ in 0..self.rng.random_range(0..=2) {
            let r = self.weighted(pool);
            if r != primary && !secondary.contains(&r.as_str()) {
                secondary.push(r.as_str());
            }
        }
        let competitor = if primary == FeedbackReason::Competitor || self.chance(0.35) {
            // A few competitors show up far more often than the rest.
            let weights: Vec<(usize, u32)> = (0..self.competitors.len())
                .map(|i| (i, (self.competitors.len() - i) as u32))
                .collect();
            let i = self.weighted(&weights);
            self.competitors.get(i).copied()
        } else {
            None
        };
        let mut objections: Vec<&str> = Vec::new();
        let n = if won {
            self.rng.random_range(0..=2)
        } else {
            self.rng.random_range(1..=3)
        };
        for _ in 0..n {
            let o = if !won && primary == FeedbackReason::Price && objections.is_empty() {
                "price"
            } else {
                self.pick(&OBJECTIONS)
            };
            if !objections.contains(&o) {
                objections.push(o);
            }
        }
        let noise = self.rng.random_range(-1..=1);
        let rating = ((deal.fit + 10) / 20 + noise).clamp(1, 5);
        let notes = if self.chance(0.8) {
            let notes: &[&str] = if won { &WIN_NOTES } else { loss_notes(primary) };
            Some(self.pick(notes).to_owned())
        } else {
            None
        };
        b.feedback.push(win_loss_feedback::Model {
            id: self.uuid_at(at),
            created_at: ts(at),
            updated_at: ts(at),
            opportunity_id: opportunity,
            outcome: if won { Outcome::Won } else { Outcome::Lost },
            primary_reason: primary,
            secondary_reasons: json!(secondary),
            competitor_id: competitor,
            objections: json!(objections),
            lead_fit_rating: i16::try_from(rating).ok(),
            notes,
            author_id: Some(deal.owner),
            version: 1,
            last_edited_by_id: None,
            deleted_at: None,
        });
    }

    /// The lead's marketing activities: the first touch at creation, the
    /// activity that made it an MQL at each `mql_times`, and others around
    /// them. Returns the time of the last one.
    fn marketing_activities(
        &mut self,
        b: &mut Batch,
        lead: Uuid,
        created: i64,
        source_campaign: Option<usize>,
        source: Channel,
        mql_times: &[i64],
    ) -> i64 {
        let a = self.anchor;
        let first_kind = match source_campaign {
            Some(i) => self.campaign_kind(self.campaigns[i].channel),
            None => self.campaign_kind(source),
        };
        let mut last = created;
        self.activity(
            b,
            lead,
            first_kind,
            created,
            source_campaign.map(|i| self.campaigns[i].id),
            None,
            None,
        );
        let total = if mql_times.is_empty() {
            1 + (0..5).take_while(|_| self.chance(0.45)).count()
        } else {
            self.rng.random_range(3..=8)
        };
        for &m in mql_times {
            let kind = self.weighted(&MQL_TRIGGERS);
            let campaign = if kind == ActivityKind::WebinarAttended {
                let day = self.day_index(m);
                self.running_campaign(day, Some(Channel::Webinar))
                    .map(|i| self.campaigns[i].id)
            } else {
                None
            };
            self.activity(b, lead, kind, m, campaign, None, None);
            last = last.max(m);
        }
        for _ in 0..total.saturating_sub(1 + mql_times.len()) {
            let at = match (mql_times.first(), mql_times.last()) {
                (Some(&first), Some(&latest)) => {
                    if first > created + MINUTE && self.chance(0.8) {
                        self.between(created + MINUTE, first)
                    } else {
                        self.between(latest + MINUTE, a.min(latest + 60 * DAY))
                    }
                }
                _ => self.between(created + MINUTE, a.min(created + 90 * DAY)),
            }
            .min(a);
            let day = self.day_index(at);
            let campaign = if self.chance(0.45) {
                self.running_campaign(day, None)
            } else {
                None
            };
            let kind = match campaign {
                Some(i) => self.campaign_kind(self.campaigns[i].channel),
                None => self.weighted(&ORGANIC_KINDS),
            };
            self.activity(
                b,
                lead,
                kind,
                at,
                campaign.map(|i| self.campaigns[i].id),
                None,
                None,
            );
            last = last.max(at);
        }
        last
    }

    /// The kind of a touch through a channel.
    fn campaign_kind(&mut self, channel: Channel) -> ActivityKind {
        use ActivityKind as K;
        match channel {
            Channel::Webinar => {
                self.weighted(&[(K::WebinarRegistered, 60), (K::WebinarAttended, 40)])
            }
            Channel::Event => K::EventVisit,
            Channel::Email | Channel::Outbound => K::EmailClick,
            Channel::Content | Channel::OrganicSocial => K::ContentDownload,
            Channel::PaidSearch => self.weighted(&[
                (K::FormSubmit, 45),
                (K::ContentDownload, 35),
                (K::DemoRequest, 20),
            ]),
            Channel::PaidSocial => self.weighted(&[(K::ContentDownload, 60), (K::FormSubmit, 40)]),
            Channel::Partner => self.weighted(&[(K::FormSubmit, 60), (K::EventVisit, 40)]),
            Channel::OrganicSearch => self.weighted(&[
                (K::FormSubmit, 45),
                (K::ContentDownload, 40),
                (K::DemoRequest, 15),
            ]),
            Channel::Referral | Channel::Other => K::FormSubmit,
        }
    }

    /// The sales touches of one MQL cycle: the first at `first`, up to
    /// `most` more until `end`.
    #[expect(clippy::too_many_arguments, reason = "one lead's touch plan")]
    fn sales_touches(
        &mut self,
        b: &mut Batch,
        lead: Uuid,
        owner: Uuid,
        first: i64,
        end: i64,
        most: u32,
        meetings: bool,
    ) {
        let kind = if self.chance(0.55) {
            ActivityKind::Call
        } else {
            ActivityKind::EmailSent
        };
        let note = self.touch_note(kind);
        self.activity(b, lead, kind, first, None, Some(owner), note);
        if end <= first + MINUTE {
            return;
        }
        let low = u32::from(meetings);
        for _ in 0..self.rng.random_range(low..=most) {
            let at = self.between(first + MINUTE, end).min(self.anchor);
            let kind = if self.chance(if meetings { 0.35 } else { 0.05 }) {
                ActivityKind::Meeting
            } else if self.chance(0.5) {
                ActivityKind::Call
            } else {
                ActivityKind::EmailSent
            };
            let note = self.touch_note(kind);
            self.activity(b, lead, kind, at, None, Some(owner), note);
        }
    }

    fn touch_note(&mut self, kind: ActivityKind) -> Option<String> {
        if self.chance(0.4) {
            return None;
        }
        let notes: &[&str] = match kind {
            ActivityKind::Call => &SALES_NOTES_CALL,
            ActivityKind::Meeting => &SALES_NOTES_MEETING,
            _ => &SALES_NOTES_EMAIL,
        };
        Some(self.pick(notes).to_owned())
    }

    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    fn activity(
        &mut self,
        b: &mut Batch,
        lead: Uuid,
        kind: ActivityKind,
        at: i64,
        campaign: Option<Uuid>,
        actor: Option<Uuid>,
        note: Option<String>,
    ) {
        let at = at.min(self.anchor);
        let id = self.uuid_at(at);
        b.log.push(log_entry(ObjectType::Activity, id, ts(at)));
        b.activities.push(activity::Model {
            id,
            created_at: ts(at),
            updated_at: ts(at),
            lead_id: lead,
            kind,
            occurred_at: ts(at),
            campaign_id: campaign,
            actor_id: actor,
            note,
            version: 1,
            deleted_at: None,
        });
    }
}

fn user_email(name: &str) -> String {
    let parts: Vec<String> = name.split_whitespace().map(email_part).collect();
    format!("{}@handoff.demo", parts.join("."))
}

/// The name, domain stem and industry of company `index` in `round`.
fn company_name(
    index: usize,
    round: u32,
    suffixes: &[(usize, &'static str)],
) -> (String, String, usize) {
    let p = index % NAME_PREFIXES.len();
    let c = (index / NAME_PREFIXES.len()) % NAME_CORES.len();
    let s = (index / (NAME_PREFIXES.len() * NAME_CORES.len())) % suffixes.len().max(1);
    let (industry, suffix) = suffixes.get(s).copied().unwrap_or((0, "Labs"));
    let mut name = format!("{}{} {suffix}", NAME_PREFIXES[p], NAME_CORES[c]);
    match round {
        0 => {}
        r if (r as usize) <= NAME_QUALIFIERS.len() => {
            name.push(' ');
            name.push_str(NAME_QUALIFIERS[r as usize - 1]);
        }
        r => name.push_str(&format!(" {}", r as usize - NAME_QUALIFIERS.len() + 1)),
    }
    let slug = email_part(&name);
    (name, slug, industry)
}

/// Chance that a lead of this fit becomes an MQL within the year.
fn mql_probability(fit: i32) -> f64 {
    (0.04 + 0.38 * f64::from(fit - MQL_FIT_MIN) / 60.0).clamp(0.0, 0.9)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::records::{AccountPatch, CampaignPatch, LeadPatch, OpportunityPatch};
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database, QueryOrder, Statement};

    fn anchor() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_time(NaiveTime::MIN)
            .and_utc()
    }

    async fn fresh_db(dir: &tempfile::TempDir) -> DatabaseConnection {
        let path = dir.path().join("demo.db");
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        Migrator::up(&db, None).await.unwrap();
        db
    }

    async fn count(db: &DatabaseConnection, sql: &str) -> usize {
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .unwrap()
            .unwrap();
        usize::try_from(row.try_get_by_index::<i64>(0).unwrap()).unwrap()
    }

    fn options(leads: usize) -> DemoOptions {
        DemoOptions {
            seed: 7,
            leads,
            anchor: anchor(),
            deals_per_thousand_leads: None,
        }
    }

    #[test]
    fn company_names_and_domains_never_repeat() {
        let g = Generator::new(1, anchor());
        let space = NAME_PREFIXES.len() * NAME_CORES.len() * g.suffixes.len();
        let mut seen = HashSet::new();
        for round in 0..=(NAME_QUALIFIERS.len() as u32 + 2) {
            for index in 0..space {
                let (_, slug, _) = company_name(index, round, &g.suffixes);
                assert!(seen.insert(slug.clone()), "{slug} repeats");
            }
        }
    }

    #[tokio::test]
    async fn demo_dataset_is_consistent_plausible_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_db(&dir).await;
        assert!(is_empty(&db).await.unwrap());
        let lines = std::sync::Mutex::new(Vec::new());
        let summary = load(&db, &options(500), &|line: &str| {
            lines.lock().unwrap().push(line.to_owned());
        })
        .await
        .unwrap();
        assert!(!is_empty(&db).await.unwrap());
        assert!(
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("leads 500/500"))
        );

        // The summary matches the tables.
        assert_eq!(
            summary.users,
            count(&db, "SELECT COUNT(*) FROM users").await
        );
        assert_eq!(
            summary.accounts,
            count(&db, "SELECT COUNT(*) FROM accounts").await
        );
        assert_eq!(
            summary.campaigns,
            count(&db, "SELECT COUNT(*) FROM campaigns").await
        );
        assert_eq!(summary.leads, 500);
        assert_eq!(
            summary.leads,
            count(&db, "SELECT COUNT(*) FROM leads").await
        );
        assert_eq!(
            summary.activities,
            count(&db, "SELECT COUNT(*) FROM activities").await
        );
        assert_eq!(
            summary.opportunities,
            count(&db, "SELECT COUNT(*) FROM opportunities").await
        );
        assert_eq!(
            summary.stage_changes,
            count(&db, "SELECT COUNT(*) FROM stage_changes").await
        );
        assert_eq!(summary.users, 6 + SALES_REPS.len() + MARKETERS.len());
        let logged = summary.users
            + summary.accounts
            + summary.campaigns
            + summary.leads
            + summary.activities
            + summary.opportunities
            + COMPETITORS.len();
        assert_eq!(logged, count(&db, "SELECT COUNT(*) FROM change_log").await);

        // Every record passes the field rules the API and the sync apply.
        fn refused<P>(checked: crate::domain::records::Checked<P>) -> Vec<String> {
            let errors = checked.errors.into_vec();
            errors.into_iter().map(|e| e.message).collect()
        }
        for row in account::Entity::find().all(&db).await.unwrap() {
            let errors = refused(AccountPatch::from(&row).validate(true));
            assert!(errors.is_empty(), "{}: {errors:?}", row.name);
        }
        for row in campaign::Entity::find().all(&db).await.unwrap() {
            let errors = refused(CampaignPatch::from(&row).validate(None));
            assert!(errors.is_empty(), "{}: {errors:?}", row.name);
        }
        for row in lead::Entity::find().all(&db).await.unwrap() {
            let errors = refused(LeadPatch::from(&row).validate(true, false));
            assert!(errors.is_empty(), "{:?}: {errors:?}", row.email);
        }
        // The duplicate rule (one live lead per email) holds.
        let distinct = count(&db, "SELECT COUNT(DISTINCT email) FROM leads").await;
        let with_email = count(&db, "SELECT COUNT(email) FROM leads").await;
        assert_eq!(distinct, with_email);
        for row in opportunity::Entity::find().all(&db).await.unwrap() {
            let errors = refused(OpportunityPatch::from(&row).validate(true));
            assert!(errors.is_empty(), "{}: {errors:?}", row.name);
        }

        // Funnel rates.
        let mqls = count(&db, "SELECT COUNT(*) FROM leads WHERE mql_at IS NOT NULL").await;
        let rate = mqls as f64 / summary.leads as f64;
        assert!((0.10..=0.25).contains(&rate), "MQL rate {rate}");
        assert!(count(&db, "SELECT COUNT(*) FROM leads WHERE stage = 'CUSTOMER'").await > 0);
        assert!(
            count(
                &db,
                "SELECT COUNT(*) FROM leads WHERE stage = 'NURTURE' AND rejection_reason IS NOT NULL"
            )
            .await
                > 0
        );
        assert!(
            count(
                &db,
                "SELECT COUNT(*) FROM opportunities WHERE stage = 'CLOSED_WON'"
            )
            .await
                > 0
        );
        assert!(
            count(
                &db,
                "SELECT COUNT(*) FROM opportunities WHERE stage = 'CLOSED_LOST'"
            )
            .await
                > 0
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM leads l WHERE NOT EXISTS (SELECT 1 FROM stage_changes s \
                 WHERE s.subject_type = 'LEAD' AND s.subject_id = l.id \
                 AND s.from_stage IS NULL AND s.to_stage = 'NEW')"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM opportunities o WHERE NOT EXISTS (SELECT 1 FROM \
                 stage_changes s WHERE s.subject_type = 'OPPORTUNITY' AND s.subject_id = o.id \
                 AND s.to_stage = o.stage)"
            )
            .await,
            0
        );

        // The history is consistent with the current state.
        for (what, sql) in [
            (
                "stage changes that do not start where the previous one ended",
                "SELECT COUNT(*) FROM (SELECT from_stage, LAG(to_stage) OVER \
                 (PARTITION BY subject_id ORDER BY at) AS previous FROM stage_changes) \
                 WHERE from_stage IS NOT previous",
            ),
            (
                "leads whose stage or stage_entered_at is not their last change",
                "SELECT COUNT(*) FROM leads l WHERE l.stage_entered_at != (SELECT MAX(at) \
                 FROM stage_changes s WHERE s.subject_id = l.id) OR l.stage != (SELECT to_stage \
                 FROM stage_changes s WHERE s.subject_id = l.id ORDER BY at DESC LIMIT 1)",
            ),
            (
                "activities before their lead was created",
                "SELECT COUNT(*) FROM activities a JOIN leads l ON l.id = a.lead_id \
                 WHERE julianday(a.occurred_at) < julianday(l.created_at)",
            ),
            (
                "contacted leads without a sales touch at first_contacted_at",
                "SELECT COUNT(*) FROM leads l WHERE l.first_contacted_at IS NOT NULL \
                 AND l.first_contacted_at IS NOT l.dispositioned_at \
                 AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = l.id \
                 AND a.actor_id IS NOT NULL AND a.occurred_at = l.first_contacted_at)",
            ),
            (
                "campaign touches outside the campaign's dates",
                "SELECT COUNT(*) FROM activities a JOIN campaigns c ON c.id = a.campaign_id \
                 WHERE date(a.occurred_at) < c.starts_on OR date(a.occurred_at) > c.ends_on",
            ),
            (
                "customers without a won opportunity",
                "SELECT COUNT(*) FROM leads l WHERE stage = 'CUSTOMER' AND NOT EXISTS \
                 (SELECT 1 FROM opportunities o WHERE o.primary_lead_id = l.id \
                 AND o.stage = 'CLOSED_WON')",
            ),
            (
                "qualified leads under the definition's thresholds",
                "SELECT COUNT(*) FROM leads WHERE stage != 'NEW' AND mql_at IS NOT NULL \
                 AND (fit_score < 40 OR engagement_score < 30)",
            ),
        ] {
            assert_eq!(count(&db, sql).await, 0, "{what}");
        }

        // Nothing happens after the anchor; nothing is updated before it
        // was created.
        let a = anchor();
        let check = |what: &str,
                     created: DateTime<Utc>,
                     updated: DateTime<Utc>,
                     others: &[Option<DateTime<Utc>>]| {
            assert!(created <= updated, "{what}: updated before created");
            for t in std::iter::once(Some(updated))
                .chain(others.iter().copied())
                .flatten()
            {
                assert!(t <= a, "{what}: {t} is after the anchor");
                assert_eq!(
                    t.timestamp_subsec_nanos() % 1_000,
                    0,
                    "{what}: sub-microsecond"
                );
            }
        };
        for r in user::Entity::find().all(&db).await.unwrap() {
            check("user", r.created_at, r.updated_at, &[]);
        }
        for r in account::Entity::find().all(&db).await.unwrap() {
            check("account", r.created_at, r.updated_at, &[]);
        }
        for r in campaign::Entity::find().all(&db).await.unwrap() {
            check("campaign", r.created_at, r.updated_at, &[]);
        }
        for r in campaign_spend::Entity::find().all(&db).await.unwrap() {
            check("spend", r.created_at, r.updated_at, &[]);
        }
        for r in competitor::Entity::find().all(&db).await.unwrap() {
            check("competitor", r.created_at, r.updated_at, &[]);
        }
        for r in lead_definition::Entity::find().all(&db).await.unwrap() {
            check("definition", r.created_at, r.updated_at, &[r.approved_at]);
        }
        for r in lead::Entity::find().all(&db).await.unwrap() {
            check(
                "lead",
                r.created_at,
                r.updated_at,
                &[
                    Some(r.stage_entered_at),
                    r.mql_at,
                    r.first_contacted_at,
                    r.dispositioned_at,
                ],
            );
            assert!(r.stage_entered_at >= r.created_at);
            assert!(r.mql_at.is_none() || r.qualified_under_id.is_some());
            assert_eq!(r.mql_at.is_some(), r.sla_status.is_some());
        }
        for r in activity::Entity::find().all(&db).await.unwrap() {
            check(
                "activity",
                r.created_at,
                r.updated_at,
                &[Some(r.occurred_at)],
            );
        }
        for r in opportunity::Entity::find().all(&db).await.unwrap() {
            check(
                "opportunity",
                r.created_at,
                r.updated_at,
                &[Some(r.stage_entered_at), r.closed_at],
            );
        }
        for r in stage_change::Entity::find().all(&db).await.unwrap() {
            check("stage change", r.created_at, r.updated_at, &[Some(r.at)]);
        }
        for r in win_loss_feedback::Entity::find().all(&db).await.unwrap() {
            check("feedback", r.created_at, r.updated_at, &[]);
        }
        for r in change_log::Entity::find().all(&db).await.unwrap() {
            check("change log", r.at, r.at, &[]);
        }

        // The same seed and anchor give the same leads.
        let dir2 = tempfile::tempdir().unwrap();
        let db2 = fresh_db(&dir2).await;
        let again = load(&db2, &options(500), &|_: &str| {}).await.unwrap();
        assert_eq!(summary, again);
        let leads = |db: DatabaseConnection| async move {
            lead::Entity::find()
                .order_by_asc(lead::Column::Id)
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|l| (l.id, l.email))
                .collect::<Vec<_>>()
        };
        assert_eq!(leads(db).await, leads(db2).await);
    }

    #[tokio::test]
    async fn deals_per_thousand_leads_adds_deals_on_accounts_without_a_lead() {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_db(&dir).await;
        let more = DemoOptions {
            deals_per_thousand_leads: Some(200),
            ..options(2_000)
        };
        let summary = load(&db, &more, &|_: &str| {}).await.unwrap();

        // About 200 per 1,000 leads, the extra ones on accounts without a
        // converting lead, each with its stage history.
        assert!(
            (300..=500).contains(&summary.opportunities),
            "{} opportunities",
            summary.opportunities
        );
        let converted = count(
            &db,
            "SELECT COUNT(*) FROM opportunities WHERE primary_lead_id IS NOT NULL",
        )
        .await;
        assert!(converted > 0 && converted < summary.opportunities);
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM opportunities o WHERE o.account_id IS NULL OR NOT EXISTS \
                 (SELECT 1 FROM stage_changes s WHERE s.subject_type = 'OPPORTUNITY' \
                 AND s.subject_id = o.id AND s.to_stage = o.stage)"
            )
            .await,
            0
        );
        assert!(
            count(
                &db,
                "SELECT COUNT(*) FROM opportunities WHERE primary_lead_id IS NULL \
                 AND stage = 'CLOSED_WON'"
            )
            .await
                > 0
        );
    }
}
