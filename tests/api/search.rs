//! `filter.search` is capped at 200 characters on every list, so an
//! oversized term is a named BAD_USER_INPUT instead of a database failure
//! (SQLite refuses LIKE patterns over 50,000 bytes).

use entity::enums::Role::*;
use serde_json::json;
use test_macros::db_test;

use crate::common::TestApp;

/// Every list with a `filter.search`.
const LISTS: [&str; 6] = [
    "leads",
    "accounts",
    "campaigns",
    "opportunities",
    "competitors",
    "users",
];

async fn search(app: &TestApp, list: &str, term: &str) -> serde_json::Value {
    let doc = format!("query($s: String) {{ {list}(filter: {{search: $s}}) {{ totalCount }} }}");
    let (status, body) = app.post(Admin, &doc, json!({ "s": term })).await;
    assert_eq!(status, 200, "{list}: {body}");
    body
}

#[db_test]
async fn a_search_term_over_200_characters_is_refused_by_name_on_every_list(app: TestApp) {
    app.create_lead(&format!("{}@example.com", "a".repeat(60)), json!({}))
        .await;
    let huge = "x".repeat(100 * 1024);
    let at_limit = "a".repeat(200);
    let over = "a".repeat(201);
    for list in LISTS {
        for term in [&huge, &over] {
            let body = search(&app, list, term).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{list}: {body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.contains("`filter.search`") && message.contains("200"),
                "{list}: {message}"
            );
        }
        let body = search(&app, list, &at_limit).await;
        assert!(body.get("errors").is_none(), "{list}: {body}");
        assert_eq!(body["data"][list]["totalCount"], 0, "{list}: {body}");
    }
    // Surrounding blanks do not count; the term still matches.
    let padded = format!("  {}  ", "a".repeat(60));
    let body = search(&app, "leads", &padded).await;
    assert_eq!(body["data"]["leads"]["totalCount"], 1, "{body}");
}
