use super::testing::TestDatabase;
use super::*;
use postgres::fallible_iterator::FallibleIterator;

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

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn changes_are_told_to_listeners_when_their_transaction_commits_and_not_before() {
    use std::collections::BTreeSet;
    let db = database();
    let mut listener = Client::connect(db.url(), NoTls).expect("listener");
    listener
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .expect("listen");
    let mut writer = Client::connect(db.url(), NoTls).expect("writer");
    let topics: BTreeSet<String> = ["tech".to_string(), "all".to_string()].into();

    let mut tx = writer.transaction().expect("tx");
    Prepared::new(&mut tx, &mut Statements::default())
        .notify("node-a", &topics, true)
        .expect("notify");
    tx.rollback().expect("rollback");
    let mut tx = writer.transaction().expect("tx");
    Prepared::new(&mut tx, &mut Statements::default())
        .notify("node-b", &BTreeSet::new(), false)
        .expect("notify");
    tx.commit().expect("commit");

    let got: Vec<String> = listener
        .notifications()
        .timeout_iter(Duration::from_secs(2))
        .iterator()
        .filter_map(Result::ok)
        .map(|n| n.payload().to_string())
        .take(1)
        .collect();
    assert_eq!(got, ["node-b\ns\n"], "the rolled-back change is never told");

    let many: BTreeSet<String> = (0..2000).map(|i| format!("topic-{i}")).collect();
    let mut tx = writer.transaction().expect("tx");
    Prepared::new(&mut tx, &mut Statements::default())
        .notify("node-c", &many, true)
        .expect("a long list still notifies");
    tx.commit().expect("commit");
    let got: Vec<String> = listener
        .notifications()
        .timeout_iter(Duration::from_secs(2))
        .iterator()
        .filter_map(Result::ok)
        .map(|n| n.payload().to_string())
        .take(1)
        .collect();
    assert_eq!(got, ["node-c\np\n*"]);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_database_error_says_what_the_server_said() {
    let db = database();
    let store = PostgresStore::open(db.url(), "a").expect("open");
    let error = store
        .with_client(|client| {
            client
                .execute("SELECT * FROM no_such_table", &[])
                .context("reading nothing")
        })
        .expect_err("no such table");
    let text = error.to_string();
    assert!(text.contains("reading nothing"), "{text}");
    assert!(text.contains("no_such_table"), "{text}");
    assert!(text.contains("42P01"), "{text}");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn the_database_size_is_what_the_server_says_it_is() {
    let db = database();
    let store = PostgresStore::open(db.url(), "a").expect("open");
    let reported = store.database_bytes().expect("size");
    let mut client = Client::connect(db.url(), NoTls).expect("client");
    let actual: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .expect("size")
        .get(0);
    assert!(reported > 1_000_000, "a migrated database: {reported}");
    assert_eq!(reported, u64::try_from(actual).expect("positive"));
}
