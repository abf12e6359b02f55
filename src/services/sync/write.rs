//! The set-based writes of one sync chunk: rows to insert, rows to update,
//! change-log entries, stage moves and external ids, flushed together in
//! the chunk's transaction.

use chrono::{DateTime, Utc};
use entity::{change_log, enums::ChangeOperation, external_id};
use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel};
use uuid::Uuid;

use crate::{
    domain::stage_move::StageMove,
    error::AppResult,
    services::{
        external_ids::{self, ExternalKey},
        records::{self, Record, insert_rows},
        stage_moves,
    },
};

/// What one chunk writes, by table.
pub(super) struct Writes<E: Record> {
    actor: Option<Uuid>,
    at: DateTime<Utc>,
    inserts: Vec<E::ActiveModel>,
    log: Vec<change_log::ActiveModel>,
    stage_moves: Vec<StageMove>,
    external_ids: Vec<(ExternalKey, Uuid)>,
}

impl<E: Record> Writes<E> {
    /// Nothing yet; every entry is stamped `at` and names `actor`.
    pub(super) fn new(actor: Option<Uuid>, at: DateTime<Utc>) -> Self {
        Self {
            actor,
            at,
            inserts: Vec::new(),
            log: Vec::new(),
            stage_moves: Vec::new(),
            external_ids: Vec::new(),
        }
    }

    /// Queues a new record carrying `key`: sets its id, version 1,
    /// `updated_at` and (unless the source gave one) `created_at`. Returns
    /// its id.
    pub(super) fn insert(&mut self, mut am: E::ActiveModel, key: ExternalKey) -> Uuid {
        let (id, fields) = records::prepare_insert::<E>(&mut am, self.at);
        self.log.push(records::log_entry(
            self.actor,
            E::OBJECT,
            id,
            ChangeOperation::Upsert,
            fields,
            self.at,
        ));
        self.inserts.push(am);
        self.external_ids.push((key, id));
        id
    }

    /// Writes the changes `patch` makes to `current` now (updates go one
    /// statement per row), bumping the version and logging the changed
    /// fields. Returns the new version, or `None` when nothing changed.
    pub(super) async fn update(
        &mut self,
        txn: &impl ConnectionTrait,
        current: E::Model,
        patch: impl FnOnce(&mut E::ActiveModel),
    ) -> AppResult<Option<i32>> {
        self.write(txn, current, None, patch).await
    }

    /// Attaches `key` to the existing record `current` (matched another
    /// way than by it) and writes `patch`, as [`Self::update`] does; the
    /// version goes up and the log records `externalIds` even when no
    /// column changes.
    pub(super) async fn adopt(
        &mut self,
        txn: &impl ConnectionTrait,
        current: E::Model,
        key: ExternalKey,
        patch: impl FnOnce(&mut E::ActiveModel),
    ) -> AppResult<i32> {
        let version = E::version_of(&current) + 1;
        Ok(self
            .write(txn, current, Some(key), patch)
            .await?
            .unwrap_or(version))
    }

    async fn write(
        &mut self,
        txn: &impl ConnectionTrait,
        current: E::Model,
        adopted: Option<ExternalKey>,
        patch: impl FnOnce(&mut E::ActiveModel),
    ) -> AppResult<Option<i32>> {
        let id = E::id_of(&current);
        let version = E::version_of(&current) + 1;
        let mut am = current.into_active_model();
        patch(&mut am);
        let mut fields = records::set_fields(&am);
        if let Some(key) = adopted {
            self.external_ids.push((key, id));
            fields.push("externalIds".into());
        }
        if fields.is_empty() {
            return Ok(None);
        }
        am.set(E::version_column(), version.into());
        am.set(E::updated_at_column(), self.at.into());
        E::update(am).exec(txn).await?;
        self.log.push(records::log_entry(
            self.actor,
            E::OBJECT,
            id,
            ChangeOperation::Upsert,
            fields,
            self.at,
        ));
        Ok(Some(version))
    }

    /// Queues a stage move (a sync's stage moves carry the source's date).
    pub(super) fn stage_move(&mut self, stage_move: StageMove) {
        self.stage_moves.push(stage_move);
    }

    /// Inserts everything queued.
    pub(super) async fn flush(self, txn: &impl ConnectionTrait) -> AppResult<()> {
        insert_rows::<E>(txn, self.inserts).await?;
        stage_moves::record_all(txn, self.stage_moves).await?;
        let ids = external_ids::rows(E::OBJECT, self.external_ids, self.at);
        insert_rows::<external_id::Entity>(txn, ids).await?;
        insert_rows::<change_log::Entity>(txn, self.log).await
    }
}
