//! The Relay `Node` interface: any object by its global id.

use async_graphql::{Context, ID, Interface, Object, Result};
use entity::enums::ObjectType;
use futures_util::future::try_join_all;
use uuid::Uuid;

use super::{
    account::Account,
    campaign::Campaign,
    common::{loaders, parse_global_id},
    competitor::Competitor,
    feedback::WinLossFeedback,
    lead::Lead,
    lifecycle::Activity,
    opportunity::Opportunity,
    spend::CampaignSpend,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::AppError,
};

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    /// An account.
    Account(Account),
    /// A lead.
    Lead(Lead),
    /// A campaign.
    Campaign(Campaign),
    /// An opportunity.
    Opportunity(Opportunity),
    /// A user.
    User(User),
    /// A competitor.
    Competitor(Competitor),
    /// A campaign spend entry.
    CampaignSpend(CampaignSpend),
    /// Win/loss feedback.
    WinLossFeedback(WinLossFeedback),
    /// An activity (a touch on a lead).
    Activity(Activity),
}

impl Node {
    /// The record's version (+1 on every write that changed it).
    pub fn version(&self) -> i32 {
        match self {
            Node::Account(x) => x.0.version,
            Node::Lead(x) => x.0.version,
            Node::Campaign(x) => x.0.version,
            Node::Opportunity(x) => x.0.version,
            Node::User(x) => x.0.version,
            Node::Competitor(x) => x.0.version,
            Node::CampaignSpend(x) => x.0.version,
            Node::WinLossFeedback(x) => x.0.version,
            Node::Activity(x) => x.0.version,
        }
    }
}

/// Loads the live record of `object` with id `id` through the request's
/// loaders; none when it was deleted or its type is not a `Node`.
pub async fn load_object(ctx: &Context<'_>, object: ObjectType, id: Uuid) -> Result<Option<Node>> {
    let l = loaders(ctx)?;
    Ok(match object {
        ObjectType::Account => l.account(id).await?.map(|m| Node::Account(Account(m))),
        ObjectType::Lead => l.lead(id).await?.map(|m| Node::Lead(Lead(m))),
        ObjectType::Campaign => l.campaign(id).await?.map(|m| Node::Campaign(Campaign(m))),
        ObjectType::Opportunity => l
            .opportunity(id)
            .await?
            .map(|m| Node::Opportunity(Opportunity(m))),
        ObjectType::User => l.user(id).await?.map(|m| Node::User(User(m))),
        ObjectType::Competitor => l
            .competitor(id)
            .await?
            .map(|m| Node::Competitor(Competitor(m))),
        ObjectType::CampaignSpend => l
            .campaign_spend(id)
            .await?
            .map(|m| Node::CampaignSpend(CampaignSpend(m))),
        ObjectType::WinLossFeedback => l
            .win_loss_feedback(id)
            .await?
            .map(|m| Node::WinLossFeedback(WinLossFeedback(m))),
        ObjectType::Activity => l.activity(id).await?.map(|m| Node::Activity(Activity(m))),
        ObjectType::StageChange | ObjectType::LeadDefinition | ObjectType::KpiTarget => None,
    })
}

/// Loads the records of many `(type, id)` pairs into the request's loader
/// caches, one query per type, so that [`load_object`] then finds them.
pub async fn prefetch_objects(
    ctx: &Context<'_>,
    objects: impl IntoIterator<Item = (ObjectType, Uuid)>,
) -> Result<()> {
    let objects: Vec<_> = objects.into_iter().collect();
    let of = |t: ObjectType| {
        objects
            .iter()
            .filter(move |(o, _)| *o == t)
            .map(|(_, id)| Some(*id))
    };
    let l = loaders(ctx)?;
    l.prefetch_accounts(of(ObjectType::Account)).await?;
    l.prefetch_leads(of(ObjectType::Lead)).await?;
    l.prefetch_campaigns(of(ObjectType::Campaign)).await?;
    l.prefetch_opportunities(of(ObjectType::Opportunity))
        .await?;
    l.prefetch_users(of(ObjectType::User)).await?;
    l.prefetch_competitors(of(ObjectType::Competitor)).await?;
    l.prefetch_spend(of(ObjectType::CampaignSpend)).await?;
    l.prefetch_feedback_by_id(of(ObjectType::WinLossFeedback))
        .await?;
    l.prefetch_activities(of(ObjectType::Activity)).await?;
    Ok(())
}

/// Most ids `nodes(ids:)` takes.
pub const MAX_NODES: usize = 100;

async fn load(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let Some((kind, uuid)) = parse_global_id(id) else {
        return Ok(None);
    };
    let l = loaders(ctx)?;
    Ok(match kind.as_str() {
        "Account" => l.account(uuid).await?.map(|m| Node::Account(Account(m))),
        "Lead" => l.lead(uuid).await?.map(|m| Node::Lead(Lead(m))),
        "Campaign" => l.campaign(uuid).await?.map(|m| Node::Campaign(Campaign(m))),
        "Opportunity" => l
            .opportunity(uuid)
            .await?
            .map(|m| Node::Opportunity(Opportunity(m))),
        "User" => l.user(uuid).await?.map(|m| Node::User(User(m))),
        "Competitor" => l
            .competitor(uuid)
            .await?
            .map(|m| Node::Competitor(Competitor(m))),
        "CampaignSpend" => l
            .campaign_spend(uuid)
            .await?
            .map(|m| Node::CampaignSpend(CampaignSpend(m))),
        "WinLossFeedback" => l
            .win_loss_feedback(uuid)
            .await?
            .map(|m| Node::WinLossFeedback(WinLossFeedback(m))),
        "Activity" => l.activity(uuid).await?.map(|m| Node::Activity(Activity(m))),
        _ => None,
    })
}

/// `node` and `nodes`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when there is none (or it was deleted).
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        load(ctx, &id).await
    }

    /// Objects by global id, in the order given (at most 100); null for each
    /// id that names nothing.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::BadUserInput(format!(
                "`ids` may hold at most {MAX_NODES} ids, got {}",
                ids.len()
            ))
            .into());
        }
        try_join_all(ids.iter().map(|id| load(ctx, id))).await
    }
}
