//! Recording what a lead did, or what sales did to a lead.
//!
//! A marketing activity rescores the lead under the approved definition
//! (which may make a NEW lead MQL); a sales touch (CALL, EMAIL_SENT,
//! MEETING) on an MQL without one sets its first contact and its SLA status.

use chrono::{DateTime, Utc};
use entity::{
    activity, campaign,
    enums::{ActivityKind, Role, SlaStatus},
    lead,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

use super::{
    records::{self, now},
    scoring::{self, Scope},
};
use crate::{
    auth::{Action, Viewer},
    db::begin_write,
    domain::{sla::SlaClock, validate::Errors},
    error::{AppError, AppResult, UserErrorCode},
};

/// A new activity.
#[derive(Debug, Clone)]
pub struct NewActivity {
    /// The lead.
    pub lead_id: Uuid,
    /// What happened.
    pub kind: ActivityKind,
    /// When (default: now); never in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The campaign, when this is a campaign touch.
    pub campaign_id: Option<Uuid>,
    /// Free text.
    pub note: Option<String>,
}

/// Records an activity and applies its effects; returns it and the lead as
/// it now is.
#[tracing::instrument(skip_all, fields(viewer = %viewer))]
pub async fn record(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewActivity,
) -> AppResult<(activity::Model, lead::Model)> {
    viewer.require(Action::RecordActivity)?;
    let sales_touch = input.kind.is_sales_touch();
    match viewer.role {
        Role::Sales if !sales_touch => {
            return Err(AppError::Forbidden(
                "SALES records sales touches (CALL, EMAIL_SENT, MEETING); marketing activities come from marketing".into(),
            ));
        }
        Role::Marketing if sales_touch => {
            return Err(AppError::Forbidden(
                "MARKETING records marketing activities; sales touches come from sales".into(),
            ));
        }
        _ => {}
    }
    let at = now();
    let occurred_at = input.occurred_at.unwrap_or(at);
    let mut e = Errors::new();
    if occurred_at > at {
        e.add(
            "occurredAt",
            UserErrorCode::OutOfRange,
            "`occurredAt` is in the future",
        );
    }
    let note = e.optional_text("note", input.note.as_deref(), 2000);

    let txn = begin_write(db).await?;
    let current = records::lock::<lead::Entity>(&txn, input.lead_id)
        .await
        .map_err(|_| {
            AppError::invalid("leadId", UserErrorCode::NotFound, "`leadId` names no lead")
        })?;
    if let Some(id) = input.campaign_id
        && records::find::<campaign::Entity>(&txn, id).await?.is_none()
    {
        e.add(
            "campaignId",
            UserErrorCode::NotFound,
            "`campaignId` names no campaign",
        );
    }
    e.finish()?;
    viewer.require_on(Action::RecordActivity, current.owner_id)?;

    let mut am = activity::ActiveModel {
        lead_id: Set(input.lead_id),
        kind: Set(input.kind),
        occurred_at: Set(occurred_at),
        campaign_id: Set(input.campaign_id),
        actor_id: Set(Some(viewer.user_id)),
        note: Set(note),
        deleted_at: Set(None),
        ..Default::default()
    };
    records::insert_at::<activity::Entity>(&txn, Some(viewer.user_id), &mut am, at).await?;
    let activity_id = match &am.id {
        Set(id) => *id,
        _ => return Err(AppError::Internal("activity without id".into())),
    };

    let lead = if sales_touch {
        first_contact(&txn, viewer, current, occurred_at, at).await?
    } else {
        scoring::rescore_if_approved(
            &txn,
            Scope::Leads(vec![input.lead_id]),
            Some(viewer.user_id),
        )
        .await?;
        records::lock::<lead::Entity>(&txn, input.lead_id).await?
    };
    let activity = records::find::<activity::Entity>(&txn, activity_id)
        .await?
        .ok_or_else(|| AppError::Internal("activity vanished".into()))?;
    txn.commit().await?;
    Ok((activity, lead))
}

/// Sets the first sales touch of an MQL-cycle lead that has none, and its
/// SLA status.
async fn first_contact(
    txn: &sea_orm::DatabaseTransaction,
    viewer: &Viewer,
    lead: lead::Model,
    touched_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<lead::Model> {
    let (Some(mql_at), Some(first_due), Some(disposition_due)) = (
        lead.mql_at,
        lead.sla_first_contact_due_at,
        lead.sla_disposition_due_at,
    ) else {
        return Ok(lead);
    };
    if lead.first_contacted_at.is_some() || touched_at < mql_at {
        return Ok(lead);
    }
    let clock = SlaClock {
        mql_at,
        first_contact_due_at: first_due,
        first_contacted_at: Some(touched_at),
        disposition_due_at: disposition_due,
        dispositioned_at: lead.dispositioned_at,
    };
    // A breach stays a breach for that MQL cycle (its event has been sent),
    // even when a touch that happened in time is recorded late.
    let status = match lead.sla_status {
        Some(SlaStatus::Breached) => SlaStatus::Breached,
        _ => clock.status(now),
    };
    let (model, _) = records::update::<lead::Entity>(txn, Some(viewer.user_id), lead, |am| {
        am.first_contacted_at = Set(Some(touched_at));
        am.sla_status.set_if_not_equals(Some(status));
    })
    .await?;
    Ok(model)
}
