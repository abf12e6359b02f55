//! The durable event stream (`events`): what happened to leads, deals and
//! definitions, in `seq` order. It feeds GraphQL subscriptions across
//! replicas and lets a subscriber resume after the last `seq` it saw.
//!
//! `kind` is stored as its API name (`LEAD_SLA_BREACHED`) like every other
//! enumeration. `subject_id` names a lead, an opportunity or a definition
//! depending on `kind`, so it has no foreign key; events are append-only and
//! outlive what they describe. `(kind, seq)` serves "events of these kinds
//! after seq N"; `(subject_id)` serves a subject's history.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_create_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Events::Table)
                .if_not_exists()
                .col(big_pk_auto(Events::Seq))
                .col(string_len(Events::Kind, 32))
                .col(uuid(Events::SubjectId))
                .col(uuid_null(Events::OwnerId))
                .col(timestamp_with_time_zone(Events::At))
                .col(json_null(Events::Data))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_kind_seq")
                .table(Events::Table)
                .if_not_exists()
                .col(Events::Kind)
                .col(Events::Seq)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_subject")
                .table(Events::Table)
                .if_not_exists()
                .col(Events::SubjectId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Events::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    Kind,
    SubjectId,
    OwnerId,
    At,
    Data,
}
