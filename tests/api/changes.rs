//! The change feed sync jobs read: commit order, resumable cursors,
//! tombstones, filters, and no gap under concurrent writers on PostgreSQL.

use std::time::Duration;

use entity::enums::Role;
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{TestApp, eventually};

const CHANGES: &str = "query($after: String, $types: [ObjectType!], $first: Int) {
  changes(after: $after, objectTypes: $types, first: $first) {
    endCursor hasMore
    nodes { cursor objectType objectId operation changedAt changedFields version
            node { id ... on Account { name version } ... on Lead { email } } } } }";

/// One page as INTEGRATION.
async fn page(app: &TestApp, after: Option<&str>, types: Value, first: i64) -> Value {
    app.gql(
        Role::Integration,
        CHANGES,
        json!({ "after": after, "types": types, "first": first }),
    )
    .await["changes"]
        .clone()
}

/// Reads the whole feed from `after` in pages of `first`, following
/// `endCursor` until `hasMore` is false; returns the entries and the last
/// cursor.
async fn read_all(
    app: &TestApp,
    after: Option<&str>,
    types: Value,
    first: i64,
) -> (Vec<Value>, String) {
    let mut cursor = after.map(str::to_owned);
    let mut entries = Vec::new();
    loop {
        let p = page(app, cursor.as_deref(), types.clone(), first).await;
        entries.extend(p["nodes"].as_array().cloned().unwrap_or_default());
        cursor = p["endCursor"].as_str().map(str::to_owned);
        if !p["hasMore"].as_bool().unwrap() {
            return (entries, cursor.unwrap());
        }
    }
}

/// Writes a small history: three accounts (one renamed twice, one
/// deleted) and two leads.
async fn history(app: &TestApp) -> (String, String) {
    let renamed = app.create_account("Acme", Some("acme.example")).await;
    let deleted = app.create_account("Globex", Some("globex.example")).await;
    app.create_account("Initech", None).await;
    app.create_lead("ada@acme.example", json!({})).await;
    for (name, version) in [("Acme Corp", 1), ("Acme Inc", 2)] {
        app.gql(
            Role::Admin,
            "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { userErrors { message } } }",
            json!({ "i": { "id": renamed, "name": name, "expectedVersion": version } }),
        )
        .await;
    }
    app.gql(
        Role::Admin,
        "mutation($id: ID!) { deleteAccount(input: {id: $id}) { deletedAccountId } }",
        json!({ "id": deleted }),
    )
    .await;
    app.create_lead("bob@globex.example", json!({})).await;
    settle(app).await;
    (renamed, deleted)
}

/// Waits until every committed entry can be read. On PostgreSQL other
/// tests' transactions in the same database hold the feed back for a
/// moment; on SQLite nothing is held back.
async fn settle(app: &TestApp) {
    use entity::change_log;
    use sea_orm::{EntityTrait, PaginatorTrait};

    eventually("every committed entry to be readable", async || {
        let committed = change_log::Entity::find().count(&app.db).await.unwrap();
        let (readable, _) = read_all(app, None, Value::Null, 1000).await;
        (readable.len() as u64 == committed).then_some(())
    })
    .await;
}

fn cursors(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_owned())
        .collect()
}

#[db_test]
async fn paging_and_resuming_at_every_page_boundary_give_the_same_sequence_as_one_read(
    app: TestApp,
) {
    history(&app).await;
    let (all, end) = read_all(&app, None, Value::Null, 1000).await;
    // 3 accounts created, 2 renames, 1 delete, 2 leads.
    assert_eq!(all.len(), 8, "{all:?}");
    for size in [1, 2, 3, 4] {
        let (paged, paged_end) = read_all(&app, None, Value::Null, size).await;
        assert_eq!(cursors(&paged), cursors(&all), "pages of {size}");
        assert_eq!(paged_end, end);
    }
    // A reader that crashes after any page resumes from that page's
    // cursor and reads exactly the rest.
    for (i, cursor) in cursors(&all).iter().enumerate() {
        let (rest, _) = read_all(&app, Some(cursor), Value::Null, 3).await;
        assert_eq!(
            cursors(&rest),
            cursors(&all)[i + 1..].to_vec(),
            "after entry {i}"
        );
    }
}

#[db_test]
async fn a_poll_with_nothing_new_returns_the_same_cursor(app: TestApp) {
    history(&app).await;
    let (_, end) = read_all(&app, None, Value::Null, 100).await;
    let p = page(&app, Some(&end), Value::Null, 100).await;
    assert_eq!(p["nodes"], json!([]));
    assert_eq!(p["endCursor"], json!(end));
    assert_eq!(p["hasMore"], json!(false));

    // And what is written next follows that cursor.
    let id = app.create_account("Umbrella", None).await;
    settle(&app).await;
    let p = page(&app, Some(&end), Value::Null, 100).await;
    assert_eq!(p["nodes"][0]["objectId"], json!(id));
    assert_eq!(p["nodes"][0]["operation"], "UPSERT");
    assert_eq!(p["nodes"].as_array().unwrap().len(), 1);
}

#[db_test]
async fn an_empty_feed_still_returns_a_cursor_to_store(app: TestApp) {
    let p = page(&app, None, json!(["COMPETITOR"]), 10).await;
    assert_eq!(p["nodes"], json!([]));
    let start = p["endCursor"].as_str().unwrap().to_owned();
    app.gql(
        Role::Admin,
        "mutation { createCompetitor(input: {name: \"Rival\"}) { competitor { id } } }",
        json!({}),
    )
    .await;
    settle(&app).await;
    let p = page(&app, Some(&start), json!(["COMPETITOR"]), 10).await;
    assert_eq!(p["nodes"][0]["objectType"], "COMPETITOR");
}

#[db_test]
async fn a_record_written_twice_shows_its_latest_state_and_a_deleted_one_a_tombstone(app: TestApp) {
    let (renamed, deleted) = history(&app).await;
    let (all, _) = read_all(&app, None, json!(["ACCOUNT"]), 100).await;
    let of = |id: &str| -> Vec<Value> {
        all.iter()
            .filter(|e| e["objectId"] == json!(id))
            .cloned()
            .collect()
    };

    let writes = of(&renamed);
    assert_eq!(writes.len(), 3, "created and renamed twice: {writes:?}");
    for w in &writes {
        assert_eq!(w["operation"], "UPSERT");
        assert_eq!(w["node"]["name"], "Acme Inc");
        assert_eq!(w["version"], 3);
    }
    assert!(
        writes[1]["changedFields"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );

    let gone = of(&deleted);
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert_eq!(gone[0]["operation"], "UPSERT");
    assert_eq!(gone[1]["operation"], "DELETE");
    for g in &gone {
        assert_eq!(g["node"], Value::Null);
        assert_eq!(g["version"], Value::Null);
    }
    assert!(all.iter().all(|e| e["objectType"] == "ACCOUNT"));
}

#[db_test]
async fn object_types_filter_the_feed_and_keep_its_order(app: TestApp) {
    history(&app).await;
    let (all, _) = read_all(&app, None, Value::Null, 1000).await;
    let (leads, _) = read_all(&app, None, json!(["LEAD"]), 1).await;
    let expected: Vec<_> = all
        .iter()
        .filter(|e| e["objectType"] == "LEAD")
        .cloned()
        .collect();
    assert_eq!(cursors(&leads), cursors(&expected));
    assert_eq!(leads.len(), 2);
    assert_eq!(leads[1]["node"]["email"], "bob@globex.example");

    let (both, _) = read_all(&app, None, json!(["LEAD", "ACCOUNT"]), 2).await;
    assert_eq!(both.len(), 2 + 3 + 2 + 1);
}

#[db_test]
async fn bad_cursors_page_sizes_and_filters_are_bad_user_input(app: TestApp) {
    for (after, first, types, argument) in [
        (json!("not-a-cursor"), json!(10), Value::Null, "`after`"),
        // A lead's global id is not a feed cursor.
        (json!("TGVhZDox"), json!(10), Value::Null, "`after`"),
        (Value::Null, json!(0), Value::Null, "`first`"),
        (Value::Null, json!(1001), Value::Null, "`first`"),
        (Value::Null, json!(10), json!([]), "`objectTypes`"),
    ] {
        let (_, body) = app
            .post(
                Role::Integration,
                CHANGES,
                json!({ "after": after, "first": first, "types": types }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(argument), "{message}");
    }
}

#[db_test]
async fn a_page_loads_its_records_in_a_constant_number_of_queries(app: TestApp) {
    for i in 0..30 {
        app.create_account(&format!("Account {i}"), None).await;
        app.create_lead(&format!("lead{i}@example.com"), json!({}))
            .await;
    }
    settle(&app).await;
    let mut counts = Vec::new();
    for first in [4, 60] {
        app.reset_queries();
        page(&app, None, json!(["ACCOUNT", "LEAD"]), first).await;
        counts.push(app.queries());
    }
    assert_eq!(counts[0], counts[1], "queries for 4 vs 60 changes");
}

/// On PostgreSQL, an entry whose transaction commits after a later one is
/// held back until it can be returned in order, not skipped.
#[db_test(postgres_only)]
async fn a_change_that_commits_late_is_held_back_not_skipped_on_postgres(app: TestApp) {
    use entity::enums::{ChangeOperation, ObjectType};
    use handoff::services::records::log;
    use sea_orm::TransactionTrait;

    let (_, start) = read_all(&app, None, Value::Null, 1000).await;
    let write = |txn| async move {
        log(
            txn,
            None,
            ObjectType::Activity,
            uuid::Uuid::now_v7(),
            ChangeOperation::Upsert,
            vec![],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    };

    let early = app.db.begin().await.unwrap();
    write(&early).await;
    let late = app.db.begin().await.unwrap();
    write(&late).await;
    late.commit().await.unwrap();

    let p = page(&app, Some(&start), Value::Null, 100).await;
    assert_eq!(p["nodes"], json!([]), "released past an open transaction");
    assert_eq!(p["endCursor"], json!(start));

    early.commit().await.unwrap();
    let entries = eventually("both entries to be released", async || {
        let (entries, _) = read_all(&app, Some(&start), Value::Null, 100).await;
        // Other tests' transactions in the same database may hold it back
        // a little longer.
        (entries.len() == 2).then_some(entries)
    })
    .await;
    assert_eq!(entries.len(), 2, "{entries:?}");
}

/// Many writers (HTTP mutations, and transactions held open for a random
/// while so that commits land out of `seq` order) while a reader pages the
/// feed; at the end the reader has seen every committed entry exactly
/// once, in feed order. Repeated, each round on top of the last.
#[db_test(postgres_only)]
async fn a_reader_paging_during_concurrent_writes_sees_every_change_once_in_order_on_postgres(
    app: TestApp,
) {
    use entity::{
        change_log,
        enums::{ChangeOperation, ObjectType},
    };
    use handoff::services::records::log;
    use sea_orm::{EntityTrait, QueryOrder, TransactionTrait};

    let app = std::sync::Arc::new(app);
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut held_back = 0;

    for round in 0..5 {
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..3 {
            let app = app.clone();
            writers.spawn(async move {
                for i in 0..8 {
                    app.create_account(&format!("R{round} W{w} #{i}"), None)
                        .await;
                }
            });
        }
        for w in 0..3u64 {
            let app = app.clone();
            writers.spawn(async move {
                for i in 0..6u64 {
                    let txn = app.db.begin().await.unwrap();
                    log(
                        &txn,
                        None,
                        ObjectType::Activity,
                        uuid::Uuid::now_v7(),
                        ChangeOperation::Upsert,
                        vec![],
                        chrono::Utc::now(),
                    )
                    .await
                    .unwrap();
                    // Hold the transaction open while others commit.
                    tokio::time::sleep(Duration::from_millis(5 + (w * 7 + i * 13) % 40)).await;
                    txn.commit().await.unwrap();
                }
            });
        }

        // Page while they write, then until everything committed is read.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let writing = !writers.is_empty();
            let p = page(&app, cursor.as_deref(), Value::Null, 7).await;
            let nodes = p["nodes"].as_array().cloned().unwrap_or_default();
            seen.extend(cursors(&nodes));
            cursor = p["endCursor"].as_str().map(str::to_owned);
            while let Some(done) = writers.try_join_next() {
                done.unwrap();
            }
            if !writing && nodes.is_empty() {
                let committed = change_log::Entity::find().all(&app.db).await.unwrap().len();
                if committed == seen.len() || tokio::time::Instant::now() > deadline {
                    break;
                }
                held_back += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        let committed: Vec<String> = change_log::Entity::find()
            .order_by_asc(change_log::Column::Txid)
            .order_by_asc(change_log::Column::Seq)
            .all(&app.db)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                handoff::services::changes::encode_cursor(handoff::services::changes::position_of(
                    e,
                ))
            })
            .collect();
        assert_eq!(
            seen.len(),
            committed.len(),
            "round {round}: missed or repeated entries"
        );
        assert_eq!(
            seen, committed,
            "round {round}: not every entry once, in order"
        );
    }
    eprintln!(
        "{} entries read; waited {held_back} times for held-back entries",
        seen.len()
    );
}
