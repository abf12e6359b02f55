//! Indexes for the closed-loop analytics (`Campaign.performance`,
//! `winLossAnalysis`, `leadRejectionAnalysis`, attribution):
//!
//! - a campaign's sourced leads in a period: `leads (source_campaign_id,
//!   created_at)`;
//! - "did this lead have a touch of this campaign before then": `activities
//!   (lead_id, campaign_id, occurred_at)`;
//! - closed deals in a period by outcome: `opportunities (stage, closed_at)`;
//! - lead transitions out of a stage in a period (dispositions):
//!   `stage_changes (subject_type, from_stage, at)`;
//! - feedback by competitor: `win_loss_feedback (competitor_id)`.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000007_add_analytics_indexes"
    }
}

const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "ix_leads_source_campaign_created",
        "leads",
        &["source_campaign_id", "created_at"],
    ),
    (
        "ix_activities_lead_campaign",
        "activities",
        &["lead_id", "campaign_id", "occurred_at"],
    ),
    (
        "ix_opportunities_stage_closed",
        "opportunities",
        &["stage", "closed_at"],
    ),
    (
        "ix_stage_changes_from",
        "stage_changes",
        &["subject_type", "from_stage", "at"],
    ),
    (
        "ix_win_loss_feedback_competitor",
        "win_loss_feedback",
        &["competitor_id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            let mut i = Index::create();
            i.name(*name).table(Alias::new(*table)).if_not_exists();
            for c in *cols {
                i.col(Alias::new(*c));
            }
            m.create_index(i.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(*table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
