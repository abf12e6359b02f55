//! The test harness: a real server on a random port over its own database.
//!
//! A test runs its body with [`each_backend`]: once on SQLite (a fresh
//! file) and, when `TEST_DATABASE_URL` names a PostgreSQL database, once more
//! there in a fresh schema; a failure says which backend it happened on.
//! [`postgres_only`] runs a body on PostgreSQL alone and says the test was
//! skipped without it. Tests drive the server over HTTP with GraphQL
//! documents, as a client would.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use entity::{
    enums::{Role, Team},
    user,
};
use handoff::{Application, clock::ManualClock, config::Config, db};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every role, in the order of the policy table.
pub const ROLES: [Role; 6] = [
    Role::Admin,
    Role::Marketing,
    Role::Sales,
    Role::Leadership,
    Role::Integration,
    Role::Reporting,
];

/// A secret only tests use.
pub const TEST_SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";

/// Where a test's database lives.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in this PostgreSQL database.
    Postgres(String),
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        b.push(Backend::Postgres(url));
    }
    b
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        })
    }
}

/// The PostgreSQL backend when `TEST_DATABASE_URL` names one; otherwise
/// says on stderr that the calling test was skipped.
pub fn postgres() -> Option<Backend> {
    let backend = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)));
    if backend.is_none() {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        eprintln!("skipped {test}: PostgreSQL only, and TEST_DATABASE_URL is not set");
    }
    backend
}

/// Runs `body` once per backend (SQLite, then PostgreSQL when
/// `TEST_DATABASE_URL` is set), each time with a fresh [`TestApp`]. A
/// failure names the backend it happened on.
pub async fn each_backend(body: impl AsyncFn(TestApp)) {
    each_backend_with(|_| {}, body).await;
}

/// Like [`each_backend`], with the configuration adjusted by `adjust`.
pub async fn each_backend_with(adjust: impl Fn(&mut Config), body: impl AsyncFn(TestApp)) {
    for backend in backends() {
        on(&backend, async {
            body(TestApp::spawn_with(backend.clone(), &adjust).await).await;
        })
        .await;
    }
}

/// Runs `body` on PostgreSQL only, with a fresh [`TestApp`]; without
/// `TEST_DATABASE_URL` the test is skipped and says so on stderr.
pub async fn postgres_only(body: impl AsyncFnOnce(TestApp)) {
    if let Some(backend) = postgres() {
        on(&backend, async {
            body(TestApp::spawn(backend.clone()).await).await;
        })
        .await;
    }
}

/// A configuration adjustment for [`each_backend_with`]: the server runs on
/// a [`ManualClock`] of its own, which the test moves with
/// [`TestApp::clock`]. Everything the server times (the SLA sweep, the
/// WebSocket recheck, the budget) and the time it stamps on records then
/// move only when the test says so.
pub fn manual_clock(config: &mut Config) {
    config.clock = Arc::new(ManualClock::default());
}

/// Waits for something another task does (a commit, a sweep, a frame):
/// calls `check` until it returns `Some`, every 20 ms, and panics with
/// `what` if it has not after 30 s.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(done) = check().await {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one backend's part of a test; a panic in it is raised again with
/// the backend's name ("failed on PostgreSQL: ...").
pub async fn on(backend: &Backend, test: impl Future<Output = ()>) {
    use futures_util::FutureExt;
    if let Err(panic) = std::panic::AssertUnwindSafe(test).catch_unwind().await {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic without a message");
        panic!("failed on {backend}: {message}");
    }
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// `http://127.0.0.1:port` of `/metrics` when it has an address of its
    /// own (`config.metrics.bind`).
    pub metrics_base: Option<String>,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The server's database (shares the query counter).
    pub db: DatabaseConnection,
    /// Configuration the server runs with.
    pub config: Config,
    /// The PostgreSQL schema of this test (None on SQLite).
    schema: Option<String>,
    queries: Arc<AtomicUsize>,
    users: HashMap<&'static str, Uuid>,
    _dir: Option<tempfile::TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    /// Spawns a server on a fresh database with one active user per role.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`spawn`](Self::spawn), adjusting the configuration first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let (url, schema, dir) = match &backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, None, Some(dir))
            }
            Backend::Postgres(url) => {
                let schema = format!("t_{}", Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                admin.close().await.ok();
                (url.clone(), Some(schema), None)
            }
        };
        let mut config = Config::for_database(url, TEST_SECRET).expect("config");
        config.db_max_connections = 5;
        // Tests fire requests faster than any client should; the budget
        // has tests of its own (tests/api/limits.rs).
        config.throttle.capacity = 1_000_000.0;
        adjust(&mut config);
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        let mut db = connect(&config, schema.as_deref()).await;
        db::migrate(&db).await.expect("migrate");
        let count: db::StatementHook = Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let hook = count.clone();
        db.set_metric_callback(move |info| hook(info));

        let mut users = HashMap::new();
        for role in ROLES {
            let id = Uuid::now_v7();
            let now = chrono::Utc::now();
            let team = match role {
                Role::Marketing => Team::Marketing,
                Role::Sales => Team::Sales,
                Role::Leadership => Team::Leadership,
                _ => Team::Revops,
            };
            user::Entity::insert(user::ActiveModel {
                id: Set(id),
                created_at: Set(now),
                updated_at: Set(now),
                name: Set(format!("{} User", role.as_str())),
                email: Set(format!("{}@example.com", role.as_str().to_lowercase())),
                role: Set(role),
                team: Set(team),
                active: Set(true),
                version: Set(1),
                deleted_at: Set(None),
            })
            .exec_without_returning(&db)
            .await
            .expect("seed user");
            users.insert(role.as_str(), id);
        }

        // The server times its statements with a callback of its own, and
        // calls this one too.
        let app = Application::build_with_statement_hook(&config, db.clone(), Some(count))
            .await
            .expect("build app");
        let base = format!("http://{}", app.local_addr().expect("addr"));
        let metrics_base = app
            .metrics_addr()
            .expect("metrics addr")
            .map(|addr| format!("http://{addr}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            rx.await.ok();
        }));
        Self {
            base,
            metrics_base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            db,
            config,
            schema,
            queries,
            users,
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// Starts `n` more servers over this test's database (the same SQLite
    /// file or PostgreSQL schema), as replicas behind a load balancer would
    /// run: each with its own connection pool and background sweeper, and
    /// this app's configuration adjusted by `adjust`. They are built first
    /// and started together, so sweepers with the same interval tick at the
    /// same moments. They stop when the returned [`Instance`]s are dropped.
    pub async fn spawn_instances(&self, n: usize, adjust: impl Fn(&mut Config)) -> Vec<Instance> {
        let mut built = Vec::with_capacity(n);
        for _ in 0..n {
            let mut config = self.config.clone();
            adjust(&mut config);
            let db = connect(&config, self.schema.as_deref()).await;
            let sweeps = Arc::new(AtomicUsize::new(0));
            let counter = sweeps.clone();
            let hook: db::StatementHook = Arc::new(move |info| {
                if is_sweep_read(&info.statement.sql) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            let app = Application::build_with_statement_hook(&config, db, Some(hook))
                .await
                .expect("build instance");
            let base = format!("http://{}", app.local_addr().expect("addr"));
            built.push((app, base, sweeps));
        }
        built
            .into_iter()
            .map(|(app, base, sweeps)| {
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(app.run_until(async {
                    rx.await.ok();
                }));
                Instance {
                    base,
                    sweeps,
                    _shutdown: tx,
                }
            })
            .collect()
    }

    /// The server's clock, to move: the test's configuration must have
    /// given it one ([`manual_clock`]).
    pub fn clock(&self) -> &ManualClock {
        let clock: &dyn std::any::Any = self.config.clock.as_ref();
        clock
            .downcast_ref()
            .expect("a ManualClock: run the test with each_backend_with(manual_clock, ..)")
    }

    /// The seeded user of a role.
    pub fn user_id(&self, role: Role) -> Uuid {
        self.users[role.as_str()]
    }

    /// A valid token for the seeded user of a role.
    pub fn token(&self, role: Role) -> String {
        self.config
            .jwt
            .mint(self.user_id(role), role, Duration::from_secs(600))
            .expect("mint")
    }

    /// `POST /graphql` as a role; returns the HTTP status and JSON body.
    pub async fn post(&self, role: Role, query: &str, variables: Value) -> (u16, Value) {
        self.post_with_token(Some(&self.token(role)), query, variables)
            .await
    }

    /// `POST /graphql` with any (or no) token.
    pub async fn post_with_token(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        self.send(&self.base, token, query, variables).await
    }

    /// Like [`gql`](Self::gql), sent to another server over the same
    /// database (see [`spawn_instances`](Self::spawn_instances)).
    pub async fn gql_at(
        &self,
        instance: &Instance,
        role: Role,
        query: &str,
        variables: Value,
    ) -> Value {
        let (status, body) = self
            .send(&instance.base, Some(&self.token(role)), query, variables)
            .await;
        assert_eq!(status, 200, "HTTP {status}: {body}");
        assert!(body.get("errors").is_none(), "errors from {query}: {body}");
        body["data"].clone()
    }

    async fn send(
        &self,
        base: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// `POST /graphql` of a whole request body (for fields beyond query and
    /// variables, such as `extensions` and `documentId`).
    pub async fn post_body(&self, role: Role, body: &Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(self.token(role))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// Like [`post_body`](Self::post_body), expecting HTTP 200; the body.
    pub async fn gql_body(&self, role: Role, body: &Value) -> Value {
        let (status, answer) = self.post_body(role, body).await;
        assert_eq!(status, 200, "HTTP {status}: {answer}");
        answer
    }

    /// Runs a GraphQL document as a role and returns `data`, failing the
    /// test on any error.
    pub async fn gql(&self, role: Role, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(role, query, variables).await;
        assert_eq!(status, 200, "HTTP {status}: {body}");
        assert!(body.get("errors").is_none(), "errors from {query}: {body}");
        body["data"].clone()
    }

    /// Runs a document and returns the first error's `extensions.code`
    /// (None when it succeeded).
    pub async fn error_code(&self, role: Role, query: &str, variables: Value) -> Option<String> {
        let (_, body) = self.post(role, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_owned)
    }

    /// Resets the SQL statement counter.
    pub fn reset_queries(&self) {
        self.queries.store(0, Ordering::SeqCst);
    }

    /// SQL statements run since the last reset.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// Creates an account as ADMIN and returns its global id.
    pub async fn create_account(&self, name: &str, domain: Option<&str>) -> String {
        let data = self
            .gql(
                Role::Admin,
                "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id } userErrors { message } } }",
                json!({ "i": { "name": name, "domain": domain } }),
            )
            .await;
        data["createAccount"]["account"]["id"]
            .as_str()
            .expect("account id")
            .to_owned()
    }

    /// Creates a lead as MARKETING and returns its global id.
    pub async fn create_lead(&self, email: &str, extra: Value) -> String {
        let mut input = json!({ "email": email, "source": "ORGANIC_SEARCH" });
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                i.insert(k.clone(), v.clone());
            }
        }
        let data = self
            .gql(
                Role::Marketing,
                "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } userErrors { field message } } }",
                json!({ "i": input }),
            )
            .await;
        data["createLead"]["lead"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no lead created: {data}"))
            .to_owned()
    }

    /// Drafts `definition` as MARKETING and has both teams sign it; returns
    /// its id. Open leads that meet it become MQL now.
    pub async fn approve_definition(&self, definition: Value) -> String {
        const CREATE: &str = "mutation($i: LeadDefinitionInput!) { createLeadDefinition(input: $i) { leadDefinition { id } userErrors { field message code } } }";
        const SIGN: &str = "mutation($i: SignLeadDefinitionInput!) { signLeadDefinition(input: $i) { approved userErrors { field message code } } }";
        let data = self
            .gql(Role::Marketing, CREATE, json!({ "i": definition }))
            .await;
        let id = data["createLeadDefinition"]["leadDefinition"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no definition: {data}"))
            .to_owned();
        self.gql(Role::Sales, SIGN, json!({ "i": { "id": id } }))
            .await;
        let signed = self
            .gql(Role::Marketing, SIGN, json!({ "i": { "id": id } }))
            .await;
        assert_eq!(signed["signLeadDefinition"]["approved"], true, "{signed}");
        id
    }

    /// Imports a CSV export given as text (`handoff import` as the
    /// INTEGRATION user, dates read at `utc_offset_hours`); returns the
    /// summary and the failed-rows file's text ("" when none was written).
    pub async fn import_csv(
        &self,
        system: handoff::import::System,
        object: handoff::import::ObjectKind,
        csv: &str,
        utc_offset_hours: i32,
    ) -> (handoff::import::Summary, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("export.csv");
        std::fs::write(&file, csv).expect("write the export");
        let viewer = handoff::auth::Viewer {
            user_id: self.user_id(Role::Integration),
            role: Role::Integration,
            team: Team::Revops,
        };
        let options = handoff::import::Options {
            system,
            object,
            file,
            mapping: Default::default(),
            currency: "USD".into(),
            offset: chrono::FixedOffset::east_opt(utc_offset_hours * 3600).expect("offset"),
            failed: Some(dir.path().join("failed.csv")),
            unknown_owner: Default::default(),
            dry_run: false,
        };
        let summary = handoff::import::run(&self.db, &viewer, &options, &mut |_| {})
            .await
            .expect("import");
        let failed = summary
            .failed_file
            .as_ref()
            .map(|path| std::fs::read_to_string(path).expect("failed rows"))
            .unwrap_or_default();
        (summary, failed)
    }

    /// The global id of a seeded user.
    pub fn user_gid(&self, role: Role) -> String {
        gid("User", self.user_id(role))
    }
}

/// The scoring fixture the SLA, subscription and sync tests share: fit
/// Software 30 + 50-5000 employees 20 + VP 20 + US 10 (80 for the ideal
/// lead), a DEMO_REQUEST 40 engagement; a NEW lead with `fit_min` fit and
/// `engagement_min` engagement is an MQL; 24 h to first contact.
pub fn lead_definition(fit_min: i32, engagement_min: i32) -> Value {
    json!({
        "fitCriteria": {
            "industries": [{ "value": "Software", "points": 30 }],
            "employeeRange": { "min": 50, "max": 5000, "points": 20 },
            "seniorities": [{ "seniority": "VP", "points": 20 }],
            "countries": [{ "value": "US", "points": 10 }]
        },
        "engagementRules": [{ "kind": "DEMO_REQUEST", "points": 40 }],
        "halfLifeDays": 30,
        "mqlFitMin": fit_min,
        "mqlEngagementMin": engagement_min,
        "reviewBy": "2027-03-31"
    })
}

/// The global id the API gives a record of `kind` (`Lead`, `User`, ...).
pub fn gid(kind: &str, id: Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// Opens a pool on a test's database, in its PostgreSQL schema if it has one.
async fn connect(config: &Config, schema: Option<&str>) -> DatabaseConnection {
    db::connect_with(config, |opt| {
        if let Some(schema) = schema {
            opt.set_schema_search_path(schema.to_owned());
        }
    })
    .await
    .expect("connect")
}

/// Another server over a [`TestApp`]'s database, started by
/// [`TestApp::spawn_instances`].
pub struct Instance {
    /// `http://127.0.0.1:port`.
    pub base: String,
    sweeps: Arc<AtomicUsize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Instance {
    /// How many SLA sweeps this server has started: the candidate reads of
    /// `services::sla::sweep` seen on its own pool (one per sweep while
    /// fewer than a batch of leads is open, as in tests).
    pub fn sweeps(&self) -> usize {
        self.sweeps.load(Ordering::SeqCst)
    }
}

/// Whether a statement is the SLA sweep's read of its candidates: the only
/// query that selects leads by a list of SLA statuses.
fn is_sweep_read(sql: &str) -> bool {
    sql.starts_with("SELECT")
        && sql.contains(r#"FROM "leads""#)
        && sql.contains(r#""sla_status" IN ("#)
}
