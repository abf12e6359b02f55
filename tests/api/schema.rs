//! `schema.graphql` is the published SDL; it must match the code, and every
//! type, field, argument and enum value in it has a description.

#[test]
fn schema_graphql_matches_the_code() {
    let sdl = handoff::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(path, &sdl).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == sdl,
        "schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test --test api schema` and commit it"
    );
}

#[test]
fn every_type_field_argument_and_enum_value_is_documented() {
    let sdl = handoff::graphql::sdl();
    let mut undocumented = vec![];
    let mut documented = false;
    let mut in_description = false;
    let mut in_schema_block = false;
    for line in sdl.lines() {
        let t = line.trim();
        if in_description {
            if t.ends_with("\"\"\"") {
                in_description = false;
                documented = true;
            }
            continue;
        }
        if t.starts_with("\"\"\"") {
            if t.len() > 3 && t.ends_with("\"\"\"") {
                documented = true;
            } else {
                in_description = true;
            }
            continue;
        }
        if t.starts_with('"') && t.ends_with('"') && t.len() > 1 {
            documented = true;
            continue;
        }
        if t.starts_with("schema") {
            in_schema_block = true;
        }
        let skip = t.is_empty()
            || t == "}"
            || t == ")"
            // The end of a multi-line argument list: `): Type!`.
            || t.starts_with("):")
            || t.starts_with("directive @")
            || t.starts_with("extend ")
            || t.starts_with("scalar ")
            || in_schema_block
            || t.starts_with("type QueryRoot")
            || t.starts_with("type MutationRoot");
        if t == "}" {
            in_schema_block = false;
        }
        if !skip && !documented {
            undocumented.push(t.to_owned());
        }
        documented = false;
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}
