use super::testing::TestDatabase;
use super::*;

fn database() -> TestDatabase {
    match TestDatabase::create() {
        Ok(db) => db,
        Err(why) => panic!("{why}"),
    }
}

#[test]
fn migration_list_matches_the_postgres_migrations_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("migrations/postgres is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<&str> = migrations::MIGRATIONS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(files, listed);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn nodes_starting_together_apply_each_migration_once() {
    let db = database();
    let url = db.url().to_string();
    let opened: Vec<Result<PostgresStore, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let url = url.clone();
                scope.spawn(move || PostgresStore::open(&url, &format!("node-{n}")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("opening thread"))
            .collect()
    });
    for store in &opened {
        assert!(
            store.is_ok(),
            "a node failed to open: {:?}",
            store.as_ref().err()
        );
    }
    let mut client = Client::connect(&url, NoTls).expect("test database");
    let rows = client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .expect("schema_migrations");
    let applied: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i64, String)> = migrations::MIGRATIONS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (i as i64 + 1, name.to_string()))
        .collect();
    assert_eq!(applied, expected);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_database_newer_than_the_build_is_refused() {
    let db = database();
    drop(PostgresStore::open(db.url(), "a").expect("first open migrates"));
    let mut client = Client::connect(db.url(), NoTls).expect("test database");
    client
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future.sql')",
            &[],
        )
        .expect("insert");
    match PostgresStore::open(db.url(), "a") {
        Err(StoreError::TooNew { found: 999, known }) => {
            assert_eq!(known, migrations::MIGRATIONS.len() as i64)
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[test]
fn an_unreachable_database_is_a_clear_error_without_the_password() {
    // Port 9 on loopback: nothing listens (discard is not run), so the connection is refused.
    let error = match PostgresStore::open("postgres://me:secret@127.0.0.1:9/news", "a") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("connected to nothing"),
    };
    assert!(error.contains("127.0.0.1:9/news"), "{error}");
    assert!(!error.contains("secret"), "{error}");
}
