//! The pieces of a sync job against Handoff's GraphQL API, meant to be
//! copied: one HTTP call with retries, a batch of upserts, and reading the
//! change feed from a cursor file. `examples/sync_job.rs` wires them
//! together; the integration tests (`tests/api/sync_job.rs`) run the same
//! functions against a real server.
//!
//! Two rules make a sync job safe to stop, crash and rerun at any point:
//!
//! - **Pushing is idempotent.** `upsertLeads` matches records by their
//!   external id, so a batch sent twice changes nothing the second time
//!   (every record comes back UNCHANGED). A batch whose answer was lost (a
//!   timeout, a dropped connection, a 503) can therefore simply be sent
//!   again. Every call also carries an `Idempotency-Key`, the same on each
//!   of its attempts, so a retry of any mutation whose first attempt was
//!   written gets that attempt's answer back instead of writing again.
//! - **The cursor is stored only after its page is processed**, and stored
//!   atomically (a temporary file renamed over the old one), so a crash
//!   repeats at most the page in hand and never skips one.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// The most records one `upsertLeads` call takes.
pub const MAX_BATCH: usize = 1_000;

/// The mutation a job sends: its own fields it needs back per record.
pub const UPSERT_LEADS: &str = "mutation($input: UpsertLeadsInput!) {
  upsertLeads(input: $input) {
    created updated unchanged failed
    results { index externalId status id version warnings errors { code field message } }
  }
}";

/// One page of the change feed, oldest commit first.
pub const CHANGES: &str = "query($after: String, $first: Int!) {
  changes(after: $after, objectTypes: [LEAD, ACCOUNT], first: $first) {
    endCursor hasMore
    nodes {
      cursor objectType objectId operation changedAt changedFields version
      node { id ... on Lead { email stage } ... on Account { name domain } }
    }
  }
}";

/// How often and how long to retry one call.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first one included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles on every retry.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// The wait before attempt `attempt + 1` (after `attempt` failures,
    /// from 1): the server's `Retry-After` when it sent one, else
    /// exponential backoff with up to 50 % random jitter, so that many jobs
    /// failing together do not retry together.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max);
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let jitter = exp.mul_f64(rand::random::<f64>() * 0.5);
        (exp + jitter).min(self.max)
    }
}

/// A call that failed for good.
#[derive(Debug)]
pub enum CallError {
    /// The server refused the request itself (bad token, bad document,
    /// bad input, forbidden): retrying would fail the same way.
    Refused(String),
    /// Still failing after every attempt (network, 429, 5xx).
    GaveUp(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(m) => write!(f, "refused: {m}"),
            Self::GaveUp(m) => write!(f, "gave up after retries: {m}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A Handoff endpoint and its bearer token.
pub struct Handoff {
    /// `http://host:port/graphql`.
    pub url: String,
    /// An INTEGRATION (or ADMIN) token.
    pub token: String,
    /// The HTTP client (reuse one: it keeps connections open).
    pub client: reqwest::Client,
    /// The retry policy.
    pub retry: Retry,
}

impl Handoff {
    /// A client with a per-request timeout.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Result<Self, reqwest::Error> {
        Ok(Self {
            url: url.into(),
            token: token.into(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            retry: Retry::default(),
        })
    }

    /// Runs one GraphQL document and returns its `data`, retrying network
    /// errors, HTTP 429 (after `Retry-After`), 409 (an earlier attempt of
    /// this call is still running) and 5xx with backoff. Every attempt
    /// sends the same `Idempotency-Key`, made once per call: when an
    /// attempt was written but its answer lost, the retry gets that answer
    /// (`Idempotent-Replayed: true`) and nothing is written twice, so any
    /// mutation is safe to send through it. A replayed answer is final,
    /// whatever its status. (Queries ignore the key.)
    pub async fn call(&self, query: &str, variables: Value) -> Result<Value, CallError> {
        let body = json!({ "query": query, "variables": variables });
        let key = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (problem, retry_after) = match self
                .client
                .post(&self.url)
                .bearer_auth(&self.token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await
            {
                // Connection refused or reset, timeout: the batch may or
                // may not have been written; resending it is safe.
                Err(e) => (format!("network: {e}"), None),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let replayed = response
                        .headers()
                        .get("idempotent-replayed")
                        .is_some_and(|v| v == "true");
                    let text = response.text().await.unwrap_or_default();
                    let transient =
                        matches!(status.as_u16(), 409 | 429) || status.is_server_error();
                    if transient && !replayed {
                        (format!("HTTP {status}: {}", clip(&text)), retry_after)
                    } else {
                        // Anything else is final: 200 with or without
                        // errors, 400, 401, 413, 415, 422, and a replay
                        // (the same key always gets the same answer).
                        let reply: Value = serde_json::from_str(&text).map_err(|_| {
                            CallError::Refused(format!("HTTP {status}: {}", clip(&text)))
                        })?;
                        if !status.is_success() || !reply["errors"].is_null() {
                            return Err(CallError::Refused(format!(
                                "HTTP {status}: {}",
                                reply["errors"]
                            )));
                        }
                        return Ok(reply["data"].clone());
                    }
                }
            };
            if attempt >= self.retry.attempts {
                return Err(CallError::GaveUp(problem));
            }
            let wait = self.retry.wait(attempt, retry_after);
            eprintln!(
                "attempt {attempt} failed ({problem}); retrying in {:.1} s",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
        }
    }
}

fn clip(text: &str) -> &str {
    let end = text.char_indices().nth(300).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// What a push did, summed over its batches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Records created.
    pub created: u64,
    /// Records changed.
    pub updated: u64,
    /// Records already as sent.
    pub unchanged: u64,
    /// Why Handoff refused records: `(externalId, code, field, message)`,
    /// one entry per error (a record can fail for several reasons at once,
    /// all reported together). They are data to fix at the source (or, for
    /// CONFLICT, to refetch and merge), not calls to retry: the same record
    /// sent again fails the same way.
    pub failed: Vec<(String, String, Option<String>, String)>,
    /// `(global id, version)` of every record written, so the pull can
    /// tell its own writes from other people's.
    pub written: Vec<(String, i64)>,
}

/// Pushes `leads` (objects in `LeadUpsertInput`'s shape) from `system` in
/// batches of [`MAX_BATCH`]. Each batch is retried as a whole on transient
/// failures; per-record failures are collected in the report.
pub async fn push_leads(
    handoff: &Handoff,
    system: &str,
    leads: &[Value],
) -> Result<PushReport, CallError> {
    let mut report = PushReport::default();
    for batch in leads.chunks(MAX_BATCH) {
        let data = handoff
            .call(
                UPSERT_LEADS,
                json!({ "input": { "system": system, "leads": batch } }),
            )
            .await?;
        let payload = &data["upsertLeads"];
        let count = |k: &str| payload[k].as_u64().unwrap_or(0);
        report.created += count("created");
        report.updated += count("updated");
        report.unchanged += count("unchanged");
        for r in payload["results"].as_array().into_iter().flatten() {
            let external_id = r["externalId"].as_str().unwrap_or_default().to_owned();
            if r["status"] == "FAILED" {
                for e in r["errors"].as_array().into_iter().flatten() {
                    report.failed.push((
                        external_id.clone(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                        e["field"].as_str().map(str::to_owned),
                        e["message"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            } else if let (Some(id), Some(version)) = (r["id"].as_str(), r["version"].as_i64()) {
                report.written.push((id.to_owned(), version));
            }
        }
    }
    Ok(report)
}

/// The cursor stored in `path`, or `None` the first time (read the feed
/// from its start).
pub fn read_cursor(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores `cursor` in `path` atomically: a reader (or a crash) sees the
/// old cursor or the new one, never half of one.
pub fn write_cursor(path: &Path, cursor: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(cursor.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// What a pull read.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Pages read.
    pub pages: usize,
    /// Entries handled.
    pub entries: usize,
    /// The cursor stored at the end.
    pub cursor: Option<String>,
}

/// Reads the change feed from the cursor in `cursor_file` until nothing
/// more is ready, calling `process` on each page's entries and storing the
/// page's `endCursor` only after `process` succeeded. If `process` fails,
/// the cursor stays at the last page fully handled and the next run
/// starts there (so `process` must tolerate seeing a page twice, which
/// upserting by id does).
pub async fn pull_changes<E>(
    handoff: &Handoff,
    cursor_file: &Path,
    page_size: u32,
    mut process: impl FnMut(&[Value]) -> Result<(), E>,
) -> Result<PullReport, Box<dyn std::error::Error + Send + Sync>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut report = PullReport {
        cursor: read_cursor(cursor_file)?,
        ..Default::default()
    };
    // A loop, not a stream: `hasMore: false` means caught up; poll again
    // later (every minute, say) from the stored cursor.
    let started = Instant::now();
    loop {
        let data = handoff
            .call(
                CHANGES,
                json!({ "after": report.cursor, "first": page_size }),
            )
            .await?;
        let page = &data["changes"];
        let nodes = page["nodes"].as_array().cloned().unwrap_or_default();
        process(&nodes)?;
        let end = page["endCursor"]
            .as_str()
            .ok_or("the page has no endCursor")?
            .to_owned();
        write_cursor(cursor_file, &end)?;
        report.pages += 1;
        report.entries += nodes.len();
        report.cursor = Some(end);
        if page["hasMore"] != true {
            break;
        }
        // A safety valve for a copied job: a real one would keep going.
        if started.elapsed() > Duration::from_secs(600) {
            break;
        }
    }
    Ok(report)
}
