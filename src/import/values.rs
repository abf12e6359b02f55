//! Cell values as CRM exports write them: source channels, countries,
//! numbers and yes/no flags.

use entity::enums::{Channel, ExternalSystem, OpportunityType, Seniority};
use rust_decimal::Decimal;

/// Every channel, by Handoff's name.
const CHANNELS: &[Channel] = &[
    Channel::OrganicSearch,
    Channel::PaidSearch,
    Channel::PaidSocial,
    Channel::OrganicSocial,
    Channel::Email,
    Channel::Event,
    Channel::Webinar,
    Channel::Content,
    Channel::Referral,
    Channel::Partner,
    Channel::Outbound,
    Channel::Other,
];

/// HubSpot's Original Source (`hs_analytics_source`), by label; its
/// internal names (`SOCIAL_MEDIA`) match the labels once normalised.
pub const HUBSPOT_SOURCES: &[(&str, Channel)] = &[
    ("Organic Search", Channel::OrganicSearch),
    ("Paid Search", Channel::PaidSearch),
    ("Paid Social", Channel::PaidSocial),
    ("Social Media", Channel::OrganicSocial),
    ("Organic Social", Channel::OrganicSocial),
    ("Email Marketing", Channel::Email),
    ("Referrals", Channel::Referral),
    ("AI Referrals", Channel::Referral),
    ("Direct Traffic", Channel::Other),
    ("Other Campaigns", Channel::Other),
    ("Offline Sources", Channel::Other),
    ("Offline", Channel::Other),
];

/// Salesforce's Lead Source standard picklist and common additions.
pub const SALESFORCE_SOURCES: &[(&str, Channel)] = &[
    ("Web", Channel::Other),
    ("Phone Inquiry", Channel::Other),
    ("Partner Referral", Channel::Partner),
    ("Purchased List", Channel::Outbound),
    ("Other", Channel::Other),
    ("Advertisement", Channel::PaidSearch),
    ("Employee Referral", Channel::Referral),
    ("External Referral", Channel::Referral),
    ("Word of mouth", Channel::Referral),
    ("Public Relations", Channel::Other),
    ("Seminar - Internal", Channel::Event),
    ("Seminar - Partner", Channel::Event),
    ("Trade Show", Channel::Event),
    ("Cold Call", Channel::Outbound),
];

/// HubSpot's Deal Type (`dealtype`), by label and internal name.
pub const HUBSPOT_DEAL_TYPES: &[(&str, OpportunityType)] = &[
    ("New Business", OpportunityType::NewBusiness),
    ("newbusiness", OpportunityType::NewBusiness),
    ("Existing Business", OpportunityType::Expansion),
    ("existingbusiness", OpportunityType::Expansion),
];

/// Salesforce's Opportunity Type standard picklist and common additions. A
/// replacement or downgrade keeps an existing customer's contract going,
/// so it counts as a renewal; a mapping file's `types` can say otherwise.
pub const SALESFORCE_TYPES: &[(&str, OpportunityType)] = &[
    ("New Customer", OpportunityType::NewBusiness),
    ("Existing Customer - Upgrade", OpportunityType::Expansion),
    ("Existing Customer - Replacement", OpportunityType::Renewal),
    ("Existing Customer - Downgrade", OpportunityType::Renewal),
    ("New Business", OpportunityType::NewBusiness),
    ("Existing Business", OpportunityType::Expansion),
];

/// Seniority values as exports and enrichment tools write them (neither
/// system has a standard seniority picklist); Handoff's own names match
/// too, and a mapping file's `seniorities` adds others.
pub const SENIORITIES: &[(&str, Seniority)] = &[
    ("Individual Contributor", Seniority::IndividualContributor),
    ("Employee", Seniority::IndividualContributor),
    ("Entry", Seniority::IndividualContributor),
    ("Senior", Seniority::IndividualContributor),
    ("Manager", Seniority::Manager),
    ("Head", Seniority::Director),
    ("Director", Seniority::Director),
    ("VP", Seniority::Vp),
    ("Vice President", Seniority::Vp),
    ("C-Level", Seniority::CLevel),
    ("CXO", Seniority::CLevel),
    ("Executive", Seniority::CLevel),
    ("Owner", Seniority::CLevel),
    ("Founder", Seniority::CLevel),
    ("Partner", Seniority::CLevel),
];

/// A seniority by Handoff's name (`C_LEVEL`, `c level`).
pub fn handoff_seniority(value: &str) -> Option<Seniority> {
    use sea_orm::Iterable;
    let v = normalise(value);
    Seniority::iter().find(|s| normalise(s.as_str()) == v)
}

/// The seniority of a value as [`SENIORITIES`] or Handoff spell it.
pub fn seniority(value: &str) -> Option<Seniority> {
    let v = normalise(value);
    SENIORITIES
        .iter()
        .find(|(label, _)| normalise(label) == v)
        .map(|(_, s)| *s)
        .or_else(|| handoff_seniority(value))
}

/// A deal type by Handoff's name (`NEW_BUSINESS`, `new business`).
pub fn handoff_type(value: &str) -> Option<OpportunityType> {
    use sea_orm::Iterable;
    let v = normalise(value);
    OpportunityType::iter().find(|t| normalise(t.as_str()) == v)
}

/// The deal type of a value in `system`'s vocabulary or Handoff's (also
/// `new`, `upsell` and `renewal`).
pub fn opportunity_type(system: ExternalSystem, value: &str) -> Option<OpportunityType> {
    let table = match system {
        ExternalSystem::Salesforce => SALESFORCE_TYPES,
        _ => HUBSPOT_DEAL_TYPES,
    };
    let v = normalise(value);
    table
        .iter()
        .find(|(label, _)| normalise(label) == v)
        .map(|(_, t)| *t)
        .or_else(|| handoff_type(value))
        .or(match v.as_str() {
            "new" => Some(OpportunityType::NewBusiness),
            "upsell" => Some(OpportunityType::Expansion),
            _ => None,
        })
}

/// Lower case, single spaces, `_` as a space, no spaces around hyphens: the
/// form values and headers are compared in.
pub fn normalise(value: &str) -> String {
    let lower = value.trim().to_lowercase().replace('_', " ");
    lower
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" - ", "-")
        .replace(" -", "-")
        .replace("- ", "-")
}

/// A channel by Handoff's name (`PAID_SOCIAL`, `paid social`).
pub fn handoff_channel(value: &str) -> Option<Channel> {
    let v = normalise(value);
    CHANNELS
        .iter()
        .copied()
        .find(|c| normalise(c.as_str()) == v)
}

/// The channel of a source value in `system`'s vocabulary or Handoff's.
pub fn channel(system: ExternalSystem, value: &str) -> Option<Channel> {
    let table = match system {
        ExternalSystem::Hubspot => HUBSPOT_SOURCES,
        ExternalSystem::Salesforce => SALESFORCE_SOURCES,
        ExternalSystem::Other => &[],
    };
    let v = normalise(value);
    table
        .iter()
        .find(|(label, _)| normalise(label) == v)
        .map(|&(_, c)| c)
        .or_else(|| handoff_channel(value))
}

/// Common country names and three-letter codes, to ISO 3166-1 alpha-2.
const COUNTRIES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("u.s.", "US"),
    ("u.s.a.", "US"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("gbr", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("germany", "DE"),
    ("deutschland", "DE"),
    ("deu", "DE"),
    ("france", "FR"),
    ("fra", "FR"),
    ("spain", "ES"),
    ("italy", "IT"),
    ("netherlands", "NL"),
    ("the netherlands", "NL"),
    ("holland", "NL"),
    ("belgium", "BE"),
    ("switzerland", "CH"),
    ("austria", "AT"),
    ("sweden", "SE"),
    ("norway", "NO"),
    ("denmark", "DK"),
    ("finland", "FI"),
    ("ireland", "IE"),
    ("portugal", "PT"),
    ("poland", "PL"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("canada", "CA"),
    ("can", "CA"),
    ("mexico", "MX"),
    ("brazil", "BR"),
    ("argentina", "AR"),
    ("australia", "AU"),
    ("aus", "AU"),
    ("new zealand", "NZ"),
    ("japan", "JP"),
    ("china", "CN"),
    ("india", "IN"),
    ("singapore", "SG"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("israel", "IL"),
    ("south africa", "ZA"),
    ("united arab emirates", "AE"),
    ("uae", "AE"),
    ("hong kong", "HK"),
];

/// An ISO alpha-2 code for a code or a common name; anything else as
/// written, for the service to refuse with its own message.
pub fn country(value: &str) -> String {
    let v = normalise(value);
    COUNTRIES
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, code)| (*code).to_owned())
        .unwrap_or_else(|| value.trim().to_owned())
}

/// A whole number, with thousands separators allowed (`1,200`, `250.0`).
pub fn whole_number(value: &str) -> Option<i32> {
    let d = decimal(value)?;
    if d.fract() != Decimal::ZERO {
        return None;
    }
    d.normalize().to_string().parse().ok()
}

/// An amount, with thousands separators and currency symbols allowed
/// (`$1,200,000.00`, `1 200 000`).
pub fn decimal(value: &str) -> Option<Decimal> {
    let cleaned: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '_' | '$' | '€' | '£' | '\u{a0}'))
        .collect();
    cleaned.parse().ok()
}

/// A yes/no flag.
pub fn flag(value: &str) -> Option<bool> {
    match normalise(value).as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The source mappings as a Markdown table for docs/import.md (a test
/// keeps its copy equal to this).
pub fn sources_table() -> String {
    let mut out = String::from("| system | source value | channel |\n| --- | --- | --- |\n");
    for (label, channel) in HUBSPOT_SOURCES {
        out += &format!("| HubSpot | `{label}` | {channel} |\n");
    }
    for (label, channel) in SALESFORCE_SOURCES {
        out += &format!("| Salesforce | `{label}` | {channel} |\n");
    }
    out
}

/// The deal type mappings as a Markdown table for docs/import.md (a test
/// keeps its copy equal to this).
pub fn types_table() -> String {
    let mut out = String::from("| system | type value | type |\n| --- | --- | --- |\n");
    for (label, t) in HUBSPOT_DEAL_TYPES {
        out += &format!("| HubSpot | `{label}` | {} |\n", t.as_str());
    }
    for (label, t) in SALESFORCE_TYPES {
        out += &format!("| Salesforce | `{label}` | {} |\n", t.as_str());
    }
    out
}

/// The seniority mappings as a Markdown table for docs/import.md (a test
/// keeps its copy equal to this).
pub fn seniorities_table() -> String {
    let mut out = String::from("| seniority value | seniority |\n| --- | --- |\n");
    for (label, s) in SENIORITIES {
        out += &format!("| `{label}` | {} |\n", s.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seniorities_map_from_labels_and_handoffs_names() {
        assert_eq!(seniority(" vice  president "), Some(Seniority::Vp));
        assert_eq!(seniority("c level"), Some(Seniority::CLevel));
        assert_eq!(seniority("C_LEVEL"), Some(Seniority::CLevel));
        assert_eq!(
            seniority("INDIVIDUAL_CONTRIBUTOR"),
            Some(Seniority::IndividualContributor)
        );
        assert_eq!(seniority("Intern"), None);
    }

    #[test]
    fn sources_map_from_each_vocabulary_and_handoffs() {
        use ExternalSystem::*;
        assert_eq!(
            channel(Hubspot, "Organic Search"),
            Some(Channel::OrganicSearch)
        );
        assert_eq!(
            channel(Hubspot, "SOCIAL_MEDIA"),
            Some(Channel::OrganicSocial)
        );
        assert_eq!(channel(Hubspot, "direct  traffic"), Some(Channel::Other));
        assert_eq!(channel(Salesforce, "Trade Show"), Some(Channel::Event));
        assert_eq!(channel(Salesforce, "seminar-partner"), Some(Channel::Event));
        assert_eq!(channel(Salesforce, "WEBINAR"), Some(Channel::Webinar));
        assert_eq!(channel(Hubspot, "Carrier pigeon"), None);
    }

    #[test]
    fn deal_types_map_from_each_vocabulary_and_handoffs() {
        use ExternalSystem::*;
        use OpportunityType::*;
        assert_eq!(
            opportunity_type(Salesforce, "New Customer"),
            Some(NewBusiness)
        );
        assert_eq!(
            opportunity_type(Salesforce, "Existing Customer - Upgrade"),
            Some(Expansion)
        );
        assert_eq!(
            opportunity_type(Salesforce, "existing customer-replacement"),
            Some(Renewal)
        );
        assert_eq!(
            opportunity_type(Salesforce, "Existing Customer - Downgrade"),
            Some(Renewal)
        );
        assert_eq!(
            opportunity_type(Hubspot, "existingbusiness"),
            Some(Expansion)
        );
        assert_eq!(opportunity_type(Hubspot, "New Business"), Some(NewBusiness));
        assert_eq!(opportunity_type(Hubspot, "RENEWAL"), Some(Renewal));
        assert_eq!(opportunity_type(Salesforce, "upsell"), Some(Expansion));
        assert_eq!(opportunity_type(Hubspot, "New Customer"), None);
        assert_eq!(opportunity_type(Salesforce, "Barter"), None);
    }

    #[test]
    fn countries_read_as_codes_or_common_names() {
        assert_eq!(country("de"), "de");
        assert_eq!(country("United  States"), "US");
        assert_eq!(country("UK"), "GB");
        assert_eq!(country("Atlantis"), "Atlantis");
    }

    #[test]
    fn numbers_read_with_separators() {
        assert_eq!(whole_number("1,200"), Some(1200));
        assert_eq!(whole_number("250.0"), Some(250));
        assert_eq!(whole_number("12.5"), None);
        assert_eq!(whole_number("many"), None);
        assert_eq!(
            decimal("$1,200,000.50"),
            Decimal::from_str_exact("1200000.50").ok()
        );
        assert_eq!(flag("Yes"), Some(true));
        assert_eq!(flag("maybe"), None);
    }
}
