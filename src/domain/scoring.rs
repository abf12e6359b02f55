//! The lead definition's scoring rules and the two scores they give a lead:
//! fit (who the lead is) and engagement (what the lead did lately), each with
//! a breakdown naming the criterion or activity behind every point.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::{ActivityKind, Seniority};
use serde::{Deserialize, Serialize};

/// The highest value either score can have.
pub const MAX_SCORE: i32 = 100;

/// The longest SLA window a definition may set, in hours (30 days).
pub const MAX_SLA_HOURS: i32 = 24 * 30;
/// Most values in one fit criterion list (industries, countries, title
/// keywords, seniorities) and most engagement rules.
pub const MAX_CRITERIA: usize = 100;
/// Longest industry, country or title keyword.
pub const MAX_CRITERION_CHARS: usize = 100;
/// Largest head count a range may name (as an account's employee count).
pub const MAX_EMPLOYEES: i32 = 10_000_000;
/// The half-life's bounds, in days: from a few hours to ten years.
pub const HALF_LIFE_DAYS: std::ops::RangeInclusive<f64> = 0.1..=3650.0;

/// Fit criteria, stored as JSON in `lead_definitions.fit_criteria` (camelCase):
///
/// ```json
/// {"industries": {"Software": 20}, "employeeRange": {"min": 50, "max": 5000, "points": 20},
///  "seniorities": {"VP": 20, "C_LEVEL": 20}, "countries": {"US": 10},
///  "titleKeywords": {"marketing": 10}, "targetAccountPoints": 15}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FitCriteria {
    /// Industry name -> points; matched case-insensitively, ignoring surrounding blanks.
    #[serde(default)]
    pub industries: BTreeMap<String, i32>,
    /// Company size band and the points it gives.
    #[serde(default)]
    pub employee_range: Option<EmployeeRange>,
    /// Seniority stored name (e.g. `"C_LEVEL"`) -> points.
    #[serde(default)]
    pub seniorities: BTreeMap<String, i32>,
    /// Country code -> points; matched case-insensitively.
    #[serde(default)]
    pub countries: BTreeMap<String, i32>,
    /// Job-title keyword -> points; each keyword found in the title counts once.
    #[serde(default)]
    pub title_keywords: BTreeMap<String, i32>,
    /// Points for a lead at a target (ABM) account; 0 leaves the criterion out.
    #[serde(default)]
    pub target_account_points: i32,
}

/// A company-size band, inclusive on both ends; a missing end is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeRange {
    /// Fewest employees that still match, or no lower bound.
    #[serde(default)]
    pub min: Option<i32>,
    /// Most employees that still match, or no upper bound.
    #[serde(default)]
    pub max: Option<i32>,
    /// Points for a company inside the band.
    #[serde(default)]
    pub points: i32,
}

impl EmployeeRange {
    /// Whether a company of `employees` people falls inside the band.
    pub fn contains(&self, employees: i32) -> bool {
        self.min.is_none_or(|min| employees >= min) && self.max.is_none_or(|max| employees <= max)
    }

    /// The band as text: `50..5000`, `50..`, `..5000` or `..`.
    fn describe(&self) -> String {
        let end = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
        format!("{}..{}", end(self.min), end(self.max))
    }
}

/// Engagement rules: activity kind (its stored name, e.g. `"DEMO_REQUEST"`) ->
/// points, stored as a JSON object in `lead_definitions.engagement_rules`.
pub type EngagementRules = BTreeMap<String, i32>;

/// What fit is scored from: the lead's own firmographics merged with its
/// account's (the caller decides which wins where both are known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FitInput<'a> {
    /// Industry of the lead's company.
    pub industry: Option<&'a str>,
    /// Head count of the lead's company.
    pub employee_count: Option<i32>,
    /// Seniority of the lead's job.
    pub seniority: Option<Seniority>,
    /// The lead's job title.
    pub job_title: Option<&'a str>,
    /// Country code of the lead or its company.
    pub country: Option<&'a str>,
    /// Whether the lead's account is a target (ABM) account.
    pub is_target_account: bool,
}

/// One line of a breakdown: which criterion or activity gave how many points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreLine {
    /// `"industry"`, `"employeeRange"`, `"seniority"`, `"titleKeyword"`,
    /// `"country"`, `"targetAccount"`, or the activity kind (`"DEMO_REQUEST"`).
    pub criterion: String,
    /// What matched, e.g. `"Software"`, `"250 employees in 50..5000"`, `"VP"`,
    /// `"marketing"`, `"US"`, or `"DEMO_REQUEST on 2026-03-01, 12.0 days ago"`.
    pub detail: String,
    /// Points this line contributes; engagement lines hold the decayed points.
    pub points: f64,
}

/// The criterion of a fit line for a job-title keyword.
pub const TITLE_KEYWORD: &str = "titleKeyword";

impl ScoreLine {
    /// Whether the line's detail is derived from a personal field of the
    /// lead, and so is personal data itself: a `titleKeyword` line names
    /// words of the job title. The other criteria come from the account
    /// (industry, head count, country, target account), the lead's
    /// seniority and country, or activities, none of them personal.
    pub fn is_personal(&self) -> bool {
        self.criterion == TITLE_KEYWORD
    }
}

/// A score and how it was reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    /// The score, `0..=100`.
    pub value: i32,
    /// The contributions, in the order they were evaluated.
    pub lines: Vec<ScoreLine>,
    /// Whether the contributions added up to more than 100.
    pub capped: bool,
}

/// Trimmed and lower-cased, the form names are compared in.
fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Scores how well a lead matches the ideal customer profile: the sum of the
/// matched criteria's points, capped at 100 and never below 0.
///
/// An industry or country matches case-insensitively, ignoring surrounding
/// blanks; the employee range is inclusive and a missing head count matches
/// nothing; every title keyword contained in the job title (case-insensitive)
/// adds its points once.
pub fn fit_score(criteria: &FitCriteria, input: &FitInput) -> Score {
    let mut lines = Vec::new();
    fit_points(criteria, input, |criterion, detail, points| {
        lines.push(ScoreLine {
            criterion: criterion.to_owned(),
            detail: detail(),
            points: f64::from(points),
        });
    });
    let sum: f64 = lines.iter().map(|l| l.points).sum();
    capped_score(sum, lines)
}

/// [`fit_score`]'s value alone, without the breakdown (rescoring many leads
/// needs only the numbers).
pub fn fit_value(criteria: &FitCriteria, input: &FitInput) -> i32 {
    let mut sum = 0.0;
    fit_points(criteria, input, |_, _, points| sum += f64::from(points));
    capped_value(sum)
}

/// Calls `line(criterion, detail, points)` for every criterion the lead
/// matches, in breakdown order; `detail` builds the text only when asked.
fn fit_points(
    criteria: &FitCriteria,
    input: &FitInput,
    mut line: impl FnMut(&str, &dyn Fn() -> String, i32),
) {
    if let Some(industry) = input.industry.map(normalize).filter(|s| !s.is_empty())
        && let Some((name, &points)) = criteria
            .industries
            .iter()
            .find(|(name, _)| normalize(name) == industry)
    {
        line("industry", &|| name.trim().to_owned(), points);
    }

    if let (Some(range), Some(employees)) = (criteria.employee_range, input.employee_count)
        && range.contains(employees)
    {
        line(
            "employeeRange",
            &|| format!("{employees} employees in {}", range.describe()),
            range.points,
        );
    }

    if let Some(seniority) = input.seniority
        && let Some(&points) = criteria.seniorities.get(seniority.as_str())
    {
        line("seniority", &|| seniority.as_str().to_owned(), points);
    }

    if let Some(title) = input.job_title.map(str::to_lowercase) {
        for (keyword, &points) in &criteria.title_keywords {
            let wanted = normalize(keyword);
            // An empty keyword would be "contained" in every title.
            if !wanted.is_empty() && title.contains(&wanted) {
                line(TITLE_KEYWORD, &|| keyword.trim().to_owned(), points);
            }
        }
    }

    if let Some(country) = input.country.map(normalize).filter(|s| !s.is_empty())
        && let Some(&points) = criteria
            .countries
            .iter()
            .find(|(code, _)| normalize(code) == country)
            .map(|(_, points)| points)
    {
        line("country", &|| country.to_uppercase(), points);
    }

    if input.is_target_account && criteria.target_account_points != 0 {
        line(
            "targetAccount",
            &|| "target account".to_owned(),
            criteria.target_account_points,
        );
    }
}

/// Scores a lead's recent marketing engagement: every marketing activity
/// (sales touches are left out) whose kind has a rule gives the rule's points
/// halved every `half_life_days` of the activity's age; an activity dated
/// after `now` counts as happening now. The rounded sum (half away from zero)
/// is capped at 100.
///
/// A half-life that is not a positive number, which [`validate`] refuses,
/// keeps only activities of age 0, as its limit towards 0 would.
pub fn engagement_score(
    rules: &EngagementRules,
    half_life_days: f64,
    activities: &[(ActivityKind, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Score {
    let mut lines = Vec::new();
    engagement_points(
        rules,
        half_life_days,
        activities,
        now,
        |kind, occurred_at, age_days, points| {
            lines.push(ScoreLine {
                criterion: kind.as_str().to_owned(),
                detail: format!(
                    "{} on {}, {age_days:.1} days ago",
                    kind.as_str(),
                    occurred_at.format("%Y-%m-%d")
                ),
                points,
            });
        },
    );
    let sum: f64 = lines.iter().map(|l| l.points).sum();
    capped_score(sum.round(), lines)
}

/// [`engagement_score`]'s value alone, without the breakdown.
pub fn engagement_value(
    rules: &EngagementRules,
    half_life_days: f64,
    activities: &[(ActivityKind, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> i32 {
    let mut sum = 0.0;
    engagement_points(rules, half_life_days, activities, now, |_, _, _, points| {
        sum += points;
    });
    capped_value(sum.round())
}

/// Calls `line(kind, occurred_at, age_days, decayed_points)` for every
/// activity that scores, in the order given.
fn engagement_points(
    rules: &EngagementRules,
    half_life_days: f64,
    activities: &[(ActivityKind, DateTime<Utc>)],
    now: DateTime<Utc>,
    mut line: impl FnMut(ActivityKind, DateTime<Utc>, f64, f64),
) {
    for &(kind, occurred_at) in activities {
        if kind.is_sales_touch() {
            continue;
        }
        let Some(&points) = rules.get(kind.as_str()) else {
            continue;
        };
        let age = (now - occurred_at).max(TimeDelta::zero());
        let age_days = (age.num_seconds() as f64 + f64::from(age.subsec_nanos()) / 1e9) / 86_400.0;
        let factor = if half_life_days > 0.0 {
            0.5_f64.powf(age_days / half_life_days)
        } else if age_days == 0.0 {
            1.0
        } else {
            0.0
        };
        line(kind, occurred_at, age_days, f64::from(points) * factor);
    }
}

/// Clamps a (whole-numbered) sum into `0..=100`.
fn capped_score(sum: f64, lines: Vec<ScoreLine>) -> Score {
    Score {
        value: capped_value(sum),
        lines,
        capped: sum > f64::from(MAX_SCORE),
    }
}

/// A (whole-numbered) sum clamped into `0..=100`.
fn capped_value(sum: f64) -> i32 {
    // The clamp keeps the cast in range; NaN, impossible here, would give 0.
    sum.clamp(0.0, f64::from(MAX_SCORE)) as i32
}

/// Whether a lead with these scores is marketing qualified: both scores reach
/// their thresholds.
pub fn qualifies(fit: i32, engagement: i32, mql_fit_min: i32, mql_engagement_min: i32) -> bool {
    fit >= mql_fit_min && engagement >= mql_engagement_min
}

/// The value of `T` whose stored name is `name` (e.g. `"C_LEVEL"`), if any.
fn from_stored_name<'de, T: Deserialize<'de>>(name: &'de str) -> Option<T> {
    use serde::de::value::{Error, StrDeserializer};
    T::deserialize(StrDeserializer::<Error>::new(name)).ok()
}

/// Checks a lead definition's scoring rules, thresholds and SLA hours.
///
/// Returns every problem as (input field in camelCase, message), e.g.
/// `("fitCriteria.employeeRange.min", "...")` or
/// `("fitCriteria.industries.Software", "...")`; empty when all is valid.
pub fn validate(
    criteria: &FitCriteria,
    rules: &EngagementRules,
    half_life_days: f64,
    mql_fit_min: i32,
    mql_engagement_min: i32,
    first_contact_hours: i32,
    disposition_hours: i32,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let mut error = |field: String, message: String| errors.push((field, message));

    // Names compared case-insensitively must stay unambiguous, and a blank one
    // would match nothing (industries, countries) or everything (keywords).
    // Sizes first: a definition is read on every rescoring, so it stays small.
    for (group, len) in [
        ("fitCriteria.industries", criteria.industries.len()),
        ("fitCriteria.countries", criteria.countries.len()),
        ("fitCriteria.titleKeywords", criteria.title_keywords.len()),
        ("fitCriteria.seniorities", criteria.seniorities.len()),
        ("engagementRules", rules.len()),
    ] {
        if len > MAX_CRITERIA {
            error(
                group.to_owned(),
                format!("at most {MAX_CRITERIA} values, got {len}"),
            );
        }
    }
    let points_over = |points: i32| {
        (points > MAX_SCORE)
            .then(|| format!("points must be at most {MAX_SCORE} (a score is capped at {MAX_SCORE}), got {points}"))
    };

    for (group, map) in [
        ("industries", &criteria.industries),
        ("countries", &criteria.countries),
        ("titleKeywords", &criteria.title_keywords),
    ] {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (name, &points) in map {
            if name.chars().count() > MAX_CRITERION_CHARS {
                // The value itself is too long to name the field by.
                error(
                    format!("fitCriteria.{group}"),
                    format!("a value is over {MAX_CRITERION_CHARS} characters"),
                );
                continue;
            }
            let field = format!("fitCriteria.{group}.{name}");
            if let Some(message) = points_over(points) {
                error(field.clone(), message);
            }
            let normalized = normalize(name);
            if normalized.is_empty() {
                error(field.clone(), "must not be blank".to_owned());
            } else if let Some(first) = seen.get(&normalized) {
                error(
                    field.clone(),
                    format!("`{name}` is the same as `{first}` ignoring case and blanks"),
                );
            } else {
                seen.insert(normalized, name);
            }
            if points < 0 {
                error(field, format!("points must not be negative, got {points}"));
            }
        }
    }

    if let Some(range) = criteria.employee_range {
        for (end, value) in [("min", range.min), ("max", range.max)] {
            if let Some(v) = value.filter(|v| *v < 0) {
                error(
                    format!("fitCriteria.employeeRange.{end}"),
                    format!("must not be negative, got {v}"),
                );
            }
            if let Some(v) = value.filter(|v| *v > MAX_EMPLOYEES) {
                error(
                    format!("fitCriteria.employeeRange.{end}"),
                    format!("must be at most {MAX_EMPLOYEES}, got {v}"),
                );
            }
        }
        if let Some(message) = points_over(range.points) {
            error("fitCriteria.employeeRange.points".to_owned(), message);
        }
        if let (Some(min), Some(max)) = (range.min, range.max)
            && min > max
        {
            error(
                "fitCriteria.employeeRange.min".to_owned(),
                format!("min ({min}) must not be greater than max ({max})"),
            );
        }
        if range.points < 0 {
            error(
                "fitCriteria.employeeRange.points".to_owned(),
                format!("points must not be negative, got {}", range.points),
            );
        }
    }

    for (name, &points) in &criteria.seniorities {
        let field = format!("fitCriteria.seniorities.{name}");
        if let Some(message) = points_over(points) {
            error(field.clone(), message);
        }
        if from_stored_name::<Seniority>(name).is_none() {
            error(
                field.clone(),
                format!(
                    "unknown seniority `{name}`; expected INDIVIDUAL_CONTRIBUTOR, MANAGER, \
                     DIRECTOR, VP or C_LEVEL"
                ),
            );
        }
        if points < 0 {
            error(field, format!("points must not be negative, got {points}"));
        }
    }

    if let Some(message) = points_over(criteria.target_account_points) {
        error("fitCriteria.targetAccountPoints".to_owned(), message);
    }
    if criteria.target_account_points < 0 {
        error(
            "fitCriteria.targetAccountPoints".to_owned(),
            format!(
                "points must not be negative, got {}",
                criteria.target_account_points
            ),
        );
    }

    let marketing_kinds = "FORM_SUBMIT, CONTENT_DOWNLOAD, WEBINAR_REGISTERED, \
                           WEBINAR_ATTENDED, PRICING_PAGE_VIEW, DEMO_REQUEST, EMAIL_CLICK or \
                           EVENT_VISIT";
    for (name, &points) in rules {
        let field = format!("engagementRules.{name}");
        if let Some(message) = points_over(points) {
            error(field.clone(), message);
        }
        match from_stored_name::<ActivityKind>(name) {
            None => error(
                field.clone(),
                format!("unknown activity kind `{name}`; expected {marketing_kinds}"),
            ),
            // A rule for a sales touch would never score, so it is a mistake.
            Some(k) if k.is_sales_touch() => error(
                field.clone(),
                format!(
                    "`{name}` is a sales touch; engagement counts only marketing activities \
                     ({marketing_kinds})"
                ),
            ),
            Some(_) => {}
        }
        if points < 0 {
            error(field, format!("points must not be negative, got {points}"));
        }
    }

    if !(half_life_days.is_finite() && half_life_days > 0.0) {
        error(
            "halfLifeDays".to_owned(),
            format!("must be a positive number of days, got {half_life_days}"),
        );
    } else if !HALF_LIFE_DAYS.contains(&half_life_days) {
        error(
            "halfLifeDays".to_owned(),
            format!(
                "must be between {} and {} days",
                HALF_LIFE_DAYS.start(),
                HALF_LIFE_DAYS.end()
            ),
        );
    }

    for (field, value) in [
        ("mqlFitMin", mql_fit_min),
        ("mqlEngagementMin", mql_engagement_min),
    ] {
        if !(0..=MAX_SCORE).contains(&value) {
            error(
                field.to_owned(),
                format!("must be between 0 and {MAX_SCORE}, got {value}"),
            );
        }
    }

    for (field, value) in [
        ("firstContactHours", first_contact_hours),
        ("dispositionHours", disposition_hours),
    ] {
        if !(1..=MAX_SLA_HOURS).contains(&value) {
            error(
                field.to_owned(),
                format!("must be between 1 and {MAX_SLA_HOURS} hours, got {value}"),
            );
        }
    }
    if disposition_hours < first_contact_hours {
        error(
            "dispositionHours".to_owned(),
            format!(
                "must not be less than firstContactHours ({first_contact_hours}), got \
                 {disposition_hours}"
            ),
        );
    }

    errors
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 13, 12, 0, 0).unwrap()
    }

    fn days_ago(days: i64) -> DateTime<Utc> {
        now() - TimeDelta::days(days)
    }

    fn map(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    /// Software 20, 50..5000 employees 20, VP 20, US 10.
    fn criteria() -> FitCriteria {
        FitCriteria {
            industries: map(&[("Software", 20)]),
            employee_range: Some(EmployeeRange {
                min: Some(50),
                max: Some(5000),
                points: 20,
            }),
            seniorities: map(&[("VP", 20)]),
            countries: map(&[("US", 10)]),
            ..FitCriteria::default()
        }
    }

    fn vp_at_software_company() -> FitInput<'static> {
        FitInput {
            industry: Some("Software"),
            employee_count: Some(250),
            seniority: Some(Seniority::Vp),
            job_title: Some("VP Marketing"),
            country: Some("US"),
            is_target_account: false,
        }
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "{actual} is not {expected}"
        );
    }

    #[test]
    fn criteria_deserialize_from_the_stored_camel_case_json() {
        let stored = json!({
            "industries": {"Software": 20},
            "employeeRange": {"min": 50, "max": 5000, "points": 20},
            "seniorities": {"VP": 20, "C_LEVEL": 20},
            "countries": {"US": 10},
            "titleKeywords": {"marketing": 10},
            "targetAccountPoints": 15
        });
        let parsed: FitCriteria = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(
            parsed.employee_range,
            Some(EmployeeRange {
                min: Some(50),
                max: Some(5000),
                points: 20
            })
        );
        assert_eq!(parsed.seniorities, map(&[("VP", 20), ("C_LEVEL", 20)]));
        assert_eq!(parsed.title_keywords, map(&[("marketing", 10)]));
        assert_eq!(parsed.target_account_points, 15);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), stored);

        let empty: FitCriteria = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, FitCriteria::default());
        let open: EmployeeRange = serde_json::from_value(json!({"min": 10, "points": 5})).unwrap();
        assert_eq!(open.max, None);
    }

    #[test]
    fn fit_of_a_vp_at_a_mid_sized_us_software_company_is_70() {
        let score = fit_score(&criteria(), &vp_at_software_company());
        // 20 (industry) + 20 (size) + 20 (VP) + 10 (US)
        assert_eq!(score.value, 70);
        assert!(!score.capped);
        let lines: Vec<_> = score
            .lines
            .iter()
            .map(|l| (l.criterion.as_str(), l.detail.as_str(), l.points))
            .collect();
        assert_eq!(
            lines,
            [
                ("industry", "Software", 20.0),
                ("employeeRange", "250 employees in 50..5000", 20.0),
                ("seniority", "VP", 20.0),
                ("country", "US", 10.0),
            ]
        );
    }

    #[test]
    fn industry_and_country_match_ignoring_case_and_blanks() {
        let input = FitInput {
            industry: Some("  software "),
            country: Some("us"),
            ..FitInput::default()
        };
        let score = fit_score(&criteria(), &input);
        // 20 (industry) + 10 (country)
        assert_eq!(score.value, 30);
        assert_eq!(score.lines[0].detail, "Software");
        assert_eq!(score.lines[1].detail, "US");

        let other = FitInput {
            industry: Some("Soft"),
            country: Some("USA"),
            ..FitInput::default()
        };
        assert_eq!(fit_score(&criteria(), &other).value, 0);
    }

    #[test]
    fn employee_range_is_inclusive_and_open_ends_match_anything() {
        let with = |count: Option<i32>, min: Option<i32>, max: Option<i32>| {
            let criteria = FitCriteria {
                employee_range: Some(EmployeeRange {
                    min,
                    max,
                    points: 20,
                }),
                ..FitCriteria::default()
            };
            let input = FitInput {
                employee_count: count,
                ..FitInput::default()
            };
            fit_score(&criteria, &input).value
        };
        assert_eq!(with(Some(50), Some(50), Some(5000)), 20);
        assert_eq!(with(Some(5000), Some(50), Some(5000)), 20);
        assert_eq!(with(Some(49), Some(50), Some(5000)), 0);
        assert_eq!(with(Some(5001), Some(50), Some(5000)), 0);
        assert_eq!(with(Some(1_000_000), Some(50), None), 20);
        assert_eq!(with(Some(1), None, Some(5000)), 20);
        assert_eq!(with(Some(0), None, None), 20);
        assert_eq!(with(None, None, None), 0);
        assert_eq!(with(None, Some(50), Some(5000)), 0);

        let open = FitCriteria {
            employee_range: Some(EmployeeRange {
                min: Some(50),
                max: None,
                points: 5,
            }),
            ..FitCriteria::default()
        };
        let input = FitInput {
            employee_count: Some(80),
            ..FitInput::default()
        };
        assert_eq!(
            fit_score(&open, &input).lines[0].detail,
            "80 employees in 50.."
        );
    }

    #[test]
    fn each_title_keyword_in_the_title_counts_once() {
        let criteria = FitCriteria {
            title_keywords: map(&[("marketing", 10), ("Demand", 15), ("sales", 7)]),
            ..FitCriteria::default()
        };
        let input = FitInput {
            job_title: Some("Director of Marketing & Demand Gen, Marketing Ops"),
            ..FitInput::default()
        };
        let score = fit_score(&criteria, &input);
        // "Demand" 15 + "marketing" 10 (once, though it occurs twice); no "sales"
        assert_eq!(score.value, 25);
        let matched: Vec<_> = score.lines.iter().map(|l| l.detail.as_str()).collect();
        assert_eq!(matched, ["Demand", "marketing"]);
        assert!(score.lines.iter().all(|l| l.criterion == "titleKeyword"));
    }

    #[test]
    fn only_title_keyword_lines_are_personal_data() {
        let criteria = FitCriteria {
            title_keywords: map(&[("marketing", 10)]),
            target_account_points: 5,
            ..criteria()
        };
        let input = FitInput {
            is_target_account: true,
            ..vp_at_software_company()
        };
        let score = fit_score(&criteria, &input);
        let personal: Vec<_> = score
            .lines
            .iter()
            .map(|l| (l.criterion.as_str(), l.is_personal()))
            .collect();
        assert_eq!(
            personal,
            [
                ("industry", false),
                ("employeeRange", false),
                ("seniority", false),
                ("titleKeyword", true),
                ("country", false),
                ("targetAccount", false),
            ]
        );
        let now = Utc::now();
        let rules = map(&[("DEMO_REQUEST", 40)]);
        let engagement = engagement_score(&rules, 30.0, &[(ActivityKind::DemoRequest, now)], now);
        assert!(!engagement.lines[0].is_personal());
    }

    #[test]
    fn seniority_matches_by_stored_name() {
        let criteria = FitCriteria {
            seniorities: map(&[("C_LEVEL", 25), ("MANAGER", 5)]),
            ..FitCriteria::default()
        };
        let ceo = FitInput {
            seniority: Some(Seniority::CLevel),
            ..FitInput::default()
        };
        let ic = FitInput {
            seniority: Some(Seniority::IndividualContributor),
            ..FitInput::default()
        };
        assert_eq!(fit_score(&criteria, &ceo).value, 25);
        assert_eq!(fit_score(&criteria, &ceo).lines[0].detail, "C_LEVEL");
        assert_eq!(fit_score(&criteria, &ic).value, 0);
    }

    #[test]
    fn target_account_adds_its_points() {
        let criteria = FitCriteria {
            target_account_points: 15,
            ..criteria()
        };
        let input = FitInput {
            is_target_account: true,
            ..vp_at_software_company()
        };
        // 70 + 15
        let score = fit_score(&criteria, &input);
        assert_eq!(score.value, 85);
        assert_eq!(score.lines.last().unwrap().criterion, "targetAccount");
        assert_eq!(fit_score(&criteria, &vp_at_software_company()).value, 70);
    }

    #[test]
    fn fit_is_capped_at_100() {
        let generous = FitCriteria {
            title_keywords: map(&[("vp", 30)]),
            target_account_points: 15,
            ..criteria()
        };
        let input = FitInput {
            is_target_account: true,
            ..vp_at_software_company()
        };
        // 20 + 20 + 20 + 10 + 30 + 15 = 115
        let score = fit_score(&generous, &input);
        assert_eq!(score.value, 100);
        assert!(score.capped);
        assert_close(score.lines.iter().map(|l| l.points).sum(), 115.0);

        let exactly = FitCriteria {
            title_keywords: map(&[("vp", 30)]),
            ..criteria()
        };
        // 70 + 30 = 100: reached, not capped
        let score = fit_score(&exactly, &vp_at_software_company());
        assert_eq!(score.value, 100);
        assert!(!score.capped);
    }

    #[test]
    fn without_account_data_only_the_leads_own_criteria_count() {
        let input = FitInput {
            seniority: Some(Seniority::Vp),
            country: Some("US"),
            ..FitInput::default()
        };
        // 20 (VP) + 10 (US)
        let score = fit_score(&criteria(), &input);
        assert_eq!(score.value, 30);
        assert_eq!(score.lines.len(), 2);
    }

    #[test]
    fn fit_is_never_below_zero() {
        let criteria = FitCriteria {
            industries: map(&[("Software", -40)]),
            seniorities: map(&[("VP", 10)]),
            ..FitCriteria::default()
        };
        let score = fit_score(&criteria, &vp_at_software_company());
        assert_eq!(score.value, 0);
        assert!(!score.capped);
    }

    fn rules() -> EngagementRules {
        map(&[("DEMO_REQUEST", 30), ("EMAIL_CLICK", 10), ("CALL", 50)])
    }

    #[test]
    fn a_demo_request_halves_every_half_life() {
        let at = |days| {
            engagement_score(
                &rules(),
                30.0,
                &[(ActivityKind::DemoRequest, days_ago(days))],
                now(),
            )
        };
        assert_eq!(at(0).value, 30);
        assert_eq!(at(30).value, 15);
        // 30 x 0.25 = 7.5, rounded half away from zero
        let sixty = at(60);
        assert_eq!(sixty.value, 8);
        assert_close(sixty.lines[0].points, 7.5);
        assert_eq!(sixty.lines[0].criterion, "DEMO_REQUEST");
        assert_eq!(
            sixty.lines[0].detail,
            "DEMO_REQUEST on 2026-01-12, 60.0 days ago"
        );
        assert!(!sixty.capped);
    }

    #[test]
    fn decayed_points_of_several_activities_add_up() {
        let activities = [
            (ActivityKind::EmailClick, now()),
            (ActivityKind::EmailClick, days_ago(10)),
        ];
        // 10 + 10 x 0.5
        let score = engagement_score(&rules(), 10.0, &activities, now());
        assert_eq!(score.value, 15);
        assert_close(score.lines[0].points, 10.0);
        assert_close(score.lines[1].points, 5.0);

        // Half a day at a half-life of one day: 10 x 2^-0.5 = 7.0711 -> 7
        let half_day = [(ActivityKind::EmailClick, now() - TimeDelta::hours(12))];
        let score = engagement_score(&rules(), 1.0, &half_day, now());
        assert_eq!(score.value, 7);
        assert_close(score.lines[0].points, 10.0 * 0.5_f64.sqrt());
        assert!(score.lines[0].detail.ends_with(", 0.5 days ago"));
    }

    #[test]
    fn sales_touches_and_unruled_kinds_are_ignored() {
        let activities = [
            (ActivityKind::Call, now()),
            (ActivityKind::Meeting, now()),
            (ActivityKind::PricingPageView, now()),
            (ActivityKind::DemoRequest, now()),
        ];
        // CALL has a rule but is a sales touch; PRICING_PAGE_VIEW has no rule
        let score = engagement_score(&rules(), 30.0, &activities, now());
        assert_eq!(score.value, 30);
        assert_eq!(score.lines.len(), 1);
        assert_eq!(score.lines[0].criterion, "DEMO_REQUEST");
    }

    #[test]
    fn future_activities_count_as_happening_now() {
        let activities = [(ActivityKind::DemoRequest, now() + TimeDelta::days(5))];
        let score = engagement_score(&rules(), 30.0, &activities, now());
        assert_eq!(score.value, 30);
        assert!(score.lines[0].detail.ends_with(", 0.0 days ago"));
    }

    #[test]
    fn engagement_is_capped_at_100() {
        let activities = vec![(ActivityKind::DemoRequest, now()); 4];
        // 4 x 30 = 120
        let score = engagement_score(&rules(), 30.0, &activities, now());
        assert_eq!(score.value, 100);
        assert!(score.capped);
        assert_eq!(score.lines.len(), 4);

        let none = engagement_score(&rules(), 30.0, &[], now());
        assert_eq!(none, Score::default());
    }

    #[test]
    fn a_non_positive_half_life_keeps_only_activities_of_age_zero() {
        let activities = [
            (ActivityKind::DemoRequest, now()),
            (ActivityKind::DemoRequest, days_ago(1)),
        ];
        assert_eq!(
            engagement_score(&rules(), 0.0, &activities, now()).value,
            30
        );
        assert_eq!(
            engagement_score(&rules(), f64::NAN, &activities, now()).value,
            30
        );
        // An infinite half-life never decays: 30 + 30
        assert_eq!(
            engagement_score(&rules(), f64::INFINITY, &activities, now()).value,
            60
        );
    }

    #[test]
    fn values_without_a_breakdown_are_the_scores_values() {
        let generous = FitCriteria {
            title_keywords: map(&[("vp", 30), ("marketing", 5)]),
            target_account_points: 15,
            ..criteria()
        };
        let inputs = [
            vp_at_software_company(),
            FitInput {
                is_target_account: true,
                ..vp_at_software_company()
            },
            FitInput {
                industry: Some(" software "),
                country: Some("us"),
                employee_count: Some(10),
                ..FitInput::default()
            },
            FitInput::default(),
        ];
        for c in [criteria(), generous, FitCriteria::default()] {
            for input in &inputs {
                assert_eq!(
                    fit_value(&c, input),
                    fit_score(&c, input).value,
                    "{input:?}"
                );
            }
        }
        let activities = [
            (ActivityKind::DemoRequest, days_ago(3)),
            (ActivityKind::EmailClick, now() - TimeDelta::hours(12)),
            (ActivityKind::Call, now()),
            (ActivityKind::EmailClick, now() + TimeDelta::days(1)),
            (ActivityKind::FormSubmit, days_ago(40)),
        ];
        for half_life in [0.0, 0.5, 7.0, 30.0] {
            for n in 0..=activities.len() {
                let some = &activities[..n];
                assert_eq!(
                    engagement_value(&rules(), half_life, some, now()),
                    engagement_score(&rules(), half_life, some, now()).value,
                    "{half_life} {some:?}"
                );
            }
        }
    }

    #[test]
    fn qualifies_needs_both_thresholds() {
        assert!(qualifies(40, 30, 40, 30));
        assert!(qualifies(90, 90, 40, 30));
        assert!(!qualifies(39, 90, 40, 30));
        assert!(!qualifies(90, 29, 40, 30));
        assert!(qualifies(0, 0, 0, 0));
    }

    fn marketing_rules() -> EngagementRules {
        map(&[("DEMO_REQUEST", 30), ("EMAIL_CLICK", 10)])
    }

    fn fields(errors: &[(String, String)]) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_sound_definition_is_valid() {
        let criteria = FitCriteria {
            title_keywords: map(&[("marketing", 10)]),
            target_account_points: 15,
            seniorities: map(&[("VP", 20), ("C_LEVEL", 20)]),
            ..criteria()
        };
        assert_eq!(
            validate(&criteria, &marketing_rules(), 30.0, 40, 30, 24, 48),
            []
        );
        assert_eq!(
            validate(
                &FitCriteria::default(),
                &EngagementRules::new(),
                0.5,
                0,
                100,
                1,
                720
            ),
            []
        );
        // Equal SLA windows are allowed.
        assert_eq!(
            validate(
                &FitCriteria::default(),
                &EngagementRules::new(),
                1.0,
                100,
                0,
                24,
                24
            ),
            []
        );
    }

    #[test]
    fn min_above_max_and_negative_bounds_are_refused() {
        let criteria = FitCriteria {
            employee_range: Some(EmployeeRange {
                min: Some(6000),
                max: Some(5000),
                points: 20,
            }),
            ..FitCriteria::default()
        };
        let errors = validate(&criteria, &marketing_rules(), 30.0, 40, 30, 24, 48);
        assert_eq!(
            errors,
            [(
                "fitCriteria.employeeRange.min".to_owned(),
                "min (6000) must not be greater than max (5000)".to_owned()
            )]
        );

        let negative = FitCriteria {
            employee_range: Some(EmployeeRange {
                min: Some(-1),
                max: None,
                points: 20,
            }),
            ..FitCriteria::default()
        };
        let errors = validate(&negative, &marketing_rules(), 30.0, 40, 30, 24, 48);
        assert_eq!(fields(&errors), ["fitCriteria.employeeRange.min"]);
    }

    #[test]
    fn negative_points_are_refused_naming_the_field() {
        let criteria = FitCriteria {
            industries: map(&[("Software", -5), ("Healthcare", 10)]),
            employee_range: Some(EmployeeRange {
                min: None,
                max: None,
                points: -1,
            }),
            seniorities: map(&[("VP", -2)]),
            countries: map(&[("US", -3)]),
            title_keywords: map(&[("marketing", -4)]),
            target_account_points: -6,
        };
        let rules = map(&[("DEMO_REQUEST", -7)]);
        let errors = validate(&criteria, &rules, 30.0, 40, 30, 24, 48);
        assert_eq!(
            fields(&errors),
            [
                "fitCriteria.industries.Software",
                "fitCriteria.countries.US",
                "fitCriteria.titleKeywords.marketing",
                "fitCriteria.employeeRange.points",
                "fitCriteria.seniorities.VP",
                "fitCriteria.targetAccountPoints",
                "engagementRules.DEMO_REQUEST",
            ]
        );
        assert_eq!(errors[0].1, "points must not be negative, got -5");
    }

    #[test]
    fn half_life_must_be_a_positive_finite_number() {
        let c = FitCriteria::default();
        let r = marketing_rules();
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let errors = validate(&c, &r, bad, 40, 30, 24, 48);
            assert_eq!(fields(&errors), ["halfLifeDays"], "{bad}");
        }
        assert_eq!(
            validate(&c, &r, 0.0, 40, 30, 24, 48)[0].1,
            "must be a positive number of days, got 0"
        );
    }

    #[test]
    fn a_definition_stays_small_and_its_numbers_sane() {
        let many: BTreeMap<String, i32> = (0..101).map(|i| (format!("Industry {i}"), 1)).collect();
        let criteria = FitCriteria {
            industries: many,
            countries: map(&[("US", 101)]),
            title_keywords: [("x".repeat(101), 10)].into_iter().collect(),
            employee_range: Some(EmployeeRange {
                min: Some(0),
                max: Some(i32::MAX),
                points: 20,
            }),
            ..FitCriteria::default()
        };
        let rules = map(&[("DEMO_REQUEST", 2_147_483_647)]);
        let errors = validate(&criteria, &rules, 5e-324, 40, 30, 24, 48);
        assert_eq!(
            fields(&errors),
            [
                "fitCriteria.industries",
                "fitCriteria.countries.US",
                "fitCriteria.titleKeywords",
                "fitCriteria.employeeRange.max",
                "engagementRules.DEMO_REQUEST",
                "halfLifeDays",
            ]
        );
        assert_eq!(errors[0].1, "at most 100 values, got 101");
        assert_eq!(errors[2].1, "a value is over 100 characters");
        assert!(
            errors[1].1.starts_with("points must be at most 100"),
            "{}",
            errors[1].1
        );
        assert_eq!(errors[5].1, "must be between 0.1 and 3650 days");
        // The edges are accepted.
        let edge = FitCriteria {
            countries: map(&[("US", 100)]),
            employee_range: Some(EmployeeRange {
                min: Some(0),
                max: Some(10_000_000),
                points: 100,
            }),
            ..FitCriteria::default()
        };
        assert!(
            validate(
                &edge,
                &map(&[("DEMO_REQUEST", 100)]),
                3650.0,
                40,
                30,
                24,
                48
            )
            .is_empty()
        );
        assert!(validate(&edge, &marketing_rules(), 0.1, 40, 30, 24, 48).is_empty());
    }

    #[test]
    fn unknown_seniorities_and_activity_kinds_are_refused() {
        let criteria = FitCriteria {
            seniorities: map(&[("VP", 10), ("vp", 10), ("INTERN", 1)]),
            ..FitCriteria::default()
        };
        let rules = map(&[("DEMO_REQUEST", 30), ("WEBINAR", 10), ("MEETING", 5)]);
        let errors = validate(&criteria, &rules, 30.0, 40, 30, 24, 48);
        assert_eq!(
            fields(&errors),
            [
                "fitCriteria.seniorities.INTERN",
                "fitCriteria.seniorities.vp",
                "engagementRules.MEETING",
                "engagementRules.WEBINAR",
            ]
        );
        assert!(errors[3].1.starts_with("unknown activity kind `WEBINAR`"));
        assert!(errors[2].1.starts_with("`MEETING` is a sales touch"));
    }

    #[test]
    fn thresholds_and_sla_hours_must_be_in_range() {
        let c = FitCriteria::default();
        let r = marketing_rules();
        let errors = validate(&c, &r, 30.0, -1, 101, 0, 721);
        assert_eq!(
            fields(&errors),
            [
                "mqlFitMin",
                "mqlEngagementMin",
                "firstContactHours",
                "dispositionHours"
            ]
        );
        let errors = validate(&c, &r, 30.0, 40, 30, 48, 24);
        assert_eq!(
            errors,
            [(
                "dispositionHours".to_owned(),
                "must not be less than firstContactHours (48), got 24".to_owned()
            )]
        );
    }

    #[test]
    fn names_must_be_unambiguous_and_not_blank() {
        let criteria = FitCriteria {
            industries: map(&[("Software", 10), ("software ", 10)]),
            title_keywords: map(&[(" ", 10)]),
            ..FitCriteria::default()
        };
        let errors = validate(&criteria, &marketing_rules(), 30.0, 40, 30, 24, 48);
        assert_eq!(
            fields(&errors),
            [
                "fitCriteria.industries.software ",
                "fitCriteria.titleKeywords. "
            ]
        );
    }

    #[test]
    fn every_error_is_returned_at_once() {
        let criteria = FitCriteria {
            employee_range: Some(EmployeeRange {
                min: Some(10),
                max: Some(5),
                points: 5,
            }),
            ..FitCriteria::default()
        };
        let rules = map(&[("NOPE", 1)]);
        let errors = validate(&criteria, &rules, f64::NAN, 200, 30, 24, 48);
        assert_eq!(
            fields(&errors),
            [
                "fitCriteria.employeeRange.min",
                "engagementRules.NOPE",
                "halfLifeDays",
                "mqlFitMin"
            ]
        );
    }
}
