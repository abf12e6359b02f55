//! Who may do what: one table, role x action, deny by default.
//!
//! The GraphQL layer checks it with [`PolicyGuard`](super::PolicyGuard) on
//! every root field and mutation, and the service layer checks it again
//! ([`Viewer::require`](super::Viewer::require)), because async-graphql skips
//! guards on fields reached through an interface (issue #1826).

use entity::enums::Role::{self, *};

/// Something a caller may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read records (accounts, leads, campaigns, opportunities, users,
    /// competitors) without their personal fields.
    ReadRecords,
    /// Read personal data: lead and user names, emails, job titles.
    ReadPersonalData,
    /// Create leads.
    CreateLead,
    /// Edit leads (SALES only those it owns).
    UpdateLead,
    /// Delete leads.
    DeleteLead,
    /// Create and edit accounts.
    WriteAccount,
    /// Delete accounts.
    DeleteAccount,
    /// Create, edit and delete campaigns.
    WriteCampaign,
    /// Create, edit and delete opportunities (SALES only those it owns).
    WriteOpportunity,
    /// Write win/loss feedback on closed opportunities (SALES only on the
    /// opportunities it owns). MARKETING reads it but does not write it.
    WriteFeedback,
    /// Create, edit and delete competitors.
    WriteCompetitor,
    /// Create, edit and deactivate users.
    ManageUsers,
    /// Draft and edit lead definitions.
    DraftDefinition,
    /// Sign lead definitions for one's team.
    SignDefinition,
    /// Accept, reject, qualify, disqualify and claim leads (SALES: its own
    /// and unowned MQLs).
    WorkLead,
    /// Send a nurtured lead back to NEW.
    RecycleLead,
    /// Move a NEW lead to MQL by hand.
    ForceMql,
    /// Record activities (MARKETING: marketing activities; SALES: sales
    /// touches on its own or unowned leads).
    RecordActivity,
    /// Read KPIs, the funnel, KPI definitions and targets (aggregates only).
    ReadKpis,
    /// Set, change and delete KPI targets (shared goals).
    SetKpiTarget,
    /// Read the change feed (`changes`): every write to every record, for
    /// sync jobs.
    ReadChanges,
    /// Bulk upsert and delete records by external id (`upsertLeads`, ...),
    /// and attach or detach external ids by hand.
    SyncRecords,
}

impl Action {
    /// Every action, for table-driven tests and documentation.
    pub const ALL: [Action; 22] = [
        Action::ReadRecords,
        Action::ReadPersonalData,
        Action::CreateLead,
        Action::UpdateLead,
        Action::DeleteLead,
        Action::WriteAccount,
        Action::DeleteAccount,
        Action::WriteCampaign,
        Action::WriteOpportunity,
        Action::WriteFeedback,
        Action::WriteCompetitor,
        Action::ManageUsers,
        Action::DraftDefinition,
        Action::SignDefinition,
        Action::WorkLead,
        Action::RecycleLead,
        Action::ForceMql,
        Action::RecordActivity,
        Action::ReadKpis,
        Action::SetKpiTarget,
        Action::ReadChanges,
        Action::SyncRecords,
    ];
}

/// The policy. A role not listed for an action is denied.
const POLICY: &[(Action, &[Role])] = &[
    (
        Action::ReadRecords,
        &[Admin, Marketing, Sales, Leadership, Integration, Reporting],
    ),
    (
        Action::ReadPersonalData,
        &[Admin, Marketing, Sales, Leadership, Integration],
    ),
    (Action::CreateLead, &[Admin, Marketing, Integration]),
    (Action::UpdateLead, &[Admin, Marketing, Sales, Integration]),
    (Action::DeleteLead, &[Admin, Marketing, Integration]),
    (
        Action::WriteAccount,
        &[Admin, Marketing, Sales, Integration],
    ),
    (Action::DeleteAccount, &[Admin, Integration]),
    (Action::WriteCampaign, &[Admin, Marketing, Integration]),
    (Action::WriteOpportunity, &[Admin, Sales, Integration]),
    (Action::WriteFeedback, &[Admin, Sales, Integration]),
    (Action::WriteCompetitor, &[Admin, Marketing, Sales]),
    (Action::ManageUsers, &[Admin]),
    (Action::DraftDefinition, &[Admin, Marketing]),
    (Action::SignDefinition, &[Admin, Marketing, Sales]),
    (Action::WorkLead, &[Admin, Sales]),
    (Action::RecycleLead, &[Admin, Marketing]),
    (Action::ForceMql, &[Admin]),
    (
        Action::RecordActivity,
        &[Admin, Marketing, Sales, Integration],
    ),
    // Sync jobs move records; they have no use for dashboards.
    (
        Action::ReadKpis,
        &[Admin, Marketing, Sales, Leadership, Reporting],
    ),
    (Action::SetKpiTarget, &[Admin, Leadership]),
    // The feed is how sync jobs mirror every record; people read records
    // through the lists, which filter and mask by role.
    (Action::ReadChanges, &[Admin, Integration]),
    // Bulk writes bypass the per-record ownership rules people work under.
    (Action::SyncRecords, &[Admin, Integration]),
];

/// Whether `role` may perform `action`.
pub fn allows(role: Role, action: Action) -> bool {
    POLICY
        .iter()
        .any(|(a, roles)| *a == action && roles.contains(&role))
}

/// The roles whose users may own records (leads, accounts, campaigns,
/// opportunities): the people who work them. INTEGRATION and REPORTING are
/// machine clients; a record one of them owned would have nobody to work
/// it (its SLA would run out unseen, and no rep's "my leads" would show it).
pub const OWNER_ROLES: [Role; 4] = [Admin, Marketing, Sales, Leadership];

/// Whether users of `role` may own records ([`OWNER_ROLES`]).
pub fn may_own_records(role: Role) -> bool {
    OWNER_ROLES.contains(&role)
}

/// Roles that act only on records they own for this action.
pub fn owner_only(role: Role, action: Action) -> bool {
    role == Sales
        && matches!(
            action,
            Action::UpdateLead | Action::WriteOpportunity | Action::WriteFeedback
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_policy_table() {
        for action in Action::ALL {
            assert!(
                POLICY.iter().any(|(a, _)| *a == action),
                "{action:?} has no row"
            );
        }
    }

    #[test]
    fn reporting_reads_records_but_no_personal_data_and_writes_nothing() {
        assert!(allows(Reporting, Action::ReadRecords));
        assert!(allows(Reporting, Action::ReadKpis));
        for action in Action::ALL
            .into_iter()
            .filter(|a| !matches!(a, Action::ReadRecords | Action::ReadKpis))
        {
            assert!(!allows(Reporting, action), "REPORTING may {action:?}");
        }
    }

    #[test]
    fn marketing_reads_feedback_but_only_admin_sales_and_integration_write_it() {
        for role in [Admin, Sales, Integration] {
            assert!(allows(role, Action::WriteFeedback), "{role:?}");
        }
        for role in [Marketing, Leadership, Reporting] {
            assert!(!allows(role, Action::WriteFeedback), "{role:?}");
        }
        assert!(owner_only(Sales, Action::WriteFeedback));
        assert!(!owner_only(Admin, Action::WriteFeedback));
    }

    #[test]
    fn only_leadership_and_admin_set_kpi_targets() {
        for role in [Marketing, Sales, Integration, Reporting] {
            assert!(!allows(role, Action::SetKpiTarget), "{role:?}");
        }
        assert!(allows(Leadership, Action::SetKpiTarget));
        assert!(allows(Admin, Action::SetKpiTarget));
    }

    #[test]
    fn only_admin_and_integration_read_the_change_feed() {
        for role in [Marketing, Sales, Leadership, Reporting] {
            assert!(!allows(role, Action::ReadChanges), "{role:?}");
        }
        assert!(allows(Admin, Action::ReadChanges));
        assert!(allows(Integration, Action::ReadChanges));
    }

    #[test]
    fn people_own_records_and_machine_clients_do_not() {
        for role in [Admin, Marketing, Sales, Leadership] {
            assert!(may_own_records(role), "{role:?}");
        }
        for role in [Integration, Reporting] {
            assert!(!may_own_records(role), "{role:?}");
        }
    }

    #[test]
    fn only_admin_manages_users() {
        for role in [Marketing, Sales, Leadership, Integration, Reporting] {
            assert!(!allows(role, Action::ManageUsers));
        }
        assert!(allows(Admin, Action::ManageUsers));
    }
}
