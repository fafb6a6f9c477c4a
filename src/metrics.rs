//! Prometheus metrics: counters and histograms recorded where things happen (fetches, entries,
//! HTTP requests) through the `metrics` facade, and per-source gauges read from the store when
//! `/metrics` is scraped, so they are true even right after a restart.

use std::fmt::Write as _;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::model::{OutcomeKind, RefreshStats, SourceState};

pub const FETCHES: &str = "tributary_fetches_total";
pub const FETCH_DURATION: &str = "tributary_fetch_duration_seconds";
pub const ENTRIES: &str = "tributary_entries_total";
pub const HTTP_REQUESTS: &str = "tributary_http_requests_total";
pub const HTTP_CONNECTIONS: &str = "tributary_http_connections";
pub const HTTP_CONNECTIONS_SHED: &str = "tributary_http_connections_shed_total";
pub const HTTP_ACCEPT_ERRORS: &str = "tributary_http_accept_errors_total";

/// Every `outcome` label of [`FETCHES`]: [`OutcomeKind::as_str`] of [`OutcomeKind::ALL`].
pub const FETCH_OUTCOMES: [&str; 4] = ["stored", "not_modified", "unchanged", "failed"];
/// Every `kind` label of [`ENTRIES`].
pub const ENTRY_KINDS: [&str; 3] = ["new", "updated", "merged"];
pub const REPUBLICATIONS: &str = "tributary_republications_total";
/// Every `kind` label of [`REPUBLICATIONS`].
pub const REPUBLICATION_KINDS: [&str; 2] = ["copy", "translation"];

/// Fetch durations from a fast 304 on loopback to a slow server near the timeout.
const FETCH_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The exporter every series of this node is recorded through: each carries `node="<node>"`
/// (`[cluster] node`), so that the nodes behind one load balancer can be told apart, and
/// summed, in one Prometheus.
fn builder(node: &str) -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(FETCH_DURATION.to_string()), FETCH_BUCKETS)?
        .add_global_label("node", node))
}

/// Installs the process-wide recorder, labelling every series with `node`; `None` (logged)
/// when one is installed already.
pub fn install(node: &str) -> Option<PrometheusHandle> {
    let builder = match builder(node) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled");
            return None;
        }
    };
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    match metrics::set_global_recorder(recorder) {
        Ok(()) => {
            describe();
            register_series();
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled");
            None
        }
    }
}

fn describe() {
    metrics::describe_counter!(FETCHES, "Source refreshes by outcome.");
    metrics::describe_histogram!(
        FETCH_DURATION,
        metrics::Unit::Seconds,
        "Time to fetch, parse and store one source."
    );
    metrics::describe_counter!(
        ENTRIES,
        "Entries stored: new, updated, or merged into another source's story."
    );
    metrics::describe_counter!(
        REPUBLICATIONS,
        "Republications joined to the original they credit: as a copy in its language, or as a \
         translation."
    );
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests served, by route and status.");
    metrics::describe_gauge!(HTTP_CONNECTIONS, "HTTP connections open now.");
    metrics::describe_counter!(
        HTTP_CONNECTIONS_SHED,
        "HTTP connections closed, idlest first, to stay under the connection cap."
    );
    metrics::describe_counter!(
        HTTP_ACCEPT_ERRORS,
        "Failures to accept an HTTP connection other than the client giving up (such as running \
         out of file descriptors)."
    );
}

/// Creates every series whose labels are known in advance, at zero: a series that appears only
/// with its first event is invisible to an alert such as `rate(...) > 0` or `absent(...)` until
/// then, and a restart would look like the series vanishing.
pub fn register_series() {
    for outcome in FETCH_OUTCOMES {
        metrics::counter!(FETCHES, "outcome" => outcome).absolute(0);
    }
    for kind in ENTRY_KINDS {
        metrics::counter!(ENTRIES, "kind" => kind).absolute(0);
    }
    for kind in REPUBLICATION_KINDS {
        metrics::counter!(REPUBLICATIONS, "kind" => kind).absolute(0);
    }
    // Registering the histogram is enough for its buckets to be rendered at zero.
    let _ = metrics::histogram!(FETCH_DURATION);
    metrics::gauge!(HTTP_CONNECTIONS).set(0.0);
    metrics::counter!(HTTP_CONNECTIONS_SHED).absolute(0);
    metrics::counter!(HTTP_ACCEPT_ERRORS).absolute(0);
}

/// Records one refresh: how it ended, what it stored (for a stored document) and how long it
/// took. Takes plain values so that metrics need not know the pipeline that reports them.
pub fn record_refresh(kind: OutcomeKind, stored: Option<RefreshStats>, elapsed: Duration) {
    metrics::counter!(FETCHES, "outcome" => kind.as_str()).increment(1);
    metrics::histogram!(FETCH_DURATION).record(elapsed.as_secs_f64());
    if let Some(stats) = stored {
        let merged = stats.merged as u64;
        let new = (stats.new as u64).saturating_sub(merged);
        metrics::counter!(ENTRIES, "kind" => "new").increment(new);
        metrics::counter!(ENTRIES, "kind" => "updated").increment(stats.updated as u64);
        metrics::counter!(ENTRIES, "kind" => "merged").increment(merged);
        metrics::counter!(REPUBLICATIONS, "kind" => "copy").increment(stats.origin_copies as u64);
        metrics::counter!(REPUBLICATIONS, "kind" => "translation")
            .increment(stats.translations as u64);
    }
}

/// A connection was opened (`1.0`) or closed (`-1.0`).
pub fn record_connection(change: f64) {
    metrics::gauge!(HTTP_CONNECTIONS).increment(change);
}

/// `count` connections were closed to make room for new ones.
pub fn record_shed(count: u64) {
    metrics::counter!(HTTP_CONNECTIONS_SHED).increment(count);
}

/// Accepting a connection failed for want of resources.
pub fn record_accept_error() {
    metrics::counter!(HTTP_ACCEPT_ERRORS).increment(1);
}

/// Records one HTTP response.
pub fn record_request(route: &'static str, status: u16) {
    // The common statuses as static labels: no allocation on the serving path.
    let label: metrics::SharedString = match status {
        200 => "200".into(),
        304 => "304".into(),
        400 => "400".into(),
        404 => "404".into(),
        500 => "500".into(),
        503 => "503".into(),
        other => other.to_string().into(),
    };
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => label).increment(1);
}

/// The `/metrics` document: recorded metrics, then per-source gauges and the database size,
/// these too labelled with `node` as the recorder labels the others (see [`install`]).
pub fn render(
    handle: Option<&PrometheusHandle>,
    sources: &[SourceState],
    db_bytes: u64,
    node: &str,
) -> String {
    let node = label_value(node);
    let mut out = handle.map(PrometheusHandle::render).unwrap_or_default();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(
        "# HELP tributary_source_last_success_timestamp_seconds When the source last answered with a feed (Unix time).\n\
         # TYPE tributary_source_last_success_timestamp_seconds gauge\n",
    );
    for s in sources {
        if let Some(at) = s.last_success_at {
            let _ = writeln!(
                out,
                "tributary_source_last_success_timestamp_seconds{{node=\"{node}\",source=\"{}\"}} {at}",
                label_value(&s.url)
            );
        }
    }
    out.push_str(
        "# HELP tributary_source_consecutive_failures Failed refreshes of the source since its last success.\n\
         # TYPE tributary_source_consecutive_failures gauge\n",
    );
    for s in sources {
        let _ = writeln!(
            out,
            "tributary_source_consecutive_failures{{node=\"{node}\",source=\"{}\"}} {}",
            label_value(&s.url),
            s.consecutive_failures
        );
    }
    // Every state, zero included, so that an alert on gone or failing sources sees the series.
    out.push_str(
        "# HELP tributary_sources Sources in each state (as `status` classifies them).\n\
         # TYPE tributary_sources gauge\n",
    );
    let states = ["new", "ok", "failing", "gone", "moved"];
    let mut counts = [0usize; 5];
    for s in sources {
        let state = s.health().as_str();
        if let Some(i) = states.iter().position(|&name| name == state) {
            counts[i] += 1;
        }
    }
    for (state, count) in states.iter().zip(counts) {
        let _ = writeln!(
            out,
            "tributary_sources{{node=\"{node}\",state=\"{state}\"}} {count}"
        );
    }
    let _ = write!(
        out,
        "# HELP tributary_database_size_bytes Size of the database (SQLite: the file and its WAL; PostgreSQL: the database on its server).\n\
         # TYPE tributary_database_size_bytes gauge\n\
         tributary_database_size_bytes{{node=\"{node}\"}} {db_bytes}\n"
    );
    out
}

/// Escapes a label value for the Prometheus text format.
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_stored_refresh_counts_new_updated_and_merged_entries_apart() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let stats = crate::model::RefreshStats {
                new: 5,
                merged: 2,
                updated: 1,
                origin_copies: 1,
                translations: 2,
                ..Default::default()
            };
            record_refresh(OutcomeKind::Stored, Some(stats), Duration::from_millis(20));
            record_refresh(OutcomeKind::NotModified, None, Duration::from_millis(5));
        });
        let text = handle.render();
        for line in [
            "tributary_entries_total{kind=\"new\"} 3",
            "tributary_entries_total{kind=\"merged\"} 2",
            "tributary_entries_total{kind=\"updated\"} 1",
            "tributary_fetches_total{outcome=\"stored\"} 1",
            "tributary_republications_total{kind=\"copy\"} 1",
            "tributary_republications_total{kind=\"translation\"} 2",
            "tributary_fetches_total{outcome=\"not_modified\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn fetch_outcome_labels_are_the_outcome_kinds_names() {
        assert_eq!(
            OutcomeKind::ALL.map(OutcomeKind::as_str),
            FETCH_OUTCOMES,
            "a series registered at zero must be the one a refresh increments"
        );
    }

    #[test]
    fn metrics_series_exist_at_zero_before_the_first_event() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(FETCH_DURATION.to_string()), FETCH_BUCKETS)
            .expect("buckets")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, register_series);
        let text = handle.render();
        let mut expected: Vec<String> = FETCH_OUTCOMES
            .iter()
            .map(|o| format!("tributary_fetches_total{{outcome=\"{o}\"}} 0"))
            .chain(
                ENTRY_KINDS
                    .iter()
                    .map(|k| format!("tributary_entries_total{{kind=\"{k}\"}} 0")),
            )
            .collect();
        expected.extend(
            [
                "tributary_fetch_duration_seconds_bucket{le=\"30\"} 0",
                "tributary_fetch_duration_seconds_count 0",
                "tributary_http_connections 0",
                "tributary_http_connections_shed_total 0",
                "tributary_http_accept_errors_total 0",
            ]
            .map(String::from),
        );
        for line in &expected {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn source_gauges_and_database_size_are_rendered_escaped() {
        let store = crate::store::SqliteStore::open_in_memory().expect("store");
        let spec = |url: &str| crate::store::SourceSpec {
            url: url.to_string(),
            title: None,
            topics: Vec::new(),
        };
        store
            .sync_sources(&[
                spec("http://a.example/feed"),
                spec("http://b.example/\"odd\""),
            ])
            .expect("sync");
        let mut states = store.source_states().expect("states");
        states.sort_by(|a, b| a.url.cmp(&b.url));
        let [mut ok, mut failing]: [SourceState; 2] = states.try_into().expect("two sources");
        ok.last_success_at = Some(1_800_000_000);
        failing.consecutive_failures = 3;
        let text = render(None, &[ok, failing], 4096, "n1");
        assert!(text.contains(
            "tributary_source_last_success_timestamp_seconds{node=\"n1\",source=\"http://a.example/feed\"} 1800000000\n"
        ));
        assert!(text.contains(
            "tributary_source_consecutive_failures{node=\"n1\",source=\"http://b.example/\\\"odd\\\"\"} 3\n"
        ));
        assert!(text.contains(
            "tributary_source_consecutive_failures{node=\"n1\",source=\"http://a.example/feed\"} 0\n"
        ));
        assert!(text.contains("tributary_database_size_bytes{node=\"n1\"} 4096\n"));
        assert!(
            !text.contains("last_success_timestamp_seconds{node=\"n1\",source=\"http://b.example")
        );
    }

    #[test]
    fn sources_are_counted_in_every_state_by_the_shared_classification() {
        let store = crate::store::SqliteStore::open_in_memory().expect("store");
        let specs: Vec<crate::store::SourceSpec> = (0..4)
            .map(|i| crate::store::SourceSpec {
                url: format!("http://s{i}.example/feed"),
                title: None,
                topics: Vec::new(),
            })
            .collect();
        store.sync_sources(&specs).expect("sync");
        let mut states = store.source_states().expect("states");
        states.sort_by(|a, b| a.url.cmp(&b.url));
        // s0 new; s1 failing twice; s2 gone; s3 ok after moving.
        states[1].last_fetch_at = Some(1);
        states[1].consecutive_failures = 2;
        states[2].last_fetch_at = Some(1);
        states[2].consecutive_failures = 5;
        states[2].gone_streak = crate::model::GONE_AFTER;
        states[3].last_fetch_at = Some(1);
        states[3].fetch_url = Some("http://elsewhere.example/feed".into());
        let text = render(None, &states, 0, "n1");
        for line in [
            "tributary_sources{node=\"n1\",state=\"new\"} 1",
            "tributary_sources{node=\"n1\",state=\"ok\"} 0",
            "tributary_sources{node=\"n1\",state=\"failing\"} 1",
            "tributary_sources{node=\"n1\",state=\"gone\"} 1",
            "tributary_sources{node=\"n1\",state=\"moved\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn every_series_carries_the_node_it_came_from() {
        let recorder = builder("node-\"a\"").expect("builder").build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            register_series();
            record_refresh(
                OutcomeKind::Stored,
                Some(RefreshStats {
                    new: 2,
                    ..Default::default()
                }),
                Duration::from_millis(20),
            );
            record_request("/healthz", 200);
        });
        let store = crate::store::SqliteStore::open_in_memory().expect("store");
        store
            .sync_sources(&[crate::store::SourceSpec {
                url: "http://a.example/feed".into(),
                title: None,
                topics: Vec::new(),
            }])
            .expect("sync");
        let mut states = store.source_states().expect("states");
        states[0].last_success_at = Some(1_800_000_000);
        let text = render(Some(&handle), &states, 4096, "node-\"a\"");
        let series: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert!(series.len() > 20, "{text}");
        for line in &series {
            assert!(
                line.contains("{node=\"node-\\\"a\\\"\"")
                    || line.contains(",node=\"node-\\\"a\\\"\""),
                "{line:?} has no node label in:\n{text}"
            );
        }
        for line in [
            "tributary_fetches_total{node=\"node-\\\"a\\\"\",outcome=\"stored\"} 1",
            "tributary_http_requests_total{node=\"node-\\\"a\\\"\",route=\"/healthz\",status=\"200\"} 1",
            "tributary_source_last_success_timestamp_seconds{node=\"node-\\\"a\\\"\",source=\"http://a.example/feed\"} 1800000000",
            "tributary_database_size_bytes{node=\"node-\\\"a\\\"\"} 4096",
        ] {
            assert!(series.contains(&line), "no {line:?} in:\n{text}");
        }
    }
}
