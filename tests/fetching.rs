//! Fetching like a good citizen, against a scriptable server on 127.0.0.1: the SSRF guard,
//! redirects, Retry-After, backoff, gone sources, conditional and unconditional requests, body
//! limits against compression bombs and drip-fed bodies. Time comes from an injected clock; no
//! test sleeps for the schedule.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, header};
use axum::routing::get;

use tributary::fetch::{FetchError, FetchOutcome, FetchSettings, Fetcher};
use tributary::model::TopicSlug;
use tributary::pipeline::{Outcome, Pipeline, SourceJob};
use tributary::scheduler::Policy;
use tributary::store::{SourceSpec, SqliteStore, Store};
use url::Url;

type Handler = Arc<dyn Fn(&HeaderMap, usize) -> Response<Body> + Send + Sync>;

/// Routes scripted per test; every request is counted and its headers kept.
#[derive(Clone, Default)]
struct Script {
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    requests: Arc<Mutex<Vec<(String, HeaderMap)>>>,
    addr: Option<SocketAddr>,
}

impl Script {
    async fn start() -> Script {
        let mut script = Script::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        script.addr = Some(listener.local_addr().expect("addr"));
        let app = Router::new()
            .route("/{*path}", get(serve))
            .with_state(script.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        script
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}/{path}", self.addr.expect("started"))).expect("url")
    }

    fn on(
        &self,
        path: &str,
        handler: impl Fn(&HeaderMap, usize) -> Response<Body> + Send + Sync + 'static,
    ) {
        self.routes
            .lock()
            .expect("lock")
            .insert(path.to_string(), Arc::new(handler));
    }

    fn hits(&self, path: &str) -> usize {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    fn headers_of(&self, path: &str) -> Vec<HeaderMap> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }
}

async fn serve(
    State(script): State<Script>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    let hit = {
        let mut requests = script.requests.lock().expect("lock");
        requests.push((path.clone(), headers.clone()));
        requests.iter().filter(|(p, _)| *p == path).count()
    };
    let handler = script.routes.lock().expect("lock").get(&path).cloned();
    match handler {
        Some(h) => h(&headers, hit),
        None => reply(404, &[], "no such route"),
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(body.into()).expect("response")
}

const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Scripted</title>
<item><guid>a</guid><title>A</title><pubDate>Mon, 16 Nov 2026 10:00:00 GMT</pubDate></item>
<item><guid>b</guid><title>B</title><pubDate>Mon, 16 Nov 2026 09:00:00 GMT</pubDate></item>
<item><guid>c</guid><title>C</title><pubDate>Mon, 16 Nov 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"#;

fn feed_reply(extra: &[(&str, &str)]) -> Response<Body> {
    let mut headers = vec![("content-type", "application/rss+xml")];
    headers.extend_from_slice(extra);
    reply(200, &headers, FEED)
}

fn settings() -> FetchSettings {
    let mut s = FetchSettings::new("tributary-test".into(), Duration::from_secs(5), 1024 * 1024);
    s.host_delay = Duration::ZERO;
    s
}

/// A fetcher that may reach the script on loopback and nothing else private.
fn loopback_fetcher() -> Fetcher {
    let mut s = settings();
    s.allowlist = vec![IpAddr::from([127, 0, 0, 1])];
    s.dns_overrides
        .insert("internal.test".into(), vec![IpAddr::from([10, 0, 0, 5])]);
    s.dns_overrides
        .insert("router.test".into(), vec![IpAddr::from([192, 168, 1, 1])]);
    Fetcher::new(s).expect("fetcher")
}

async fn fetch_err(fetcher: &Fetcher, url: &str) -> String {
    let url = Url::parse(url).expect("url");
    match fetcher.get(&url, None, false).await {
        Ok(_) => panic!("{url} should have been refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn private_addresses_are_refused_in_every_spelling() {
    let fetcher = Fetcher::new(settings()).expect("fetcher");
    let loopback =
        "refused: 127.0.0.1 is a loopback address; set allow_private_networks to fetch it";
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://0x7f000001/",
    ] {
        assert_eq!(fetch_err(&fetcher, url).await, loopback, "{url}");
    }
    assert_eq!(
        fetch_err(&fetcher, "http://10.0.0.5/feed").await,
        "refused: 10.0.0.5 is a private address; set allow_private_networks to fetch it"
    );
    assert_eq!(
        fetch_err(&fetcher, "http://169.254.169.254/latest/meta-data/").await,
        "refused: 169.254.169.254 is a link-local address; set allow_private_networks to fetch it"
    );
    assert!(
        fetch_err(&fetcher, "http://[::ffff:127.0.0.1]/")
            .await
            .starts_with("refused: ::ffff:127.0.0.1 is a loopback address")
    );
    assert!(
        fetch_err(&fetcher, "http://[::1]:8080/")
            .await
            .starts_with("refused: ::1 is a loopback address")
    );
    assert!(
        fetch_err(&fetcher, "http://[fd00::1]/")
            .await
            .starts_with("refused: fd00::1 is a private (unique local) address")
    );
    assert!(
        fetch_err(&fetcher, "http://[64:ff9b::a00:5]/")
            .await
            .starts_with("refused: 64:ff9b::a00:5 is a private address")
    );
    // SIIT and RFC 8215 local-use NAT64 spellings of loopback.
    assert!(
        fetch_err(&fetcher, "http://[::ffff:0:127.0.0.1]/")
            .await
            .starts_with("refused: ::ffff:0:7f00:1 is a loopback address")
    );
    assert!(
        fetch_err(&fetcher, "http://[64:ff9b:1::7f00:1]/")
            .await
            .starts_with("refused: 64:ff9b:1::7f00:1 is a local-use NAT64 address")
    );
    assert_eq!(
        fetch_err(&fetcher, "ftp://example.com/feed").await,
        "refused: ftp://example.com/feed is not an http or https URL"
    );
    // A name is checked on what it resolves to, when connecting: "localhost" is loopback.
    let e = fetch_err(&fetcher, "http://localhost:9/feed").await;
    assert!(
        e.starts_with("refused: 127.0.0.1 is a loopback address")
            || e.starts_with("refused: ::1 is a loopback address"),
        "{e}"
    );
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused_at_connect_time() {
    let fetcher = loopback_fetcher();
    assert_eq!(
        fetch_err(&fetcher, "http://internal.test/feed").await,
        "refused: 10.0.0.5 is a private address; set allow_private_networks to fetch it"
    );
}

#[tokio::test]
async fn redirects_into_private_space_are_refused_on_every_hop() {
    let script = Script::start().await;
    script.on("to-private", |_, _| {
        reply(302, &[("location", "http://10.0.0.5/feed")], "")
    });
    script.on("to-name", |_, _| {
        reply(301, &[("location", "http://router.test/admin")], "")
    });
    script.on("to-file", |_, _| {
        reply(302, &[("location", "file:///etc/passwd")], "")
    });
    let fetcher = loopback_fetcher();
    let err = |path: &'static str| {
        let (fetcher, url) = (fetcher.clone(), script.url(path));
        async move {
            fetcher
                .get(&url, None, false)
                .await
                .err()
                .map(|e| e.to_string())
        }
    };
    assert_eq!(
        err("to-private").await.as_deref(),
        Some("refused: 10.0.0.5 is a private address; set allow_private_networks to fetch it")
    );
    assert_eq!(
        err("to-name").await.as_deref(),
        Some("refused: 192.168.1.1 is a private address; set allow_private_networks to fetch it")
    );
    assert_eq!(
        err("to-file").await.as_deref(),
        Some("refused: file:///etc/passwd is not an http or https URL")
    );
}

#[tokio::test]
async fn allow_private_lifts_the_guard_for_that_request_only() {
    let script = Script::start().await;
    script.on("feed.xml", |_, _| feed_reply(&[]));
    let fetcher = Fetcher::new(settings()).expect("fetcher");
    let url = script.url("feed.xml");
    assert!(matches!(
        fetcher.get(&url, None, true).await,
        Ok(FetchOutcome::Fetched(_))
    ));
    assert!(matches!(
        fetcher.get(&url, None, false).await,
        Err(FetchError::Refused(_))
    ));
}

#[tokio::test]
async fn redirect_chains_loops_and_limits() {
    let script = Script::start().await;
    for i in 0..7 {
        let next = format!("hop{}", i + 1);
        script.on(&format!("hop{i}"), move |_, _| {
            reply(302, &[("location", &format!("/{next}"))], "")
        });
    }
    script.on("five0", |_, _| reply(301, &[("location", "/five1")], ""));
    for i in 1..5 {
        let next = format!("five{}", i + 1);
        script.on(&format!("five{i}"), move |_, _| {
            reply(308, &[("location", &format!("/{next}"))], "")
        });
    }
    script.on("five5", |_, _| feed_reply(&[]));
    script.on("loop-a", |_, _| reply(301, &[("location", "/loop-b")], ""));
    script.on("loop-b", |_, _| reply(302, &[("location", "/loop-a")], ""));
    script.on("no-location", |_, _| reply(302, &[], ""));
    let fetcher = loopback_fetcher();

    match fetcher.get(&script.url("five0"), None, false).await {
        Ok(FetchOutcome::Fetched(doc)) => {
            assert_eq!(
                doc.info.final_url,
                script.url("five5"),
                "five hops are followed"
            );
            assert_eq!(doc.info.permanent_redirect, Some(script.url("five5")));
        }
        other => panic!("five redirects should be followed: {other:?}"),
    }
    let err = fetcher
        .get(&script.url("hop0"), None, false)
        .await
        .expect_err("six hops");
    assert_eq!(err.to_string(), "more than 5 redirects");
    let err = fetcher
        .get(&script.url("loop-a"), None, false)
        .await
        .expect_err("loop");
    assert_eq!(
        err.to_string(),
        format!("redirect loop at {}", script.url("loop-a"))
    );
    let err = fetcher
        .get(&script.url("no-location"), None, false)
        .await
        .expect_err("bad");
    assert_eq!(err.to_string(), "bad redirect: HTTP 302 without a Location");
}

#[tokio::test]
async fn user_agent_names_tributary_and_the_base_url() {
    let script = Script::start().await;
    script.on("feed.xml", |_, _| feed_reply(&[]));
    let config = tributary::config::Config::parse(
        std::path::Path::new("feeds.toml"),
        "[server]\nbase_url = \"https://news.example.org/\"\n",
    )
    .expect("config");
    let mut s = settings();
    s.user_agent = config.fetch.user_agent.clone();
    let fetcher = Fetcher::new(s).expect("fetcher");
    fetcher
        .get(&script.url("feed.xml"), None, true)
        .await
        .expect("fetch");
    let ua = script.headers_of("feed.xml")[0][header::USER_AGENT]
        .to_str()
        .expect("ua")
        .to_string();
    assert_eq!(
        ua,
        format!(
            "tributary/{} (+https://news.example.org/)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn brotli_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        writer.write_all(data).expect("brotli");
    }
    out
}

#[tokio::test]
async fn compression_bombs_and_endless_bodies_stop_at_the_cap() {
    let script = Script::start().await;
    // 64 MiB of zeros, a few tens of KiB on the wire.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let gz = Arc::new(gzip(&zeros));
    let br = Arc::new(brotli_bytes(&zeros));
    drop(zeros);
    assert!(gz.len() < 1024 * 1024 && br.len() < 1024 * 1024);
    script.on("gzip-bomb", move |_, _| {
        reply(
            200,
            &[
                ("content-encoding", "gzip"),
                ("content-type", "application/xml"),
            ],
            gz.to_vec(),
        )
    });
    script.on("brotli-bomb", move |_, _| {
        reply(
            200,
            &[
                ("content-encoding", "br"),
                ("content-type", "application/xml"),
            ],
            br.to_vec(),
        )
    });
    script.on("endless", |_, _| {
        let chunks = futures_util::stream::repeat_with(|| {
            Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 64 * 1024]))
        });
        reply(
            200,
            &[("content-type", "application/xml")],
            Body::from_stream(chunks),
        )
    });
    script.on("declared-huge", |_, _| {
        reply(200, &[("content-length", "999999999")], Body::empty())
    });
    let fetcher = loopback_fetcher();
    for path in ["gzip-bomb", "brotli-bomb", "endless"] {
        let err = fetcher
            .get(&script.url(path), None, false)
            .await
            .expect_err(path);
        assert_eq!(err.to_string(), "response larger than 1 MiB", "{path}");
    }
}

#[tokio::test]
async fn a_drip_fed_body_is_ended_by_the_total_deadline() {
    let script = Script::start().await;
    script.on("drip", |_, _| {
        let chunks = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"<")),
                n + 1,
            ))
        });
        reply(
            200,
            &[("content-type", "application/xml")],
            Body::from_stream(chunks),
        )
    });
    let mut s = settings();
    s.timeout = Duration::from_secs(1);
    s.allowlist = vec![IpAddr::from([127, 0, 0, 1])];
    let fetcher = Fetcher::new(s).expect("fetcher");
    let started = std::time::Instant::now();
    let err = fetcher
        .get(&script.url("drip"), None, false)
        .await
        .expect_err("drip");
    assert_eq!(err.to_string(), "timed out after 1s");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// ---- Policy over several polls, with an injected clock -------------------------------------

struct Harness {
    script: Script,
    store: Arc<dyn Store>,
    now: Arc<AtomicI64>,
    pipeline: Pipeline,
    job: SourceJob,
}

const T0: i64 = 1_795_000_000;
const INTERVAL: u64 = 1800;

async fn harness(path: &str) -> Harness {
    let script = Script::start().await;
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let url = script.url(path);
    let ids = store
        .sync_sources(&[SourceSpec {
            url: url.to_string(),
            title: None,
            topics: vec![TopicSlug::new("t").expect("slug")],
        }])
        .expect("sync");
    let now = Arc::new(AtomicI64::new(T0));
    let clock_now = now.clone();
    let pipeline = Pipeline {
        store: store.clone(),
        fetcher: loopback_fetcher(),
        clock: Arc::new(move || clock_now.load(Ordering::SeqCst)),
        jitter: Arc::new(|| 0.5), // the middle of the band: no jitter
    };
    let job = SourceJob {
        id: ids[0],
        url,
        allow_private: false,
        policy: Policy {
            base: Duration::from_secs(INTERVAL),
            min: Duration::from_secs(300),
            max: Duration::from_secs(86_400),
        },
        identity: None,
        tracking_params: Arc::new(Vec::new()),
        origins: true,
        limits: Default::default(),
        topics: Vec::new(),
        rules: Arc::new(tributary::topics::TopicRules::new(
            &tributary::config::Config::parse(std::path::Path::new("feeds.toml"), "")
                .expect("empty config"),
        )),
    };
    Harness {
        script,
        store,
        now,
        pipeline,
        job,
    }
}

impl Harness {
    async fn poll(&self) -> tributary::pipeline::RefreshReport {
        self.pipeline.refresh(&self.job).await
    }
    fn advance(&self, secs: i64) -> i64 {
        self.now.fetch_add(secs, Ordering::SeqCst) + secs
    }
    fn state(&self) -> tributary::model::SourceState {
        self.store.source_state(self.job.id).expect("state")
    }
}

#[tokio::test]
async fn retry_after_seconds_and_dates_are_honoured() {
    let h = harness("busy").await;
    let date =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs((T0 + 7200) as u64));
    h.script.on("busy", move |_, hit| match hit {
        1 => reply(429, &[("retry-after", "900")], "slow down"),
        2 => reply(503, &[("retry-after", &date)], "maintenance"),
        _ => reply(503, &[("retry-after", "99999999")], "gone fishing"),
    });
    let report = h.poll().await;
    assert!(matches!(report.outcome, Outcome::Failed(_)));
    assert_eq!(
        report.next_due,
        T0 + 1800,
        "backoff (the interval) is later than Retry-After: 900"
    );
    assert_eq!(h.state().retry_after_until, Some(T0 + 900));
    let report = h.poll().await;
    assert_eq!(report.next_due, T0 + 7200, "an HTTP-date Retry-After");
    let report = h.poll().await;
    assert_eq!(report.next_due, T0 + 86_400, "capped at a day");
    assert_eq!(h.state().failure_class.as_deref(), Some("http-5xx"));
}

#[tokio::test]
async fn failures_back_off_exponentially_and_success_resets() {
    let h = harness("flaky").await;
    h.script.on("flaky", |_, hit| {
        if hit <= 4 {
            reply(500, &[], "oops")
        } else {
            feed_reply(&[])
        }
    });
    let mut delays = Vec::new();
    for _ in 0..4 {
        let now = h.now.load(Ordering::SeqCst);
        let report = h.poll().await;
        delays.push(report.next_due - now);
        h.advance(report.next_due - now);
    }
    assert_eq!(delays, [1800, 3600, 7200, 14_400]);
    assert_eq!(h.state().consecutive_failures, 4);
    let report = h.poll().await;
    assert!(matches!(report.outcome, Outcome::Stored(_)));
    let state = h.state();
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.failure_class, None);
}

#[tokio::test]
async fn a_gone_source_is_retried_daily_and_never_dropped() {
    let h = harness("gone").await;
    h.script.on("gone", |_, _| reply(410, &[], "gone"));
    let mut last = None;
    for _ in 0..7 {
        let now = h.now.load(Ordering::SeqCst);
        let report = h.poll().await;
        last = Some(report.next_due - now);
        h.advance(report.next_due - now);
    }
    assert_eq!(last, Some(86_400));
    let state = h.state();
    assert_eq!(state.gone_streak, 7);
    let row = tributary::cli::StatusRow::from(&state);
    assert_eq!(row.state, "gone");
    assert_eq!(row.last_status, Some(410));
    assert_eq!(h.script.hits("gone"), 7, "still polled");
}

#[tokio::test]
async fn a_permanent_redirect_is_adopted_after_three_polls_and_a_temporary_one_never() {
    let h = harness("old").await;
    h.script
        .on("old", |_, _| reply(301, &[("location", "/new")], ""));
    h.script.on("new", |_, _| feed_reply(&[]));
    for poll in 1..=3 {
        h.poll().await;
        let state = h.state();
        assert_eq!(state.redirect_streak, poll);
        if poll < 3 {
            assert_eq!(state.fetch_url, None, "not adopted after {poll} polls");
        }
    }
    assert_eq!(
        h.state().fetch_url.as_deref(),
        Some(h.script.url("new").as_str())
    );
    let row = tributary::cli::StatusRow::from(&h.state());
    assert_eq!(row.state, "moved");
    assert!(tributary::cli::status_table(&[row]).contains(&format!(
        "moved permanently to {}, update feeds.toml",
        h.script.url("new")
    )));
    h.poll().await;
    assert_eq!(
        h.script.hits("old"),
        3,
        "the fourth poll goes straight to the new URL"
    );
    assert_eq!(h.script.hits("new"), 4);

    let t = harness("temp").await;
    t.script
        .on("temp", |_, _| reply(302, &[("location", "/elsewhere")], ""));
    t.script.on("elsewhere", |_, _| feed_reply(&[]));
    for _ in 0..4 {
        t.poll().await;
    }
    assert_eq!(t.state().fetch_url, None);
    assert_eq!(t.script.hits("temp"), 4);
}

#[tokio::test]
async fn conditional_requests_and_a_daily_unconditional_one() {
    let h = harness("etag").await;
    h.script.on("etag", |headers, _| {
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some("\"v1\"")
        {
            reply(304, &[("etag", "\"v1\"")], "")
        } else {
            feed_reply(&[("etag", "\"v1\"")])
        }
    });
    assert!(matches!(h.poll().await.outcome, Outcome::Stored(_)));
    h.advance(3600);
    assert!(matches!(h.poll().await.outcome, Outcome::NotModified));
    h.advance(25 * 3600);
    let report = h.poll().await;
    let sent: Vec<bool> = h
        .script
        .headers_of("etag")
        .iter()
        .map(|hd| hd.contains_key(header::IF_NONE_MATCH))
        .collect();
    assert_eq!(
        sent,
        [false, true, false],
        "the first request and the one a day later carry no validators"
    );
    assert!(
        matches!(report.outcome, Outcome::Unchanged),
        "same body: not parsed again"
    );
}

#[tokio::test]
async fn an_unchanged_body_without_validators_is_not_parsed_again() {
    let h = harness("plain").await;
    h.script.on("plain", |_, _| feed_reply(&[]));
    assert!(matches!(h.poll().await.outcome, Outcome::Stored(s) if s.new == 3));
    assert!(matches!(h.poll().await.outcome, Outcome::Unchanged));
}

#[tokio::test]
async fn a_changed_document_normalizes_only_what_changed() {
    let h = harness("grows").await;
    let version = Arc::new(AtomicI64::new(0));
    let served = version.clone();
    h.script.on("grows", move |_, _| {
        let body = match served.load(Ordering::SeqCst) {
            0 => FEED.to_string(),
            // One new item, one edited, one as before.
            _ => FEED
                .replace("<title>B</title>", "<title>B, edited</title>")
                .replace(
                    "<item><guid>a</guid>",
                    "<item><guid>n</guid><title>New</title><pubDate>Mon, 16 Nov 2026 11:00:00 GMT</pubDate></item><item><guid>a</guid>",
                ),
        };
        reply(200, &[("content-type", "application/rss+xml")], body)
    });
    let first = h.poll().await.outcome;
    assert!(
        matches!(first, Outcome::Stored(s) if s.new == 3 && s.reused == 0),
        "{first:?}"
    );
    version.store(1, Ordering::SeqCst);
    h.advance(3_600);
    let second = h.poll().await.outcome;
    assert!(
        matches!(second, Outcome::Stored(s) if s.new == 1 && s.updated == 1 && s.unchanged == 2 && s.reused == 2),
        "{second:?}"
    );
    // What was not normalized again is still there, under its keys.
    let titles: Vec<String> = h
        .store
        .topic_entries(&TopicSlug::all(), 10)
        .expect("entries")
        .into_iter()
        .map(|e| e.title)
        .collect();
    assert_eq!(titles, ["New", "A", "B, edited", "C"]);
}

#[tokio::test]
async fn max_entries_per_source_is_applied_at_ingest() {
    let mut h = harness("many").await;
    h.script.on("many", |_, _| feed_reply(&[]));
    h.job.limits.max_entries = 2;
    // The document carries three entries an hour apart: only the newest two are stored.
    assert!(matches!(h.poll().await.outcome, Outcome::Stored(s) if s.new == 2));
}

#[tokio::test]
async fn publisher_hints_set_a_floor_under_the_interval() {
    let h = harness("hinted").await;
    h.script.on("hinted", |_, _| {
        let doc = FEED.replace(
            "<title>Scripted</title>",
            "<title>Scripted</title><ttl>180</ttl>",
        );
        reply(
            200,
            &[
                ("content-type", "application/rss+xml"),
                ("cache-control", "public, max-age=7200"),
            ],
            doc,
        )
    });
    let report = h.poll().await;
    // Entries an hour apart would give an hourly interval; <ttl>180</ttl> asks for three hours.
    assert_eq!(report.next_due, T0 + 3 * 3600);
    assert_eq!(h.state().interval_secs, Some(3 * 3600));

    let c = harness("cached").await;
    c.script.on("cached", |_, _| {
        feed_reply(&[("cache-control", "max-age=7200")])
    });
    assert_eq!(c.poll().await.next_due, T0 + 7200);
    assert_eq!(c.state().publishing_secs, Some(3600));
}

#[tokio::test]
async fn an_html_page_is_not_a_feed_and_is_classified() {
    let h = harness("page").await;
    h.script.on("page", |_, _| reply(200, &[("content-type", "text/html")], "<!doctype html><html><head><link rel=alternate type=application/rss+xml href=/rss></head></html>"));
    let report = h.poll().await;
    match report.outcome {
        Outcome::Failed(e) => assert_eq!(
            e.to_string(),
            format!(
                "not a feed: HTML page (it advertises a feed at {}; use that URL)",
                h.script.url("rss")
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.state().failure_class.as_deref(), Some("not-a-feed"));
}

#[tokio::test]
async fn sources_sharing_one_url_are_fetched_once_per_cycle() {
    let h = harness("shared.xml").await;
    h.script.on("shared.xml", |_, _| feed_reply(&[]));
    // A second source whose adopted redirect target is the first one's URL.
    let other_url = h.script.url("old-address.xml");
    let ids = h
        .store
        .sync_sources(&[
            SourceSpec {
                url: h.job.url.to_string(),
                title: None,
                topics: vec![TopicSlug::new("t").expect("slug")],
            },
            SourceSpec {
                url: other_url.to_string(),
                title: Some("Other".into()),
                topics: vec![TopicSlug::new("u").expect("slug")],
            },
        ])
        .expect("sync");
    h.store
        .record_schedule(
            ids[1],
            &tributary::model::ScheduleRecord {
                fetch_url: Some(h.job.url.to_string()),
                ..Default::default()
            },
        )
        .expect("schedule");
    let other = SourceJob {
        id: ids[1],
        url: other_url,
        topics: vec![TopicSlug::new("u").expect("slug")],
        rules: Arc::new(tributary::topics::TopicRules::new(
            &tributary::config::Config::parse(
                std::path::Path::new("feeds.toml"),
                "[[topic]]\nslug = \"u\"\ntitle = \"U\"\n",
            )
            .expect("config"),
        )),
        ..h.job.clone()
    };
    let mut reports = Vec::new();
    tributary::app::refresh_all(&h.pipeline, vec![h.job.clone(), other], 4, |r| {
        reports.push(r)
    })
    .await;
    assert_eq!(
        h.script.hits("shared.xml"),
        1,
        "one request for both sources"
    );
    assert_eq!(h.script.hits("old-address.xml"), 0);
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert!(
            matches!(report.outcome, Outcome::Stored(s) if s.new == 3),
            "{report:?}"
        );
    }
    let u = h
        .store
        .topic_entries(&TopicSlug::new("u").expect("slug"), 10)
        .expect("read");
    assert_eq!(u.len(), 3);
    assert_eq!(u[0].source.title, "Other");
}
