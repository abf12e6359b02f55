//! The durable event stream (`events`): written in the same transaction as
//! the change it describes, so an event exists exactly when its change
//! committed. Subscriptions read it, in [`Position`] order.
//!
//! Readers follow it in commit order without gaps, as
//! [`commit_order`](super::commit_order) explains.

use chrono::{DateTime, Utc};
use entity::event::{self, EventKind};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

pub use super::commit_order::Position;
use super::commit_order::{after as after_position, settled};
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

impl Position {
    /// Where `event` is.
    pub fn of(event: &event::Model) -> Self {
        Self {
            txid: event.txid,
            seq: event.seq,
        }
    }
}

/// Up to `limit` settled events after `after`, in stream order.
#[tracing::instrument(skip_all)]
pub async fn read_after(
    db: &impl ConnectionTrait,
    after: Position,
    limit: u64,
) -> AppResult<Vec<event::Model>> {
    Ok(event::Entity::find()
        .filter(after_position(
            event::Column::Txid,
            event::Column::Seq,
            after,
        ))
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
