//! Builds the store, fetcher, pipeline, scheduler loop and server from a [`Config`], and stops them
//! in order: server first (no new requests), then the scheduler (running refreshes finish and
//! commit), then the store, all within one grace period after which whatever is left is
//! abandoned. Wiring only: the scheduler loop itself is in `cycle`; does no per-feed work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::config::Config;
use crate::fetch::{FetchSettings, Fetcher};
use crate::model::{SourceId, TopicSlug};
use crate::pipeline::{Pipeline, SourceJob, system_clock};
use crate::store::{MEMBERSHIP_SETTING, SourceSpec, Store};
use crate::systemd::{Health, Notifier};
use crate::topics::TopicRules;

/// How long requests in flight, running refreshes and background tasks get to finish after a
/// stop signal before they are abandoned (an abandoned refresh's transaction rolls back whole).
const DRAIN_TIMEOUT: Duration = crate::server::SHUTDOWN_GRACE;

pub use crate::cycle::{plan_cycle, refresh_all};
pub use crate::systemd::HEARTBEAT;

/// Opens the store and makes its sources match the config. Returns the jobs in config order.
pub fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Vec<SourceJob>)> {
    let store = open_database(config)?;
    let jobs = configure_store(store.as_ref(), config)?;
    Ok((store, jobs))
}

/// Opens the database `[storage]` selects (see [`crate::store::open_configured`]), without
/// touching its sources.
pub fn open_database(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.storage.engine {
        crate::config::StorageEngine::Sqlite => {
            crate::store::open_configured(&config.storage, &config.cluster)
                .with_context(|| format!("opening {}", config.storage.path.display()))
        }
        // One line that names the database (host:port/db, never the password): the store's
        // error already carries the client's cause, which the chain would repeat.
        crate::config::StorageEngine::Postgres { .. } => {
            crate::store::open_configured(&config.storage, &config.cluster)
                .map_err(|e| anyhow::anyhow!("opening the PostgreSQL database: {}", causes(&e)))
        }
    }
}

/// `error` and its causes on one line, each cause once (an error's message often repeats its
/// source's).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        cause = e.source();
    }
    line
}

/// Opens the database to read what it holds: SQLite read-only when the file exists (see
/// [`crate::store::open_for_reading`]), PostgreSQL as any node does.
pub fn open_for_reading(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.storage.engine {
        crate::config::StorageEngine::Sqlite => {
            Ok(crate::store::open_for_reading(&config.storage.path)?)
        }
        crate::config::StorageEngine::Postgres { .. } => open_database(config),
    }
}

/// How often a daemon whose database cannot be written tries to take the writer back.
pub const WRITE_RETRY: Duration = Duration::from_secs(5);

/// [`open_store`], or, when the database exists but cannot be written (a full disk, a read-only
/// file system), the database opened read-only with no jobs and its condition recorded: what is
/// stored can still be served and read. `run` then polls nothing until [`recover_writes`] takes
/// the writer back.
pub fn open_store_or_read_only(
    config: &Config,
) -> anyhow::Result<(Arc<dyn Store>, Vec<SourceJob>)> {
    let error = match open_store(config) {
        Ok(opened) => return Ok(opened),
        Err(e) => e,
    };
    if config.storage.engine != crate::config::StorageEngine::Sqlite {
        return Err(error);
    }
    let path = &config.storage.path;
    let why = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<crate::store::StoreError>())
        .and_then(crate::store::StoreError::cannot_write);
    let Some(why) = why.filter(|_| path.exists()) else {
        return Err(error);
    };
    let store = crate::store::open_read_only(path).with_context(|| {
        format!(
            "opening {} read-only after it could not be written ({error:#})",
            path.display()
        )
    })?;
    store.set_condition(format!("{why}: {error:#}"));
    Ok((store, Vec::new()))
}

/// Makes the store's sources, dedup settings and topic membership follow `config` (at start and
/// on reload). Returns the jobs in config order.
pub fn configure_store(store: &dyn Store, config: &Config) -> anyhow::Result<Vec<SourceJob>> {
    let specs: Vec<SourceSpec> = config
        .sources
        .iter()
        .map(|s| SourceSpec {
            url: s.url.to_string(),
            title: s.title.clone(),
            topics: s.topics.clone(),
        })
        .collect();
    let ids = store.sync_sources(&specs)?;
    store.set_near_duplicates(crate::store::NearDuplicates {
        threshold: config.dedup.near_duplicate_threshold,
        window: i64::try_from(config.dedup.window.as_secs()).unwrap_or(i64::MAX),
        origins: config.dedup.origins,
    });
    let tracking = Arc::new(config.dedup.tracking_params.clone());
    let rules = Arc::new(TopicRules::new(config));
    update_membership(store, config, &ids, &rules)?;
    let jobs = config
        .sources
        .iter()
        .zip(ids)
        .map(|(s, id)| SourceJob {
            id,
            url: s.url.clone(),
            allow_private: config.fetch.allow_private_networks || s.allow_private,
            identity: s.identity,
            tracking_params: tracking.clone(),
            origins: config.dedup.origins,
            limits: crate::normalize::Limits {
                max_entries: config.storage.max_entries_per_source,
                max_entry_size: config.storage.max_entry_size,
            },
            topics: s.topics.clone(),
            rules: rules.clone(),
            policy: crate::scheduler::Policy {
                base: config.interval_of(s),
                min: config.fetch.min_interval,
                max: config.fetch.max_interval,
            },
        })
        .collect();
    Ok(jobs)
}

/// Recomputes the topics of stored entries when the topic rules or the sources' topics differ
/// from those the stored membership was computed with.
fn update_membership(
    store: &dyn Store,
    config: &Config,
    ids: &[SourceId],
    rules: &TopicRules,
) -> anyhow::Result<()> {
    if store.setting(MEMBERSHIP_SETTING)?.as_deref() == Some(rules.fingerprint()) {
        return Ok(());
    }
    let listed: HashMap<SourceId, &[TopicSlug]> = ids
        .iter()
        .zip(&config.sources)
        .map(|(id, s)| (*id, s.topics.as_slice()))
        .collect();
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp();
    let stories = store.rebuild_membership(rules.fingerprint(), now, &mut |source, story| {
        // A source gone from feeds.toml lists no topics; its stories stay in `all` and in topics
        // that take every source.
        let listed = listed.get(&source).copied().unwrap_or_default();
        rules.assign(listed, &crate::topics::stored_view(story))
    })?;
    tracing::info!(
        stories,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "topic rules changed: membership recomputed"
    );
    Ok(())
}

pub fn build_pipeline(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Pipeline> {
    let mut settings = FetchSettings::new(
        config.fetch.user_agent.clone(),
        config.fetch.timeout,
        config.fetch.max_body,
    );
    settings.proxy = config.fetch.proxy.clone();
    settings.concurrency = config.fetch.concurrency;
    settings.per_host = config.fetch.per_host;
    settings.host_delay = config.fetch.host_delay;
    // Nodes sharing the database share each host's turns too.
    let shared = store.node().is_some().then(|| {
        Arc::new(StoreHosts {
            store: store.clone(),
            policy: crate::store::HostPolicy {
                per_host: config.fetch.per_host,
                spacing: config.fetch.host_delay,
                slow_spacing: config.fetch.host_delay * crate::fetch::SLOWDOWN,
                // A request ends within the fetch timeout of its turn: twice that is left to a
                // node that died holding one.
                hold: config.fetch.timeout * 2,
            },
        }) as Arc<dyn crate::fetch::SharedHosts>
    });
    let fetcher = Fetcher::sharing_hosts(settings, shared)?;
    Ok(Pipeline {
        store,
        fetcher,
        clock: system_clock(),
        jitter: crate::pipeline::random_jitter(),
    })
}

/// Turns at hosts kept in the store, for nodes that share it (see [`Store::take_host_turn`]).
struct StoreHosts {
    store: Arc<dyn Store>,
    policy: crate::store::HostPolicy,
}

impl crate::fetch::SharedHosts for StoreHosts {
    fn take(&self, host: &str) -> Result<crate::fetch::SharedTurn, String> {
        match self.store.take_host_turn(host, &self.policy) {
            Ok(crate::store::HostTurn::Go { slot, wait }) => {
                Ok(crate::fetch::SharedTurn::Go { slot, wait })
            }
            Ok(crate::store::HostTurn::Busy { retry }) => {
                Ok(crate::fetch::SharedTurn::Busy { retry })
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn give_back(&self, host: &str, slot: i64) {
        if let Err(e) = self.store.give_back_host_turn(host, slot) {
            tracing::warn!(url = %host, error = %e, "cannot give a host turn back");
        }
    }

    fn slow_down(&self, host: &str, for_how_long: Duration) {
        if let Err(e) = self.store.slow_host(host, for_how_long) {
            tracing::warn!(url = %host, error = %e, "cannot tell the other nodes to slow down");
        }
    }
}

/// `tributary run`: scheduler and HTTP server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut signals = Signals::register()?;
    let config = Arc::new(config);
    // Off the async workers: a PostgreSQL store's client blocks on a runtime of its own.
    let (store, jobs) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_store_or_read_only(&config))
            .await
            .context("opening the database")??
    };
    if let Some(condition) = store.condition() {
        tracing::error!(
            error = %condition,
            "the database cannot be written: serving what is stored; polling starts once it can"
        );
    }
    let pipeline = build_pipeline(&config, store.clone())?;
    let notifier = Notifier::from_env();
    let health = Arc::new(Health::default());
    let listener = match crate::systemd::inherited_listener()
        .context("taking the socket passed by the service manager (LISTEN_FDS)")?
    {
        Some(inherited) => {
            inherited
                .set_nonblocking(true)
                .context("configuring the inherited socket")?;
            tokio::net::TcpListener::from_std(inherited)
                .context("using the socket passed by the service manager")?
        }
        None => tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("binding {}", config.server.listen))?,
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| config.server.listen.to_string(), |a| a.to_string());
    let open_files = raise_open_file_limit();
    let max_connections = crate::server::connection_cap(open_files, config.fetch.concurrency);
    tracing::info!(
        listen = %local,
        base_url = %config.server.base_url,
        sources = jobs.len(),
        open_files,
        max_connections,
        "serving"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let (reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let (config_tx, _) = watch::channel(config.clone());
    health.beat();
    let scheduler = tokio::spawn(crate::cycle::schedule_loop(
        config.clone(),
        pipeline,
        jobs,
        health.clone(),
        reload_rx,
        stop_rx.clone(),
    ));
    let watchdog = tokio::spawn(watchdog_loop(
        notifier.clone(),
        health.clone(),
        store.clone(),
        stop_rx.clone(),
    ));

    let checkpointer = tokio::spawn(checkpoint_loop(store.clone(), stop_rx.clone()));
    let recovery = store.is_read_only().then(|| {
        tokio::spawn(recover_writes(
            store.clone(),
            config_tx.subscribe(),
            reload_tx.clone(),
            stop_rx.clone(),
        ))
    });
    let pruner = tokio::spawn(prune_loop(
        store.clone(),
        config_tx.subscribe(),
        stop_rx.clone(),
    ));
    let observe = crate::server::Observe {
        health: Some(health.clone()),
        metrics: crate::metrics::install(&config.cluster.node),
    };
    let state = crate::server::AppState::following(
        store.clone(),
        config_tx.subscribe(),
        system_clock(),
        observe,
    );
    // The hub and the base URL are read at start: a reload that changes them takes a restart.
    let websub = config.server.websub_hub.clone().map(|hub| {
        tracing::info!(hub = %hub, "announcing topic feed changes to the WebSub hub");
        tokio::spawn(crate::websub::run(
            store.clone(),
            hub,
            config.server.base_url.clone(),
            crate::websub::Timing::default(),
            stop_rx.clone(),
        ))
    });
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(
        crate::server::serve_with(
            listener,
            crate::server::router(state),
            async move {
                let _ = server_stop.wait_for(|s| *s).await;
            },
            crate::server::Limits {
                max_connections,
                grace: DRAIN_TIMEOUT,
            },
        )
        .context("starting the HTTP workers")?,
    );
    // Migrations ran in open_store and the listener is bound: ready.
    notifier.ready(&health.status_line(system_clock()()));

    let mut running_config = config.clone();
    while !signals.next_is_stop().await {
        notifier.reloading();
        match reload(&running_config, &store).await {
            Ok((next, jobs)) => {
                tracing::info!(
                    sources = next.sources.len(),
                    topics = next.topics.len(),
                    "configuration reloaded"
                );
                running_config = next.clone();
                let _ = reload_tx.send(jobs);
                config_tx.send_replace(next);
                // Rendered pages carry topic titles and descriptions: render them again. After
                // the new config is in place, so a page rendered meanwhile from the old one is
                // not taken for current.
                store.invalidate();
                notifier.ready(&health.status_line(system_clock()()));
            }
            Err(e) => {
                tracing::error!(
                    error = %format!("{e:#}"),
                    "reload rejected: keeping the running configuration"
                );
                notifier.ready(&format!("reload rejected: {e:#}"));
            }
        }
    }
    tracing::info!("stopping");
    notifier.stopping();
    let _ = stop_tx.send(true);
    // One grace period, counted from the stop signal, for everything at once: whatever has not
    // finished by then is abandoned, so the process exits well within the unit's
    // TimeoutStopSec however long a refresh or a client would have taken.
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    // The server closes what is still open at its own deadline; the margin lets it notice.
    finish_by(deadline + Duration::from_secs(1), server, "server").await;
    finish_by(deadline, scheduler, "running refreshes").await;
    if store.node().is_some() {
        // Sources claimed but not refreshed go to the other nodes now, not when the leases run
        // out.
        let releasing = tokio::task::spawn_blocking({
            let store = store.clone();
            move || store.release_leases()
        });
        match tokio::time::timeout_at(deadline, releasing).await {
            Ok(Ok(Ok(released))) => tracing::info!(sources = released, "leases released"),
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, "cannot release leases: they run out on their own")
            }
            Ok(Err(_)) | Err(_) => tracing::warn!("leases not released: they run out on their own"),
        }
    }
    finish_by(deadline, checkpointer, "checkpoint").await;
    if let Some(recovery) = recovery {
        finish_by(deadline, recovery, "write recovery").await;
    }
    finish_by(deadline, pruner, "prune").await;
    finish_by(deadline, watchdog, "watchdog").await;
    if let Some(websub) = websub {
        // An announcement still in flight is dropped: readers that poll see the change anyway.
        finish_by(deadline, websub, "WebSub publisher").await;
    }
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// While the database cannot be written, tries every [`WRITE_RETRY`] to take the writer back;
/// once it can, makes the store follow the running config and hands the jobs to the scheduler,
/// which starts polling.
async fn recover_writes(
    store: Arc<dyn Store>,
    config: watch::Receiver<Arc<Config>>,
    jobs: tokio::sync::mpsc::UnboundedSender<Vec<SourceJob>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut writable = false;
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            _ = tokio::time::sleep(WRITE_RETRY) => {}
        }
        let store = store.clone();
        let config = config.borrow().clone();
        let attempt = tokio::task::spawn_blocking(move || {
            if !writable && !store.reopen_writable() {
                return (false, None);
            }
            (true, Some(configure_store(&*store, &config)))
        })
        .await;
        match attempt {
            Ok((reopened, configured)) => {
                writable = reopened;
                match configured {
                    Some(Ok(configured)) => {
                        tracing::info!(
                            sources = configured.len(),
                            "the database can be written again: polling resumes"
                        );
                        let _ = jobs.send(configured);
                        return;
                    }
                    Some(Err(e)) => tracing::warn!(
                        error = %format!("{e:#}"),
                        "the database can be written again but the sources could not be set up; retrying"
                    ),
                    None => {}
                }
            }
            Err(_) => return,
        }
    }
}

/// Raises the soft limit on open files to the hard limit, as the soft one (often 1024) is there
/// for programs that use `select()`, which we do not; returns the soft limit in force. A refusal
/// (the unit's system-call filter forbids `setrlimit`, where `LimitNOFILE=` sets both limits
/// anyway) keeps the limit as it was.
fn raise_open_file_limit() -> u64 {
    let (soft, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit; assuming 1024");
            return 1024;
        }
    };
    if soft >= hard {
        return soft;
    }
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => raised,
        Err(e) => {
            tracing::info!(error = %e, soft, hard, "cannot raise the open-file limit");
            soft
        }
    }
}

/// Waits for `task` until `deadline`, then abandons it: aborting drops whatever it was waiting
/// for, so a refresh that had not committed rolls back whole, and its work on blocking threads
/// is left to the end of the process.
async fn finish_by<T>(
    deadline: tokio::time::Instant,
    mut task: tokio::task::JoinHandle<T>,
    what: &str,
) {
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "{what} task failed"),
        Err(_) => {
            task.abort();
            tracing::warn!(
                "{what} did not finish within the {} s grace period: abandoned",
                DRAIN_TIMEOUT.as_secs()
            );
        }
    }
}

/// Re-reads the configuration file of `current` and makes the store follow it. Sources, topics,
/// dedup and retention settings take effect; `[server]`, `[storage] path` and `[fetch]` settings
/// need a restart (changed ones are kept as they were, with a warning).
async fn reload(
    current: &Arc<Config>,
    store: &Arc<dyn Store>,
) -> anyhow::Result<(Arc<Config>, Vec<SourceJob>)> {
    let path = current.path.clone();
    let mut next = tokio::task::spawn_blocking(move || {
        Config::load_in(&path, &crate::config::ServiceDirs::from_env())
    })
    .await
    .context("reading the configuration")??;
    if next.storage.path != current.storage.path {
        tracing::warn!(
            "[storage] path changed: it takes effect at the next restart; keeping {}",
            current.storage.path.display()
        );
        next.storage.path = current.storage.path.clone();
    }
    // The server, its caches and the WebSub announcer were built from [server] at start: keep
    // it whole, so feeds never advertise a hub or base URL nothing announces to.
    if next.server != current.server {
        tracing::warn!("[server] changed: it takes effect at the next restart");
    }
    next.server = current.server.clone();
    let next = Arc::new(next);
    let jobs = {
        let store = store.clone();
        let next = next.clone();
        tokio::task::spawn_blocking(move || configure_store(&*store, &next))
            .await
            .context("applying the configuration")??
    };
    Ok((next, jobs))
}

/// Applies the retention settings now.
pub fn prune_now(
    store: &dyn Store,
    config: &Config,
) -> Result<crate::store::PruneStats, crate::store::StoreError> {
    let now = chrono::Utc::now().timestamp();
    store.prune(
        now,
        i64::try_from(config.storage.retention.as_secs()).unwrap_or(i64::MAX),
        config.storage.max_entries_per_source,
    )
}

/// A stored story that matches a topic's rules, and every rule that let it in.
#[derive(Debug, Clone)]
pub struct TopicMatch {
    pub story: crate::model::StoryForTopics,
    pub reasons: Vec<crate::topics::Reason>,
}

/// What `test-topic` found.
#[derive(Debug, Clone, Default)]
pub struct TopicTest {
    /// The newest matches, at most the limit asked for.
    pub matches: Vec<TopicMatch>,
    /// How many stored stories match in all.
    pub matched: usize,
    pub stories: usize,
}

/// Evaluates topic `slug`'s rules as feeds.toml has them now against every stored story, without
/// changing the store (so rules can be tried before the daemon is reloaded).
pub fn test_topic(
    store: &dyn Store,
    config: &Config,
    slug: &str,
    limit: usize,
) -> anyhow::Result<TopicTest> {
    if config.topic(slug).is_none() {
        let known: Vec<&str> = config.topics.iter().map(|t| t.slug.as_str()).collect();
        anyhow::bail!(
            "unknown topic \"{slug}\" (topics in feeds.toml: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let rules = TopicRules::new(config);
    let listed: HashMap<SourceId, &[TopicSlug]> = store
        .source_states()?
        .into_iter()
        .filter_map(|state| {
            config
                .source(&state.url)
                .map(|s| (state.id, s.topics.as_slice()))
        })
        .collect();
    let mut test = TopicTest::default();
    store.visit_stories(&mut |story| {
        test.stories += 1;
        let view = crate::topics::stored_view(story);
        let reasons = story.sources.iter().find_map(|source| {
            let listed = listed.get(source).copied().unwrap_or_default();
            rules.explain(slug, listed, &view)
        });
        if let Some(reasons) = reasons {
            test.matched += 1;
            if test.matches.len() < limit {
                test.matches.push(TopicMatch {
                    story: story.clone(),
                    reasons,
                });
            }
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(test)
}

/// How often the daemon prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The cluster job ([`Store::claim_job`]) that prunes.
pub const PRUNE_JOB: &str = "prune";

/// Prunes as [`prune_now`] does, unless another node sharing the database pruned within the
/// last [`PRUNE_EVERY`] (then `None`). A node alone always prunes.
pub fn prune_once_for_the_cluster(
    store: &dyn Store,
    config: &Config,
) -> Result<Option<crate::store::PruneStats>, crate::store::StoreError> {
    let now = chrono::Utc::now().timestamp();
    // A minute short of the period: a node whose timer fires a little early still prunes.
    let every = i64::try_from(PRUNE_EVERY.as_secs()).unwrap_or(i64::MAX) - 60;
    if !store.claim_job(PRUNE_JOB, now, every)? {
        return Ok(None);
    }
    prune_now(store, config).map(Some)
}

/// Prunes once a day (the first time an hour after start, so that a restart loop does not prune
/// over and over).
async fn prune_loop(
    store: Arc<dyn Store>,
    config: watch::Receiver<Arc<Config>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(3600),
        PRUNE_EVERY,
    );
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            _ = tick.tick() => {
                // The retention settings in force now, after any reload.
                let (store, config) = (store.clone(), config.borrow().clone());
                match tokio::task::spawn_blocking(move || prune_once_for_the_cluster(&*store, &config)).await {
                    Ok(Ok(Some(stats))) => tracing::info!(entries = stats.entries, sightings = stats.sightings, "pruned"),
                    Ok(Ok(None)) => tracing::debug!("another node pruned within the day"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "prune failed"),
                    Err(e) => tracing::warn!(error = %e, "prune task failed"),
                }
            }
        }
    }
}

/// Pings systemd's watchdog while the scheduler makes progress and the database answers, and
/// keeps `STATUS=` current. A stuck scheduler or database stops the pings, so systemd restarts
/// the service.
async fn watchdog_loop(
    notifier: Notifier,
    health: Arc<Health>,
    store: Arc<dyn Store>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(every) = notifier.watchdog_interval() else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            _ = tick.tick() => {
                match health.check(&store).await {
                    Ok(()) => {
                        notifier.watchdog(&health.status_line(system_clock()()));
                    }
                    Err(reason) => {
                        tracing::error!(error = %reason, "unhealthy: not pinging the watchdog");
                        notifier.status(&format!("unhealthy: {reason}"));
                    }
                }
            }
        }
    }
}

/// Runs `work` with the WAL checkpointed in the background meanwhile (as `run` does), for
/// one-shot commands that store many refreshes.
pub async fn with_checkpoints<T>(
    store: Arc<dyn Store>,
    work: impl std::future::Future<Output = T>,
) -> T {
    let (stop_tx, stop_rx) = watch::channel(false);
    let checkpointer = tokio::spawn(checkpoint_loop(store, stop_rx));
    let out = work.await;
    let _ = stop_tx.send(true);
    let _ = checkpointer.await;
    out
}

/// Moves the WAL into the database off the refresh path: every [`CHECKPOINT_INTERVAL`], and
/// sooner whenever enough was written for one to be due (see [`Store::checkpoint_due`]).
async fn checkpoint_loop(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::store::CHECKPOINT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            _ = tick.tick() => {}
            _ = store.checkpoint_wanted() => {}
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checkpoint failed"),
            Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
        }
    }
}

/// The signals `run` acts on, registered before anything else starts so that none arriving
/// during start-up falls back to the default action (termination without cleanup).
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    /// SIGHUP: re-read the configuration.
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            hangup: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
        })
    }

    /// The next signal: `true` to stop (SIGTERM, SIGINT), `false` to reload (SIGHUP).
    async fn next_is_stop(&mut self) -> bool {
        tokio::select! {
            _ = self.terminate.recv() => true,
            _ = self.interrupt.recv() => true,
            _ = self.hangup.recv() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FeedMeta, NewEntry, Validators};
    use crate::store::{CHECKPOINT_AFTER_ENTRIES, Fetched};

    #[test]
    fn a_lone_node_prunes_every_time_it_is_asked() {
        let store = crate::store::SqliteStore::open_in_memory().expect("store");
        let config = Config::parse(std::path::Path::new("feeds.toml"), "").expect("config");
        for _ in 0..2 {
            assert_eq!(
                prune_once_for_the_cluster(&store, &config).expect("prune"),
                Some(crate::store::PruneStats::default())
            );
        }
    }

    #[test]
    #[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
    fn the_daily_prune_runs_on_one_node_of_a_cluster() {
        let db = crate::store::postgres::testing::TestDatabase::create()
            .unwrap_or_else(|e| panic!("{e}"));
        let a = crate::store::PostgresStore::open(db.url(), "a").expect("node a");
        let b = crate::store::PostgresStore::open(db.url(), "b").expect("node b");
        let config = Config::parse(std::path::Path::new("feeds.toml"), "").expect("config");
        // Whatever the prune itself answers, node a took the day's turn...
        assert!(!matches!(prune_once_for_the_cluster(&a, &config), Ok(None)));
        // ...so node b, whose timer fires later the same day, leaves it.
        assert!(matches!(prune_once_for_the_cluster(&b, &config), Ok(None)));
    }

    /// The requests of a node fetching with another take their turns at a host from the database
    /// (and give them back), so that the other node counts them.
    #[test]
    #[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
    fn a_node_sharing_the_database_takes_host_turns_from_it() {
        use std::io::{Read, Write};
        let db = crate::store::postgres::testing::TestDatabase::create()
            .unwrap_or_else(|e| panic!("{e}"));
        let a = Arc::new(crate::store::PostgresStore::open(db.url(), "a").expect("node a"));
        let b = crate::store::PostgresStore::open(db.url(), "b").expect("node b");
        crate::store::postgres::testing::together(&[&a, &b]);
        let store: Arc<dyn Store> = a;
        let feeds = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = feeds.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in feeds.incoming().take(1) {
                let Ok(mut stream) = stream else { continue };
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let body = "<rss version=\"2.0\"><channel><title>A</title></channel></rss>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let config = Config::parse(
            std::path::Path::new("feeds.toml"),
            "[fetch]\nper_host = 3\nhost_delay = \"5s\"\n",
        )
        .expect("config");
        let pipeline = build_pipeline(&config, store).expect("pipeline");
        let url = url::Url::parse(&format!("http://{addr}/feed.xml")).expect("url");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let fetched = runtime.block_on(pipeline.fetcher.get(&url, None, true));
        assert!(
            matches!(fetched, Ok(crate::fetch::FetchOutcome::Fetched(_))),
            "{fetched:?}"
        );
        let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("database");
        let host = addr.to_string();
        let spaced: i64 = client
            .query_one(
                "SELECT next_at_ms - (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
                 FROM host_turns WHERE host = $1",
                &[&host],
            )
            .expect("the host's turn is in the database")
            .get(0);
        assert!(
            spaced > 3_000,
            "the next request to the host waits host_delay: {spaced} ms"
        );
        // The turn goes back once the request is over.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let held = |client: &mut postgres::Client| -> i64 {
            client
                .query_one(
                    "SELECT count(*) FROM host_slots WHERE host = $1 AND leased_by IS NOT NULL",
                    &[&host],
                )
                .expect("slots")
                .get(0)
        };
        while held(&mut client) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(held(&mut client), 0);
        drop(runtime);
    }

    #[tokio::test]
    async fn the_checkpoint_task_runs_once_enough_was_written_not_only_on_the_interval() {
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open_in_memory().expect("store"));
        let ids = store
            .sync_sources(&[SourceSpec {
                url: "https://a.example/feed".into(),
                title: None,
                topics: vec![],
            }])
            .expect("sync");
        let writer = store.clone();
        with_checkpoints(store, async move {
            // Past the interval's first tick, which checkpoints at once.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let entries: Vec<NewEntry> = (0..CHECKPOINT_AFTER_ENTRIES)
                .map(|i| NewEntry::bare(&i.to_string(), &format!("Story {i}"), 1_700_000_000))
                .collect();
            writer
                .record_document(
                    ids[0],
                    &FeedMeta::default(),
                    &entries,
                    &Fetched::plain(&Validators::default()),
                    1_700_000_000,
                )
                .expect("record");
            // The interval is 10 s: only the store's signal brings a checkpoint this soon.
            tokio::time::timeout(Duration::from_secs(2), async {
                while writer.checkpoint_due() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .expect("checkpointed without waiting for the interval");
        })
        .await;
    }
}
