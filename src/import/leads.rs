//! Leads: HubSpot's contacts export and Salesforce's Lead export.

use std::collections::HashSet;

use entity::enums::ExternalSystem;
use sea_orm::DatabaseConnection;

use super::{
    Converted, Object, Ref,
    columns::{Column, Row, RowError, Unreadable},
    first_id, values,
};
use crate::{
    auth::Viewer,
    domain::records::{AccountPatch, LeadPatch},
    error::AppResult,
    services::sync::{
        Mode, RecordResult,
        accounts::{self, AccountUpsert},
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
        key: "seniority",
        headers: &["Seniority", "Job Seniority"],
        field: "seniority",
        note: "mapped as in the seniority table",
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
        key: "seniority",
        headers: &["Seniority", "Job Seniority"],
        field: "seniority",
        note: "mapped as in the seniority table",
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
    Column {
        key: "industry",
        headers: &["Industry"],
        field: "account.industry",
        note: "company fact: fills the account's industry when it has none",
    },
    Column {
        key: "employee_count",
        headers: &["No. of Employees", "Employees", "Number of Employees"],
        field: "account.employeeCount",
        note: "company fact: fills the account's head count when it has none",
    },
    Column {
        key: "annual_revenue",
        headers: &["Annual Revenue"],
        field: "account.annualRevenue",
        note: "company fact, in `--currency`: fills the account's revenue when it has none",
    },
];

/// The company fact columns of a Salesforce lead, for the end-of-import
/// note when a lead has no account to take them.
const COMPANY_FACTS: &str = "Industry, No. of Employees and Annual Revenue of leads without a Converted Account ID (company facts go to the lead's account)";

/// A lead row: the lead, and the company facts it carries for its
/// account (Salesforce leads hold their company's industry, head count
/// and revenue).
#[derive(Debug)]
pub struct LeadRow {
    /// The lead.
    pub lead: LeadUpsert,
    /// The account's external id and the facts to fill its gaps with.
    pub company: Option<(String, AccountPatch<Ref>)>,
}

/// The leads import.
pub struct Leads;

impl Object for Leads {
    type Record = LeadRow;

    fn columns(system: ExternalSystem) -> &'static [Column] {
        match system {
            ExternalSystem::Salesforce => SALESFORCE,
            _ => HUBSPOT,
        }
    }

    fn convert(row: &Row<'_>) -> Result<Converted<LeadRow>, Vec<RowError>> {
        let ctx = row.ctx;
        let mut bad = Unreadable::default();
        let source = bad.take(
            row
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
            .transpose(),
        );
        let seniority = bad.take(
            row.get("seniority")
                .map(|v| {
                    ctx.seniority(v).map(Some).ok_or_else(|| {
                        RowError::on(
                            "INVALID",
                            &row.header("seniority"),
                            format!(
                                "{v:?} is not a seniority the import knows; add it under \"seniorities\" in a mapping file"
                            ),
                        )
                    })
                })
                .transpose(),
        );
        let owner_id = bad.take(row.owner("owner"));
        let created_at = bad.take(row.date("created_at"));
        let fields = LeadPatch {
            email: row.text("email"),
            phone: row.text("phone"),
            first_name: row.text("first_name"),
            last_name: row.text("last_name"),
            job_title: row.text("job_title"),
            seniority,
            company_name: row.text("company_name"),
            country: row.get("country").map(|v| Some(values::country(v))),
            source,
            account_id: row
                .get("account")
                .and_then(first_id)
                .map(|id| Some(Ref::External(id))),
            owner_id,
            ..Default::default()
        };
        let mut lead = LeadUpsert {
            external_id: row.get("external_id").unwrap_or_default().to_owned(),
            fields,
            stage: row.get("stage").map(|v| ctx.stage(v)),
            created_at,
            ..Default::default()
        };
        if let Some(status) = row.get("lead_status") {
            // A status the mapping file names is a stage of its own.
            match ctx.status_stage(status) {
                Some(stage) => lead.stage = Some(stage),
                None => lead.lead_status = Some(status.to_owned()),
            }
        }
        let mut history = Vec::new();
        if ctx.system == ExternalSystem::Hubspot {
            for (key, stage) in HUBSPOT_STAGE_DATES {
                if let Some(at) = bad.take(row.date(key)) {
                    lead.stage_history.push(StageEntry {
                        stage: (*stage).to_owned(),
                        entered_at: at,
                    });
                    history.push(*key);
                }
            }
        }
        let company = company_facts(row, &mut bad);
        let company = match (company, lead.fields.account_id.clone()) {
            (None, _) => None,
            (Some(facts), Some(Some(Ref::External(account)))) => Some((account, facts)),
            (Some(_), _) => {
                ctx.unplaced(COMPANY_FACTS);
                None
            }
        };
        bad.finish(Converted {
            record: LeadRow { lead, company },
            history,
        })
    }

    async fn upsert(
        db: &DatabaseConnection,
        viewer: &Viewer,
        system: ExternalSystem,
        records: Vec<LeadRow>,
        mode: Mode,
    ) -> AppResult<Vec<RecordResult>> {
        let (leads, companies): (Vec<_>, Vec<_>) =
            records.into_iter().map(|r| (r.lead, r.company)).unzip();
        let mut results = leads::upsert(db, viewer, system, leads, mode).await?;
        fill_accounts(db, viewer, system, mode, companies, &mut results).await?;
        Ok(results)
    }
}

/// A Salesforce lead row's company facts, if it has any (cells that
/// cannot be read are noted in `bad`).
fn company_facts(row: &Row<'_>, bad: &mut Unreadable) -> Option<AccountPatch<Ref>> {
    let revenue = bad.take(row.amount("annual_revenue"));
    let facts = AccountPatch {
        industry: row.text("industry"),
        employee_count: bad.take(row.whole_number("employee_count")).map(Some),
        annual_revenue: revenue.map(|amount| Some((amount, row.ctx.currency.clone()))),
        ..Default::default()
    };
    (facts != AccountPatch::default()).then_some(facts)
}

/// Fills the gaps of the accounts of the leads just written with their
/// rows' company facts (the first row of a batch wins for an account). An
/// account that refuses them leaves a warning on the lead, which stays
/// imported.
async fn fill_accounts(
    db: &DatabaseConnection,
    viewer: &Viewer,
    system: ExternalSystem,
    mode: Mode,
    companies: Vec<Option<(String, AccountPatch<Ref>)>>,
    results: &mut [RecordResult],
) -> AppResult<()> {
    let mut seen = HashSet::new();
    let mut fills = Vec::new();
    let mut leads_of = Vec::new();
    for (index, company) in companies.into_iter().enumerate() {
        let written = results
            .iter()
            .find(|r| r.index == index)
            .is_some_and(|r| r.outcome.is_ok());
        let Some((account, facts)) = company else {
            continue;
        };
        if written && seen.insert(account.clone()) {
            fills.push(AccountUpsert {
                external_id: account,
                fields: facts,
                only_gaps: true,
                ..Default::default()
            });
            leads_of.push(index);
        }
    }
    if fills.is_empty() {
        return Ok(());
    }
    let filled = accounts::upsert(db, viewer, system, fills, mode).await?;
    for fill in filled {
        let (Err(e), Some(lead)) = (&fill.outcome, leads_of.get(fill.index)) else {
            continue;
        };
        if let Some(r) = results.iter_mut().find(|r| r.index == *lead) {
            r.warnings.push(format!(
                "the company facts were not written to account {}: {}",
                fill.external_id,
                e.iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_fact_columns_are_salesforce_lead_columns_only() {
        let keys = |cs: &[Column]| cs.iter().map(|c| c.key).collect::<Vec<_>>();
        assert!(keys(SALESFORCE).contains(&"annual_revenue"));
        assert!(!keys(HUBSPOT).contains(&"annual_revenue"));
    }
}
