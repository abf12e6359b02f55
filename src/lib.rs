//! Handoff: the shared system of record between marketing and sales, served
//! as a GraphQL API.
//!
//! `main.rs` is a thin CLI over this library; the integration tests build the
//! same application with [`Application::build`].

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;

pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod services;

use std::net::SocketAddr;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    graphql::{MAX_DEPTH, MAX_INTROSPECTION_DEPTH, SchemaOptions, build_schema},
    http::AppState,
};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds the application over an open, migrated database and binds its
    /// listener (port 0 picks a free port).
    pub async fn build(config: &Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let options = SchemaOptions {
            introspection: config.introspection,
            field_suggestions: config.field_suggestions,
        };
        let state = AppState {
            schema: build_schema(Some(db.clone()), options, MAX_DEPTH),
            introspection_schema: build_schema(Some(db.clone()), options, MAX_INTROSPECTION_DEPTH),
            db,
            jwt: config.jwt.clone(),
            request_timeout: config.request_timeout,
            introspection: config.introspection,
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        Ok(Self { listener, state })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")
    }
}
