//! One stage move of a lead or an opportunity, as the stage history keeps
//! it: subject, from, to, actor, when and why.
//!
//! The constructors are the only way to build one, and each names the rule
//! that allows the move: [`lifecycle::next_stage`] for a lead's interactive
//! moves ([`StageMove::lead`]), [`crate::domain::crm::sync_move`] for the
//! stages a sync reports ([`StageMove::lead_reported`]),
//! [`deal_stages::check`] for a deal ([`StageMove::deal`]). Every writer of a
//! stage records its move with `services::stage_moves::record` (one move) or
//! `record_all` (a batch), which turn it into a `stage_changes` row.

use chrono::{DateTime, Utc};
use entity::enums::{LeadStage, OpportunityStage, Role, StageSubject};
use uuid::Uuid;

use super::{
    deal_stages,
    lifecycle::{self, LeadAction, TransitionError},
};

/// One transition of a lead's or an opportunity's stage, checked against
/// the domain's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove {
    subject_id: Uuid,
    from: Option<Stage>,
    to: Stage,
    actor: Option<Uuid>,
    at: DateTime<Utc>,
    reason: Option<String>,
}

/// A lead's or a deal's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Lead(LeadStage),
    Deal(OpportunityStage),
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Lead(s) => s.as_str(),
            Stage::Deal(s) => s.as_str(),
        }
    }
}

impl StageMove {
    /// A lead created in NEW.
    pub fn lead_created(lead: Uuid, at: DateTime<Utc>, actor: Option<Uuid>) -> Self {
        Self::lead_raw(lead, None, LeadStage::New, at, actor)
    }

    /// A lead in `from` moved by `action`, if the lifecycle allows it there
    /// ([`lifecycle::next_stage`]).
    pub fn lead(
        lead: Uuid,
        from: LeadStage,
        action: LeadAction,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Result<Self, TransitionError> {
        let to = lifecycle::next_stage(from, action)?;
        Ok(Self::lead_raw(lead, Some(from), to, at, actor))
    }

    /// A stage a sync reports (`from` is `None` when the sync creates the
    /// lead), already judged by [`crate::domain::crm::sync_move`]: a CRM's
    /// history skips stages the interactive lifecycle would not.
    pub fn lead_reported(
        lead: Uuid,
        from: Option<LeadStage>,
        to: LeadStage,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Self {
        Self::lead_raw(lead, from, to, at, actor)
    }

    fn lead_raw(
        lead: Uuid,
        from: Option<LeadStage>,
        to: LeadStage,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Self {
        Self {
            subject_id: lead,
            from: from.map(Stage::Lead),
            to: Stage::Lead(to),
            actor,
            at,
            reason: None,
        }
    }

    /// An opportunity opened in `stage`.
    pub fn deal_opened(
        deal: Uuid,
        stage: OpportunityStage,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Self {
        Self::deal_raw(deal, None, stage, at, actor)
    }

    /// An opportunity moved from `from` to `to` by a user of `role`, if the
    /// pipeline allows it ([`deal_stages::check`]; staying put is no move and
    /// is refused here too). The error says which moves are allowed.
    pub fn deal(
        deal: Uuid,
        from: OpportunityStage,
        to: OpportunityStage,
        role: Role,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Result<Self, String> {
        if from == to {
            return Err(format!("an opportunity in {from} staying there is no move"));
        }
        deal_stages::check(from, to, role)?;
        Ok(Self::deal_raw(deal, Some(from), to, at, actor))
    }

    /// A deal stage a sync reports (`from` is `None` when the sync creates
    /// the deal), as the source system recorded it.
    pub fn deal_reported(
        deal: Uuid,
        from: Option<OpportunityStage>,
        to: OpportunityStage,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Self {
        Self::deal_raw(deal, from, to, at, actor)
    }

    fn deal_raw(
        deal: Uuid,
        from: Option<OpportunityStage>,
        to: OpportunityStage,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
    ) -> Self {
        Self {
            subject_id: deal,
            from: from.map(Stage::Deal),
            to: Stage::Deal(to),
            actor,
            at,
            reason: None,
        }
    }

    /// The same move, saying why (a rejection reason, a note).
    pub fn because(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    /// Lead or opportunity.
    pub fn subject(&self) -> StageSubject {
        match self.to {
            Stage::Lead(_) => StageSubject::Lead,
            Stage::Deal(_) => StageSubject::Opportunity,
        }
    }

    /// The lead's or opportunity's id.
    pub fn subject_id(&self) -> Uuid {
        self.subject_id
    }

    /// The stage left; `None` when the record was created.
    pub fn from(&self) -> Option<&'static str> {
        self.from.map(Stage::as_str)
    }

    /// The stage entered.
    pub fn to(&self) -> &'static str {
        self.to.as_str()
    }

    /// The stage a lead enters (`None` for a deal's move).
    pub fn lead_stage(&self) -> Option<LeadStage> {
        match self.to {
            Stage::Lead(s) => Some(s),
            Stage::Deal(_) => None,
        }
    }

    /// The stage a deal enters (`None` for a lead's move).
    pub fn deal_stage(&self) -> Option<OpportunityStage> {
        match self.to {
            Stage::Deal(s) => Some(s),
            Stage::Lead(_) => None,
        }
    }

    /// Who moved it (`None`: the system).
    pub fn actor(&self) -> Option<Uuid> {
        self.actor
    }

    /// When (a sync's source time for imported history).
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Why, if a reason was given.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Takes the reason out (a row owns its text).
    pub fn into_reason(self) -> Option<String> {
        self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_lead_moves_only_where_the_lifecycle_allows() {
        let id = Uuid::nil();
        let m = StageMove::lead(id, LeadStage::Mql, LeadAction::Accept, at(), None)
            .expect("MQL accepts");
        assert_eq!((m.from(), m.to()), (Some("MQL"), "SAL"));
        assert_eq!(m.subject(), StageSubject::Lead);
        let err = StageMove::lead(id, LeadStage::New, LeadAction::Accept, at(), None)
            .expect_err("NEW does not accept");
        assert_eq!(err.allowed, [LeadAction::BecomeMql]);
    }

    #[test]
    fn a_created_lead_enters_new_from_nowhere() {
        let m = StageMove::lead_created(Uuid::nil(), at(), None);
        assert_eq!((m.from(), m.to(), m.reason()), (None, "NEW", None));
    }

    #[test]
    fn a_deal_moves_only_along_the_pipeline() {
        use OpportunityStage::*;
        let id = Uuid::nil();
        let m = StageMove::deal(id, Discovery, ClosedLost, Role::Sales, at(), None)
            .expect("an open deal closes")
            .because(Some("PRICE".into()));
        assert_eq!(
            (m.from(), m.to(), m.reason()),
            (Some("DISCOVERY"), "CLOSED_LOST", Some("PRICE"))
        );
        assert_eq!(m.subject(), StageSubject::Opportunity);
        let err = StageMove::deal(id, ClosedWon, Negotiation, Role::Sales, at(), None)
            .expect_err("SALES does not reopen");
        assert!(
            err.contains("only ADMIN or INTEGRATION may reopen"),
            "{err}"
        );
        assert!(StageMove::deal(id, Proposal, Proposal, Role::Admin, at(), None).is_err());
    }
}
