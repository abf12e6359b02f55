//! The fields of an opportunity and their rules.

use chrono::NaiveDate;
use entity::{
    enums::{OpportunityStage, OpportunityType, SourcedBy},
    opportunity,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Checked, Link, patch_links, put};
use crate::domain::validate::Errors;

/// The longest opportunity name.
pub const NAME_MAX: usize = 300;

/// What to change on an opportunity. `None` leaves a field as it is;
/// `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpportunityPatch<Id = Uuid> {
    /// Opportunity name (required to create).
    pub name: Option<String>,
    /// The account.
    pub account_id: Option<Option<Id>>,
    /// The lead it was converted from.
    pub primary_lead_id: Option<Option<Id>>,
    /// The owning user.
    pub owner_id: Option<Option<Id>>,
    /// The stage to move to: the writer checks the move against the
    /// pipeline ([`deal_stages`](crate::domain::deal_stages)) and records
    /// it.
    pub stage: Option<OpportunityStage>,
    /// Amount and its currency (required to create).
    pub amount: Option<(Decimal, String)>,
    /// Type of business.
    pub opportunity_type: Option<OpportunityType>,
    /// The team that sourced it.
    pub sourced_by: Option<SourcedBy>,
    /// Expected close date.
    pub expected_close_on: Option<Option<NaiveDate>>,
}

patch_links!(OpportunityPatch {
    name, stage, amount, opportunity_type, sourced_by, expected_close_on
} links { account_id: Account, primary_lead_id: Lead, owner_id: Owner });

impl<Id> OpportunityPatch<Id> {
    /// Normalises the values and collects the failures; `creating` makes
    /// the name and the amount required.
    pub fn validate(self, creating: bool) -> Checked<Self> {
        let mut e = Errors::new();
        let name = e.required("name", self.name, creating, |e, name| {
            e.required_text("name", &name, NAME_MAX)
        });
        let amount = e.required("amount", self.amount, creating, |e, (amount, currency)| {
            (
                e.amount("amount.amount", amount),
                e.currency("amount.currency", &currency),
            )
        });
        let patch = Self {
            name,
            amount,
            ..self
        };
        Checked { patch, errors: e }
    }
}

impl OpportunityPatch {
    /// Sets the columns the patch changes (the stage column only: the
    /// writer stamps its entry and close dates).
    pub fn apply(&self, am: &mut opportunity::ActiveModel) {
        put(&mut am.name, &self.name);
        put(&mut am.account_id, &self.account_id);
        put(&mut am.primary_lead_id, &self.primary_lead_id);
        put(&mut am.owner_id, &self.owner_id);
        put(&mut am.stage, &self.stage);
        if let Some((amount, currency)) = &self.amount {
            am.amount.set_if_not_equals(*amount);
            am.currency.set_if_not_equals(currency.clone());
        }
        put(&mut am.opportunity_type, &self.opportunity_type);
        put(&mut am.sourced_by, &self.sourced_by);
        put(&mut am.expected_close_on, &self.expected_close_on);
    }
}

impl From<&opportunity::Model> for OpportunityPatch {
    /// The patch that writes the row's values: to check a row written
    /// another way (the demo generator's) against the rules.
    fn from(row: &opportunity::Model) -> Self {
        Self {
            name: Some(row.name.clone()),
            account_id: Some(row.account_id),
            primary_lead_id: Some(row.primary_lead_id),
            owner_id: Some(row.owner_id),
            stage: Some(row.stage),
            amount: Some((row.amount, row.currency.clone())),
            opportunity_type: Some(row.opportunity_type),
            sourced_by: Some(row.sourced_by),
            expected_close_on: Some(row.expected_close_on),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue::{NotSet, Set};

    use super::*;
    use crate::{domain::records::tests::codes, error::UserErrorCode as C};

    fn f(field: &str) -> String {
        format!("input.{field}")
    }

    #[test]
    fn a_new_deal_needs_a_name_and_an_amount() {
        assert_eq!(
            codes(OpportunityPatch::<Uuid>::default().validate(true)),
            [(f("name"), C::Required), (f("amount"), C::Required)]
        );
        assert!(codes(OpportunityPatch::<Uuid>::default().validate(false)).is_empty());
    }

    #[test]
    fn an_amount_is_non_negative_in_an_active_currency() {
        let with = |amount: Decimal, currency: &str| OpportunityPatch::<Uuid> {
            amount: Some((amount, currency.into())),
            ..Default::default()
        };
        let ok = with(Decimal::ZERO, " eur ").validate(false);
        assert_eq!(ok.patch.amount, Some((Decimal::ZERO, "EUR".into())));
        assert!(codes(ok).is_empty());
        assert_eq!(
            codes(with(Decimal::new(-1, 2), "XYZ").validate(false)),
            [
                (f("amount.amount"), C::OutOfRange),
                (f("amount.currency"), C::Invalid)
            ]
        );
    }

    #[test]
    fn a_name_of_300_characters_passes_and_301_is_too_long() {
        let named = |n: usize| OpportunityPatch::<Uuid> {
            name: Some("d".repeat(n)),
            ..Default::default()
        };
        assert!(codes(named(300).validate(false)).is_empty());
        assert_eq!(codes(named(301).validate(false)), [(f("name"), C::TooLong)]);
    }

    #[test]
    fn every_unresolved_reference_is_reported_in_field_order_and_left_out() {
        let p = OpportunityPatch::<&str> {
            account_id: Some(Some("no-such-account")),
            primary_lead_id: Some(Some("no-such-lead")),
            owner_id: Some(None),
            name: Some("Deal".into()),
            ..Default::default()
        };
        let (resolved, errors) = p.resolve_all(|link, r| Err::<Uuid, _>((link, r)));
        assert_eq!(
            errors,
            [
                (Link::Account, "no-such-account"),
                (Link::Lead, "no-such-lead")
            ]
        );
        assert_eq!(resolved.account_id, None);
        assert_eq!(resolved.primary_lead_id, None);
        assert_eq!(resolved.owner_id, Some(None), "a clear needs no lookup");
        assert_eq!(resolved.name.as_deref(), Some("Deal"));
    }

    #[test]
    fn apply_sets_the_stage_and_what_else_changes() {
        let mut am = opportunity::ActiveModel::default();
        OpportunityPatch {
            stage: Some(OpportunityStage::Proposal),
            expected_close_on: Some(None),
            ..Default::default()
        }
        .apply(&mut am);
        assert_eq!(am.stage, Set(OpportunityStage::Proposal));
        assert_eq!(am.expected_close_on, Set(None));
        assert_eq!(am.amount, NotSet);
        assert_eq!(am.stage_entered_at, NotSet);
    }
}
