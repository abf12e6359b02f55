//! Who may do what: one table, role x action, deny by default.
//!
//! The GraphQL layer checks it with [`PolicyGuard`](super::PolicyGuard) on
//! every root field and mutation, and the service layer checks it again
//! ([`Viewer::require`](super::Viewer::require)), because async-graphql skips
//! guards on fields reached through an interface (issue #1826).
//!
//! Beside it, the row rules: which rows of a kind a role may act on
//! ([`ROW_RULES`], asked through [`scope`]). Together they answer "who may
//! do what to which rows"; the services ask [`scope`] (through
//! [`Viewer::require_row`](super::Viewer::require_row) and
//! [`Viewer::scope`](super::Viewer::scope)) rather than testing roles
//! themselves.

use entity::enums::{
    LeadStage,
    Role::{self, *},
};
use sea_orm::{ColumnTrait, Condition, sea_query::Expr};
use uuid::Uuid;

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

/// Which rows a row rule lets a role act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Rows the user owns.
    Owned,
    /// Rows the user owns, and rows nobody owns.
    OwnedOrUnowned,
    /// Rows the user owns, and unowned rows in one of these stages.
    OwnedOrUnownedIn(&'static [LeadStage]),
}

/// The row rules: a role allowed an action by [`POLICY`] acts on every row
/// unless a rule here narrows it; the text, when given, is what a refused
/// caller is told (otherwise "may only ... on records it owns").
const ROW_RULES: &[(Role, Action, Rows, Option<&str>)] = &[
    // A rep edits its own book; revenue operations reassigns.
    (Sales, Action::UpdateLead, Rows::Owned, None),
    (Sales, Action::WriteOpportunity, Rows::Owned, None),
    (Sales, Action::WriteFeedback, Rows::Owned, None),
    // Unowned MQLs are the shared queue any rep may pick up; accepting or
    // claiming one makes the rep its owner (`RowScope::claimant`).
    (
        Sales,
        Action::WorkLead,
        Rows::OwnedOrUnownedIn(&[LeadStage::Mql]),
        Some("SALES works the leads it owns and unowned MQLs; this lead belongs to someone else"),
    ),
    // A rep may log a touch on a lead nobody owns yet.
    (
        Sales,
        Action::RecordActivity,
        Rows::OwnedOrUnowned,
        Some("SALES records touches on the leads it owns or unowned ones"),
    ),
];

fn row_rule(role: Role, action: Action) -> Option<(Rows, Option<&'static str>)> {
    ROW_RULES
        .iter()
        .find(|(r, a, _, _)| *r == role && *a == action)
        .map(|(_, _, rows, refusal)| (*rows, *refusal))
}

/// The rows a user may act on for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowScope {
    /// Every row.
    Any,
    /// The rows this user owns.
    OwnedBy(Uuid),
    /// The rows this user owns and the unowned ones.
    OwnedByOrUnowned(Uuid),
    /// The rows this user owns and the unowned ones in these stages.
    OwnedByOrUnownedIn(Uuid, &'static [LeadStage]),
    /// None: the role may not perform the action at all.
    None,
}

/// What the row rules look at in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowFacts {
    /// The owning user.
    pub owner: Option<Uuid>,
    /// A lead's stage (`None` for other records).
    pub stage: Option<LeadStage>,
}

impl RowFacts {
    /// A record with this owner and no stage.
    pub fn owned_by(owner: Option<Uuid>) -> Self {
        Self { owner, stage: None }
    }
}

impl RowScope {
    /// Whether the scope covers `row`.
    pub fn permits(&self, row: &RowFacts) -> bool {
        match *self {
            RowScope::Any => true,
            RowScope::OwnedBy(user) => row.owner == Some(user),
            RowScope::OwnedByOrUnowned(user) => row.owner.is_none_or(|o| o == user),
            RowScope::OwnedByOrUnownedIn(user, stages) => {
                row.owner == Some(user)
                    || (row.owner.is_none() && row.stage.is_some_and(|s| stages.contains(&s)))
            }
            RowScope::None => false,
        }
    }

    /// The scope as a condition on a table's owner (and stage) columns, for
    /// lists and bulk statements; a scope on stages without a `stage`
    /// column covers only the user's own rows.
    pub fn condition<C: ColumnTrait>(&self, owner: C, stage: Option<C>) -> Condition {
        let own = |user: Uuid| Condition::all().add(owner.eq(user));
        match *self {
            RowScope::Any => Condition::all(),
            RowScope::OwnedBy(user) => own(user),
            RowScope::OwnedByOrUnowned(user) => {
                Condition::any().add(owner.eq(user)).add(owner.is_null())
            }
            RowScope::OwnedByOrUnownedIn(user, stages) => match stage {
                Some(stage) => Condition::any().add(owner.eq(user)).add(
                    Condition::all()
                        .add(owner.is_null())
                        .add(stage.is_in(stages.iter().map(|s| s.as_str()))),
                ),
                None => own(user),
            },
            RowScope::None => Condition::all().add(Expr::value(false)),
        }
    }

    /// Who takes an unowned row that this scope lets the user work: the
    /// user, when the scope covers unowned rows (SALES accepting or
    /// claiming an MQL from the queue); `None` when it covers every row
    /// (an ADMIN's move leaves the owner as it is).
    pub fn claimant(&self) -> Option<Uuid> {
        match *self {
            RowScope::OwnedByOrUnowned(user) | RowScope::OwnedByOrUnownedIn(user, _) => Some(user),
            _ => None,
        }
    }
}

/// The rows `user`, of `role`, may act on for `action`.
pub fn scope(role: Role, user: Uuid, action: Action) -> RowScope {
    if !allows(role, action) {
        return RowScope::None;
    }
    match row_rule(role, action) {
        None => RowScope::Any,
        Some((Rows::Owned, _)) => RowScope::OwnedBy(user),
        Some((Rows::OwnedOrUnowned, _)) => RowScope::OwnedByOrUnowned(user),
        Some((Rows::OwnedOrUnownedIn(stages), _)) => RowScope::OwnedByOrUnownedIn(user, stages),
    }
}

/// What a caller refused by a row rule is told, when the rule words it
/// itself.
pub fn row_refusal(role: Role, action: Action) -> Option<&'static str> {
    row_rule(role, action).and_then(|(_, refusal)| refusal)
}

/// Roles that act only on records they own for this action.
pub fn owner_only(role: Role, action: Action) -> bool {
    matches!(row_rule(role, action), Some((Rows::Owned, _)))
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

    const ME: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    /// Rows of the table below: mine, someone else's, unowned (and, for
    /// leads, unowned in MQL and unowned in SAL).
    fn row(owner: Option<Uuid>, stage: Option<LeadStage>) -> RowFacts {
        RowFacts { owner, stage }
    }

    #[test]
    fn row_scopes_by_role_action_and_row() {
        let mine = row(Some(ME), None);
        let theirs = row(Some(OTHER), None);
        let unowned = row(None, None);
        let unowned_mql = row(None, Some(LeadStage::Mql));
        let unowned_sal = row(None, Some(LeadStage::Sal));
        let their_mql = row(Some(OTHER), Some(LeadStage::Mql));
        // (role, action, [mine, theirs, unowned, unowned MQL, unowned SAL,
        // someone else's MQL]), written out by hand.
        let table: &[(Role, Action, [bool; 6])] = &[
            (
                Sales,
                Action::UpdateLead,
                [true, false, false, false, false, false],
            ),
            (
                Sales,
                Action::WriteOpportunity,
                [true, false, false, false, false, false],
            ),
            (
                Sales,
                Action::WriteFeedback,
                [true, false, false, false, false, false],
            ),
            (
                Sales,
                Action::WorkLead,
                [true, false, false, true, false, false],
            ),
            (
                Sales,
                Action::RecordActivity,
                [true, false, true, true, true, false],
            ),
            (Sales, Action::ReadRecords, [true; 6]),
            (Sales, Action::CreateLead, [false; 6]),
            (Admin, Action::UpdateLead, [true; 6]),
            (Admin, Action::WorkLead, [true; 6]),
            (Admin, Action::WriteOpportunity, [true; 6]),
            (Marketing, Action::UpdateLead, [true; 6]),
            (Marketing, Action::RecordActivity, [true; 6]),
            (Marketing, Action::WorkLead, [false; 6]),
            (Marketing, Action::WriteOpportunity, [false; 6]),
            (Integration, Action::WriteOpportunity, [true; 6]),
            (Integration, Action::WriteFeedback, [true; 6]),
            (Leadership, Action::UpdateLead, [false; 6]),
            (Reporting, Action::RecordActivity, [false; 6]),
        ];
        let rows = [mine, theirs, unowned, unowned_mql, unowned_sal, their_mql];
        for (role, action, expected) in table {
            let scope = scope(*role, ME, *action);
            for (row, want) in rows.iter().zip(expected) {
                assert_eq!(scope.permits(row), *want, "{role:?} {action:?} {row:?}");
            }
        }
    }

    #[test]
    fn every_row_rule_narrows_an_allowed_action() {
        for (role, action, _, _) in ROW_RULES {
            assert!(allows(*role, *action), "{role:?} {action:?}");
        }
        assert_eq!(scope(Sales, ME, Action::UpdateLead), RowScope::OwnedBy(ME));
        assert_eq!(scope(Admin, ME, Action::UpdateLead), RowScope::Any);
        assert_eq!(scope(Leadership, ME, Action::UpdateLead), RowScope::None);
    }

    #[test]
    fn sales_claims_what_it_takes_from_the_queue_and_admin_does_not() {
        assert_eq!(scope(Sales, ME, Action::WorkLead).claimant(), Some(ME));
        assert_eq!(scope(Admin, ME, Action::WorkLead).claimant(), None);
        assert_eq!(scope(Sales, ME, Action::UpdateLead).claimant(), None);
    }

    #[test]
    fn a_scope_becomes_the_matching_sql_condition() {
        use entity::lead::Column as C;
        use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};
        let sql = |scope: RowScope| {
            entity::lead::Entity::find()
                .filter(scope.condition(C::OwnerId, Some(C::Stage)))
                .build(DbBackend::Sqlite)
                .to_string()
        };
        let me = ME.to_string();
        let any = sql(RowScope::Any);
        assert!(any.ends_with("WHERE TRUE"), "{any}");
        let owned = sql(scope(Sales, ME, Action::UpdateLead));
        assert!(
            owned.ends_with(&format!("WHERE \"leads\".\"owner_id\" = '{me}'")),
            "{owned}"
        );
        let queue = sql(scope(Sales, ME, Action::WorkLead));
        assert!(
            queue.ends_with(&format!(
                "WHERE \"leads\".\"owner_id\" = '{me}' OR (\"leads\".\"owner_id\" IS NULL AND \"leads\".\"stage\" IN ('MQL'))"
            )),
            "{queue}"
        );
        let none = sql(RowScope::None);
        assert!(none.ends_with("WHERE FALSE"), "{none}");
    }

    #[test]
    fn the_row_rules_word_their_refusals() {
        assert_eq!(
            row_refusal(Sales, Action::WorkLead),
            Some(
                "SALES works the leads it owns and unowned MQLs; this lead belongs to someone else"
            )
        );
        assert_eq!(row_refusal(Sales, Action::UpdateLead), None);
        assert!(owner_only(Sales, Action::UpdateLead));
        assert!(!owner_only(Sales, Action::WorkLead));
    }
}
