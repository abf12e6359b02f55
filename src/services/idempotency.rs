//! Storage of mutations' `Idempotency-Key`s (docs/api.md "Retrying
//! mutations safely"); the HTTP side is `http::idempotency`.
//!
//! A key is **claimed** before its mutation runs: an insert of its own,
//! outside any transaction, that the unique index on `(user_id, key)` lets
//! only one request win. The winner runs; when it ends, its key is
//! **settled**: if the request committed a write, its response is stored
//! for replays; if it committed nothing, the key is deleted, so a retry
//! simply runs again (it cannot write twice what was never written).
//!
//! Whether a request committed a write is not guessed from its response:
//! every write transaction begun with [`crate::db::begin_write`] while a
//! key is [`track`]ed inserts an `idempotency_key_writes` row in that same
//! transaction ([`record_write`]), so the row exists exactly when the write
//! committed. That holds for a request cut off by the time limit and for a
//! server that stopped mid-request too. Settling locks the key row first;
//! on PostgreSQL the write rows' foreign key share-locks it, so the lock
//! waits for a write transaction that is still committing.
//!
//! A claim without a response that is older than the caller's `stale`
//! window belongs to a server that stopped. The next request with the key
//! recovers it: without a committed write it runs again; with one, the
//! response is lost and the `lost` answer the caller supplies is stored and
//! replayed instead, since running the mutation again could write twice.

use std::{cell::Cell, time::Duration};

use chrono::{DateTime, Utc};
use entity::{idempotency_key as key, idempotency_key_write as write};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QuerySelect, TryInsertResult,
};
use uuid::Uuid;

use crate::{
    db::begin_write,
    error::{AppError, AppResult},
};

/// How long a key and its response are kept: a retry within this time of
/// the first request is answered from the key; after it, the key is free.
pub const RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// A keyed request about to run.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The authenticated user; keys are scoped to them.
    pub user_id: Uuid,
    /// The key.
    pub key: &'a str,
    /// The request's fingerprint (`domain::idempotency::fingerprint`).
    pub fingerprint: &'a str,
}

/// An HTTP response kept for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claimed {
    /// The key is this request's (the id of its row): run the request,
    /// [`track`] its writes, then [`settle`] it.
    Run(Uuid),
    /// The key already answered this same request: send this again.
    Replay(StoredResponse),
    /// Another request with this key and this request is still running.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// How a request's key was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The request committed a write: its response is stored (or an earlier
    /// one was, and is kept).
    Stored,
    /// The request committed nothing: the key was deleted.
    Released,
}

/// Claims `attempt`'s key at `now`, or says why it cannot run. A claim
/// without a response older than `stale` is recovered (see the module
/// documentation), storing `lost()` when its request had written.
#[tracing::instrument(skip_all)]
pub async fn claim(
    db: &DatabaseConnection,
    attempt: Attempt<'_>,
    now: DateTime<Utc>,
    stale: Duration,
    lost: impl Fn() -> StoredResponse,
) -> AppResult<Claimed> {
    let stale = chrono::Duration::from_std(stale)
        .map_err(|e| AppError::Internal(format!("idempotency stale window: {e}")))?;
    // A conflict followed by a vanished row (expired, released) goes round
    // again; three rounds only fail under a storm of requests with one key,
    // and then "in progress" is the honest answer.
    for _ in 0..3 {
        let id = Uuid::now_v7();
        let inserted = key::Entity::insert(key::ActiveModel {
            id: Set(id),
            created_at: Set(now),
            updated_at: Set(now),
            user_id: Set(attempt.user_id),
            key: Set(attempt.key.to_owned()),
            fingerprint: Set(attempt.fingerprint.to_owned()),
            response_status: Set(None),
            response_body: Set(None),
        })
        .on_conflict_do_nothing_on([key::Column::UserId, key::Column::Key])
        .exec_without_returning(db)
        .await?;
        if matches!(inserted, TryInsertResult::Inserted(1)) {
            return Ok(Claimed::Run(id));
        }
        let Some(row) = key::Entity::find()
            .filter(key::Column::UserId.eq(attempt.user_id))
            .filter(key::Column::Key.eq(attempt.key))
            .one(db)
            .await?
        else {
            continue;
        };
        if row.created_at <= now - RETENTION {
            key::Entity::delete_by_id(row.id).exec(db).await?;
            continue;
        }
        if row.fingerprint != attempt.fingerprint {
            return Ok(Claimed::Mismatch);
        }
        if let Some(stored) = stored(&row) {
            return Ok(Claimed::Replay(stored));
        }
        if row.updated_at > now - stale {
            return Ok(Claimed::InProgress);
        }
        if let Some(claimed) = recover(db, &row, now, &lost).await? {
            return Ok(claimed);
        }
    }
    Ok(Claimed::InProgress)
}

/// Takes over the stale claim `seen` (see [`claim`]), or `None` when
/// another request changed it first.
async fn recover(
    db: &DatabaseConnection,
    seen: &key::Model,
    now: DateTime<Utc>,
    lost: &impl Fn() -> StoredResponse,
) -> AppResult<Option<Claimed>> {
    let txn = begin_write(db).await?;
    let current = lock(&txn, seen.id).await?;
    let Some(current) = current.filter(|c| c.updated_at == seen.updated_at && stored(c).is_none())
    else {
        txn.commit().await?;
        return Ok(None);
    };
    let claimed = if wrote(&txn, current.id).await? {
        tracing::warn!(
            idempotency_key.id = %current.id,
            "a request with this Idempotency-Key wrote, then its server stopped before storing the response; storing the lost-response answer"
        );
        let answer = lost();
        save(&txn, current, &answer, now).await?;
        Claimed::Replay(answer)
    } else {
        key::Entity::update(key::ActiveModel {
            id: Set(current.id),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        Claimed::Run(current.id)
    };
    txn.commit().await?;
    Ok(Some(claimed))
}

/// Settles the claim `id` once its request ended with `response`: stores
/// it when the request committed a write, else deletes the key. A response
/// already stored (by a recovery that took the claim for stale) is kept.
#[tracing::instrument(skip_all, fields(idempotency_key.id = %id))]
pub async fn settle(
    db: &DatabaseConnection,
    id: Uuid,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> AppResult<Settled> {
    let txn = begin_write(db).await?;
    let Some(current) = lock(&txn, id).await? else {
        txn.commit().await?;
        return Ok(Settled::Released);
    };
    let settled = if stored(&current).is_some() {
        Settled::Stored
    } else if wrote(&txn, id).await? {
        save(&txn, current, response, now).await?;
        Settled::Stored
    } else {
        key::Entity::delete_by_id(id).exec(&txn).await?;
        Settled::Released
    };
    txn.commit().await?;
    Ok(settled)
}

/// Deletes every key first used more than [`RETENTION`] before `now`, with
/// its stored response; returns how many. One indexed statement.
#[tracing::instrument(skip_all)]
pub async fn delete_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(key::Entity::delete_many()
        .filter(key::Column::CreatedAt.lte(now - RETENTION))
        .exec(db)
        .await?
        .rows_affected)
}

tokio::task_local! {
    /// The claimed key of the request the current task runs, if any.
    static TRACKED: Cell<Option<Uuid>>;
}

/// Runs `future` where [`track`] can take effect: the write transactions
/// it begins after `track(Some(id))` are recorded against `id`.
pub async fn tracking<F: std::future::Future>(future: F) -> F::Output {
    TRACKED.scope(Cell::new(None), future).await
}

/// Whether the current task runs inside [`tracking`].
pub fn is_tracking() -> bool {
    TRACKED.try_with(|_| ()).is_ok()
}

/// Records this task's write transactions against the claim `id` from now
/// on (`None` stops). Without [`tracking`] around the task it does nothing.
pub fn track(id: Option<Uuid>) {
    // Outside `tracking` there is nothing to set; `is_tracking` tells.
    let _ = TRACKED.try_with(|tracked| tracked.set(id));
}

/// Called by [`crate::db::begin_write`] on every new write transaction:
/// when the task runs a keyed request, inserts the row that says the
/// request wrote, in that transaction.
pub async fn record_write(txn: &DatabaseTransaction) -> AppResult<()> {
    let Ok(Some(key_id)) = TRACKED.try_with(Cell::get) else {
        return Ok(());
    };
    write::Entity::insert(write::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(crate::services::records::now()),
        idempotency_key_id: Set(key_id),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The key row, locked until the end of `txn` on PostgreSQL (SQLite's
/// IMMEDIATE transaction already holds the write lock).
async fn lock(txn: &DatabaseTransaction, id: Uuid) -> AppResult<Option<key::Model>> {
    Ok(key::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?)
}

/// Whether a write of the request holding the key `id` committed.
async fn wrote(txn: &impl ConnectionTrait, id: Uuid) -> AppResult<bool> {
    Ok(write::Entity::find()
        .filter(write::Column::IdempotencyKeyId.eq(id))
        .one(txn)
        .await?
        .is_some())
}

fn stored(row: &key::Model) -> Option<StoredResponse> {
    let status = u16::try_from(row.response_status?).ok()?;
    Some(StoredResponse {
        status,
        body: row.response_body.clone()?,
    })
}

async fn save(
    txn: &DatabaseTransaction,
    row: key::Model,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> AppResult<()> {
    key::Entity::update(key::ActiveModel {
        id: Set(row.id),
        updated_at: Set(now),
        response_status: Set(Some(i32::from(response.status))),
        response_body: Set(Some(response.body.clone())),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Ok(())
}
