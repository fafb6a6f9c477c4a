//! Carrying out the schedule: the daemon's loop that refreshes sources as they fall due
//! ([`schedule_loop`]), and one cycle over a set of sources ([`run_cycle`], which `fetch` uses
//! through [`refresh_all`] and the loop for each batch of due sources). Groups sources sharing a
//! URL and spreads hosts ([`plan_cycle`]). When a source is due is decided by `scheduler`, what a
//! refresh does by `pipeline`; this module only sequences them, and must not hold either's rules.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::model::{OutcomeKind, SourceId, Timestamp};
use crate::pipeline::{Pipeline, RefreshReport, SourceJob};
use crate::scheduler::Schedule;
use crate::store::Store;
use crate::systemd::{HEARTBEAT, Health, LatestResults};

/// Refresh tasks in flight at once, per unit of `concurrency`: tasks mostly wait (for a host's
/// spacing, for the network), so more of them than fetch slots keep the slots busy, while the
/// bound keeps memory flat with tens of thousands of sources.
pub const TASKS_PER_SLOT: usize = 8;

/// Groups jobs by the URL they are fetched from (a source's own, or an adopted redirect
/// target), so that sources sharing one URL are fetched once per cycle, and orders the groups so
/// that consecutive ones name different hosts where possible: a batch of sources from one
/// publisher then waits on its host's spacing without holding up everyone else.
pub fn plan_cycle(store: &dyn Store, jobs: Vec<SourceJob>) -> Vec<Vec<SourceJob>> {
    let fetch_urls = store.adopted_fetch_urls().unwrap_or_default();
    let mut groups: Vec<(String, Vec<SourceJob>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for job in jobs {
        let url = fetch_urls
            .get(&job.id)
            .cloned()
            .unwrap_or_else(|| job.url.to_string());
        match index.get(&url) {
            Some(&i) => groups[i].1.push(job),
            None => {
                index.insert(url.clone(), groups.len());
                groups.push((url, vec![job]));
            }
        }
    }
    let mut by_host: BTreeMap<String, VecDeque<Vec<SourceJob>>> = BTreeMap::new();
    for (url, group) in groups {
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        by_host.entry(host).or_default().push_back(group);
    }
    let mut out = Vec::new();
    while !by_host.is_empty() {
        by_host.retain(|_, queue| {
            if let Some(group) = queue.pop_front() {
                out.push(group);
            }
            !queue.is_empty()
        });
    }
    out
}

/// Refreshes `jobs` once, calling `report` as each finishes.
pub async fn refresh_all(
    pipeline: &Pipeline,
    jobs: Vec<SourceJob>,
    concurrency: usize,
    mut report: impl FnMut(RefreshReport),
) {
    let tasks = Arc::new(Semaphore::new(concurrency.max(1) * TASKS_PER_SLOT));
    run_cycle(pipeline.clone(), jobs, tasks, |_, r| report(r)).await;
}

/// One cycle over `jobs`: plans them into groups ([`plan_cycle`], off the async workers) and
/// refreshes each group in a task of its own once one of `tasks` is free, calling `report` with
/// each source's report as its group finishes. Waiting for a slot before spawning keeps a cycle
/// over many sources from holding a task for each. Closing `tasks` stops the cycle: groups not
/// yet started never start, running ones finish and commit before this returns.
pub async fn run_cycle(
    pipeline: Pipeline,
    jobs: Vec<SourceJob>,
    tasks: Arc<Semaphore>,
    mut report: impl FnMut(SourceId, RefreshReport),
) {
    let mut set: JoinSet<Vec<(SourceId, RefreshReport)>> = JoinSet::new();
    let store = pipeline.store.clone();
    let groups = tokio::task::spawn_blocking(move || plan_cycle(&*store, jobs))
        .await
        .unwrap_or_default();
    let mut deliver =
        |done: Result<Vec<(SourceId, RefreshReport)>, tokio::task::JoinError>| match done {
            Ok(reports) => reports.into_iter().for_each(|(id, r)| report(id, r)),
            Err(e) => tracing::error!(error = %e, "refresh task failed"),
        };
    for group in groups {
        let Ok(permit) = tasks.clone().acquire_owned().await else {
            break;
        };
        let pipeline = pipeline.clone();
        set.spawn(async move {
            let reports = pipeline.refresh_group(&group).await;
            drop(permit);
            group.iter().map(|job| job.id).zip(reports).collect()
        });
        while let Some(done) = set.try_join_next() {
            deliver(done);
        }
    }
    while let Some(done) = set.join_next().await {
        deliver(done);
    }
    // What the cycle wrote is visible and durable when it returns, not within the store's
    // commit latency.
    let store = pipeline.store.clone();
    match tokio::task::spawn_blocking(move || store.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not commit the cycle's refreshes"),
        Err(e) => tracing::error!(error = %e, "could not commit the cycle's refreshes"),
    }
}

/// The daemon's scheduler: refreshes each source when it falls due, follows reloaded jobs, and
/// beats `health` at least every [`HEARTBEAT`]. On `stop`, refreshes waiting for a slot are
/// dropped and running ones finish and commit (the caller bounds how long this may take).
pub async fn schedule_loop(
    config: Arc<Config>,
    pipeline: Pipeline,
    jobs: Vec<SourceJob>,
    health: Arc<Health>,
    mut reloads: mpsc::UnboundedReceiver<Vec<SourceJob>>,
    mut stop: watch::Receiver<bool>,
) {
    // Whether each source's latest refresh succeeded, for STATUS= and /healthz.
    let mut results = LatestResults::default();
    let mut schedule = Schedule::default();
    let mut by_id: HashMap<SourceId, SourceJob> = HashMap::new();
    let mut in_flight: HashSet<SourceId> = HashSet::new();
    adopt_jobs(&pipeline, &mut schedule, &mut by_id, &in_flight, jobs).await;

    let tasks = Arc::new(Semaphore::new(
        config.fetch.concurrency.max(1) * TASKS_PER_SLOT,
    ));
    // Each batch of due sources is a cycle of its own; they share the slots, and their reports
    // come back here one source at a time. The loop keeps a sender, so `done` never closes.
    let mut cycles: JoinSet<()> = JoinSet::new();
    let (done_tx, mut done) = mpsc::unbounded_channel::<(SourceId, Timestamp, bool)>();
    loop {
        health.beat();
        let now = (pipeline.clock)();
        let due: Vec<SourceJob> = schedule
            .take_due(now)
            .into_iter()
            .filter_map(|id| by_id.get(&id).cloned())
            .collect();
        in_flight.extend(due.iter().map(|j| j.id));
        if !due.is_empty() {
            let done_tx = done_tx.clone();
            cycles.spawn(run_cycle(
                pipeline.clone(),
                due,
                tasks.clone(),
                move |id, r| {
                    let ok = r.outcome.kind() != OutcomeKind::Failed;
                    let _ = done_tx.send((id, r.next_due, ok));
                },
            ));
        }
        let sleep_for = schedule
            .next_at()
            .map(|at| Duration::from_secs(u64::try_from(at - now).unwrap_or(0).max(1)))
            .unwrap_or(HEARTBEAT)
            .min(HEARTBEAT);
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            Some((id, next_due, ok)) = done.recv() => {
                in_flight.remove(&id);
                if by_id.contains_key(&id) {
                    schedule.insert(next_due, id);
                    results.record(id, ok);
                }
                health.set_cycle(results.summary((pipeline.clock)()));
            }
            Some(_) = cycles.join_next() => {}
            Some(jobs) = reloads.recv() => {
                adopt_jobs(&pipeline, &mut schedule, &mut by_id, &in_flight, jobs).await;
                results.retain(|id| by_id.contains_key(&id));
            }
            _ = tokio::time::sleep(sleep_for) => {}
        }
    }
    // A closed semaphore means stop: refreshes waiting for a slot never start, running ones
    // finish and commit.
    tasks.close();
    while cycles.join_next().await.is_some() {}
}

/// Makes the scheduler poll exactly `jobs`: sources new to it are due when the store says (a
/// source polled shortly before a restart keeps its due time, so restarts do not hammer), or
/// now; sources gone from the config leave the schedule (their entries stay until retention).
async fn adopt_jobs(
    pipeline: &Pipeline,
    schedule: &mut Schedule,
    by_id: &mut HashMap<SourceId, SourceJob>,
    in_flight: &HashSet<SourceId>,
    jobs: Vec<SourceJob>,
) {
    let now = (pipeline.clock)();
    let due_at: HashMap<SourceId, Timestamp> = {
        let store = pipeline.store.clone();
        tokio::task::spawn_blocking(move || store.source_states())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| Some((s.id, s.next_due_at?)))
            .collect()
    };
    let next: HashMap<SourceId, SourceJob> = jobs.into_iter().map(|j| (j.id, j)).collect();
    schedule.retain(|id| next.contains_key(&id));
    let scheduled: HashSet<SourceId> = schedule.sources().collect();
    for id in next.keys() {
        if in_flight.contains(id) || scheduled.contains(id) {
            continue;
        }
        let due = due_at
            .get(id)
            .copied()
            .filter(|at| *at > now)
            .unwrap_or(now);
        schedule.insert(due, *id);
    }
    *by_id = next;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: SourceId, url: &str) -> SourceJob {
        let config = Config::parse(std::path::Path::new("feeds.toml"), "").expect("empty config");
        SourceJob {
            id,
            url: url::Url::parse(url).expect("test URL"),
            allow_private: false,
            policy: crate::scheduler::Policy {
                base: Duration::from_secs(1800),
                min: Duration::from_secs(300),
                max: Duration::from_secs(86_400),
            },
            identity: None,
            tracking_params: Arc::new(Vec::new()),
            origins: true,
            limits: Default::default(),
            topics: Vec::new(),
            rules: Arc::new(crate::topics::TopicRules::new(&config)),
        }
    }

    #[test]
    fn plan_cycle_fetches_a_shared_url_once_and_alternates_hosts() {
        let store = crate::store::SqliteStore::open_in_memory().expect("store");
        let urls = [
            "https://a.example/1",
            "https://a.example/2",
            "https://b.example/1",
            "https://c.example/old",
        ];
        let specs: Vec<crate::store::SourceSpec> = urls
            .iter()
            .map(|url| crate::store::SourceSpec {
                url: url.to_string(),
                title: None,
                topics: Vec::new(),
            })
            .collect();
        let ids = store.sync_sources(&specs).expect("sync");
        // The last source adopted a redirect to the first one's URL.
        store
            .record_schedule(
                ids[3],
                &crate::model::ScheduleRecord {
                    fetch_url: Some(urls[0].to_string()),
                    ..Default::default()
                },
            )
            .expect("schedule");
        let jobs: Vec<SourceJob> = ids.iter().zip(urls).map(|(id, u)| job(*id, u)).collect();
        let planned: Vec<Vec<&str>> = plan_cycle(&store, jobs)
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|j| urls[ids.iter().position(|id| *id == j.id).expect("known")])
                    .collect()
            })
            .collect();
        assert_eq!(
            planned,
            vec![
                vec!["https://a.example/1", "https://c.example/old"],
                vec!["https://b.example/1"],
                vec!["https://a.example/2"],
            ]
        );
    }
}
