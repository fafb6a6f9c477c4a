//! The `tributary` command line: parses arguments, sets up logging, maps results to exit codes.

mod logging;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use logging::{LogFormat, Progress};
use tributary::config::{Config, ServiceDirs};
use tributary::model::RefreshStats;
use tributary::opml::{self, Verdict};
use tributary::pipeline::Outcome;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Feed aggregator daemon: polls sources, republishes merged topic feeds"
)]
struct Cli {
    /// Configuration file [default: $CONFIGURATION_DIRECTORY/feeds.toml under systemd, else
    /// feeds.toml].
    #[arg(long, global = true, env = "TRIBUTARY_CONFIG")]
    config: Option<PathBuf>,
    /// Log format on standard error: text (without timestamps under journald) or json (one
    /// object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log level or filter (`debug`, `tributary=debug,info`); overrides RUST_LOG [default:
    /// RUST_LOG, else info].
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration and exit.
    Check,
    /// Poll every source (or the named ones) once now and store what they carry.
    Fetch {
        /// A source URL from the config; repeat to name several.
        #[arg(long = "source", value_name = "URL")]
        sources: Vec<String>,
    },
    /// Run the scheduler and the HTTP server until SIGINT or SIGTERM.
    Run,
    /// Remove stories past [storage] retention and beyond max_entries_per_source now.
    Prune,
    /// Show which stored entries the topic's rules in the config match, and which rule matched.
    TestTopic {
        /// The topic's slug.
        slug: String,
        /// Show at most this many matches, newest first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show every source's fetch state: a table, or one JSON object per line with --json.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Add the feeds of an OPML subscription list to the config as sources, skipping those it
    /// has already; the rest of the file stays as written.
    ImportOpml {
        /// The OPML file (OPML 1.0 or 2.0, as feed readers export it).
        file: PathBuf,
        /// List the new sources in this topic (it must be declared in the config).
        #[arg(long, value_name = "SLUG")]
        topic: Option<String>,
    },
    /// Print every source as OPML 2.0, grouped by topic (as `GET /sources.opml` serves it).
    ExportOpml,
    /// Write a consistent copy of the database to PATH (safe while `run` is running).
    Backup {
        /// Where the copy goes; must not exist.
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log_format, cli.log_level.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }

    let dirs = ServiceDirs::from_env();
    let config_path = dirs.config_file(cli.config.as_deref());
    let config = match Config::load_in(&config_path, &dirs) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Check => {
            println!(
                "{}: ok ({} sources, {} topics)",
                config_path.display(),
                config.sources.len(),
                config.topics.len()
            );
            ExitCode::SUCCESS
        }
        Command::Fetch { sources } => with_runtime(fetch(config, sources)),
        Command::Status { json } => status(&config, json),
        Command::Prune => prune(&config),
        Command::TestTopic { slug, limit } => test_topic(&config, &slug, limit),
        Command::ImportOpml { file, topic } => import_opml(&config_path, &file, topic.as_deref()),
        Command::Backup { path } => backup(&config, &path),
        Command::ExportOpml => export_opml(&config),
        Command::Run => with_runtime(async move {
            match tributary::app::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }),
    }
}

fn with_runtime(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    // Blocking threads run SQLite calls and parse/normalize work, all CPU- or lock-bound: more
    // threads than a few per core only add memory (each keeps its own allocator heap).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores * 4)
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(future);
            // The command is done: work still on blocking threads (a parse or a write abandoned
            // at the end of the shutdown grace period) must not hold the exit back, as dropping
            // the runtime would. SQLite rolls back a transaction that was not committed.
            rt.shutdown_background();
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn fetch(config: Config, only: Vec<String>) -> ExitCode {
    for url in &only {
        if config.source(url).is_none()
            && !config
                .sources
                .iter()
                .any(|s| s.url.as_str().trim_end_matches('/') == url.trim_end_matches('/'))
        {
            eprintln!(
                "error: --source {url} is not a source in {}",
                config.path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let (store, jobs) = match tributary::app::open_store(&config) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let jobs: Vec<_> = jobs
        .into_iter()
        .filter(|j| {
            only.is_empty()
                || only
                    .iter()
                    .any(|u| u.trim_end_matches('/') == j.url.as_str().trim_end_matches('/'))
        })
        .collect();
    let pipeline = match tributary::app::build_pipeline(&config, store.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let total_sources = jobs.len();
    let (mut ok, mut not_modified, mut failed) = (0usize, 0usize, 0usize);
    let mut totals = RefreshStats::default();
    let progress = Progress::new(total_sources, "sources");
    let cycle = tributary::app::refresh_all(&pipeline, jobs, config.fetch.concurrency, |report| {
        let ms = report.elapsed.as_millis();
        let line = match &report.outcome {
            Outcome::Stored(s) => {
                ok += 1;
                totals.add(*s);
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
                not_modified += 1;
                format!(
                    "{} not-modified new=0 updated=0 unchanged=0 {ms}ms",
                    report.url
                )
            }
            Outcome::Unchanged => {
                not_modified += 1;
                format!(
                    "{} unchanged new=0 updated=0 unchanged=0 {ms}ms",
                    report.url
                )
            }
            Outcome::Failed(e) => {
                failed += 1;
                format!(
                    "{} failed new=0 updated=0 unchanged=0 {ms}ms error: {e}",
                    report.url
                )
            }
        };
        progress.println(&line);
        progress.inc();
    });
    tributary::app::with_checkpoints(store, cycle).await;
    progress.finish();
    let _ = writeln!(
        std::io::stdout(),
        "total: {total_sources} sources, {ok} ok, {not_modified} not-modified, {failed} failed, new={} updated={} unchanged={} {}ms",
        totals.new,
        totals.updated,
        totals.unchanged,
        started.elapsed().as_millis()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn status(config: &Config, json: bool) -> ExitCode {
    let (store, _) = match tributary::app::open_store_or_read_only(config) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(condition) = store.condition() {
        eprintln!(
            "warning: {} cannot be written: {condition}; the sources as last recorded:",
            config.storage.path.display()
        );
    }
    let states = match store.source_states() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows: Vec<tributary::cli::StatusRow> =
        states.iter().map(tributary::cli::StatusRow::from).collect();
    let mut out = std::io::stdout();
    if json {
        for row in &rows {
            let _ = writeln!(out, "{}", serde_json::to_string(row).unwrap_or_default());
        }
    } else {
        let _ = write!(out, "{}", tributary::cli::status_table(&rows));
    }
    ExitCode::SUCCESS
}

fn prune(config: &Config) -> ExitCode {
    let (store, _) = match tributary::app::open_store(config) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match tributary::app::prune_now(&*store, config) {
        Ok(stats) => {
            println!(
                "pruned {} stories, {} sightings",
                stats.entries, stats.sightings
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn test_topic(config: &Config, slug: &str, limit: usize) -> ExitCode {
    let result = tributary::store::open_for_reading(&config.storage.path)
        .map_err(anyhow::Error::from)
        .and_then(|store| tributary::app::test_topic(&*store, config, slug, limit));
    let test = match result {
        Ok(test) => test,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut print = || -> std::io::Result<()> {
        writeln!(
            out,
            "{slug}: {} of {} stored entries match (showing {})",
            test.matched,
            test.stories,
            test.matches.len()
        )?;
        for m in &test.matches {
            let date = chrono::DateTime::from_timestamp(m.story.published, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            writeln!(out, "{date}  {}  [{}]", m.story.title, m.story.source_title)?;
            if let Some(link) = &m.story.link {
                writeln!(out, "    {link}")?;
            }
            let reasons: Vec<String> = m.reasons.iter().map(ToString::to_string).collect();
            writeln!(out, "    matched: {}", reasons.join("; "))?;
        }
        Ok(())
    };
    match print() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import_opml(config_path: &Path, file: &Path, topic: Option<&str>) -> ExitCode {
    let feeds = match opml::read_opml(file) {
        Ok(feeds) => feeds,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match tributary::config::read_text(config_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let progress = Progress::new(feeds.len(), "feeds");
    let result = opml::append_sources(config_path, &text, &feeds, topic, |verdict| {
        progress.println(&match verdict {
            Verdict::Added(url) => format!("added {url}"),
            Verdict::Present(url) => format!("present {url}"),
            Verdict::Invalid { url, reason } => format!("invalid {url}: {reason}"),
        });
        progress.inc();
    });
    progress.finish();
    let import = match result {
        Ok(import) => import,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if import.added() > 0 {
        if let Err(e) = opml::write_atomically(config_path, &import.text) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let invalid = import.invalid();
    let mut summary = format!(
        "{}: added {}, skipped {} already present, {} invalid",
        config_path.display(),
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
    println!("{summary}");
    if invalid.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `export-opml`: the feed titles and sites the store learned are used when there is a database;
/// without one, the config's titles or the URLs.
fn export_opml(config: &Config) -> ExitCode {
    let database = &config.storage.path;
    let labels = if database.exists() {
        match tributary::store::open_for_reading(database).and_then(|store| store.source_labels()) {
            Ok(labels) => labels,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        Default::default()
    };
    let groups = tributary::publish::opml_groups(config, &labels);
    let document = tributary::publish::render_opml_grouped("Tributary sources", &groups);
    let mut out = std::io::stdout().lock();
    match out
        .write_all(document.as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the OPML: {e}");
            ExitCode::FAILURE
        }
    }
}

fn backup(config: &Config, dest: &Path) -> ExitCode {
    let database = &config.storage.path;
    if !database.exists() {
        eprintln!(
            "error: no database at {}: nothing to back up",
            database.display()
        );
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let result = tributary::store::open_for_reading(database).and_then(|store| store.backup(dest));
    match result {
        Ok(()) => {
            let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
            println!(
                "{} -> {} ({size} bytes, {}ms)",
                database.display(),
                dest.display(),
                started.elapsed().as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
