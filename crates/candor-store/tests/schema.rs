//! Both backends end with the same schema: the same tables, columns, nullability and indexes
//! after SQLite's migrations (`migrations/*.sql`) and PostgreSQL's (`migrations/postgres/`).
//! A migration added to one backend and not the other fails here.

use std::collections::BTreeSet;

use candor_log::Signer;
use candor_store::{sqlx, Store};

mod support;
use support::{Db, Kind};

async fn open(db: &Db) -> Store {
    let signer = Signer::from_seed("candor.test/schema", &[4; 32]).unwrap();
    Store::open(db.dir.path(), signer, db.options())
        .await
        .unwrap()
}

type Columns = BTreeSet<(String, String, bool)>;

async fn sqlite_schema(s: &Store) -> (Columns, BTreeSet<String>) {
    let cols: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, p.\"notnull\" + p.pk FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(s.reader())
    .await
    .unwrap();
    let idx: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            .fetch_all(s.reader())
            .await
            .unwrap();
    (
        cols.into_iter().map(|(t, c, nn)| (t, c, nn > 0)).collect(),
        idx.into_iter().map(|(n,)| n).collect(),
    )
}

async fn postgres_schema(s: &Store) -> (Columns, BTreeSet<String>) {
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(s.reader())
    .await
    .unwrap();
    // Explicit indexes only (SQLite's automatic ones for keys have no SQL).
    let idx: Vec<(String,)> = sqlx::query_as(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'",
    )
    .fetch_all(s.reader())
    .await
    .unwrap();
    (
        cols.into_iter()
            .map(|(t, c, n)| (t, c, n == "NO"))
            .collect(),
        idx.into_iter().map(|(n,)| n).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_schema() {
    let Some(pg) = Db::new(Kind::Postgres) else {
        return;
    };
    let lite = Db::new(Kind::Sqlite).unwrap();
    let (s1, s2) = (open(&lite).await, open(&pg).await);
    let (c1, i1) = sqlite_schema(&s1).await;
    let (c2, i2) = postgres_schema(&s2).await;
    assert!(c1.len() > 80, "{} columns", c1.len());
    let only_sqlite: Vec<_> = c1.difference(&c2).collect();
    let only_pg: Vec<_> = c2.difference(&c1).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "columns (table, column, not null) only on SQLite: {only_sqlite:?}; only on PostgreSQL: {only_pg:?}"
    );
    assert_eq!(i1, i2, "indexes");
}

/// A signal looked up by its value (deletions and duplicates of an exchange, at list scale)
/// uses the value-prefix index on both backends, never a scan of every signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_by_value_use_the_prefix_index() {
    let sql = "SELECT c.public_id FROM content_signals s JOIN bank_content c ON c.id = s.content_id \
               WHERE substr(s.value, 1, 8) = substr($1, 1, 8) AND s.value = $1 AND s.signal = 'pdq' \
               AND c.bank_id = 1 AND c.retracted_at IS NULL ORDER BY c.id";
    let value = vec![7u8; 32];
    let lite = Db::new(Kind::Sqlite).unwrap();
    let s = open(&lite).await;
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", sql.replace("$1", "?1")))
            .bind(value.clone())
            .fetch_all(s.reader())
            .await
            .unwrap();
    let text: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("USING INDEX content_signals_value_prefix")),
        "SQLite plan: {text:?}"
    );
    let Some(pg) = Db::new(Kind::Postgres) else {
        return;
    };
    let s = open(&pg).await;
    // Without statistics PostgreSQL may prefer a scan of an empty table: plan as it would
    // over a large one.
    let mut conn = s.reader().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {sql}"))
        .bind(value.clone())
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let text: Vec<&str> = plan.iter().map(|p| p.0.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("content_signals_value_prefix")),
        "PostgreSQL plan: {text:?}"
    );
    sqlx::query("RESET enable_seqscan")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Where the backends differ on purpose: PostgreSQL has no foreign keys on the tables an
/// import fills row by row (migration 11: per-row trigger checks halved its insert rate);
/// SQLite keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_tables_have_foreign_keys_on_sqlite_only() {
    let lite = Db::new(Kind::Sqlite).unwrap();
    let s = open(&lite).await;
    for table in ["bank_content", "content_signals"] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM pragma_foreign_key_list('{table}')"
        ))
        .fetch_one(s.reader())
        .await
        .unwrap();
        assert_eq!(n, 1, "SQLite {table}");
    }
    let Some(pg) = Db::new(Kind::Postgres) else {
        return;
    };
    let s = open(&pg).await;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.table_constraints \
         WHERE constraint_type = 'FOREIGN KEY' AND table_name IN ('bank_content', 'content_signals')",
    )
    .fetch_one(s.reader())
    .await
    .unwrap();
    assert_eq!(n, 0, "PostgreSQL");
}
