//! The fields of an account and their rules.

use entity::account;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Checked, Link, patch_links, put};
use crate::domain::validate::Errors;

/// The longest account name.
pub const NAME_MAX: usize = 300;
/// The longest industry.
pub const INDUSTRY_MAX: usize = 100;
/// The largest head count.
pub const EMPLOYEES_MAX: i32 = 10_000_000;

/// What to change on an account. `None` leaves a field as it is;
/// `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountPatch<Id = Uuid> {
    /// Company name (required to create).
    pub name: Option<String>,
    /// Web domain (unique among accounts).
    pub domain: Option<Option<String>>,
    /// Industry.
    pub industry: Option<Option<String>>,
    /// Head count.
    pub employee_count: Option<Option<i32>>,
    /// Annual revenue and its currency.
    pub annual_revenue: Option<Option<(Decimal, String)>>,
    /// ISO country code.
    pub country: Option<Option<String>>,
    /// Target (ABM) account.
    pub is_target_account: Option<bool>,
    /// The owning user.
    pub owner_id: Option<Option<Id>>,
}

patch_links!(AccountPatch {
    name, domain, industry, employee_count, annual_revenue, country, is_target_account
} links { owner_id: Owner });

impl<Id> AccountPatch<Id> {
    /// Normalises the values and collects the failures; `creating` makes
    /// the name required.
    pub fn validate(self, creating: bool) -> Checked<Self> {
        let mut e = Errors::new();
        let name = e.required("name", self.name, creating, |e, name| {
            e.required_text("name", &name, NAME_MAX)
        });
        let patch = Self {
            name,
            domain: self.domain.map(|d| e.domain("domain", d.as_deref())),
            industry: self
                .industry
                .map(|v| e.optional_text("industry", v.as_deref(), INDUSTRY_MAX)),
            employee_count: self
                .employee_count
                .map(|v| v.map(|n| e.range("employeeCount", n, 0, EMPLOYEES_MAX))),
            annual_revenue: self.annual_revenue.map(|v| {
                v.map(|(amount, currency)| {
                    (
                        e.amount("annualRevenue.amount", amount),
                        e.currency("annualRevenue.currency", &currency),
                    )
                })
            }),
            country: self.country.map(|v| e.country("country", v.as_deref())),
            is_target_account: self.is_target_account,
            owner_id: self.owner_id,
        };
        Checked { patch, errors: e }
    }
}

impl<Id> AccountPatch<Id> {
    /// The patch reduced to the company facts `current` lacks: each field
    /// the account already has a value for is left as it is. (Company
    /// facts written on a lead row fill its account's gaps and never
    /// overwrite what the account says.)
    pub fn only_gaps_of(self, current: &account::Model) -> Self {
        fn gap<T>(value: Option<T>, has: bool) -> Option<T> {
            value.filter(|_| !has)
        }
        Self {
            name: None,
            domain: gap(self.domain, current.domain.is_some()),
            industry: gap(self.industry, current.industry.is_some()),
            employee_count: gap(self.employee_count, current.employee_count.is_some()),
            annual_revenue: gap(self.annual_revenue, current.annual_revenue.is_some()),
            country: gap(self.country, current.country.is_some()),
            is_target_account: None,
            owner_id: gap(self.owner_id, current.owner_id.is_some()),
        }
    }
}

impl AccountPatch {
    /// Sets the columns the patch changes.
    pub fn apply(&self, am: &mut account::ActiveModel) {
        put(&mut am.name, &self.name);
        put(&mut am.domain, &self.domain);
        put(&mut am.industry, &self.industry);
        put(&mut am.employee_count, &self.employee_count);
        if let Some(revenue) = &self.annual_revenue {
            let (amount, currency) = match revenue {
                Some((amount, currency)) => (Some(*amount), Some(currency.clone())),
                None => (None, None),
            };
            am.annual_revenue.set_if_not_equals(amount);
            am.currency.set_if_not_equals(currency);
        }
        put(&mut am.country, &self.country);
        put(&mut am.is_target_account, &self.is_target_account);
        put(&mut am.owner_id, &self.owner_id);
    }
}

impl From<&account::Model> for AccountPatch {
    /// The patch that writes the row's values: to check a row written
    /// another way (the demo generator's) against the rules.
    fn from(row: &account::Model) -> Self {
        Self {
            name: Some(row.name.clone()),
            domain: Some(row.domain.clone()),
            industry: Some(row.industry.clone()),
            employee_count: Some(row.employee_count),
            annual_revenue: Some(row.annual_revenue.zip(row.currency.clone())),
            country: Some(row.country.clone()),
            is_target_account: Some(row.is_target_account),
            owner_id: Some(row.owner_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue::{NotSet, Set};

    use super::*;
    use crate::{domain::records::tests::codes, error::UserErrorCode as C};

    fn patch() -> AccountPatch {
        AccountPatch::default()
    }

    #[test]
    fn a_name_of_300_characters_passes_and_301_is_too_long() {
        let ok = AccountPatch {
            name: Some(format!("  {}  ", "a".repeat(300))),
            ..patch()
        }
        .validate(true);
        assert_eq!(ok.patch.name.as_deref().map(str::len), Some(300));
        assert!(codes(ok).is_empty());
        let long = AccountPatch {
            name: Some("a".repeat(301)),
            ..patch()
        };
        assert_eq!(
            codes(long.validate(false)),
            [("input.name".to_owned(), C::TooLong)]
        );
    }

    #[test]
    fn a_new_account_needs_a_name_and_a_blank_one_never_passes() {
        assert_eq!(
            codes(patch().validate(true)),
            [("input.name".to_owned(), C::Required)]
        );
        assert!(codes(patch().validate(false)).is_empty());
        let blank = AccountPatch {
            name: Some("   ".into()),
            ..patch()
        };
        assert_eq!(
            codes(blank.validate(false)),
            [("input.name".to_owned(), C::Required)]
        );
    }

    #[test]
    fn the_head_count_runs_from_0_to_10_million() {
        for (n, ok) in [
            (-1, false),
            (0, true),
            (10_000_000, true),
            (10_000_001, false),
        ] {
            let checked = AccountPatch {
                employee_count: Some(Some(n)),
                ..patch()
            }
            .validate(false);
            let expected = match ok {
                true => vec![],
                false => vec![("input.employeeCount".to_owned(), C::OutOfRange)],
            };
            assert_eq!(codes(checked), expected, "{n}");
        }
    }

    #[test]
    fn every_failure_is_listed_in_field_order() {
        let checked = AccountPatch {
            name: Some(String::new()),
            domain: Some(Some("not a domain".into())),
            industry: Some(Some("i".repeat(101))),
            annual_revenue: Some(Some((Decimal::new(-1, 0), "EURO".into()))),
            country: Some(Some("Germany".into())),
            ..patch()
        }
        .validate(true);
        assert_eq!(
            codes(checked),
            [
                ("input.name".to_owned(), C::Required),
                ("input.domain".to_owned(), C::Invalid),
                ("input.industry".to_owned(), C::TooLong),
                ("input.annualRevenue.amount".to_owned(), C::OutOfRange),
                ("input.annualRevenue.currency".to_owned(), C::Invalid),
                ("input.country".to_owned(), C::Invalid),
            ]
        );
    }

    #[test]
    fn values_are_normalised_and_clearing_passes() {
        let checked = AccountPatch {
            domain: Some(Some("https://www.Acme.io/x".into())),
            industry: Some(Some("  ".into())),
            country: Some(None),
            annual_revenue: Some(Some((Decimal::new(1_000, 0), "eur".into()))),
            ..patch()
        }
        .validate(false);
        assert!(checked.errors.into_vec().is_empty());
        assert_eq!(checked.patch.domain, Some(Some("acme.io".into())));
        assert_eq!(checked.patch.industry, Some(None));
        assert_eq!(checked.patch.country, Some(None));
        assert_eq!(
            checked.patch.annual_revenue,
            Some(Some((Decimal::new(1_000, 0), "EUR".into())))
        );
    }

    #[test]
    fn apply_sets_only_what_the_patch_changes() {
        let mut am = account::ActiveModel::default();
        AccountPatch {
            name: Some("Acme".into()),
            annual_revenue: Some(None),
            ..patch()
        }
        .apply(&mut am);
        assert_eq!(am.name, Set("Acme".into()));
        assert_eq!(am.annual_revenue, Set(None));
        assert_eq!(am.currency, Set(None));
        assert_eq!(am.domain, NotSet);
        assert_eq!(am.owner_id, NotSet);
    }

    #[test]
    fn only_the_facts_an_account_lacks_are_filled() {
        let now = chrono::Utc::now();
        let current = account::Model {
            id: Uuid::nil(),
            created_at: now,
            updated_at: now,
            name: "Acme".into(),
            domain: None,
            industry: Some("Retail".into()),
            employee_count: None,
            annual_revenue: Some(Decimal::new(5_000_000, 0)),
            currency: Some("USD".into()),
            country: None,
            is_target_account: false,
            owner_id: None,
            fit_score: 0,
            version: 1,
            deleted_at: None,
        };
        let facts = AccountPatch::<Uuid> {
            name: Some("ACME Inc".into()),
            industry: Some(Some("Software".into())),
            employee_count: Some(Some(250)),
            annual_revenue: Some(Some((Decimal::new(9, 0), "EUR".into()))),
            country: Some(Some("DE".into())),
            is_target_account: Some(true),
            ..Default::default()
        };
        assert_eq!(
            facts.only_gaps_of(&current),
            AccountPatch {
                employee_count: Some(Some(250)),
                country: Some(Some("DE".into())),
                ..Default::default()
            }
        );
    }

    #[test]
    fn resolving_maps_the_owner_and_keeps_a_clear() {
        let p = AccountPatch::<&str> {
            owner_id: Some(Some("ada@example.com")),
            ..Default::default()
        };
        let id = Uuid::nil();
        let resolved = p.resolve(|link, _| Ok::<_, ()>((link, id)));
        assert_eq!(
            resolved.map(|p| p.owner_id),
            Ok(Some(Some((Link::Owner, id))))
        );
        let cleared = AccountPatch::<&str> {
            owner_id: Some(None),
            ..Default::default()
        }
        .resolve(|_, _| Err::<Uuid, _>("not called"));
        assert_eq!(cleared.map(|p| p.owner_id), Ok(Some(None)));
    }
}
