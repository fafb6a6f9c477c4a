//! Several `tributary run` nodes on one PostgreSQL database: each due source is fetched by one
//! node per cycle, a node killed mid-cycle has its sources finished by another within the lease
//! time, every node serves every topic with the same bytes and ETags, and the database holds
//! what one SQLite node would over the same feeds (no story twice).
//!
//! Needs PostgreSQL (`TRIBUTARY_TEST_POSTGRES`, as `.ci/run` sets it); takes about three
//! minutes, as a cycle is at least the shortest interval there is (a minute).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tributary::store::postgres::testing::TestDatabase;

const SOURCES: usize = 300;
/// Sources `i` and `i + SHARED` carry one story in common (same link).
const SHARED: usize = 150;
const TOPICS: [&str; 3] = ["alpha", "beta", "gamma"];
/// How long the feed server takes to answer: with four requests to its host at once on the
/// whole cluster, a cycle lasts several seconds, long enough to kill a node in the middle of one.
const ANSWER_DELAY: Duration = Duration::from_millis(100);
/// `[fetch] timeout`; leases last twice that.
const FETCH_TIMEOUT_S: u64 = 2;
/// Requests of one source closer than this belong to one cycle (the interval is a minute, give
/// or take 10 %).
const SAME_CYCLE: Duration = Duration::from_secs(30);

/// One request the feed server saw: which source, which node (by its User-Agent), when.
#[derive(Debug, Clone)]
struct Seen {
    source: usize,
    node: String,
    at: Instant,
}

#[derive(Clone, Default)]
struct FeedServer {
    feeds: Arc<Vec<String>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FeedServer {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Deterministic words for story `n`, so that no two stories look alike to the near-duplicate
/// rule and every run stores the same.
fn words(n: usize, count: usize) -> String {
    const VOCABULARY: [&str; 32] = [
        "harbour", "council", "budget", "river", "school", "railway", "festival", "market",
        "hospital", "bridge", "election", "library", "museum", "harvest", "storm", "airport",
        "court", "stadium", "factory", "theatre", "garden", "tunnel", "forest", "port", "village",
        "mayor", "teacher", "farmer", "nurse", "pilot", "judge", "miner",
    ];
    let mut state = (n as u64 + 1).wrapping_mul(6_364_136_223_846_793_005);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            VOCABULARY[(state >> 59) as usize % VOCABULARY.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
        + &format!(" {n}")
}

fn feed(i: usize, published: &str) -> String {
    let shared = i % SHARED;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Feed {i}</title><link>http://news.example/{i}/</link>
<item><title>{own_title}</title><link>http://news.example/{i}/story</link>
<guid>http://news.example/{i}/story</guid><pubDate>{published}</pubDate>
<description>{own_text}</description></item>
<item><title>{shared_title}</title><link>http://news.example/shared/{shared}</link>
<guid>http://news.example/shared/{shared}</guid><pubDate>{published}</pubDate>
<description>{shared_text}</description></item>
</channel></rss>"#,
        own_title = words(i * 2, 6),
        own_text = words(i * 2 + 1, 40),
        shared_title = words(10_000 + shared * 2, 6),
        shared_text = words(10_000 + shared * 2 + 1, 40),
    )
}

fn etag_of(body: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("\"{h:016x}\"")
}

async fn serve(
    State(server): State<FeedServer>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(i) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|i| *i < SOURCES)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let node = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    server.seen.lock().expect("lock").push(Seen {
        source: i,
        node,
        at: Instant::now(),
    });
    tokio::time::sleep(ANSWER_DELAY).await;
    let body = server.feeds[i].clone();
    let etag = etag_of(&body);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/rss+xml".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

fn start_feed_server(runtime: &tokio::runtime::Runtime) -> (FeedServer, String) {
    let published = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc2822();
    let server = FeedServer {
        feeds: Arc::new((0..SOURCES).map(|i| feed(i, &published)).collect()),
        seen: Arc::default(),
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/feed/{name}", get(serve))
        .with_state(server.clone());
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (server, base)
}

/// feeds.toml of node `node` (or of a lone SQLite node when `node` is `None`).
fn write_config(dir: &Path, feeds: &str, node: Option<(&str, &str)>) -> PathBuf {
    let mut text = String::from("[server]\nbase_url = \"http://news.example.test/\"\n");
    if let Some((_, listen)) = node {
        text.push_str(&format!("listen = \"{listen}\"\n"));
    }
    text.push_str(&format!(
        "[storage]\npath = \"{}\"\n\
         [fetch]\nallow_private_networks = true\nconcurrency = 4\nper_host = 4\nhost_delay = \"0s\"\n\
         timeout = \"{FETCH_TIMEOUT_S}s\"\ninterval = \"1m\"\nmin_interval = \"1m\"\nmax_interval = \"1m\"\n\
         user_agent = \"{}\"\n",
        dir.join("tributary.db").display(),
        node.map_or("lone", |n| n.0),
    ));
    if let Some((name, _)) = node {
        text.push_str(&format!("[cluster]\nnode = \"{name}\"\n"));
    }
    for (t, slug) in TOPICS.iter().enumerate() {
        text.push_str(&format!(
            "[[topic]]\nslug = \"{slug}\"\ntitle = \"Topic {t}\"\n"
        ));
    }
    for i in 0..SOURCES {
        text.push_str(&format!(
            "[[source]]\nurl = \"{feeds}/feed/{i}.xml\"\ntopics = [\"{}\"]\n",
            TOPICS[i % TOPICS.len()]
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn spawn_node(config: &Path, database: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("TRIBUTARY_DATABASE_URL", database)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start tributary run")
}

/// GET over a plain connection: status, ETag, body.
fn get_page(addr: &str, path: &str) -> Option<(u16, Option<String>, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: news.example.test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let etag = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("etag")
            .then(|| value.trim().to_string())
    });
    let body = response[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Some((status, etag, if chunked { dechunk(&body) } else { body }))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..line_end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// Per source, its requests split into cycles: requests closer than [`SAME_CYCLE`] together.
fn cycles(seen: &[Seen]) -> BTreeMap<usize, Vec<Vec<Seen>>> {
    let mut by_source: BTreeMap<usize, Vec<Seen>> = BTreeMap::new();
    for s in seen {
        by_source.entry(s.source).or_default().push(s.clone());
    }
    by_source
        .into_iter()
        .map(|(source, mut requests)| {
            requests.sort_by_key(|s| s.at);
            let mut split: Vec<Vec<Seen>> = Vec::new();
            for request in requests {
                match split.last_mut() {
                    Some(cycle) if request.at.duration_since(cycle[0].at) < SAME_CYCLE => {
                        cycle.push(request)
                    }
                    _ => split.push(vec![request]),
                }
            }
            (source, split)
        })
        .collect()
}

fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

fn count(client: &mut postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .expect("count")
        .get(0)
}

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn three_nodes_fetch_each_source_once_per_cycle_and_serve_identical_topics() {
    let db = TestDatabase::create().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (server, feeds) = start_feed_server(&runtime);
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let names = ["node-a", "node-b", "node-c"];
    let addrs: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", common::free_port()))
        .collect();
    let mut nodes = Nodes(
        (0..3)
            .map(|n| {
                let config =
                    write_config(dirs[n].path(), &feeds, Some((names[n], addrs[n].as_str())));
                spawn_node(&config, db.url(), &dirs[n].path().join("log"))
            })
            .collect(),
    );
    let logs = || -> String {
        dirs.iter()
            .zip(names)
            .map(|(d, n)| {
                format!(
                    "--- {n}\n{}",
                    std::fs::read_to_string(d.path().join("log")).unwrap_or_default()
                )
            })
            .collect()
    };

    // Mid-cycle: once node-c has made a few requests, it is killed without a chance to give
    // its leases back.
    let fetched_by_c = wait_until(Duration::from_secs(60), || {
        let exited = nodes
            .0
            .iter_mut()
            .any(|c| matches!(c.try_wait(), Ok(Some(_))));
        exited || server.seen().iter().filter(|s| s.node == names[2]).count() >= 10
    });
    for (child, name) in nodes.0.iter_mut().zip(names) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited ({status})\n{}", logs());
        }
    }
    assert!(fetched_by_c, "node-c never fetched\n{}", logs());
    let killed_at = Instant::now();
    nodes.0[2].kill().expect("SIGKILL node-c");
    let _ = nodes.0[2].wait();

    // The first cycle finishes on the others, within the lease time (twice the fetch timeout,
    // counted from node-c's last renewal) and what the remaining requests take.
    assert!(
        wait_until(Duration::from_secs(40), || cycles(&server.seen()).len()
            == SOURCES),
        "the first cycle did not finish\n{}",
        logs()
    );
    let first_cycle_done = server.seen().iter().map(|s| s.at).max().expect("requests");
    let lease = Duration::from_secs(2 * FETCH_TIMEOUT_S);
    // What is left after the kill: up to all 300 sources at four at a time, 100 ms each.
    let queue = ANSWER_DELAY * (SOURCES as u32) / 4;
    assert!(
        first_cycle_done.duration_since(killed_at) <= lease + queue + Duration::from_secs(5),
        "node-c's sources waited {:?} after it died",
        first_cycle_done.duration_since(killed_at)
    );

    // Two more cycles on the two nodes left.
    assert!(
        wait_until(Duration::from_secs(200), || {
            let split = cycles(&server.seen());
            split.len() == SOURCES && split.values().all(|c| c.len() >= 3)
        }),
        "three cycles did not complete\n{}",
        logs()
    );
    let split = cycles(&server.seen());
    for (source, source_cycles) in &split {
        for (n, cycle) in source_cycles.iter().enumerate() {
            // A second request in one cycle only where node-c asked first and died before it
            // recorded the answer.
            let again = &cycle[1..];
            assert!(
                again.is_empty() || (cycle[0].node == names[2] && cycle.len() == 2),
                "source {source} fetched {} times in cycle {n}: {:?}",
                cycle.len(),
                cycle.iter().map(|s| &s.node).collect::<Vec<_>>()
            );
        }
    }
    // The work was shared, not done by whichever node claimed first.
    for name in &names[..2] {
        assert!(
            server.seen().iter().any(|s| s.node == *name),
            "{name} fetched nothing"
        );
    }

    // Every topic, in every format, byte for byte the same on both nodes, with the same ETag.
    let mut pages = vec!["/topics/all.atom".to_string()];
    for slug in TOPICS.iter().chain(&["all"]) {
        for format in ["atom", "rss", "json"] {
            pages.push(format!("/topics/{slug}.{format}"));
        }
    }
    for page in &pages {
        let a = get_page(&addrs[0], page).expect("node-a answers");
        let b = get_page(&addrs[1], page).expect("node-b answers");
        assert_eq!(a.0, 200, "{page} on node-a");
        assert!(a.1.is_some(), "{page} has an ETag");
        assert_eq!(a, b, "{page} differs between the nodes");
    }

    // No story twice, and the counts one SQLite node has over the same feeds.
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("database");
    let doubles: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT canonical_url FROM entries
             WHERE canonical_url IS NOT NULL GROUP BY canonical_url HAVING count(*) > 1) d",
            &[],
        )
        .expect("doubles")
        .get(0);
    assert_eq!(doubles, 0, "a story stored twice");
    let cluster_counts = [
        count(&mut client, "entries"),
        count(&mut client, "sightings"),
        count(&mut client, "entry_topics"),
    ];
    assert_eq!(cluster_counts[0], (SOURCES + SHARED) as i64);
    drop(nodes);

    let lone = tempfile::tempdir().expect("tempdir");
    let config = write_config(lone.path(), &feeds, None);
    let (code, _, stderr) = common::tributary(&config, &["fetch"]);
    assert_eq!(code, 0, "{stderr}");
    let sqlite = rusqlite::Connection::open(lone.path().join("tributary.db")).expect("sqlite");
    let lone_counts: Vec<i64> = ["entries", "sightings", "entry_topics"]
        .iter()
        .map(|table| {
            sqlite
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        })
        .collect();
    assert_eq!(cluster_counts.to_vec(), lone_counts);
}

/// Refuses new connections to the test database and cuts the open ones (`false`), or lets
/// them in again (`true`), from the server's own database.
fn database_answers(db: &TestDatabase, answers: bool) {
    let server = std::env::var(tributary::store::postgres::testing::TEST_SERVER_VAR)
        .expect("TRIBUTARY_TEST_POSTGRES");
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).expect("test server");
    let name = db
        .url()
        .rsplit('/')
        .next()
        .expect("database name")
        .to_string();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {answers}"
        ))
        .expect("alter database");
    if !answers {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .expect("cut the node's connections");
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_node_that_lost_its_database_keeps_running_and_recovers_when_it_is_back() {
    let db = TestDatabase::create().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (server, feeds) = start_feed_server(&runtime);
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", common::free_port());
    let config = write_config(dir.path(), &feeds, Some(("node-a", addr.as_str())));
    let mut nodes = Nodes(vec![spawn_node(&config, db.url(), &dir.path().join("log"))]);
    let log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    let first_cycle = wait_until(Duration::from_secs(60), || {
        matches!(nodes.0[0].try_wait(), Ok(Some(_))) || cycles(&server.seen()).len() == SOURCES
    });
    assert!(
        first_cycle && matches!(nodes.0[0].try_wait(), Ok(None)),
        "the first cycle did not finish\n{}",
        log()
    );
    assert!(
        common::wait_for(&addr, "/healthz", Duration::from_secs(10), |s, _| s == 200),
        "{}",
        log()
    );

    database_answers(&db, false);
    assert!(
        common::wait_for(&addr, "/healthz", Duration::from_secs(20), |s, _| s == 503),
        "/healthz did not fail while the database was gone\n{}",
        log()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        matches!(nodes.0[0].try_wait(), Ok(None)),
        "the node exited\n{}",
        log()
    );
    database_answers(&db, true);
    let back_at = chrono::Utc::now().timestamp();
    assert!(
        common::wait_for(&addr, "/healthz", Duration::from_secs(20), |s, _| s == 200),
        "/healthz did not recover\n{}",
        log()
    );
    // Polling goes on: the next cycle reaches every source and is stored.
    assert!(
        wait_until(Duration::from_secs(120), || {
            let split = cycles(&server.seen());
            split.len() == SOURCES && split.values().all(|c| c.len() >= 2)
        }),
        "the second cycle did not finish\n{}",
        log()
    );
    // ...and every source's refresh after the loss is recorded (whether it was a 304 or, for
    // the few whose first answer came as the database went, a 200).
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("database");
    let mut recorded = 0;
    let all_recorded = wait_until(Duration::from_secs(10), || {
        recorded = client
            .query_one(
                "SELECT count(*) FROM sources WHERE last_success_at >= $1",
                &[&back_at],
            )
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0);
        recorded == SOURCES as i64
    });
    assert!(
        all_recorded,
        "{recorded} of {SOURCES} refreshes after the loss recorded\n{}",
        log()
    );
    drop(nodes);
}

/// `fetch` and `run` on PostgreSQL end as on SQLite: `fetch` exits 0 once its cycle is done,
/// and `run` exits 0 after SIGTERM. (The pool's connections, dropped on the async runtime that
/// ran the cycle, once aborted the process on its way out.)
#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn fetch_and_run_on_postgres_exit_zero() {
    let db = TestDatabase::create().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (_server, feeds) = start_feed_server(&runtime);
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", common::free_port());
    let config = write_config(dir.path(), &feeds, Some(("node-a", listen.as_str())));

    let fetched = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(&config)
        .arg("fetch")
        .env("TRIBUTARY_DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tributary fetch");
    let stdout = String::from_utf8_lossy(&fetched.stdout);
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert_eq!(fetched.status.code(), Some(0), "fetch: {stderr}");
    assert!(
        stdout.contains(&format!("total: {SOURCES} sources, {SOURCES} ok")),
        "fetch's summary: {stdout}"
    );

    let log = dir.path().join("log");
    let mut node = Nodes(vec![spawn_node(&config, db.url(), &log)]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            get_page(&listen, "/healthz").is_some_and(|(status, _, _)| status == 200)
        }),
        "run never answered /healthz\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let pid = node.0[0].id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            status = node.0[0].try_wait().ok().flatten();
            status.is_some()
        }),
        "run did not exit after SIGTERM"
    );
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "run's exit after SIGTERM\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
