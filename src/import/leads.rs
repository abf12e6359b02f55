//! Leads: HubSpot's contacts export and Salesforce's Lead export.

use entity::enums::ExternalSystem;
use sea_orm::DatabaseConnection;

use super::{
    Converted, Object, Ref,
    columns::{Column, Row, RowError},
    first_id, values,
};
use crate::{
    auth::Viewer,
    domain::records::LeadPatch,
    error::AppResult,
    services::sync::{
        RecordResult,
        leads::{self, LeadUpsert, StageEntry},
    },
};

/// HubSpot's "Became a ... Date" columns and the lifecycle stage each one
/// dates.
const HUBSPOT_STAGE_DATES: &[(&str, &str)] = &[
    ("became_subscriber", "subscriber"),
    ("became_lead", "lead"),
    ("became_mql", "marketingqualifiedlead"),
    ("became_sql", "salesqualifiedlead"),
    ("became_opportunity", "opportunity"),
    ("became_customer", "customer"),
    ("became_evangelist", "evangelist"),
];

const HUBSPOT: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Record ID", "Contact ID"],
        field: "externalId",
        note: "the contact's id; required",
    },
    Column {
        key: "email",
        headers: &["Email", "Email Address"],
        field: "email",
        note: "optional; matches a lead without a HubSpot id that has it",
    },
    Column {
        key: "phone",
        headers: &["Phone Number", "Phone"],
        field: "phone",
        note: "",
    },
    Column {
        key: "first_name",
        headers: &["First Name"],
        field: "firstName",
        note: "",
    },
    Column {
        key: "last_name",
        headers: &["Last Name"],
        field: "lastName",
        note: "",
    },
    Column {
        key: "job_title",
        headers: &["Job Title"],
        field: "jobTitle",
        note: "",
    },
    Column {
        key: "company_name",
        headers: &["Company Name"],
        field: "companyName",
        note: "as captured",
    },
    Column {
        key: "stage",
        headers: &["Lifecycle Stage"],
        field: "stage",
        note: "label or internal name, mapped as in the stage table",
    },
    Column {
        key: "lead_status",
        headers: &["Lead Status"],
        field: "leadStatus",
        note: "refines the lifecycle stage (IN_PROGRESS → SAL ...)",
    },
    Column {
        key: "created_at",
        headers: &["Create Date", "Created Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "country",
        headers: &["Country/Region", "Country"],
        field: "country",
        note: "ISO code or common name",
    },
    Column {
        key: "owner",
        headers: &["Contact owner", "Contact Owner Email", "Owner Email"],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
    Column {
        key: "account",
        headers: &[
            "Associated Company IDs",
            "Associated Company ID",
            "Associated Company IDs (Primary)",
        ],
        field: "account",
        note: "company Record IDs separated by `;`: the first is the account",
    },
    Column {
        key: "source",
        headers: &["Original Source", "Original Traffic Source"],
        field: "source",
        note: "mapped to a channel (table below)",
    },
    Column {
        key: "became_subscriber",
        headers: &["Became a Subscriber Date"],
        field: "stageHistory",
        note: "date entered NEW",
    },
    Column {
        key: "became_lead",
        headers: &["Became a Lead Date"],
        field: "stageHistory",
        note: "date entered NEW",
    },
    Column {
        key: "became_mql",
        headers: &["Became a Marketing Qualified Lead Date"],
        field: "stageHistory",
        note: "date entered MQL",
    },
    Column {
        key: "became_sql",
        headers: &["Became a Sales Qualified Lead Date"],
        field: "stageHistory",
        note: "date entered SQL",
    },
    Column {
        key: "became_opportunity",
        headers: &["Became an Opportunity Date"],
        field: "stageHistory",
        note: "date entered OPPORTUNITY",
    },
    Column {
        key: "became_customer",
        headers: &["Became a Customer Date"],
        field: "stageHistory",
        note: "date entered CUSTOMER",
    },
    Column {
        key: "became_evangelist",
        headers: &["Became an Evangelist Date"],
        field: "stageHistory",
        note: "date entered CUSTOMER",
    },
];

const SALESFORCE: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Lead ID", "Id"],
        field: "externalId",
        note: "the lead's id; required",
    },
    Column {
        key: "email",
        headers: &["Email"],
        field: "email",
        note: "optional; matches a lead without a Salesforce id that has it",
    },
    Column {
        key: "phone",
        headers: &["Phone"],
        field: "phone",
        note: "",
    },
    Column {
        key: "first_name",
        headers: &["First Name"],
        field: "firstName",
        note: "",
    },
    Column {
        key: "last_name",
        headers: &["Last Name"],
        field: "lastName",
        note: "",
    },
    Column {
        key: "job_title",
        headers: &["Title"],
        field: "jobTitle",
        note: "",
    },
    Column {
        key: "company_name",
        headers: &["Company", "Company / Account"],
        field: "companyName",
        note: "as captured",
    },
    Column {
        key: "stage",
        headers: &["Lead Status", "Status"],
        field: "stage",
        note: "mapped as in the stage table",
    },
    Column {
        key: "source",
        headers: &["Lead Source"],
        field: "source",
        note: "mapped to a channel (table below)",
    },
    Column {
        key: "created_at",
        headers: &["Created Date", "Create Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "owner",
        headers: &["Lead Owner", "Lead Owner Email", "Owner Email"],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
    Column {
        key: "country",
        headers: &["Country"],
        field: "country",
        note: "ISO code or common name",
    },
    Column {
        key: "account",
        headers: &["Converted Account ID", "Account ID"],
        field: "account",
        note: "the Account ID of the account (first of several separated by `;`)",
    },
];

/// The leads import.
pub struct Leads;

impl Object for Leads {
    type Record = LeadUpsert;

    fn columns(system: ExternalSystem) -> &'static [Column] {
        match system {
            ExternalSystem::Salesforce => SALESFORCE,
            _ => HUBSPOT,
        }
    }

    fn convert(row: &Row<'_>) -> Result<Converted<LeadUpsert>, RowError> {
        let ctx = row.ctx;
        let source = row
            .get("source")
            .map(|v| {
                ctx.channel(v).ok_or_else(|| {
                    RowError::on(
                        "INVALID",
                        &row.header("source"),
                        format!(
                            "{v:?} is not a source the import maps to a channel; add it under \"sources\" in a mapping file"
                        ),
                    )
                })
            })
            .transpose()?;
        let fields = LeadPatch {
            email: row.text("email"),
            phone: row.text("phone"),
            first_name: row.text("first_name"),
            last_name: row.text("last_name"),
            job_title: row.text("job_title"),
            company_name: row.text("company_name"),
            country: row.get("country").map(|v| Some(values::country(v))),
            source,
            account_id: row
                .get("account")
                .and_then(first_id)
                .map(|id| Some(Ref::External(id))),
            owner_id: row.owner("owner")?,
            ..Default::default()
        };
        let mut lead = LeadUpsert {
            external_id: row.get("external_id").unwrap_or_default().to_owned(),
            fields,
            stage: row.get("stage").map(|v| ctx.stage(v)),
            created_at: row.date("created_at")?,
            ..Default::default()
        };
        if let Some(status) = row.get("lead_status") {
            // A status the mapping file names is a stage of its own.
            if ctx.maps_stage(status) {
                lead.stage = Some(ctx.stage(status));
            } else {
                lead.lead_status = Some(status.to_owned());
            }
        }
        let mut history = Vec::new();
        if ctx.system == ExternalSystem::Hubspot {
            for (key, stage) in HUBSPOT_STAGE_DATES {
                if let Some(at) = row.date(key)? {
                    lead.stage_history.push(StageEntry {
                        stage: (*stage).to_owned(),
                        entered_at: at,
                    });
                    history.push(*key);
                }
            }
        }
        Ok(Converted {
            record: lead,
            history,
        })
    }

    async fn upsert(
        db: &DatabaseConnection,
        viewer: &Viewer,
        system: ExternalSystem,
        records: Vec<LeadUpsert>,
    ) -> AppResult<Vec<RecordResult>> {
        leads::upsert(db, viewer, system, records).await
    }
}
