//! Both backends end with the same schema: the same tables, columns, nullability and indexes
//! after SQLite's migrations (`migrations/*.sql`) and PostgreSQL's (`migrations/postgres/`).
//! A migration added to one backend and not the other fails here.

use std::collections::BTreeSet;

use candor_log::Signer;
use candor_store::{sqlx, Store};

mod support;
use support::{Db, Kind};

async fn count(s: &Store, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(s.reader())
        .await
        .unwrap()
}

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

/// Neither backend has foreign keys on the tables an import fills row by row (migration 11 on
/// both: PostgreSQL checked them with per-row triggers that halved its insert rate, SQLite
/// journals every multi-row insert into a table that has one). The store inserts parents first
/// and deletes children itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_tables_have_no_foreign_keys() {
    let lite = Db::new(Kind::Sqlite).unwrap();
    let s = open(&lite).await;
    for table in ["bank_content", "content_signals"] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM pragma_foreign_key_list('{table}')"
        ))
        .fetch_one(s.reader())
        .await
        .unwrap();
        assert_eq!(n, 0, "SQLite {table}");
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

/// SQLite's migration 11 edits the two table definitions in place (writable_schema): a
/// database at version 10 with contents opens, migrates, keeps every row and index, passes
/// `integrity_check`, has no foreign key left on the two tables (the others keep theirs), and
/// takes new contents and a bank deletion as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_11_drops_the_foreign_keys_in_place() {
    let lite = Db::new(Kind::Sqlite).unwrap();
    let path = lite.dir.path().join("candor.db");
    let scripts = [
        include_str!("../migrations/0001_init.sql"),
        include_str!("../migrations/0002_person_steps.sql"),
        include_str!("../migrations/0003_dsa_submissions.sql"),
        include_str!("../migrations/0004_hma.sql"),
        include_str!("../migrations/0005_exchanges.sql"),
        include_str!("../migrations/0006_negative_banks.sql"),
        include_str!("../migrations/0007_decisions_by_content.sql"),
        include_str!("../migrations/0008_review_priority.sql"),
        include_str!("../migrations/0009_exchange_configs.sql"),
        include_str!("../migrations/0010_list_scale.sql"),
    ];
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            .execute(&mut c)
            .await
            .unwrap();
        for (i, script) in scripts.iter().enumerate() {
            sqlx::raw_sql(script).execute(&mut c).await.unwrap();
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(i as i64 + 1)
                .execute(&mut c)
                .await
                .unwrap();
        }
        let fks: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_list('bank_content')")
                .fetch_one(&mut c)
                .await
                .unwrap();
        assert_eq!(fks, 1, "version 10 has the foreign key");
        sqlx::query(
            "INSERT INTO banks (id, name, description, category, provenance, enabled, pdq_threshold, created_at, updated_at) \
             VALUES (1, 'b', '', 'c', 'p', 1, 31, 't', 't')",
        )
        .execute(&mut c)
        .await
        .unwrap();
        for i in 1..=50i64 {
            sqlx::query(
                "INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, created_at, created_by) \
                 VALUES (?, ?, 1, 'p', '', 1, 't', 'me')",
            )
            .bind(i)
            .bind(format!("{i:032x}"))
            .execute(&mut c)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO content_signals (id, content_id, signal, value, salt) VALUES (?, ?, 'pdq', ?, ?)",
            )
            .bind(i)
            .bind(i)
            .bind(vec![i as u8; 32])
            .bind(vec![0u8; 16])
            .execute(&mut c)
            .await
            .unwrap();
        }
        c.close().await.unwrap();
    }
    let s = open(&lite).await;
    assert_eq!(
        count(&s, "SELECT MAX(version) FROM schema_version").await,
        11
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM pragma_foreign_key_list('bank_content')"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM pragma_foreign_key_list('content_signals')"
        )
        .await,
        0
    );
    // Other tables keep theirs.
    assert!(
        count(
            &s,
            "SELECT COUNT(*) FROM pragma_foreign_key_list('notices')"
        )
        .await
            > 0
    );
    assert_eq!(count(&s, "SELECT COUNT(*) FROM bank_content").await, 50);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM content_signals WHERE content_id <= 50"
        )
        .await,
        50
    );
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(s.reader())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let (_, indexes) = sqlite_schema(&s).await;
    for i in [
        "bank_content_bank",
        "content_signals_content",
        "content_signals_value_prefix",
    ] {
        assert!(indexes.contains(i), "{i}");
    }
    // Writes go on: a content for the bank, then the bank deleted with its contents.
    s.write(|ctx| {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, created_at, created_by) \
                 VALUES (51, 'x51', 1, 'p', '', 1, 't', 'me')",
            )
            .execute(&mut ctx.conn)
            .await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    assert_eq!(count(&s, "SELECT COUNT(*) FROM bank_content").await, 51);
    s.close().await;
    // Reopened (the definitions re-read from the file): the same.
    let s = open(&lite).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_list('bank_content')")
        .fetch_one(s.reader())
        .await
        .unwrap();
    assert_eq!(n, 0);
}
