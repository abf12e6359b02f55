//! The fields of a campaign and their rules.

use chrono::NaiveDate;
use entity::{
    campaign,
    enums::{CampaignObjective, CampaignStatus, Channel},
};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Checked, Link, given, patch_links, put};
use crate::{domain::validate::Errors, error::UserErrorCode};

/// The longest campaign name.
pub const NAME_MAX: usize = 300;

/// What to change on a campaign. `None` leaves a field as it is;
/// `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignPatch<Id = Uuid> {
    /// Campaign name (required to create).
    pub name: Option<String>,
    /// Channel it runs on (required to create).
    pub channel: Option<Channel>,
    /// What it aims at (required to create).
    pub objective: Option<CampaignObjective>,
    /// Lifecycle status.
    pub status: Option<CampaignStatus>,
    /// First day (required to create).
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<Option<NaiveDate>>,
    /// Budget and its currency; `Some(None)` clears the budget (the
    /// currency stays).
    pub budget: Option<Option<(Decimal, String)>>,
    /// The owning user.
    pub owner_id: Option<Option<Id>>,
}

patch_links!(CampaignPatch {
    name, channel, objective, status, starts_on, ends_on, budget
} links { owner_id: Owner });

impl<Id> CampaignPatch<Id> {
    /// Normalises the values and collects the failures against the
    /// campaign as it is (`None` when creating: then the name, channel,
    /// objective and first day are required). The last day must not come
    /// before the first, whichever of the two changes.
    pub fn validate(self, current: Option<&campaign::Model>) -> Checked<Self> {
        let creating = current.is_none();
        let mut e = Errors::new();
        let name = e.required("name", self.name, creating, |e, name| {
            e.required_text("name", &name, NAME_MAX)
        });
        let channel = e.required("channel", self.channel, creating, given);
        let objective = e.required("objective", self.objective, creating, given);
        let starts_on = e.required("startsOn", self.starts_on, creating, given);
        let first = starts_on.or(current.map(|c| c.starts_on));
        let last = self.ends_on.unwrap_or(current.and_then(|c| c.ends_on));
        if let (Some(starts_on), Some(ends_on)) = (first, last)
            && ends_on < starts_on
        {
            e.add(
                "endsOn",
                UserErrorCode::OutOfRange,
                format!("`endsOn` ({ends_on}) must not be before `startsOn` ({starts_on})"),
            );
        }
        let budget = self.budget.map(|v| {
            v.map(|(amount, currency)| {
                (
                    e.amount("budget.amount", amount),
                    e.currency("budget.currency", &currency),
                )
            })
        });
        let patch = Self {
            name,
            channel,
            objective,
            starts_on,
            budget,
            ..self
        };
        Checked { patch, errors: e }
    }

    /// The currency the campaign has after the patch.
    pub fn currency_after<'a>(&'a self, current: &'a campaign::Model) -> &'a str {
        match &self.budget {
            Some(Some((_, currency))) => currency,
            _ => &current.currency,
        }
    }
}

impl CampaignPatch {
    /// Sets the columns the patch changes.
    pub fn apply(&self, am: &mut campaign::ActiveModel) {
        put(&mut am.name, &self.name);
        put(&mut am.channel, &self.channel);
        put(&mut am.objective, &self.objective);
        put(&mut am.status, &self.status);
        put(&mut am.starts_on, &self.starts_on);
        put(&mut am.ends_on, &self.ends_on);
        match &self.budget {
            Some(Some((amount, currency))) => {
                am.budget.set_if_not_equals(Some(*amount));
                am.currency.set_if_not_equals(currency.clone());
            }
            Some(None) => am.budget.set_if_not_equals(None),
            None => {}
        }
        put(&mut am.owner_id, &self.owner_id);
    }
}

impl From<&campaign::Model> for CampaignPatch {
    /// The patch that writes the row's values: to check a row written
    /// another way (the demo generator's) against the rules.
    fn from(row: &campaign::Model) -> Self {
        Self {
            name: Some(row.name.clone()),
            channel: Some(row.channel),
            objective: Some(row.objective),
            status: Some(row.status),
            starts_on: Some(row.starts_on),
            ends_on: Some(row.ends_on),
            budget: Some(row.budget.map(|amount| (amount, row.currency.clone()))),
            owner_id: Some(row.owner_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{domain::records::tests::codes, error::UserErrorCode as C};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default()
    }

    fn current(starts_on: NaiveDate, ends_on: Option<NaiveDate>) -> campaign::Model {
        campaign::Model {
            id: Uuid::nil(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            name: "Spring".into(),
            channel: Channel::Webinar,
            objective: CampaignObjective::Conversion,
            status: CampaignStatus::Planned,
            starts_on,
            ends_on,
            budget: None,
            currency: "USD".into(),
            owner_id: None,
            version: 1,
            deleted_at: None,
        }
    }

    fn f(field: &str) -> String {
        format!("input.{field}")
    }

    #[test]
    fn a_new_campaign_needs_a_name_channel_objective_and_first_day() {
        assert_eq!(
            codes(CampaignPatch::<Uuid>::default().validate(None)),
            [
                (f("name"), C::Required),
                (f("channel"), C::Required),
                (f("objective"), C::Required),
                (f("startsOn"), C::Required),
            ]
        );
    }

    #[test]
    fn the_last_day_may_be_the_first_but_not_before_it() {
        let c = current(day(10), Some(day(20)));
        let ends = |d| CampaignPatch::<Uuid> {
            ends_on: Some(Some(day(d))),
            ..Default::default()
        };
        assert!(codes(ends(10).validate(Some(&c))).is_empty());
        assert_eq!(
            codes(ends(9).validate(Some(&c))),
            [(f("endsOn"), C::OutOfRange)]
        );
        // Moving the first day past the current last day is the same failure.
        let starts = CampaignPatch::<Uuid> {
            starts_on: Some(day(21)),
            ..Default::default()
        };
        assert_eq!(
            codes(starts.validate(Some(&c))),
            [(f("endsOn"), C::OutOfRange)]
        );
        // Clearing the last day always passes.
        let open = CampaignPatch::<Uuid> {
            starts_on: Some(day(21)),
            ends_on: Some(None),
            ..Default::default()
        };
        assert!(codes(open.validate(Some(&c))).is_empty());
    }

    #[test]
    fn a_name_of_301_characters_and_a_bad_budget_are_reported() {
        let checked = CampaignPatch::<Uuid> {
            name: Some("n".repeat(301)),
            budget: Some(Some((Decimal::new(1, 3), "usd".into()))),
            ..Default::default()
        }
        .validate(Some(&current(day(1), None)));
        assert_eq!(
            codes(checked),
            [(f("name"), C::TooLong), (f("budget.amount"), C::Invalid)]
        );
    }

    #[test]
    fn the_currency_after_a_patch_is_the_new_budget_s() {
        let c = current(day(1), None);
        let eur = CampaignPatch::<Uuid> {
            budget: Some(Some((Decimal::ONE, "EUR".into()))),
            ..Default::default()
        };
        assert_eq!(eur.currency_after(&c), "EUR");
        let cleared = CampaignPatch::<Uuid> {
            budget: Some(None),
            ..Default::default()
        };
        assert_eq!(cleared.currency_after(&c), "USD");
    }
}
