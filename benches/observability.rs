//! What the access log, the metrics and response compression cost: the
//! requests per second of one ordinary request (a page of 100 leads with a
//! few fields) with each of them off and on.
//!
//! The server is the `handoff` binary of this build, `serve --demo` on a
//! fresh SQLite file (or on `BENCH_DATABASE_URL`, an empty database or one
//! an earlier run loaded), restarted for each configuration with its log
//! going to a file, as in production:
//!
//! | configuration | `RUST_LOG` | `HANDOFF_METRICS` | `Accept-Encoding` |
//! | --- | --- | --- | --- |
//! | bare | `warn` (no access log) | `false` | none |
//! | access log | `info` | `false` | none |
//! | metrics | `warn` | `true` | none |
//! | compression | `warn` | `false` | `gzip, br` |
//! | all | `info` | `true` | `gzip, br` |
//!
//! ```sh
//! cargo bench --bench observability   # BENCH_LEADS=2000, BENCH_ROUNDS=3, BENCH_SECS=5, BENCH_CLIENTS=4
//! BENCH_ENCODING=gzip cargo bench --bench observability   # the Accept-Encoding sent (default "gzip, br")
//! ```
//!
//! The configurations take turns (each round starting with the next one),
//! `BENCH_ROUNDS` times, each for
//! `BENCH_SECS` after a one-second warm-up, with `BENCH_CLIENTS`
//! requests in flight; the median of each is printed, with its cost
//! against `bare`. The client runs in this process, on the same cores as
//! the server. Compression is measured only when the server compresses
//! (a response with `Content-Encoding`); the output says whether it did.
//! Aim (issue 16): all three together cost under 5 %.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::json;

const QUERY: &str = "query LeadPage { leads(first: 100) { nodes { id email stage source } } }";

/// One way of running the server and the client.
#[derive(Clone, Copy)]
struct Mode {
    name: &'static str,
    access_log: bool,
    metrics: bool,
    compression: bool,
}

const MODES: [Mode; 5] = [
    Mode {
        name: "bare",
        access_log: false,
        metrics: false,
        compression: false,
    },
    Mode {
        name: "access log",
        access_log: true,
        metrics: false,
        compression: false,
    },
    Mode {
        name: "metrics",
        access_log: false,
        metrics: true,
        compression: false,
    },
    Mode {
        name: "compression",
        access_log: false,
        metrics: false,
        compression: true,
    },
    Mode {
        name: "all",
        access_log: true,
        metrics: true,
        compression: true,
    },
];

struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &std::path::Path, leads: usize, mode: Mode) -> anyhow::Result<Self> {
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_handoff"));
        command
            .args(["serve", "--demo", "--demo-leads", &leads.to_string()])
            .env("HANDOFF_DATA_DIR", dir)
            .env("HANDOFF_BIND", "127.0.0.1:0")
            // The bench fires requests faster than a budget allows.
            .env("HANDOFF_RATE_LIMIT_POINTS", "0")
            .env("HANDOFF_LOG_FORMAT", "json")
            .env("RUST_LOG", if mode.access_log { "info" } else { "warn" })
            .env("HANDOFF_METRICS", mode.metrics.to_string())
            .stdout(Stdio::piped())
            .stderr(log);
        match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) => command.env("DATABASE_URL", url),
            Err(_) => command.env_remove("DATABASE_URL"),
        };
        let mut child = command.spawn().context("starting handoff serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut url = None;
        let mut token = None;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("GraphQL:") {
                url = rest.split_whitespace().next().map(str::to_owned);
            } else if let Some(rest) = t.strip_prefix("ADMIN ") {
                token = Some(rest.trim().to_owned());
            } else if t.starts_with("Try it") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            url: url.context("no GraphQL URL printed")?,
            token: token.context("no ADMIN token printed")?,
        })
    }
}

/// Requests per second over `secs`, `clients` at a time, after a second
/// of warm-up; and whether the responses were compressed.
async fn measure(
    server: &Server,
    mode: Mode,
    clients: usize,
    secs: f64,
) -> anyhow::Result<(f64, bool)> {
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&json!({ "query": QUERY }))?;
    let request = || {
        let mut r = client
            .post(&server.url)
            .bearer_auth(&server.token)
            .header("content-type", "application/json")
            .body(body.clone());
        if mode.compression {
            let encoding = std::env::var("BENCH_ENCODING").unwrap_or_else(|_| "gzip, br".into());
            r = r.header("accept-encoding", encoding);
        }
        r
    };
    // One checked request: the page is there, and how it came.
    let first = request().send().await?;
    let compressed = first.headers().contains_key("content-encoding");
    let status = first.status();
    let bytes = first.bytes().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    if !compressed {
        let page: serde_json::Value = serde_json::from_slice(&bytes)?;
        let n = page["data"]["leads"]["nodes"]
            .as_array()
            .map_or(0, Vec::len);
        if n != 100 {
            bail!("expected 100 leads, got {n}: {page}");
        }
    }
    let counting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(1) + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let request = request();
        let (counting, done) = (counting.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let Some(r) = request.try_clone() else { break };
                let response = r.send().await?;
                let ok = response.status().is_success();
                response.bytes().await?;
                if !ok {
                    bail!("a request failed");
                }
                if counting.load(Ordering::Relaxed) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((done.load(Ordering::Relaxed) as f64 / elapsed, compressed))
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let leads: usize = env("BENCH_LEADS", 2000);
    let rounds: usize = env("BENCH_ROUNDS", 3);
    let secs: f64 = env("BENCH_SECS", 5.0);
    let clients: usize = env("BENCH_CLIENTS", 4);
    let dir = tempfile::tempdir()?;
    println!(
        "{leads} demo leads, {rounds} rounds of {secs} s per configuration, {clients} clients"
    );
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut compressed = false;
    for round in 0..rounds {
        // Each round starts with another configuration, so that a machine
        // getting busier or quieter does not favour one.
        for k in 0..MODES.len() {
            let i = (round + k) % MODES.len();
            let mode = &MODES[i];
            let server = Server::start(dir.path(), leads, *mode)?;
            let (rate, c) = measure(&server, *mode, clients, secs).await?;
            compressed |= c;
            println!(
                "round {}: {:<12} {rate:>8.1} requests/s",
                round + 1,
                mode.name
            );
            results[i].push(rate);
        }
    }
    let bare = median(results[0].clone());
    println!("\nmedians (cost against bare):");
    for (mode, rates) in MODES.iter().zip(results) {
        let rate = median(rates);
        let cost = (1.0 - rate / bare) * 100.0;
        println!("  {:<12} {rate:>8.1} requests/s  {cost:>+6.1} %", mode.name);
    }
    println!(
        "compression: {}",
        if compressed {
            "the server compressed its responses"
        } else {
            "not in this build (responses came uncompressed): that row measures the header alone"
        }
    );
    Ok(())
}
