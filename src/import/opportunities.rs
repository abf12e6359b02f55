//! Opportunities: HubSpot's deals export and Salesforce's Opportunity export.
//!
//! Both systems have one "Close Date": the expected close date of an open
//! deal and the actual one of a closed deal. The import reads it that way:
//! for a closed stage it is `closedAt` and the date the closed stage was
//! entered; for an open one it is `expectedCloseOn`.

use entity::enums::{ExternalSystem, SourcedBy};
use sea_orm::DatabaseConnection;

use super::{
    Converted, Object,
    columns::{Column, Row, RowError, Unreadable},
    first_id, values,
};
use crate::{
    auth::Viewer,
    domain::{crm, records::OpportunityPatch},
    error::AppResult,
    services::sync::{
        Mode, RecordResult, Ref,
        opportunities::{self, OpportunityUpsert},
    },
};

const HUBSPOT: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Record ID", "Deal ID"],
        field: "externalId",
        note: "the deal's id; required",
    },
    Column {
        key: "name",
        headers: &["Deal Name"],
        field: "name",
        note: "required for a new deal",
    },
    Column {
        key: "amount",
        headers: &["Amount"],
        field: "amount",
        note: "required for a new deal; in the currency column or `--currency`",
    },
    Column {
        key: "currency",
        headers: &["Currency", "Deal Currency Code"],
        field: "amount.currency",
        note: "ISO 4217; default `--currency` (USD)",
    },
    Column {
        key: "stage",
        headers: &["Deal Stage"],
        field: "stage",
        note: "`dealstage`, mapped as the stage table says",
    },
    Column {
        key: "created_at",
        headers: &["Create Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "close_date",
        headers: &["Close Date"],
        field: "closedAt",
        note: "a closed deal's close date, an open deal's expected one",
    },
    Column {
        key: "owner",
        headers: &["Deal owner", "Deal Owner Email", "Owner Email"],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
    Column {
        key: "account",
        headers: &["Associated Company IDs", "Associated Company IDs (Primary)"],
        field: "accountExternalId",
        note: "the first of `;`-separated ids",
    },
    Column {
        key: "primary_lead",
        headers: &["Associated Contact IDs"],
        field: "primaryLeadExternalId",
        note: "the first of `;`-separated ids",
    },
    Column {
        key: "type",
        headers: &["Deal Type"],
        field: "opportunityType",
        note: "mapped as the deal type table says",
    },
];

const SALESFORCE: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Opportunity ID", "Id"],
        field: "externalId",
        note: "the opportunity's id; required",
    },
    Column {
        key: "name",
        headers: &["Opportunity Name"],
        field: "name",
        note: "required for a new deal",
    },
    Column {
        key: "amount",
        headers: &["Amount"],
        field: "amount",
        note: "required for a new deal; in the currency column or `--currency`",
    },
    Column {
        key: "currency",
        headers: &["Opportunity Currency", "Currency"],
        field: "amount.currency",
        note: "ISO 4217; default `--currency` (USD)",
    },
    Column {
        key: "stage",
        headers: &["Stage", "StageName"],
        field: "stage",
        note: "`StageName`, mapped as the stage table says",
    },
    Column {
        key: "created_at",
        headers: &["Created Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "close_date",
        headers: &["Close Date"],
        field: "closedAt",
        note: "a closed deal's close date, an open deal's expected one",
    },
    Column {
        key: "owner",
        headers: &[
            "Opportunity Owner",
            "Opportunity Owner Email",
            "Owner Email",
        ],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
    Column {
        key: "account",
        headers: &["Account ID"],
        field: "accountExternalId",
        note: "",
    },
    Column {
        key: "account_name",
        headers: &["Account Name"],
        field: "account",
        note: "when the row has no Account ID: the one account with this name (ignoring case and spacing)",
    },
    Column {
        key: "type",
        headers: &["Type"],
        field: "opportunityType",
        note: "mapped as the deal type table says",
    },
    Column {
        key: "lead_source",
        headers: &["Lead Source"],
        field: "sourcedBy",
        note: "any value: MARKETING; empty or `Outbound`/`Sales`: SALES",
    },
];

/// The opportunities import.
pub struct Opportunities;

impl Object for Opportunities {
    type Record = OpportunityUpsert;

    // The close date of a closed deal is also when its closed stage was
    // entered; an open deal's is its expected close.
    const DERIVED: &'static [(&'static str, &'static str)] = &[
        ("stageEnteredAt", "close_date"),
        ("expectedCloseOn", "close_date"),
    ];

    fn columns(system: ExternalSystem) -> &'static [Column] {
        match system {
            ExternalSystem::Salesforce => SALESFORCE,
            _ => HUBSPOT,
        }
    }

    fn convert(row: &Row<'_>) -> Result<Converted<OpportunityUpsert>, Vec<RowError>> {
        let ctx = row.ctx;
        let mut bad = Unreadable::default();
        let amount = bad.take(row.amount("amount"));
        let currency = row
            .get("currency")
            .map(str::to_owned)
            .unwrap_or_else(|| ctx.currency.clone());
        let opportunity_type = bad.take(
            row
            .get("type")
            .map(|v| {
                ctx.opportunity_type(v).ok_or_else(|| {
                    RowError::on(
                        "INVALID",
                        &row.header("type"),
                        format!(
                            "{v:?} is not a deal type the import knows: map it in the mapping file's \"types\" to NEW_BUSINESS, EXPANSION or RENEWAL"
                        ),
                    )
                })
            })
            .transpose(),
        );
        let sourced_by = row
            .get("lead_source")
            .map(|v| match values::normalise(v).as_str() {
                "outbound" | "sales" | "sales generated" => SourcedBy::Sales,
                _ => SourcedBy::Marketing,
            });
        let stage = row.get("stage").map(|v| ctx.stage(v));
        let closed = stage
            .as_deref()
            .and_then(|s| crm::opportunity_stage(ctx.system, s).ok())
            .is_some_and(|s| s.is_closed());
        let created_at = bad.take(row.date("created_at"));
        let close_date = bad.take(row.date("close_date"));
        let owner_id = bad.take(row.owner("owner"));
        let account_id = match row.get("account").and_then(first_id) {
            Some(id) => Some(Some(Ref::External(id))),
            None => bad.take(row.account_by_name("account_name")),
        };
        let mut deal = OpportunityUpsert {
            external_id: row.get("external_id").unwrap_or_default().to_owned(),
            stage,
            created_at,
            fields: OpportunityPatch {
                name: row.get("name").map(str::to_owned),
                amount: amount.map(|a| (a, currency)),
                owner_id,
                account_id,
                primary_lead_id: row
                    .get("primary_lead")
                    .and_then(first_id)
                    .map(|id| Some(Ref::External(id))),
                opportunity_type,
                sourced_by,
                ..Default::default()
            },
            ..Default::default()
        };
        if closed {
            deal.closed_at = close_date;
            deal.stage_entered_at = close_date;
        } else if let Some(date) = close_date {
            deal.fields.expected_close_on = Some(Some(date.date_naive()));
        }
        bad.finish(Converted {
            record: deal,
            history: Vec::new(),
        })
    }

    async fn upsert(
        db: &DatabaseConnection,
        viewer: &Viewer,
        system: ExternalSystem,
        records: Vec<OpportunityUpsert>,
        mode: Mode,
    ) -> AppResult<Vec<RecordResult>> {
        opportunities::upsert(db, viewer, system, records, mode).await
    }
}
