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

/// Objection tags: trimmed, inner whitespace collapsed, lower-cased (so
/// "Price" and "price " count as one tag in the loop), blanks dropped,
/// repeats dropped; each at most [`MAX_OBJECTION_LEN`] characters, at most
/// [`MAX_OBJECTIONS`] tags.
pub fn objections(e: &mut Errors, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.split_whitespace().collect::<Vec<_>>().join(" ");
        let tag = tag.to_lowercase();
        if tag.is_empty() || out.contains(&tag) {
            continue;
        }
        if tag.chars().count() > MAX_OBJECTION_LEN {
            e.add(
                "objections",
                UserErrorCode::TooLong,
                format!("an objection is a short tag of at most {MAX_OBJECTION_LEN} characters"),
            );
        }
        out.push(tag);
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
    fn objections_are_trimmed_lower_cased_and_deduplicated() {
        let mut e = Errors::new();
        let tags = objections(
            &mut e,
            &[
                "  Too   expensive ".into(),
                "too expensive".into(),
                "".into(),
                "No SSO".into(),
            ],
        );
        assert_eq!(tags, ["too expensive", "no sso"]);
        assert!(failures(e).is_empty());
    }

    #[test]
    fn long_tags_and_too_many_tags_fail() {
        let mut e = Errors::new();
        objections(&mut e, &["x".repeat(51)]);
        assert_eq!(failures(e).len(), 1);
        let mut e = Errors::new();
        let many: Vec<String> = (0..11).map(|i| format!("tag {i}")).collect();
        objections(&mut e, &many);
        assert_eq!(failures(e).len(), 1);
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
