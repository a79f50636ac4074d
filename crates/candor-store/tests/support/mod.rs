//! Both backends for the store test suite: every case runs on SQLite and on a real
//! PostgreSQL (see [`pg`]).
#![allow(dead_code)]

pub mod pg;

use candor_store::StoreOptions;

pub enum Kind {
    Sqlite,
    Postgres,
}

/// A store's place: a data directory and, on PostgreSQL, the server and a database.
pub struct Db {
    pub dir: tempfile::TempDir,
    pub url: Option<String>,
    pub pg: Option<pg::Postgres>,
}

impl Db {
    /// `None` when the backend is not available here (PostgreSQL not installed).
    pub fn new(kind: Kind) -> Option<Db> {
        let dir = tempfile::tempdir().unwrap();
        match kind {
            Kind::Sqlite => Some(Db {
                dir,
                url: None,
                pg: None,
            }),
            Kind::Postgres => {
                let pg = pg::Postgres::start()?;
                let url = pg.create_db("candor");
                Some(Db {
                    dir,
                    url: Some(url),
                    pg: Some(pg),
                })
            }
        }
    }

    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            database_url: self.url.clone(),
            ..StoreOptions::default()
        }
    }
}

/// `on_both!(name, body)`: tests `name::sqlite` and `name::postgres`, each calling
/// `body(db).await` with a fresh [`Db`].
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::support::Db::new($crate::support::Kind::Sqlite).unwrap();
                super::$body(db).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::support::Db::new($crate::support::Kind::Postgres) {
                    super::$body(db).await
                }
            }
        }
    };
}
