//! Live events: the `events` subscription and the `Event` type.
//!
//! Served over WebSocket (`/graphql/ws`, see `http::ws`). Events come from
//! the durable `events` table in stream order ([`Position`]), so a client
//! that reconnects with `after:` its last event's id misses nothing.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, Subscription};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{
    enums::{self, ObjectType},
    event,
};
use futures_util::Stream;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::{
    common::{Money, db, decode_opt_id, global_id, loaders},
    enums::{LeadStage, OpportunityStage, RejectionReason},
    lead::Lead,
    lead_definition::LeadDefinition,
    loaders::Loaders,
    opportunity::Opportunity,
    user::User,
};
use crate::{
    auth::{Action, PolicyGuard},
    error::{AppError, AppResult},
    event_hub::{EventHub, Reserved, Subscription as HubSubscription},
    graphql::common::viewer,
    services::{
        events::{self as stream, Position},
        lead_definitions,
    },
};

/// What happened.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::event::EventKind")]
pub enum EventKind {
    /// A lead met the approved definition (or was moved by hand) and became
    /// an MQL; its SLA clocks started. `lead`, `fitScore`,
    /// `engagementScore`, `definitionVersion` are set.
    LeadBecameMql,
    /// Sales accepted an MQL (MQL -> SAL). `lead`, `fromStage`, `toStage`.
    LeadAccepted,
    /// Sales rejected (-> NURTURE) or disqualified a lead. `lead`,
    /// `fromStage`, `toStage`, `reason`.
    LeadRejected,
    /// An MQL entered the last quarter of an SLA window. `lead` and the due
    /// times.
    LeadSlaAtRisk,
    /// An MQL passed an SLA due time without its action. `lead` and the due
    /// times.
    LeadSlaBreached,
    /// An opportunity was closed won or lost. `opportunity`,
    /// `opportunityStage`, `amount`.
    OpportunityClosed,
    /// Both teams signed a lead definition and it is now in force.
    /// `leadDefinition`, `definitionVersion`.
    DefinitionApproved,
}

/// An event of the stream (see the `#[Object]` impl for its description).
pub struct Event(pub event::Model);

/// The id of the event numbered `seq`: base64url of `Event:<seq>`.
fn event_id(seq: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("Event:{seq}")))
}

/// The `seq` of an event id, or a BAD_USER_INPUT error naming `argument`.
fn decode_event_id(id: &ID, argument: &str) -> AppResult<i64> {
    URL_SAFE_NO_PAD
        .decode(id.as_str())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.strip_prefix("Event:")?.parse().ok())
        .ok_or_else(|| AppError::BadUserInput(format!("`{argument}` is not the id of an event")))
}

impl Event {
    fn detail(&self, key: &str) -> Option<&Value> {
        self.0.data.as_ref()?.get(key).filter(|v| !v.is_null())
    }

    fn detail_str(&self, key: &str) -> Option<&str> {
        self.detail(key)?.as_str()
    }

    fn detail_i32(&self, key: &str) -> Option<i32> {
        self.detail(key)?.as_i64()?.try_into().ok()
    }

    fn detail_time(&self, key: &str) -> Option<DateTime<Utc>> {
        self.detail_str(key)?.parse().ok()
    }

    fn is_about(&self, object: ObjectType) -> bool {
        use entity::event::EventKind::*;
        let subject = match self.0.kind {
            LeadBecameMql | LeadAccepted | LeadRejected | LeadSlaAtRisk | LeadSlaBreached => {
                ObjectType::Lead
            }
            OpportunityClosed => ObjectType::Opportunity,
            DefinitionApproved => ObjectType::LeadDefinition,
        };
        subject == object
    }
}

/// Something that happened to a lead, an opportunity or a lead definition,
/// as recorded when its change committed. Which fields are set depends on
/// `kind` (see `EventKind`); the subject fields show the record as it is
/// now, the detail fields as it was then.
#[Object]
impl Event {
    /// The event's id. Pass it as `after:` to resume the stream after it.
    async fn id(&self) -> ID {
        event_id(self.0.seq)
    }
    /// What happened.
    async fn kind(&self) -> EventKind {
        self.0.kind.into()
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// The global id of the lead, opportunity or lead definition it
    /// happened to (set even when that record was deleted since).
    async fn subject_id(&self) -> ID {
        let object = if self.is_about(ObjectType::Lead) {
            ObjectType::Lead
        } else if self.is_about(ObjectType::Opportunity) {
            ObjectType::Opportunity
        } else {
            ObjectType::LeadDefinition
        };
        global_id(object, self.0.subject_id)
    }
    /// The owner of the subject when it happened.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(loaders(ctx)?.user(self.0.owner_id).await?.map(User))
    }
    /// The lead, as it is now, for lead events (null if deleted since).
    async fn lead(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        if !self.is_about(ObjectType::Lead) {
            return Ok(None);
        }
        Ok(loaders(ctx)?.lead(self.0.subject_id).await?.map(Lead))
    }
    /// The opportunity, as it is now, for OPPORTUNITY_CLOSED.
    async fn opportunity(&self, ctx: &Context<'_>) -> Result<Option<Opportunity>> {
        if !self.is_about(ObjectType::Opportunity) {
            return Ok(None);
        }
        Ok(loaders(ctx)?
            .opportunity(self.0.subject_id)
            .await?
            .map(Opportunity))
    }
    /// The lead definition, for DEFINITION_APPROVED.
    async fn lead_definition(&self, ctx: &Context<'_>) -> Result<Option<LeadDefinition>> {
        if !self.is_about(ObjectType::LeadDefinition) {
            return Ok(None);
        }
        Ok(lead_definitions::by_id(db(ctx)?, self.0.subject_id)
            .await?
            .map(LeadDefinition))
    }
    /// The lead's stage before (LEAD_ACCEPTED, LEAD_REJECTED).
    async fn from_stage(&self) -> Option<LeadStage> {
        stage(self.detail_str("from"))
    }
    /// The lead's stage after (LEAD_ACCEPTED, LEAD_REJECTED).
    async fn to_stage(&self) -> Option<LeadStage> {
        stage(self.detail_str("to"))
    }
    /// Why sales rejected or disqualified the lead (LEAD_REJECTED).
    async fn reason(&self) -> Option<RejectionReason> {
        use sea_orm::ActiveEnum;
        enums::RejectionReason::try_from_value(&self.detail_str("reason")?.to_owned())
            .ok()
            .map(Into::into)
    }
    /// Fit score when the lead became an MQL (LEAD_BECAME_MQL).
    async fn fit_score(&self) -> Option<i32> {
        self.detail_i32("fitScore")
    }
    /// Engagement score when the lead became an MQL (LEAD_BECAME_MQL).
    async fn engagement_score(&self) -> Option<i32> {
        self.detail_i32("engagementScore")
    }
    /// The lead definition version in force (LEAD_BECAME_MQL) or approved
    /// (DEFINITION_APPROVED).
    async fn definition_version(&self) -> Option<i32> {
        self.detail_i32("definitionVersion")
            .or_else(|| self.detail_i32("version"))
    }
    /// When first sales contact was due (SLA events).
    async fn sla_first_contact_due_at(&self) -> Option<DateTime<Utc>> {
        self.detail_time("slaFirstContactDueAt")
    }
    /// When accept/reject was due (SLA events).
    async fn sla_disposition_due_at(&self) -> Option<DateTime<Utc>> {
        self.detail_time("slaDispositionDueAt")
    }
    /// The stage the opportunity closed in (OPPORTUNITY_CLOSED).
    async fn opportunity_stage(&self) -> Option<OpportunityStage> {
        use sea_orm::ActiveEnum;
        enums::OpportunityStage::try_from_value(&self.detail_str("stage")?.to_owned())
            .ok()
            .map(Into::into)
    }
    /// The opportunity's amount when it closed (OPPORTUNITY_CLOSED).
    async fn amount(&self) -> Option<Money> {
        let amount: Decimal = self.detail_str("amount")?.parse().ok()?;
        Some(Money::new(amount, self.detail_str("currency")?))
    }
}

fn stage(name: Option<&str>) -> Option<LeadStage> {
    use sea_orm::ActiveEnum;
    enums::LeadStage::try_from_value(&name?.to_owned())
        .ok()
        .map(Into::into)
}

/// The root of every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live events over WebSocket at `/graphql/ws` (graphql-transport-ws).
#[Subscription]
impl SubscriptionRoot {
    /// Lead, opportunity and lead-definition events as they commit, in
    /// order, over `/graphql/ws` (graphql-transport-ws). Without `after`,
    /// events from now on; with `after`, every event after that one first
    /// (from the durable log), then live ones, with no gap and no
    /// duplicate. Filter by `kinds` (default: all) and by the subject's
    /// `ownerId`.
    #[graphql(guard = "PolicyGuard(Action::ReadRecords)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these kinds (default: every kind).")] kinds: Option<Vec<EventKind>>,
        #[graphql(desc = "Only events whose subject this user owned.")] owner_id: Option<ID>,
        #[graphql(desc = "Resume after this event id (from an earlier `Event.id`).")] after: Option<
            ID,
        >,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        viewer(ctx)?.require(Action::ReadRecords)?;
        let owner = decode_opt_id(owner_id.as_ref(), ObjectType::User, "ownerId")?;
        let kinds: Option<Vec<entity::event::EventKind>> =
            kinds.map(|k| k.into_iter().map(Into::into).collect());
        let db = db(ctx)?.clone();
        let resume = match after {
            Some(id) => {
                let seq = decode_event_id(&id, "after")?;
                Some(stream::position_of(&db, seq).await?.ok_or_else(|| {
                    AppError::NotFound(format!("there is no event with id `{}`", id.as_str()))
                })?)
            }
            None => None,
        };
        let loaders = ctx
            .data_opt::<Arc<Loaders>>()
            .ok_or_else(|| AppError::Internal("no loaders in the request".into()))?
            .clone();
        // Started when the server read the subscribe message, if the
        // transport did that (see `event_hub::Reserved`).
        let reserved = ctx.data_opt::<Reserved>().and_then(Reserved::take);
        let HubSubscription {
            mut receiver,
            position,
        } = match reserved {
            Some(subscription) => subscription,
            None => {
                ctx.data_opt::<EventHub>()
                    .ok_or_else(|| AppError::Internal("no event hub in the request".into()))?
                    .subscribe()
                    .await?
            }
        };
        let metrics = ctx.data_opt::<Arc<crate::telemetry::Metrics>>().cloned();
        let wanted = move |e: &event::Model| {
            kinds.as_ref().is_none_or(|k| k.contains(&e.kind))
                && owner.is_none_or(|o| e.owner_id == Some(o))
        };

        Ok(async_stream::stream! {
            // Everything up to here has been delivered (or predates us).
            let mut delivered = resume.unwrap_or(position);
            let mut replaying = resume.is_some();
            loop {
                if replaying {
                    // From the table until level with the live stream.
                    let rows = match HubSubscription::catch_up(&db, delivered).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            yield Err(async_graphql::Error::from(e));
                            break;
                        }
                    };
                    let level = rows.len() < HubSubscription::BATCH;
                    for row in rows {
                        delivered = Position::of(&row);
                        if wanted(&row) {
                            loaders.clear();
                            yield Ok(Event(row));
                        }
                    }
                    replaying = !level;
                    continue;
                }
                match receiver.recv().await {
                    Ok(row) if Position::of(&row) > delivered => {
                        delivered = Position::of(&row);
                        if wanted(&row) {
                            if let Some(metrics) = &metrics {
                                let lag = crate::clock::utc_now() - row.at;
                                metrics.event_lag(lag.to_std().unwrap_or_default());
                            }
                            loaders.clear();
                            yield Ok(Event(row.as_ref().clone()));
                        }
                    }
                    Ok(_) => {}
                    // Fell behind the buffer: read what we missed.
                    Err(RecvError::Lagged(_)) => replaying = true,
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn event_ids_round_trip_and_reject_other_ids() {
        let id = event_id(42);
        assert_eq!(decode_event_id(&id, "after").ok(), Some(42));
        assert!(decode_event_id(&global_id(ObjectType::Lead, Uuid::nil()), "after").is_err());
        assert!(decode_event_id(&ID("not base64!".into()), "after").is_err());
    }
}
