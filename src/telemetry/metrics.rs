//! The server's Prometheus metrics, one registry per server (tests run
//! several servers in one process), in the Prometheus text format at
//! `/metrics`. docs/operations.md "Metrics" lists each one; a test keeps
//! that list and [`Metrics::encode`] the same.
//!
//! Every label has a bounded set of values: routes, status codes, error
//! codes and record kinds are ours; operation names come from clients, so
//! only plain identifiers count ([`super::operation_name`]) and only the
//! first [`MAX_OPERATION_NAMES`] of them; later ones are `other`.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError, atomic::AtomicU64},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use super::{ANONYMOUS, OTHER, UNKNOWN, outcome_label};
use crate::services::sync::Tally;

/// Distinct operation names a server labels metrics with; later names are
/// counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 200;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Request latency buckets, in seconds.
const LATENCY: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Statement time buckets, in seconds.
const STATEMENT: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Query cost buckets, in points (the limit is 1,000).
const COST: [f64; 10] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 750.0, 1000.0,
];
/// Event delivery lag buckets, in seconds.
const LAG: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    operation_type: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationTimeLabels {
    operation: String,
    operation_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    operation_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SlaLabels {
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    object: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// How the database pool stands, read when `/metrics` is scraped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (in use or idle).
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// One server's metrics. [`Metrics::disabled`] records nothing
/// (`HANDOFF_METRICS=false`).
pub struct Metrics {
    inner: Option<Box<Inner>>,
}

struct Inner {
    registry: Registry,
    names: Mutex<HashSet<String>>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    operations: Family<OperationLabels, Counter>,
    operation_duration: Histograms<OperationTimeLabels>,
    cost: Histograms<TypeLabels>,
    rate_limited: Family<RouteLabels, Counter>,
    statement_ok: Histogram,
    statement_failed: Histogram,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    sla_sweeps: Family<OutcomeLabels, Counter>,
    sla_moved: Family<SlaLabels, Counter>,
    sla_last_success: FloatGauge,
    sla_interval: FloatGauge,
    ws_connections: Gauge,
    ws_subscriptions: Gauge,
    events_delivered: Counter,
    event_lag: Histogram,
    sync_records: Family<RecordLabels, Counter>,
}

fn latency() -> Histogram {
    Histogram::new(LATENCY)
}

fn statement() -> Histogram {
    Histogram::new(STATEMENT)
}

fn cost() -> Histogram {
    Histogram::new(COST)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Metrics that record, with every metric registered (and shown at
    /// zero) from the start.
    pub fn new() -> Self {
        let statements: Histograms<OutcomeLabels> = Family::new_with_constructor(statement);
        // Handles that share the family's histograms, so that a statement
        // is recorded without a lookup.
        let statement_ok = statements.get_or_create_owned(&OutcomeLabels { outcome: "ok" });
        let statement_failed = statements.get_or_create_owned(&OutcomeLabels { outcome: "error" });
        let inner = Inner {
            registry: Registry::with_prefix("handoff"),
            names: Mutex::new(HashSet::new()),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            operations: Family::default(),
            operation_duration: Family::new_with_constructor(latency),
            cost: Family::new_with_constructor(cost),
            rate_limited: Family::default(),
            statement_ok,
            statement_failed,
            pool: Family::default(),
            pool_max: Gauge::default(),
            sla_sweeps: Family::default(),
            sla_moved: Family::default(),
            sla_last_success: FloatGauge::default(),
            sla_interval: FloatGauge::default(),
            ws_connections: Gauge::default(),
            ws_subscriptions: Gauge::default(),
            events_delivered: Counter::default(),
            event_lag: Histogram::new(LAG),
            sync_records: Family::default(),
        };
        let mut inner = Box::new(inner);
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        let m = &mut *inner;
        let r = &mut m.registry;
        r.register(
            "build_info",
            "Always 1; the label says which version of Handoff runs",
            build_info,
        );
        r.register(
            "http_requests",
            "HTTP requests answered, by route (/graphql, /graphql/ws, /reports/kpis.csv, /healthz, /readyz, /metrics, /graphiql or other) and status code",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by route",
            m.http_duration.clone(),
        );
        r.register(
            "graphql_operations",
            "GraphQL requests over HTTP by operation name, type (query, mutation, subscription, unknown) and outcome (ok, or the code of the first error: BAD_USER_INPUT, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, TIMEOUT, QUERY_TOO_COMPLEX, UNAVAILABLE, INTERNAL, ...)",
            m.operations.clone(),
        );
        r.register(
            "graphql_operation_duration_seconds",
            "Time to answer a GraphQL request over HTTP, by operation name and type",
            m.operation_duration.clone(),
        );
        r.register(
            "graphql_query_cost",
            "Actual cost of each GraphQL request that ran, in points, by operation type",
            m.cost.clone(),
        );
        r.register(
            "rate_limited_requests",
            "Requests and subscriptions refused with RATE_LIMITED (the user's cost budget was short), by route",
            m.rate_limited.clone(),
        );
        r.register(
            "db_statement_duration_seconds",
            "Time each SQL statement took once it had a connection, by outcome (ok or error)",
            statements,
        );
        r.register(
            "db_pool_connections",
            "Database connections open, by state (in_use or idle), read at each scrape",
            m.pool.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "The most connections the pool opens (HANDOFF_DB_MAX_CONNECTIONS)",
            m.pool_max.clone(),
        );
        r.register(
            "sla_sweeps",
            "SLA sweeps run, by outcome (ok or failed)",
            m.sla_sweeps.clone(),
        );
        r.register(
            "sla_leads_moved",
            "Leads the SLA sweep moved, by the status they moved to (at_risk or breached)",
            m.sla_moved.clone(),
        );
        r.register(
            "sla_sweep_last_success_timestamp_seconds",
            "When the last SLA sweep succeeded (Unix time; the server's start before the first)",
            m.sla_last_success.clone(),
        );
        r.register(
            "sla_sweep_interval_seconds",
            "How often the SLA sweep runs (HANDOFF_SLA_SWEEP_SECS; 0: it does not)",
            m.sla_interval.clone(),
        );
        r.register(
            "ws_connections",
            "WebSocket connections open at /graphql/ws",
            m.ws_connections.clone(),
        );
        r.register(
            "ws_subscriptions",
            "Subscriptions running on this server's WebSocket connections",
            m.ws_subscriptions.clone(),
        );
        r.register(
            "events_delivered",
            "Events sent to subscribers",
            m.events_delivered.clone(),
        );
        r.register(
            "event_delivery_lag_seconds",
            "Time from the write that recorded a live event to its delivery to a subscriber (resumed events replayed from the log are not counted)",
            m.event_lag.clone(),
        );
        r.register(
            "sync_records",
            "Records of sync batches (upsert and delete mutations), by object (lead, account, campaign, opportunity, activity) and result (created, updated, unchanged, deleted, failed)",
            m.sync_records.clone(),
        );
        m.sla_last_success.set(unix_now());
        // What the alerts in docs/operations.md look at exists from the
        // start, at zero.
        for route in ROUTES {
            let _ = m.rate_limited.get_or_create(&RouteLabels { route });
        }
        for outcome in ["ok", "failed"] {
            let _ = m.sla_sweeps.get_or_create(&OutcomeLabels { outcome });
        }
        for to in ["at_risk", "breached"] {
            let _ = m.sla_moved.get_or_create(&SlaLabels { to });
        }
        for state in ["in_use", "idle"] {
            let _ = m.pool.get_or_create(&StateLabels { state });
        }
        Self { inner: Some(inner) }
    }

    /// Metrics that record nothing and encode to nothing.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The label for an operation name already made plain by
    /// [`super::operation_name`]: itself while fewer than
    /// [`MAX_OPERATION_NAMES`] names have been seen, or when it is one of
    /// them; `other` after that.
    pub fn operation_label(&self, name: &str) -> String {
        let Some(inner) = &self.inner else {
            return OTHER.into();
        };
        // The labels of ours take no place among the clients' names.
        if [ANONYMOUS, OTHER, UNKNOWN].contains(&name) {
            return name.to_owned();
        }
        let mut names = inner.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        OTHER.into()
    }

    /// An HTTP request answered.
    pub fn http_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Some(m) = &self.inner {
            m.http_requests
                .get_or_create(&HttpLabels { route, status })
                .inc();
            m.http_duration
                .get_or_create(&RouteLabels { route })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// A GraphQL request answered: its operation (a plain name,
    /// `anonymous`, `other` or `unknown`), type, outcome (`ok` or an
    /// error code) and time.
    pub fn graphql_operation(
        &self,
        operation: &str,
        operation_type: &'static str,
        outcome: &str,
        elapsed: Duration,
    ) {
        if let Some(m) = &self.inner {
            let operation = self.operation_label(operation);
            let outcome = match outcome {
                "ok" => "ok",
                code => outcome_label(code),
            };
            m.operations
                .get_or_create(&OperationLabels {
                    operation: operation.clone(),
                    operation_type,
                    outcome: outcome.to_owned(),
                })
                .inc();
            m.operation_duration
                .get_or_create(&OperationTimeLabels {
                    operation,
                    operation_type,
                })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// The actual cost of a request that ran.
    pub fn query_cost(&self, operation_type: &'static str, cost: usize) {
        if let Some(m) = &self.inner {
            m.cost
                .get_or_create(&TypeLabels { operation_type })
                .observe(cost as f64);
        }
    }

    /// A request or subscription refused with RATE_LIMITED.
    pub fn rate_limited(&self, route: &'static str) {
        if let Some(m) = &self.inner {
            m.rate_limited.get_or_create(&RouteLabels { route }).inc();
        }
    }

    /// A SQL statement ran.
    pub fn statement(&self, elapsed: Duration, failed: bool) {
        if let Some(m) = &self.inner {
            let h = if failed {
                &m.statement_failed
            } else {
                &m.statement_ok
            };
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// How often the SLA sweep runs.
    pub fn set_sla_interval(&self, every: Duration) {
        if let Some(m) = &self.inner {
            m.sla_interval.set(every.as_secs_f64());
        }
    }

    /// An SLA sweep ended: failed, or moved this many leads.
    pub fn sla_sweep(&self, moved: Option<(usize, usize)>) {
        if let Some(m) = &self.inner {
            match moved {
                Some((at_risk, breached)) => {
                    m.sla_sweeps
                        .get_or_create(&OutcomeLabels { outcome: "ok" })
                        .inc();
                    m.sla_moved
                        .get_or_create(&SlaLabels { to: "at_risk" })
                        .inc_by(at_risk as u64);
                    m.sla_moved
                        .get_or_create(&SlaLabels { to: "breached" })
                        .inc_by(breached as u64);
                    m.sla_last_success.set(unix_now());
                }
                None => {
                    m.sla_sweeps
                        .get_or_create(&OutcomeLabels { outcome: "failed" })
                        .inc();
                }
            }
        }
    }

    /// A WebSocket connection opened (`+1`) or closed (`-1`).
    pub fn ws_connections(&self, delta: i64) {
        if let Some(m) = &self.inner {
            m.ws_connections.inc_by(delta);
        }
    }

    /// Subscriptions started (`+n`) or ended (`-n`).
    pub fn ws_subscriptions(&self, delta: i64) {
        if let Some(m) = &self.inner {
            m.ws_subscriptions.inc_by(delta);
        }
    }

    /// An event went to a subscriber.
    pub fn event_delivered(&self) {
        if let Some(m) = &self.inner {
            m.events_delivered.inc();
        }
    }

    /// A live event is on its way to a subscriber, this long after the
    /// write that recorded it.
    pub fn event_lag(&self, lag: Duration) {
        if let Some(m) = &self.inner {
            m.event_lag.observe(lag.as_secs_f64());
        }
    }

    /// The results of a sync batch of `object` records.
    pub fn sync_records(&self, object: &'static str, tally: Tally) {
        if let Some(m) = &self.inner {
            for (result, n) in [
                ("created", tally.created),
                ("updated", tally.updated),
                ("unchanged", tally.unchanged),
                ("deleted", tally.deleted),
                ("failed", tally.failed),
            ] {
                if n > 0 {
                    m.sync_records
                        .get_or_create(&RecordLabels { object, result })
                        .inc_by(n as u64);
                }
            }
        }
    }

    /// Everything in the Prometheus text format, with the pool as it
    /// stands now. Empty when disabled.
    pub fn encode(&self, pool: Option<PoolStats>) -> String {
        let Some(m) = &self.inner else {
            return String::new();
        };
        if let Some(pool) = pool {
            let in_use = pool.size.saturating_sub(pool.idle);
            m.pool
                .get_or_create(&StateLabels { state: "in_use" })
                .set(i64::from(in_use));
            m.pool
                .get_or_create(&StateLabels { state: "idle" })
                .set(i64::from(pool.idle));
            m.pool_max.set(i64::from(pool.max));
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry)
        {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// The routes metrics name; any other path is `other`.
pub const ROUTES: [&str; 8] = [
    "/graphql",
    "/graphql/ws",
    "/reports/kpis.csv",
    "/healthz",
    "/readyz",
    "/metrics",
    "/graphiql",
    "other",
];

/// The route label of a path.
pub fn route(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("other")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_past_the_cap_are_other() {
        let m = Metrics::new();
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(m.operation_label(&format!("Op{i}")), format!("Op{i}"));
        }
        assert_eq!(m.operation_label("Late"), "other");
        // Names seen before the cap keep their label.
        assert_eq!(m.operation_label("Op7"), "Op7");
    }

    /// Metrics with one of everything recorded.
    fn busy() -> Metrics {
        let m = Metrics::new();
        let ms = Duration::from_millis(3);
        m.http_request("/graphql", 200, ms);
        m.graphql_operation("Leads", "query", "ok", ms);
        m.query_cost("query", 12);
        m.rate_limited("/graphql");
        m.statement(ms, false);
        m.set_sla_interval(Duration::from_secs(60));
        m.sla_sweep(Some((1, 2)));
        m.ws_connections(1);
        m.ws_subscriptions(1);
        m.event_delivered();
        m.event_lag(ms);
        m.sync_records(
            "LEAD",
            Tally {
                created: 1,
                ..Tally::default()
            },
        );
        m
    }

    /// `name` of each `# TYPE name type` line, with its type.
    fn families(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(name, ty)| (name.to_owned(), ty.to_owned()))
            .collect()
    }

    #[test]
    fn every_metric_has_help_text_and_is_listed_in_the_operations_guide() {
        let text = busy().encode(Some(PoolStats {
            size: 3,
            idle: 1,
            max: 10,
        }));
        let families = families(&text);
        for (name, _) in &families {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
        }
        // The table in docs/operations.md "Metrics": `| `name` | type | ...`.
        let guide = include_str!("../../docs/operations.md");
        let listed: Vec<(String, String)> = guide
            .lines()
            .filter_map(|l| l.strip_prefix("| `handoff_"))
            .filter_map(|l| {
                let (name, rest) = l.split_once('`')?;
                let ty = rest.trim_start_matches(" |").split('|').next()?.trim();
                Some((format!("handoff_{name}"), ty.to_owned()))
            })
            .collect();
        // The text format names a counter's family with its `_total`.
        assert_eq!(families, listed);
        assert!(text.contains("handoff_db_pool_connections{state=\"in_use\"} 2"));
        assert!(text.contains(
            "handoff_graphql_operations_total{operation=\"Leads\",operation_type=\"query\",outcome=\"ok\"} 1"
        ));
    }

    #[test]
    fn disabled_metrics_record_and_show_nothing() {
        let m = Metrics::disabled();
        m.http_request("/graphql", 200, Duration::from_millis(1));
        assert_eq!(m.encode(None), "");
    }
}
