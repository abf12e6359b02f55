//! The fields of a lead and their rules (its stage is the lifecycle's).

use entity::{
    enums::{Channel, Seniority},
    lead,
};
use uuid::Uuid;

use super::{Checked, Link, given, patch_links, put};
use crate::domain::validate::Errors;

/// The longest first name, last name and job title.
pub const PERSON_TEXT_MAX: usize = 200;
/// The longest company name as captured.
pub const COMPANY_MAX: usize = 300;

/// What to change on a lead. `None` leaves a field as it is; `Some(None)`
/// clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPatch<Id = Uuid> {
    /// Email address (required to create).
    pub email: Option<String>,
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
    email, first_name, last_name, job_title, seniority, company_name, country, source
} links { account_id: Account, source_campaign_id: Campaign, owner_id: Owner });

impl<Id> LeadPatch<Id> {
    /// Normalises the values and collects the failures; `creating` makes
    /// the email and the source required.
    pub fn validate(self, creating: bool) -> Checked<Self> {
        let mut e = Errors::new();
        let email = e.required("email", self.email, creating, |e, v| e.email("email", &v));
        let source = e.required("source", self.source, creating, given);
        let mut text = |field: &str, v: Option<Option<String>>, max: usize| {
            v.map(|v| e.optional_text(field, v.as_deref(), max))
        };
        let first_name = text("firstName", self.first_name, PERSON_TEXT_MAX);
        let last_name = text("lastName", self.last_name, PERSON_TEXT_MAX);
        let job_title = text("jobTitle", self.job_title, PERSON_TEXT_MAX);
        let company_name = text("companyName", self.company_name, COMPANY_MAX);
        let patch = Self {
            email,
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
}

impl LeadPatch {
    /// Sets the columns the patch changes.
    pub fn apply(&self, am: &mut lead::ActiveModel) {
        put(&mut am.email, &self.email);
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
    fn a_new_lead_needs_an_email_and_a_source() {
        assert_eq!(
            codes(LeadPatch::<Uuid>::default().validate(true)),
            [(f("email"), C::Required), (f("source"), C::Required)]
        );
        assert!(codes(LeadPatch::<Uuid>::default().validate(false)).is_empty());
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
        assert!(codes(ok.validate(false)).is_empty());
        let long = LeadPatch::<Uuid> {
            first_name: at(201),
            last_name: at(201),
            job_title: at(201),
            company_name: at(301),
            ..Default::default()
        };
        assert_eq!(
            codes(long.validate(false)),
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
            email: Some(" Ada@Example.COM ".into()),
            ..Default::default()
        }
        .validate(false);
        assert_eq!(checked.patch.email.as_deref(), Some("ada@example.com"));
        let bad = LeadPatch::<Uuid> {
            email: Some("ada@".into()),
            country: Some(Some("de".into())),
            ..Default::default()
        }
        .validate(false);
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
