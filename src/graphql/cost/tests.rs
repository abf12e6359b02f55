//! The cost rules with hand-counted expectations.

use async_graphql::parser::{parse_query, types::DocumentOperations};

use super::*;

/// GraphiQL's introspection query.
pub const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

fn model() -> &'static CostModel {
    static MODEL: std::sync::OnceLock<CostModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(CostModel::handoff)
}

fn requested(query: &str, variables: serde_json::Value) -> Result<usize, Refusal> {
    let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
    let variables = Variables::from_json(variables);
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) => ops.values().next().unwrap_or_else(|| panic!("no op")),
    };
    model().requested(&doc, &op.node, &variables)
}

fn cost_of(query: &str, variables: serde_json::Value) -> usize {
    requested(query, variables).unwrap_or_else(|e| panic!("{}", e.message()))
}

fn actual(query: &str, data: serde_json::Value) -> usize {
    let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
    let DocumentOperations::Single(op) = &doc.operations else {
        panic!("one operation")
    };
    let data = ConstValue::from_json(data).unwrap_or_else(|e| panic!("{e}"));
    model().actual(&doc, &op.node, &Variables::default(), &data)
}

#[test]
fn scalars_are_free_and_objects_cost_one() {
    assert_eq!(
        cost_of("{ viewer { id name role } }", serde_json::json!({})),
        1
    );
}

#[test]
fn a_connection_costs_its_page_size_times_its_nodes() {
    // leads 1 + 100 x (node 1 + account 1 + owner 1); totalCount 10
    assert_eq!(
        cost_of(
            "{ leads(first: 100) { totalCount nodes { id email account { name } owner { name } } } }",
            serde_json::json!({})
        ),
        1 + 10 + 300
    );
    // The same with the page size in a variable.
    assert_eq!(
        cost_of(
            "query($n: Int) { leads(first: $n) { nodes { id account { name } } } }",
            serde_json::json!({ "n": 10 })
        ),
        1 + 10 * 2
    );
    // No first or last: the default page of 20; pageInfo is free.
    assert_eq!(
        cost_of(
            "{ leads { nodes { id } pageInfo { hasNextPage } } }",
            serde_json::json!({})
        ),
        1 + 20
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
    // edges: an edge and its node per item.
    assert_eq!(
        cost_of(
            "{ leads(first: 10) { edges { cursor node { id } } } }",
            serde_json::json!({})
        ),
        1 + 10 * 2
    );
}

#[test]
fn a_variable_left_out_counts_with_its_default() {
    // 1 + 100 x (node 1 + account (1 + leads (1 + 100 x 1))) = 10,301
    let q = "query($n: Int = 100) { leads(first: $n) { nodes { account { leads(first: $n) { nodes { id } } } } } }";
    assert_eq!(
        requested(q, serde_json::json!({})),
        Err(Refusal::Cost(10_301))
    );
    assert_eq!(
        cost_of(q, serde_json::json!({ "n": 5 })),
        1 + 5 * (1 + 1 + 1 + 5)
    );
}

#[test]
fn the_change_feed_counts_its_page_up_to_a_thousand_at_one_point_per_ten_entries() {
    // Its default page is the schema's: 100 entries, 10 points.
    assert_eq!(
        cost_of("{ changes { nodes { cursor } } }", serde_json::json!({})),
        1 + 10
    );
    assert_eq!(
        cost_of(
            "{ changes(first: 1000) { endCursor nodes { cursor } } }",
            serde_json::json!({})
        ),
        1 + 100
    );
    // Each entry's node is read with the page's others by id: sync-sized
    // too; what the node loads besides counts as usual.
    assert_eq!(
        cost_of(
            "{ changes(first: 1000) { nodes { node { id } } } }",
            serde_json::json!({})
        ),
        1 + 100 + 100
    );
    assert_eq!(
        cost_of(
            "{ changes(first: 500) { nodes { node { ... on Lead { account { name } } } } } }",
            serde_json::json!({})
        ),
        1 + 50 + 50 + 500
    );
}

#[test]
fn total_count_runs_a_count_and_costs_ten() {
    assert_eq!(
        cost_of("{ leads { totalCount } }", serde_json::json!({})),
        11
    );
    // 90 aliased counts: 990 points; 91 go over.
    let many = |n: usize| {
        let fields: String = (0..n)
            .map(|i| format!("a{i}: leads {{ totalCount }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    assert_eq!(requested(&many(25), serde_json::json!({})), Ok(25 * 11));
    assert_eq!(
        requested(&many(31), serde_json::json!({})),
        Err(Refusal::RootFields(31))
    );
}

#[test]
fn nested_connections_multiply() {
    // 1 + 100 x (node 1 + account (1 + leads (1 + 100 x node 1))) = 1 + 100 x 103
    assert_eq!(
        requested(
            "{ leads(first: 100) { nodes { account { leads(first: 100) { nodes { id } } } } } }",
            serde_json::json!({})
        ),
        Err(Refusal::Cost(10_301))
    );
}

#[test]
fn aggregates_cost_their_surcharge_times_the_list_they_are_in() {
    // node 1 + performance (1 + 100 + topCompetitors 5 x (1 + competitor 1))
    assert_eq!(
        cost_of(
            "{ node(id: \"x\") { ... on Campaign { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches topCompetitors { competitor { name } } } } } }",
            serde_json::json!({})
        ),
        1 + (1 + 100 + 5 * 2)
    );
    // campaigns(first: 10): 1 + 10 x (node 1 + performance (1 + 100)) = 1021: refused.
    assert_eq!(
        requested(
            "{ campaigns(first: 10) { nodes { performance(from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\") { touches spend { amount } } } } }",
            serde_json::json!({})
        ),
        Err(Refusal::Cost(1 + 10 * (1 + (1 + 100))))
    );
    // 50 + 20 groups x 1
    assert_eq!(
        cost_of(
            "{ winLossAnalysis(from: \"2026-01-01\", to: \"2026-02-01\") { won } }",
            serde_json::json!({})
        ),
        50 + 20
    );
}

#[test]
fn fragments_count_where_spread_and_nodes_by_ids() {
    let q =
        "query($ids: [ID!]!) { nodes(ids: $ids) { ...F } } fragment F on Lead { account { name } }";
    assert_eq!(
        cost_of(q, serde_json::json!({ "ids": ["a", "b", "c"] })),
        3 * 2
    );
    let q = "query($x: [String!]!) { recordsByExternalIds(system: HUBSPOT, objectType: LEAD, externalIds: $x) { ... on Lead { account { name } } } }";
    assert_eq!(
        cost_of(q, serde_json::json!({ "x": ["1", "2", "3", "4"] })),
        4 * 2
    );
    assert_eq!(
        cost_of(
            "{ leads(first: 2) { nodes { ... on Lead { owner { id } } } } }",
            serde_json::json!({})
        ),
        1 + 2 * 2
    );
}

#[test]
fn bulk_mutations_cost_one_point_per_ten_records() {
    let leads: Vec<_> = (0..1000)
        .map(|i| serde_json::json!({ "externalId": i.to_string() }))
        .collect();
    assert_eq!(
        cost_of(
            "mutation($l: [LeadUpsertInput!]!) { upsertLeads(input: {system: HUBSPOT, leads: $l}) { created results { status error { code } } } }",
            serde_json::json!({ "l": leads })
        ),
        1 + 100
    );
}

#[test]
fn introspection_counts_the_objects_it_returns() {
    // The standard query fits, with room to spare.
    let cost = cost_of(STANDARD_INTROSPECTION, serde_json::json!({}));
    assert!(
        (150..=400).contains(&cost),
        "standard introspection costs {cost}"
    );
    // One type's fields: a few points.
    assert!(
        cost_of(
            "{ __type(name: \"Lead\") { fields { name } } }",
            serde_json::json!({})
        ) <= 3
    );
    // 300 aliased copies of a small one are refused (root fields), and
    // so are aliases nested inside one.
    let small = "__schema { types { name fields { name } } }";
    let many: String = (0..300).map(|i| format!("a{i}: {small} ")).collect();
    assert_eq!(
        requested(&format!("{{ {many} }}"), serde_json::json!({})),
        Err(Refusal::RootFields(300))
    );
    let nested: String = (0..90)
        .map(|i| format!("f{i}: fields {{ name }} "))
        .collect();
    assert!(matches!(
        requested(
            &format!("{{ __schema {{ types {{ {nested} }} }} }}"),
            serde_json::json!({})
        ),
        Err(Refusal::Cost(_))
    ));
}

#[test]
fn aliases_and_expanded_selections_are_limited() {
    let aliased: String = (0..101).map(|i| format!("a{i}: id ")).collect();
    assert_eq!(
        requested(
            &format!("{{ viewer {{ {aliased} }} }}"),
            serde_json::json!({})
        ),
        Err(Refusal::Aliases(101))
    );
    // Each fragment spreads the next one twice: 2^20 selections, at
    // the root or below it.
    let mut doc = String::from("{ ...F0 } ");
    for i in 0..20 {
        doc.push_str(&format!(
            "fragment F{i} on QueryRoot {{ ...F{} ...F{} }} ",
            i + 1,
            i + 1
        ));
    }
    doc.push_str("fragment F20 on QueryRoot { viewer { id } }");
    assert_eq!(
        requested(&doc, serde_json::json!({})),
        Err(Refusal::Selections)
    );
    let mut doc = String::from("{ viewer { ...F0 } } ");
    for i in 0..20 {
        doc.push_str(&format!(
            "fragment F{i} on User {{ ...F{} ...F{} }} ",
            i + 1,
            i + 1
        ));
    }
    doc.push_str("fragment F20 on User { id }");
    assert_eq!(
        requested(&doc, serde_json::json!({})),
        Err(Refusal::Selections)
    );
}

#[test]
fn the_actual_cost_counts_what_came_back() {
    let q = "{ leads(first: 100) { nodes { id account { name } } } }";
    let data = serde_json::json!({ "leads": { "nodes": [
        { "id": "1", "account": { "name": "a" } },
        { "id": "2", "account": null },
    ] } });
    // leads 1 + node 1 + account 1 + node 1 + (null account) 1
    assert_eq!(actual(q, data), 5);
    assert_eq!(
        actual(q, serde_json::json!({ "leads": { "nodes": [] } })),
        1
    );
}

#[test]
fn every_list_of_objects_declares_its_size() {
    let undeclared: Vec<_> = model()
        .object_lists()
        .into_iter()
        .filter(|(ty, field)| {
            let qualified = format!("{ty}.{field}");
            let in_connection =
                ty.ends_with("Connection") && matches!(field.as_str(), "nodes" | "edges");
            let value_list = field == "userErrors";
            !in_connection && !value_list && !LISTS.iter().any(|(n, _)| *n == qualified)
        })
        .collect();
    assert!(
        undeclared.is_empty(),
        "add these lists to cost::LISTS: {undeclared:?}"
    );
}
