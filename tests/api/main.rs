//! Integration tests: the real HTTP server, real GraphQL documents, one
//! fresh database per test, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod accounts;
mod analytics;
mod auth;
mod browser;
mod campaigns;
mod changes;
mod cli;
mod competitors;
mod concurrency;
mod cross_origin;
mod currencies;
mod dates;
mod external_ids;
mod feedback;
mod graphiql;
mod idempotency;
mod import;
mod import_files;
mod jwks;
mod kpis;
mod lead_identity;
mod leads;
mod lifecycle;
mod limits;
mod metrics;
mod opportunities;
mod owners;
mod pagination;
mod persisted;
mod query_count;
mod robustness;
mod roles;
mod schema;
mod search;
mod sla;
mod spend;
mod subscriptions;
mod sync;
mod sync_job;
mod transport;
mod users;
mod web;
