//! Query cost, counted the way Shopify's and GitHub's public APIs count it,
//! before anything runs.
//!
//! async-graphql's own complexity charges every field 1, scalars included,
//! so a 100-row page with ten columns would already exceed 1,000. Here:
//!
//! - a scalar or enum field costs 0;
//! - an object field costs 1 plus its selection;
//! - a connection (a field with `first`/`last`, or whose selection has
//!   `edges`, `nodes` or `pageInfo`) costs 1 plus its page size (`first`,
//!   `last`, else 20, clamped to 1..=100) times its selection;
//! - `nodes(ids:)` and `recordsByExternalIds(externalIds:)` cost 1 plus
//!   the number of ids times their selection;
//! - introspection (`__schema`, `__type`) costs 0;
//! - an aggregate (see [`SURCHARGES`]) costs its surcharge on top, times
//!   the list it sits in, because it runs aggregate SQL rather than one
//!   batched read;
//! - fragments count where they are spread; inline fragments for different
//!   types all count (an upper bound).

use async_graphql::{
    Name, Positioned, Variables,
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
};
// The parser's values may hold variables; `async_graphql::Value` may not.
use async_graphql_value::{ConstValue, Value};

use crate::services::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Highest cost a single request may have.
pub const MAX_COST: usize = 1000;

/// Extra points for fields that run aggregates, roughly in proportion to
/// their time: `Campaign.performance` runs five aggregate statements plus
/// attribution (about 0.25 s per campaign for a quarter at 200,000 leads on
/// PostgreSQL), so about nine fit in one request; the root
/// `winLossAnalysis` and `leadRejectionAnalysis` run one statement each
/// over the whole period; `Opportunity.attribution` is batched but shares
/// out every opportunity's amount; the root `kpis` runs up to a dozen
/// aggregate statements over the period (its time grows with the data, not
/// with the selection) and `funnel` one cohort pass. Matched by field name.
pub const SURCHARGES: &[(&str, usize)] = &[
    ("performance", 100),
    ("kpis", 100),
    ("funnel", 50),
    ("winLossAnalysis", 50),
    ("leadRejectionAnalysis", 50),
    ("attribution", 2),
];

/// Fields that load one record per id of a list argument: they cost 1 plus
/// the number of ids times their selection.
const LOOKUPS: &[(&str, &str)] = &[("nodes", "ids"), ("recordsByExternalIds", "externalIds")];

/// Fragment spreads nested deeper than this stop counting (cycles are
/// refused by validation anyway).
const MAX_FRAGMENT_NESTING: usize = 32;

/// The cost of one selection set of an operation.
pub fn cost(doc: &ExecutableDocument, selection: &SelectionSet, variables: &Variables) -> usize {
    selection_cost(doc, selection, variables, 0)
}

fn selection_cost(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    variables: &Variables,
    nesting: usize,
) -> usize {
    if nesting > MAX_FRAGMENT_NESTING {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => field_cost(doc, &field.node, variables, nesting),
            Selection::FragmentSpread(spread) => doc
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    selection_cost(doc, &f.node.selection_set.node, variables, nesting + 1)
                }),
            Selection::InlineFragment(inline) => {
                selection_cost(doc, &inline.node.selection_set.node, variables, nesting + 1)
            }
        })
        .fold(0usize, usize::saturating_add)
}

fn field_cost(
    doc: &ExecutableDocument,
    field: &Field,
    variables: &Variables,
    nesting: usize,
) -> usize {
    let name = field.name.node.as_str();
    if field.selection_set.node.items.is_empty() || name.starts_with("__") {
        return 0;
    }
    let children = selection_cost(doc, &field.selection_set.node, variables, nesting);
    let multiplier = if let Some(ids) = LOOKUPS
        .iter()
        .find(|(field_name, _)| *field_name == name)
        .and_then(|(_, ids)| argument(field, ids))
    {
        list_len(resolve(ids, variables))
    } else if let Some(n) = ["first", "last"]
        .iter()
        .find_map(|a| argument(field, a).and_then(|v| int(resolve(v, variables))))
    {
        n.clamp(1, i64::from(MAX_PAGE_SIZE)) as usize
    } else if is_connection(&field.selection_set.node) {
        DEFAULT_PAGE_SIZE as usize
    } else {
        1
    };
    let surcharge = SURCHARGES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, s)| *s);
    multiplier
        .saturating_mul(children.saturating_add(surcharge))
        .saturating_add(1)
}

fn argument<'a>(field: &'a Field, name: &str) -> Option<&'a Value> {
    field
        .arguments
        .iter()
        .find(|(n, _): &&(Positioned<Name>, Positioned<Value>)| n.node.as_str() == name)
        .map(|(_, v)| &v.node)
}

/// An argument's value with variables substituted.
fn resolve(value: &Value, variables: &Variables) -> Option<ConstValue> {
    value
        .clone()
        .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
        .ok()
}

fn int(value: Option<ConstValue>) -> Option<i64> {
    match value {
        Some(ConstValue::Number(n)) => n.as_i64(),
        _ => None,
    }
}

fn list_len(value: Option<ConstValue>) -> usize {
    match value {
        Some(ConstValue::List(items)) => items.len(),
        _ => 1,
    }
}

fn is_connection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| {
        matches!(&item.node, Selection::Field(f)
            if matches!(f.node.name.node.as_str(), "edges" | "nodes" | "pageInfo"))
    })
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{parse_query, types::DocumentOperations};

    use super::*;

    fn cost_of(query: &str, variables: serde_json::Value) -> usize {
        let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        let variables = Variables::from_json(variables);
        let op = match &doc.operations {
            DocumentOperations::Single(op) => op,
            DocumentOperations::Multiple(ops) => {
                ops.values().next().unwrap_or_else(|| panic!("no op"))
            }
        };
        cost(&doc, &op.node.selection_set.node, &variables)
    }

    #[test]
    fn scalars_are_free_and_objects_cost_one() {
        assert_eq!(
            cost_of("{ viewer { id name role } }", serde_json::json!({})),
            1
        );
        assert_eq!(
            cost_of(
                "{ viewer { id } __schema { types { name } } }",
                serde_json::json!({})
            ),
            1
        );
    }

    #[test]
    fn a_connection_costs_its_page_size_times_its_nodes() {
        // leads: 1 + 100 x (nodes: 1 + account 1 + owner 1) = 301
        assert_eq!(
            cost_of(
                "{ leads(first: 100) { totalCount nodes { id email account { name } owner { name } } } }",
                serde_json::json!({})
            ),
            301
        );
        // The same with the page size in a variable.
        assert_eq!(
            cost_of(
                "query($n: Int) { leads(first: $n) { nodes { id account { name } } } }",
                serde_json::json!({ "n": 10 })
            ),
            1 + 10 * 2
        );
        // No first or last: the default page of 20. pageInfo counts per item.
        assert_eq!(
            cost_of(
                "{ leads { nodes { id } pageInfo { hasNextPage } } }",
                serde_json::json!({})
            ),
            1 + 20 * 2
        );
        // Out-of-range sizes are clamped (and refused later as BAD_USER_INPUT).
        assert_eq!(
            cost_of(
                "{ leads(first: -5) { nodes { id } } }",
                serde_json::json!({})
            ),
            2
        );
        assert_eq!(
            cost_of(
                "{ leads(first: 100000) { nodes { id } } }",
                serde_json::json!({})
            ),
            101
        );
    }

    #[test]
    fn nested_connections_multiply() {
        // 1 + 100 x (nodes 1 + account (1 + leads (1 + 100 x nodes 1))) = 1 + 100 x 103
        assert_eq!(
            cost_of(
                "{ leads(first: 100) { nodes { account { leads(first: 100) { nodes { id } } } } } }",
                serde_json::json!({})
            ),
            10_301
        );
    }

    #[test]
    fn aggregates_cost_their_surcharge_times_the_list_they_are_in() {
        // node 1 + performance (1 + 100 + topCompetitors (1 + competitor 1))
        assert_eq!(
            cost_of(
                "{ node(id: \"x\") { ... on Campaign { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches topCompetitors { competitor { name } } } } } }",
                serde_json::json!({})
            ),
            1 + (1 + 100 + 2)
        );
        // campaigns(first: 10): 1 + 10 x (nodes 1 + performance (1 + 100 + spend 1)) = 1031: refused.
        assert_eq!(
            cost_of(
                "{ campaigns(first: 10) { nodes { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches spend { amount } } } } }",
                serde_json::json!({})
            ),
            1 + 10 * (1 + (1 + 100 + 1))
        );
        assert_eq!(
            cost_of(
                "{ winLossAnalysis(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { won } }",
                serde_json::json!({})
            ),
            51
        );
    }

    #[test]
    fn fragments_count_where_spread_and_nodes_by_ids() {
        let q = "query($ids: [ID!]!) { nodes(ids: $ids) { ...F } } fragment F on Lead { account { name } }";
        assert_eq!(
            cost_of(q, serde_json::json!({ "ids": ["a", "b", "c"] })),
            1 + 3
        );
        let q = "query($x: [String!]!) { recordsByExternalIds(system: HUBSPOT, objectType: LEAD, externalIds: $x) { ... on Lead { account { name } } } }";
        assert_eq!(
            cost_of(q, serde_json::json!({ "x": ["1", "2", "3", "4"] })),
            1 + 4
        );
        assert_eq!(
            cost_of(
                "{ leads(first: 2) { nodes { ... on Lead { owner { id } } } } }",
                serde_json::json!({})
            ),
            1 + 2 * 2
        );
    }
}
