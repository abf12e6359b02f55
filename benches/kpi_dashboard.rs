//! Benchmark: the full KPI dashboard request through GraphQL (over HTTP)
//! against the same numbers computed by hand-written SQL in psql
//! (`benches/kpi_dashboard.sql`), on PostgreSQL.
//!
//! The dashboard: every KPI for the last full quarter, the funnel of that
//! quarter, and a 12-month monthly series of five KPIs, in one request.
//!
//! ```sh
//! createdb handoff_bench
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/handoff_bench cargo run --release -- demo --leads 1000000 --deals-per-thousand-leads 200
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/handoff_bench cargo bench --bench kpi_dashboard
//! ```
//!
//! An empty database is loaded first (`BENCH_LEADS`, default 1,000,000).
//! `BENCH_RUNS` (default 5) timed runs of each follow one warm-up run; the
//! fastest and the median are printed. Results are in docs/benchmarks.md.

use std::{process::Command, time::Instant};

use anyhow::Context;
use chrono::{Datelike, Months, NaiveDate, Utc};
use entity::enums::Role;
use handoff::{Application, config::Config, db, demo, services::users};
use serde_json::{Value, json};

const KPIS: &str = "[LEADS_CREATED, MQLS, MQL_ACCEPTANCE_RATE, MQL_WORKED_RATE, TIME_TO_FIRST_CONTACT, \
    SLA_COMPLIANCE_RATE, MQL_TO_SQL_RATE, LEAD_TO_OPPORTUNITY_RATE, OPPORTUNITY_TO_WIN_RATE, \
    LEAD_TO_CUSTOMER_RATE, WIN_RATE, AVERAGE_DEAL_SIZE, SALES_CYCLE_DAYS, PIPELINE_VELOCITY, \
    MARKETING_SOURCED_PIPELINE, MARKETING_INFLUENCED_PIPELINE, REVENUE, MARKETING_SPEND, COST_PER_LEAD, \
    COST_PER_MQL, COST_PER_QUALIFIED_OPPORTUNITY, COST_PER_CUSTOMER]";

fn summary(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let min = times.first().copied().unwrap_or(0.0);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    (min, median)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_DATABASE_URL")
        .context("set BENCH_DATABASE_URL to a PostgreSQL database")?;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut config = Config::for_database(url.clone(), b"bench-secret-that-is-at-least-32-bytes")?;
    // The bench measures the dashboard's time, not the cost budget.
    config.throttle.capacity = 0.0;
    let conn = db::connect(&config).await?;
    db::migrate(&conn).await?;
    if demo::is_empty(&conn).await? {
        let leads = std::env::var("BENCH_LEADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        eprintln!("loading {leads} demo leads...");
        // The target scenario: about 200,000 opportunities per million leads.
        let options = demo::DemoOptions {
            leads,
            deals_per_thousand_leads: Some(200),
            ..Default::default()
        };
        demo::load(&conn, &options, &|line| eprintln!("  {line}")).await?;
    }
    let counts = Command::new("psql")
        .args([url.as_str(), "-At", "-c"])
        .arg("SELECT (SELECT COUNT(*) FROM leads) || ' leads, ' || (SELECT COUNT(*) FROM opportunities) || ' opportunities, ' || (SELECT COUNT(*) FROM stage_changes) || ' stage changes, ' || (SELECT COUNT(*) FROM activities) || ' activities'")
        .output()?;
    println!(
        "dataset: {}",
        String::from_utf8_lossy(&counts.stdout).trim()
    );

    // The last full quarter, and the 12 full months before this one.
    let today = Utc::now().date_naive();
    let this_quarter =
        NaiveDate::from_ymd_opt(today.year(), today.month0() / 3 * 3 + 1, 1).context("quarter")?;
    let q_from = this_quarter
        .checked_sub_months(Months::new(3))
        .context("date")?;
    let q_to = this_quarter.pred_opt().context("date")?;
    let this_month = today.with_day(1).context("date")?;
    let y_from = this_month
        .checked_sub_months(Months::new(12))
        .context("date")?;
    let y_to = this_month.pred_opt().context("date")?;
    println!("quarter {q_from}..{q_to}, months {y_from}..{y_to}");

    let app = Application::build(&config, conn.clone()).await?;
    let base = format!("http://{}", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        stopped.await.ok();
    }));
    let leader = users::first_with_role(&conn, Role::Leadership)
        .await?
        .context("the demo has a LEADERSHIP user")?;
    let token = config.jwt.mint(
        leader.id,
        Role::Leadership,
        std::time::Duration::from_secs(3600),
    )?;
    let document = format!(
        "{{ quarter: kpis(input: {{kpis: {KPIS}, from: \"{q_from}\", to: \"{q_to}\"}}) {{ kpi total {{ value numerator denominator mean target {{ status }} }} }}
           funnel(input: {{from: \"{q_from}\", to: \"{q_to}\"}}) {{ stages {{ stage count conversionFromPrevious {{ value }} medianDaysFromPrevious }} }}
           trend: kpis(input: {{kpis: [LEADS_CREATED, MQLS, WIN_RATE, REVENUE, MARKETING_SPEND], from: \"{y_from}\", to: \"{y_to}\", granularity: MONTH}}) {{ kpi series {{ start value {{ value numerator denominator }} }} }} }}"
    );
    let client = reqwest::Client::new();
    let request = || {
        client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": document }))
            .send()
    };
    let mut graphql = Vec::new();
    let mut last = Value::Null;
    for i in 0..=runs {
        let started = Instant::now();
        let body: Value = request().await?.json().await?;
        let elapsed = started.elapsed().as_secs_f64();
        anyhow::ensure!(body["errors"].is_null(), "errors: {body}");
        if i > 0 {
            graphql.push(elapsed);
        }
        last = body;
    }
    let pick = |kpi: &str| {
        last["data"]["quarter"]
            .as_array()
            .and_then(|a| a.iter().find(|k| k["kpi"] == kpi))
            .map(|k| k["total"].to_string())
            .unwrap_or_default()
    };
    println!("GraphQL: LEADS_CREATED {}", pick("LEADS_CREATED"));
    println!("GraphQL: WIN_RATE {}", pick("WIN_RATE"));
    println!("GraphQL: REVENUE {}", pick("REVENUE"));
    println!("GraphQL: funnel {}", last["data"]["funnel"]["stages"]);

    let sql = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/kpi_dashboard.sql");
    let mut psql = Vec::new();
    let mut output = String::new();
    let ts = |d: NaiveDate| format!("{d} 00:00:00+00");
    for i in 0..=runs {
        let started = Instant::now();
        let out = Command::new("psql")
            .args([url.as_str(), "-X", "-q", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-v", &format!("q_from={}", ts(q_from))])
            .args([
                "-v",
                &format!("q_to={}", ts(q_to.succ_opt().context("date")?)),
            ])
            .args(["-v", &format!("y_from={}", ts(y_from))])
            .args([
                "-v",
                &format!("y_to={}", ts(y_to.succ_opt().context("date")?)),
            ])
            .args(["-f", sql])
            .output()?;
        let elapsed = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if i > 0 {
            psql.push(elapsed);
        }
        output = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    for line in output
        .lines()
        .filter(|l| l.starts_with("funnel|") || l.starts_with("deals|") || l.starts_with("mql|"))
    {
        println!("psql: {line}");
    }
    let (g_min, g_med) = summary(graphql);
    let (p_min, p_med) = summary(psql);
    println!(
        "dashboard through GraphQL: fastest {:.0} ms, median {:.0} ms; hand-written SQL in psql: fastest {:.0} ms, median {:.0} ms; ratio (median) {:.2}",
        g_min * 1000.0,
        g_med * 1000.0,
        p_min * 1000.0,
        p_med * 1000.0,
        g_med / p_med
    );
    stop.send(()).ok();
    Ok(())
}
