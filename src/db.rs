//! Connecting to the database and migrating it.

use std::{sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::{
    config::Config,
    error::AppResult,
    services,
    telemetry::{Metrics, access, metrics::PoolStats},
};

/// Opens the pool with explicit settings for both engines: WAL, a busy
/// timeout and `synchronous=NORMAL` on SQLite; pool bounds and a
/// `statement_timeout` on PostgreSQL. Statement logging is off, so personal
/// data never reaches the logs.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_with(config, |_| {}).await
}

/// Like [`connect`], with a hook to adjust the options (tests set a search
/// path or a metric callback).
pub async fn connect_with(
    config: &Config,
    adjust: impl FnOnce(&mut ConnectOptions),
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opt = ConnectOptions::new(config.database_url.clone());
    opt.max_connections(config.db_max_connections)
        .min_connections(1)
        .acquire_timeout(config.db_acquire_timeout)
        .connect_timeout(config.db_acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        .max_lifetime(Duration::from_secs(1800))
        .sqlx_logging(false)
        .record_stmt_in_spans(false);
    if config.database_url.starts_with("postgres") {
        opt.statement_timeout(config.statement_timeout);
        // sqlx keeps prepared statements per connection, and after five
        // executions PostgreSQL may switch one to a generic plan made from
        // the table's size at that moment. A plan made while a table was
        // small (a seq scan of `external_ids` on a fresh database) then stays
        // as the table grows: sync batches got slower with every thousand
        // rows. Planning each execution is cheap next to that.
        //
        // Parallel plans are off by default (`HANDOFF_PG_PARALLEL_WORKERS`):
        // a KPI request runs its statements on several connections at once,
        // so workers only compete with them for the cores. With them off
        // the dashboard benchmark went from 1.32 s to about 1.04 s.
        let workers = config.pg_parallel_workers.to_string();
        opt.map_sqlx_postgres_opts(move |o| {
            o.options([
                ("plan_cache_mode", "force_custom_plan"),
                ("max_parallel_workers_per_gather", workers.as_str()),
            ])
        });
    } else {
        opt.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    adjust(&mut opt);
    Database::connect(opt).await
}

/// What runs after each SQL statement besides Handoff's own bookkeeping
/// (tests count statements with one).
pub type StatementHook = Arc<dyn Fn(&sea_orm::metric::Info<'_>) + Send + Sync>;

/// Times every statement run through `db` (and its clones made from now
/// on) into `metrics`, counts it against the current request's access-log
/// record ([`access::count_statement`]), then calls `hook`. Replaces any
/// metric callback `db` had.
pub fn observe(db: &mut DatabaseConnection, metrics: Arc<Metrics>, hook: Option<StatementHook>) {
    db.set_metric_callback(move |info| {
        metrics.statement(info.elapsed, info.failed);
        access::count_statement();
        if let Some(hook) = &hook {
            hook(info);
        }
    });
}

/// How the pool of `db` stands now.
pub fn pool_stats(db: &DatabaseConnection) -> Option<PoolStats> {
    fn stats<D: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<D>) -> PoolStats {
        PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
    match db.get_database_backend() {
        DbBackend::Postgres => Some(stats(db.get_postgres_connection_pool())),
        DbBackend::Sqlite => Some(stats(db.get_sqlite_connection_pool())),
        _ => None,
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db, None).await
}

/// How many migrations the database has not had yet (all of them on an
/// empty database), read without writing anything.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, sea_orm::DbErr> {
    Ok(Migrator::get_pending_migrations_read_only(db).await?.len())
}

/// Begins a write transaction. On SQLite it is IMMEDIATE, so it takes the
/// write lock up front instead of failing with SQLITE_BUSY when it first
/// writes. Every write of a request goes through here, so that a request
/// sent with an `Idempotency-Key` leaves a trace in each of its write
/// transactions ([`services::idempotency::record_write`]).
pub async fn begin_write(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await?;
    services::idempotency::record_write(&txn).await?;
    Ok(txn)
}
