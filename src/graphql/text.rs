//! Text given to the API never holds the NUL character (U+0000):
//! PostgreSQL cannot store it in text (nor compare with it), so a name,
//! search term or external id with one failed deep inside a statement as an
//! internal error, and no field has a use for it. [`NoNulText`] refuses a
//! request with one anywhere in its variables or literal arguments before
//! anything runs, with `BAD_USER_INPUT` naming where it is, the same on
//! both databases.

use std::sync::Arc;

use async_graphql::{
    ErrorExtensionValues, Pos, ServerError, ServerResult, Value, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// An argument's literal parts; the variables in it (checked on their
/// own) read as null.
macro_rules! literal {
    ($value:expr) => {
        $value
            .clone()
            .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null))
            .unwrap_or(Value::Null)
    };
}

/// The schema extension that refuses text with a NUL character.
pub struct NoNulText;

impl ExtensionFactory for NoNulText {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NoNulText)
    }
}

#[async_trait::async_trait]
impl Extension for NoNulText {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let found = variables
            .iter()
            .find_map(|(name, value)| nul_in(value, format!("${name}")).map(|at| (at, None)))
            .or_else(|| nul_in_document(&document));
        match found {
            Some((at, pos)) => Err(refusal(&at, pos)),
            None => Ok(document),
        }
    }
}

/// The error for a NUL character at `at` (`$input.leads.0.email`,
/// `accounts.filter.search`).
fn refusal(at: &str, pos: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(
        format!("Invalid value for {at:?}: text must not contain the NUL character (U+0000)"),
        pos,
    );
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    error.extensions = Some(extensions);
    error
}

/// Where in `value` (named `at`) a string holds a NUL character.
fn nul_in(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, format!("{at}.{i}"))),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| nul_in(v, format!("{at}.{k}"))),
        _ => None,
    }
}

/// The first literal argument (of a field or directive) or variable
/// default that holds a NUL character, anywhere in the document.
fn nul_in_document(doc: &ExecutableDocument) -> Option<(String, Option<Pos>)> {
    doc.operations
        .iter()
        .find_map(|(_, op)| {
            op.node
                .variable_definitions
                .iter()
                .find_map(|v| {
                    let default = v.node.default_value.as_ref()?;
                    let at = nul_in(&default.node, format!("${}", v.node.name.node))?;
                    Some((at, Some(default.pos)))
                })
                .or_else(|| nul_in_directives(&op.node.directives))
                .or_else(|| nul_in_selection(&op.node.selection_set.node))
        })
        .or_else(|| {
            doc.fragments.values().find_map(|f| {
                nul_in_directives(&f.node.directives)
                    .or_else(|| nul_in_selection(&f.node.selection_set.node))
            })
        })
}

fn nul_in_selection(set: &SelectionSet) -> Option<(String, Option<Pos>)> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let f = &field.node;
            f.arguments
                .iter()
                .find_map(|(name, value)| {
                    let at = nul_in(
                        &literal!(value.node),
                        format!("{}.{}", f.name.node, name.node),
                    )?;
                    Some((at, Some(value.pos)))
                })
                .or_else(|| nul_in_directives(&f.directives))
                .or_else(|| nul_in_selection(&f.selection_set.node))
        }
        Selection::InlineFragment(fragment) => nul_in_directives(&fragment.node.directives)
            .or_else(|| nul_in_selection(&fragment.node.selection_set.node)),
        Selection::FragmentSpread(spread) => nul_in_directives(&spread.node.directives),
    })
}

fn nul_in_directives(
    directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
) -> Option<(String, Option<Pos>)> {
    directives.iter().find_map(|d| {
        d.node.arguments.iter().find_map(|(name, value)| {
            let at = nul_in(
                &literal!(value.node),
                format!("@{}.{}", d.node.name.node, name.node),
            )?;
            Some((at, Some(value.pos)))
        })
    })
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn document(query: &str) -> ExecutableDocument {
        parse_query(query).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_nul_is_found_at_its_path_in_a_variable() {
        let value = Value::from_json(json!({ "leads": [{ "email": "a" }, { "email": "b\u{0}" }] }))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(nul_in(&value, "$i".into()), Some("$i.leads.1.email".into()));
        let clean = Value::from_json(json!({ "name": "Ada \u{1F600} \u{202E}" }))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(nul_in(&clean, "$i".into()), None);
    }

    #[test]
    fn a_nul_is_found_in_literals_fragments_directives_and_defaults() {
        let cases = [
            (
                r#"{ leads(filter: {search: "a\u0000"}) { totalCount } }"#,
                "leads.filter.search",
            ),
            (
                r#"query { ... on QueryRoot { node(id: "\u0000") { id } } }"#,
                "node.id",
            ),
            (
                r#"{ ...F } fragment F on QueryRoot { nodes(ids: ["x", "\u0000"]) { id } }"#,
                "nodes.ids.1",
            ),
            (
                r#"{ viewer @skip(if: false) { name @include(if: true) } } "#,
                "",
            ),
            (r#"query($s: String = "\u0000") { viewer { id } }"#, "$s"),
        ];
        for (query, at) in cases {
            let found = nul_in_document(&document(query)).map(|(at, _)| at);
            assert_eq!(found.as_deref(), (!at.is_empty()).then_some(at), "{query}");
        }
    }

    #[test]
    fn variables_in_a_literal_leave_its_other_parts_checked() {
        let query = r#"query($s: String) { leads(filter: {search: $s, accountId: "\u0000"}) { totalCount } }"#;
        assert_eq!(
            nul_in_document(&document(query)).map(|(at, _)| at),
            Some("leads.filter.accountId".into())
        );
        let clean = "query($s: String) { leads(filter: {search: $s}) { totalCount } }";
        assert_eq!(nul_in_document(&document(clean)), None);
    }
}
