//! An example sync job: push a batch of leads into Handoff, then pull
//! everything that changed since the last run. Copy it and replace the two
//! ends (where the leads come from, what happens to the changes) with your
//! CRM's.
//!
//! ```sh
//! cargo run -- serve --demo                 # prints an INTEGRATION token
//! HANDOFF_URL=http://127.0.0.1:8080/graphql HANDOFF_TOKEN=<INTEGRATION token> \
//!   cargo run --example sync_job
//! ```
//!
//! Environment:
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `HANDOFF_URL` | required | the GraphQL endpoint |
//! | `HANDOFF_TOKEN` | required | an INTEGRATION (or ADMIN) token |
//! | `SYNC_LEADS_FILE` | `examples/sync_job/leads.json` | leads to push (a JSON array in `LeadUpsertInput`'s shape) |
//! | `SYNC_SYSTEM` | `HUBSPOT` | whose external ids the leads carry |
//! | `SYNC_CURSOR_FILE` | `.handoff-cursor` | where the change-feed cursor is kept |
//!
//! Run it twice: the second push reports every lead UNCHANGED (upserts are
//! idempotent), and the second pull starts where the first stopped. The
//! sample file holds one bad lead on purpose, to show a per-record failure.

#[path = "sync_job/job.rs"]
mod job;

use std::{collections::HashSet, path::PathBuf};

use job::{Handoff, pull_changes, push_leads};
use serde_json::Value;

fn var(name: &str, default: Option<&str>) -> Result<String, String> {
    match (std::env::var(name), default) {
        (Ok(v), _) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        (_, Some(d)) => Ok(d.to_owned()),
        _ => Err(format!("set {name}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let handoff = Handoff::new(var("HANDOFF_URL", None)?, var("HANDOFF_TOKEN", None)?)?;
    let leads_file = var("SYNC_LEADS_FILE", Some("examples/sync_job/leads.json"))?;
    let system = var("SYNC_SYSTEM", Some("HUBSPOT"))?;
    let cursor_file = PathBuf::from(var("SYNC_CURSOR_FILE", Some(".handoff-cursor"))?);

    // 1. Push. In a real job the leads come from the CRM's API, read since
    // the CRM-side cursor the job keeps for that direction.
    let leads: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&leads_file)?)?;
    let pushed = push_leads(&handoff, &system, &leads).await?;
    println!(
        "pushed {} leads: {} created, {} updated, {} unchanged, {} failed",
        leads.len(),
        pushed.created,
        pushed.updated,
        pushed.unchanged,
        pushed
            .failed
            .iter()
            .map(|(external_id, ..)| external_id)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    for (external_id, code, field, message) in &pushed.failed {
        // Not retried: the same record would fail the same way. Fix it at
        // the source, or for CONFLICT (a stale `expectedVersion`) fetch the
        // record, merge, and send it in the next run.
        println!(
            "  {external_id}: {code} on {}: {message}",
            field.as_deref().unwrap_or("-")
        );
    }

    // 2. Pull. The feed also holds this job's own writes: skip them (the
    // records at exactly the version the push returned), or the CRM would
    // receive its own data back.
    let ours: HashSet<(String, i64)> = pushed.written.into_iter().collect();
    let pulled = pull_changes(&handoff, &cursor_file, 500, |entries| {
        for e in entries {
            let id = e["objectId"].as_str().unwrap_or_default().to_owned();
            let version = e["version"].as_i64().unwrap_or(-1);
            if ours.contains(&(id, version)) {
                continue;
            }
            // Here a real job writes to the CRM (an upsert keyed by the
            // Handoff id, so a page seen twice after a crash does no harm).
            println!(
                "  {} {} {} v{} {}",
                e["operation"].as_str().unwrap_or_default(),
                e["objectType"].as_str().unwrap_or_default(),
                e["objectId"].as_str().unwrap_or_default(),
                version,
                e["changedFields"]
            );
        }
        Ok::<(), std::io::Error>(())
    })
    .await?;
    println!(
        "pulled {} changes in {} pages; cursor stored in {}",
        pulled.entries,
        pulled.pages,
        cursor_file.display()
    );
    Ok(())
}
