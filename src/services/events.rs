//! The durable event stream (`events`): written in the same transaction as
//! the change it describes, so an event exists exactly when its change
//! committed. Subscriptions read it, in [`Position`] order.
//!
//! # Reading without gaps
//!
//! `seq` is assigned when a row is written, not when its transaction
//! commits, so on PostgreSQL `seq` order is not commit order: a transaction
//! holding seq 5 can commit after one holding seq 6, and a reader that has
//! passed 6 would never see 5. Every row therefore records the id of the
//! transaction that wrote it (`txid`, migration `m20261123_000004`), and
//! readers follow rows in `(txid, seq)` order, returning only rows whose
//! transaction is older than the oldest one of this database still in
//! flight (from the statement's own snapshot, [`PG_HORIZON`]). All such
//! transactions have ended, so their rows are visible and final; any row
//! that commits later belongs to a transaction at or above that horizon and
//! so sorts after everything already returned. A long write transaction in
//! this database delays delivery of later events until it ends; it never
//! loses them.
//!
//! SQLite runs one write transaction at a time, so `seq` order is commit
//! order; `txid` is 0 there and no row is held back.

use chrono::{DateTime, Utc};
use entity::event::{self, EventKind};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

use crate::error::AppResult;

/// The PostgreSQL channel notified (at commit) when events were written.
pub const CHANNEL: &str = "handoff_events";

/// One event to append.
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The lead, opportunity or definition it happened to.
    pub subject_id: Uuid,
    /// Its owner, for owner-filtered subscriptions.
    pub owner_id: Option<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
    /// Details (due times, reasons, versions).
    pub data: Option<Value>,
}

/// Appends events inside the caller's transaction.
pub async fn emit(txn: &impl ConnectionTrait, events: Vec<NewEvent>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.into_iter().map(|e| event::ActiveModel {
        kind: Set(e.kind),
        subject_id: Set(e.subject_id),
        owner_id: Set(e.owner_id),
        at: Set(e.at),
        data: Set(e.data),
        ..Default::default()
    });
    event::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    notify(txn).await
}

/// Tells every replica listening on PostgreSQL that events were written.
/// PostgreSQL delivers the notification when the caller's transaction
/// commits (and drops it if it rolls back); on SQLite this does nothing
/// (the one process polls while anyone is subscribed).
pub async fn notify(txn: &impl ConnectionTrait) -> AppResult<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_notify('{CHANNEL}', '')"))
            .await?;
    }
    Ok(())
}

/// A place in the event stream. Events are delivered in this order, which
/// is `seq` order on SQLite and `(txid, seq)` order on PostgreSQL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The writing transaction (0 on SQLite).
    pub txid: i64,
    /// The row's sequence number.
    pub seq: i64,
}

impl Position {
    /// Where `event` is.
    pub fn of(event: &event::Model) -> Self {
        Self {
            txid: event.txid,
            seq: event.seq,
        }
    }
}

/// Rows below the horizon: written by transactions older than every
/// transaction of this database still in flight (see the module docs).
///
/// The horizon is the oldest in-progress transaction id of the statement's
/// snapshot (`pg_snapshot_xip`), skipping transactions that
/// `pg_stat_activity` shows running in another database of the same
/// server: they cannot write our tables, and a long one (a migration, a
/// report) should not hold our events back. Anything not known to be
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
fn settled(backend: DbBackend) -> Condition {
    match backend {
        DbBackend::Postgres => Condition::all().add(Expr::cust(PG_HORIZON)),
        _ => Condition::all(),
    }
}

/// Up to `limit` settled events after `after`, in stream order.
pub async fn read_after(
    db: &impl ConnectionTrait,
    after: Position,
    limit: u64,
) -> AppResult<Vec<event::Model>> {
    Ok(event::Entity::find()
        .filter(
            Condition::any()
                .add(event::Column::Txid.gt(after.txid))
                .add(
                    Condition::all()
                        .add(event::Column::Txid.eq(after.txid))
                        .add(event::Column::Seq.gt(after.seq)),
                ),
        )
        .filter(settled(db.get_database_backend()))
        .order_by_asc(event::Column::Txid)
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// The position of the last settled event (the start, if there is none):
/// everything up to it may be delivered, and everything that commits later
/// sorts after it.
pub async fn settled_head(db: &impl ConnectionTrait) -> AppResult<Position> {
    Ok(event::Entity::find()
        .filter(settled(db.get_database_backend()))
        .order_by_desc(event::Column::Txid)
        .order_by_desc(event::Column::Seq)
        .one(db)
        .await?
        .map(|e| Position::of(&e))
        .unwrap_or_default())
}

/// The position of the event numbered `seq`, if it exists.
pub async fn position_of(db: &impl ConnectionTrait, seq: i64) -> AppResult<Option<Position>> {
    Ok(event::Entity::find_by_id(seq)
        .one(db)
        .await?
        .map(|e| Position::of(&e)))
}
