//! HTTP: routes, the render cache and conditional GET. Fetches and parses nothing.
//!
//! A topic page is rendered once per store generation and kept, in every coding, with strong
//! ETags derived from its bytes (see `cache`); a request whose `If-None-Match` matches the cached
//! page is answered 304 without touching SQLite. Search feeds, the index and the sources table
//! are cached the same way.
//!
//! Rendering after a miss is the expensive path, so it is bounded: requests for one page share
//! one render; at most [`MAX_ADMITTED_RENDERS`] renders are admitted at once (beyond that, 503
//! with `Retry-After`), of which a few run at a time; and a render is abandoned, its SQLite query
//! interrupted, once every request waiting for it has gone. `/healthz` shares none of this.

mod cache;
mod conditional;
mod connections;
mod encoding;
mod paging;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::FutureExt;

use crate::config::Config;
use crate::model::{Timestamp, TopicSlug};
use crate::publish::{self, Format, TopicPage};
use crate::store::{ReadCancel, Store, StoreError};

use cache::{PageKey, RenderCache, Rendered};
pub use connections::{MAX_CONNECTIONS, connection_cap};
pub use paging::{DEFAULT_LIMIT, MAX_LIMIT};

mod discovery;
mod pages;
mod search;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What `/healthz` and `/metrics` report from; both are optional so a bare router (tests,
/// benchmarks) still serves feeds.
#[derive(Clone, Default)]
pub struct Observe {
    /// The scheduler's heartbeat; without it only the database is checked.
    pub health: Option<Arc<crate::systemd::Health>>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

struct Inner {
    observe: Observe,
    store: Arc<dyn Store>,
    /// The configuration in force; `run` replaces it on reload.
    config: tokio::sync::watch::Receiver<Arc<Config>>,
    cache: RenderCache,
    /// `Cache-Control` of feed responses, made once from `[server] cache_max_age` (a restart
    /// applies a change).
    cache_control: HeaderValue,
    clock: crate::pipeline::Clock,
    /// Renders admitted (running or waiting for a slot); see [`MAX_ADMITTED_RENDERS`].
    admitted: Arc<tokio::sync::Semaphore>,
    /// Renders running: reads and compression on a blocking thread.
    render_slots: Arc<tokio::sync::Semaphore>,
    health: HealthProbe,
}

/// Renders after a cache miss that may be under way at once, each for a distinct page (requests
/// for the same page wait for one render and count once). Beyond this a miss is answered 503
/// with `Retry-After`: a burst of distinct pages would otherwise queue work that outlives the
/// burst by minutes.
pub const MAX_ADMITTED_RENDERS: usize = 64;

/// Seconds a client refused for load is asked to wait.
const RETRY_AFTER_SECS: u32 = 2;

/// Renders that run at once: one per core keeps the blocking threads (four per event loop) from
/// all being taken by renders, so that `/metrics` and the like still get one.
fn render_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl AppState {
    /// State over a fixed configuration.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: crate::pipeline::Clock,
    ) -> AppState {
        AppState::following(
            store,
            tokio::sync::watch::channel(config).1,
            clock,
            Observe::default(),
        )
    }

    /// State that follows the configuration sent on `config` (reloads).
    pub fn following(
        store: Arc<dyn Store>,
        config: tokio::sync::watch::Receiver<Arc<Config>>,
        clock: crate::pipeline::Clock,
        observe: Observe,
    ) -> AppState {
        let max_age = config.borrow().server.cache_max_age;
        let cache_control = HeaderValue::from_str(&format!("public, max-age={max_age}"))
            .unwrap_or(HeaderValue::from_static("public, max-age=60"));
        AppState {
            inner: Arc::new(Inner {
                observe,
                store,
                config,
                cache: RenderCache::default(),
                cache_control,
                clock,
                admitted: Arc::new(tokio::sync::Semaphore::new(MAX_ADMITTED_RENDERS)),
                render_slots: Arc::new(tokio::sync::Semaphore::new(render_slots())),
                health: HealthProbe::default(),
            }),
        }
    }
}

impl AppState {
    /// The configuration in force now.
    fn config(&self) -> Arc<Config> {
        self.inner.config.borrow().clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(discovery::index))
        .route("/sources", get(discovery::sources_page))
        .route("/sources.opml", get(discovery::sources_opml))
        .route("/search", get(search::page))
        .route("/search.atom", get(search::atom))
        .route("/search.rss", get(search::rss))
        .route("/search.json", get(search::json))
        .route("/topics/{file}", get(topic_feed))
        .route("/static/{file}", get(pages::static_file))
        .route("/favicon.ico", get(favicon))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn(count_requests))
        .with_state(state)
}

/// Binds the server's socket (each accepted connection is set up by [`serve`]).
pub async fn listener(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// How long requests in flight get to finish after the server is told to stop, unless the
/// caller says otherwise (see [`Limits`]).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Bounds on the connections [`serve_with`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, over every worker; past it the idlest are closed to make room
    /// (see [`connection_cap`]).
    pub max_connections: usize,
    /// After shutdown, how long requests in flight get to finish; connections still open then
    /// (a client that stopped reading a large page, say) are closed.
    pub grace: std::time::Duration,
}

impl Default for Limits {
    /// The cap for the open-file limit in force and the default fetch concurrency.
    fn default() -> Limits {
        let open_files = rlimit::Resource::NOFILE
            .get()
            .map_or(1024, |(soft, _)| soft);
        Limits {
            max_connections: connection_cap(open_files, 16),
            grace: SHUTDOWN_GRACE,
        }
    }
}

/// [`serve_with`] under the default [`Limits`].
pub fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    serve_with(listener, app, shutdown, Limits::default())
}

/// Serves `app` on `listener` over HTTP/1.1 until `shutdown` completes, then lets the requests in
/// flight finish for at most `limits.grace` and closes whatever is still open. The workers are
/// started before this returns: a failure to start any of them is an error here, before anyone
/// is told the daemon is ready; the returned future runs them.
///
/// Connections are served by one single-threaded runtime per core, each accepting from the same
/// socket, the way nginx runs one event loop per worker process: a connection's reads, cache
/// lookup and writes stay on one thread, with no hand-off between threads on each request.
pub fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
    limits: Limits,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let socket = listener.into_std()?;
    let connections = connections::Connections::new(limits.max_connections);
    let mut threads = Vec::new();
    for worker in 0..workers {
        // Blocking threads only render pages after a change: a few suffice.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(socket.try_clone()?)?
        };
        let app = app.clone();
        let connections = connections.clone();
        let mut stop = stop_rx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("http-{worker}"))
            .spawn(move || {
                let stop = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                runtime.block_on(serve_connections(
                    listener,
                    app,
                    connections,
                    limits.grace,
                    stop,
                ));
                // Dropping the runtime would wait for a render still running on its blocking
                // threads; the connections it was for are gone, so it is left to finish alone.
                runtime.shutdown_background();
            });
        match thread {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                // Workers already running stop with the others when this one is refused.
                let _ = stop_tx.send(true);
                return Err(e);
            }
        }
    }
    Ok(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    })
}

/// One worker's accept loop: every connection it accepts is served on its own runtime. Returns
/// once `shutdown` completed and the connections ended, or `grace` passed; the caller then shuts
/// the runtime down, which drops (and so closes) every connection still open.
///
/// Past the cap, each connection accepted closes the idlest one open (across workers): under a
/// flood of silent connections the ones that never sent anything go first, and a health check
/// still gets in.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    connections: Arc<connections::Connections>,
    grace: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // A client gets this long to send its request head (slowloris guard).
        .header_read_timeout(std::time::Duration::from_secs(30));
    let mut backoff = connections::AcceptBackoff::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let failures = backoff.succeeded();
                    if failures > 0 {
                        tracing::info!(failures, "accepting connections again");
                    }
                    stream
                }
                Err(e) => {
                    let next = backoff.failed(&e);
                    if next.pause.is_zero() {
                        continue;
                    }
                    crate::metrics::record_accept_error();
                    if next.log {
                        tracing::warn!(
                            error = %e,
                            connections = connections.len(),
                            "accepting a connection failed; backing off"
                        );
                    }
                    // Out of file descriptors: one freed now lets the next accept succeed.
                    if next.shed {
                        connections.shed_one();
                    }
                    tokio::select! {
                        () = tokio::time::sleep(next.pause) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        // A response is written whole: Nagle's algorithm would only hold its last segment back
        // until the client's ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (registration, shed) = connections.admit();
        if shed > 0 {
            tracing::debug!(shed, "connection cap reached: closed the idlest");
        }
        let stream = connections.track(stream, &registration);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            tokio::select! {
                result = connection => if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                // Shed: dropping the connection closes its socket.
                () = registration.activity.closed() => {}
            }
            drop(registration);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "closing the connections still open after the {} s grace period",
            grace.as_secs()
        );
    }
}

#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("unknown topic: {0}")]
    UnknownTopic(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("busy: too many pages being rendered; retry in a moment")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
    /// The failure of a render that several requests waited for (logged once, when it failed).
    #[error(transparent)]
    Shared(Arc<ServeError>),
}

impl ServeError {
    /// Logs what is ours to fix.
    fn log(&self) {
        match self {
            ServeError::Store(StoreError::Cancelled) => {
                tracing::debug!(error = %self, "render abandoned");
            }
            ServeError::Store(_) | ServeError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
            }
            _ => {}
        }
    }

    /// The response for this error: internals stay in the log.
    fn response(&self) -> Response {
        match self {
            ServeError::UnknownTopic(_) | ServeError::NotFound => {
                (StatusCode::NOT_FOUND, format!("{self}\n")).into_response()
            }
            ServeError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, format!("{self}\n")).into_response()
            }
            ServeError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS))],
                format!("{self}\n"),
            )
                .into_response(),
            ServeError::Store(_) | ServeError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
            ServeError::Shared(inner) => inner.response(),
        }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        self.log();
        self.response()
    }
}

/// Counts every response by route template and status for `/metrics`.
async fn count_requests(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route: &'static str = match request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
    {
        Some("/") => "/",
        Some("/topics/{file}") => "/topics/{file}",
        Some("/static/{file}") => "/static/{file}",
        Some("/healthz") => "/healthz",
        Some("/metrics") => "/metrics",
        Some("/sources") => "/sources",
        Some("/sources.opml") => "/sources.opml",
        Some("/search") => "/search",
        Some("/search.atom") => "/search.atom",
        Some("/search.rss") => "/search.rss",
        Some("/search.json") => "/search.json",
        Some(_) => "other",
        None => "unmatched",
    };
    let response = next.run(request).await;
    crate::metrics::record_request(route, response.status().as_u16());
    response
}

/// Browsers ask for `/favicon.ico` on every site whether a page names one or not: "no icon" as
/// a success that caches for a day, instead of a 404 in every page's console and access log.
async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

/// 200 when the database answers and the scheduler is alive, else 503 with the reason.
async fn healthz(State(state): State<AppState>) -> Response {
    let verdict = match &state.inner.observe.health {
        Some(health) => health.scheduler_alive(),
        None => Ok(()),
    };
    let store = &state.inner.store;
    let verdict = match verdict {
        Ok(()) => {
            let name = database_name(&state.config().storage);
            state.inner.health.database(store, &name).await
        }
        Err(reason) => Err(reason),
    }
    .and_then(|()| match store.condition() {
        // Stored entries are still served; new ones cannot be stored.
        Some(condition) => Err(format!(
            "database cannot be written: {condition}; serving what is stored"
        )),
        None => Ok(()),
    });
    let mut response = match verdict {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The database as `/healthz` names it: the SQLite file, or the PostgreSQL server and database
/// (never the user or password: the reason is shown to whoever can reach the port).
fn database_name(storage: &crate::config::StorageConfig) -> String {
    match &storage.engine {
        crate::config::StorageEngine::Sqlite => storage.path.display().to_string(),
        crate::config::StorageEngine::Postgres { url } => match url::Url::parse(url) {
            Ok(parsed) => format!(
                "{}://{}:{}{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or("localhost"),
                parsed.port().unwrap_or(5432),
                parsed.path()
            ),
            Err(_) => "(a PostgreSQL URL that does not parse)".to_string(),
        },
    }
}

/// How long a database check's verdict answers `/healthz`: a load balancer probing every node
/// often (several of them, each from several places) asks the database at most once a second
/// per node.
const DATABASE_VERDICT_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// How long `/healthz` waits for the database: short, so that a probe with a timeout of its
/// own (commonly one to five seconds) hears "503, the database" rather than nothing. The
/// watchdog, which restarts the process, waits longer ([`crate::systemd::DATABASE_CHECK_TIMEOUT`]).
const DATABASE_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The database check behind `/healthz`, on a thread of its own: not on the blocking threads,
/// which renders may all hold during a burst, so that the check answers for as long as the
/// database does. One check runs at a time; requests within [`DATABASE_VERDICT_FRESH`] of a
/// verdict (and those that waited for it) take it, and a check that overran its time is not
/// started again while it still runs, so a stuck database costs one thread, not one per probe.
#[derive(Default)]
struct HealthProbe {
    state: tokio::sync::Mutex<ProbeState>,
}

#[derive(Default)]
struct ProbeState {
    /// The latest verdict and when it came.
    latest: Option<(std::time::Instant, Result<(), String>)>,
    /// A check that overran [`DATABASE_PROBE_TIMEOUT`] and may still answer.
    overdue: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
}

impl HealthProbe {
    /// Whether the database `name` answers, as of at most [`DATABASE_VERDICT_FRESH`] ago.
    async fn database(&self, store: &Arc<dyn Store>, name: &str) -> Result<(), String> {
        let asked = std::time::Instant::now();
        let mut probe = self.state.lock().await;
        if let Some((at, verdict)) = &probe.latest
            && asked.saturating_duration_since(*at) < DATABASE_VERDICT_FRESH
        {
            return verdict.clone();
        }
        let timeout = DATABASE_PROBE_TIMEOUT;
        let verdict = match probe.overdue.take() {
            Some(mut overdue) => match overdue.try_recv() {
                Ok(verdict) => verdict,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                    probe.overdue = Some(overdue);
                    Err(format!(
                        "database {name} has not answered a check for more than {} s",
                        timeout.as_secs()
                    ))
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    Err(format!("database {name}: the check failed"))
                }
            },
            None => {
                let (answer, mut answered) = tokio::sync::oneshot::channel();
                let store = store.clone();
                let failed = {
                    let name = name.to_string();
                    move |e: StoreError| format!("database {name}: {e}")
                };
                let started = std::thread::Builder::new()
                    .name("healthz".into())
                    .spawn(move || {
                        let _ = answer.send(store.ping().map_err(failed));
                    });
                match started {
                    Err(e) => Err(format!("cannot start the database check: {e}")),
                    Ok(_) => match tokio::time::timeout(timeout, &mut answered).await {
                        Ok(Ok(verdict)) => verdict,
                        Ok(Err(_)) => Err(format!("database {name}: the check failed")),
                        Err(_) => {
                            probe.overdue = Some(answered);
                            Err(format!(
                                "database {name} did not answer within {} s",
                                timeout.as_secs()
                            ))
                        }
                    },
                }
            }
        };
        probe.latest = Some((std::time::Instant::now(), verdict.clone()));
        verdict
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Result<Response, ServeError> {
    let store = state.inner.store.clone();
    let (sources, db_bytes) = tokio::task::spawn_blocking(move || {
        // The size is worth a gauge, not a failed scrape.
        let bytes = store.database_bytes().unwrap_or(0);
        store.source_states().map(|sources| (sources, bytes))
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))??;
    let config = state.config();
    let body = crate::metrics::render(
        state.inner.observe.metrics.as_ref(),
        &sources,
        db_bytes,
        &config.cluster.node,
    );
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

async fn topic_feed(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ServeError> {
    let file = request
        .uri()
        .path()
        .strip_prefix("/topics/")
        .ok_or(ServeError::NotFound)?;
    let Some((slug, ext)) = file.rsplit_once('.') else {
        return pages::river(&state, file, request.uri().query(), request.headers()).await;
    };
    if ext == "opml" {
        return discovery::topic_opml(&state, slug).await;
    }
    let format = Format::from_extension(ext).ok_or(ServeError::NotFound)?;
    let page =
        paging::PageRequest::from_query(request.uri().query()).map_err(ServeError::BadRequest)?;
    let key = PageKey::Topic {
        topic: slug.to_string(),
        format,
        page,
    };
    // An atomic load, not a query: a cached page that is still current is served from memory.
    // A current page proves its topic exists: a reload that removes one makes every page stale.
    let generation = state.inner.store.generation();
    let rendered = match state.inner.cache.get(&key, generation) {
        Some(r) => r,
        None => {
            if slug != crate::config::ALL_TOPIC && state.config().topic(slug).is_none() {
                return Err(ServeError::UnknownTopic(slug.to_string()));
            }
            let render = topic_page(&state, &key)?;
            cached_page(&state, key, generation, render).await?
        }
    };
    Ok(respond(
        &rendered,
        request.headers(),
        &state.inner.cache_control,
    ))
}

/// What a render produces before it is compressed.
struct PageBody {
    content_type: &'static str,
    body: Vec<u8>,
    last_modified: Timestamp,
}

/// The page for `key` at `generation`: from the cache, else from the render of it already under
/// way, else rendered by `render` on a blocking thread — when admitted (fewer than
/// [`MAX_ADMITTED_RENDERS`] under way, else [`ServeError::Busy`]) and once a render slot is
/// free. The render is abandoned when every request waiting for it is gone.
async fn cached_page<F>(
    state: &AppState,
    key: PageKey,
    generation: u64,
    render: F,
) -> Result<Arc<Rendered>, ServeError>
where
    F: FnOnce(&dyn Store) -> Result<PageBody, StoreError> + Send + 'static,
{
    let start = || {
        let admitted = state
            .inner
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServeError::Busy)?;
        let state = state.clone();
        let key = key.clone();
        Ok(async move {
            let _admitted = admitted;
            match render_off_thread(&state, generation, render).await {
                Ok(rendered) => {
                    let rendered = Arc::new(rendered);
                    state.inner.cache.insert(key, rendered.clone());
                    Ok(rendered)
                }
                Err(e) => {
                    e.log();
                    Err(Arc::new(e))
                }
            }
        }
        .boxed())
    };
    state
        .inner
        .cache
        .get_or_render(&key, generation, start)
        .await
        .map_err(ServeError::Shared)
}

/// Runs `render` and compresses its page on a blocking thread once a render slot is free. The
/// slot is held until the thread is done, not only until this future is: a render abandoned
/// mid-query holds it until SQLite has stopped.
async fn render_off_thread<F>(
    state: &AppState,
    generation: u64,
    render: F,
) -> Result<Rendered, ServeError>
where
    F: FnOnce(&dyn Store) -> Result<PageBody, StoreError> + Send + 'static,
{
    let slot = state
        .inner
        .render_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ServeError::Internal(e.to_string()))?;
    let cancel = Arc::new(ReadCancel::default());
    let _abandon = AbandonOnDrop(cancel.clone());
    let store = state.inner.store.clone();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let page = crate::store::cancellable(cancel.clone(), || render(&*store))?;
        // Compression is the other half of the cost: not for nobody.
        if cancel.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        Ok(Rendered::new(
            generation,
            page.content_type,
            page.body,
            page.last_modified,
        ))
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))?
    .map_err(ServeError::from)
}

/// Cancels the reads of a render when the future waiting for it is dropped: hyper drops a
/// request's future when its client disconnects, and the render's future when the last request
/// waiting for it is gone.
struct AbandonOnDrop(Arc<ReadCancel>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The render of one topic feed page (see [`cached_page`]).
fn topic_page(
    state: &AppState,
    key: &PageKey,
) -> Result<impl FnOnce(&dyn Store) -> Result<PageBody, StoreError> + Send + 'static, ServeError> {
    let PageKey::Topic {
        topic: slug,
        format,
        page: request,
    } = key
    else {
        return Err(ServeError::Internal(format!("not a topic page: {key:?}")));
    };
    let (format, request) = (*format, *request);
    let config = state.config();
    let (title, description, languages) = match config.topic(slug) {
        Some(topic) => (
            topic.title.clone(),
            topic.description.clone(),
            topic.shown_languages().to_vec(),
        ),
        None => (
            "All entries".to_string(),
            Some("Every entry from every source.".to_string()),
            Vec::new(),
        ),
    };
    let base = &config.server.base_url;
    let feed_url = publish::topic_feed_url(base.as_str(), slug, format);
    let page = TopicPage {
        slug: slug.to_string(),
        title,
        description,
        feed_id: format!("{base}topics/{slug}"),
        self_url: request.url(&feed_url),
        first_url: None,
        next_url: None,
        home_url: base.to_string(),
        updated: 0,
        entries: Vec::new(),
        hubs: config
            .server
            .websub_hub
            .iter()
            .map(|h| h.to_string())
            .collect(),
    };
    let topic = TopicSlug::new(slug).map_err(ServeError::BadRequest)?;
    let now = (state.inner.clock)();
    Ok(move |store: &dyn Store| {
        let slice = store.topic_page(&topic, request.before, request.limit())?;
        // Each story in the topic's language when it has a version in it.
        let entries: Vec<_> = slice
            .entries
            .into_iter()
            .map(|e| e.in_languages(&languages))
            .collect();
        // Last-Modified is when the page last changed, and never in the future: the newest change
        // of an entry on it, or the last time stories left pages (which can change a page's
        // entries without changing any of them).
        let last_modified = entries
            .iter()
            .map(|e| e.changed)
            .max()
            .unwrap_or(now)
            .max(slice.shrank_at.unwrap_or(i64::MIN))
            .min(now);
        // Paging links only where there is more than one page (RFC 5005 §3).
        let paged = request.before.is_some() || slice.next.is_some();
        let page = TopicPage {
            updated: entries
                .iter()
                .map(|e| e.updated)
                .max()
                .unwrap_or(last_modified)
                .min(now),
            entries,
            first_url: paged.then(|| request.first_url(&feed_url)),
            next_url: slice.next.map(|next| request.next_url(&feed_url, next)),
            ..page
        };
        Ok(PageBody {
            content_type: format.media_type(),
            body: publish::render(format, &page),
            last_modified,
        })
    })
}

/// A 200 or 304 for a cached page, in the coding the client prefers. Every header value was made
/// when the page was rendered; only reference counts change here.
fn respond(rendered: &Rendered, headers: &HeaderMap, cache_control: &HeaderValue) -> Response {
    let coding = encoding::negotiate(headers.get(header::ACCEPT_ENCODING));
    let variant = rendered.variant(coding);
    let not_modified = conditional::not_modified(headers, rendered.etags(), rendered.last_modified);
    let mut response = if not_modified {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(variant.body.clone()));
        let out = response.headers_mut();
        out.insert(header::CONTENT_TYPE, rendered.content_type.clone());
        if let Some(encoding) = &variant.content_encoding {
            out.insert(header::CONTENT_ENCODING, encoding.clone());
        }
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, variant.etag_header.clone());
    out.insert(header::LAST_MODIFIED, rendered.last_modified_header.clone());
    out.insert(header::CACHE_CONTROL, cache_control.clone());
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests;
