//! The storage seam: an engine other than `SqliteStore` plugs into the pipeline, the scheduler's
//! cycle and the server with nothing else changed. The engine here wraps the SQLite one and
//! records which parts of the interface each stage used, so the test also shows that every stage
//! went through `Store` and nothing else.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::{FixtureServer, router_get};
use tributary::config::Config;
use tributary::model::{
    EntryKey, FeedMeta, NewEntry, PageCursor, RefreshStats, ScheduleRecord, SourceId, SourceLabel,
    SourceState, StoredEntry, StoryForTopics, Timestamp, TopicSlice, TopicSlug, TopicSummary,
};
use tributary::pipeline::Outcome;
use tributary::server::{AppState, router};
use tributary::store::{
    Fetched, NearDuplicates, PruneStats, Signals, SourceSpec, SqliteStore, Store, StoreError,
};

/// A second engine: answers from an inner SQLite store and notes each method called.
struct Recording {
    inner: SqliteStore,
    calls: Mutex<BTreeSet<&'static str>>,
    /// Times the database was asked whether it answers.
    pings: AtomicUsize,
    /// When set, a database server that `ping` connects to, as a PostgreSQL node's does, instead
    /// of asking the inner store.
    server: Mutex<Option<String>>,
}

impl Recording {
    fn new(inner: SqliteStore) -> Recording {
        Recording {
            inner,
            calls: Mutex::new(BTreeSet::new()),
            pings: AtomicUsize::new(0),
            server: Mutex::new(None),
        }
    }

    fn ping_server(&self, url: Option<&str>) {
        *self
            .server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = url.map(String::from);
    }

    fn note(&self, method: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(method);
    }

    fn called(&self) -> BTreeSet<&'static str> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Store for Recording {
    fn signals(&self) -> &Signals {
        self.inner.signals()
    }
    fn set_near_duplicates(&self, settings: NearDuplicates) {
        self.note("set_near_duplicates");
        self.inner.set_near_duplicates(settings)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.note("ping");
        self.pings.fetch_add(1, Ordering::SeqCst);
        let server = self
            .server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match server {
            Some(url) => {
                let config: postgres::Config =
                    url.parse().map_err(|source| StoreError::Connect {
                        target: url.clone(),
                        source,
                    })?;
                // As the PostgreSQL engine names its database: never with the password.
                let target = url
                    .rsplit_once('@')
                    .map_or(url.clone(), |(_, at)| at.to_string());
                config
                    .connect(postgres::NoTls)
                    .map(drop)
                    .map_err(|source| StoreError::Connect { target, source })
            }
            None => self.inner.ping(),
        }
    }
    fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        self.note("checkpoint");
        self.inner.checkpoint()
    }
    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        self.note("backup");
        self.inner.backup(dest)
    }
    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }
    fn condition(&self) -> Option<String> {
        self.inner.condition()
    }
    fn set_condition(&self, why: String) {
        self.inner.set_condition(why)
    }
    fn reopen_writable(&self) -> bool {
        self.inner.reopen_writable()
    }
    fn sync_sources(&self, specs: &[SourceSpec]) -> Result<Vec<SourceId>, StoreError> {
        self.note("sync_sources");
        self.inner.sync_sources(specs)
    }
    fn source_state(&self, id: SourceId) -> Result<SourceState, StoreError> {
        self.note("source_state");
        self.inner.source_state(id)
    }
    fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        self.note("source_states");
        self.inner.source_states()
    }
    fn adopted_fetch_urls(&self) -> Result<HashMap<SourceId, String>, StoreError> {
        self.note("adopted_fetch_urls");
        self.inner.adopted_fetch_urls()
    }
    fn source_labels(&self) -> Result<HashMap<String, SourceLabel>, StoreError> {
        self.note("source_labels");
        self.inner.source_labels()
    }
    fn daily_new_entries(
        &self,
        days: usize,
        now: Timestamp,
    ) -> Result<HashMap<SourceId, Vec<u64>>, StoreError> {
        self.note("daily_new_entries");
        self.inner.daily_new_entries(days, now)
    }
    fn record_document(
        &self,
        source: SourceId,
        meta: &FeedMeta,
        entries: &[NewEntry],
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<RefreshStats, StoreError> {
        self.note("record_document");
        self.inner
            .record_document(source, meta, entries, fetched, now)
    }
    fn record_not_modified(
        &self,
        source: SourceId,
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.note("record_not_modified");
        self.inner.record_not_modified(source, fetched, now)
    }
    fn record_failure(
        &self,
        source: SourceId,
        error: &str,
        class: &str,
        status: Option<u16>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.note("record_failure");
        self.inner.record_failure(source, error, class, status, now)
    }
    fn item_hashes(&self, source: SourceId) -> Result<HashMap<i64, EntryKey>, StoreError> {
        self.note("item_hashes");
        self.inner.item_hashes(source)
    }
    fn record_schedule(&self, source: SourceId, record: &ScheduleRecord) -> Result<(), StoreError> {
        self.note("record_schedule");
        self.inner.record_schedule(source, record)
    }
    fn topic_page(
        &self,
        topic: &TopicSlug,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<TopicSlice, StoreError> {
        self.note("topic_page");
        self.inner.topic_page(topic, before, limit)
    }
    fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        self.note("search");
        self.inner.search(query, limit)
    }
    fn topic_summaries(&self) -> Result<HashMap<String, TopicSummary>, StoreError> {
        self.note("topic_summaries");
        self.inner.topic_summaries()
    }
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.note("setting");
        self.inner.setting(key)
    }
    fn rebuild_membership(
        &self,
        fingerprint: &str,
        now: Timestamp,
        assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
    ) -> Result<usize, StoreError> {
        self.note("rebuild_membership");
        self.inner.rebuild_membership(fingerprint, now, assign)
    }
    fn visit_stories(
        &self,
        visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.note("visit_stories");
        self.inner.visit_stories(visit)
    }
    fn prune(
        &self,
        now: Timestamp,
        retention: i64,
        max_per_source: usize,
    ) -> Result<PruneStats, StoreError> {
        self.note("prune");
        self.inner.prune(now, retention, max_per_source)
    }
    fn sightings(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.note("sightings");
        self.inner.sightings()
    }
    fn republications(&self) -> Result<HashMap<SourceId, (u64, u64)>, StoreError> {
        self.note("republications");
        self.inner.republications()
    }

    fn database_bytes(&self) -> Result<u64, StoreError> {
        self.note("database_bytes");
        self.inner.database_bytes()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_plugs_in_with_nothing_outside_store_changed() {
    let fixtures = FixtureServer::start().await;
    fixtures.set("down.xml", 500, "text/plain", b"boom".to_vec());
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "[server]\nbase_url = \"http://feeds.test/\"\n[storage]\npath = \"{}\"\n\
         [fetch]\nallow_private_networks = true\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"tech\"\ntitle = \"Tech\"\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"tech\"]\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"tech\"]\n",
        dir.path().join("unused.db").display(),
        fixtures.url("rss_guid.xml"),
        fixtures.url("down.xml"),
    );
    let config = Config::parse(Path::new("feeds.toml"), &text).expect("config");
    let engine = Arc::new(Recording::new(
        SqliteStore::open_in_memory().expect("store"),
    ));
    let store: Arc<dyn Store> = engine.clone();

    // Start-up wiring, the cycle and the pipeline, exactly as the daemon runs them.
    let jobs = tributary::app::configure_store(&*store, &config).expect("configure");
    let pipeline = tributary::app::build_pipeline(&config, store.clone()).expect("pipeline");
    let mut outcomes = Vec::new();
    tributary::app::refresh_all(&pipeline, jobs, 2, |report| {
        outcomes.push(!matches!(report.outcome, Outcome::Failed(_)))
    })
    .await;
    outcomes.sort();
    assert_eq!(outcomes, [false, true], "one source fails, one is stored");

    // The server renders from the same engine.
    let app = router(AppState::new(
        store.clone(),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    let (status, _, atom) = router_get(&app, "/topics/tech.atom").await;
    assert_eq!(status, StatusCode::OK);
    let stored = store
        .topic_entries(&TopicSlug::new("tech").expect("slug"), 50)
        .expect("entries");
    assert_eq!(stored.len(), 3, "the fixture's three items");
    for entry in &stored {
        assert!(
            atom.contains(&entry.public_id),
            "{} in {atom}",
            entry.public_id
        );
    }

    let called = engine.called();
    for method in [
        "sync_sources",
        "set_near_duplicates",
        "record_document",
        "item_hashes",
        "record_failure",
        "record_schedule",
        "topic_page",
    ] {
        assert!(called.contains(method), "{method} not used: {called:?}");
    }
}

/// A node whose database server went away answers `/healthz` with 503 naming the database (not
/// its password), and asks the database at most once a second however often it is probed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_fails_naming_an_unreachable_database_and_asks_it_at_most_once_a_second() {
    // A port nothing listens on: the database server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://tributary:secret@127.0.0.1:{port}/news");
    let config = Config::parse(
        Path::new("feeds.toml"),
        &format!("[server]\n[storage]\nurl = \"{url}\"\n"),
    )
    .expect("config");
    let engine = Arc::new(Recording::new(
        SqliteStore::open_in_memory().expect("store"),
    ));
    engine.ping_server(Some(&url));
    let store: Arc<dyn Store> = engine.clone();
    let app = router(AppState::new(
        store,
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));

    let (status, _, body) = router_get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.starts_with(&format!("database postgres://127.0.0.1:{port}/news: ")),
        "{body}"
    );
    assert!(!body.contains("secret"), "{body}");
    // A load balancer's next probe, within the second: the verdict stands, unasked.
    let (status, _, again) = router_get(&app, "/healthz").await;
    assert_eq!((status, &again), (StatusCode::SERVICE_UNAVAILABLE, &body));
    assert_eq!(engine.pings.load(Ordering::SeqCst), 1);

    // The database is back: the first probe after the second asks it again.
    engine.ping_server(None);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = router_get(&app, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(engine.pings.load(Ordering::SeqCst), 2);
}
