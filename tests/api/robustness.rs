//! The schema-driven robustness test: every argument of every query and
//! mutation, and every field of their input objects, gets boundary values,
//! and every answer must be a well-formed GraphQL response with a documented
//! code.
//!
//! The arguments come from the schema itself (`handoff::graphql::sdl()`,
//! the checked-in `schema.graphql`), so a field is covered the day it
//! lands. For each argument (and, through input objects and the first
//! element of each list, each nested input field, up to
//! [`MAX_INPUT_DEPTH`] objects deep) one request sends one boundary value
//! while the other arguments and fields hold valid values: the required
//! ones, the few a record cannot do without ([`NEEDED`]), and ids of real
//! records of the kind the name says (`accountId` an account, `ownerId` a
//! SALES user, `acceptLead`'s `id` an MQL), so that mutations get past "not
//! found" to their deeper validation. The values: the Int limits and one
//! past them, float extremes, empty, blank, 100 KB, NUL/emoji/right-to-left
//! and SQL/LIKE-metacharacter strings, malformed ids and well-formed ids of
//! a missing record or of another kind, the date and timestamp edges (years
//! 1, 1899, 1900, 9999, 10000, chrono's +262142, offsets that cross a year
//! in UTC), decimals that overflow the database column or the decimal type,
//! scientific, negative-zero and over-precise decimals, unknown enum
//! values, a wrong JSON type for every type, null for every required value,
//! and lists that are empty or hold 101 or 1,001 items.
//!
//! Every case is sent three times: as ADMIN with its values in variables,
//! as ADMIN with them as inline literals (async-graphql checks the two
//! differently), and as REPORTING, whose mutations must be refused with
//! FORBIDDEN (or BAD_USER_INPUT, QUERY_TOO_COMPLEX when the value itself is
//! refused first).
//!
//! An answer offends when the request fails (a dropped connection), the
//! status is not 200, 400, 413 or 503 (503 only with UNAVAILABLE or
//! TIMEOUT), the body is not a GraphQL response, an error has no message or
//! a code outside the documented set (INTERNAL included: the server turns a
//! panic into INTERNAL), a message carries SQL error text, a user error has
//! no code or message, or a sync result says FAILED (the database refused
//! the record: a per-record INTERNAL). A panic hook also records any panic
//! on the server's threads. Every offender is collected and the test fails
//! once, listing them all.
//!
//! It takes 10 to 15 s per backend on 2 cores. Left out: pairs of bad
//! values, input objects nested deeper than four, list elements after the
//! first, more values of a class already sent (one over-range Int, one
//! month 13), records in more states than one per lifecycle move (a
//! mutation that succeeds early, such as `closeOpportunity`, leaves its
//! record in a state the later cases are refused in), subscriptions and
//! `GET /graphql`.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Mutex, Once,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use async_graphql::parser::{
    parse_schema,
    types::{BaseType, Type, TypeKind, TypeSystemDefinition},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::enums::Role;
use futures_util::{StreamExt, stream};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::common::{self, Backend, TestApp};

/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// How many input objects deep the fields are varied.
const MAX_INPUT_DEPTH: usize = 4;
/// The codes the README documents for top-level errors, but INTERNAL.
const DOCUMENTED_CODES: [&str; 9] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "QUERY_TOO_COMPLEX",
    "TIMEOUT",
    "RATE_LIMITED",
    "UNAVAILABLE",
];
/// What a database error's text looks like when it leaks into a message.
const LEAKS: [&str; 7] = [
    "error returned from database",
    "Query Error",
    "Execution Error",
    "Connection Error",
    "SqlxError",
    "SQLSTATE",
    "panicked at",
];
/// Optional input fields filled in valid values all the same: creating a
/// record (by upsert, say) needs them.
const NEEDED: [&str; 9] = [
    "name",
    "email",
    "source",
    "channel",
    "objective",
    "startsOn",
    "amount",
    "kind",
    "reason",
];
/// The name of the server's threads, so the panic hook can tell them apart
/// from other tests' threads.
const SERVER_THREADS: &str = "robustness-server";

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn every_argument_of_every_query_and_mutation_answers_boundary_values_with_a_documented_code() {
    record_server_panics();
    let api = Api::load();
    let mut offenders = vec![];
    for backend in common::backends() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(SERVER_THREADS)
            .enable_all()
            .build()
            .expect("runtime");
        let name = match &backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        };
        let found = runtime.block_on(run(&api, backend));
        drop(runtime);
        let panics = std::mem::take(&mut *PANICS.lock().unwrap());
        offenders.extend(found.into_iter().map(|o| format!("[{name}] {o}")));
        offenders.extend(
            panics
                .into_iter()
                .map(|p| format!("[{name}] a server thread panicked: {p}")),
        );
    }
    assert!(
        offenders.is_empty(),
        "{} answers were not well-formed GraphQL responses with a documented code:\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

/// Chains a panic hook that records panics on [`SERVER_THREADS`].
fn record_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with(SERVER_THREADS))
                && let Ok(mut panics) = PANICS.lock()
            {
                panics.push(info.to_string());
            }
            previous(info);
        }));
    });
}

/// One backend: seed, send every case, return the offenders.
async fn run(api: &Api, backend: Backend) -> Vec<String> {
    let app = TestApp::spawn(backend).await;
    let seeds = seed(&app).await;
    let values = Values::new(api, seeds);
    let cases = values.cases();
    let tokens: HashMap<&str, String> = [Role::Admin, Role::Reporting]
        .into_iter()
        .map(|r| (r.as_str(), app.token(r)))
        .collect();

    // Deletes go last, so the other mutations find the seeded records.
    let mut requests = vec![];
    for phase in [false, true] {
        for case in cases.iter().filter(|c| c.deletes == phase) {
            requests.push(Request::new(case, Role::Admin, false, api));
            requests.push(Request::new(case, Role::Admin, true, api));
            requests.push(Request::new(case, Role::Reporting, false, api));
        }
    }

    let started = Instant::now();
    let url = format!("{}/graphql", app.base);
    let total = requests.len();
    let answers: Vec<(Request, Answer)> = stream::iter(requests)
        .map(|request| {
            let (app, url, tokens) = (&app, &url, &tokens);
            async move {
                let answer = send(app, url, &tokens[request.role.as_str()], &request).await;
                (request, answer)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut offenders = vec![];
    // How deep the requests got: past coercion and the guards to a result.
    let (mut answered, mut user_errors) = (0, 0);
    for (request, answer) in &answers {
        if let Answer::Json(_, body) = answer {
            let payload = &body["data"][request.case.field.as_str()];
            answered += usize::from(!payload.is_null());
            user_errors += usize::from(
                payload["userErrors"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty()),
            );
        }
        for code in answer.codes() {
            *codes.entry(code).or_default() += 1;
        }
        let problems = answer.problems(request);
        if !problems.is_empty() {
            let sent = match request.case.target.as_str() {
                "" => request.case.label.clone(),
                target => format!("{target} = {}", request.case.label),
            };
            offenders.push(format!(
                "{} as {}{}: {sent}: {}; answer: {}",
                request.case.field,
                request.role.as_str(),
                if request.inline { " (inline)" } else { "" },
                problems.join("; "),
                answer.summary(),
            ));
        }
    }
    eprintln!(
        "robustness: {} cases, {total} requests in {:.1} s; {answered} answered with data \
         ({user_errors} with user errors); error codes {codes:?}",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    offenders
}

// ---------------------------------------------------------------------------
// The schema

/// An argument or input field.
#[derive(Clone, Debug)]
struct Arg {
    name: String,
    ty: Type,
    has_default: bool,
}

impl Arg {
    fn required(&self) -> bool {
        !self.ty.nullable && !self.has_default
    }
}

/// A field of an object type, with its arguments.
#[derive(Clone, Debug)]
struct Field {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

/// What the test needs of the published schema.
struct Api {
    queries: Vec<Field>,
    mutations: Vec<Field>,
    objects: HashMap<String, Vec<Field>>,
    composite: HashSet<String>,
    inputs: HashMap<String, Vec<Arg>>,
    enums: HashMap<String, Vec<String>>,
}

impl Api {
    fn load() -> Self {
        let sdl = handoff::graphql::sdl();
        let doc = parse_schema(&sdl).expect("the SDL parses");
        let (mut query, mut mutation) = ("QueryRoot".to_owned(), "MutationRoot".to_owned());
        let mut objects = HashMap::new();
        let mut composite = HashSet::new();
        let mut inputs = HashMap::new();
        let mut enums = HashMap::new();
        let arg = |a: &async_graphql::parser::types::InputValueDefinition| Arg {
            name: a.name.node.to_string(),
            ty: a.ty.node.clone(),
            has_default: a.default_value.is_some(),
        };
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(s) => {
                    if let Some(q) = &s.node.query {
                        query = q.node.to_string();
                    }
                    if let Some(m) = &s.node.mutation {
                        mutation = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(t) => {
                    let name = t.node.name.node.to_string();
                    match &t.node.kind {
                        TypeKind::Object(o) => {
                            let fields = o
                                .fields
                                .iter()
                                .map(|f| Field {
                                    name: f.node.name.node.to_string(),
                                    args: f.node.arguments.iter().map(|a| arg(&a.node)).collect(),
                                    ty: f.node.ty.node.clone(),
                                })
                                .collect();
                            objects.insert(name.clone(), fields);
                            composite.insert(name);
                        }
                        TypeKind::Interface(_) | TypeKind::Union(_) => {
                            composite.insert(name);
                        }
                        TypeKind::Enum(e) => {
                            let values = e.values.iter().map(|v| v.node.value.node.to_string());
                            enums.insert(name, values.collect());
                        }
                        TypeKind::InputObject(i) => {
                            inputs.insert(name, i.fields.iter().map(|f| arg(&f.node)).collect());
                        }
                        TypeKind::Scalar => {}
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Self {
            queries: objects.get(&query).cloned().expect("the query root"),
            mutations: objects.get(&mutation).cloned().expect("the mutation root"),
            objects,
            composite,
            inputs,
            enums,
        }
    }

    /// The selection a field's result needs: `__typename` for a composite
    /// type, plus the user errors and sync results of a payload.
    fn selection(&self, ty: &Type) -> String {
        let name = named(ty);
        if !self.composite.contains(name) {
            return String::new();
        }
        let mut selection = " { __typename".to_owned();
        if let Some(fields) = self.objects.get(name) {
            if fields.iter().any(|f| f.name == "userErrors") {
                selection.push_str(" userErrors { field message code }");
            }
            if fields
                .iter()
                .any(|f| f.name == "results" && named(&f.ty) == "SyncRecordResult")
            {
                selection.push_str(" results { status error { code field message } }");
            }
        }
        selection.push_str(" }");
        selection
    }

    /// A value as a GraphQL literal of type `ty` (enum values bare; a value
    /// of the wrong shape as it is).
    fn literal(&self, value: &Value, ty: Option<&Type>) -> String {
        match value {
            Value::String(s) => {
                let is_enum = ty.is_some_and(|t| {
                    matches!(&t.base, BaseType::Named(n) if self.enums.contains_key(n.as_str()))
                });
                let is_name = s
                    .chars()
                    .next()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                    && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                    && !matches!(s.as_str(), "true" | "false" | "null");
                if is_enum && is_name {
                    s.clone()
                } else {
                    value.to_string()
                }
            }
            Value::Array(items) => {
                let inner = ty.and_then(|t| match &t.base {
                    BaseType::List(inner) => Some(inner.as_ref()),
                    BaseType::Named(_) => None,
                });
                let items: Vec<String> = items.iter().map(|v| self.literal(v, inner)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Object(map) => {
                let fields = ty.and_then(|t| match &t.base {
                    BaseType::Named(n) => self.inputs.get(n.as_str()),
                    BaseType::List(_) => None,
                });
                let items: Vec<String> = map
                    .iter()
                    .map(|(k, v)| {
                        let ty = fields.and_then(|fs| fs.iter().find(|f| f.name == *k));
                        format!("{k}: {}", self.literal(v, ty.map(|f| &f.ty)))
                    })
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => value.to_string(),
        }
    }
}

/// The named type inside any list and non-null wrappers.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

// ---------------------------------------------------------------------------
// The records valid ids point at

/// Global ids of one seeded record of each kind, by kind.
type Seeds = HashMap<&'static str, String>;

/// One record of each kind, created through the API as a client would.
async fn seed(app: &TestApp) -> Seeds {
    async fn id(app: &TestApp, doc: &str, vars: Value, path: [&str; 2]) -> String {
        let data = app.gql(Role::Admin, doc, vars).await;
        data[path[0]][path[1]]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {} from {doc}: {data}", path[1]))
            .to_owned()
    }
    let owner = app.user_gid(Role::Sales);
    let account = app
        .create_account("Robust Account", Some("robust-account.example"))
        .await;
    let lead = app
        .create_lead("robust.lead@example.com", json!({ "accountId": account }))
        .await;
    let campaign = id(
        app,
        "mutation { createCampaign(input: {name: \"Robust\", channel: EMAIL, objective: AWARENESS, startsOn: \"2026-01-01\"}) { campaign { id } } }",
        json!({}),
        ["createCampaign", "campaign"],
    )
    .await;
    let spend = id(
        app,
        "mutation($c: ID!) { createCampaignSpend(input: {campaignId: $c, spentOn: \"2026-01-15\", amount: {amount: \"10\", currency: \"USD\"}}) { campaignSpend { id } } }",
        json!({ "c": campaign }),
        ["createCampaignSpend", "campaignSpend"],
    )
    .await;
    let deal = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { opportunity { id } } }";
    let opportunity = id(
        app,
        deal,
        json!({ "i": { "name": "Robust Deal", "accountId": account, "primaryLeadId": lead, "ownerId": owner, "amount": { "amount": "1000", "currency": "USD" } } }),
        ["createOpportunity", "opportunity"],
    )
    .await;
    let closed = id(
        app,
        deal,
        json!({ "i": { "name": "Robust Lost Deal", "accountId": account, "ownerId": owner, "amount": { "amount": "500", "currency": "USD" } } }),
        ["createOpportunity", "opportunity"],
    )
    .await;
    let feedback = id(
        app,
        "mutation($o: ID!) { closeOpportunity(input: {id: $o, outcome: LOST, feedback: {primaryReason: PRICE}}) { winLossFeedback { id } } }",
        json!({ "o": closed }),
        ["closeOpportunity", "winLossFeedback"],
    )
    .await;
    // Closed without feedback: what submitWinLossFeedback takes.
    let unreviewed = id(
        app,
        deal,
        json!({ "i": { "name": "Robust Unreviewed Deal", "ownerId": owner, "stage": "CLOSED_WON", "amount": { "amount": "700", "currency": "USD" } } }),
        ["createOpportunity", "opportunity"],
    )
    .await;
    let competitor = id(
        app,
        "mutation { createCompetitor(input: {name: \"Robust Rival\"}) { competitor { id } } }",
        json!({}),
        ["createCompetitor", "competitor"],
    )
    .await;
    let activity = id(
        app,
        "mutation($l: ID!) { recordActivity(input: {leadId: $l, kind: FORM_SUBMIT}) { activity { id } } }",
        json!({ "l": lead }),
        ["recordActivity", "activity"],
    )
    .await;
    app.approve_definition(common::lead_definition(50, 30))
        .await;
    let draft = id(
        app,
        "mutation($i: LeadDefinitionInput!) { createLeadDefinition(input: $i) { leadDefinition { id } } }",
        json!({ "i": common::lead_definition(60, 30) }),
        ["createLeadDefinition", "leadDefinition"],
    )
    .await;
    let target = id(
        app,
        "mutation { setKpiTarget(input: {kpi: LEADS_CREATED, periodKind: MONTH, periodStart: \"2026-01-01\", target: 10, direction: AT_LEAST}) { kpiTarget { id } } }",
        json!({}),
        ["setKpiTarget", "kpiTarget"],
    )
    .await;
    // The user the user mutations edit and delete: never the caller, nor
    // the owner the other records name.
    let user = id(
        app,
        "mutation { createUser(input: {name: \"Robust Target\", email: \"robust.target@example.com\", role: SALES, team: SALES}) { user { id } } }",
        json!({}),
        ["createUser", "user"],
    )
    .await;
    let mut seeds = HashMap::from([
        ("Account", account),
        ("Lead", lead),
        ("Campaign", campaign),
        ("CampaignSpend", spend),
        ("Opportunity", opportunity),
        ("WinLossFeedback", feedback),
        ("Competitor", competitor),
        ("Activity", activity),
        ("LeadDefinition", draft),
        ("KpiTarget", target),
        ("User", app.user_gid(Role::Admin)),
        ("Owner", owner),
        ("TargetUser", user),
        ("ClosedOpportunity", unreviewed),
    ]);
    // A lead in each stage a lifecycle move starts from, synced in it.
    let sync = "mutation($i: UpsertLeadsInput!) { upsertLeads(input: $i) { results { id error { message } } } }";
    for (kind, stage) in [
        ("MqlLead", "MQL"),
        ("SalLead", "SAL"),
        ("SqlLead", "SQL"),
        ("NurtureLead", "NURTURE"),
    ] {
        let record = json!({ "externalId": kind, "email": format!("{kind}@example.com"), "stage": stage, "source": "EMAIL" });
        let data = app
            .gql(
                Role::Admin,
                sync,
                json!({ "i": { "system": "OTHER", "leads": [record] } }),
            )
            .await;
        let id = data["upsertLeads"]["results"][0]["id"].as_str();
        seeds.insert(
            kind,
            id.unwrap_or_else(|| panic!("no {stage} lead: {data}"))
                .to_owned(),
        );
    }
    seeds
}

/// The kind of record an ID argument or field names: a record in the
/// stage a lifecycle mutation moves from (`acceptLead` an MQL); else from
/// the field's name (`accountId`, `ownerIds`), or for `id`/`ids` from the
/// input type or root field it belongs to (`UpdateLeadInput`,
/// `deleteCampaignSpend`).
fn id_kind(root: &str, owner: &str, name: &str) -> &'static str {
    match (root, name) {
        ("acceptLead" | "rejectLead" | "claimLead", "id") => return "MqlLead",
        ("qualifyLead", "id") => return "SalLead",
        ("disqualifyLead" | "convertLead", "id") => return "SqlLead",
        ("recycleLead", "id") => return "NurtureLead",
        ("submitWinLossFeedback", "opportunityId") => return "ClosedOpportunity",
        _ => {}
    }
    let stem = name.trim_end_matches("Ids").trim_end_matches("Id");
    let by_name = [
        ("Lead", "Lead"),
        ("lead", "Lead"),
        ("account", "Account"),
        ("Campaign", "Campaign"),
        ("campaign", "Campaign"),
        ("owner", "Owner"),
        ("author", "User"),
        ("actor", "User"),
        ("competitor", "Competitor"),
        ("opportunity", "Opportunity"),
        ("activity", "Activity"),
    ];
    if !matches!(name, "id" | "ids") {
        return by_name
            .iter()
            .find(|(part, _)| stem.ends_with(part))
            .map_or("Lead", |(_, kind)| kind);
    }
    let by_owner = [
        ("LeadDefinition", "LeadDefinition"),
        ("KpiTarget", "KpiTarget"),
        ("CampaignSpend", "CampaignSpend"),
        ("WinLossFeedback", "WinLossFeedback"),
        ("Competitor", "Competitor"),
        ("Opportunity", "Opportunity"),
        ("Campaign", "Campaign"),
        ("Account", "Account"),
        ("User", "TargetUser"),
    ];
    let owner = owner.to_ascii_lowercase();
    by_owner
        .iter()
        .find(|(part, _)| owner.contains(&part.to_ascii_lowercase()))
        .map_or("Lead", |(_, kind)| kind)
}

/// The GraphQL type name a seed kind's global ids carry.
fn type_name(kind: &str) -> &str {
    match kind {
        "Owner" | "TargetUser" => "User",
        "MqlLead" | "SalLead" | "SqlLead" | "NurtureLead" => "Lead",
        "ClosedOpportunity" => "Opportunity",
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Valid values, boundary values and the cases built from them

/// One boundary value at one place of a request.
struct Variant {
    /// Where the value sits below the argument: `.leads.0.email`.
    path: String,
    /// What the value is, for the report.
    label: String,
    value: Value,
}

impl Variant {
    fn new(label: impl Into<String>, value: Value) -> Self {
        Self {
            path: String::new(),
            label: label.into(),
            value,
        }
    }
}

/// One request's worth of arguments.
struct Case {
    mutation: bool,
    field: String,
    ty: Type,
    /// The argument (path) that holds the boundary value.
    target: String,
    label: String,
    args: Vec<(Arg, Value)>,
    /// A delete, sent after every other case.
    deletes: bool,
}

/// Makes valid and boundary values for the published schema.
struct Values<'a> {
    api: &'a Api,
    seeds: Seeds,
    counter: AtomicUsize,
    huge: String,
}

impl<'a> Values<'a> {
    fn new(api: &'a Api, seeds: Seeds) -> Self {
        Self {
            api,
            seeds,
            counter: AtomicUsize::new(0),
            huge: "a".repeat(100 * 1024),
        }
    }

    /// A number no other value has used, for unique names and keys.
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Every case: for each root field, each argument's boundary values
    /// with the other required arguments valid; a field without arguments
    /// once.
    fn cases(&self) -> Vec<Case> {
        let mut cases = vec![];
        let roots = self
            .api
            .queries
            .iter()
            .map(|f| (false, f))
            .chain(self.api.mutations.iter().map(|f| (true, f)));
        for (mutation, field) in roots {
            let deletes =
                mutation && (field.name.starts_with("delete") || field.name.starts_with("discard"));
            let case = |target: String, label: String, args| Case {
                mutation,
                field: field.name.clone(),
                ty: field.ty.clone(),
                target,
                label,
                args,
                deletes,
            };
            if field.args.is_empty() {
                cases.push(case(String::new(), "no arguments".into(), vec![]));
            }
            for arg in &field.args {
                for variant in self.variants(&field.name, &arg.ty, &field.name, &arg.name, 0) {
                    let mut args: Vec<(Arg, Value)> = field
                        .args
                        .iter()
                        .filter(|a| a.required() && a.name != arg.name)
                        .map(|a| {
                            (
                                a.clone(),
                                self.valid(&field.name, &a.ty, &field.name, &a.name),
                            )
                        })
                        .collect();
                    args.push((arg.clone(), variant.value));
                    cases.push(case(
                        format!("{}{}", arg.name, variant.path),
                        variant.label,
                        args,
                    ));
                }
            }
        }
        cases
    }

    /// A valid value of `ty` for the field `name` of `owner`.
    fn valid(&self, root: &str, ty: &Type, owner: &str, name: &str) -> Value {
        match &ty.base {
            BaseType::List(inner) => json!([self.valid(root, inner, owner, name)]),
            BaseType::Named(n) => {
                let n = n.as_str();
                if self.api.inputs.contains_key(n) {
                    self.valid_object(root, n)
                } else if let Some(values) = self.api.enums.get(n) {
                    json!(values[0])
                } else {
                    self.valid_scalar(root, n, owner, name)
                }
            }
        }
    }

    /// An input object with its required fields valid, and the optional
    /// ones a record cannot do without (an upserted account's `name`, a
    /// rejection's `reason`), so that a bad value elsewhere is what fails.
    fn valid_object(&self, root: &str, input: &str) -> Value {
        let fields = &self.api.inputs[input];
        let object: Map<String, Value> = fields
            .iter()
            .filter(|f| f.required() || NEEDED.contains(&f.name.as_str()))
            .map(|f| (f.name.clone(), self.valid(root, &f.ty, input, &f.name)))
            .collect();
        Value::Object(object)
    }

    fn valid_scalar(&self, root: &str, scalar: &str, owner: &str, name: &str) -> Value {
        match scalar {
            "Int" => json!(match name {
                "points" | "first" | "last" => 10,
                _ => 1,
            }),
            "Float" => json!(match name {
                "halfLifeDays" => 30.0,
                "target" => 0.5,
                _ => 1.0,
            }),
            "Boolean" => json!(true),
            "NaiveDate" => json!("2026-01-15"),
            "DateTime" => json!("2026-01-15T12:00:00Z"),
            "Decimal" => json!("100.00"),
            "ID" => json!(self.seeds[id_kind(root, owner, name)]),
            _ => json!(self.valid_string(owner, name)),
        }
    }

    fn valid_string(&self, owner: &str, name: &str) -> String {
        let n = self.next();
        match name {
            "email" | "ownerEmail" => format!("robust{n}@example.com"),
            "currency" => "USD".into(),
            "country" => "US".into(),
            "domain" => format!("robust{n}.example"),
            "website" => format!("https://robust{n}.example"),
            "stage" if owner.contains("Opportunit") => "DISCOVERY".into(),
            "stage" => "NEW".into(),
            _ if name.to_ascii_lowercase().contains("externalid") => format!("robust-{n}"),
            _ => format!("Robust {n}"),
        }
    }

    /// The boundary values of `ty` at the field `name` of `owner`: its
    /// type's edges and wrong types, null when it is required, and for
    /// lists and input objects the same one level further down.
    fn variants(
        &self,
        root: &str,
        ty: &Type,
        owner: &str,
        name: &str,
        depth: usize,
    ) -> Vec<Variant> {
        let mut out = vec![];
        if !ty.nullable {
            out.push(Variant::new("null for a required value", Value::Null));
        }
        match &ty.base {
            BaseType::List(inner) => {
                let many = |n: usize| {
                    (0..n)
                        .map(|_| self.valid(root, inner, owner, name))
                        .collect()
                };
                out.push(Variant::new("an empty list", json!([])));
                out.push(Variant::new("101 items", Value::Array(many(101))));
                out.push(Variant::new("1,001 items", Value::Array(many(1001))));
                out.push(Variant::new("wrong type: an object", json!({ "a": 1 })));
                for v in self.variants(root, inner, owner, name, depth) {
                    out.push(Variant {
                        path: format!(".0{}", v.path),
                        label: v.label,
                        value: json!([v.value]),
                    });
                }
            }
            BaseType::Named(input) if self.api.inputs.contains_key(input.as_str()) => {
                let input = input.as_str();
                out.push(Variant::new("an empty object", json!({})));
                out.push(Variant::new("wrong type: a string", json!("x")));
                out.push(Variant::new("wrong type: a list", json!([{}])));
                if depth < MAX_INPUT_DEPTH {
                    for field in &self.api.inputs[input] {
                        for v in self.variants(root, &field.ty, input, &field.name, depth + 1) {
                            let mut object = self.valid_object(root, input);
                            object[field.name.as_str()] = v.value;
                            out.push(Variant {
                                path: format!(".{}{}", field.name, v.path),
                                label: v.label,
                                value: object,
                            });
                        }
                    }
                }
            }
            BaseType::Named(n) => {
                if let Some(values) = self.api.enums.get(n.as_str()) {
                    out.extend(enum_edges(&values[0]));
                } else {
                    out.extend(self.scalar_edges(root, n.as_str(), owner, name));
                }
            }
        }
        out
    }

    /// The edges of a scalar, and a wrong JSON type for it.
    fn scalar_edges(&self, root: &str, scalar: &str, owner: &str, name: &str) -> Vec<Variant> {
        let object = Variant::new("wrong type: an object", json!({ "a": 1 }));
        let number = Variant::new("wrong type: a number", json!(1));
        let mut edges = match scalar {
            "Int" => vec![
                Variant::new("0", json!(0)),
                Variant::new("-1", json!(-1)),
                Variant::new("2147483647", json!(i32::MAX)),
                Variant::new("-2147483648", json!(i32::MIN)),
                Variant::new("2147483648 (over Int)", json!(2_147_483_648_i64)),
                Variant::new("1.5", json!(1.5)),
                Variant::new("wrong type: a string", json!("1")),
            ],
            "Float" => vec![
                Variant::new("0", json!(0.0)),
                Variant::new("-1", json!(-1.0)),
                Variant::new("1e308", json!(1e308)),
                Variant::new("-1e308", json!(-1e308)),
                Variant::new("5e-324", json!(5e-324)),
                Variant::new("wrong type: a string", json!("1.5")),
            ],
            "Boolean" => vec![Variant::new("wrong type: a string", json!("true")), number],
            "NaiveDate" => {
                let mut dates: Vec<Variant> = [
                    "0001-01-01",
                    "1899-12-31",
                    "1900-01-01",
                    "9999-12-31",
                    "+262142-12-31",
                    "10000-01-01",
                    "not a date",
                ]
                .into_iter()
                .map(|d| Variant::new(format!("{d:?}"), json!(d)))
                .collect();
                dates.push(Variant::new("wrong type: a number", json!(20_260_101)));
                dates
            }
            "DateTime" => {
                let mut times: Vec<Variant> = [
                    "9999-12-31T23:59:59Z",
                    "0001-01-01T00:00:00Z",
                    "1899-12-31T23:59:59Z",
                    "+262142-01-01T00:00:00Z",
                    "2026-13-01T00:00:00Z",
                    "9999-12-31T23:59:59-01:00",
                    "1900-01-01T00:00:00+01:00",
                    "2026-01-15T12:00:00",
                    "not a date",
                ]
                .into_iter()
                .map(|t| Variant::new(format!("{t:?}"), json!(t)))
                .collect();
                times.push(number);
                times
            }
            "Decimal" => {
                let mut amounts: Vec<Variant> = [
                    "1e400",
                    "99999999999999999999999999999",
                    "79228162514264337593543950335",
                    "10000000000000000",
                    "9999999999999999.99",
                    "-0",
                    "0.001",
                    "-1",
                    "abc",
                ]
                .into_iter()
                .map(|a| Variant::new(format!("{a:?}"), json!(a)))
                .collect();
                amounts.push(Variant::new("a JSON number", json!(12.5)));
                amounts
            }
            "ID" => {
                let kind = id_kind(root, owner, name);
                let other = if type_name(kind) == "Lead" {
                    "Account"
                } else {
                    "Lead"
                };
                vec![
                    Variant::new("\"\"", json!("")),
                    Variant::new("100 KB", json!(self.huge)),
                    Variant::new("garbage", json!("not an id!")),
                    Variant::new(
                        "a global id without a UUID",
                        json!(URL_SAFE_NO_PAD.encode(format!("{}:42", type_name(kind)))),
                    ),
                    Variant::new(
                        format!("the id of a missing {}", type_name(kind)),
                        json!(common::gid(type_name(kind), Uuid::now_v7())),
                    ),
                    Variant::new(
                        format!("the id of another kind ({other})"),
                        json!(self.seeds[other]),
                    ),
                    number,
                ]
            }
            // String and anything else sent as a string.
            _ => vec![
                Variant::new("\"\"", json!("")),
                Variant::new("100 KB", json!(self.huge)),
                Variant::new("blanks", json!(" \t\n ")),
                Variant::new(
                    "NUL, emoji and right-to-left text",
                    json!("a\u{0}b \u{1F600} \u{202E}\u{5E9}\u{5DC}\u{5D5}\u{5DD}"),
                ),
                Variant::new(
                    "SQL and LIKE metacharacters",
                    json!("%_\\' \"; DROP TABLE leads; --"),
                ),
                number,
            ],
        };
        edges.push(object);
        edges
    }
}

/// An unknown value, the right value in lower case, and wrong types.
fn enum_edges(first: &str) -> Vec<Variant> {
    vec![
        Variant::new("an unknown enum value", json!("NOT_A_VALUE")),
        Variant::new("a value in lower case", json!(first.to_lowercase())),
        Variant::new("wrong type: a number", json!(1)),
        Variant::new("wrong type: an object", json!({ "a": 1 })),
    ]
}

// ---------------------------------------------------------------------------
// Sending and judging

/// A case as one HTTP request.
struct Request<'a> {
    case: &'a Case,
    role: Role,
    inline: bool,
    query: String,
    variables: Value,
}

impl<'a> Request<'a> {
    fn new(case: &'a Case, role: Role, inline: bool, api: &Api) -> Self {
        let op = if case.mutation { "mutation" } else { "query" };
        let selection = api.selection(&case.ty);
        let (query, variables) = if case.args.is_empty() {
            (format!("{op} {{ {}{selection} }}", case.field), json!({}))
        } else if inline {
            let args: Vec<String> = case
                .args
                .iter()
                .map(|(a, v)| format!("{}: {}", a.name, api.literal(v, Some(&a.ty))))
                .collect();
            let query = format!("{op} {{ {}({}){selection} }}", case.field, args.join(", "));
            (query, json!({}))
        } else {
            let declared: Vec<String> = case
                .args
                .iter()
                .map(|(a, _)| format!("${}: {}", a.name, a.ty))
                .collect();
            let used: Vec<String> = case
                .args
                .iter()
                .map(|(a, _)| format!("{0}: ${0}", a.name))
                .collect();
            let variables: Map<String, Value> = case
                .args
                .iter()
                .map(|(a, v)| (a.name.clone(), v.clone()))
                .collect();
            let query = format!(
                "{op}({}) {{ {}({}){selection} }}",
                declared.join(", "),
                case.field,
                used.join(", ")
            );
            (query, Value::Object(variables))
        };
        Self {
            case,
            role,
            inline,
            query,
            variables,
        }
    }
}

/// What came back.
enum Answer {
    /// No HTTP response: the connection dropped or the client gave up.
    Failed(String),
    /// A response whose body is not JSON.
    NotJson(u16, String),
    Json(u16, Value),
}

async fn send(app: &TestApp, url: &str, token: &str, request: &Request<'_>) -> Answer {
    let sent = app
        .client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": request.query, "variables": request.variables }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Answer::Failed(e.to_string()),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(body) => Answer::Json(status, body),
            Err(_) => Answer::NotJson(status, String::from_utf8_lossy(&bytes).into_owned()),
        },
        Err(e) => Answer::Failed(format!("HTTP {status}, then the body broke off: {e}")),
    }
}

impl Answer {
    /// Every error code in the answer.
    fn codes(&self) -> Vec<String> {
        let Answer::Json(_, body) = self else {
            return vec![];
        };
        errors(body)
            .iter()
            .map(|e| {
                e["extensions"]["code"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_owned()
            })
            .collect()
    }

    /// What is wrong with the answer; empty when it is well formed.
    fn problems(&self, request: &Request<'_>) -> Vec<String> {
        let (status, body) = match self {
            Answer::Failed(e) => return vec![format!("no response: {e}")],
            Answer::NotJson(status, _) => {
                return vec![format!("HTTP {status} with a body that is not JSON")];
            }
            Answer::Json(status, body) => (*status, body),
        };
        let mut problems = vec![];
        if ![200, 400, 413, 503].contains(&status) {
            problems.push(format!("HTTP {status}"));
        }
        if !body.is_object() || (body.get("data").is_none() && body.get("errors").is_none()) {
            problems.push("the body has neither data nor errors".into());
        }
        if body.get("errors").is_some_and(|e| !e.is_array()) {
            problems.push("errors is not a list".into());
        }
        let codes = self.codes();
        for error in errors(body) {
            let code = error["extensions"]["code"].as_str();
            match error["message"].as_str() {
                Some(m) if !m.is_empty() => {
                    if let Some(leak) = LEAKS.iter().find(|l| m.contains(*l)) {
                        problems.push(format!("a message carries {leak:?}"));
                    }
                }
                _ => problems.push("an error without a message".into()),
            }
            match code {
                None => problems.push("an error without extensions.code".into()),
                Some(c) if !DOCUMENTED_CODES.contains(&c) => problems.push(format!("code {c}")),
                Some(c) if status == 503 && !matches!(c, "UNAVAILABLE" | "TIMEOUT") => {
                    problems.push(format!("HTTP 503 with code {c}"));
                }
                Some(_) => {}
            }
        }
        let payload = &body["data"][request.case.field.as_str()];
        if let Some(user_errors) = payload["userErrors"].as_array() {
            for e in user_errors {
                if e["code"].as_str().is_none() || e["message"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("a user error without a code or message: {e}"));
                }
            }
        }
        if let Some(results) = payload["results"].as_array() {
            for r in results {
                if r["error"]["code"] == "FAILED" {
                    problems.push("a sync result FAILED (the database refused the record)".into());
                }
            }
        }
        if request.role == Role::Reporting
            && request.case.mutation
            && (codes.is_empty()
                || codes.iter().any(|c| {
                    !matches!(
                        c.as_str(),
                        "FORBIDDEN" | "BAD_USER_INPUT" | "QUERY_TOO_COMPLEX"
                    )
                }))
        {
            problems.push(format!(
                "REPORTING's mutation was not refused: codes {codes:?}"
            ));
        }
        problems.dedup();
        problems
    }

    /// The answer, short enough for a report line.
    fn summary(&self) -> String {
        let text = match self {
            Answer::Failed(e) => e.clone(),
            Answer::NotJson(status, body) => format!("HTTP {status} {body}"),
            Answer::Json(status, body) => format!("HTTP {status} {body}"),
        };
        if text.chars().count() > 600 {
            format!("{}...", text.chars().take(600).collect::<String>())
        } else {
            text
        }
    }
}

fn errors(body: &Value) -> &[Value] {
    body["errors"].as_array().map_or(&[], Vec::as_slice)
}
