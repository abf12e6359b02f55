//! Fans committed events out to this server's subscribers.
//!
//! The `events` table is the source of truth; the hub only decides when to
//! read it. While at least one subscriber is connected, one pump task per
//! server reads the events that settled since its last position
//! ([`events::read_after`]) and broadcasts them in stream order. It reads
//!
//! - on PostgreSQL, when a `NOTIFY handoff_events` arrives (sent by the
//!   writing transaction and delivered at its commit, by whichever replica
//!   wrote it), and every [`PG_POLL`] to pick up events held back behind
//!   transactions that were still in flight, or notifications lost while the
//!   listening connection was re-established;
//! - on SQLite (one process), every [`SQLITE_POLL`].
//!
//! With no subscribers the pump stops, so an idle server does no work.
//! Subscribers that fall behind the broadcast buffer catch up from the table
//! ([`Subscription::catch_up`]), so a slow client is never silently skipped.

use std::{sync::Arc, time::Duration};

use entity::event;
use sea_orm::{DatabaseConnection, DbBackend, sqlx::postgres::PgListener};
use tokio::{
    sync::{Mutex, broadcast},
    task::JoinHandle,
};

use crate::{
    error::AppResult,
    services::events::{self, Position},
};

/// How often the pump reads on SQLite while anyone is subscribed.
pub const SQLITE_POLL: Duration = Duration::from_millis(50);
/// How often the pump reads on PostgreSQL besides on notifications.
pub const PG_POLL: Duration = Duration::from_millis(250);
/// Events read per query.
const BATCH: u64 = 500;
/// Events buffered per subscriber before it has to catch up from the table.
const BUFFER: usize = 1024;

/// One server's event fan-out. Cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    state: Mutex<State>,
}

struct State {
    sender: broadcast::Sender<Arc<event::Model>>,
    /// The position of the last event broadcast (or where the pump started).
    position: Position,
    pump: Option<JoinHandle<()>>,
}

/// A subscriber's end: live events after `position`, in stream order.
pub struct Subscription {
    /// Live events. May lag; see [`Subscription::catch_up`].
    pub receiver: broadcast::Receiver<Arc<event::Model>>,
    /// Everything up to here was broadcast before this subscription began.
    pub position: Position,
}

impl Subscription {
    /// The settled events after `after`, read from the table, at most one
    /// batch. Used to resume from a client's last event and to recover
    /// after lagging behind the broadcast.
    pub async fn catch_up(
        db: &DatabaseConnection,
        after: Position,
    ) -> AppResult<Vec<event::Model>> {
        events::read_after(db, after, BATCH).await
    }

    /// Events per catch-up read: a shorter read means the reader is level.
    pub const BATCH: usize = BATCH as usize;
}

/// A [`Subscription`] taken out when the server read a client's `subscribe`
/// message, before it read the next message, for the `events` resolver to
/// use. Subscription resolvers run lazily, when their stream is first
/// polled; without this, a client that subscribes, gets a `pong` for the
/// `ping` it sent next, and then causes an event could see the event land
/// before its subscription began.
#[derive(Default)]
pub struct Reserved(std::sync::Mutex<Option<Subscription>>);

impl Reserved {
    /// Holds `subscription` for the resolver.
    pub fn new(subscription: Subscription) -> Self {
        Self(std::sync::Mutex::new(Some(subscription)))
    }

    /// The reserved subscription, once.
    pub fn take(&self) -> Option<Subscription> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

impl EventHub {
    /// A hub over this database; nothing runs until someone subscribes.
    pub fn new(db: DatabaseConnection) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        Self {
            inner: Arc::new(Inner {
                db,
                state: Mutex::new(State {
                    sender,
                    position: Position::default(),
                    pump: None,
                }),
            }),
        }
    }

    /// Subscribes to live events, starting the pump if it is not running.
    pub async fn subscribe(&self) -> AppResult<Subscription> {
        let mut state = self.inner.state.lock().await;
        if state.pump.as_ref().is_none_or(JoinHandle::is_finished) {
            state.position = events::settled_head(&self.inner.db).await?;
            state.pump = Some(tokio::spawn(pump(self.inner.clone(), state.position)));
        }
        Ok(Subscription {
            receiver: state.sender.subscribe(),
            position: state.position,
        })
    }
}

/// Reads and broadcasts until nobody listens.
async fn pump(inner: Arc<Inner>, mut position: Position) {
    let backend = inner.db.get_database_backend();
    let mut listener = match backend {
        DbBackend::Postgres => listen(&inner.db).await,
        _ => None,
    };
    let poll = match backend {
        DbBackend::Postgres => PG_POLL,
        _ => SQLITE_POLL,
    };
    loop {
        // Drain what has settled.
        loop {
            match events::read_after(&inner.db, position, BATCH).await {
                Ok(rows) => {
                    let full = rows.len() as u64 == BATCH;
                    if let Some(last) = rows.last() {
                        position = Position::of(last);
                        let mut state = inner.state.lock().await;
                        for row in rows {
                            // An error only means nobody is subscribed.
                            let _ = state.sender.send(Arc::new(row));
                        }
                        state.position = position;
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading events failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
        {
            let mut state = inner.state.lock().await;
            if state.sender.receiver_count() == 0 {
                state.pump = None;
                return;
            }
        }
        match listener.as_mut() {
            Some(l) => {
                tokio::select! {
                    received = l.recv() => if let Err(e) = received {
                        tracing::warn!(error = %e, "listening for events failed; polling meanwhile");
                        tokio::time::sleep(poll).await;
                    },
                    _ = tokio::time::sleep(poll) => {}
                }
            }
            None => tokio::time::sleep(poll).await,
        }
    }
}

/// A `LISTEN handoff_events` connection, or none (then the pump polls).
async fn listen(db: &DatabaseConnection) -> Option<PgListener> {
    let connected = async {
        let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
        listener.listen(events::CHANNEL).await?;
        Ok::<_, sea_orm::sqlx::Error>(listener)
    };
    match connected.await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for events; polling instead");
            None
        }
    }
}
