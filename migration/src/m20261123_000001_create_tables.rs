//! The whole data model (docs/architecture.md describes it as built).
//!
//! Enumerations are stored as their GraphQL names (`MQL`, `CLOSED_WON`) in
//! short strings, so the two databases and the API agree without mapping
//! tables. Money is `decimal(18, 2)` plus an ISO 4217 currency: NUMERIC on
//! PostgreSQL; SQLite has no decimal type and stores REAL, rounded to cents
//! when read.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_create_tables"
    }
}

/// Columns every table has: `id`, `created_at`, `updated_at`.
fn base<T: IntoIden + 'static>(table: T) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(table)
        .if_not_exists()
        .col(pk_uuid(Alias::new("id")))
        .col(timestamp_with_time_zone(Alias::new("created_at")))
        .col(timestamp_with_time_zone(Alias::new("updated_at")));
    t
}

/// Columns of records that sync jobs touch: optimistic `version` and a soft
/// delete, so deletions reach sync jobs as tombstones.
fn syncable(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(integer(Alias::new("version")).default(1))
        .col(timestamp_with_time_zone_null(Alias::new("deleted_at")))
}

fn money<T: IntoIden>(col: T) -> ColumnDef {
    decimal_len(col, 18, 2)
}

fn money_null<T: IntoIden>(col: T) -> ColumnDef {
    decimal_len_null(col, 18, 2)
}

fn enum_col<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 32)
}

fn enum_col_null<T: IntoIden>(col: T) -> ColumnDef {
    string_len_null(col, 32)
}

fn fk<F: IntoIden, T: IntoIden>(
    name: &str,
    from: (F, Alias),
    to: T,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        m.create_table(
            syncable(
                base(Users::Table)
                    .col(string_len(Users::Name, 200))
                    .col(string_len_uniq(Users::Email, 320))
                    .col(enum_col(Users::Role))
                    .col(enum_col(Users::Team))
                    .col(boolean(Users::Active).default(true)),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            base(LeadDefinitions::Table)
                .col(integer_uniq(LeadDefinitions::Version))
                .col(enum_col(LeadDefinitions::Status))
                .col(text_null(LeadDefinitions::Description))
                .col(json(LeadDefinitions::FitCriteria))
                .col(json(LeadDefinitions::EngagementRules))
                .col(double(LeadDefinitions::HalfLifeDays))
                .col(integer(LeadDefinitions::MqlFitMin))
                .col(integer(LeadDefinitions::MqlEngagementMin))
                .col(integer(LeadDefinitions::FirstContactHours).default(24))
                .col(integer(LeadDefinitions::DispositionHours).default(48))
                .col(date(LeadDefinitions::ReviewBy))
                .col(uuid_null(LeadDefinitions::CreatedById))
                .col(timestamp_with_time_zone_null(LeadDefinitions::ApprovedAt))
                .col(timestamp_with_time_zone_null(LeadDefinitions::SupersededAt))
                .foreign_key(&mut fk(
                    "fk_lead_definitions_created_by",
                    (LeadDefinitions::Table, Alias::new("created_by_id")),
                    Users::Table,
                    SetNull,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            base(LeadDefinitionSignatures::Table)
                .col(uuid(LeadDefinitionSignatures::DefinitionId))
                .col(uuid(LeadDefinitionSignatures::UserId))
                .col(enum_col(LeadDefinitionSignatures::Team))
                .col(timestamp_with_time_zone(LeadDefinitionSignatures::SignedAt))
                .foreign_key(&mut fk(
                    "fk_signatures_definition",
                    (LeadDefinitionSignatures::Table, Alias::new("definition_id")),
                    LeadDefinitions::Table,
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_signatures_user",
                    (LeadDefinitionSignatures::Table, Alias::new("user_id")),
                    Users::Table,
                    Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_signatures_definition_team",
                LeadDefinitionSignatures::Table,
                &["definition_id", "team"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Accounts::Table)
                    .col(string_len(Accounts::Name, 300))
                    .col(string_len_null(Accounts::Domain, 253).unique_key())
                    .col(string_len_null(Accounts::Industry, 100))
                    .col(integer_null(Accounts::EmployeeCount))
                    .col(money_null(Accounts::AnnualRevenue))
                    .col(char_len_null(Accounts::Currency, 3))
                    .col(char_len_null(Accounts::Country, 2))
                    .col(boolean(Accounts::IsTargetAccount).default(false))
                    .col(uuid_null(Accounts::OwnerId))
                    .col(integer(Accounts::FitScore).default(0))
                    .foreign_key(&mut fk(
                        "fk_accounts_owner",
                        (Accounts::Table, Alias::new("owner_id")),
                        Users::Table,
                        SetNull,
                    )),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Campaigns::Table)
                    .col(string_len(Campaigns::Name, 300))
                    .col(enum_col(Campaigns::Channel))
                    .col(enum_col(Campaigns::Objective))
                    .col(enum_col(Campaigns::Status))
                    .col(date(Campaigns::StartsOn))
                    .col(date_null(Campaigns::EndsOn))
                    .col(money_null(Campaigns::Budget))
                    .col(char_len(Campaigns::Currency, 3))
                    .col(uuid_null(Campaigns::OwnerId))
                    .foreign_key(&mut fk(
                        "fk_campaigns_owner",
                        (Campaigns::Table, Alias::new("owner_id")),
                        Users::Table,
                        SetNull,
                    )),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            base(CampaignSpend::Table)
                .col(uuid(CampaignSpend::CampaignId))
                .col(date(CampaignSpend::SpentOn))
                .col(money(CampaignSpend::Amount))
                .col(char_len(CampaignSpend::Currency, 3))
                .col(text_null(CampaignSpend::Note))
                .col(integer(CampaignSpend::Version).default(1))
                .foreign_key(&mut fk(
                    "fk_campaign_spend_campaign",
                    (CampaignSpend::Table, Alias::new("campaign_id")),
                    Campaigns::Table,
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Leads::Table)
                    .col(string_len(Leads::Email, 320))
                    .col(string_len_null(Leads::FirstName, 200))
                    .col(string_len_null(Leads::LastName, 200))
                    .col(string_len_null(Leads::JobTitle, 200))
                    .col(enum_col_null(Leads::Seniority))
                    .col(uuid_null(Leads::AccountId))
                    .col(string_len_null(Leads::CompanyName, 300))
                    .col(char_len_null(Leads::Country, 2))
                    .col(enum_col(Leads::Source))
                    .col(uuid_null(Leads::SourceCampaignId))
                    .col(enum_col(Leads::Stage))
                    .col(timestamp_with_time_zone(Leads::StageEnteredAt))
                    .col(uuid_null(Leads::OwnerId))
                    .col(integer(Leads::FitScore).default(0))
                    .col(integer(Leads::EngagementScore).default(0))
                    .col(uuid_null(Leads::QualifiedUnderId))
                    .col(timestamp_with_time_zone_null(Leads::MqlAt))
                    .col(timestamp_with_time_zone_null(Leads::SlaFirstContactDueAt))
                    .col(timestamp_with_time_zone_null(Leads::FirstContactedAt))
                    .col(timestamp_with_time_zone_null(Leads::SlaDispositionDueAt))
                    .col(timestamp_with_time_zone_null(Leads::DispositionedAt))
                    .col(enum_col_null(Leads::SlaStatus))
                    .col(enum_col_null(Leads::RejectionReason))
                    .col(text_null(Leads::RejectionNote))
                    .col(integer(Leads::RecycleCount).default(0))
                    .foreign_key(&mut fk(
                        "fk_leads_account",
                        (Leads::Table, Alias::new("account_id")),
                        Accounts::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_leads_source_campaign",
                        (Leads::Table, Alias::new("source_campaign_id")),
                        Campaigns::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_leads_owner",
                        (Leads::Table, Alias::new("owner_id")),
                        Users::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_leads_qualified_under",
                        (Leads::Table, Alias::new("qualified_under_id")),
                        LeadDefinitions::Table,
                        SetNull,
                    )),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Activities::Table)
                    .col(uuid(Activities::LeadId))
                    .col(enum_col(Activities::Kind))
                    .col(timestamp_with_time_zone(Activities::OccurredAt))
                    .col(uuid_null(Activities::CampaignId))
                    .col(uuid_null(Activities::ActorId))
                    .col(text_null(Activities::Note))
                    .foreign_key(&mut fk(
                        "fk_activities_lead",
                        (Activities::Table, Alias::new("lead_id")),
                        Leads::Table,
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_activities_campaign",
                        (Activities::Table, Alias::new("campaign_id")),
                        Campaigns::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_activities_actor",
                        (Activities::Table, Alias::new("actor_id")),
                        Users::Table,
                        SetNull,
                    )),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Opportunities::Table)
                    .col(string_len(Opportunities::Name, 300))
                    .col(uuid_null(Opportunities::AccountId))
                    .col(uuid_null(Opportunities::PrimaryLeadId))
                    .col(uuid_null(Opportunities::OwnerId))
                    .col(enum_col(Opportunities::Stage))
                    .col(timestamp_with_time_zone(Opportunities::StageEnteredAt))
                    .col(money(Opportunities::Amount))
                    .col(char_len(Opportunities::Currency, 3))
                    .col(enum_col(Opportunities::Type))
                    .col(enum_col(Opportunities::SourcedBy))
                    .col(date_null(Opportunities::ExpectedCloseOn))
                    .col(timestamp_with_time_zone_null(Opportunities::ClosedAt))
                    .foreign_key(&mut fk(
                        "fk_opportunities_account",
                        (Opportunities::Table, Alias::new("account_id")),
                        Accounts::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_opportunities_primary_lead",
                        (Opportunities::Table, Alias::new("primary_lead_id")),
                        Leads::Table,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_opportunities_owner",
                        (Opportunities::Table, Alias::new("owner_id")),
                        Users::Table,
                        SetNull,
                    )),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            base(StageChanges::Table)
                .col(enum_col(StageChanges::SubjectType))
                .col(uuid(StageChanges::SubjectId))
                .col(enum_col_null(StageChanges::FromStage))
                .col(enum_col(StageChanges::ToStage))
                .col(timestamp_with_time_zone(StageChanges::At))
                .col(uuid_null(StageChanges::ActorId))
                .col(text_null(StageChanges::Reason))
                .foreign_key(&mut fk(
                    "fk_stage_changes_actor",
                    (StageChanges::Table, Alias::new("actor_id")),
                    Users::Table,
                    SetNull,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            syncable(
                base(Competitors::Table)
                    .col(string_len_uniq(Competitors::Name, 200))
                    .col(string_len_null(Competitors::Website, 500)),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            base(WinLossFeedback::Table)
                .col(uuid_uniq(WinLossFeedback::OpportunityId))
                .col(enum_col(WinLossFeedback::Outcome))
                .col(enum_col(WinLossFeedback::PrimaryReason))
                .col(json(WinLossFeedback::SecondaryReasons))
                .col(uuid_null(WinLossFeedback::CompetitorId))
                .col(json(WinLossFeedback::Objections))
                .col(small_integer_null(WinLossFeedback::LeadFitRating))
                .col(text_null(WinLossFeedback::Notes))
                .col(uuid_null(WinLossFeedback::AuthorId))
                .col(integer(WinLossFeedback::Version).default(1))
                .foreign_key(&mut fk(
                    "fk_feedback_opportunity",
                    (WinLossFeedback::Table, Alias::new("opportunity_id")),
                    Opportunities::Table,
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_feedback_competitor",
                    (WinLossFeedback::Table, Alias::new("competitor_id")),
                    Competitors::Table,
                    SetNull,
                ))
                .foreign_key(&mut fk(
                    "fk_feedback_author",
                    (WinLossFeedback::Table, Alias::new("author_id")),
                    Users::Table,
                    SetNull,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            base(KpiTargets::Table)
                .col(enum_col(KpiTargets::Kpi))
                .col(enum_col(KpiTargets::PeriodKind))
                .col(date(KpiTargets::PeriodStart))
                .col(enum_col_null(KpiTargets::SegmentDimension))
                .col(string_len_null(KpiTargets::SegmentValue, 100))
                .col(decimal_len(KpiTargets::Target, 20, 4))
                .col(enum_col(KpiTargets::Direction))
                .col(uuid_null(KpiTargets::CreatedById))
                .col(integer(KpiTargets::Version).default(1))
                .foreign_key(&mut fk(
                    "fk_kpi_targets_created_by",
                    (KpiTargets::Table, Alias::new("created_by_id")),
                    Users::Table,
                    SetNull,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            base(ExternalIds::Table)
                .col(enum_col(ExternalIds::System))
                .col(enum_col(ExternalIds::ObjectType))
                .col(string_len(ExternalIds::ExternalId, 255))
                .col(uuid(ExternalIds::ObjectId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ChangeLog::Table)
                .if_not_exists()
                .col(big_pk_auto(ChangeLog::Seq))
                .col(enum_col(ChangeLog::ObjectType))
                .col(uuid(ChangeLog::ObjectId))
                .col(enum_col(ChangeLog::Operation))
                .col(uuid_null(ChangeLog::ActorId))
                .col(json_null(ChangeLog::ChangedFields))
                .col(timestamp_with_time_zone(ChangeLog::At))
                .to_owned(),
        )
        .await?;

        // Indexes the list filters, orderings and later KPI queries need.
        // Every keyset ordering ends in `id`, so each sortable column is
        // indexed together with it.
        let indexes: &[(&str, &str, &[&str])] = &[
            ("ix_users_role", "users", &["role"]),
            ("ix_accounts_owner", "accounts", &["owner_id"]),
            ("ix_accounts_name", "accounts", &["name", "id"]),
            ("ix_accounts_created", "accounts", &["created_at", "id"]),
            ("ix_accounts_updated", "accounts", &["updated_at", "id"]),
            ("ix_leads_stage", "leads", &["stage"]),
            ("ix_leads_owner", "leads", &["owner_id"]),
            ("ix_leads_source", "leads", &["source"]),
            ("ix_leads_account", "leads", &["account_id"]),
            ("ix_leads_source_campaign", "leads", &["source_campaign_id"]),
            ("ix_leads_email", "leads", &["email"]),
            ("ix_leads_created", "leads", &["created_at", "id"]),
            ("ix_leads_updated", "leads", &["updated_at", "id"]),
            ("ix_leads_mql_at", "leads", &["mql_at"]),
            ("ix_leads_sla", "leads", &["sla_status"]),
            (
                "ix_activities_lead",
                "activities",
                &["lead_id", "occurred_at"],
            ),
            (
                "ix_activities_campaign",
                "activities",
                &["campaign_id", "occurred_at"],
            ),
            ("ix_activities_occurred", "activities", &["occurred_at"]),
            ("ix_campaigns_channel", "campaigns", &["channel"]),
            ("ix_campaigns_owner", "campaigns", &["owner_id"]),
            ("ix_campaigns_created", "campaigns", &["created_at", "id"]),
            ("ix_campaigns_updated", "campaigns", &["updated_at", "id"]),
            (
                "ix_campaign_spend_campaign",
                "campaign_spend",
                &["campaign_id", "spent_on"],
            ),
            ("ix_campaign_spend_day", "campaign_spend", &["spent_on"]),
            ("ix_opportunities_stage", "opportunities", &["stage"]),
            ("ix_opportunities_owner", "opportunities", &["owner_id"]),
            ("ix_opportunities_account", "opportunities", &["account_id"]),
            (
                "ix_opportunities_primary_lead",
                "opportunities",
                &["primary_lead_id"],
            ),
            (
                "ix_opportunities_created",
                "opportunities",
                &["created_at", "id"],
            ),
            (
                "ix_opportunities_updated",
                "opportunities",
                &["updated_at", "id"],
            ),
            ("ix_opportunities_closed", "opportunities", &["closed_at"]),
            (
                "ix_stage_changes_subject",
                "stage_changes",
                &["subject_type", "subject_id", "at"],
            ),
            (
                "ix_stage_changes_to",
                "stage_changes",
                &["subject_type", "to_stage", "at"],
            ),
            (
                "ix_kpi_targets_kpi",
                "kpi_targets",
                &["kpi", "period_start"],
            ),
            (
                "ix_external_ids_object",
                "external_ids",
                &["object_type", "object_id"],
            ),
            (
                "ix_change_log_object",
                "change_log",
                &["object_type", "object_id"],
            ),
        ];
        for (name, table, cols) in indexes {
            m.create_index(index(name, Alias::new(*table), cols))
                .await?;
        }
        m.create_index(
            index(
                "ux_external_ids_system_object",
                ExternalIds::Table,
                &["system", "object_type", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 15] = [
            ChangeLog::Table.into_iden(),
            ExternalIds::Table.into_iden(),
            KpiTargets::Table.into_iden(),
            WinLossFeedback::Table.into_iden(),
            Competitors::Table.into_iden(),
            StageChanges::Table.into_iden(),
            Opportunities::Table.into_iden(),
            Activities::Table.into_iden(),
            Leads::Table.into_iden(),
            CampaignSpend::Table.into_iden(),
            Campaigns::Table.into_iden(),
            Accounts::Table.into_iden(),
            LeadDefinitionSignatures::Table.into_iden(),
            LeadDefinitions::Table.into_iden(),
            Users::Table.into_iden(),
        ];
        for t in tables {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Name,
    Email,
    Role,
    Team,
    Active,
}

#[derive(DeriveIden)]
enum LeadDefinitions {
    Table,
    Version,
    Status,
    Description,
    FitCriteria,
    EngagementRules,
    HalfLifeDays,
    MqlFitMin,
    MqlEngagementMin,
    FirstContactHours,
    DispositionHours,
    ReviewBy,
    CreatedById,
    ApprovedAt,
    SupersededAt,
}

#[derive(DeriveIden)]
enum LeadDefinitionSignatures {
    Table,
    DefinitionId,
    UserId,
    Team,
    SignedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Name,
    Domain,
    Industry,
    EmployeeCount,
    AnnualRevenue,
    Currency,
    Country,
    IsTargetAccount,
    OwnerId,
    FitScore,
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Name,
    Channel,
    Objective,
    Status,
    StartsOn,
    EndsOn,
    Budget,
    Currency,
    OwnerId,
}

#[derive(DeriveIden)]
enum CampaignSpend {
    Table,
    CampaignId,
    SpentOn,
    Amount,
    Currency,
    Note,
    Version,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Email,
    FirstName,
    LastName,
    JobTitle,
    Seniority,
    AccountId,
    CompanyName,
    Country,
    Source,
    SourceCampaignId,
    Stage,
    StageEnteredAt,
    OwnerId,
    FitScore,
    EngagementScore,
    QualifiedUnderId,
    MqlAt,
    SlaFirstContactDueAt,
    FirstContactedAt,
    SlaDispositionDueAt,
    DispositionedAt,
    SlaStatus,
    RejectionReason,
    RejectionNote,
    RecycleCount,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    LeadId,
    Kind,
    OccurredAt,
    CampaignId,
    ActorId,
    Note,
}

#[derive(DeriveIden)]
enum Opportunities {
    Table,
    Name,
    AccountId,
    PrimaryLeadId,
    OwnerId,
    Stage,
    StageEnteredAt,
    Amount,
    Currency,
    Type,
    SourcedBy,
    ExpectedCloseOn,
    ClosedAt,
}

#[derive(DeriveIden)]
enum StageChanges {
    Table,
    SubjectType,
    SubjectId,
    FromStage,
    ToStage,
    At,
    ActorId,
    Reason,
}

#[derive(DeriveIden)]
enum Competitors {
    Table,
    Name,
    Website,
}

#[derive(DeriveIden)]
enum WinLossFeedback {
    Table,
    OpportunityId,
    Outcome,
    PrimaryReason,
    SecondaryReasons,
    CompetitorId,
    Objections,
    LeadFitRating,
    Notes,
    AuthorId,
    Version,
}

#[derive(DeriveIden)]
enum KpiTargets {
    Table,
    Kpi,
    PeriodKind,
    PeriodStart,
    SegmentDimension,
    SegmentValue,
    Target,
    Direction,
    CreatedById,
    Version,
}

#[derive(DeriveIden)]
enum ExternalIds {
    Table,
    System,
    ObjectType,
    ExternalId,
    ObjectId,
}

#[derive(DeriveIden)]
enum ChangeLog {
    Table,
    Seq,
    ObjectType,
    ObjectId,
    Operation,
    ActorId,
    ChangedFields,
    At,
}
