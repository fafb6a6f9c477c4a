//! Storage tests every engine passes, from the same test code: each test is a function of a
//! `&dyn Store`, and [`both_engines!`] runs it on SQLite (an in-memory database) and on
//! PostgreSQL (a throwaway database, see [`super::postgres::testing`]; those runs are
//! `#[ignore]`d with the reason, and `.ci/run` runs them). What only one engine has (SQLite's
//! WAL and group commit, PostgreSQL's leases across nodes) is tested in that engine's module.

use std::sync::Arc;

use super::postgres::testing::TestDatabase;
use super::{PostgresStore, SqliteStore, Store};

pub(crate) mod fixtures;
mod ingest;
mod membership;
mod pages;
mod republications;
mod retention;
mod search;
mod sources;

/// An engine under test, with what must live as long as its store.
pub(crate) struct Engine {
    pub store: Arc<dyn Store>,
    /// The PostgreSQL database the store is in: dropped after the store (fields drop in order).
    _database: Option<TestDatabase>,
}

impl Engine {
    pub fn sqlite() -> Engine {
        let store = SqliteStore::open_in_memory().expect("in-memory SQLite store");
        Engine {
            store: Arc::new(store),
            _database: None,
        }
    }

    pub fn postgres() -> Engine {
        let database = TestDatabase::create().unwrap_or_else(|why| panic!("{why}"));
        let store = PostgresStore::open(database.url(), "test-node")
            .unwrap_or_else(|e| panic!("opening the test database: {e}"));
        Engine {
            store: Arc::new(store),
            _database: Some(database),
        }
    }
}

/// Runs each named test function (`fn name(store: &dyn Store)`, in scope) on both engines, as
/// `name::sqlite` and `name::postgres`.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    let engine = $crate::store::conformance::Engine::sqlite();
                    super::$name(&*engine.store);
                }

                #[test]
                #[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
                fn postgres() {
                    let engine = $crate::store::conformance::Engine::postgres();
                    super::$name(&*engine.store);
                }
            }
        )*
    };
}
pub(crate) use both_engines;
