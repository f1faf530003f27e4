//! Precise mode against a real PostgreSQL: a revision's queries prepared against today's schema.

use backstop_appdb::{check_queries, check_queries_after_contract, snapshot_postgres};

use crate::support::TestDb;

fn v1_queries() -> Vec<(String, String)> {
    [
        ("list", "SELECT id, full_name FROM users ORDER BY id"),
        ("by_id", "SELECT id FROM users WHERE id = $1"),
        ("create", "INSERT INTO users (full_name) VALUES ($1) RETURNING id"),
    ]
    .into_iter()
    .map(|(n, q)| (n.to_owned(), q.to_owned()))
    .collect()
}

#[tokio::test]
async fn a_query_on_a_dropped_column_is_flagged_and_the_others_pass() {
    let db = TestDb::new().await;
    db.exec("CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text, name text)").await;
    let before = check_queries(&db.url, &v1_queries()).await.unwrap();
    assert!(before.iter().all(|(_, r)| r.is_ok()), "{before:?}");

    let predicted =
        check_queries_after_contract(&db.url, "ALTER TABLE users DROP COLUMN full_name", &v1_queries()).await.unwrap();
    let schema = snapshot_postgres(&db.url).await.unwrap();
    assert!(schema.tables["public.users"].columns.contains_key("full_name"), "the check rolled the contract back");

    db.exec("ALTER TABLE users DROP COLUMN full_name").await;
    let after = check_queries(&db.url, &v1_queries()).await.unwrap();
    let expected = vec![
        ("list".to_owned(), Err("column \"full_name\" does not exist".to_owned())),
        ("by_id".to_owned(), Ok(())),
        ("create".to_owned(), Err("column \"full_name\" of relation \"users\" does not exist".to_owned())),
    ];
    assert_eq!(after, expected);
    assert_eq!(predicted, expected);
}
