//! Win/loss feedback rules that need no database: reasons from the
//! taxonomy, objection tags, the lead-fit rating.

use entity::enums::{FeedbackReason, OpportunityStage, Outcome};

use super::validate::Errors;
use crate::error::UserErrorCode;

/// Most objection tags on one feedback.
pub const MAX_OBJECTIONS: usize = 10;
/// Longest objection tag, in characters.
pub const MAX_OBJECTION_LEN: usize = 50;
/// Longest notes, in characters.
pub const MAX_NOTES_LEN: usize = 5000;

/// The outcome a closed stage stands for (`None` while open).
pub fn outcome_of(stage: OpportunityStage) -> Option<Outcome> {
    match stage {
        OpportunityStage::ClosedWon => Some(Outcome::Won),
        OpportunityStage::ClosedLost => Some(Outcome::Lost),
        _ => None,
    }
}

/// The closed stage of an outcome.
pub fn stage_of(outcome: Outcome) -> OpportunityStage {
    match outcome {
        Outcome::Won => OpportunityStage::ClosedWon,
        Outcome::Lost => OpportunityStage::ClosedLost,
    }
}

/// Secondary reasons without repeats, in the order given; the primary
/// reason among them is a failure (it is already the primary one).
pub fn secondary_reasons(
    e: &mut Errors,
    primary: FeedbackReason,
    secondary: &[FeedbackReason],
) -> Vec<FeedbackReason> {
    let mut out: Vec<FeedbackReason> = Vec::with_capacity(secondary.len());
    for r in secondary {
        if !out.contains(r) {
            out.push(*r);
        }
    }
    if out.contains(&primary) {
        e.add(
            "secondaryReasons",
            UserErrorCode::Invalid,
            format!("`secondaryReasons` repeats the primary reason {primary}"),
        );
    }
    out
}

/// Why a value is not an objection tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotATag {
    /// Over [`MAX_OBJECTION_LEN`] characters once normalised.
    TooLong,
    /// Holds something other than letters `a-z`, digits and separators.
    NotPlain,
}

/// An objection tag in its stored form: trimmed and lower-cased, runs of
/// blanks, `_` and `-` turned into one `-` and none at either end ("No
/// SSO" and "no_sso" are `no-sso`), leaving only `a-z`, `0-9` and single
/// hyphens, at most [`MAX_OBJECTION_LEN`] characters. Anything else (an
/// `@`, a `.`, an accent, an apostrophe) is not a tag: tags are for
/// aggregating why deals are lost, and such text could carry personal data,
/// which belongs in the notes. A blank value is `Ok("")`.
pub fn objection_tag(raw: &str) -> Result<String, NotATag> {
    let lower = raw.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let tag = words.join("-");
    if !tag
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(NotATag::NotPlain);
    }
    if tag.len() > MAX_OBJECTION_LEN {
        return Err(NotATag::TooLong);
    }
    Ok(tag)
}

/// Objection tags in their stored form ([`objection_tag`]), blanks and
/// repeats dropped, at most [`MAX_OBJECTIONS`]; a value that is not a tag
/// is a failure naming its position.
pub fn objections(e: &mut Errors, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, raw) in tags.iter().enumerate() {
        let n = i + 1;
        match objection_tag(raw) {
            Ok(tag) if tag.is_empty() || out.contains(&tag) => {}
            Ok(tag) => out.push(tag),
            Err(NotATag::TooLong) => e.add(
                "objections",
                UserErrorCode::TooLong,
                format!(
                    "objection {n} is over {MAX_OBJECTION_LEN} characters: an objection is a short tag such as `too-expensive`"
                ),
            ),
            Err(NotATag::NotPlain) => e.add(
                "objections",
                UserErrorCode::Invalid,
                format!(
                    "objection {n} is not a tag: use lower-case letters, digits and hyphens, such as `too-expensive` or `no-sso` (details go in `notes`)"
                ),
            ),
        }
    }
    if out.len() > MAX_OBJECTIONS {
        e.add(
            "objections",
            UserErrorCode::OutOfRange,
            format!("at most {MAX_OBJECTIONS} objections, got {}", out.len()),
        );
    }
    out
}

/// The objections of a stored row as a viewer sees them. Rows written
/// before tags were enforced may hold free text: a stored value that is a
/// tag once normalised is shown normalised to everyone; one that is not is
/// shown as it is to viewers who may read personal data and left out for
/// the others (REPORTING), since it may be personal.
pub fn visible_objections(stored: Vec<String>, may_read_personal: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(stored.len());
    for value in stored {
        let shown = match objection_tag(&value) {
            Ok(tag) if tag.is_empty() => continue,
            Ok(tag) => tag,
            Err(_) if may_read_personal => value,
            Err(_) => continue,
        };
        if !out.contains(&shown) {
            out.push(shown);
        }
    }
    out
}

/// The lead-fit rating: 1 (the lead did not match the definition at all)
/// to 5 (a perfect match).
pub fn lead_fit_rating(e: &mut Errors, rating: i32) -> i16 {
    let rating = e.range("leadFitRating", rating, 1, 5);
    i16::try_from(rating).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    fn failures(e: Errors) -> Vec<String> {
        match e.finish() {
            Ok(()) => vec![],
            Err(AppError::Invalid(errors)) => errors.into_iter().map(|e| e.message).collect(),
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn objections_are_normalised_to_hyphenated_lower_case_tags_without_repeats() {
        let mut e = Errors::new();
        let tags = objections(
            &mut e,
            &[
                "  Too   expensive ".into(),
                "too-expensive".into(),
                "".into(),
                "No SSO".into(),
                "contract_terms".into(),
                "-GDPR--review-".into(),
                "24x7 support".into(),
            ],
        );
        assert_eq!(
            tags,
            [
                "too-expensive",
                "no-sso",
                "contract-terms",
                "gdpr-review",
                "24x7-support"
            ]
        );
        assert!(failures(e).is_empty());
    }

    #[test]
    fn text_that_is_not_a_tag_is_refused_by_its_position() {
        let mut e = Errors::new();
        let tags = objections(
            &mut e,
            &[
                "price".into(),
                "ceo is jane.doe@acme.example".into(),
                "prix élevé".into(),
                "can't integrate".into(),
            ],
        );
        assert_eq!(tags, ["price"]);
        let messages = failures(e);
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with("objection 2 is not a tag"),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("objection 3 is not a tag"),
            "{messages:?}"
        );
        assert!(
            messages[2].starts_with("objection 4 is not a tag"),
            "{messages:?}"
        );
    }

    #[test]
    fn long_tags_and_too_many_tags_fail() {
        let mut e = Errors::new();
        assert_eq!(objections(&mut e, &["x".repeat(50)]), ["x".repeat(50)]);
        assert!(failures(e).is_empty());
        let mut e = Errors::new();
        objections(&mut e, &["x".repeat(51)]);
        let messages = failures(e);
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("objection 1 is over 50 characters"));
        let mut e = Errors::new();
        let many: Vec<String> = (0..11).map(|i| format!("tag {i}")).collect();
        objections(&mut e, &many);
        assert_eq!(failures(e), ["at most 10 objections, got 11"]);
    }

    #[test]
    fn stored_free_text_is_shown_only_to_viewers_of_personal_data() {
        let stored = vec![
            "too expensive".to_owned(),
            "bob@acme.example".to_owned(),
            "too-expensive".to_owned(),
            "security".to_owned(),
        ];
        assert_eq!(
            visible_objections(stored.clone(), true),
            ["too-expensive", "bob@acme.example", "security"]
        );
        assert_eq!(
            visible_objections(stored, false),
            ["too-expensive", "security"]
        );
    }

    #[test]
    fn the_primary_reason_is_not_repeated_in_the_secondary_ones() {
        let mut e = Errors::new();
        let r = secondary_reasons(
            &mut e,
            FeedbackReason::Price,
            &[FeedbackReason::Timing, FeedbackReason::Timing],
        );
        assert_eq!(r, [FeedbackReason::Timing]);
        assert!(failures(e).is_empty());
        let mut e = Errors::new();
        secondary_reasons(&mut e, FeedbackReason::Price, &[FeedbackReason::Price]);
        assert_eq!(failures(e).len(), 1);
    }

    #[test]
    fn ratings_run_from_one_to_five() {
        for (rating, ok) in [(0, false), (1, true), (5, true), (6, false)] {
            let mut e = Errors::new();
            lead_fit_rating(&mut e, rating);
            assert_eq!(failures(e).is_empty(), ok, "{rating}");
        }
    }

    #[test]
    fn outcomes_and_closed_stages_correspond() {
        assert_eq!(outcome_of(OpportunityStage::ClosedWon), Some(Outcome::Won));
        assert_eq!(outcome_of(OpportunityStage::Proposal), None);
        assert_eq!(stage_of(Outcome::Lost), OpportunityStage::ClosedLost);
    }
}
