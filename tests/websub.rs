//! WebSub: an ingest against a local fixture server announces every changed topic feed to a fake
//! hub on 127.0.0.1 (`hub.mode=publish`, one `hub.url` per feed URL), feeds name the hub, and a
//! hub that fails is retried.

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::watch;
use url::Url;

use common::FixtureServer;
use tributary::config::Config;
use tributary::websub::Timing;

const BASE: &str = "http://feeds.test/";

/// Records every POST's form fields; answers with the queued statuses, then 202.
#[derive(Clone, Default)]
struct FakeHub {
    posts: Arc<Mutex<Vec<(String, String)>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl FakeHub {
    async fn start(statuses: &[u16]) -> (FakeHub, Url) {
        let hub = FakeHub::default();
        hub.statuses.lock().expect("lock").extend(statuses);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test step");
        let url = Url::parse(&format!(
            "http://{}/hub",
            listener.local_addr().expect("test step")
        ))
        .expect("test step");
        let app = Router::new()
            .route("/hub", post(receive))
            .with_state(hub.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (hub, url)
    }

    fn posts(&self) -> Vec<(String, String)> {
        self.posts.lock().expect("lock").clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while self.posts().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.posts()
    }
}

async fn receive(State(hub): State<FakeHub>, body: String) -> StatusCode {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    hub.posts
        .lock()
        .expect("test step")
        .push((field("hub.mode"), field("hub.url")));
    let status = hub
        .statuses
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(202);
    StatusCode::from_u16(status).expect("test step")
}

fn config(dir: &std::path::Path, fixtures: &FixtureServer, hub: &Url) -> Config {
    let text = format!(
        "[server]\nbase_url = \"{BASE}\"\nwebsub_hub = \"{hub}\"\n[storage]\npath = \"{}\"\n\
         [fetch]\nallow_private_networks = true\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"vietnam\"\ntitle = \"Việt Nam\"\n\
         [[topic]]\nslug = \"quiet\"\ntitle = \"Quiet\"\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"vietnam\"]\n",
        dir.join("t.db").display(),
        fixtures.url("vietnamese_security.xml")
    );
    Config::parse(std::path::Path::new("feeds.toml"), &text).expect("test step")
}

fn fast() -> Timing {
    Timing {
        min_interval: Duration::from_millis(300),
        max_backoff: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
    }
}

fn expected_urls() -> BTreeSet<String> {
    ["all", "vietnam"]
        .iter()
        .flat_map(|t| ["atom", "rss", "json"].map(|ext| format!("{BASE}topics/{t}.{ext}")))
        .collect()
}

/// A store and pipeline on the fixture feed, with the publisher running against `hub_url`.
struct Running {
    _dir: tempfile::TempDir,
    config: Config,
    store: Arc<dyn tributary::store::Store>,
    jobs: Vec<tributary::pipeline::SourceJob>,
    pipeline: tributary::pipeline::Pipeline,
    stop: watch::Sender<bool>,
    publisher: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(fixtures: &FixtureServer, hub_url: &Url) -> Running {
        let dir = tempfile::tempdir().expect("test step");
        let config = config(dir.path(), fixtures, hub_url);
        let (store, jobs) = tributary::app::open_store(&config).expect("test step");
        let pipeline = tributary::app::build_pipeline(&config, store.clone()).expect("test step");
        let (stop, stop_rx) = watch::channel(false);
        let publisher = tokio::spawn(tributary::websub::run(
            store.clone(),
            hub_url.clone(),
            config.server.base_url.clone(),
            fast(),
            stop_rx,
        ));
        Running {
            _dir: dir,
            config,
            store,
            jobs,
            pipeline,
            stop,
            publisher,
        }
    }

    async fn refresh(&self) {
        tributary::app::refresh_all(&self.pipeline, self.jobs.clone(), 2, |_| {}).await;
    }

    async fn stop(self) {
        self.stop.send(true).expect("test step");
        tokio::time::timeout(Duration::from_secs(5), self.publisher)
            .await
            .expect("publisher stops")
            .expect("test step");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_announces_each_changed_topic_feed_once() {
    let fixtures = FixtureServer::start().await;
    let (hub, hub_url) = FakeHub::start(&[]).await;
    let running = Running::start(&fixtures, &hub_url);

    running.refresh().await;
    let posts = hub.wait_for(6).await;
    assert!(posts.iter().all(|(mode, _)| mode == "publish"), "{posts:?}");
    let urls: Vec<String> = posts.iter().map(|(_, u)| u.clone()).collect();
    assert_eq!(urls.len(), 6, "one announcement per feed: {urls:?}");
    assert_eq!(
        urls.into_iter().collect::<BTreeSet<_>>(),
        expected_urls(),
        "the untouched topic is not announced"
    );

    // Nothing new: nothing announced.
    running.refresh().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hub.posts().len(), 6);

    // The feeds name the hub.
    let app = tributary::server::router(tributary::server::AppState::new(
        running.store.clone(),
        Arc::new(running.config.clone()),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    let (_, _, body) = common::router_get(&app, "/topics/vietnam.atom").await;
    assert!(
        body.contains(&format!("<link href=\"{hub_url}\" rel=\"hub\"/>")),
        "{body}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hub_is_retried_until_it_accepts() {
    let fixtures = FixtureServer::start().await;
    // Every first announcement fails.
    let (hub, hub_url) = FakeHub::start(&[500; 6]).await;
    let running = Running::start(&fixtures, &hub_url);
    running.refresh().await;
    let posts = hub.wait_for(12).await;
    assert_eq!(posts.len(), 12, "{posts:?}");
    for url in expected_urls() {
        let tries = posts.iter().filter(|(_, u)| *u == url).count();
        assert_eq!(tries, 2, "{url} failed once, then was accepted");
    }
    // Accepted: no further retries.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hub.posts().len(), 12);
    running.stop().await;
}
