//! `feeds.toml` → validated [`Config`].
//!
//! Read in two phases: [`raw`] deserializes what the operator wrote (form only, with the span of
//! every value), then [`Config::from_raw`] checks meaning and builds runtime values. Every error
//! carries the file, line and column of the offending key. This module never touches the network,
//! the database or the clock.

mod raw;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::model::TopicSlug;
use crate::text::line_column;

pub use crate::model::ALL_TOPIC;

/// `[storage] max_entry_size` when feeds.toml does not set it.
pub const DEFAULT_MAX_ENTRY_SIZE: usize = 1 << 20;
/// `[storage] max_entries_per_source` when feeds.toml does not set it.
pub const DEFAULT_MAX_ENTRIES: usize = 1000;

/// A configuration problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub fetch: FetchConfig,
    pub dedup: DedupConfig,
    pub cluster: ClusterConfig,
    pub sources: Vec<SourceConfig>,
    pub topics: Vec<TopicConfig>,
}

/// Upper bound of `[server] cache_max_age`, in seconds.
pub const MAX_CACHE_MAX_AGE: u32 = 365 * 86_400;

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Always ends with `/`, so `base_url.join("topics/x.atom")` stays under it.
    pub base_url: Url,
    /// `websub_hub`: the WebSub hub every topic feed names and is announced to when it changes.
    pub websub_hub: Option<Url>,
    /// `Cache-Control: public, max-age=N` on feed responses, in seconds.
    pub cache_max_age: u32,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Which engine holds the store: SQLite at `path` unless `[storage] url` (or
    /// `TRIBUTARY_DATABASE_URL`) names a PostgreSQL database.
    pub engine: StorageEngine,
    pub path: PathBuf,
    /// Stories first seen and published longer ago than this are pruned.
    pub retention: Duration,
    /// Each source keeps at most this many stories, and one document stores only its newest this
    /// many.
    pub max_entries_per_source: usize,
    /// Sanitized HTML kept of each entry's content and of its summary, in bytes.
    pub max_entry_size: usize,
}

/// The database engine `[storage] url` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageEngine {
    /// The embedded SQLite database at `[storage] path` (also `url = "sqlite:PATH"`).
    Sqlite,
    /// A PostgreSQL database, by its connection URL (`postgres://…` or `postgresql://…`).
    Postgres { url: String },
}

/// This node among several sharing one database (`[cluster]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `[cluster] node`, else the host name and process id.
    pub node: String,
}

/// The environment variable that overrides `[storage] url`, so that passwords stay out of
/// feeds.toml.
pub const DATABASE_URL_VAR: &str = "TRIBUTARY_DATABASE_URL";

/// What a database URL selects: the engine, and for `sqlite:PATH` the path.
pub fn parse_database_url(text: &str) -> Result<(StorageEngine, Option<PathBuf>), String> {
    let text = text.trim();
    if let Some(path) = text.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.trim().is_empty() {
            return Err(
                "\"sqlite:\" needs a path, as in \"sqlite:/var/lib/tributary/tributary.db\"".into(),
            );
        }
        return Ok((StorageEngine::Sqlite, Some(PathBuf::from(path))));
    }
    let url = Url::parse(text).map_err(|e| format!("not a database URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "unknown engine \"{}\": use postgres://user@host:5432/db or sqlite:PATH",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("a PostgreSQL URL needs a host, as in postgres://user@host:5432/db".into());
    }
    if url.path().trim_matches('/').is_empty() {
        return Err(
            "a PostgreSQL URL needs a database name, as in postgres://user@host:5432/db".into(),
        );
    }
    Ok((
        StorageEngine::Postgres {
            url: text.to_string(),
        },
        None,
    ))
}

/// The node name when `[cluster] node` gives none: the host name and the process id.
fn default_node() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

/// Least `[storage] max_entry_size`: below it the note on a cut entry would be most of it.
pub const MIN_ENTRY_SIZE: u64 = 1024;

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub interval: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
    pub max_body: u64,
    pub user_agent: String,
    pub allow_private_networks: bool,
    /// Bounds of the adaptive polling interval.
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// Requests in flight to one host at a time.
    pub per_host: usize,
    /// Least time between two requests to the same host.
    pub host_delay: Duration,
    /// Every request goes through this proxy; without it, proxy variables are ignored.
    pub proxy: Option<Url>,
}

#[derive(Debug, Clone, Default)]
pub struct DedupConfig {
    /// Query parameters dropped from canonical URLs besides the built-in list.
    pub tracking_params: Vec<String>,
    /// Least estimated similarity (0 to 1, of the three-word shingles of title and text) at
    /// which stories of different sources are merged; 1.0 merges only identical text, and a
    /// value above 1 turns near-duplicate merging off (identical canonical URLs still merge).
    pub near_duplicate_threshold: f64,
    /// How far back a story is looked for.
    pub window: Duration,
    /// Whether republications are joined to the original they credit ("Nguồn: …", a source
    /// element), as copies or as translations.
    pub origins: bool,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub url: Url,
    pub title: Option<String>,
    pub topics: Vec<TopicSlug>,
    pub interval: Option<Duration>,
    /// Lifts the SSRF guard for this source alone.
    pub allow_private: bool,
    /// How entries are told apart; `None` lets Tributary decide (guid, switching to link when
    /// guids churn).
    pub identity: Option<crate::model::Identity>,
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub slug: TopicSlug,
    pub title: String,
    pub description: Option<String>,
    /// Every source is a candidate, not only those listing the topic.
    pub all_sources: bool,
    /// `[topic.filter]`: what a candidate's entry must match to be in the topic.
    pub filter: Option<TopicFilter>,
    /// The languages the topic shows a story in when it has versions in several (first listed
    /// first); primary subtags, lowercase.
    pub languages: Vec<String>,
}

impl TopicConfig {
    /// The languages the topic shows stories in: its own `languages`, else its filter's.
    pub fn shown_languages(&self) -> &[String] {
        match (&self.languages, &self.filter) {
            (own, _) if !own.is_empty() => own,
            (_, Some(filter)) => &filter.languages,
            _ => &[],
        }
    }
}

/// The rules of `[topic.filter]`, each optional; an entry must pass every one given. Keywords,
/// categories and authors are compared case- and diacritics-insensitively (see `topics`).
#[derive(Debug, Clone, Default)]
pub struct TopicFilter {
    /// At least one of these words or phrases in the title, summary, content or categories.
    pub any: Vec<String>,
    /// None of these words or phrases anywhere in them.
    pub none: Vec<String>,
    /// Matches the title, the text of the summary or content, or a category.
    pub regex: Option<regex::Regex>,
    /// One of the entry's categories is one of these.
    pub categories: Vec<String>,
    /// Primary language subtags, lowercase: `vi` matches `vi-VN`.
    pub languages: Vec<String>,
    /// One of the entry's authors is one of these.
    pub authors: Vec<String>,
}

/// Regexes in feeds.toml may not compile to more than this (the `regex` crate's size limit), so a
/// runaway pattern is a config error rather than a memory sink.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The directories systemd hands a service (`ConfigurationDirectory=`, `StateDirectory=`): when
/// set, the config file and relative database paths default to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDirs {
    /// `$CONFIGURATION_DIRECTORY`: where `feeds.toml` is looked for when no `--config` is given.
    pub config: Option<PathBuf>,
    /// `$STATE_DIRECTORY`: where a relative `[storage] path` lives.
    pub state: Option<PathBuf>,
}

impl ServiceDirs {
    /// Reads the two variables; systemd separates several directories with `:`, the first is
    /// ours.
    pub fn from_env() -> ServiceDirs {
        let first = |name: &str| {
            std::env::var_os(name)
                .and_then(|v| {
                    v.to_str()
                        .map(|s| s.split(':').next().unwrap_or("").to_string())
                })
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        };
        ServiceDirs {
            config: first("CONFIGURATION_DIRECTORY"),
            state: first("STATE_DIRECTORY"),
        }
    }

    /// The config file: the one named, else `feeds.toml` in the configuration directory, else
    /// `feeds.toml` in the working directory.
    pub fn config_file(&self, named: Option<&Path>) -> PathBuf {
        match (named, &self.config) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(dir)) => dir.join("feeds.toml"),
            (None, None) => PathBuf::from("feeds.toml"),
        }
    }

    /// A database path from the config, resolved against the state directory when relative.
    pub fn database(&self, configured: &Path) -> PathBuf {
        match &self.state {
            Some(dir) if configured.is_relative() => dir.join(configured),
            _ => configured.to_path_buf(),
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`, placing a relative database path in the service's
    /// state directory when there is one.
    pub fn load_in(path: &Path, dirs: &ServiceDirs) -> Result<Config, ConfigError> {
        let mut config = Config::load(path)?;
        config.storage.path = dirs.database(&config.storage.path);
        Ok(config)
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_text(path)?;
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            // An empty file is a deployment mistake (a truncated copy, the wrong path under
            // systemd), not a daemon that should start and poll nothing.
            return Err(ConfigError {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                message: "the file is empty: declare at least one [[source]]".into(),
            });
        }
        let config = Config::parse(path, &text)?;
        match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => config.with_database_url(&url),
            _ => Ok(config),
        }
    }

    /// The configuration with its database chosen by `url` ([`DATABASE_URL_VAR`] overrides
    /// `[storage] url`); a malformed one is an error naming the variable.
    pub fn with_database_url(mut self, url: &str) -> Result<Config, ConfigError> {
        let (engine, path) = parse_database_url(url).map_err(|message| ConfigError {
            path: self.path.clone(),
            line: 0,
            column: 0,
            message: format!("{DATABASE_URL_VAR}: {message}"),
        })?;
        self.storage.engine = engine;
        if let Some(path) = path {
            self.storage.path = path;
        }
        Ok(self)
    }

    /// Validates `text` as if read from `path` (the path is only used in errors and to resolve
    /// nothing else: relative storage paths stay relative to the working directory).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let locate = |span: Option<Range<usize>>, message: String| {
            let (line, column) = line_column(text, span.map_or(0, |s| s.start));
            ConfigError {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: raw::RawConfig = toml::from_str(text)
            .map_err(|e| locate(e.span(), e.message().trim_end().to_string()))?;
        Config::from_raw(path, raw).map_err(|(span, message)| locate(Some(span), message))
    }

    /// Source by its configured URL (the source's key).
    pub fn source(&self, url: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.url.as_str() == url)
    }

    /// Declared topic by slug; `all` is built in and has no declaration.
    pub fn topic(&self, slug: &str) -> Option<&TopicConfig> {
        self.topics.iter().find(|t| t.slug.as_str() == slug)
    }

    /// The sources a topic draws its candidates from: those that list it, or every source for
    /// `all` (`None`) and for a topic with `all_sources` (the rule `topics` applies per entry).
    pub fn topic_sources(&self, topic: Option<&TopicConfig>) -> Vec<&SourceConfig> {
        match topic {
            Some(t) if !t.all_sources => self
                .sources
                .iter()
                .filter(|s| s.topics.contains(&t.slug))
                .collect(),
            _ => self.sources.iter().collect(),
        }
    }

    /// How often `source` is polled.
    pub fn interval_of(&self, source: &SourceConfig) -> Duration {
        source.interval.unwrap_or(self.fetch.interval)
    }

    fn from_raw(path: &Path, raw: raw::RawConfig) -> Result<Config, (Range<usize>, String)> {
        let server = raw.server.unwrap_or_default();
        let listen = match &server.listen {
            Some(l) => l.get_ref().parse::<SocketAddr>().map_err(|e| {
                (
                    l.span(),
                    format!("server.listen: {e} (expected e.g. \"127.0.0.1:8080\")"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let base_url = match &server.base_url {
            Some(b) => {
                let mut url = parse_http_url(b.get_ref())
                    .map_err(|m| (b.span(), format!("server.base_url: {m}")))?;
                if !url.path().ends_with('/') {
                    let path = format!("{}/", url.path());
                    url.set_path(&path);
                }
                url
            }
            None => Url::parse(&format!("http://{listen}/"))
                .map_err(|e| (0..0, format!("server.listen: cannot form a base URL: {e}")))?,
        };
        let websub_hub = match &server.websub_hub {
            Some(h) => Some(
                parse_http_url(h.get_ref())
                    .map_err(|m| (h.span(), format!("server.websub_hub: {m}")))?,
            ),
            None => None,
        };

        let cache_max_age = match &server.cache_max_age {
            // RFC 9111 §5.2.2.1 leaves the bound to us; a year is what caches commonly cap at.
            Some(m) if *m.get_ref() > MAX_CACHE_MAX_AGE => {
                return Err((
                    m.span(),
                    format!("server.cache_max_age: at most {MAX_CACHE_MAX_AGE} seconds (a year)"),
                ));
            }
            Some(m) => *m.get_ref(),
            None => 60,
        };

        let storage = raw.storage.unwrap_or_default();
        let mut storage_path = match &storage.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err((p.span(), "storage.path: must not be empty".into()));
            }
            Some(p) => PathBuf::from(p.get_ref()),
            None => PathBuf::from("tributary.db"),
        };
        let engine = match &storage.url {
            Some(url) => {
                let (engine, path) = parse_database_url(url.get_ref())
                    .map_err(|m| (url.span(), format!("storage.url: {m}")))?;
                if let Some(path) = path {
                    storage_path = path;
                }
                engine
            }
            None => StorageEngine::Sqlite,
        };
        let node = match raw.cluster.and_then(|c| c.node) {
            Some(n) if n.get_ref().trim().is_empty() || n.get_ref().len() > 200 => {
                return Err((n.span(), "cluster.node: 1 to 200 characters".into()));
            }
            Some(n) => n.into_inner(),
            None => default_node(),
        };

        let retention = duration_or(
            &storage.retention,
            "storage.retention",
            Duration::from_secs(90 * 86_400),
        )?;
        within(
            &storage.retention,
            "storage.retention",
            retention,
            &RETENTION,
        )?;
        let max_entries_per_source = match &storage.max_entries_per_source {
            Some(m) if *m.get_ref() == 0 => {
                return Err((
                    m.span(),
                    "storage.max_entries_per_source: must be at least 1".into(),
                ));
            }
            Some(m) if *m.get_ref() > MAX_ENTRIES_PER_SOURCE => {
                return Err((
                    m.span(),
                    format!("storage.max_entries_per_source: at most {MAX_ENTRIES_PER_SOURCE}"),
                ));
            }
            Some(m) => *m.get_ref() as usize,
            None => DEFAULT_MAX_ENTRIES,
        };
        let max_entry_size = match &storage.max_entry_size {
            Some(m) => {
                let size = parse_size(m.get_ref())
                    .map_err(|msg| (m.span(), format!("storage.max_entry_size: {msg}")))?;
                if size < MIN_ENTRY_SIZE {
                    return Err((
                        m.span(),
                        format!(
                            "storage.max_entry_size: \"{}\" is too small; at least 1KiB",
                            m.get_ref()
                        ),
                    ));
                }
                usize::try_from(size)
                    .map_err(|_| (m.span(), "storage.max_entry_size: too large".to_string()))?
            }
            None => DEFAULT_MAX_ENTRY_SIZE,
        };
        let fetch = raw.fetch.unwrap_or_default();
        let interval = duration_or(
            &fetch.interval,
            "fetch.interval",
            Duration::from_secs(30 * 60),
        )?;
        within(&fetch.interval, "fetch.interval", interval, &INTERVAL)?;
        let timeout = duration_or(&fetch.timeout, "fetch.timeout", Duration::from_secs(30))?;
        within(&fetch.timeout, "fetch.timeout", timeout, &TIMEOUT)?;
        let concurrency = match &fetch.concurrency {
            Some(c) if *c.get_ref() == 0 => {
                return Err((c.span(), "fetch.concurrency: must be at least 1".into()));
            }
            Some(c) if *c.get_ref() > MAX_CONCURRENCY => {
                return Err((
                    c.span(),
                    format!("fetch.concurrency: at most {MAX_CONCURRENCY}"),
                ));
            }
            Some(c) => usize::try_from(*c.get_ref())
                .map_err(|_| (c.span(), "fetch.concurrency: too large".to_string()))?,
            None => 16,
        };
        let max_body = match &fetch.max_body {
            Some(m) => {
                let size = parse_size(m.get_ref())
                    .map_err(|msg| (m.span(), format!("fetch.max_body: {msg}")))?;
                if !MAX_BODY.contains(&size) {
                    return Err((
                        m.span(),
                        format!(
                            "fetch.max_body: \"{}\" is out of range (1KiB to 1GiB)",
                            m.get_ref()
                        ),
                    ));
                }
                size
            }
            None => 20 * 1024 * 1024,
        };
        let min_interval = duration_or(
            &fetch.min_interval,
            "fetch.min_interval",
            Duration::from_secs(5 * 60),
        )?;
        let max_interval = duration_or(
            &fetch.max_interval,
            "fetch.max_interval",
            Duration::from_secs(24 * 60 * 60),
        )?;
        within(
            &fetch.min_interval,
            "fetch.min_interval",
            min_interval,
            &INTERVAL,
        )?;
        within(
            &fetch.max_interval,
            "fetch.max_interval",
            max_interval,
            &MAX_INTERVAL,
        )?;
        if min_interval > max_interval {
            let span = fetch
                .min_interval
                .as_ref()
                .or(fetch.max_interval.as_ref())
                .map_or(0..0, |s| s.span());
            return Err((
                span,
                "fetch.min_interval: must not be longer than fetch.max_interval".into(),
            ));
        }
        let per_host = match &fetch.per_host {
            Some(c) if *c.get_ref() == 0 => {
                return Err((c.span(), "fetch.per_host: must be at least 1".into()));
            }
            Some(c) if *c.get_ref() > MAX_PER_HOST => {
                return Err((c.span(), format!("fetch.per_host: at most {MAX_PER_HOST}")));
            }
            Some(c) => usize::try_from(*c.get_ref())
                .map_err(|_| (c.span(), "fetch.per_host: too large".to_string()))?,
            None => 2,
        };
        let host_delay = match &fetch.host_delay {
            Some(d) => humantime::parse_duration(d.get_ref().trim()).map_err(|e| {
                (
                    d.span(),
                    format!(
                        "fetch.host_delay: invalid duration \"{}\": {e}",
                        d.get_ref()
                    ),
                )
            })?,
            None => Duration::from_secs(1),
        };
        within(
            &fetch.host_delay,
            "fetch.host_delay",
            host_delay,
            &HOST_DELAY,
        )?;
        let proxy = match &fetch.proxy {
            Some(p) => {
                let url = Url::parse(p.get_ref().trim()).map_err(|e| {
                    (
                        p.span(),
                        format!("fetch.proxy: invalid URL \"{}\": {e}", p.get_ref()),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err((
                        p.span(),
                        format!("fetch.proxy: scheme {}: is not http or https", url.scheme()),
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let user_agent = match &fetch.user_agent {
            Some(ua) if ua.get_ref().trim().is_empty() => {
                return Err((ua.span(), "fetch.user_agent: must not be empty".into()));
            }
            Some(ua) => ua.get_ref().clone(),
            None => default_user_agent(&base_url),
        };

        let dedup = raw.dedup.unwrap_or_default();
        let near_duplicate_threshold = match &dedup.near_duplicate_threshold {
            Some(t) if !(t.get_ref().is_finite() && *t.get_ref() > 0.0) => {
                return Err((
                    t.span(),
                    "dedup.near_duplicate_threshold: must be more than 0 (above 1 turns it off)"
                        .into(),
                ));
            }
            Some(t) => *t.get_ref(),
            None => 0.5,
        };
        let window = duration_or(
            &dedup.window,
            "dedup.window",
            Duration::from_secs(72 * 3600),
        )?;
        within(&dedup.window, "dedup.window", window, &WINDOW)?;
        let mut tracking_params = Vec::new();
        for p in dedup.tracking_params.unwrap_or_default() {
            let name = p.get_ref().trim();
            if name.is_empty() || name.contains(['&', '=', ' ']) {
                return Err((
                    p.span(),
                    format!(
                        "dedup.tracking_params: \"{}\" is not a query parameter name",
                        p.get_ref()
                    ),
                ));
            }
            tracking_params.push(name.to_string());
        }

        let mut topics = Vec::new();
        let mut slugs_seen = HashSet::new();
        for t in raw.topic {
            let slug = TopicSlug::new(t.slug.get_ref())
                .map_err(|m| (t.slug.span(), format!("topic.slug: {m}")))?;
            if slug.as_str() == ALL_TOPIC {
                return Err((
                    t.slug.span(),
                    "topic.slug: \"all\" is reserved for the built-in topic of every entry".into(),
                ));
            }
            if !slugs_seen.insert(slug.clone()) {
                return Err((
                    t.slug.span(),
                    format!("topic.slug: duplicate topic \"{slug}\""),
                ));
            }
            if t.title.get_ref().trim().is_empty() {
                return Err((t.title.span(), "topic.title: must not be empty".into()));
            }
            let filter = t.filter.map(topic_filter).transpose()?;
            let languages = language_tags(t.languages, "topic.languages")?;
            topics.push(TopicConfig {
                slug,
                title: t.title.into_inner(),
                description: t.description.filter(|d| !d.trim().is_empty()),
                all_sources: t.all_sources.unwrap_or(false),
                filter,
                languages,
            });
        }

        let mut sources = Vec::new();
        let mut urls_seen = HashSet::new();
        for s in raw.source {
            let url = parse_http_url(s.url.get_ref())
                .map_err(|m| (s.url.span(), format!("source.url: {m}")))?;
            if !urls_seen.insert(url.clone()) {
                return Err((s.url.span(), format!("source.url: duplicate source {url}")));
            }
            let mut source_topics = Vec::new();
            for t in s.topics.unwrap_or_default() {
                let slug = TopicSlug::new(t.get_ref())
                    .map_err(|m| (t.span(), format!("source.topics: {m}")))?;
                if slug.as_str() == ALL_TOPIC {
                    return Err((
                        t.span(),
                        "source.topics: every source is in \"all\" already; remove it".into(),
                    ));
                }
                if !slugs_seen.contains(&slug) {
                    return Err((
                        t.span(),
                        format!(
                            "source.topics: unknown topic \"{slug}\" (declare it with [[topic]] slug = \"{slug}\")"
                        ),
                    ));
                }
                if !source_topics.contains(&slug) {
                    source_topics.push(slug);
                }
            }
            let interval = match &s.interval {
                Some(i) => {
                    let d = parse_duration(i.get_ref())
                        .map_err(|m| (i.span(), format!("source.interval: {m}")))?;
                    within(&s.interval, "source.interval", d, &INTERVAL)?;
                    Some(d)
                }
                None => None,
            };
            let identity = match &s.identity {
                Some(i) => Some(
                    crate::model::Identity::parse(i.get_ref().trim()).ok_or_else(|| {
                        (
                            i.span(),
                            format!(
                                "source.identity: \"{}\" is not one of guid, link, content",
                                i.get_ref()
                            ),
                        )
                    })?,
                ),
                None => None,
            };
            sources.push(SourceConfig {
                url,
                title: s.title.filter(|t| !t.trim().is_empty()),
                topics: source_topics,
                interval,
                allow_private: s.allow_private.unwrap_or(false),
                identity,
            });
        }

        Ok(Config {
            path: path.to_path_buf(),
            server: ServerConfig {
                listen,
                base_url,
                websub_hub,
                cache_max_age,
            },
            cluster: ClusterConfig { node },
            storage: StorageConfig {
                engine,
                path: storage_path,
                retention,
                max_entries_per_source,
                max_entry_size,
            },
            fetch: FetchConfig {
                interval,
                timeout,
                concurrency,
                max_body,
                user_agent,
                allow_private_networks: fetch.allow_private_networks.unwrap_or(false),
                min_interval,
                max_interval,
                per_host,
                host_delay,
                proxy,
            },
            dedup: DedupConfig {
                tracking_params,
                near_duplicate_threshold,
                window,
                origins: dedup.origins.unwrap_or(true),
            },
            sources,
            topics,
        })
    }
}

/// `tributary/0.1.0 (+http://host/)`: names us and where an operator can be reached, as
/// publishers ask of aggregators.
pub fn default_user_agent(base_url: &Url) -> String {
    format!("tributary/{} (+{})", env!("CARGO_PKG_VERSION"), base_url)
}

fn duration_or(
    value: &Option<toml::Spanned<String>>,
    key: &str,
    default: Duration,
) -> Result<Duration, (Range<usize>, String)> {
    match value {
        Some(v) => parse_duration(v.get_ref()).map_err(|m| (v.span(), format!("{key}: {m}"))),
        None => Ok(default),
    }
}

/// The largest feeds.toml read: far above any real one (100,000 sources fit in about 15 MiB),
/// and small enough that a wrong path such as `/dev/zero` fails fast instead of exhausting memory.
pub const MAX_CONFIG_BYTES: u64 = 32 * 1024 * 1024;

/// Reads the text of a config file: at most [`MAX_CONFIG_BYTES`], UTF-8, with the line and
/// column of the first byte that is not.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let at = |line, column, message: String| ConfigError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let file =
        std::fs::File::open(path).map_err(|e| at(1, 1, format!("cannot read config: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| at(1, 1, format!("cannot read config: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(at(
            1,
            1,
            format!(
                "cannot read config: larger than {} MiB",
                MAX_CONFIG_BYTES / (1024 * 1024)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The prefix up to the bad byte is valid UTF-8 by definition.
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let (line, column) = line_column(before, valid);
        at(
            line,
            column,
            format!(
                "not valid UTF-8: byte 0x{:02X} at offset {valid} (save the file as UTF-8)",
                bytes.get(valid).copied().unwrap_or_default()
            ),
        )
    })
}

/// Sensible ranges: values outside them are typing mistakes (`"30"` read as seconds, a missing
/// unit, a year for a minute) that would make the daemon hammer its sources, never poll them, or
/// hold a connection for hours.
const MINUTE: u64 = 60;
const DAY: u64 = 86_400;
const INTERVAL: Bounds = Bounds::new(MINUTE, 7 * DAY, "1m to 7d");
const MAX_INTERVAL: Bounds = Bounds::new(MINUTE, 30 * DAY, "1m to 30d");
const TIMEOUT: Bounds = Bounds::new(1, 10 * MINUTE, "1s to 10m");
const HOST_DELAY: Bounds = Bounds::new(0, 10 * MINUTE, "0s to 10m");
const WINDOW: Bounds = Bounds::new(MINUTE, 90 * DAY, "1m to 90d");
const RETENTION: Bounds = Bounds::new(3600, 100 * 365 * DAY, "1h to 100y");
const MAX_BODY: RangeInclusive<u64> = 1024..=1024 * 1024 * 1024;
const MAX_CONCURRENCY: u32 = 1024;
const MAX_PER_HOST: u32 = 64;
const MAX_ENTRIES_PER_SOURCE: u32 = 1_000_000;

/// The range a duration setting must be in, and how the error message writes it.
struct Bounds {
    min: Duration,
    max: Duration,
    text: &'static str,
}

impl Bounds {
    const fn new(min_secs: u64, max_secs: u64, text: &'static str) -> Bounds {
        Bounds {
            min: Duration::from_secs(min_secs),
            max: Duration::from_secs(max_secs),
            text,
        }
    }
}

/// Checks a parsed duration against its range, naming the key and the range it must be in.
fn within(
    value: &Option<toml::Spanned<String>>,
    key: &str,
    duration: Duration,
    bounds: &Bounds,
) -> Result<(), (Range<usize>, String)> {
    match value {
        Some(v) if duration < bounds.min || duration > bounds.max => Err((
            v.span(),
            format!(
                "{key}: \"{}\" is out of range ({})",
                v.get_ref().trim(),
                bounds.text
            ),
        )),
        _ => Ok(()),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration \"{text}\": {e} (expected e.g. \"30m\", \"1h 30m\")")
    })?;
    if d.is_zero() {
        return Err(format!(
            "invalid duration \"{text}\": must be more than zero"
        ));
    }
    Ok(d)
}

fn parse_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|e| format!("invalid size \"{text}\": {e} (expected e.g. \"20MiB\")"))?;
    if size.as_u64() == 0 {
        return Err(format!("invalid size \"{text}\": must be more than zero"));
    }
    Ok(size.as_u64())
}

pub(crate) fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("invalid URL \"{text}\": {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err(format!("invalid URL \"{text}\": no host")),
        other => Err(format!(
            "invalid URL \"{text}\": scheme {other}: is not http or https"
        )),
    }
}

/// Validates `[topic.filter]`: every keyword has a letter or digit to match on, the regex
/// compiles, languages look like language tags.
/// Primary language subtags, lowercase (`vi-VN` is `vi`), of a list of language tags.
fn language_tags(
    tags: Option<Vec<toml::Spanned<String>>>,
    key: &str,
) -> Result<Vec<String>, (Range<usize>, String)> {
    let mut languages = Vec::new();
    for tag in tags.unwrap_or_default() {
        let primary = tag.get_ref().split(['-', '_']).next().unwrap_or("");
        if !(2..=8).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err((
                tag.span(),
                format!(
                    "{key}: \"{}\" is not a language tag (e.g. \"vi\", \"id\", \"en\")",
                    tag.get_ref()
                ),
            ));
        }
        languages.push(primary.to_ascii_lowercase());
    }
    Ok(languages)
}

fn topic_filter(
    raw: toml::Spanned<raw::RawTopicFilter>,
) -> Result<TopicFilter, (Range<usize>, String)> {
    let span = raw.span();
    let raw = raw.into_inner();
    let words = |list: Option<Vec<toml::Spanned<String>>>, key: &str| {
        let mut out = Vec::new();
        for item in list.unwrap_or_default() {
            if crate::text::fold_words(item.get_ref()).is_empty() {
                return Err((
                    item.span(),
                    format!(
                        "topic.filter.{key}: \"{}\" has no letters or digits to match",
                        item.get_ref()
                    ),
                ));
            }
            out.push(item.into_inner());
        }
        Ok(out)
    };
    let any = words(raw.any, "any")?;
    let none = words(raw.none, "none")?;
    let categories = words(raw.categories, "categories")?;
    let authors = words(raw.authors, "authors")?;
    let regex = match raw.regex {
        None => None,
        Some(pattern) => Some(
            regex::RegexBuilder::new(pattern.get_ref())
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    // The regex crate's message spans several lines (pattern, caret, reason).
                    let reason = e.to_string();
                    let reason = reason
                        .lines()
                        .last()
                        .unwrap_or("invalid")
                        .trim()
                        .to_string();
                    (
                        pattern.span(),
                        format!("topic.filter.regex: invalid regex: {reason}"),
                    )
                })?,
        ),
    };
    let languages = language_tags(raw.languages, "topic.filter.languages")?;
    let filter = TopicFilter {
        any,
        none,
        regex,
        categories,
        languages,
        authors,
    };
    if filter.any.is_empty()
        && filter.none.is_empty()
        && filter.regex.is_none()
        && filter.categories.is_empty()
        && filter.languages.is_empty()
        && filter.authors.is_empty()
    {
        return Err((
            span,
            "topic.filter: empty; give any, none, regex, categories, languages or authors, or remove it".into(),
        ));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests;
