//! The lead lifecycle state machine (DESIGN.md §3):
//!
//! ```text
//! NEW -becomeMql-> MQL -accept-> SAL -qualify-> SQL -convert-> OPPORTUNITY -win-> CUSTOMER
//!  ^                |             |               |
//!  +-recycle- NURTURE <-reject----+--------------disqualify
//! ```
//!
//! A move allowed here is built as a [`StageMove`](super::stage_move::StageMove)
//! (`StageMove::lead` checks it with [`next_stage`]) and recorded by
//! `services::stage_moves::record` (or `record_all` for a batch): every
//! writer of a lead's stage goes through there, the API's lifecycle
//! mutations, the automatic move to MQL after scoring, a won deal's lead,
//! the sync and the demo generator alike.

use std::fmt;

use entity::enums::LeadStage;

/// What moves a lead from one stage to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadAction {
    /// NEW -> MQL: automatic when both scores reach the definition's
    /// thresholds, or forced by an ADMIN.
    BecomeMql,
    /// MQL -> SAL: sales accepts the lead.
    Accept,
    /// MQL or SAL -> NURTURE: sales rejects the lead; needs a reason.
    Reject,
    /// SAL -> SQL: sales qualifies the lead.
    Qualify,
    /// SQL -> NURTURE: sales disqualifies the lead; needs a reason.
    Disqualify,
    /// SQL -> OPPORTUNITY: the lead becomes a deal.
    Convert,
    /// OPPORTUNITY -> CUSTOMER: the deal is won.
    Win,
    /// NURTURE -> NEW: marketing recycles the lead (`recycle_count` + 1).
    Recycle,
}

impl LeadAction {
    /// Every action, in the order [`allowed_actions`] lists them.
    pub const ALL: [LeadAction; 8] = [
        Self::BecomeMql,
        Self::Accept,
        Self::Reject,
        Self::Qualify,
        Self::Disqualify,
        Self::Convert,
        Self::Win,
        Self::Recycle,
    ];

    /// What a client calls to make the move, so that an error naming the
    /// allowed moves says what to do next.
    pub fn name(self) -> &'static str {
        match self {
            Self::BecomeMql => "forceLeadMql",
            Self::Accept => "acceptLead",
            Self::Reject => "rejectLead",
            Self::Qualify => "qualifyLead",
            Self::Disqualify => "disqualifyLead",
            Self::Convert => "convertLead",
            Self::Win => "updateOpportunity(stage: CLOSED_WON)",
            Self::Recycle => "recycleLead",
        }
    }

    /// Whether the action must be given a rejection reason (reject, disqualify).
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Reject | Self::Disqualify)
    }
}

impl fmt::Display for LeadAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stage `action` leads to from `from`, if the action is legal there.
fn target(from: LeadStage, action: LeadAction) -> Option<LeadStage> {
    use LeadAction as A;
    use LeadStage as S;
    match (from, action) {
        (S::New, A::BecomeMql) => Some(S::Mql),
        (S::Mql, A::Accept) => Some(S::Sal),
        (S::Mql | S::Sal, A::Reject) => Some(S::Nurture),
        (S::Sal, A::Qualify) => Some(S::Sql),
        (S::Sql, A::Disqualify) => Some(S::Nurture),
        (S::Sql, A::Convert) => Some(S::Opportunity),
        (S::Opportunity, A::Win) => Some(S::Customer),
        (S::Nurture, A::Recycle) => Some(S::New),
        _ => None,
    }
}

/// An illegal transition, naming the actions that are legal from its stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{action} is not allowed for a lead in stage {from}; from {from} the allowed moves are: {}",
    list(.allowed)
)]
pub struct TransitionError {
    /// The lead's current stage.
    pub from: LeadStage,
    /// The refused action.
    pub action: LeadAction,
    /// The actions legal from `from`, as [`allowed_actions`] lists them.
    pub allowed: Vec<LeadAction>,
}

/// `accept, reject`, or `none` for no actions.
fn list(actions: &[LeadAction]) -> String {
    if actions.is_empty() {
        "none".to_owned()
    } else {
        actions
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The stage a lead in `from` moves to by `action`, or an error naming the
/// actions allowed from `from`.
pub fn next_stage(from: LeadStage, action: LeadAction) -> Result<LeadStage, TransitionError> {
    target(from, action).ok_or_else(|| TransitionError {
        from,
        action,
        allowed: allowed_actions(from),
    })
}

/// The actions legal from `from`, in the order of [`LeadAction::ALL`].
pub fn allowed_actions(from: LeadStage) -> Vec<LeadAction> {
    LeadAction::ALL
        .into_iter()
        .filter(|&a| target(from, a).is_some())
        .collect()
}

/// Whether a lead in this stage is still open for rescoring (NEW, MQL, SAL,
/// SQL, NURTURE); OPPORTUNITY and CUSTOMER are not.
pub fn is_open(stage: LeadStage) -> bool {
    !matches!(stage, LeadStage::Opportunity | LeadStage::Customer)
}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    use LeadAction as A;
    use LeadStage as S;

    /// Every legal transition, written out by hand from DESIGN.md §3.
    const LEGAL: [(LeadStage, LeadAction, LeadStage); 9] = [
        (S::New, A::BecomeMql, S::Mql),
        (S::Mql, A::Accept, S::Sal),
        (S::Mql, A::Reject, S::Nurture),
        (S::Sal, A::Reject, S::Nurture),
        (S::Sal, A::Qualify, S::Sql),
        (S::Sql, A::Disqualify, S::Nurture),
        (S::Sql, A::Convert, S::Opportunity),
        (S::Opportunity, A::Win, S::Customer),
        (S::Nurture, A::Recycle, S::New),
    ];

    #[test]
    fn exactly_the_legal_transitions_succeed() {
        let stages: Vec<_> = LeadStage::iter().collect();
        assert_eq!(stages.len(), 7);
        let mut checked = 0;
        for from in stages {
            for action in LeadAction::ALL {
                let legal = LEGAL
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                match (legal, next_stage(from, action)) {
                    (Some(to), Ok(got)) => assert_eq!(got, to, "{from} {action}"),
                    (None, Err(e)) => {
                        assert_eq!(e.from, from);
                        assert_eq!(e.action, action);
                        assert_eq!(e.allowed, allowed_actions(from), "{from} {action}");
                    }
                    (legal, got) => panic!("{from} {action}: expected {legal:?}, got {got:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 8);
    }

    #[test]
    fn allowed_actions_are_listed_in_a_stable_order() {
        assert_eq!(allowed_actions(S::New), [A::BecomeMql]);
        assert_eq!(allowed_actions(S::Mql), [A::Accept, A::Reject]);
        assert_eq!(allowed_actions(S::Sal), [A::Reject, A::Qualify]);
        assert_eq!(allowed_actions(S::Sql), [A::Disqualify, A::Convert]);
        assert_eq!(allowed_actions(S::Opportunity), [A::Win]);
        assert_eq!(allowed_actions(S::Customer), []);
        assert_eq!(allowed_actions(S::Nurture), [A::Recycle]);
    }

    #[test]
    fn the_error_names_the_allowed_actions() {
        let e = next_stage(S::Nurture, A::Accept).unwrap_err();
        assert_eq!(
            e.to_string(),
            "acceptLead is not allowed for a lead in stage NURTURE; from NURTURE the allowed \
             moves are: recycleLead"
        );
        let e = next_stage(S::Customer, A::Recycle).unwrap_err();
        assert_eq!(
            e.to_string(),
            "recycleLead is not allowed for a lead in stage CUSTOMER; from CUSTOMER the allowed \
             moves are: none"
        );
        let e = next_stage(S::Sql, A::BecomeMql).unwrap_err();
        assert_eq!(
            e.to_string(),
            "forceLeadMql is not allowed for a lead in stage SQL; from SQL the allowed moves are: \
             disqualifyLead, convertLead"
        );
    }

    #[test]
    fn names_are_the_mutations_a_client_calls() {
        let names: Vec<_> = LeadAction::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "forceLeadMql",
                "acceptLead",
                "rejectLead",
                "qualifyLead",
                "disqualifyLead",
                "convertLead",
                "updateOpportunity(stage: CLOSED_WON)",
                "recycleLead",
            ]
        );
        assert_eq!(A::Accept.to_string(), "acceptLead");
        let needing: Vec<_> = LeadAction::ALL
            .into_iter()
            .filter(|a| a.needs_reason())
            .collect();
        assert_eq!(needing, [A::Reject, A::Disqualify]);
    }

    #[test]
    fn only_opportunities_and_customers_are_closed_to_rescoring() {
        let open: Vec<_> = LeadStage::iter().filter(|s| is_open(*s)).collect();
        assert_eq!(open, [S::New, S::Mql, S::Sal, S::Sql, S::Nurture]);
    }
}
