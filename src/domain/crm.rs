//! How HubSpot's and Salesforce's stages map to Handoff's (docs/sync.md).
//!
//! A sync job sends a stage as the source system spells it, or as Handoff's
//! own name (`MQL`, `CLOSED_WON`), which every system accepts. Matching
//! ignores case, surrounding and repeated spaces and the spaces around a
//! hyphen, so `Working - Contacted`, `working-contacted` and `WORKING -
//! CONTACTED` are one value; both HubSpot's internal names
//! (`marketingqualifiedlead`) and its labels (`Marketing Qualified Lead`)
//! match. The table in docs/sync.md is generated from the same lists
//! (`mapping_table`), so the documentation cannot drift.

use entity::enums::{ExternalSystem, LeadStage, OpportunityStage};

/// HubSpot lifecycle stages (`lifecyclestage`), internal name and label.
const HUBSPOT_LIFECYCLE: &[(&str, &str, LeadStage)] = &[
    ("subscriber", "Subscriber", LeadStage::New),
    ("lead", "Lead", LeadStage::New),
    (
        "marketingqualifiedlead",
        "Marketing Qualified Lead",
        LeadStage::Mql,
    ),
    ("salesqualifiedlead", "Sales Qualified Lead", LeadStage::Sql),
    ("opportunity", "Opportunity", LeadStage::Opportunity),
    ("customer", "Customer", LeadStage::Customer),
    ("evangelist", "Evangelist", LeadStage::Customer),
];

/// HubSpot lead statuses (`hs_lead_status`) that say more than the
/// lifecycle stage: sales is working the lead, or has put it aside. `NEW`
/// and `OPEN` say nothing beyond the lifecycle stage and are not listed.
const HUBSPOT_LEAD_STATUS: &[(&str, &str, LeadStage)] = &[
    ("in_progress", "In Progress", LeadStage::Sal),
    (
        "attempted_to_contact",
        "Attempted to Contact",
        LeadStage::Sal,
    ),
    ("connected", "Connected", LeadStage::Sal),
    ("open_deal", "Open Deal", LeadStage::Opportunity),
    ("unqualified", "Unqualified", LeadStage::Nurture),
    ("bad_timing", "Bad Timing", LeadStage::Nurture),
];

/// HubSpot lead statuses that leave the lifecycle stage in charge.
const HUBSPOT_NEUTRAL_STATUS: &[&str] = &["new", "open"];

/// Salesforce Lead `Status`: the standard picklist and common additions.
const SALESFORCE_LEAD_STATUS: &[(&str, LeadStage)] = &[
    ("New", LeadStage::New),
    ("Open - Not Contacted", LeadStage::Mql),
    ("Marketing Qualified", LeadStage::Mql),
    ("Working - Contacted", LeadStage::Sal),
    ("Sales Accepted", LeadStage::Sal),
    ("Qualified", LeadStage::Sql),
    ("Closed - Converted", LeadStage::Opportunity),
    ("Closed - Not Converted", LeadStage::Nurture),
    ("Unqualified", LeadStage::Nurture),
    ("Nurturing", LeadStage::Nurture),
];

/// HubSpot deal stages of the default sales pipeline (`dealstage`).
const HUBSPOT_DEAL_STAGE: &[(&str, &str, OpportunityStage)] = &[
    (
        "appointmentscheduled",
        "Appointment Scheduled",
        OpportunityStage::Discovery,
    ),
    (
        "qualifiedtobuy",
        "Qualified To Buy",
        OpportunityStage::Qualification,
    ),
    (
        "presentationscheduled",
        "Presentation Scheduled",
        OpportunityStage::Proposal,
    ),
    (
        "decisionmakerboughtin",
        "Decision Maker Bought-In",
        OpportunityStage::Proposal,
    ),
    (
        "contractsent",
        "Contract Sent",
        OpportunityStage::Negotiation,
    ),
    ("closedwon", "Closed Won", OpportunityStage::ClosedWon),
    ("closedlost", "Closed Lost", OpportunityStage::ClosedLost),
];

/// Salesforce Opportunity `StageName`: the standard picklist.
const SALESFORCE_OPPORTUNITY_STAGE: &[(&str, OpportunityStage)] = &[
    ("Prospecting", OpportunityStage::Discovery),
    ("Qualification", OpportunityStage::Qualification),
    ("Needs Analysis", OpportunityStage::Qualification),
    ("Value Proposition", OpportunityStage::Proposal),
    ("Id. Decision Makers", OpportunityStage::Proposal),
    ("Perception Analysis", OpportunityStage::Proposal),
    ("Proposal/Price Quote", OpportunityStage::Proposal),
    ("Negotiation/Review", OpportunityStage::Negotiation),
    ("Closed Won", OpportunityStage::ClosedWon),
    ("Closed Lost", OpportunityStage::ClosedLost),
];

const LEAD_STAGES: &[LeadStage] = &[
    LeadStage::New,
    LeadStage::Mql,
    LeadStage::Sal,
    LeadStage::Sql,
    LeadStage::Opportunity,
    LeadStage::Customer,
    LeadStage::Nurture,
];

const OPPORTUNITY_STAGES: &[OpportunityStage] = &[
    OpportunityStage::Discovery,
    OpportunityStage::Qualification,
    OpportunityStage::Proposal,
    OpportunityStage::Negotiation,
    OpportunityStage::ClosedWon,
    OpportunityStage::ClosedLost,
];

/// Lower case, single spaces, no spaces around hyphens or slashes, and `_`
/// as a space: the form values are compared in.
fn normalise(value: &str) -> String {
    let lower = value.trim().to_lowercase().replace('_', " ");
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .join(" ")
        .replace(" - ", "-")
        .replace(" -", "-")
        .replace("- ", "-")
        .replace(" / ", "/")
}

fn same(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

/// A lead stage named by Handoff's own name.
fn handoff_lead_stage(value: &str) -> Option<LeadStage> {
    LEAD_STAGES
        .iter()
        .copied()
        .find(|s| same(s.as_str(), value))
}

/// An opportunity stage named by Handoff's own name.
fn handoff_opportunity_stage(value: &str) -> Option<OpportunityStage> {
    OPPORTUNITY_STAGES
        .iter()
        .copied()
        .find(|s| same(s.as_str(), value))
}

/// The Handoff stage of a lead whose source system reports `stage` (HubSpot:
/// the lifecycle stage; Salesforce: the Lead Status) and, for HubSpot,
/// optionally the lead status, which wins when it says more. `Err` names the
/// value that is outside the mapping.
pub fn lead_stage(
    system: ExternalSystem,
    stage: Option<&str>,
    lead_status: Option<&str>,
) -> Result<Option<LeadStage>, String> {
    let stage = stage.map(str::trim).filter(|s| !s.is_empty());
    let lead_status = lead_status.map(str::trim).filter(|s| !s.is_empty());
    let from_stage = match stage {
        None => None,
        Some(value) => Some(
            handoff_lead_stage(value)
                .or_else(|| match system {
                    ExternalSystem::Hubspot => HUBSPOT_LIFECYCLE
                        .iter()
                        .find(|(name, label, _)| same(name, value) || same(label, value))
                        .map(|&(_, _, s)| s),
                    ExternalSystem::Salesforce => SALESFORCE_LEAD_STATUS
                        .iter()
                        .find(|(label, _)| same(label, value))
                        .map(|&(_, s)| s),
                    ExternalSystem::Other => None,
                })
                .ok_or_else(|| unknown("lead stage", system, value))?,
        ),
    };
    let from_status = match (system, lead_status) {
        (_, None) => None,
        (ExternalSystem::Hubspot, Some(value)) => {
            if HUBSPOT_NEUTRAL_STATUS.iter().any(|n| same(n, value)) {
                None
            } else {
                Some(
                    HUBSPOT_LEAD_STATUS
                        .iter()
                        .find(|(name, label, _)| same(name, value) || same(label, value))
                        .map(|&(_, _, s)| s)
                        .ok_or_else(|| unknown("HubSpot lead status", system, value))?,
                )
            }
        }
        (_, Some(_)) => {
            return Err(format!(
                "`leadStatus` is HubSpot's lead status; for {system} send the status as `stage`"
            ));
        }
    };
    // A lead status refines the lifecycle stage of a lead being worked; a
    // contact that already has a deal or is a customer keeps that stage
    // whatever its (often stale) lead status.
    Ok(match (from_stage, from_status) {
        (Some(stage), Some(status))
            if rank(stage) >= rank(LeadStage::Opportunity) && rank(stage) > rank(status) =>
        {
            Some(stage)
        }
        (stage, status) => status.or(stage),
    })
}

/// The Handoff stage of an opportunity whose source system reports `value`
/// (HubSpot: `dealstage`; Salesforce: `StageName`).
pub fn opportunity_stage(system: ExternalSystem, value: &str) -> Result<OpportunityStage, String> {
    handoff_opportunity_stage(value)
        .or_else(|| match system {
            ExternalSystem::Hubspot => HUBSPOT_DEAL_STAGE
                .iter()
                .find(|(name, label, _)| same(name, value) || same(label, value))
                .map(|&(_, _, s)| s),
            ExternalSystem::Salesforce => SALESFORCE_OPPORTUNITY_STAGE
                .iter()
                .find(|(label, _)| same(label, value))
                .map(|&(_, s)| s),
            ExternalSystem::Other => None,
        })
        .ok_or_else(|| unknown("opportunity stage", system, value))
}

fn unknown(what: &str, system: ExternalSystem, value: &str) -> String {
    format!(
        "{value:?} is not a {what} Handoff maps from {system}; send one of the values in the \
         mapping table of docs/sync.md or Handoff's own stage name"
    )
}

/// A lead stage's place in the funnel (NURTURE sits beside it, at -1).
pub fn rank(stage: LeadStage) -> i32 {
    match stage {
        LeadStage::Nurture => -1,
        LeadStage::New => 0,
        LeadStage::Mql => 1,
        LeadStage::Sal => 2,
        LeadStage::Sql => 3,
        LeadStage::Opportunity => 4,
        LeadStage::Customer => 5,
    }
}

/// What a sync does with a reported lead stage that differs from the
/// lead's current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMove {
    /// Record the move, stamped with the source date.
    Apply,
    /// Record the move as a recycle (NURTURE back to NEW): `recycleCount` + 1.
    Recycle,
    /// Keep the current stage: the lead is further along in Handoff than
    /// the source says (sales worked it here, or Handoff's definition made
    /// it an MQL). The record's result carries a warning.
    KeepCurrent,
}

/// The sync policy for lead stages (docs/sync.md, "What a sync does with
/// a reported stage"). The source system is the record of what happened, so
/// moves the interactive state machine would refuse as skipping a step
/// (NEW straight to SQL, as HubSpot allows) are recorded as one move; but a
/// stage a lead has passed is never taken back, so a report of an earlier
/// funnel stage keeps the current one. NURTURE is reachable from every open
/// stage and leads anywhere: back to NEW as a recycle, or forward when the
/// lead re-engages.
pub fn sync_move(current: LeadStage, reported: LeadStage) -> SyncMove {
    use LeadStage as S;
    match (current, reported) {
        (S::Nurture, S::New) => SyncMove::Recycle,
        (S::Nurture, _) => SyncMove::Apply,
        (S::Opportunity | S::Customer, S::Nurture) => SyncMove::KeepCurrent,
        (_, S::Nurture) => SyncMove::Apply,
        (current, reported) if rank(reported) > rank(current) => SyncMove::Apply,
        _ => SyncMove::KeepCurrent,
    }
}

/// The mapping tables as Markdown rows `| system | field | value | stage |`,
/// for docs/sync.md (a test keeps its copy equal to this).
pub fn mapping_table() -> String {
    let mut out = String::from(
        "| system | field | source value | Handoff stage |\n| --- | --- | --- | --- |\n",
    );
    for (name, label, stage) in HUBSPOT_LIFECYCLE {
        out += &format!("| HubSpot | lifecyclestage | `{name}` ({label}) | {stage} |\n");
    }
    for (name, label, stage) in HUBSPOT_LEAD_STATUS {
        out += &format!(
            "| HubSpot | hs_lead_status | `{}` ({label}) | {stage} |\n",
            name.to_uppercase()
        );
    }
    for (label, stage) in SALESFORCE_LEAD_STATUS {
        out += &format!("| Salesforce | Lead Status | `{label}` | {stage} |\n");
    }
    for (name, label, stage) in HUBSPOT_DEAL_STAGE {
        out += &format!("| HubSpot | dealstage | `{name}` ({label}) | {stage} |\n");
    }
    for (label, stage) in SALESFORCE_OPPORTUNITY_STAGE {
        out += &format!("| Salesforce | Opportunity StageName | `{label}` | {stage} |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExternalSystem::*;

    #[test]
    fn hubspot_lifecycle_names_and_labels_map() {
        assert_eq!(
            lead_stage(Hubspot, Some("marketingqualifiedlead"), None),
            Ok(Some(LeadStage::Mql))
        );
        assert_eq!(
            lead_stage(Hubspot, Some("  Sales   Qualified lead "), None),
            Ok(Some(LeadStage::Sql))
        );
        assert_eq!(
            lead_stage(Hubspot, Some("evangelist"), None),
            Ok(Some(LeadStage::Customer))
        );
        assert_eq!(lead_stage(Hubspot, None, None), Ok(None));
        assert!(lead_stage(Hubspot, Some("other"), None).is_err());
    }

    #[test]
    fn hubspot_lead_status_refines_early_stages_only() {
        assert_eq!(
            lead_stage(Hubspot, Some("marketingqualifiedlead"), Some("IN_PROGRESS")),
            Ok(Some(LeadStage::Sal))
        );
        assert_eq!(
            lead_stage(Hubspot, Some("lead"), Some("Unqualified")),
            Ok(Some(LeadStage::Nurture))
        );
        assert_eq!(
            lead_stage(Hubspot, Some("customer"), Some("CONNECTED")),
            Ok(Some(LeadStage::Customer))
        );
        assert_eq!(
            lead_stage(Hubspot, Some("lead"), Some("OPEN")),
            Ok(Some(LeadStage::New))
        );
        assert!(lead_stage(Hubspot, Some("lead"), Some("MAYBE")).is_err());
        assert!(lead_stage(Salesforce, Some("New"), Some("OPEN")).is_err());
    }

    #[test]
    fn salesforce_statuses_ignore_case_and_hyphen_spacing() {
        assert_eq!(
            lead_stage(Salesforce, Some("working-contacted"), None),
            Ok(Some(LeadStage::Sal))
        );
        assert_eq!(
            lead_stage(Salesforce, Some("CLOSED - NOT CONVERTED"), None),
            Ok(Some(LeadStage::Nurture))
        );
        assert!(lead_stage(Salesforce, Some("Working"), None).is_err());
    }

    #[test]
    fn handoff_names_work_for_every_system() {
        for system in [Hubspot, Salesforce, Other] {
            assert_eq!(
                lead_stage(system, Some("sql"), None),
                Ok(Some(LeadStage::Sql))
            );
            assert_eq!(
                opportunity_stage(system, "closed_won"),
                Ok(OpportunityStage::ClosedWon)
            );
        }
        assert!(lead_stage(Other, Some("marketingqualifiedlead"), None).is_err());
    }

    #[test]
    fn deal_stages_map() {
        assert_eq!(
            opportunity_stage(Hubspot, "decisionmakerboughtin"),
            Ok(OpportunityStage::Proposal)
        );
        assert_eq!(
            opportunity_stage(Hubspot, "Contract Sent"),
            Ok(OpportunityStage::Negotiation)
        );
        assert_eq!(
            opportunity_stage(Salesforce, "proposal / price quote"),
            Ok(OpportunityStage::Proposal)
        );
        assert_eq!(
            opportunity_stage(Salesforce, "Closed Lost"),
            Ok(OpportunityStage::ClosedLost)
        );
        assert!(opportunity_stage(Salesforce, "Won").is_err());
    }

    #[test]
    fn the_sync_policy_never_takes_a_passed_stage_back() {
        use LeadStage::*;
        assert_eq!(sync_move(New, Sql), SyncMove::Apply);
        assert_eq!(sync_move(Mql, Sal), SyncMove::Apply);
        assert_eq!(sync_move(Sal, Mql), SyncMove::KeepCurrent);
        assert_eq!(sync_move(Mql, New), SyncMove::KeepCurrent);
        assert_eq!(sync_move(Sql, Nurture), SyncMove::Apply);
        assert_eq!(sync_move(Customer, Nurture), SyncMove::KeepCurrent);
        assert_eq!(sync_move(Nurture, New), SyncMove::Recycle);
        assert_eq!(sync_move(Nurture, Sal), SyncMove::Apply);
        assert_eq!(sync_move(Opportunity, Customer), SyncMove::Apply);
    }

    #[test]
    fn the_sync_doc_shows_the_mapping_table() {
        let doc = include_str!("../../docs/sync.md");
        assert!(
            doc.contains(&mapping_table()),
            "docs/sync.md's mapping table differs from domain::crm::mapping_table(); paste its output:\n{}",
            mapping_table()
        );
    }

    #[test]
    fn the_table_lists_every_mapping() {
        let table = mapping_table();
        assert!(table.contains("| Salesforce | Lead Status | `Working - Contacted` | SAL |"));
        assert!(table.contains("| HubSpot | dealstage | `closedwon` (Closed Won) | CLOSED_WON |"));
        assert_eq!(
            table.lines().count(),
            2 + HUBSPOT_LIFECYCLE.len()
                + HUBSPOT_LEAD_STATUS.len()
                + SALESFORCE_LEAD_STATUS.len()
                + HUBSPOT_DEAL_STAGE.len()
                + SALESFORCE_OPPORTUNITY_STAGE.len()
        );
    }
}
