//! Accounts: HubSpot's companies export and Salesforce's Account export.

use entity::enums::ExternalSystem;
use sea_orm::DatabaseConnection;

use super::{
    Converted, Object,
    columns::{Column, Row, RowError, Unreadable},
    values,
};
use crate::{
    auth::Viewer,
    domain::records::AccountPatch,
    error::AppResult,
    services::sync::{
        Mode, RecordResult,
        accounts::{self, AccountUpsert},
    },
};

const HUBSPOT: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Record ID", "Company ID"],
        field: "externalId",
        note: "the company's id; required",
    },
    Column {
        key: "name",
        headers: &["Company name", "Name"],
        field: "name",
        note: "required for a new account",
    },
    Column {
        key: "domain",
        headers: &["Company Domain Name", "Website URL"],
        field: "domain",
        note: "domain or URL",
    },
    Column {
        key: "industry",
        headers: &["Industry"],
        field: "industry",
        note: "",
    },
    Column {
        key: "employee_count",
        headers: &["Number of Employees"],
        field: "employeeCount",
        note: "whole number (`1,200` reads)",
    },
    Column {
        key: "annual_revenue",
        headers: &["Annual Revenue"],
        field: "annualRevenue",
        note: "amount in the currency column or `--currency`",
    },
    Column {
        key: "currency",
        headers: &["Currency", "Annual Revenue Currency"],
        field: "annualRevenue.currency",
        note: "ISO 4217; default `--currency` (USD)",
    },
    Column {
        key: "country",
        headers: &["Country/Region", "Country"],
        field: "country",
        note: "ISO code or common name",
    },
    Column {
        key: "created_at",
        headers: &["Create Date", "Created Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "owner",
        headers: &["Company owner", "Company Owner Email", "Owner Email"],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
    Column {
        key: "is_target_account",
        headers: &["Target Account", "Is Target Account"],
        field: "isTargetAccount",
        note: "true/false, yes/no",
    },
];

const SALESFORCE: &[Column] = &[
    Column {
        key: "external_id",
        headers: &["Account ID", "Id"],
        field: "externalId",
        note: "the account's id; required",
    },
    Column {
        key: "name",
        headers: &["Account Name"],
        field: "name",
        note: "required for a new account",
    },
    Column {
        key: "domain",
        headers: &["Website"],
        field: "domain",
        note: "URL or domain",
    },
    Column {
        key: "industry",
        headers: &["Industry"],
        field: "industry",
        note: "",
    },
    Column {
        key: "employee_count",
        headers: &["Employees", "Number of Employees"],
        field: "employeeCount",
        note: "whole number",
    },
    Column {
        key: "annual_revenue",
        headers: &["Annual Revenue"],
        field: "annualRevenue",
        note: "amount in the currency column or `--currency`",
    },
    Column {
        key: "currency",
        headers: &["Account Currency", "Currency"],
        field: "annualRevenue.currency",
        note: "ISO 4217; default `--currency` (USD)",
    },
    Column {
        key: "country",
        headers: &["Billing Country"],
        field: "country",
        note: "ISO code or common name",
    },
    Column {
        key: "created_at",
        headers: &["Created Date"],
        field: "createdAt",
        note: "date",
    },
    Column {
        key: "owner",
        headers: &["Account Owner", "Account Owner Email", "Owner Email"],
        field: "owner",
        note: "the owner's email, or the full name of one active user",
    },
];

/// The accounts import.
pub struct Accounts;

impl Object for Accounts {
    type Record = AccountUpsert;

    fn columns(system: ExternalSystem) -> &'static [Column] {
        match system {
            ExternalSystem::Salesforce => SALESFORCE,
            _ => HUBSPOT,
        }
    }

    fn convert(row: &Row<'_>) -> Result<Converted<AccountUpsert>, Vec<RowError>> {
        let mut bad = Unreadable::default();
        let revenue = bad.take(row.amount("annual_revenue"));
        let currency = row
            .get("currency")
            .map(str::to_owned)
            .unwrap_or_else(|| row.ctx.currency.clone());
        let is_target_account = bad.take(
            row.get("is_target_account")
                .map(|v| {
                    values::flag(v).ok_or_else(|| {
                        RowError::on(
                            "INVALID",
                            &row.header("is_target_account"),
                            format!("{v:?} is neither true nor false"),
                        )
                    })
                })
                .transpose(),
        );
        let employee_count = bad.take(row.whole_number("employee_count"));
        let owner_id = bad.take(row.owner("owner"));
        let created_at = bad.take(row.date("created_at"));
        let fields = AccountPatch {
            name: row.get("name").map(str::to_owned),
            domain: row.text("domain"),
            industry: row.text("industry"),
            employee_count: employee_count.map(Some),
            annual_revenue: revenue.map(|amount| Some((amount, currency))),
            country: row.get("country").map(|v| Some(values::country(v))),
            is_target_account,
            owner_id,
        };
        let account = AccountUpsert {
            external_id: row.get("external_id").unwrap_or_default().to_owned(),
            fields,
            created_at,
            ..Default::default()
        };
        bad.finish(Converted {
            record: account,
            history: Vec::new(),
        })
    }

    async fn upsert(
        db: &DatabaseConnection,
        viewer: &Viewer,
        system: ExternalSystem,
        records: Vec<AccountUpsert>,
        mode: Mode,
    ) -> AppResult<Vec<RecordResult>> {
        accounts::upsert(db, viewer, system, records, mode).await
    }
}
