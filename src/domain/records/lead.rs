//! The fields of a lead and their rules (its stage is the lifecycle's).

use entity::{
    enums::{Channel, Seniority},
    lead,
};
use uuid::Uuid;

use super::{Checked, Link, given, patch_links, put};
use crate::{domain::validate::Errors, error::UserErrorCode};

/// The longest first name, last name and job title.
pub const PERSON_TEXT_MAX: usize = 200;
/// The longest company name as captured.
pub const COMPANY_MAX: usize = 300;
/// The longest phone number, extension included.
pub const PHONE_MAX: usize = 50;

/// What to change on a lead. `None` leaves a field as it is; `Some(None)`
/// clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPatch<Id = Uuid> {
    /// Email address: required to create a lead that has no first or last
    /// name and no external id.
    pub email: Option<Option<String>>,
    /// Phone number.
    pub phone: Option<Option<String>>,
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Job title.
    pub job_title: Option<Option<String>>,
    /// Seniority.
    pub seniority: Option<Option<Seniority>>,
    /// The lead's account.
    pub account_id: Option<Option<Id>>,
    /// Company name as captured (when no account is linked).
    pub company_name: Option<Option<String>>,
    /// ISO country code.
    pub country: Option<Option<String>>,
    /// Source channel (required to create).
    pub source: Option<Channel>,
    /// The first-touch campaign.
    pub source_campaign_id: Option<Option<Id>>,
    /// The owning user.
    pub owner_id: Option<Option<Id>>,
}

patch_links!(LeadPatch {
    email, phone, first_name, last_name, job_title, seniority, company_name, country, source
} links { account_id: Account, source_campaign_id: Campaign, owner_id: Owner });

impl<Id> LeadPatch<Id> {
    /// Normalises the values and collects the failures. `creating` makes
    /// the source required, and an email too unless the lead has a first or
    /// last name or (`external_id`, the sync and the import) an id in the
    /// source system.
    pub fn validate(self, creating: bool, external_id: bool) -> Checked<Self> {
        let mut e = Errors::new();
        let email = self
            .email
            .map(|v| v.map(|v| e.email("email", &v)).filter(|v| !v.is_empty()));
        let source = e.required("source", self.source, creating, given);
        let mut text = |field: &str, v: Option<Option<String>>, max: usize| {
            v.map(|v| e.optional_text(field, v.as_deref(), max))
        };
        let first_name = text("firstName", self.first_name, PERSON_TEXT_MAX);
        let last_name = text("lastName", self.last_name, PERSON_TEXT_MAX);
        let job_title = text("jobTitle", self.job_title, PERSON_TEXT_MAX);
        let company_name = text("companyName", self.company_name, COMPANY_MAX);
        let phone = self.phone.map(|v| phone(&mut e, v.as_deref()));
        let named = |v: &Option<Option<String>>| matches!(v, Some(Some(_)));
        if creating && !external_id && !named(&email) && !named(&first_name) && !named(&last_name) {
            e.add("email", UserErrorCode::Required, NO_IDENTITY);
        }
        let patch = Self {
            email,
            phone,
            first_name,
            last_name,
            job_title,
            company_name,
            country: self.country.map(|v| e.country("country", v.as_deref())),
            seniority: self.seniority,
            source,
            account_id: self.account_id,
            source_campaign_id: self.source_campaign_id,
            owner_id: self.owner_id,
        };
        Checked { patch, errors: e }
    }

    /// Whether the lead `row` becomes with this patch still has an email or
    /// a name (else it needs an external id).
    pub fn identifies(&self, row: &lead::Model) -> bool {
        let after = |patch: &Option<Option<String>>, current: &Option<String>| match patch {
            Some(v) => v.is_some(),
            None => current.is_some(),
        };
        after(&self.email, &row.email)
            || after(&self.first_name, &row.first_name)
            || after(&self.last_name, &row.last_name)
    }
}

/// The failure of a lead with neither an email, nor a name, nor an
/// external id.
pub const NO_IDENTITY: &str =
    "`email` is required for a lead without a first or last name or an external id";

/// Trims a phone number and checks it: at most [`PHONE_MAX`] characters,
/// at least one digit, only digits, spaces and `+ ( ) - . /`, then
/// optionally an extension (`x`, `ext` or `ext.` and its digits). Letters
/// (`1-800-FLOWERS`), other signs and a blank value are refused; a blank
/// value clears.
fn phone(e: &mut Errors, value: Option<&str>) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > PHONE_MAX {
        e.add(
            "phone",
            UserErrorCode::TooLong,
            format!("`phone` is longer than {PHONE_MAX} characters"),
        );
    } else if !is_phone(v) {
        e.add(
            "phone",
            UserErrorCode::Invalid,
            "`phone` may hold digits, spaces and + ( ) - . / and an extension (x123, ext. 123)",
        );
    }
    Some(v.to_owned())
}

/// See [`phone`].
fn is_phone(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let (number, extension) = match lower
        .find("ext")
        .map(|i| (i, 3))
        .or(lower.find('x').map(|i| (i, 1)))
    {
        Some((i, marker)) => (&lower[..i], Some(&lower[i + marker..])),
        None => (lower.as_str(), None),
    };
    let number_ok = number.chars().any(|c| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || " +()-./".contains(c));
    let extension_ok = extension.is_none_or(|x| {
        let digits = x.trim_start_matches(['.', ':', ' ']);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    number_ok && extension_ok
}

impl LeadPatch {
    /// Sets the columns the patch changes.
    pub fn apply(&self, am: &mut lead::ActiveModel) {
        put(&mut am.email, &self.email);
        put(&mut am.phone, &self.phone);
        put(&mut am.first_name, &self.first_name);
        put(&mut am.last_name, &self.last_name);
        put(&mut am.job_title, &self.job_title);
        put(&mut am.seniority, &self.seniority);
        put(&mut am.account_id, &self.account_id);
        put(&mut am.company_name, &self.company_name);
        put(&mut am.country, &self.country);
        put(&mut am.source, &self.source);
        put(&mut am.source_campaign_id, &self.source_campaign_id);
        put(&mut am.owner_id, &self.owner_id);
    }
}

impl From<&lead::Model> for LeadPatch {
    /// The patch that writes the row's values: to check a row written
    /// another way (the demo generator's) against the rules.
    fn from(row: &lead::Model) -> Self {
        Self {
            email: Some(row.email.clone()),
            phone: Some(row.phone.clone()),
            first_name: Some(row.first_name.clone()),
            last_name: Some(row.last_name.clone()),
            job_title: Some(row.job_title.clone()),
            seniority: Some(row.seniority),
            account_id: Some(row.account_id),
            company_name: Some(row.company_name.clone()),
            country: Some(row.country.clone()),
            source: Some(row.source),
            source_campaign_id: Some(row.source_campaign_id),
            owner_id: Some(row.owner_id),
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
    fn a_new_lead_needs_a_source_and_an_email_a_name_or_an_external_id() {
        assert_eq!(
            codes(LeadPatch::<Uuid>::default().validate(true, false)),
            [(f("source"), C::Required), (f("email"), C::Required)]
        );
        assert!(codes(LeadPatch::<Uuid>::default().validate(false, false)).is_empty());
        let source = |p: LeadPatch<Uuid>| LeadPatch {
            source: Some(Channel::Event),
            ..p
        };
        let named = source(LeadPatch {
            last_name: Some(Some("Lovelace".into())),
            ..Default::default()
        });
        assert!(codes(named.validate(true, false)).is_empty());
        let mailed = source(LeadPatch {
            email: Some(Some("ada@example.com".into())),
            ..Default::default()
        });
        assert!(codes(mailed.validate(true, false)).is_empty());
        assert!(codes(source(LeadPatch::default()).validate(true, true)).is_empty());
        let blank_name = source(LeadPatch {
            first_name: Some(Some("  ".into())),
            email: Some(None),
            ..Default::default()
        });
        assert_eq!(
            codes(blank_name.validate(true, false)),
            [(f("email"), C::Required)]
        );
    }

    #[test]
    fn an_update_keeps_a_lead_identified_by_its_email_or_a_name() {
        let row = lead::Model {
            email: Some("ada@example.com".into()),
            last_name: Some("Lovelace".into()),
            ..fixture()
        };
        let clear_email = LeadPatch::<Uuid> {
            email: Some(None),
            ..Default::default()
        };
        assert!(clear_email.identifies(&row));
        let clear_both = LeadPatch::<Uuid> {
            email: Some(None),
            last_name: Some(None),
            ..Default::default()
        };
        assert!(!clear_both.identifies(&row));
        let rename = LeadPatch {
            first_name: Some(Some("Ada".into())),
            ..clear_both
        };
        assert!(rename.identifies(&row));
    }

    #[test]
    fn a_phone_takes_digits_signs_and_an_extension_up_to_50_characters() {
        let check = |v: &str| {
            let c = LeadPatch::<Uuid> {
                phone: Some(Some(v.into())),
                ..Default::default()
            }
            .validate(false, false);
            (c.patch.phone.clone().flatten(), codes(c))
        };
        for ok in [
            "+1 (555) 010-4477",
            "+49 30/1234.567",
            "555 0100 x12",
            "555-0100 ext. 7",
            "555-0100 EXT 7",
        ] {
            assert_eq!(check(ok), (Some(ok.to_owned()), vec![]), "{ok}");
        }
        assert_eq!(check("  0123  ").0.as_deref(), Some("0123"));
        for bad in ["1-800-FLOWERS", "call me", "555 0100 x", "+1 555 ☎", "x12"] {
            assert_eq!(check(bad).1, [(f("phone"), C::Invalid)], "{bad}");
        }
        assert_eq!(check(&"1".repeat(51)).1, [(f("phone"), C::TooLong)]);
        assert_eq!(check(&"1".repeat(50)).1, []);
        assert_eq!(check(" ").0, None);
    }

    fn fixture() -> lead::Model {
        let at = chrono::DateTime::UNIX_EPOCH;
        lead::Model {
            id: Uuid::nil(),
            created_at: at,
            updated_at: at,
            email: None,
            phone: None,
            first_name: None,
            last_name: None,
            job_title: None,
            seniority: None,
            account_id: None,
            company_name: None,
            country: None,
            source: Channel::Other,
            source_campaign_id: None,
            stage: entity::enums::LeadStage::New,
            stage_entered_at: at,
            owner_id: None,
            fit_score: 0,
            engagement_score: 0,
            qualified_under_id: None,
            mql_at: None,
            sla_first_contact_due_at: None,
            first_contacted_at: None,
            sla_disposition_due_at: None,
            dispositioned_at: None,
            sla_status: None,
            rejection_reason: None,
            rejection_note: None,
            recycle_count: 0,
            version: 1,
            deleted_at: None,
        }
    }

    #[test]
    fn names_and_titles_take_200_characters_and_a_company_300() {
        let at = |n: usize| Some(Some("x".repeat(n)));
        let ok = LeadPatch::<Uuid> {
            first_name: at(200),
            last_name: at(200),
            job_title: at(200),
            company_name: at(300),
            ..Default::default()
        };
        assert!(codes(ok.validate(false, false)).is_empty());
        let long = LeadPatch::<Uuid> {
            first_name: at(201),
            last_name: at(201),
            job_title: at(201),
            company_name: at(301),
            ..Default::default()
        };
        assert_eq!(
            codes(long.validate(false, false)),
            [
                (f("firstName"), C::TooLong),
                (f("lastName"), C::TooLong),
                (f("jobTitle"), C::TooLong),
                (f("companyName"), C::TooLong),
            ]
        );
    }

    #[test]
    fn an_email_is_lower_cased_and_a_bad_one_is_invalid() {
        let checked = LeadPatch::<Uuid> {
            email: Some(Some(" Ada@Example.COM ".into())),
            ..Default::default()
        }
        .validate(false, false);
        assert_eq!(
            checked.patch.email.flatten().as_deref(),
            Some("ada@example.com")
        );
        let bad = LeadPatch::<Uuid> {
            email: Some(Some("ada@".into())),
            country: Some(Some("de".into())),
            ..Default::default()
        }
        .validate(false, false);
        assert_eq!(bad.patch.country, Some(Some("DE".into())));
        assert_eq!(codes(bad), [(f("email"), C::Invalid)]);
    }

    #[test]
    fn links_and_resolving_follow_field_order() {
        let (a, c, o) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let p = LeadPatch {
            account_id: Some(Some(a)),
            source_campaign_id: Some(Some(c)),
            owner_id: Some(Some(o)),
            ..Default::default()
        };
        assert_eq!(
            p.links(),
            [(Link::Account, a), (Link::Campaign, c), (Link::Owner, o)]
        );
        let first = p.resolve(|link, _| Err::<Uuid, _>(link));
        assert_eq!(first.err(), Some(Link::Account));
    }

    #[test]
    fn apply_sets_only_what_the_patch_changes() {
        let mut am = lead::ActiveModel::default();
        LeadPatch {
            source: Some(Channel::Webinar),
            first_name: Some(None),
            ..Default::default()
        }
        .apply(&mut am);
        assert_eq!(am.source, Set(Channel::Webinar));
        assert_eq!(am.first_name, Set(None));
        assert_eq!(am.email, NotSet);
    }
}
