//! The Relay `Node` interface: any object by its global id.

use async_graphql::{Context, ID, Interface, Object, Result};
use futures_util::future::try_join_all;

use super::{
    account::Account,
    campaign::Campaign,
    common::{loaders, parse_global_id},
    competitor::Competitor,
    feedback::WinLossFeedback,
    lead::Lead,
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
