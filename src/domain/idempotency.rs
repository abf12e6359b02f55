//! The pure parts of `Idempotency-Key`: what a valid key is, and the
//! fingerprint that tells a retry of a request from another request sent
//! with the same key.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The longest key accepted, in characters (Stripe's limit).
pub const MAX_KEY_LEN: usize = 255;

/// A valid `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] printable ASCII
/// characters (space to `~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header value. Both the bare form Stripe's clients send
    /// (`Idempotency-Key: 8e03978e`) and the quoted Structured Field string
    /// of the IETF draft (`Idempotency-Key: "8e03978e"`, with `\"` and `\\`
    /// escapes) are accepted; they name the same key. The error says what
    /// is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim_matches([' ', '\t']);
        let key = match raw.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => raw.to_owned(),
        };
        if key.is_empty() {
            return Err("the Idempotency-Key header is empty: send 1 to 255 printable ASCII characters, e.g. a UUID".into());
        }
        if let Some(bad) = key.chars().find(|c| !matches!(c, ' '..='~')) {
            return Err(format!(
                "the Idempotency-Key may hold only printable ASCII characters (space to ~), not {bad:?}; a UUID is a good key"
            ));
        }
        let len = key.chars().count();
        if len > MAX_KEY_LEN {
            return Err(format!(
                "the Idempotency-Key is {len} characters long; the limit is {MAX_KEY_LEN}"
            ));
        }
        Ok(Self(key))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The inside of a Structured Field string whose opening quote is already
/// removed: up to the closing quote, which must end the value.
fn unquote(quoted: &str) -> Result<String, String> {
    let malformed = || {
        "the quoted Idempotency-Key is malformed: end it with \" and escape only \" and \\ with \\"
            .to_owned()
    };
    let mut key = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err(malformed()),
            },
            '"' if chars.as_str().is_empty() => return Ok(key),
            '"' => return Err(malformed()),
            other => key.push(other),
        }
    }
    Err(malformed())
}

/// SHA-256 (64 lowercase hex digits) of what makes a GraphQL request the
/// request it is: its query text, operation name and variables. The three
/// are hashed as the JSON array `[query, operationName, variables]` with
/// object keys sorted at every level, so a client that serialises the same
/// variables in another key order sends the same request.
pub fn fingerprint(query: &str, operation_name: Option<&str>, variables: &Value) -> String {
    let mut canonical = String::new();
    canonical.push('[');
    write_canonical(&mut canonical, &Value::from(query));
    canonical.push(',');
    write_canonical(&mut canonical, &Value::from(operation_name));
    canonical.push(',');
    write_canonical(&mut canonical, variables);
    canonical.push(']');
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compact JSON with the keys of every object in sorted order.
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_key_is_one_to_255_printable_ascii_characters() {
        let ok = |raw: &str| IdempotencyKey::parse(raw).map(|k| k.as_str().to_owned());
        assert_eq!(ok("8e03978e-40d5").as_deref(), Ok("8e03978e-40d5"));
        assert_eq!(
            ok("sync 2026-12-05 #1 ~!").as_deref(),
            Ok("sync 2026-12-05 #1 ~!")
        );
        assert_eq!(ok(&"k".repeat(255)).map(|k| k.len()), Ok(255));
        assert!(ok(&"k".repeat(256)).unwrap_err().contains("256 characters"));
        assert!(ok("").unwrap_err().contains("empty"));
        assert!(ok("   ").unwrap_err().contains("empty"));
        assert!(ok("clé").unwrap_err().contains("'é'"));
        assert!(ok("a\u{7f}b").unwrap_err().contains("printable ASCII"));
        assert!(ok("tab\there").unwrap_err().contains("printable ASCII"));
    }

    #[test]
    fn the_drafts_quoted_form_names_the_same_key_as_the_bare_form() {
        let key = |raw: &str| IdempotencyKey::parse(raw).map(|k| k.as_str().to_owned());
        assert_eq!(key("\"8e03978e\""), key("8e03978e"));
        assert_eq!(
            key(r#""say \"hi\" \\ bye""#).as_deref(),
            Ok(r#"say "hi" \ bye"#)
        );
        assert!(key("\"\"").unwrap_err().contains("empty"));
        assert!(key("\"open").unwrap_err().contains("malformed"));
        assert!(key("\"a\"b\"").unwrap_err().contains("malformed"));
        assert!(key(r#""a\nb""#).unwrap_err().contains("malformed"));
    }

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_canonical_request() {
        // printf '%s' '["mutation { a }",null,{"a":[true,"x"],"b":1}]' | sha256sum
        assert_eq!(
            fingerprint("mutation { a }", None, &json!({ "b": 1, "a": [true, "x"] })),
            "8cb67c173a4e5ee257a75ab408dbee70f806f6d4ed7f76a65f9f6f41d596de2d"
        );
        // printf '%s' '["",null,{}]' | sha256sum
        assert_eq!(
            fingerprint("", None, &json!({})),
            "f8e396c3809a60d1df8b305c3177082c3c8cb4f46d9328c26df4ba124942b13b"
        );
        // Nested keys are sorted too; text is UTF-8 as sent:
        // printf '%s' '["q","Op",{"a":{"x":null,"y":"é"}}]' | sha256sum
        assert_eq!(
            fingerprint("q", Some("Op"), &json!({ "a": { "y": "é", "x": null } })),
            "8fbe8abf642291b495568f7e5bfc81a758ad4a78c0bf7e73afffbc6e0261cac9"
        );
    }

    #[test]
    fn any_difference_in_query_operation_or_variables_is_another_request() {
        let base = fingerprint("mutation M { a }", Some("M"), &json!({ "x": 1 }));
        assert_eq!(
            base,
            fingerprint("mutation M { a }", Some("M"), &json!({ "x": 1 }))
        );
        for other in [
            fingerprint("mutation M { a  }", Some("M"), &json!({ "x": 1 })),
            fingerprint("mutation M { a }", None, &json!({ "x": 1 })),
            fingerprint("mutation M { a }", Some("M"), &json!({ "x": 2 })),
            fingerprint("mutation M { a }", Some("M"), &json!({ "x": "1" })),
            fingerprint("mutation M { a }", Some("M"), &json!({ "x": 1, "y": null })),
        ] {
            assert_ne!(base, other);
        }
    }
}
