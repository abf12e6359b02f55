//! The SLA sweep: moves leads whose SLA status changes with time alone
//! (DESIGN.md §3). Actions (a sales touch, accept, reject) set the status
//! themselves; what no request ever triggers is the passing of time, so a
//! background task calls [`sweep`] every `HANDOFF_SLA_SWEEP_SECS` on every
//! replica.
//!
//! A sweep reads the live ON_TRACK and AT_RISK leads in batches by id (only
//! the SLA columns), computes [`SlaClock::status`] at `now` in Rust, and per
//! target status runs one conditional update in a write transaction:
//!
//! ```sql
//! UPDATE leads SET sla_status = 'BREACHED', version = version + 1, updated_at = $now
//! WHERE ((id = $a AND version = $va) OR (id = $b AND version = $vb) ...)
//!   AND sla_status IN ('ON_TRACK', 'AT_RISK') AND deleted_at IS NULL
//! RETURNING id
//! ```
//!
//! Only the returned ids get an `events` row and a change-log entry, in the
//! same transaction, so an event exists exactly when its lead changed.
//!
//! # Why each lead changes, and gets one event, exactly once
//!
//! Several replicas may sweep the same database at the same moment and read
//! the same candidates; what decides is the conditional `UPDATE`, whose
//! `WHERE` only matches a lead still in a status that precedes the new one
//! and still at the version that was read.
//!
//! - **PostgreSQL (READ COMMITTED)**: an `UPDATE` takes a row lock on every
//!   row it changes. A second sweep reaching the same row waits for the
//!   first transaction to end; when it commits, PostgreSQL re-evaluates the
//!   `WHERE` against the committed row (the row is now BREACHED, at
//!   version + 1), finds it no longer matches, and skips it, so that row is
//!   not in the second `RETURNING`. If the first rolls back, the second
//!   updates the row itself. Either way exactly one transaction returns the
//!   id, and its events and log entries commit or roll back with it. A
//!   deadlock between two sweeps (possible only if they lock rows in
//!   different orders) rolls one transaction back entirely; it is retried.
//! - **SQLite**: there is a single writer. Write transactions begin
//!   IMMEDIATE ([`begin_write`]), so the second sweep's transaction starts
//!   only after the first committed and its `UPDATE` sees the committed
//!   rows, which no longer match.
//!
//! The version in the `WHERE` also protects against a concurrent action: a
//! sales touch recorded between the read and the update (say, a call logged
//! with an earlier `occurredAt`) bumps the version, so the sweep leaves that
//! lead alone instead of breaching it on stale facts; the next sweep
//! re-evaluates it.

use chrono::{DateTime, Utc};
use entity::{
    enums::{ChangeOperation, ObjectType, SlaStatus},
    event::{self, EventKind},
    lead,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RuntimeErr,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use super::records;
use crate::{
    db::begin_write,
    domain::sla::SlaClock,
    error::{AppError, AppResult},
};

/// Leads read, and updated, per batch: the update binds two values per lead
/// and the event insert five, well under both engines' bind limits.
const BATCH: u64 = 500;

/// How many times a batch is retried after a deadlock or serialisation
/// failure (PostgreSQL), which rolls the whole batch back.
const RETRIES: usize = 3;

/// What one sweep changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Leads this sweep moved to AT_RISK.
    pub at_risk: Vec<Uuid>,
    /// Leads this sweep moved to BREACHED.
    pub breached: Vec<Uuid>,
}

impl SweepReport {
    /// True when the sweep changed nothing.
    pub fn is_empty(&self) -> bool {
        self.at_risk.is_empty() && self.breached.is_empty()
    }
}

/// The SLA columns of a lead the sweep looks at.
#[derive(Debug, Clone, FromQueryResult)]
struct Candidate {
    id: Uuid,
    version: i32,
    owner_id: Option<Uuid>,
    sla_status: Option<SlaStatus>,
    mql_at: Option<DateTime<Utc>>,
    sla_first_contact_due_at: Option<DateTime<Utc>>,
    first_contacted_at: Option<DateTime<Utc>>,
    sla_disposition_due_at: Option<DateTime<Utc>>,
    dispositioned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    fn clock(&self) -> Option<SlaClock> {
        Some(SlaClock {
            mql_at: self.mql_at?,
            first_contact_due_at: self.sla_first_contact_due_at?,
            first_contacted_at: self.first_contacted_at,
            disposition_due_at: self.sla_disposition_due_at?,
            dispositioned_at: self.dispositioned_at,
        })
    }

    /// The status time alone moves this lead to at `now`, if any. Time only
    /// moves a status forward: ON_TRACK -> AT_RISK -> BREACHED.
    fn target(&self, now: DateTime<Utc>) -> Option<SlaStatus> {
        let current = self.sla_status?;
        match (current, self.clock()?.status(now)) {
            (SlaStatus::OnTrack, SlaStatus::AtRisk) => Some(SlaStatus::AtRisk),
            (SlaStatus::OnTrack | SlaStatus::AtRisk, SlaStatus::Breached) => {
                Some(SlaStatus::Breached)
            }
            _ => None,
        }
    }
}

/// One status move: the target, the statuses it may come from, its event.
struct Transition {
    to: SlaStatus,
    from: &'static [SlaStatus],
    kind: EventKind,
}

const TO_AT_RISK: Transition = Transition {
    to: SlaStatus::AtRisk,
    from: &[SlaStatus::OnTrack],
    kind: EventKind::LeadSlaAtRisk,
};

const TO_BREACHED: Transition = Transition {
    to: SlaStatus::Breached,
    from: &[SlaStatus::OnTrack, SlaStatus::AtRisk],
    kind: EventKind::LeadSlaBreached,
};

/// Moves leads whose SLA status changed with time: ON_TRACK -> AT_RISK
/// (last quarter of a pending window), ON_TRACK/AT_RISK -> BREACHED (a due
/// time passed without its action). Each lead changes, and gets one event,
/// exactly once even when several server replicas sweep the same PostgreSQL
/// at the same moment (see the module documentation).
#[tracing::instrument(skip_all, fields(now = %now))]
pub async fn sweep(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<SweepReport> {
    let mut report = SweepReport::default();
    let mut after: Option<Uuid> = None;
    loop {
        let batch = candidates(db, after).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        let full = batch.len() as u64 == BATCH;

        let mut at_risk = Vec::new();
        let mut breached = Vec::new();
        for c in batch {
            match c.target(now) {
                Some(SlaStatus::AtRisk) => at_risk.push(c),
                Some(SlaStatus::Breached) => breached.push(c),
                _ => {}
            }
        }
        if !at_risk.is_empty() || !breached.is_empty() {
            let mut attempt = 0;
            let (r, b) = loop {
                match apply(db, now, &at_risk, &breached).await {
                    Err(e) if attempt < RETRIES && is_transient(&e) => {
                        attempt += 1;
                        tracing::debug!(error = %e, attempt, "SLA sweep batch rolled back; retrying");
                    }
                    other => break other?,
                }
            };
            report.at_risk.extend(r);
            report.breached.extend(b);
        }
        if !full {
            break;
        }
    }
    Ok(report)
}

/// The next batch of live ON_TRACK and AT_RISK leads after `after`, by id.
async fn candidates(db: &DatabaseConnection, after: Option<Uuid>) -> AppResult<Vec<Candidate>> {
    use lead::Column as C;
    let mut query = lead::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::Version,
            C::OwnerId,
            C::SlaStatus,
            C::MqlAt,
            C::SlaFirstContactDueAt,
            C::FirstContactedAt,
            C::SlaDispositionDueAt,
            C::DispositionedAt,
        ])
        .filter(C::DeletedAt.is_null())
        .filter(C::SlaStatus.is_in([SlaStatus::OnTrack, SlaStatus::AtRisk]))
        .order_by_asc(C::Id)
        .limit(BATCH);
    if let Some(after) = after {
        query = query.filter(C::Id.gt(after));
    }
    Ok(query.into_model::<Candidate>().all(db).await?)
}

/// Applies one batch's moves in one write transaction; returns the ids that
/// changed, per target.
async fn apply(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    at_risk: &[Candidate],
    breached: &[Candidate],
) -> AppResult<(Vec<Uuid>, Vec<Uuid>)> {
    let txn = begin_write(db).await?;
    let r = transition(&txn, now, &TO_AT_RISK, at_risk).await?;
    let b = transition(&txn, now, &TO_BREACHED, breached).await?;
    txn.commit().await?;
    Ok((r, b))
}

/// Runs one conditional update and records an event and a change-log entry
/// for every lead it returned.
async fn transition(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    t: &Transition,
    leads: &[Candidate],
) -> AppResult<Vec<Uuid>> {
    use lead::Column as C;
    if leads.is_empty() {
        return Ok(vec![]);
    }
    let as_read = leads.iter().fold(Condition::any(), |any, c| {
        any.add(C::Id.eq(c.id).and(C::Version.eq(c.version)))
    });
    let mut update = lead::Entity::update_many()
        .col_expr(C::SlaStatus, Some(t.to.as_str()).into())
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, now.into())
        .filter(as_read)
        .filter(C::SlaStatus.is_in(t.from.iter().copied()))
        .filter(C::DeletedAt.is_null())
        .into_query();
    // SeaORM's `exec_with_returning` needs a cargo feature on SQLite; the
    // statement itself works on PostgreSQL and on SQLite >= 3.35 (bundled).
    update.returning_col(C::Id);
    let mut changed = Vec::with_capacity(leads.len());
    for row in txn.query_all(&update).await? {
        changed.push(row.try_get::<Uuid>("", "id")?);
    }
    if changed.is_empty() {
        return Ok(changed);
    }
    changed.sort_unstable();

    // The version matched, so the row as read is the row that changed.
    let events = leads
        .iter()
        .filter(|c| changed.binary_search(&c.id).is_ok())
        .map(|c| event::ActiveModel {
            kind: Set(t.kind),
            subject_id: Set(c.id),
            owner_id: Set(c.owner_id),
            at: Set(now),
            data: Set(Some(json!({
                "slaFirstContactDueAt": c.sla_first_contact_due_at,
                "slaDispositionDueAt": c.sla_disposition_due_at,
            }))),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    if events.len() != changed.len() {
        return Err(AppError::Internal(format!(
            "SLA sweep: the update returned {} ids for {} known leads",
            changed.len(),
            events.len()
        )));
    }
    event::Entity::insert_many(events)
        .exec_without_returning(txn)
        .await?;
    super::events::notify(txn).await?;
    for id in &changed {
        records::log(
            txn,
            None,
            ObjectType::Lead,
            *id,
            ChangeOperation::Upsert,
            vec!["slaStatus".to_owned()],
            now,
        )
        .await?;
    }
    Ok(changed)
}

/// A deadlock or serialisation failure: the transaction was rolled back
/// whole and may simply be run again.
fn is_transient(e: &AppError) -> bool {
    let AppError::Db(
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)),
    ) = e
    else {
        return false;
    };
    match &**e {
        sea_orm::sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    fn candidate(status: SlaStatus) -> Candidate {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = SlaClock::start(t0, 24, 48);
        Candidate {
            id: Uuid::nil(),
            version: 1,
            owner_id: None,
            sla_status: Some(status),
            mql_at: Some(clock.mql_at),
            sla_first_contact_due_at: Some(clock.first_contact_due_at),
            first_contacted_at: None,
            sla_disposition_due_at: Some(clock.disposition_due_at),
            dispositioned_at: None,
        }
    }

    fn h(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
    }

    #[test]
    fn time_only_moves_a_status_forward() {
        let on_track = candidate(SlaStatus::OnTrack);
        assert_eq!(on_track.target(h(1)), None);
        assert_eq!(on_track.target(h(19)), Some(SlaStatus::AtRisk));
        assert_eq!(on_track.target(h(25)), Some(SlaStatus::Breached));
        let at_risk = candidate(SlaStatus::AtRisk);
        assert_eq!(at_risk.target(h(19)), None);
        assert_eq!(at_risk.target(h(25)), Some(SlaStatus::Breached));
        // A clock read before its risk window never moves a lead back.
        assert_eq!(at_risk.target(h(1)), None);
        for done in [SlaStatus::Met, SlaStatus::Breached] {
            assert_eq!(candidate(done).target(h(100)), None);
        }
        let no_clock = Candidate {
            mql_at: None,
            ..candidate(SlaStatus::OnTrack)
        };
        assert_eq!(no_clock.target(h(100)), None);
    }
}
