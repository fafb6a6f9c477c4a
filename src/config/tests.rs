use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("feeds.toml"), text)
}

/// The least a config file may say: one source; everything else has defaults.
const MINIMAL: &str = "[[source]]\nurl = \"https://a.example/feed\"\n";

fn error(text: &str) -> String {
    parse(text)
        .expect_err("config should be rejected")
        .to_string()
}

const TOPIC: &str = "[[topic]]\nslug = \"tech\"\ntitle = \"Tech\"\n";

#[test]
fn minimal_config_gets_defaults() {
    let config = parse("").expect("empty config is valid");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.base_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(config.storage.path, PathBuf::from("tributary.db"));
    assert_eq!(config.fetch.interval, Duration::from_secs(1800));
    assert_eq!(config.fetch.timeout, Duration::from_secs(30));
    assert_eq!(config.fetch.concurrency, 16);
    assert_eq!(config.fetch.max_body, 20 * 1024 * 1024);
    assert!(!config.fetch.allow_private_networks);
    assert_eq!(
        config.fetch.user_agent,
        format!(
            "tributary/{} (+http://127.0.0.1:8080/)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn full_config_is_read() {
    let text = format!(
        "[server]\nlisten = \"0.0.0.0:9000\"\nbase_url = \"https://news.example.org/feeds\"\n\
         [storage]\npath = \"/var/lib/t.db\"\n\
         [fetch]\ninterval = \"1h 30m\"\ntimeout = \"10s\"\nconcurrency = 4\nmax_body = \"512KiB\"\nuser_agent = \"ua\"\nallow_private_networks = true\n\
         {TOPIC}description = \"Software\"\n\
         [[source]]\nurl = \"https://blog.example.com/feed\"\ntitle = \"Blog\"\ntopics = [\"tech\"]\ninterval = \"10m\"\n"
    );
    let config = parse(&text).expect("valid");
    assert_eq!(
        config.server.base_url.as_str(),
        "https://news.example.org/feeds/",
        "base_url gains a trailing slash"
    );
    assert_eq!(config.fetch.interval, Duration::from_secs(5400));
    assert_eq!(config.fetch.max_body, 512 * 1024);
    assert_eq!(config.fetch.user_agent, "ua");
    assert!(config.fetch.allow_private_networks);
    let source = config
        .source("https://blog.example.com/feed")
        .expect("source");
    assert_eq!(source.title.as_deref(), Some("Blog"));
    assert_eq!(source.topics, vec![TopicSlug::new("tech").expect("slug")]);
    assert_eq!(config.interval_of(source), Duration::from_secs(600));
    assert_eq!(
        config.topic("tech").and_then(|t| t.description.as_deref()),
        Some("Software")
    );
}

#[test]
fn unknown_key_names_line_and_column() {
    assert_eq!(
        error("[fetch]\ninterval = \"5m\"\nintervall = \"5m\"\n"),
        "feeds.toml:3:1: unknown field `intervall`, expected one of `interval`, `timeout`, `concurrency`, `max_body`, `user_agent`, `allow_private_networks`, `min_interval`, `max_interval`, `per_host`, `host_delay`, `proxy`"
    );
}

#[test]
fn syntax_error_names_line_and_column() {
    let e = error("[server]\nlisten = \"127.0.0.1:8080\n");
    assert!(e.starts_with("feeds.toml:2:"), "{e}");
}

#[test]
fn bad_duration_points_at_the_value() {
    assert_eq!(
        error("[fetch]\ntimeout = \"soon\"\n"),
        "feeds.toml:2:11: fetch.timeout: invalid duration \"soon\": expected number at 0 (expected e.g. \"30m\", \"1h 30m\")"
    );
}

#[test]
fn zero_duration_is_rejected() {
    assert!(error("[fetch]\ninterval = \"0s\"\n").contains("must be more than zero"));
}

#[test]
fn bad_size_points_at_the_value() {
    let e = error("[fetch]\nmax_body = \"lots\"\n");
    assert!(
        e.starts_with("feeds.toml:2:12: fetch.max_body: invalid size \"lots\""),
        "{e}"
    );
}

#[test]
fn wrong_type_is_located() {
    let e = error("[fetch]\nconcurrency = \"many\"\n");
    assert!(e.starts_with("feeds.toml:2:15: "), "{e}");
}

#[test]
fn duplicate_slug_is_rejected_at_the_second() {
    let text = format!("{TOPIC}{TOPIC}");
    assert_eq!(
        error(&text),
        "feeds.toml:5:8: topic.slug: duplicate topic \"tech\""
    );
}

#[test]
fn reserved_and_malformed_slugs_are_rejected() {
    assert!(error("[[topic]]\nslug = \"all\"\ntitle = \"All\"\n").contains("\"all\" is reserved"));
    assert!(
        error("[[topic]]\nslug = \"Tech News\"\ntitle = \"x\"\n")
            .contains("invalid topic slug \"Tech News\"")
    );
}

#[test]
fn duplicate_source_url_is_rejected() {
    let text = format!(
        "{TOPIC}[[source]]\nurl = \"https://a.example/feed\"\n[[source]]\nurl = \"https://a.example/feed\"\n"
    );
    assert_eq!(
        error(&text),
        "feeds.toml:7:7: source.url: duplicate source https://a.example/feed"
    );
}

#[test]
fn source_topic_must_exist() {
    let text = format!(
        "{TOPIC}[[source]]\nurl = \"https://a.example/feed\"\ntopics = [\"tech\", \"sport\"]\n"
    );
    assert_eq!(
        error(&text),
        "feeds.toml:6:19: source.topics: unknown topic \"sport\" (declare it with [[topic]] slug = \"sport\")"
    );
}

#[test]
fn only_http_urls_are_sources() {
    let e = error("[[source]]\nurl = \"ftp://a.example/feed\"\n");
    assert_eq!(
        e,
        "feeds.toml:2:7: source.url: invalid URL \"ftp://a.example/feed\": scheme ftp: is not http or https"
    );
    let e = error("[[source]]\nurl = \"not a url\"\n");
    assert!(
        e.starts_with("feeds.toml:2:7: source.url: invalid URL \"not a url\""),
        "{e}"
    );
}

#[test]
fn bad_listen_address_is_located() {
    let e = error("[server]\nlisten = \"localhost\"\n");
    assert!(e.starts_with("feeds.toml:2:10: server.listen: "), "{e}");
}

#[test]
fn columns_count_characters_not_bytes() {
    // "Tiếng Việt" has multi-byte characters before the bad value on the same line.
    let e = error(
        "[[topic]]\nslug = \"vn\"\ntitle = \"Tiếng Việt\"\ndescription = \"ok\"\n[[source]]\nurl = \"https://a.example/\"\ntitle = \"Tiếng\" ; interval = \"x\"\n",
    );
    assert!(e.starts_with("feeds.toml:7:"), "{e}");
    let (line, column) = line_column("ạ = 1\nđ", "ạ = 1\n".len() + "đ".len());
    assert_eq!((line, column), (2, 2));
}

#[test]
fn bundled_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
    let config = Config::load(&path).expect("the bundled feeds.toml must pass check");
    assert!(config.sources.len() >= 10, "a dozen real sources");
    assert!((3..=4).contains(&config.topics.len()));
    for source in &config.sources {
        assert!(!source.topics.is_empty(), "{} is in a topic", source.url);
    }
}

#[test]
fn polite_fetching_keys_are_read_with_defaults() {
    let config = parse("").expect("valid");
    assert_eq!(config.fetch.min_interval, Duration::from_secs(300));
    assert_eq!(config.fetch.max_interval, Duration::from_secs(86_400));
    assert_eq!(config.fetch.per_host, 2);
    assert_eq!(config.fetch.host_delay, Duration::from_secs(1));
    assert_eq!(config.fetch.proxy, None);
    let text = "[fetch]\nmin_interval = \"1m\"\nmax_interval = \"6h\"\nper_host = 4\nhost_delay = \"250ms\"\nproxy = \"http://proxy.internal:3128\"\n\
                [[source]]\nurl = \"http://intranet.example/feed\"\nallow_private = true\n";
    let config = parse(text).expect("valid");
    assert_eq!(config.fetch.min_interval, Duration::from_secs(60));
    assert_eq!(config.fetch.max_interval, Duration::from_secs(6 * 3600));
    assert_eq!(config.fetch.per_host, 4);
    assert_eq!(config.fetch.host_delay, Duration::from_millis(250));
    assert_eq!(
        config.fetch.proxy.as_ref().map(|u| u.as_str()),
        Some("http://proxy.internal:3128/")
    );
    assert!(config.sources[0].allow_private);
}

#[test]
fn polite_fetching_keys_are_validated() {
    assert_eq!(
        error("[fetch]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n"),
        "feeds.toml:2:16: fetch.min_interval: must not be longer than fetch.max_interval"
    );
    assert_eq!(
        error("[fetch]\nper_host = 0\n"),
        "feeds.toml:2:12: fetch.per_host: must be at least 1"
    );
    assert_eq!(
        error("[fetch]\nproxy = \"ftp://p.example\"\n"),
        "feeds.toml:2:9: fetch.proxy: scheme ftp: is not http or https"
    );
    assert!(
        error("[[source]]\nurl = \"http://a.example/\"\nallow_private = \"yes\"\n")
            .starts_with("feeds.toml:3:17: ")
    );
}

#[test]
fn identity_and_tracking_params_are_read_and_checked() {
    let config = parse("[dedup]\ntracking_params = [\"src\", \"ito_*\"]\n[[source]]\nurl = \"https://a.example/\"\nidentity = \"link\"\n").expect("valid");
    assert_eq!(config.dedup.tracking_params, ["src", "ito_*"]);
    assert_eq!(
        config.sources[0].identity,
        Some(crate::model::Identity::Link)
    );
    assert_eq!(
        error("[[source]]\nurl = \"https://a.example/\"\nidentity = \"title\"\n"),
        "feeds.toml:3:12: source.identity: \"title\" is not one of guid, link, content"
    );
    assert!(
        error("[dedup]\ntracking_params = [\"a=b\"]\n")
            .starts_with("feeds.toml:2:20: dedup.tracking_params:")
    );
}

#[test]
fn near_duplicate_settings_are_read_and_bounded() {
    let config = parse("").expect("valid");
    assert_eq!(config.dedup.near_duplicate_threshold, 0.5);
    assert_eq!(config.dedup.window, Duration::from_secs(72 * 3600));
    let config =
        parse("[dedup]\nnear_duplicate_threshold = 0.8\nwindow = \"24h\"\n").expect("valid");
    assert_eq!(
        (config.dedup.near_duplicate_threshold, config.dedup.window),
        (0.8, Duration::from_secs(86_400))
    );
    assert_eq!(
        error("[dedup]\nnear_duplicate_threshold = -1.0\n"),
        "feeds.toml:2:28: dedup.near_duplicate_threshold: must be more than 0 (above 1 turns it off)"
    );
}

#[test]
fn joining_republications_to_their_origin_is_on_unless_turned_off() {
    assert!(parse("").expect("valid").dedup.origins);
    assert!(
        !parse("[dedup]\norigins = false\n")
            .expect("valid")
            .dedup
            .origins
    );
    let message = error("[dedup]\norigins = \"yes\"\n");
    assert!(message.starts_with("feeds.toml:2:"), "{message}");
}

#[test]
fn retention_settings_are_read() {
    let config = parse("").expect("valid");
    assert_eq!(config.storage.retention, Duration::from_secs(90 * 86_400));
    assert_eq!(config.storage.max_entries_per_source, 1000);
    let config =
        parse("[storage]\nretention = \"30d\"\nmax_entries_per_source = 200\n").expect("valid");
    assert_eq!(
        (
            config.storage.retention,
            config.storage.max_entries_per_source
        ),
        (Duration::from_secs(30 * 86_400), 200)
    );
    assert_eq!(
        error("[storage]\nmax_entries_per_source = 0\n"),
        "feeds.toml:2:26: storage.max_entries_per_source: must be at least 1"
    );
}

#[test]
fn max_entry_size_is_read_and_checked_with_line_and_column() {
    assert_eq!(parse("").expect("valid").storage.max_entry_size, 1 << 20);
    let config = parse("[storage]\nmax_entry_size = \"256KiB\"\n").expect("valid");
    assert_eq!(config.storage.max_entry_size, 256 * 1024);
    assert_eq!(
        error("[storage]\nmax_entry_size = \"100B\"\n"),
        "feeds.toml:2:18: storage.max_entry_size: \"100B\" is too small; at least 1KiB"
    );
    assert!(
        error("[storage]\n\nmax_entry_size = \"lots\"\n")
            .starts_with("feeds.toml:3:18: storage.max_entry_size: invalid size \"lots\""),
    );
}

#[test]
fn topic_filters_are_read_and_checked_with_line_and_column() {
    let config = parse(
        "[[topic]]\nslug = \"sec\"\ntitle = \"Security\"\nall_sources = true\n[topic.filter]\nany = [\"an ninh mạng\"]\nregex = '(?i)cve-\\d+'\nlanguages = [\"vi-VN\", \"ID\"]\n",
    )
    .expect("valid filter");
    let topic = &config.topics[0];
    assert!(topic.all_sources);
    let filter = topic.filter.as_ref().expect("filter");
    assert_eq!(filter.any, ["an ninh mạng"]);
    assert_eq!(filter.languages, ["vi", "id"]);
    assert!(filter.regex.as_ref().expect("regex").is_match("CVE-2026"));

    assert_eq!(
        error(&format!("{TOPIC}[topic.filter]\nregex = \"(unclosed\"\n")),
        "feeds.toml:5:9: topic.filter.regex: invalid regex: error: unclosed group"
    );
    assert_eq!(
        error(&format!("{TOPIC}[topic.filter]\nany = [\"ok\", \"--\"]\n")),
        "feeds.toml:5:14: topic.filter.any: \"--\" has no letters or digits to match"
    );
    assert_eq!(
        error(&format!(
            "{TOPIC}[topic.filter]\nlanguages = [\"vietnamese!\"]\n"
        )),
        "feeds.toml:5:14: topic.filter.languages: \"vietnamese!\" is not a language tag (e.g. \"vi\", \"id\", \"en\")"
    );
    assert!(
        error(&format!("{TOPIC}[topic.filter]\nwords = [\"x\"]\n"))
            .starts_with("feeds.toml:5:1: unknown field `words`"),
    );
    assert!(error(&format!("{TOPIC}[topic.filter]\n")).contains("topic.filter: empty"));
}

#[test]
fn service_directories_place_config_and_database() {
    let none = ServiceDirs::default();
    assert_eq!(none.config_file(None), PathBuf::from("feeds.toml"));
    assert_eq!(
        none.database(Path::new("tributary.db")),
        PathBuf::from("tributary.db")
    );

    let dirs = ServiceDirs {
        config: Some(PathBuf::from("/etc/tributary")),
        state: Some(PathBuf::from("/var/lib/tributary")),
    };
    assert_eq!(
        dirs.config_file(None),
        PathBuf::from("/etc/tributary/feeds.toml")
    );
    assert_eq!(
        dirs.config_file(Some(Path::new("other.toml"))),
        PathBuf::from("other.toml")
    );
    assert_eq!(
        dirs.database(Path::new("tributary.db")),
        PathBuf::from("/var/lib/tributary/tributary.db")
    );
    assert_eq!(
        dirs.database(Path::new("/srv/news.db")),
        PathBuf::from("/srv/news.db")
    );
}

#[test]
fn websub_hub_is_an_http_url() {
    assert!(parse("").expect("valid").server.websub_hub.is_none());
    let config = parse("[server]\nwebsub_hub = \"https://hub.example/\"\n").expect("valid");
    assert_eq!(
        config.server.websub_hub.as_ref().map(Url::as_str),
        Some("https://hub.example/")
    );
    assert_eq!(
        error("[server]\nwebsub_hub = \"ftp://hub.example/\"\n"),
        "feeds.toml:2:14: server.websub_hub: invalid URL \"ftp://hub.example/\": scheme ftp: is not http or https"
    );
}

#[test]
fn cache_max_age_defaults_to_a_minute_and_is_bounded() {
    assert_eq!(parse("").expect("valid").server.cache_max_age, 60);
    assert_eq!(
        parse("[server]\ncache_max_age = 0\n")
            .expect("valid")
            .server
            .cache_max_age,
        0
    );
    assert_eq!(
        error("[server]\ncache_max_age = 40000000\n"),
        "feeds.toml:2:17: server.cache_max_age: at most 31536000 seconds (a year)"
    );
    assert!(error("[server]\ncache_max_age = -1\n").starts_with("feeds.toml:2:17: "));
}

/// Regression: an empty feeds.toml (a truncated copy, the wrong path) started a daemon that
/// polled nothing.
#[test]
fn an_empty_config_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.toml");
    for text in ["", "\n  \n", "# only comments\n# here\n"] {
        std::fs::write(&path, text).expect("write");
        let e = Config::load(&path).expect_err("refused");
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (1, 1, "the file is empty: declare at least one [[source]]")
        );
    }
    std::fs::write(&path, MINIMAL).expect("write");
    assert_eq!(Config::load(&path).expect("valid").sources.len(), 1);
}

/// Regression: zero and year-long intervals and other absurd values were accepted.
#[test]
fn absurd_config_values_are_refused_with_their_range() {
    let cases = [
        (
            "[fetch]\ninterval = \"365d\"\n",
            "feeds.toml:2:12: fetch.interval: \"365d\" is out of range (1m to 7d)",
        ),
        (
            "[fetch]\ninterval = \"1s\"\n",
            "feeds.toml:2:12: fetch.interval: \"1s\" is out of range (1m to 7d)",
        ),
        (
            "[fetch]\ntimeout = \"2h\"\n",
            "feeds.toml:2:11: fetch.timeout: \"2h\" is out of range (1s to 10m)",
        ),
        (
            "[fetch]\nmax_interval = \"1y\"\n",
            "feeds.toml:2:16: fetch.max_interval: \"1y\" is out of range (1m to 30d)",
        ),
        (
            "[fetch]\nhost_delay = \"1d\"\n",
            "feeds.toml:2:14: fetch.host_delay: \"1d\" is out of range (0s to 10m)",
        ),
        (
            "[fetch]\nconcurrency = 100000\n",
            "feeds.toml:2:15: fetch.concurrency: at most 1024",
        ),
        (
            "[fetch]\nper_host = 1000\n",
            "feeds.toml:2:12: fetch.per_host: at most 64",
        ),
        (
            "[fetch]\nmax_body = \"10B\"\n",
            "feeds.toml:2:12: fetch.max_body: \"10B\" is out of range (1KiB to 1GiB)",
        ),
        (
            "[storage]\nretention = \"1s\"\n",
            "feeds.toml:2:13: storage.retention: \"1s\" is out of range (1h to 100y)",
        ),
        (
            "[storage]\nmax_entries_per_source = 4000000000\n",
            "feeds.toml:2:26: storage.max_entries_per_source: at most 1000000",
        ),
        (
            "[dedup]\nwindow = \"1y\"\n",
            "feeds.toml:2:10: dedup.window: \"1y\" is out of range (1m to 90d)",
        ),
        (
            "[[source]]\nurl = \"https://a.example/\"\ninterval = \"10s\"\n",
            "feeds.toml:3:12: source.interval: \"10s\" is out of range (1m to 7d)",
        ),
    ];
    for (text, expected) in cases {
        // The source follows the setting, so that the line numbers are the case's own.
        let text = if text.starts_with("[[source]]") {
            text.to_string()
        } else {
            format!("{text}{MINIMAL}")
        };
        assert_eq!(error(&text), expected, "{text}");
    }
}

/// Regression: feeds.toml was read whole whatever its size, so a wrong path such as `/dev/zero`
/// ran the daemon out of memory.
#[test]
fn a_config_file_larger_than_the_cap_is_refused() {
    let e = Config::load(Path::new("/dev/zero")).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "/dev/zero:1:1: cannot read config: larger than 32 MiB"
    );
}

/// Regression: an invalid UTF-8 byte was reported at 1:1 instead of where it is.
#[test]
fn an_invalid_utf8_byte_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.toml");
    let mut text = b"[[source]]\nurl = \"https://a.example/feed\"\ntitle = \"Caf".to_vec();
    text.push(0xE9); // é in Latin-1
    text.extend_from_slice(b" Ti\xE1\xBA\xBFng\"\n");
    std::fs::write(&path, &text).expect("write");
    let e = Config::load(&path).expect_err("refused");
    assert_eq!((e.line, e.column), (3, 13), "{e}");
    assert!(
        e.message
            .starts_with("not valid UTF-8: byte 0xE9 at offset 54"),
        "{e}"
    );
}

#[test]
fn a_topic_shows_stories_in_its_languages_else_its_filters() {
    let config = parse(
        "[[topic]]\nslug = \"a\"\ntitle = \"A\"\nlanguages = [\"id\", \"vi-VN\"]\n\n\
         [[topic]]\nslug = \"b\"\ntitle = \"B\"\n[topic.filter]\nlanguages = [\"ms\"]\n\n\
         [[topic]]\nslug = \"c\"\ntitle = \"C\"\n",
    )
    .expect("valid");
    let shown = |slug: &str| config.topic(slug).map(|t| t.shown_languages().to_vec());
    assert_eq!(shown("a"), Some(vec!["id".to_string(), "vi".to_string()]));
    assert_eq!(shown("b"), Some(vec!["ms".to_string()]));
    assert_eq!(shown("c"), Some(Vec::new()));
    assert_eq!(
        error("[[topic]]\nslug = \"a\"\ntitle = \"A\"\nlanguages = [\"v1\"]\n"),
        "feeds.toml:4:14: topic.languages: \"v1\" is not a language tag (e.g. \"vi\", \"id\", \"en\")"
    );
}

#[test]
fn the_database_url_selects_the_engine_and_a_malformed_one_is_located() {
    let config = parse("").expect("valid");
    assert_eq!(config.storage.engine, StorageEngine::Sqlite);
    for url in [
        "postgres://tributary@db.internal:5432/news",
        "postgresql://tributary:secret@10.0.0.5/news",
    ] {
        let config = parse(&format!("[storage]\nurl = \"{url}\"\n")).expect("valid");
        assert_eq!(
            config.storage.engine,
            StorageEngine::Postgres {
                url: url.to_string()
            }
        );
    }
    let config = parse("[storage]\nurl = \"sqlite:/var/lib/t/news.db\"\n").expect("valid");
    assert_eq!(config.storage.engine, StorageEngine::Sqlite);
    assert_eq!(config.storage.path, Path::new("/var/lib/t/news.db"));
    for (url, message) in [
        ("mysql://h/db", "unknown engine \"mysql\""),
        ("postgres:///db", "needs a host"),
        ("postgres://h:5432/", "needs a database name"),
        ("sqlite:", "needs a path"),
        ("db.internal", "not a database URL"),
    ] {
        let error = error(&format!("[storage]\nurl = \"{url}\"\n"));
        assert!(
            error.starts_with("feeds.toml:2:7: storage.url: ") && error.contains(message),
            "{url}: {error}"
        );
    }
}

#[test]
fn the_environment_overrides_the_database_url() {
    let config = parse("[storage]\nurl = \"postgres://a@h/x\"\n").expect("valid");
    let config = config
        .with_database_url("postgres://b:pw@other/y")
        .expect("valid");
    assert_eq!(
        config.storage.engine,
        StorageEngine::Postgres {
            url: "postgres://b:pw@other/y".into()
        }
    );
    let bad = parse("")
        .expect("valid")
        .with_database_url("postgres://")
        .expect_err("malformed");
    assert!(
        bad.message.starts_with("TRIBUTARY_DATABASE_URL: "),
        "{}",
        bad.message
    );
}

#[test]
fn a_node_is_named_by_the_file_else_by_host_and_process() {
    let config = parse("[cluster]\nnode = \"hanoi-1\"\n").expect("valid");
    assert_eq!(config.cluster.node, "hanoi-1");
    let config = parse("").expect("valid");
    assert!(
        config
            .cluster
            .node
            .ends_with(&format!("-{}", std::process::id())),
        "{}",
        config.cluster.node
    );
    assert!(error("[cluster]\nnode = \" \"\n").contains("cluster.node"));
}
