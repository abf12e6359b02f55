//! Which pipeline stage an opportunity may move to (DESIGN.md section 2):
//!
//! - the open stages (DISCOVERY, QUALIFICATION, PROPOSAL, NEGOTIATION) move
//!   freely among each other, forwards and backwards: deals slip;
//! - any open stage may close, as CLOSED_WON or CLOSED_LOST;
//! - a closed deal is reopened (moved back to an open stage) only by ADMIN
//!   or INTEGRATION (a CRM that reopened it); SALES asks revenue operations;
//! - CLOSED_WON and CLOSED_LOST never turn into each other directly: the
//!   outcome of a closed deal is history that KPIs were computed from, so it
//!   is reopened first and closed again, leaving both moves in the history.
//!
//! A move is built as a [`StageMove`](super::stage_move::StageMove)
//! (`StageMove::deal` checks it with [`check`]) and recorded by
//! `services::stage_moves::record`; the sync, which reports history, checks
//! its moves with [`check`] for INTEGRATION and records them in a batch.

use entity::enums::{OpportunityStage, Role};

/// The open stages, in pipeline order.
pub const OPEN: [OpportunityStage; 4] = [
    OpportunityStage::Discovery,
    OpportunityStage::Qualification,
    OpportunityStage::Proposal,
    OpportunityStage::Negotiation,
];

/// Whether `role` may reopen a closed opportunity.
pub fn may_reopen(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Integration)
}

/// The stages `role` may move an opportunity to from `from`, in pipeline
/// order (not including `from` itself, which is never a move).
pub fn allowed(from: OpportunityStage, role: Role) -> Vec<OpportunityStage> {
    let closed = [OpportunityStage::ClosedWon, OpportunityStage::ClosedLost];
    let targets: Vec<OpportunityStage> = if from.is_closed() {
        if may_reopen(role) {
            OPEN.to_vec()
        } else {
            vec![]
        }
    } else {
        OPEN.iter().chain(closed.iter()).copied().collect()
    };
    targets.into_iter().filter(|s| *s != from).collect()
}

/// Checks one move; the error says which moves are allowed from `from`.
pub fn check(from: OpportunityStage, to: OpportunityStage, role: Role) -> Result<(), String> {
    if from == to {
        return Ok(());
    }
    let allowed = allowed(from, role);
    if allowed.contains(&to) {
        return Ok(());
    }
    let names = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let why = if from.is_closed() && to.is_closed() {
        "a closed opportunity does not switch between CLOSED_WON and CLOSED_LOST; reopen it first"
            .to_owned()
    } else if from.is_closed() {
        format!(
            "only ADMIN or INTEGRATION may reopen a closed opportunity, not {}",
            role.as_str()
        )
    } else {
        "not a pipeline move".to_owned()
    };
    Err(format!(
        "cannot move from {from} to {to}: {why}; allowed from {from}: {names}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpportunityStage::*;

    #[test]
    fn open_stages_move_freely_and_may_close() {
        for role in [Role::Sales, Role::Admin, Role::Integration] {
            assert!(check(Discovery, Negotiation, role).is_ok());
            assert!(check(Negotiation, Discovery, role).is_ok());
            assert!(check(Proposal, ClosedWon, role).is_ok());
            assert!(check(Discovery, ClosedLost, role).is_ok());
        }
        assert_eq!(
            allowed(Qualification, Role::Sales),
            [Discovery, Proposal, Negotiation, ClosedWon, ClosedLost]
        );
    }

    #[test]
    fn only_admin_and_integration_reopen() {
        assert!(check(ClosedWon, Negotiation, Role::Admin).is_ok());
        assert!(check(ClosedLost, Discovery, Role::Integration).is_ok());
        let err = check(ClosedWon, Negotiation, Role::Sales).unwrap_err();
        assert!(err.contains("allowed from CLOSED_WON: none"), "{err}");
        assert!(allowed(ClosedLost, Role::Sales).is_empty());
    }

    #[test]
    fn won_and_lost_never_switch_directly() {
        for role in [Role::Admin, Role::Integration, Role::Sales] {
            let err = check(ClosedWon, ClosedLost, role).unwrap_err();
            assert!(err.contains("reopen it first"), "{err}");
            assert!(check(ClosedLost, ClosedWon, role).is_err());
        }
        let err = check(ClosedWon, ClosedLost, Role::Admin).unwrap_err();
        assert!(
            err.ends_with(
                "allowed from CLOSED_WON: DISCOVERY, QUALIFICATION, PROPOSAL, NEGOTIATION"
            ),
            "{err}"
        );
    }

    #[test]
    fn staying_put_is_not_a_move() {
        assert!(check(ClosedWon, ClosedWon, Role::Sales).is_ok());
        assert!(check(Discovery, Discovery, Role::Sales).is_ok());
    }
}
