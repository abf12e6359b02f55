//! External ids in the API: the `ExternalId` type and the `externalIds`
//! field of every record that carries them, lookups by external id
//! (`recordByExternalId`, `recordsByExternalIds`), and attaching or
//! detaching ids by hand (`addExternalId`, `removeExternalId`).

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::{account, activity, campaign, enums::ObjectType, lead, opportunity, user};
use futures_util::future::try_join_all;
use uuid::Uuid;

use super::{
    account::Account,
    campaign::Campaign,
    common::{UserError, db, loaders, parse_global_id, payload, type_name, viewer},
    enums::{self, ExternalSystem},
    lead::Lead,
    lifecycle::Activity,
    node::{Node, load_object, prefetch_objects},
    opportunity::Opportunity,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::AppError,
    services::{
        external_ids::{self as svc, CARRIERS, Changed, ExternalKey, Presence},
        records::Record,
    },
};

/// A record's id in an external system. A record may carry several, in one
/// system or several; within one system and kind of record an id names at
/// most one record.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExternalId {
    /// The system that issued the id.
    pub system: ExternalSystem,
    /// The id as that system spells it (trimmed; compared exactly).
    pub external_id: String,
}

impl From<ExternalKey> for ExternalId {
    fn from(key: ExternalKey) -> Self {
        Self {
            system: key.system.into(),
            external_id: key.id,
        }
    }
}

/// The `externalIds` field of a record: checked against the viewer here
/// (guards are skipped through interfaces) and loaded through the
/// request's DataLoader.
pub(crate) async fn of(ctx: &Context<'_>, object: ObjectType, id: Uuid) -> Result<Vec<ExternalId>> {
    viewer(ctx)?.require(Action::ReadRecords)?;
    Ok(loaders(ctx)?
        .external_ids(object, id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Loads the external ids of a page of records, or of the records a page
/// relates to, when `selection` (the page's, or a relation's) asks for
/// them: one query, whatever the page size.
pub(crate) async fn prefetch(
    ctx: &Context<'_>,
    selection: &async_graphql::Lookahead<'_>,
    object: ObjectType,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<()> {
    if selection.field("externalIds").exists() {
        loaders(ctx)?.prefetch_external_ids(object, ids).await?;
    }
    Ok(())
}

/// The service form of a list filter's `hasExternalIdIn` and
/// `lacksExternalIdIn`.
pub(crate) fn presence(has: Option<ExternalSystem>, lacks: Option<ExternalSystem>) -> Presence {
    Presence {
        has_in: has.map(Into::into),
        lacks_in: lacks.map(Into::into),
    }
}

/// Looks records up and loads them as nodes, in the order given.
async fn records(
    ctx: &Context<'_>,
    system: ExternalSystem,
    object_type: enums::ObjectType,
    external_ids: &[String],
) -> Result<Vec<Option<Node>>> {
    let object: ObjectType = object_type.into();
    let ids = svc::lookup(db(ctx)?, viewer(ctx)?, object, system.into(), external_ids).await?;
    prefetch_objects(ctx, ids.iter().flatten().map(|id| (object, *id))).await?;
    try_join_all(ids.into_iter().map(|id| async move {
        match id {
            Some(id) => load_object(ctx, object, id).await,
            None => Ok(None),
        }
    }))
    .await
}

/// `recordByExternalId` and `recordsByExternalIds`.
#[derive(Default)]
pub struct ExternalIdQuery;

#[Object]
impl ExternalIdQuery {
    /// The record of `objectType` that carries `externalId` in `system`
    /// (the same object `node(id:)` returns); null when none does or it has
    /// been deleted. `objectType` is ACCOUNT, LEAD, CAMPAIGN, OPPORTUNITY,
    /// ACTIVITY or USER; another is BAD_USER_INPUT.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn record_by_external_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The system that issued the id.")] system: ExternalSystem,
        #[graphql(desc = "The kind of record the id names in that system.")]
        object_type: enums::ObjectType,
        #[graphql(desc = "The id, as that system spells it (surrounding spaces are ignored).")]
        external_id: String,
    ) -> Result<Option<Node>> {
        Ok(records(ctx, system, object_type, &[external_id])
            .await?
            .pop()
            .flatten())
    }

    /// The records of `objectType` that carry these ids in `system`, in the
    /// order given (at most 100), null for each id that names no live
    /// record: how a sync job maps a page of its ids to Handoff's in one
    /// request.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn records_by_external_ids(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The system that issued the ids.")] system: ExternalSystem,
        #[graphql(desc = "The kind of record the ids name in that system.")]
        object_type: enums::ObjectType,
        #[graphql(desc = "The ids, as that system spells them; at most 100.")] external_ids: Vec<
            String,
        >,
    ) -> Result<Vec<Option<Node>>> {
        records(ctx, system, object_type, &external_ids).await
    }
}

/// Input of `addExternalId`.
#[derive(InputObject)]
pub struct AddExternalIdInput {
    /// The record: an account, lead, campaign, opportunity, activity or user.
    pub id: ID,
    /// The system that issued the id.
    pub system: ExternalSystem,
    /// The id as that system spells it: 1-255 characters once trimmed.
    pub external_id: String,
    /// Refuse with CONFLICT unless the record is at this version.
    pub expected_version: Option<i32>,
}

/// Input of `removeExternalId`.
#[derive(InputObject)]
pub struct RemoveExternalIdInput {
    /// The record: an account, lead, campaign, opportunity, activity or user.
    pub id: ID,
    /// The system that issued the id.
    pub system: ExternalSystem,
    /// The id to remove, as the record carries it.
    pub external_id: String,
    /// Refuse with CONFLICT unless the record is at this version.
    pub expected_version: Option<i32>,
}

/// Result of `addExternalId` and `removeExternalId`.
#[derive(SimpleObject)]
pub struct ExternalIdPayload {
    /// The record as it now is, with its `externalIds`; null when nothing
    /// was written because of `userErrors`.
    pub record: Option<Node>,
    /// Validation failures; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Adding or removing.
#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

/// The record type and id of a global id that may carry external ids.
fn carrier(id: &ID) -> Result<(ObjectType, Uuid), AppError> {
    parse_global_id(id)
        .and_then(|(kind, uuid)| {
            CARRIERS
                .into_iter()
                .find(|t| type_name(*t) == kind)
                .map(|t| (t, uuid))
        })
        .ok_or_else(|| {
            AppError::BadUserInput(
                "`input.id` is not the id of an account, lead, campaign, opportunity, activity or user"
                    .into(),
            )
        })
}

/// One `addExternalId` or `removeExternalId`, decoded.
struct Request<'a> {
    change: Change,
    id: Uuid,
    system: ExternalSystem,
    external_id: &'a str,
    expected_version: Option<i32>,
}

/// Runs one change on a record of type `E` and shapes its payload.
async fn run<E: Record>(
    ctx: &Context<'_>,
    r: Request<'_>,
    wrap: fn(E::Model) -> Node,
) -> Result<ExternalIdPayload> {
    let (db, viewer) = (db(ctx)?, viewer(ctx)?);
    let (id, system, version) = (r.id, r.system.into(), r.expected_version);
    let result = match r.change {
        Change::Add => svc::attach::<E>(db, viewer, id, r.external_id, system, version).await,
        Change::Remove => svc::detach::<E>(db, viewer, id, r.external_id, system, version).await,
    };
    let (changed, user_errors) = payload(result, |c: Changed<E::Model>| c)?;
    let record = match changed {
        Some(c) => {
            // A read earlier in this request may have cached the old list.
            loaders(ctx)?
                .feed_external_ids(E::OBJECT, id, c.external_ids)
                .await;
            Some(wrap(c.record))
        }
        None => None,
    };
    Ok(ExternalIdPayload {
        record,
        user_errors,
    })
}

async fn change(
    ctx: &Context<'_>,
    change: Change,
    id: &ID,
    system: ExternalSystem,
    external_id: &str,
    expected_version: Option<i32>,
) -> Result<ExternalIdPayload> {
    let (object, id) = carrier(id)?;
    let r = Request {
        change,
        id,
        system,
        external_id,
        expected_version,
    };
    match object {
        ObjectType::Account => run::<account::Entity>(ctx, r, |m| Node::Account(Account(m))).await,
        ObjectType::Lead => run::<lead::Entity>(ctx, r, |m| Node::Lead(Lead(m))).await,
        ObjectType::Campaign => {
            run::<campaign::Entity>(ctx, r, |m| Node::Campaign(Campaign(m))).await
        }
        ObjectType::Opportunity => {
            run::<opportunity::Entity>(ctx, r, |m| Node::Opportunity(Opportunity(m))).await
        }
        ObjectType::Activity => {
            run::<activity::Entity>(ctx, r, |m| Node::Activity(Activity(m))).await
        }
        ObjectType::User => run::<user::Entity>(ctx, r, |m| Node::User(User(m))).await,
        // `carrier` returns only the kinds above.
        other => Err(AppError::BadUserInput(format!(
            "records of type {other} carry no external ids"
        ))
        .into()),
    }
}

/// `addExternalId` and `removeExternalId`.
#[derive(Default)]
pub struct ExternalIdMutation;

#[Object]
impl ExternalIdMutation {
    /// Attaches an external id to a record, for ids no sync job writes
    /// (users, or records created by hand before a sync started). The id
    /// must not name another record of the same kind in that system
    /// (TAKEN, deleted records included); the same id in another system or
    /// on another kind of record is fine. Attaching an id the record
    /// already has changes nothing; otherwise the record's version goes up
    /// and the change feed shows `externalIds` changed. Roles: ADMIN,
    /// INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn add_external_id(
        &self,
        ctx: &Context<'_>,
        input: AddExternalIdInput,
    ) -> Result<ExternalIdPayload> {
        change(
            ctx,
            Change::Add,
            &input.id,
            input.system,
            &input.external_id,
            input.expected_version,
        )
        .await
    }

    /// Detaches an external id from a record (NOT_FOUND in `userErrors`
    /// when the record does not carry it). The record's version goes up and
    /// the change feed shows `externalIds` changed. Roles: ADMIN,
    /// INTEGRATION.
    #[graphql(guard = "PolicyGuard(Action::SyncRecords)")]
    async fn remove_external_id(
        &self,
        ctx: &Context<'_>,
        input: RemoveExternalIdInput,
    ) -> Result<ExternalIdPayload> {
        change(
            ctx,
            Change::Remove,
            &input.id,
            input.system,
            &input.external_id,
            input.expected_version,
        )
        .await
    }
}
