//! Builds the store, fetcher, pipeline, scheduler loop and server from a [`Config`], and stops them
//! in order: server first (no new requests), then the scheduler (running refreshes finish and
//! commit), then the store. Does no per-feed work itself.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::fetch::{FetchSettings, Fetcher};
use crate::model::SourceId;
use crate::pipeline::{Pipeline, RefreshReport, SourceJob, system_clock};
use crate::scheduler::{Schedule, next_due};
use crate::store::{SourceSpec, Store};

/// How long running refreshes get to finish after a stop signal before they are abandoned
/// (an abandoned refresh's transaction rolls back whole).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the store and makes its sources match the config. Returns the jobs in config order.
pub fn open_store(config: &Config) -> anyhow::Result<(Arc<Store>, Vec<SourceJob>)> {
    let store = Store::open(&config.storage.path)
        .with_context(|| format!("opening {}", config.storage.path.display()))?;
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
    let jobs = config
        .sources
        .iter()
        .zip(ids)
        .map(|(s, id)| SourceJob {
            id,
            url: s.url.clone(),
        })
        .collect();
    Ok((Arc::new(store), jobs))
}

pub fn build_pipeline(config: &Config, store: Arc<Store>) -> anyhow::Result<Pipeline> {
    let fetcher = Fetcher::new(FetchSettings {
        user_agent: config.fetch.user_agent.clone(),
        timeout: config.fetch.timeout,
        connect_timeout: Duration::from_secs(10).min(config.fetch.timeout),
        max_body: config.fetch.max_body,
    })?;
    Ok(Pipeline {
        store,
        fetcher,
        clock: system_clock(),
    })
}

/// Refreshes `jobs` once, at most `concurrency` at a time, calling `report` as each finishes.
pub async fn refresh_all(
    pipeline: &Pipeline,
    jobs: Vec<SourceJob>,
    concurrency: usize,
    mut report: impl FnMut(RefreshReport),
) {
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for job in jobs {
        let pipeline = pipeline.clone();
        let semaphore = semaphore.clone();
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            pipeline.refresh(&job).await
        });
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok(r) => report(r),
            Err(e) => tracing::error!(error = %e, "refresh task failed"),
        }
    }
}

/// `tributary run`: scheduler and HTTP server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let (store, jobs) = open_store(&config)?;
    let pipeline = build_pipeline(&config, store.clone())?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    tracing::info!(
        listen = %config.server.listen,
        base_url = %config.server.base_url,
        sources = jobs.len(),
        "serving"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = tokio::spawn(schedule_loop(
        config.clone(),
        pipeline,
        jobs,
        stop_rx.clone(),
    ));

    let checkpointer = tokio::spawn(checkpoint_loop(store.clone(), stop_rx.clone()));
    let state = crate::server::AppState::new(store.clone(), config.clone(), system_clock());
    let mut server_stop = stop_rx.clone();
    let server =
        axum::serve(listener, crate::server::router(state)).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|s| *s).await;
        });
    let server = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("server did not stop within {DRAIN_TIMEOUT:?}"),
    }
    match tokio::time::timeout(DRAIN_TIMEOUT, scheduler).await {
        Ok(_) => {}
        Err(_) => tracing::warn!(
            "refreshes did not finish within {DRAIN_TIMEOUT:?}; their transactions roll back"
        ),
    }
    let _ = checkpointer.await;
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

async fn schedule_loop(
    config: Arc<Config>,
    pipeline: Pipeline,
    jobs: Vec<SourceJob>,
    mut stop: watch::Receiver<bool>,
) {
    let now = (pipeline.clock)();
    let mut schedule = Schedule::default();
    let mut intervals = std::collections::HashMap::new();
    let mut by_id = std::collections::HashMap::new();
    // A source polled shortly before a restart keeps its due time, so restarts do not hammer.
    let states = {
        let store = pipeline.store.clone();
        tokio::task::spawn_blocking(move || store.source_states())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    for (job, source) in jobs.iter().zip(&config.sources) {
        let due = states
            .iter()
            .find(|s| s.id == job.id)
            .and_then(|s| s.next_due_at)
            .filter(|at| *at > now)
            .unwrap_or(now);
        schedule.insert(due, job.id);
        intervals.insert(job.id, config.interval_of(source));
        by_id.insert(job.id, job.clone());
    }

    let semaphore = Arc::new(Semaphore::new(config.fetch.concurrency));
    let mut running: JoinSet<SourceId> = JoinSet::new();
    loop {
        let now = (pipeline.clock)();
        for id in schedule.take_due(now) {
            let Some(job) = by_id.get(&id).cloned() else {
                continue;
            };
            let pipeline = pipeline.clone();
            let semaphore = semaphore.clone();
            running.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                pipeline.refresh(&job).await;
                job.id
            });
        }
        let sleep_for = schedule
            .next_at()
            .map(|at| Duration::from_secs(u64::try_from(at - now).unwrap_or(0).max(1)))
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            Some(done) = running.join_next() => {
                if let Ok(id) = done {
                    let interval = intervals.get(&id).copied().unwrap_or(config.fetch.interval);
                    let now = (pipeline.clock)();
                    let due = next_due(now, interval, fastrand::f64());
                    schedule.insert(due, id);
                    let store = pipeline.store.clone();
                    let _ = tokio::task::spawn_blocking(move || store.set_next_due(id, due)).await;
                }
            }
            _ = tokio::time::sleep(sleep_for) => {}
        }
    }
    // Let running refreshes finish and commit; the caller bounds how long this may take.
    while running.join_next().await.is_some() {}
}

/// Moves the WAL into the database every [`CHECKPOINT_INTERVAL`], off the refresh path.
async fn checkpoint_loop(store: Arc<Store>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::store::CHECKPOINT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            _ = tick.tick() => {
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.checkpoint()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "checkpoint failed"),
                    Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
