//! The index the KPI engine needs beyond the earlier ones: SLA compliance
//! selects leads by their first-contact deadline. (MQL dispositions select
//! stage changes by the stage they left: `ix_stage_changes_from`, created
//! by the analytics migration 000007.)

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000009_add_kpi_indexes"
    }
}

const INDEXES: &[(&str, &str, &[&str])] = &[(
    "ix_leads_sla_first_contact_due",
    "leads",
    &["sla_first_contact_due_at"],
)];

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
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
