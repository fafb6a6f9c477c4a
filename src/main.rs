//! The `tributary` command line: parses arguments, sets up logging, runs the command. Each command
//! returns a result; what it prints is formatted by `tributary::cli`, and its exit code is decided
//! by `cli::exit_code`, in [`main`] only.

mod logging;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use logging::{LogFormat, Progress};
use tributary::cli::{self, CommandError, Finished};
use tributary::config::{Config, ServiceDirs, StorageEngine};
use tributary::opml;
use tributary::store::StoreError;

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
    /// Copy the SQLite database ([storage] path) into an empty PostgreSQL database; run again,
    /// it finishes an interrupted copy. Checked by counting every table on both sides.
    MigrateTo {
        /// The PostgreSQL database: postgres://user@host:5432/db.
        url: String,
        /// Rows written per transaction.
        #[arg(long, value_name = "ROWS", default_value_t = tributary::store::migrate::DEFAULT_BATCH_ROWS)]
        batch: usize,
    },
}

fn main() -> ExitCode {
    let result = run(Cli::parse());
    // The one place a command's result becomes output on standard error and an exit code.
    if let Err(e) = &result {
        eprintln!("{e}");
    }
    ExitCode::from(cli::exit_code(&result))
}

fn run(cli: Cli) -> Result<Finished, CommandError> {
    logging::init(cli.log_format, cli.log_level.as_deref()).map_err(CommandError::Logging)?;
    let dirs = ServiceDirs::from_env();
    let config_path = dirs.config_file(cli.config.as_deref());
    let config = Config::load_in(&config_path, &dirs).map_err(CommandError::Config)?;
    match cli.command {
        Command::Check => {
            println!(
                "{}",
                cli::check_line(&config_path, config.sources.len(), config.topics.len())
            );
            Ok(Finished::Done)
        }
        Command::Fetch { sources } => with_runtime(fetch(config, sources)),
        Command::Status { json } => status(&config, json),
        Command::Prune => prune(&config),
        Command::TestTopic { slug, limit } => test_topic(&config, &slug, limit),
        Command::ImportOpml { file, topic } => import_opml(&config_path, &file, topic.as_deref()),
        Command::Backup { path } => backup(&config, &path),
        Command::ExportOpml => export_opml(&config),
        Command::MigrateTo { url, batch } => migrate_to(&config, &url, batch),
        Command::Run => with_runtime(async move {
            tributary::app::run(config)
                .await
                .map_err(CommandError::Setup)?;
            Ok(Finished::Done)
        }),
    }
}

fn with_runtime(
    future: impl std::future::Future<Output = Result<Finished, CommandError>>,
) -> Result<Finished, CommandError> {
    // Blocking threads run SQLite calls and parse/normalize work, all CPU- or lock-bound: more
    // threads than a few per core only add memory (each keeps its own allocator heap).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores * 4)
        .build()
        .map_err(CommandError::Runtime)?;
    let result = rt.block_on(future);
    // The command is done: work still on blocking threads (a parse or a write abandoned at the
    // end of the shutdown grace period) must not hold the exit back, as dropping the runtime
    // would. SQLite rolls back a transaction that was not committed.
    rt.shutdown_background();
    result
}

async fn fetch(config: Config, only: Vec<String>) -> Result<Finished, CommandError> {
    for url in &only {
        if config.source(url).is_none()
            && !config
                .sources
                .iter()
                .any(|s| s.url.as_str().trim_end_matches('/') == url.trim_end_matches('/'))
        {
            return Err(CommandError::UnknownSource {
                url: url.clone(),
                config: config.path.clone(),
            });
        }
    }
    // Off the async workers: a PostgreSQL store's client blocks on a runtime of its own.
    let (store, jobs) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || tributary::app::open_store(&config))
            .await
            .map_err(|e| CommandError::Setup(e.into()))?
            .map_err(CommandError::Setup)?
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
    let pipeline =
        tributary::app::build_pipeline(&config, store.clone()).map_err(CommandError::Setup)?;
    let started = Instant::now();
    let mut tally = cli::FetchTally::new(jobs.len());
    let progress = Progress::new(jobs.len(), "sources");
    let cycle = tributary::app::refresh_all(&pipeline, jobs, config.fetch.concurrency, |report| {
        progress.println(&tally.record(&report));
        progress.inc();
    });
    tributary::app::with_checkpoints(store, cycle).await;
    progress.finish();
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        tally.total_line(started.elapsed().as_millis())
    );
    Ok(tally.finished())
}

fn status(config: &Config, json: bool) -> Result<Finished, CommandError> {
    let (store, _) =
        tributary::app::open_store_or_read_only(config).map_err(CommandError::Setup)?;
    if let Some(condition) = store.condition() {
        eprintln!(
            "{}",
            cli::read_only_warning(&config.storage.path, &condition)
        );
    }
    let states = store.source_states().map_err(CommandError::Store)?;
    let republications = store.republications().map_err(CommandError::Store)?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<cli::StatusRow> = states
        .iter()
        .map(|s| {
            let mut row = cli::StatusRow::at(s, now);
            (row.origin_copies, row.translations) =
                republications.get(&s.id).copied().unwrap_or_default();
            row
        })
        .collect();
    let text = if json {
        cli::status_json(&rows)
    } else {
        cli::status_table(&rows)
    };
    let _ = write!(std::io::stdout(), "{text}");
    Ok(Finished::Done)
}

fn prune(config: &Config) -> Result<Finished, CommandError> {
    let (store, _) = tributary::app::open_store(config).map_err(CommandError::Setup)?;
    let stats = tributary::app::prune_now(&*store, config).map_err(CommandError::Store)?;
    println!("{}", cli::pruned_line(&stats));
    Ok(Finished::Done)
}

fn test_topic(config: &Config, slug: &str, limit: usize) -> Result<Finished, CommandError> {
    let test = tributary::app::open_for_reading(config)
        .and_then(|store| tributary::app::test_topic(&*store, config, slug, limit))
        .map_err(CommandError::Setup)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(cli::topic_test_report(slug, &test).as_bytes()) {
        Ok(()) => Ok(Finished::Done),
        // Piped into `head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Finished::Done),
        Err(e) => Err(CommandError::Output(e)),
    }
}

fn import_opml(
    config_path: &Path,
    file: &Path,
    topic: Option<&str>,
) -> Result<Finished, CommandError> {
    let feeds = opml::read_opml(file).map_err(|e| CommandError::Import(e.into()))?;
    let text = tributary::config::read_text(config_path).map_err(CommandError::ConfigText)?;
    let progress = Progress::new(feeds.len(), "feeds");
    let result = opml::append_sources(config_path, &text, &feeds, topic, |verdict| {
        progress.println(&cli::import_line(verdict));
        progress.inc();
    });
    progress.finish();
    let import = result.map_err(CommandError::Import)?;
    if import.added() > 0 {
        opml::write_atomically(config_path, &import.text).map_err(CommandError::Import)?;
    }
    println!("{}", cli::import_summary(config_path, &import));
    if import.invalid().is_empty() {
        Ok(Finished::Done)
    } else {
        Ok(Finished::SomeFailed)
    }
}

/// `export-opml`: the feed titles and sites the store learned are used when there is a database;
/// without one, the config's titles or the URLs.
fn export_opml(config: &Config) -> Result<Finished, CommandError> {
    let database = &config.storage.path;
    let labels = match &config.storage.engine {
        StorageEngine::Sqlite if database.exists() => tributary::store::open_for_reading(database)
            .and_then(|store| store.source_labels())
            .map_err(CommandError::Store)?,
        StorageEngine::Sqlite => Default::default(),
        StorageEngine::Postgres { .. } => tributary::app::open_database(config)
            .map_err(CommandError::Setup)?
            .source_labels()
            .map_err(CommandError::Store)?,
    };
    let groups = tributary::publish::opml_groups(config, &labels);
    let document = tributary::publish::render_opml_grouped("Tributary sources", &groups);
    let mut out = std::io::stdout().lock();
    out.write_all(document.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CommandError::OpmlOutput)?;
    Ok(Finished::Done)
}

fn backup(config: &Config, dest: &Path) -> Result<Finished, CommandError> {
    if let StorageEngine::Postgres { .. } = config.storage.engine {
        // Without opening it: the copy would not be one the server stands behind.
        return Err(CommandError::Store(StoreError::Unsupported {
            what: "backup (it copies a SQLite database)",
            instead: "back a PostgreSQL database up with pg_dump",
        }));
    }
    let database = &config.storage.path;
    if !database.exists() {
        return Err(CommandError::NoDatabase(database.clone()));
    }
    let started = Instant::now();
    tributary::store::open_for_reading(database)
        .and_then(|store| store.backup(dest))
        .map_err(CommandError::Store)?;
    let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}",
        cli::backup_line(database, dest, size, started.elapsed().as_millis())
    );
    Ok(Finished::Done)
}

fn migrate_to(config: &Config, url: &str, batch: usize) -> Result<Finished, CommandError> {
    use tributary::store::migrate;
    let started = Instant::now();
    let database = &config.storage.path;
    let copied = migrate::copy(
        database,
        url,
        &config.cluster.node,
        migrate::Options { batch_rows: batch },
        chrono::Utc::now().timestamp(),
        &mut |progress| eprintln!("{}", cli::migrate_progress_line(&progress)),
    )
    .map_err(CommandError::Migrate)?;
    for count in &copied.counts {
        println!("{}", cli::migrate_count_line(count));
    }
    let copied = copied.checked().map_err(CommandError::Migrate)?;
    println!(
        "{}",
        cli::migrated_line(database, &copied, started.elapsed().as_millis())
    );
    Ok(Finished::Done)
}
