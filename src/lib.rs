//! Handoff: the shared system of record between marketing and sales, served
//! as a GraphQL API.
//!
//! `main.rs` is a thin CLI over this library; the integration tests build the
//! same application with [`Application::build`].

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;

pub mod demo;
pub mod domain;
pub mod error;
pub mod event_hub;
pub mod graphql;
pub mod http;
pub mod import;
pub mod services;
pub mod telemetry;

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use sea_orm::DatabaseConnection;
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, watch},
};

use crate::{
    clock::Clock,
    config::Config,
    graphql::{MAX_DEPTH, MAX_INTROSPECTION_DEPTH, SchemaOptions, build_schema},
    http::AppState,
    telemetry::Metrics,
};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// `/metrics` on an address of its own (`HANDOFF_METRICS_BIND`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    sla_sweep_interval: Duration,
    shutdown_grace: Duration,
    closing: watch::Sender<bool>,
    in_flight: mpsc::Receiver<()>,
}

impl Application {
    /// Builds the application over an open, migrated database and binds its
    /// listener (port 0 picks a free port).
    pub async fn build(config: &Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        Self::build_with_statement_hook(config, db, None).await
    }

    /// Like [`build`](Self::build), with `hook` called after every SQL
    /// statement the server runs (tests count them). The server replaces
    /// any metric callback `db` has with its own ([`db::observe`]).
    pub async fn build_with_statement_hook(
        config: &Config,
        mut db: DatabaseConnection,
        hook: Option<db::StatementHook>,
    ) -> anyhow::Result<Self> {
        let metrics = Arc::new(match config.metrics.enabled {
            true => Metrics::new(),
            false => Metrics::disabled(),
        });
        metrics.set_sla_interval(config.sla_sweep_interval);
        db::observe(&mut db, metrics.clone(), hook);
        let options = SchemaOptions {
            introspection: config.introspection,
            field_suggestions: config.field_suggestions,
        };
        let (closing, closing_rx) = watch::channel(false);
        let (in_flight_tx, in_flight) = mpsc::channel(1);
        // Started here, in the runtime: its keys are fetched in the
        // background, and a provider out of reach does not stop start-up.
        let idp = config
            .idp
            .clone()
            .map(|idp| auth::idp::IdentityProvider::start(idp, &config.jwt, config.clock.clone()))
            .transpose()?;
        let state = AppState {
            schema: build_schema(Some(db.clone()), options, MAX_DEPTH),
            introspection_schema: build_schema(Some(db.clone()), options, MAX_INTROSPECTION_DEPTH),
            events: event_hub::EventHub::new(db.clone()),
            db,
            jwt: config.jwt.clone(),
            idp,
            request_timeout: config.request_timeout,
            introspection: config.introspection,
            cost: std::sync::Arc::new(graphql::cost::CostModel::handoff()),
            throttle: std::sync::Arc::new(http::throttle::Throttle::new(
                config.throttle,
                config.clock.clone(),
            )),
            max_response_bytes: config.max_response_bytes,
            ws_recheck_interval: config.ws_recheck_interval,
            clock: config.clock.clone(),
            cors: Arc::new(config.cors_allowed_origins.clone()),
            documents: Arc::new(http::documents::Documents::new(
                config.trusted_documents.clone(),
            )),
            closing: closing_rx,
            in_flight: in_flight_tx,
            metrics,
            metrics_on_api: config.metrics.enabled && config.metrics.bind.is_none(),
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let metrics_listener = match config.metrics.bind {
            Some(bind) if config.metrics.enabled => Some(
                TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding {bind} (HANDOFF_METRICS_BIND)"))?,
            ),
            _ => None,
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
            sla_sweep_interval: config.sla_sweep_interval,
            shutdown_grace: config.shutdown_grace,
            closing,
            in_flight,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Where `/metrics` is served when it has an address of its own
    /// (`HANDOFF_METRICS_BIND`).
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        Ok(match &self.metrics_listener {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        })
    }

    /// Whether `/metrics` is served on the API's address.
    pub fn metrics_on_api(&self) -> bool {
        self.state.metrics_on_api
    }

    /// Serves until `shutdown` resolves, then stops accepting connections,
    /// closes open sockets with 1001 (going away) and lets in-flight
    /// requests finish, for at most the shutdown grace period
    /// (`HANDOFF_SHUTDOWN_GRACE_SECS`). Meanwhile, unless its interval is 0,
    /// the SLA sweep runs in the background; it stops with the server
    /// (finishing a sweep in progress).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            metrics_listener,
            state,
            sla_sweep_interval,
            shutdown_grace,
            closing,
            mut in_flight,
        } = self;
        // Dropping `stop` (when `shutdown` resolves, or when serving ends
        // for any other reason) stops the sweeper.
        let (stop, stopped) = oneshot::channel::<()>();
        let sweeper = (!sla_sweep_interval.is_zero()).then(|| {
            // The first sweep is due one interval after this point, which
            // precedes serving any request.
            let first = state.clock.now() + sla_sweep_interval;
            tokio::spawn(sweep_sla(
                state.db.clone(),
                state.metrics.clone(),
                state.clock.clone(),
                first,
                sla_sweep_interval,
                stopped,
            ))
        });
        // The metrics listener, if any, stops with the API's.
        let (metrics_stop, metrics_stopped) = oneshot::channel::<()>();
        let metrics_server = metrics_listener.map(|listener| {
            let router = http::metrics_router(state.clone());
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        metrics_stopped.await.ok();
                    })
                    .await
            })
        });
        let (signalled, on_signal) = oneshot::channel::<()>();
        // Without Nagle's algorithm: a compressed (chunked) response is
        // written in several pieces, and the last, small one must not wait
        // for the client to acknowledge the others.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, http::router(state))
            .with_graceful_shutdown(async move {
                shutdown.await;
                drop(stop);
                closing.send_replace(true);
                let _ = signalled.send(());
            })
            .into_future();
        let mut serve = Box::pin(serve);
        // The grace period runs from the signal; serving ends when every
        // HTTP connection is done, or when it is over.
        let grace_over = async {
            if on_signal.await.is_err() {
                // Serving ended without a signal.
                std::future::pending::<()>().await;
            }
            tokio::time::Instant::now() + shutdown_grace
        };
        tokio::pin!(grace_over);
        let (served, deadline) = tokio::select! {
            served = &mut serve => (served.context("serving HTTP"), None),
            deadline = &mut grace_over => {
                tokio::select! {
                    served = &mut serve => (served.context("serving HTTP"), Some(deadline)),
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::warn!("shutdown grace period over: dropping open HTTP connections");
                        (Ok(()), Some(deadline))
                    }
                }
            }
        };
        let deadline = deadline.unwrap_or_else(|| tokio::time::Instant::now() + shutdown_grace);
        // The router's own copy of the state goes with it, and the metrics
        // server's with it (within the same grace period).
        drop(serve);
        drop(metrics_stop);
        if let Some(server) = metrics_server {
            match tokio::time::timeout_at(deadline, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "serving /metrics failed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the /metrics server ended abnormally"),
                Err(_) => {
                    tracing::warn!("shutdown grace period over: dropping /metrics connections")
                }
            }
        }
        // Sockets and detached requests outlive their HTTP connection:
        // each holds `in_flight` until it is done.
        if tokio::time::timeout_at(deadline, in_flight.recv())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over: dropping open sockets and requests");
        }
        if let Some(sweeper) = sweeper
            && let Err(e) = sweeper.await
        {
            tracing::warn!(error = %e, "the SLA sweeper ended abnormally");
        }
        served
    }
}

/// Runs [`services::sla::sweep`] (and deletes expired Idempotency-Keys,
/// [`services::idempotency::delete_expired`]) at `first` by `clock`, then
/// every `every`, until `stop` resolves or is dropped. A
/// sweep that overruns delays the next one by a whole `every`. A failed or
/// panicking sweep is logged and the next one runs on schedule; replicas
/// may sweep at the same moment, each lead still changes once.
async fn sweep_sla(
    db: DatabaseConnection,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    first: Duration,
    every: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut next = first;
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = clock.sleep_until(next) => {}
        }
        next += every;
        let db = db.clone();
        // Its own task, so that even a panic only costs this one sweep.
        let sweep = tokio::spawn(crate::clock::scope(clock.clone(), async move {
            let now = services::records::now();
            // Idempotency-Key responses over 24 h old go on the same beat.
            match services::idempotency::delete_expired(&db, now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(idempotency.expired = n, "expired Idempotency-Keys deleted")
                }
                Err(e) => tracing::warn!(error = %e, "deleting expired Idempotency-Keys failed"),
            }
            services::sla::sweep(&db, now).await
        }));
        match sweep.await {
            Ok(Ok(report)) => {
                metrics.sla_sweep(Some((report.at_risk.len(), report.breached.len())));
                if !report.is_empty() {
                    tracing::info!(
                        sla.at_risk = report.at_risk.len(),
                        sla.breached = report.breached.len(),
                        "SLA sweep moved leads"
                    );
                }
            }
            Ok(Err(e)) => {
                metrics.sla_sweep(None);
                tracing::warn!(error = %e, "SLA sweep failed; retrying at the next interval")
            }
            Err(e) => {
                metrics.sla_sweep(None);
                tracing::warn!(error = %e, "SLA sweep panicked; retrying at the next interval")
            }
        }
        // Overran: the next one is a whole interval away.
        let now = clock.now();
        if next < now {
            next = now + every;
        }
    }
}
