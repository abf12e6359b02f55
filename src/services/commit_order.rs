//! Reading an append-only log (`events`, `change_log`) in commit order,
//! without gaps.
//!
//! `seq` is assigned when a row is written, not when its transaction
//! commits, so on PostgreSQL `seq` order is not commit order: a transaction
//! holding seq 5 can commit after one holding seq 6, and a reader that has
//! passed 6 would never see 5. Every row therefore records the id of the
//! transaction that wrote it (`txid`, migration `m20261123_000004`), and
//! readers follow rows in `(txid, seq)` order ([`Position`]), returning
//! only rows whose transaction is older than the oldest one of this
//! database still in flight (from the statement's own snapshot,
//! [`PG_HORIZON`]). All such transactions have ended, so their rows are
//! visible and final; any row that commits later belongs to a transaction
//! at or above that horizon and so sorts after everything already
//! returned. A long write transaction in this database delays delivery of
//! later rows until it ends; it never loses them.
//!
//! SQLite runs one write transaction at a time, so `seq` order is commit
//! order; `txid` is 0 there and no row is held back.

use sea_orm::{ColumnTrait, Condition, DbBackend, sea_query::Expr};

/// A place in a log. Rows are read in this order, which is `seq` order on
/// SQLite and `(txid, seq)` order on PostgreSQL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The writing transaction (0 on SQLite).
    pub txid: i64,
    /// The row's sequence number.
    pub seq: i64,
}

/// Rows below the horizon: written by transactions older than every
/// transaction of this database still in flight (see the module docs). It
/// names the unqualified column `txid`, which both logs have.
///
/// The horizon is the oldest in-progress transaction id of the statement's
/// snapshot (`pg_snapshot_xip`), skipping transactions that
/// `pg_stat_activity` shows running in another database of the same
/// server: they cannot write our tables, and a long one (a migration, a
/// report) should not hold our rows back. Anything not known to be
/// elsewhere counts, so a transaction that ended between the snapshot and
/// the `pg_stat_activity` read only holds rows back for one more read. With
/// nothing in flight, the horizon is the snapshot's `xmax`.
const PG_HORIZON: &str = "txid < COALESCE(\
    (SELECT min(xip::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS xip \
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
       WHERE a.datname IS DISTINCT FROM current_database() \
         AND a.backend_xid::text::bigint = xip::text::bigint % 4294967296)), \
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)";

/// Rows whose transaction has certainly ended (see the module docs).
pub fn settled(backend: DbBackend) -> Condition {
    match backend {
        DbBackend::Postgres => Condition::all().add(Expr::cust(PG_HORIZON)),
        _ => Condition::all(),
    }
}

/// Rows strictly after `after` in `(txid, seq)` order.
pub fn after(txid: impl ColumnTrait, seq: impl ColumnTrait, after: Position) -> Condition {
    Condition::any().add(txid.gt(after.txid)).add(
        Condition::all()
            .add(txid.eq(after.txid))
            .add(seq.gt(after.seq)),
    )
}
