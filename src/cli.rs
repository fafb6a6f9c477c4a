//! What the commands print, and what their results mean as exit codes: the `status` table and its
//! JSON rows, the `fetch` lines and total, the `test-topic` report, the `import-opml` lines and
//! summary, the one-line messages of `check`, `prune` and `backup`, the errors commands end with
//! ([`CommandError`]) and the one mapping of results to exit codes ([`exit_code`]). Formatting
//! only: the commands in `main.rs` gather the data through `app` and the store, and must not
//! format or choose exit codes themselves.

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::model::{RefreshStats, Timestamp};
use crate::opml::{Import, ImportError, Verdict};
use crate::pipeline::{Outcome, RefreshReport};
use crate::store::{PruneStats, StoreError};

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything it was asked to do was done.
    Done,
    /// It went through everything, but some items failed: a source in `fetch`, a feed of the OPML
    /// file in `import-opml`. Each was reported on its own line; the exit code says so too.
    SomeFailed,
}

/// Why a command could not do its work. `Display` is the line printed on standard error.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The log level or filter is not valid.
    #[error("error: {0}")]
    Logging(String),
    /// feeds.toml cannot be read or is not valid; the message names file, line and column.
    #[error("{0}")]
    Config(ConfigError),
    /// feeds.toml could not be read as text for `import-opml` to edit.
    #[error("error: {0}")]
    ConfigText(ConfigError),
    /// `fetch --source URL` with a URL that is not a source in feeds.toml.
    #[error("error: --source {url} is not a source in {}", config.display())]
    UnknownSource { url: String, config: PathBuf },
    /// `backup` without a database to copy.
    #[error("error: no database at {}: nothing to back up", .0.display())]
    NoDatabase(PathBuf),
    /// The async runtime could not be started.
    #[error("error: cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// Opening the store, building the fetcher, running the daemon, evaluating a topic: the
    /// error with the whole chain of what was being done.
    #[error("error: {0:#}")]
    Setup(anyhow::Error),
    /// A store operation failed.
    #[error("error: {0}")]
    Store(StoreError),
    /// Reading the OPML file, or editing or writing feeds.toml for `import-opml`.
    #[error("error: {0}")]
    Import(ImportError),
    /// Writing the command's output failed (other than its reader going away).
    #[error("error: {0}")]
    Output(std::io::Error),
    /// Writing `export-opml`'s document failed.
    #[error("error: writing the OPML: {0}")]
    OpmlOutput(std::io::Error),
}

/// The exit code of a command's result; the only place that decides them:
///
/// | result | code |
/// |---|---|
/// | done | 0 |
/// | done, but some sources or feeds failed ([`Finished::SomeFailed`]) | 1 |
/// | any [`CommandError`] but [`CommandError::Logging`] | 1 |
/// | the log level or filter is not valid ([`CommandError::Logging`]) | 2 |
pub fn exit_code(result: &Result<Finished, CommandError>) -> u8 {
    match result {
        Ok(Finished::Done) => 0,
        Ok(Finished::SomeFailed) => 1,
        Err(CommandError::Logging(_)) => 2,
        Err(_) => 1,
    }
}

/// `check`'s line.
pub fn check_line(config: &Path, sources: usize, topics: usize) -> String {
    format!(
        "{}: ok ({sources} sources, {topics} topics)",
        config.display()
    )
}

/// What `fetch` counts while it prints a line per source, for its last line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchTally {
    pub sources: usize,
    pub ok: usize,
    pub not_modified: usize,
    pub failed: usize,
    pub totals: RefreshStats,
}

impl FetchTally {
    /// A tally of a fetch over `sources` sources.
    pub fn new(sources: usize) -> FetchTally {
        FetchTally {
            sources,
            ..FetchTally::default()
        }
    }

    /// Counts `report` and returns its line.
    pub fn record(&mut self, report: &RefreshReport) -> String {
        let ms = report.elapsed.as_millis();
        match &report.outcome {
            Outcome::Stored(s) => {
                self.ok += 1;
                self.totals.add(*s);
                let warning = report
                    .warning
                    .as_deref()
                    .map(|w| format!(" warning: {w}"))
                    .unwrap_or_default();
                format!(
                    "{} ok new={} updated={} unchanged={} {ms}ms{warning}",
                    report.url, s.new, s.updated, s.unchanged
                )
            }
            Outcome::NotModified => {
                self.not_modified += 1;
                format!(
                    "{} not-modified new=0 updated=0 unchanged=0 {ms}ms",
                    report.url
                )
            }
            Outcome::Unchanged => {
                self.not_modified += 1;
                format!(
                    "{} unchanged new=0 updated=0 unchanged=0 {ms}ms",
                    report.url
                )
            }
            Outcome::Failed(e) => {
                self.failed += 1;
                format!(
                    "{} failed new=0 updated=0 unchanged=0 {ms}ms error: {e}",
                    report.url
                )
            }
        }
    }

    /// The last line, after `elapsed_ms` in all.
    pub fn total_line(&self, elapsed_ms: u128) -> String {
        format!(
            "total: {} sources, {} ok, {} not-modified, {} failed, new={} updated={} unchanged={} {elapsed_ms}ms",
            self.sources,
            self.ok,
            self.not_modified,
            self.failed,
            self.totals.new,
            self.totals.updated,
            self.totals.unchanged,
        )
    }

    /// Whether every source was refreshed.
    pub fn finished(&self) -> Finished {
        if self.failed > 0 {
            Finished::SomeFailed
        } else {
            Finished::Done
        }
    }
}

/// `test-topic`'s report: a summary line, then each match with its date, source, link and the
/// rules that let it in.
pub fn topic_test_report(slug: &str, test: &crate::app::TopicTest) -> String {
    let mut out = format!(
        "{slug}: {} of {} stored entries match (showing {})\n",
        test.matched,
        test.stories,
        test.matches.len()
    );
    for m in &test.matches {
        let date = chrono::DateTime::from_timestamp(m.story.published, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "{date}  {}  [{}]\n",
            m.story.title, m.story.source_title
        ));
        if let Some(link) = &m.story.link {
            out.push_str(&format!("    {link}\n"));
        }
        let reasons: Vec<String> = m.reasons.iter().map(ToString::to_string).collect();
        out.push_str(&format!("    matched: {}\n", reasons.join("; ")));
        if !m.story.joined.is_empty() {
            let joined: Vec<String> = m
                .story
                .joined
                .iter()
                .map(|(source, rule)| format!("{source} ({rule})"))
                .collect();
            out.push_str(&format!("    same story: {}\n", joined.join("; ")));
        }
    }
    out
}

/// `import-opml`'s line for one feed.
pub fn import_line(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Added(url) => format!("added {url}"),
        Verdict::Present(url) => format!("present {url}"),
        Verdict::Invalid { url, reason } => format!("invalid {url}: {reason}"),
    }
}

/// `import-opml`'s last line: what was added to `config`, what was skipped, and each invalid feed
/// with its reason.
pub fn import_summary(config: &Path, import: &Import) -> String {
    let invalid = import.invalid();
    let mut summary = format!(
        "{}: added {}, skipped {} already present, {} invalid",
        config.display(),
        import.added(),
        import.present(),
        invalid.len()
    );
    if !invalid.is_empty() {
        let listed: Vec<String> = invalid
            .iter()
            .map(|(url, reason)| format!("{url} ({reason})"))
            .collect();
        summary.push_str(": ");
        summary.push_str(&listed.join("; "));
    }
    summary
}

/// `prune`'s line.
pub fn pruned_line(stats: &PruneStats) -> String {
    format!(
        "pruned {} stories, {} sightings",
        stats.entries, stats.sightings
    )
}

/// `backup`'s line: what was copied where, how large the copy is and how long it took.
pub fn backup_line(database: &Path, dest: &Path, bytes: u64, elapsed_ms: u128) -> String {
    format!(
        "{} -> {} ({bytes} bytes, {elapsed_ms}ms)",
        database.display(),
        dest.display()
    )
}

/// The warning `status` prints before the sources when the database cannot be written.
pub fn read_only_warning(database: &Path, condition: &str) -> String {
    format!(
        "warning: {} cannot be written: {condition}; the sources as last recorded:",
        database.display()
    )
}

/// `status --json`: one object per source, one per line.
pub fn status_json(rows: &[StatusRow]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&serde_json::to_string(row).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// One source in `tributary status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusRow {
    pub url: String,
    /// `new` (never fetched), `ok`, `failing`, `gone` (404/410 five times in a row; still retried
    /// daily) or `moved` (a permanent redirect was adopted).
    pub state: &'static str,
    pub last_fetch: Option<String>,
    pub last_status: Option<u16>,
    pub next_due: Option<String>,
    pub failures: u32,
    pub failure_class: Option<String>,
    pub last_error: Option<String>,
    pub entries: u64,
    pub moved_to: Option<String>,
    /// `link` when the source's guids were seen to change on every fetch.
    pub identity: Option<String>,
    /// What the last parsed document deserved a warning for (it yielded no entries although it
    /// has `<item>`/`<entry>` elements).
    pub warning: Option<String>,
    /// Of `entries`, republications joined to the original they credit, in its language.
    pub origin_copies: u64,
    /// Of `entries`, republications kept as translations of the original they credit.
    pub translations: u64,
    /// The node fetching the source now, when several nodes share one database (`null` on
    /// SQLite, and between fetches).
    pub lease: Option<StatusLease>,
}

/// A node's lease on a source, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusLease {
    pub node: String,
    /// When the lease runs out unless the node finishes first: then any node may take the
    /// source over.
    pub until: String,
}

/// A Unix time as `status` prints times.
fn status_time(t: Option<Timestamp>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
}

impl StatusRow {
    /// The row of `state` as of `now`: a lease past its time is held by nobody (any node may
    /// take the source over), so it is not shown.
    pub fn at(state: &crate::model::SourceState, now: Timestamp) -> StatusRow {
        let mut row = StatusRow::from(state);
        if state.lease.as_ref().is_some_and(|lease| lease.until <= now) {
            row.lease = None;
        }
        row
    }
}

impl From<&crate::model::SourceState> for StatusRow {
    fn from(s: &crate::model::SourceState) -> StatusRow {
        let time = status_time;
        let moved_to = s.fetch_url.clone().filter(|f| *f != s.url);
        let state = s.health().as_str();
        StatusRow {
            url: s.url.clone(),
            state,
            last_fetch: time(s.last_fetch_at),
            last_status: s.last_status,
            next_due: time(s.next_due_at),
            failures: s.consecutive_failures,
            failure_class: s.failure_class.clone(),
            last_error: s.last_error.clone(),
            entries: s.entries,
            moved_to,
            identity: s.identity_mode.map(|i| i.as_str().to_string()),
            warning: s.warning.clone(),
            origin_copies: 0,
            translations: 0,
            lease: s.lease.as_ref().map(|lease| StatusLease {
                node: lease.node.clone(),
                until: status_time(Some(lease.until)).unwrap_or_else(|| lease.until.to_string()),
            }),
        }
    }
}

/// The `status` table: aligned columns, the error last so that it may be long. A `LEASE`
/// column (which node fetches the source, until when) only when some source is leased: never
/// on SQLite, whose table stays as it was.
pub fn status_table(rows: &[StatusRow]) -> String {
    let leased = rows.iter().any(|r| r.lease.is_some());
    let mut header = vec![
        "URL",
        "STATE",
        "LAST FETCH",
        "HTTP",
        "NEXT DUE",
        "FAILURES",
        "ENTRIES",
    ];
    if leased {
        header.push("LEASE");
    }
    header.extend(["LAST ERROR", "WARNING"]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let error = match (&r.moved_to, &r.last_error) {
                (Some(to), None) => format!("moved permanently to {to}, update feeds.toml"),
                (Some(to), Some(e)) => {
                    format!("{e} (moved permanently to {to}, update feeds.toml)")
                }
                (None, e) => e.clone().unwrap_or_default(),
            };
            let error = match &r.identity {
                Some(mode) if error.is_empty() => {
                    format!("entries identified by {mode} (guids change on every fetch)")
                }
                _ => error,
            };
            let mut cells = vec![
                r.url.clone(),
                r.state.to_string(),
                r.last_fetch.clone().unwrap_or_else(|| "-".into()),
                r.last_status.map_or("-".into(), |s| s.to_string()),
                r.next_due.clone().unwrap_or_else(|| "-".into()),
                r.failures.to_string(),
                r.entries.to_string(),
            ];
            if leased {
                cells.push(r.lease.as_ref().map_or("-".into(), |lease| {
                    format!("{} until {}", lease.node, lease.until)
                }));
            }
            cells.extend([error, r.warning.clone().unwrap_or_default()]);
            cells
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut text = String::new();
        for (i, cell) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in &cells {
        line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn report(outcome: Outcome, warning: Option<&str>) -> RefreshReport {
        RefreshReport {
            url: url::Url::parse("https://a.example/feed").expect("test URL"),
            outcome,
            elapsed: Duration::from_millis(42),
            next_due: 0,
            warning: warning.map(String::from),
        }
    }

    #[test]
    fn fetch_lines_and_total_are_as_scripts_read_them() {
        let mut tally = FetchTally::new(5);
        let stored = RefreshStats {
            new: 3,
            updated: 1,
            unchanged: 7,
            ..RefreshStats::default()
        };
        let lines = [
            tally.record(&report(Outcome::Stored(stored), None)),
            tally.record(&report(
                Outcome::Stored(stored),
                Some("it yielded no entries"),
            )),
            tally.record(&report(Outcome::NotModified, None)),
            tally.record(&report(Outcome::Unchanged, None)),
            tally.record(&report(
                Outcome::Failed(crate::pipeline::RefreshError::Internal("boom".into())),
                None,
            )),
        ];
        assert_eq!(
            lines,
            [
                "https://a.example/feed ok new=3 updated=1 unchanged=7 42ms",
                "https://a.example/feed ok new=3 updated=1 unchanged=7 42ms warning: it yielded no entries",
                "https://a.example/feed not-modified new=0 updated=0 unchanged=0 42ms",
                "https://a.example/feed unchanged new=0 updated=0 unchanged=0 42ms",
                "https://a.example/feed failed new=0 updated=0 unchanged=0 42ms error: internal error: boom",
            ]
        );
        assert_eq!(
            tally.total_line(1234),
            "total: 5 sources, 2 ok, 2 not-modified, 1 failed, new=6 updated=2 unchanged=14 1234ms"
        );
        assert_eq!(tally.finished(), Finished::SomeFailed);
        let mut clean = FetchTally::new(1);
        clean.record(&report(Outcome::NotModified, None));
        assert_eq!(clean.finished(), Finished::Done);
    }

    #[test]
    fn topic_test_report_lists_each_match_with_its_rules() {
        let story = |title: &str, link: Option<&str>| crate::model::StoryForTopics {
            id: 1,
            title: title.to_string(),
            link: link.map(String::from),
            summary_html: None,
            content_html: None,
            categories: Vec::new(),
            authors: Vec::new(),
            language: None,
            // 2026-11-16 02:30 GMT.
            published: 1_794_796_200,
            source_title: "Báo A".to_string(),
            sources: Vec::new(),
            joined: Vec::new(),
        };
        let test = crate::app::TopicTest {
            matches: vec![
                crate::app::TopicMatch {
                    story: story("Giá xăng giảm", Some("https://a.example/1")),
                    reasons: vec![
                        crate::topics::Reason::Listed,
                        crate::topics::Reason::Category("Kinh tế".into()),
                    ],
                },
                crate::app::TopicMatch {
                    story: crate::model::StoryForTopics {
                        joined: vec![
                            ("Báo B".into(), "near-duplicate".into()),
                            ("Tổng hợp".into(), "title-and-lead".into()),
                        ],
                        ..story("No link", None)
                    },
                    reasons: vec![crate::topics::Reason::AllSources],
                },
            ],
            matched: 7,
            stories: 40,
        };
        assert_eq!(
            topic_test_report("econ", &test),
            "econ: 7 of 40 stored entries match (showing 2)\n\
             2026-11-16 02:30  Giá xăng giảm  [Báo A]\n\
             \x20   https://a.example/1\n\
             \x20   matched: source lists the topic; category \"Kinh tế\"\n\
             2026-11-16 02:30  No link  [Báo A]\n\
             \x20   matched: all_sources\n\
             \x20   same story: Báo B (near-duplicate); Tổng hợp (title-and-lead)\n"
        );
        assert_eq!(
            topic_test_report("econ", &crate::app::TopicTest::default()),
            "econ: 0 of 0 stored entries match (showing 0)\n"
        );
    }

    #[test]
    fn import_lines_and_summary_name_each_feed() {
        let url = |u: &str| url::Url::parse(u).expect("test URL");
        let import = Import {
            text: String::new(),
            verdicts: vec![
                Verdict::Added(url("https://a.example/feed")),
                Verdict::Present(url("https://b.example/feed")),
                Verdict::Invalid {
                    url: "ftp://c.example/".into(),
                    reason: "not http(s)".into(),
                },
                Verdict::Invalid {
                    url: "nonsense".into(),
                    reason: "not a URL".into(),
                },
            ],
        };
        let lines: Vec<String> = import.verdicts.iter().map(import_line).collect();
        assert_eq!(
            lines,
            [
                "added https://a.example/feed",
                "present https://b.example/feed",
                "invalid ftp://c.example/: not http(s)",
                "invalid nonsense: not a URL",
            ]
        );
        assert_eq!(
            import_summary(Path::new("/etc/tributary/feeds.toml"), &import),
            "/etc/tributary/feeds.toml: added 1, skipped 1 already present, 2 invalid: \
             ftp://c.example/ (not http(s)); nonsense (not a URL)"
        );
        let clean = Import {
            text: String::new(),
            verdicts: vec![Verdict::Added(url("https://a.example/feed"))],
        };
        assert_eq!(
            import_summary(Path::new("feeds.toml"), &clean),
            "feeds.toml: added 1, skipped 0 already present, 0 invalid"
        );
    }

    #[test]
    fn one_line_messages_are_exact() {
        assert_eq!(
            check_line(Path::new("feeds.toml"), 3, 2),
            "feeds.toml: ok (3 sources, 2 topics)"
        );
        assert_eq!(
            pruned_line(&PruneStats {
                entries: 12,
                sightings: 30
            }),
            "pruned 12 stories, 30 sightings"
        );
        assert_eq!(
            backup_line(Path::new("/var/lib/t/db"), Path::new("/tmp/copy"), 8192, 15),
            "/var/lib/t/db -> /tmp/copy (8192 bytes, 15ms)"
        );
        assert_eq!(
            read_only_warning(Path::new("/var/lib/t/db"), "disk full"),
            "warning: /var/lib/t/db cannot be written: disk full; the sources as last recorded:"
        );
    }

    /// A source fetched once at 1_700_000_000 (2023-11-14 22:13:20Z), ok, with 3 entries.
    fn fetched_source(url: &str, lease: Option<crate::model::Lease>) -> crate::model::SourceState {
        crate::model::SourceState {
            id: crate::model::SourceId(1),
            url: url.to_string(),
            validators: Default::default(),
            last_fetch_at: Some(1_700_000_000),
            last_success_at: Some(1_700_000_000),
            last_status: Some(200),
            last_error: None,
            consecutive_failures: 0,
            next_due_at: Some(1_700_000_900),
            entries: 3,
            fetch_url: None,
            redirect_target: None,
            redirect_streak: 0,
            body_hash: None,
            last_unconditional_at: None,
            failure_class: None,
            gone_streak: 0,
            retry_after_until: None,
            publishing_secs: None,
            interval_secs: None,
            feed_hint_secs: None,
            skip_hours: Vec::new(),
            skip_days: Vec::new(),
            identity_mode: None,
            warning: None,
            lease,
        }
    }

    #[test]
    fn status_shows_the_node_holding_a_sources_lease_only_when_one_is_leased() {
        let now = 1_700_000_100;
        let unleased = StatusRow::at(&fetched_source("https://a.example/feed", None), now);
        // Nothing leased (SQLite, or no fetch under way): the table is as it always was.
        assert_eq!(
            status_table(std::slice::from_ref(&unleased)),
            "URL                     STATE  LAST FETCH            HTTP  NEXT DUE              FAILURES  ENTRIES  LAST ERROR  WARNING\n\
             https://a.example/feed  ok     2023-11-14 22:13:20Z  200   2023-11-14 22:28:20Z  0         3\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&status_json(std::slice::from_ref(&unleased))).expect("json");
        assert_eq!(json["lease"], serde_json::Value::Null);

        let lease = |node: &str, until| crate::model::Lease {
            node: node.into(),
            until,
        };
        let leased = StatusRow::at(
            &fetched_source(
                "https://b.example/feed",
                Some(lease("node-b", 1_700_000_160)),
            ),
            now,
        );
        // A lease past its time is nobody's: another node may take the source over.
        let lapsed = StatusRow::at(
            &fetched_source("https://c.example/feed", Some(lease("node-c", now))),
            now,
        );
        assert_eq!(lapsed.lease, None);
        assert_eq!(
            status_table(&[unleased, leased.clone(), lapsed]),
            "URL                     STATE  LAST FETCH            HTTP  NEXT DUE              FAILURES  ENTRIES  LEASE                              LAST ERROR  WARNING\n\
             https://a.example/feed  ok     2023-11-14 22:13:20Z  200   2023-11-14 22:28:20Z  0         3        -\n\
             https://b.example/feed  ok     2023-11-14 22:13:20Z  200   2023-11-14 22:28:20Z  0         3        node-b until 2023-11-14 22:16:00Z\n\
             https://c.example/feed  ok     2023-11-14 22:13:20Z  200   2023-11-14 22:28:20Z  0         3        -\n"
        );
        let json: serde_json::Value = serde_json::from_str(&status_json(&[leased])).expect("json");
        assert_eq!(
            json["lease"],
            serde_json::json!({"node": "node-b", "until": "2023-11-14 22:16:00Z"})
        );
    }

    #[test]
    fn command_errors_print_as_before() {
        let cases: Vec<(CommandError, &str)> = vec![
            (
                CommandError::Logging("bad filter".into()),
                "error: bad filter",
            ),
            (
                CommandError::UnknownSource {
                    url: "https://x.example/".into(),
                    config: "feeds.toml".into(),
                },
                "error: --source https://x.example/ is not a source in feeds.toml",
            ),
            (
                CommandError::NoDatabase("/var/lib/t/db".into()),
                "error: no database at /var/lib/t/db: nothing to back up",
            ),
            (
                CommandError::Setup(
                    anyhow::anyhow!("permission denied").context("opening /var/lib/t/db"),
                ),
                "error: opening /var/lib/t/db: permission denied",
            ),
            (
                CommandError::OpmlOutput(std::io::Error::other("disk full")),
                "error: writing the OPML: disk full",
            ),
        ];
        for (error, printed) in cases {
            assert_eq!(error.to_string(), printed);
        }
    }

    #[test]
    fn exit_codes_are_decided_in_one_table() {
        let io = || std::io::Error::other("x");
        let cases: Vec<(Result<Finished, CommandError>, u8)> = vec![
            (Ok(Finished::Done), 0),
            (Ok(Finished::SomeFailed), 1),
            (Err(CommandError::Logging("bad".into())), 2),
            (Err(CommandError::NoDatabase("db".into())), 1),
            (Err(CommandError::Setup(anyhow::anyhow!("x"))), 1),
            (Err(CommandError::Runtime(io())), 1),
            (Err(CommandError::Output(io())), 1),
            (Err(CommandError::OpmlOutput(io())), 1),
            (
                Err(CommandError::UnknownSource {
                    url: "u".into(),
                    config: "c".into(),
                }),
                1,
            ),
        ];
        for (result, code) in cases {
            assert_eq!(exit_code(&result), code, "{result:?}");
        }
    }
}
