//! The server's memory (RSS) idle, after 1,000 ordinary requests, and after
//! 20 of the heaviest requests the limits allow, with its peak: the
//! server is the `handoff` binary of this build, started with
//! `serve --demo` on a fresh SQLite file (or on `BENCH_DATABASE_URL`),
//! read from `/proc/<pid>/status` (Linux).
//!
//! ```sh
//! cargo bench --bench memory                  # BENCH_LEADS=20000 demo leads by default
//! ```
//!
//! Aim (issue 13): back within 20 % of the ordinary level a few seconds
//! after the heavy requests, and never above 500 MB.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
    tokens: Vec<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &std::path::Path, leads: usize) -> anyhow::Result<Self> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_handoff"));
        command
            .args(["serve", "--demo", "--demo-leads", &leads.to_string()])
            .env("HANDOFF_DATA_DIR", dir)
            .env("HANDOFF_BIND", "127.0.0.1:0")
            // The bench fires requests faster than a budget allows.
            .env("HANDOFF_RATE_LIMIT_POINTS", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
            command.env("DATABASE_URL", url);
        } else {
            command.env_remove("DATABASE_URL");
        }
        let mut child = command.spawn().context("starting handoff serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut base = None;
        let mut tokens = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("GraphQL:") {
                base = rest
                    .split_whitespace()
                    .next()
                    .map(|u| u.trim_end_matches("/graphql").to_owned());
            } else if let Some((role, token)) = t.split_once(' ')
                && role.chars().all(|c| c.is_ascii_uppercase())
                && token.trim().starts_with("ey")
            {
                tokens.push((role.to_owned(), token.trim().to_owned()));
            } else if t.starts_with("Try it") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            base: base.context("no GraphQL URL printed")?,
            tokens,
        })
    }

    fn token(&self, role: &str) -> anyhow::Result<&str> {
        self.tokens
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, t)| t.as_str())
            .with_context(|| format!("no {role} token printed"))
    }

    /// (current RSS, peak RSS) in MB.
    fn rss(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb = |key: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(key))
                .with_context(|| format!("no {key}"))?;
            let n: f64 = line
                .split_whitespace()
                .nth(1)
                .context("no number")?
                .parse()?;
            Ok(n / 1024.0)
        };
        Ok((kb("VmRSS:")?, kb("VmHWM:")?))
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
) -> anyhow::Result<Value> {
    let body: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await?
        .json()
        .await?;
    Ok(body)
}

fn cost(body: &Value) -> u64 {
    body["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// The largest `k` for which `make(k)` is within the cost limit.
async fn largest_allowed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    make: impl Fn(usize) -> String,
) -> anyhow::Result<(String, u64)> {
    let (mut lo, mut hi) = (1usize, 200usize);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let body = post(client, base, token, &make(mid)).await?;
        if body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX" {
            hi = mid - 1;
        } else {
            lo = mid;
        }
    }
    let query = make(lo);
    let body = post(client, base, token, &query).await?;
    Ok((query, cost(&body)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let leads: usize = std::env::var("BENCH_LEADS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    println!("starting the server with {leads} demo leads...");
    let started = Instant::now();
    let server = Server::start(dir.path(), leads)?;
    println!("ready in {:.1} s", started.elapsed().as_secs_f64());
    let client = reqwest::Client::new();
    let admin = server.token("ADMIN")?.to_owned();
    let sales = server.token("SALES")?.to_owned();
    let base = server.base.clone();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, _) = server.rss()?;

    // 1,000 ordinary requests, 4 at a time: the dashboard's everyday
    // reads.
    let ordinary = [
        "{ viewer { id name role } }",
        "{ leads(first: 20, filter: {stages: [MQL]}) { totalCount nodes { id email stage fitScore account { name } owner { name } } pageInfo { endCursor hasNextPage } } }",
        "{ opportunities(first: 20) { nodes { id name stage amount { amount currency } account { name } } } }",
        "{ kpis(input: {kpis: [LEADS_CREATED, MQLS, WIN_RATE], from: \"2026-01-01\", to: \"2026-03-31\"}) { kpi total { value } } }",
    ];
    let t = Instant::now();
    let failures = stream::iter(0..1000)
        .map(|i| {
            let (client, base, token) = (&client, &base, &sales);
            async move {
                let body = post(client, base, token, ordinary[i % ordinary.len()]).await?;
                anyhow::Ok(body.get("errors").is_some())
            }
        })
        .buffer_unordered(4)
        .fold(0usize, |n, r| async move {
            n + usize::from(!matches!(r, Ok(false)))
        })
        .await;
    if failures > 0 {
        bail!("{failures} ordinary requests failed");
    }
    println!(
        "1,000 ordinary requests in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ordinary_rss, _) = server.rss()?;

    // The heaviest requests the limits allow, each grown to just under
    // the cost limit.
    let (introspection, c1) = largest_allowed(&client, &base, &admin, |k| {
        let copies: String = (0..k)
            .map(|i| format!("f{i}: fields {{ name description args {{ name description defaultValue type {{ name kind }} }} type {{ name kind ofType {{ name kind }} }} }} "))
            .collect();
        format!("{{ __schema {{ types {{ name description {copies} }} }} }}")
    })
    .await?;
    let (leads_page, c2) = largest_allowed(&client, &base, &admin, |k| {
        let pages: String = (0..k.min(30))
            .map(|i| format!("p{i}: leads(first: 100) {{ nodes {{ id email firstName lastName jobTitle seniority companyName country source stage fitScore engagementScore createdAt updatedAt mqlAt slaStatus version account {{ id name domain industry employeeCount country }} owner {{ id name email }} }} }} "))
            .collect();
        format!("{{ {pages} }}")
    })
    .await?;
    let kpis = "{ kpis(input: {kpis: [LEADS_CREATED, MQLS, MQL_ACCEPTANCE_RATE, WIN_RATE, REVENUE, AVERAGE_DEAL_SIZE, SALES_CYCLE_DAYS, MARKETING_SPEND, COST_PER_LEAD, COST_PER_MQL], from: \"2025-01-01\", to: \"2026-12-31\", granularity: WEEK}) { kpi series { start end value { value numerator denominator } } } }".to_owned();
    let c3 = cost(&post(&client, &base, &admin, &kpis).await?);
    println!("heavy requests: introspection {c1} points, lead pages {c2}, weekly KPIs {c3}");

    let heavy = [introspection, leads_page, kpis];
    let peak_before = server.rss()?.1;
    let t = Instant::now();
    let mut sizes = Vec::new();
    let results: Vec<anyhow::Result<usize>> = stream::iter(0..20)
        .map(|i| {
            let (client, base, token, query) = (&client, &base, &admin, &heavy[i % heavy.len()]);
            async move {
                let body = post(client, base, token, query).await?;
                if let Some(errors) = body.get("errors") {
                    bail!("a heavy request failed: {errors}");
                }
                Ok(body.to_string().len())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for r in results {
        sizes.push(r?);
    }
    let (after_heavy, peak) = server.rss()?;
    println!(
        "20 heavy requests in {:.1} s, responses {:.1}-{:.1} MB",
        t.elapsed().as_secs_f64(),
        sizes.iter().min().copied().unwrap_or(0) as f64 / 1e6,
        sizes.iter().max().copied().unwrap_or(0) as f64 / 1e6,
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (settled, _) = server.rss()?;

    println!();
    println!("| state | RSS (MB) |");
    println!("| --- | --- |");
    println!("| idle after start | {idle:.0} |");
    println!("| after 1,000 ordinary requests | {ordinary_rss:.0} |");
    println!("| right after 20 heavy requests | {after_heavy:.0} |");
    println!("| 5 s later | {settled:.0} |");
    println!("| peak (VmHWM; {peak_before:.0} before the heavy requests) | {peak:.0} |");
    let back = settled <= ordinary_rss * 1.2;
    let bounded = peak < 500.0;
    println!(
        "\nback within 20 % of the ordinary level: {} ({:+.0} %); never above 500 MB: {}",
        if back { "yes" } else { "no" },
        (settled / ordinary_rss - 1.0) * 100.0,
        if bounded { "yes" } else { "no" },
    );
    Ok(())
}
