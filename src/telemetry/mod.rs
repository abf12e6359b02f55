//! What operators see of a running server: Prometheus metrics
//! ([`metrics`], served at `/metrics`) and one access-log line per request
//! ([`access`], target `handoff::access`). docs/operations.md lists both.
//!
//! Neither carries personal data: no query text, no variables, no emails
//! or names; users appear by id and role only, and operation names only
//! when they are plain identifiers ([`operation_name`]).

pub mod access;
pub mod metrics;

pub use metrics::Metrics;

/// Longest operation name kept, in characters.
pub const MAX_OPERATION_NAME: usize = 64;

/// The label of an operation without a name.
pub const ANONYMOUS: &str = "anonymous";
/// The label of an operation whose name is not a plain identifier, or
/// that came after [`metrics::MAX_OPERATION_NAMES`] others.
pub const OTHER: &str = "other";
/// The label of a request that never got as far as an operation (a body
/// that is not a GraphQL request, a missing token).
pub const UNKNOWN: &str = "unknown";

/// An operation name as logs and metrics show it: the name when it matches
/// `[A-Za-z_][A-Za-z0-9_]{0,63}` (GraphQL's names, at most 64 long),
/// [`ANONYMOUS`] without one, [`OTHER`] otherwise. Clients choose these
/// names, so nothing else of theirs gets through.
pub fn operation_name(name: Option<&str>) -> &str {
    match name {
        None => ANONYMOUS,
        Some(name) if is_plain_name(name) => name,
        Some(_) => OTHER,
    }
}

fn is_plain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=MAX_OPERATION_NAME).contains(&bytes.len())
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// An error code as a label: ours are upper-case words (`BAD_USER_INPUT`);
/// anything else is `OTHER`.
pub fn outcome_label(code: &str) -> &str {
    let plain = (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit());
    if plain { code } else { "OTHER" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_pass_as_operation_names() {
        for ok in ["Leads", "_x", "a1_B2", &"a".repeat(64)] {
            assert_eq!(operation_name(Some(ok)), ok);
        }
        for bad in [
            "",
            "1abc",
            "query x@y.com",
            "jane.doe@example.com",
            "has space",
            "caf\u{e9}",
            &"a".repeat(65),
        ] {
            assert_eq!(operation_name(Some(bad)), OTHER, "{bad:?}");
        }
        assert_eq!(operation_name(None), ANONYMOUS);
    }

    #[test]
    fn error_codes_pass_only_as_upper_case_words() {
        assert_eq!(outcome_label("RATE_LIMITED"), "RATE_LIMITED");
        assert_eq!(outcome_label("not a code"), "OTHER");
        assert_eq!(outcome_label(""), "OTHER");
    }
}
