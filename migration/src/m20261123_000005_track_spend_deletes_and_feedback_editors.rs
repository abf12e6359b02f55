//! Campaign spend and win/loss feedback become full records like the others.
//!
//! - `campaign_spend.deleted_at`: deleting a spend entry is a soft delete, so
//!   the deletion reaches sync jobs as a tombstone (docs/sync.md).
//! - `win_loss_feedback.deleted_at`: the same for feedback (no mutation deletes
//!   feedback yet; the column keeps it on the common write path).
//! - `win_loss_feedback.last_edited_by_id`: who last changed the feedback; the
//!   author stays the user who first wrote it. No foreign key: SQLite cannot
//!   add one to an existing table, and users are only ever soft-deleted.
//! - Indexes for the feedback list: keyset orderings and the filters marketing
//!   reads the loop by.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000005_track_spend_deletes_and_feedback_editors"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds only one at a time.
        m.alter_table(
            Table::alter()
                .table(CampaignSpend::Table)
                .add_column(timestamp_with_time_zone_null(CampaignSpend::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WinLossFeedback::Table)
                .add_column(timestamp_with_time_zone_null(WinLossFeedback::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WinLossFeedback::Table)
                .add_column(uuid_null(WinLossFeedback::LastEditedById))
                .to_owned(),
        )
        .await?;
        let indexes: &[(&str, &str, &[&str])] = &[
            (
                "ix_win_loss_feedback_created",
                "win_loss_feedback",
                &["created_at", "id"],
            ),
            (
                "ix_win_loss_feedback_updated",
                "win_loss_feedback",
                &["updated_at", "id"],
            ),
            (
                "ix_win_loss_feedback_reason",
                "win_loss_feedback",
                &["primary_reason"],
            ),
            (
                "ix_win_loss_feedback_competitor",
                "win_loss_feedback",
                &["competitor_id"],
            ),
        ];
        for (name, table, columns) in indexes {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table)).if_not_exists();
            for c in *columns {
                index.col(Alias::new(*c));
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_win_loss_feedback_created",
            "ix_win_loss_feedback_updated",
            "ix_win_loss_feedback_reason",
            "ix_win_loss_feedback_competitor",
        ] {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(WinLossFeedback::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(WinLossFeedback::Table)
                .drop_column(WinLossFeedback::LastEditedById)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WinLossFeedback::Table)
                .drop_column(WinLossFeedback::DeletedAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(CampaignSpend::Table)
                .drop_column(CampaignSpend::DeletedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum CampaignSpend {
    Table,
    DeletedAt,
}

#[derive(DeriveIden)]
enum WinLossFeedback {
    Table,
    DeletedAt,
    LastEditedById,
}
