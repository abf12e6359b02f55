//! The durable event stream (`events`): written in the same transaction as
//! the change it describes, so an event exists exactly when its change
//! committed. Subscriptions and webhooks read it.

use chrono::{DateTime, Utc};
use entity::event::{self, EventKind};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::error::AppResult;

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
    Ok(())
}
