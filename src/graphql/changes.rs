//! The change feed for sync jobs: `changes` and the `Change` type.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::change_log;

use super::{
    common::{db, global_id, viewer},
    enums::{ChangeOperation, ObjectType},
    node::{Node, load_object, prefetch_objects},
};
use crate::{
    auth::{Action, PolicyGuard},
    services::changes::{self, ChangesRequest},
};

/// One entry of the change feed (see the `#[Object]` impl).
pub struct Change {
    cursor: String,
    entry: change_log::Model,
}

/// One entry of the change feed: a record was created or updated (UPSERT)
/// or deleted (DELETE, a tombstone).
#[Object]
impl Change {
    /// Where this entry is in the feed: pass it as `after` to read what
    /// follows it.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The kind of the changed record.
    async fn object_type(&self) -> ObjectType {
        self.entry.object_type.into()
    }

    /// The changed record's global id (the same id `node(id:)` takes).
    async fn object_id(&self) -> ID {
        global_id(self.entry.object_type, self.entry.object_id)
    }

    /// What the change did.
    async fn operation(&self) -> ChangeOperation {
        self.entry.operation.into()
    }

    /// When the change was made.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.entry.at
    }

    /// The API names of the fields this change set.
    async fn changed_fields(&self) -> Vec<String> {
        self.entry
            .changed_fields
            .as_ref()
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The record's current version (that of `node`); null when `node` is.
    async fn version(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(self.node(ctx).await?.map(|n| n.version()))
    }

    /// The record as it is now, not as it was at this change: a record
    /// written twice shows its latest state in both entries. Null when it
    /// has been deleted since (or by this change), and for kinds that are
    /// not a `Node` (stage changes, lead definitions, KPI targets).
    async fn node(&self, ctx: &Context<'_>) -> Result<Option<Node>> {
        load_object(ctx, self.entry.object_type, self.entry.object_id).await
    }
}

/// A page of the change feed.
#[derive(SimpleObject)]
pub struct ChangePage {
    /// The changes, oldest commit first. Entries are not collapsed: a
    /// record written twice since `after` has two entries, each showing
    /// its current state.
    pub nodes: Vec<Change>,
    /// Store this and pass it as `after` next time. It is the last entry's
    /// cursor, or the `after` given when the page is empty, so polling with
    /// nothing new returns the same cursor. Never null.
    pub end_cursor: String,
    /// More changes can be read now: ask again with `endCursor` at once.
    /// When false, poll later.
    pub has_more: bool,
}

/// `changes`.
#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// Every create, update and delete of every record, in commit order,
    /// for sync jobs. Gapless: a transaction that commits late is held
    /// back until it can be returned in order, so a job that resumes from
    /// its last `endCursor` misses nothing and sees nothing twice.
    #[graphql(guard = "PolicyGuard(Action::ReadChanges)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The `endCursor` (or an entry's `cursor`) of the last page read; \
                          from the start of the feed when omitted."
        )]
        after: Option<String>,
        #[graphql(desc = "Only changes to these kinds of record (all when omitted).")]
        object_types: Option<Vec<ObjectType>>,
        #[graphql(desc = "Most entries to return, 1 to 1000.", default = 100)] first: i32,
    ) -> Result<ChangePage> {
        let page = changes::read(
            db(ctx)?,
            viewer(ctx)?,
            ChangesRequest {
                after,
                object_types: object_types.map(|t| t.into_iter().map(Into::into).collect()),
                first: Some(first),
            },
        )
        .await?;
        prefetch_objects(
            ctx,
            page.changes
                .iter()
                .map(|(_, e)| (e.object_type, e.object_id)),
        )
        .await?;
        Ok(ChangePage {
            nodes: page
                .changes
                .into_iter()
                .map(|(cursor, entry)| Change { cursor, entry })
                .collect(),
            end_cursor: page.end_cursor,
            has_more: page.has_more,
        })
    }
}
