//! The business rules and queries: `(db, &Viewer, input) -> AppResult<..>`.
//! Every service checks the role policy itself (guards are skipped through
//! interfaces), and every write goes through [`records`], which versions the
//! row and appends to the change log in the same transaction.

pub mod accounts;
pub mod activities;
pub mod analytics;
pub mod campaigns;
pub mod changes;
pub mod commit_order;
pub mod competitors;
pub mod events;
pub mod external_ids;
pub mod feedback;
pub mod filters;
pub mod idempotency;
pub mod kpis;
pub mod lead_definitions;
pub mod leads;
pub mod lifecycle;
pub mod links;
pub mod opportunities;
pub mod pagination;
pub mod records;
pub mod scoring;
pub mod sla;
pub mod spend;
mod sql;
pub mod stage_changes;
pub mod stage_moves;
pub mod sync;
pub mod users;

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    /// The `pub async fn`s of the service files under `dir` that act for a
    /// viewer, as (file, function, has a `skip_all` span).
    fn entry_points(dir: &Path, found: &mut Vec<(String, String, bool)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                entry_points(&path, found);
                continue;
            }
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            // records.rs holds the per-row helpers the entry points call.
            if path.file_name().is_some_and(|n| n == "records.rs") {
                continue;
            }
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let Some(rest) = line.strip_prefix("pub async fn ") else {
                    continue;
                };
                let name = rest.split(['(', '<']).next().unwrap_or(rest).to_owned();
                let end = lines[i..]
                    .iter()
                    .position(|l| l.ends_with('{'))
                    .map_or(lines.len(), |n| i + n + 1);
                let signature = lines[i..end].concat();
                if !signature.contains("viewer: &Viewer") {
                    continue;
                }
                // The attributes between the doc comment and the function,
                // some over several lines.
                let spanned = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| !(l.starts_with("///") || l.trim().is_empty() || **l == "}"))
                    .any(|l| l.starts_with("#[tracing::instrument(skip_all"));
                found.push((path.display().to_string(), name, spanned));
            }
        }
    }

    /// Every service function a request enters through (one acting for a
    /// viewer) opens a span, so a slow request shows where its time went;
    /// `skip_all` keeps arguments (personal data among them) out of it.
    #[test]
    fn every_entry_point_has_a_span_without_arguments() {
        let mut found = Vec::new();
        entry_points(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services"),
            &mut found,
        );
        let missing: Vec<_> = found
            .iter()
            .filter(|(_, _, spanned)| !spanned)
            .map(|(file, name, _)| format!("{file}: {name}"))
            .collect();
        assert!(
            missing.is_empty(),
            "entry points without a span: {missing:#?}"
        );
        assert!(
            found.len() > 50,
            "the scan found only {} entry points: has the signature form changed?",
            found.len()
        );
    }
}
