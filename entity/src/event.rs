//! The durable event stream: one row per thing that happened and that
//! subscribers hear about (a lead became MQL, was accepted or rejected, its
//! SLA went at risk or breached; an opportunity closed; a definition was
//! approved).
//!
//! Rows are append-only and written in the same transaction as the change
//! they describe, so an event exists exactly when its change committed. A
//! subscriber resumes after the last `seq` it saw. Like every auto-increment,
//! `seq` is assigned when the row is written, not when its transaction
//! commits: a reader that pages by `seq > last` on PostgreSQL must hold back
//! behind in-flight transactions, or it can skip a row that commits late.

use std::fmt;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What happened (`events.kind`), stored as its API name in a string of up
/// to 32 characters, like the enumerations of [`crate::enums`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum EventKind {
    /// A lead met the approved definition (or was forced) and became an MQL.
    #[sea_orm(string_value = "LEAD_BECAME_MQL")]
    #[serde(rename = "LEAD_BECAME_MQL")]
    LeadBecameMql,
    /// Sales accepted an MQL.
    #[sea_orm(string_value = "LEAD_ACCEPTED")]
    #[serde(rename = "LEAD_ACCEPTED")]
    LeadAccepted,
    /// Sales rejected an MQL back to nurture.
    #[sea_orm(string_value = "LEAD_REJECTED")]
    #[serde(rename = "LEAD_REJECTED")]
    LeadRejected,
    /// An MQL entered the last quarter of a pending SLA window.
    #[sea_orm(string_value = "LEAD_SLA_AT_RISK")]
    #[serde(rename = "LEAD_SLA_AT_RISK")]
    LeadSlaAtRisk,
    /// An MQL passed an SLA due time without its action.
    #[sea_orm(string_value = "LEAD_SLA_BREACHED")]
    #[serde(rename = "LEAD_SLA_BREACHED")]
    LeadSlaBreached,
    /// An opportunity was closed (won or lost).
    #[sea_orm(string_value = "OPPORTUNITY_CLOSED")]
    #[serde(rename = "OPPORTUNITY_CLOSED")]
    OpportunityClosed,
    /// A lead definition was signed by both teams and approved.
    #[sea_orm(string_value = "DEFINITION_APPROVED")]
    #[serde(rename = "DEFINITION_APPROVED")]
    DefinitionApproved,
}

impl EventKind {
    /// The stored (and API) name of this kind, e.g. `"LEAD_SLA_BREACHED"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LeadBecameMql => "LEAD_BECAME_MQL",
            Self::LeadAccepted => "LEAD_ACCEPTED",
            Self::LeadRejected => "LEAD_REJECTED",
            Self::LeadSlaAtRisk => "LEAD_SLA_AT_RISK",
            Self::LeadSlaBreached => "LEAD_SLA_BREACHED",
            Self::OpportunityClosed => "OPPORTUNITY_CLOSED",
            Self::DefinitionApproved => "DEFINITION_APPROVED",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of `events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Position in the stream (auto-increment); subscribers resume after it.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// What happened.
    pub kind: EventKind,
    /// The lead, opportunity or lead definition it happened to (by `kind`).
    pub subject_id: Uuid,
    /// The subject's owner when it happened, for routing to their tools.
    pub owner_id: Option<Uuid>,
    /// When it happened.
    pub at: DateTimeUtc,
    /// Details of the event, as JSON with API (camelCase) field names.
    pub data: Option<Json>,
    /// The writing transaction's id on PostgreSQL (0 on SQLite). Readers
    /// follow rows in `(txid, seq)` order and hold back rows of transactions
    /// that may still be in flight; see migration `m20261123_000004`.
    pub txid: i64,
}

/// Foreign keys of `events`: none; the subject may be any of several
/// tables, and events outlive what they describe.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::EventKind;

    #[test]
    fn stored_names_match_as_str_display_and_serde() -> Result<(), serde_json::Error> {
        let mut count = 0;
        for kind in EventKind::iter() {
            let stored = kind.to_value();
            assert_eq!(kind.as_str(), stored);
            assert_eq!(kind.to_string(), stored);
            assert!(stored.len() <= 32, "{stored} is longer than 32");
            assert_eq!(serde_json::to_value(kind)?, serde_json::json!(stored));
            assert_eq!(
                serde_json::from_value::<EventKind>(serde_json::json!(stored))?,
                kind
            );
            assert_eq!(EventKind::try_from_value(&stored).ok(), Some(kind));
            count += 1;
        }
        assert_eq!(count, 7);
        Ok(())
    }
}
