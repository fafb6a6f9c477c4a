//! Operator commands and logging, through the real binary: JSON and journald log formats,
//! `import-opml` editing feeds.toml, `backup` while another connection writes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{FixtureServer, fetch, standard_sources, tributary, write_config};

const BASE: &str = "http://feeds.test/";

/// The binary with `--config config` and `args`, RUST_LOG unset.
fn command(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM");
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run tributary"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_fixed_fields() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        BASE,
        &server,
        "",
        &[("rss_guid.xml", &["tech"]), ("missing.xml", &["tech"])],
    );
    let out = output(command(
        &config,
        &["--log-format", "json", "--log-level", "info", "fetch"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "one source fails");
    let stderr = text(&out.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let find = |message: &str, url: &str| {
        events
            .iter()
            .find(|e| e["message"] == message && e["url"] == url)
            .unwrap_or_else(|| panic!("no {message:?} event for {url} in:\n{stderr}"))
    };
    let refreshed = find("refreshed", &server.url("rss_guid.xml"));
    assert_eq!(refreshed["level"], "INFO");
    assert!(refreshed["elapsed_ms"].is_u64(), "{refreshed}");
    assert!(
        refreshed["new"].as_u64().is_some_and(|n| n > 0),
        "{refreshed}"
    );
    assert!(refreshed["timestamp"].is_string(), "{refreshed}");
    let failed = find("refresh failed", &server.url("missing.xml"));
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["status"], 404);
    assert!(failed["elapsed_ms"].is_u64(), "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| e.contains("404")),
        "{failed}"
    );
    // Output lines on stdout are not affected by the log format.
    assert!(text(&out.stdout).contains("total: 2 sources, 1 ok"));
}

/// Runs `fetch` of the standard sources into a new database with standard error in a file;
/// `journal` sets JOURNAL_STREAM to that file's device and inode (or another inode), the way
/// systemd describes the stream it connected.
async fn fetch_logging_to_file(server: &FixtureServer, journal: Option<bool>) -> String {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = &write_config(dir.path(), BASE, server, "", &standard_sources());
    let log = dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).expect("log file");
    let meta = file.metadata().expect("metadata");
    let mut cmd = command(config, &["--log-level", "info", "fetch"]);
    match journal {
        Some(true) => {
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        // Inherited from a parent whose stream went to the journal, while ours does not.
        Some(false) => {
            cmd.env(
                "JOURNAL_STREAM",
                format!("{}:{}", meta.dev(), meta.ino() + 1),
            );
        }
        None => {}
    }
    cmd.stdout(Stdio::null()).stderr(file);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0));
    std::fs::read_to_string(&log).expect("read log")
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_under_journald_have_no_timestamps_or_colours() {
    let server = FixtureServer::start().await;
    let journal = fetch_logging_to_file(&server, Some(true)).await;
    let lines: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("refreshed"))
        .collect();
    assert_eq!(lines.len(), 5, "{journal}");
    for line in &lines {
        assert!(line.trim_start().starts_with("INFO "), "{line}");
        assert!(line.contains(" url=http://127.0.0.1:"), "{line}");
        assert!(line.contains(" elapsed_ms="), "{line}");
    }
    assert!(!journal.contains('\u{1b}'), "no ANSI escapes: {journal:?}");

    // Elsewhere (a plain file, or a JOURNAL_STREAM that names another stream) lines start with
    // their time.
    for journal in [None, Some(false)] {
        let plain = fetch_logging_to_file(&server, journal).await;
        let first = plain.lines().next().expect("a log line");
        assert!(
            first.starts_with("20") && first.contains('T'),
            "{journal:?}: {first}"
        );
    }
}

#[test]
fn an_invalid_log_level_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, "").expect("write");
    let out = command(&config, &["--log-level", "tributary=loud", "check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: --log-level tributary=loud:"));
}

#[test]
fn a_postgres_url_is_checked_and_an_unreachable_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        "[storage]\nurl = \"postgres://tributary:hunter2@127.0.0.1:1/news\"\n\n\
         [[source]]\nurl = \"http://127.0.0.1:1/feed.xml\"\n",
    )
    .expect("write");
    let out = command(&config, &["check"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Nothing listens on port 1: every command that needs the database says which one it could
    // not reach, on one line, and exits 1 without a panic.
    for args in [&["fetch"][..], &["run"], &["status"], &["prune"]] {
        let out = command(&config, args)
            .current_dir(dir.path())
            .output()
            .expect("run");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim().lines().collect::<Vec<_>>(),
            [
                "error: opening the PostgreSQL database: cannot connect to PostgreSQL at \
                 127.0.0.1:1/news: error connecting to server: Connection refused (os error 111)"
            ],
            "{args:?}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    // backup copies SQLite databases: on PostgreSQL it says what to use instead.
    let out = command(&config, &["backup", "copy.db"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("back a PostgreSQL database up with pg_dump"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join("tributary.db").exists(),
        "no SQLite file made"
    );
    // The environment overrides the file, and a malformed URL there is named.
    let out = command(&config, &["check"])
        .env("TRIBUTARY_DATABASE_URL", "mysql://h/db")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("TRIBUTARY_DATABASE_URL: unknown engine"),
        "{}",
        text(&out.stderr)
    );
}

const OPML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Exported from a reader</title></head>
  <body>
    <outline text="Tech">
      <outline type="rss" text="Already here" xmlUrl="{present}"/>
      <outline type="rss" text="Atom fixture" title="The Atom one" xmlUrl="{atom}"/>
    </outline>
    <outline type="rss" text="JSON" xmlurl="{json}"/>
  </body>
</opml>
"#;

fn opml_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write opml");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn import_opml_appends_new_sources_and_keeps_the_file_as_written() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        BASE,
        &server,
        "",
        &[("rss_guid.xml", &["tech"])],
    );
    // Comments and layout the operator wrote must survive.
    let mut original = std::fs::read_to_string(&config).expect("read");
    original = format!("# my feeds, by hand\n{original}# end of my list\n");
    std::fs::write(&config, &original).expect("write");
    // The same URL as the configured source, spelled differently.
    let present = server.url("rss_guid.xml").replacen("http://", "HTTP://", 1);
    let opml = opml_file(
        dir.path(),
        "subs.opml",
        &OPML
            .replace("{present}", &present)
            .replace("{atom}", &server.url("atom.xml"))
            .replace("{json}", &server.url("feed.json")),
    );
    let out = output(command(
        &config,
        &[
            "import-opml",
            opml.to_str().expect("utf-8"),
            "--topic",
            "local",
        ],
    ))
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.ends_with("added 2, skipped 1 already present, 0 invalid\n"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("present {}", server.url("rss_guid.xml"))));
    let edited = std::fs::read_to_string(&config).expect("read");
    let appended = format!(
        "\n[[source]]\nurl = \"{}\"\ntitle = \"The Atom one\"\ntopics = [\"local\"]\n\n[[source]]\nurl = \"{}\"\ntitle = \"JSON\"\ntopics = [\"local\"]\n",
        server.url("atom.xml"),
        server.url("feed.json")
    );
    let expected = original.replace(
        "# end of my list\n",
        &format!("{appended}# end of my list\n"),
    );
    assert_eq!(edited, expected);
    let (code, stdout, _) = tributary(&config, &["check"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("(3 sources, 3 topics)"), "{stdout}");

    // The new sources are fetched like any other.
    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("total: 3 sources, 3 ok"), "{stdout}");

    // Importing again adds nothing and leaves the file byte for byte.
    let out = output(command(
        &config,
        &["import-opml", opml.to_str().expect("utf-8")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).ends_with("added 0, skipped 3 already present, 0 invalid\n"));
    assert_eq!(std::fs::read_to_string(&config).expect("read"), edited);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_opml_reports_invalid_feeds_and_refuses_unknown_topics() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), BASE, &server, "", &[]);
    let original = std::fs::read(&config).expect("read");
    let opml = opml_file(
        dir.path(),
        "mixed.opml",
        r#"<opml version="1.0"><body>
<outline text="ok" xmlUrl="https://example.org/feed.xml"/>
<outline text="ftp" xmlUrl="ftp://example.org/feed"/>
<outline text="empty" xmlUrl=""/>
</body></opml>"#,
    );
    let path = opml.to_str().expect("utf-8");

    let out = output(command(&config, &["import-opml", path, "--topic", "sport"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--topic sport: no such topic (declared: tech, vietnam, local)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&config).expect("read"), original);

    let out = output(command(&config, &["import-opml", path])).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "invalid feeds fail the command");
    assert!(
        stdout.contains(
            "added 1, skipped 0 already present, 2 invalid: ftp://example.org/feed (invalid URL"
        ),
        "{stdout}"
    );
    let edited = std::fs::read_to_string(&config).expect("read");
    assert!(
        edited.ends_with("\n[[source]]\nurl = \"https://example.org/feed.xml\"\ntitle = \"ok\"\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_opml_is_an_error_not_a_crash() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), BASE, &server, "", &[]);
    let original = std::fs::read(&config).expect("read");
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE opml [\n<!ENTITY a \"lol\">\n");
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] {
        laughs.push_str(&format!(
            "<!ENTITY {name} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
        prev = name;
    }
    laughs.push_str(
        "]>\n<opml><body><outline text=\"&j;\" xmlUrl=\"http://x.example/\"/></body></opml>\n",
    );
    let huge = dir.path().join("huge.opml");
    {
        let file = std::fs::File::create(&huge).expect("create");
        file.set_len(tributary::opml::MAX_OPML_BYTES + 1)
            .expect("sparse file");
    }
    let cases = [
        (
            opml_file(dir.path(), "laughs.opml", &laughs),
            "not well-formed XML",
        ),
        (huge, "not a subscription list"),
        (
            opml_file(
                dir.path(),
                "feed.opml",
                "<rss version=\"2.0\"><channel/></rss>",
            ),
            "not OPML",
        ),
        (dir.path().join("absent.opml"), "cannot read"),
    ];
    for (file, message) in cases {
        let out = output(command(
            &config,
            &["import-opml", file.to_str().expect("utf-8")],
        ))
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{file:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(std::fs::read(&config).expect("read"), original);
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_while_another_connection_writes_is_consistent() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), BASE, &server, "", &standard_sources());
    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stdout}");
    let db = dir.path().join("tributary.db");

    let live = rusqlite::Connection::open(&db).expect("open live");
    live.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    live.execute_batch("CREATE TABLE scratch (n INTEGER, pad BLOB)")
        .expect("scratch table");
    let entries: i64 = live
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .expect("count");
    assert!(entries > 0);

    // A writer commits small transactions for as long as the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) || n < 50 {
                live.execute("INSERT INTO scratch VALUES (?1, zeroblob(4096))", [n])
                    .expect("insert");
                n += 1;
            }
            n
        })
    };
    let dest = dir.path().join("backup.db");
    let out = output(command(&config, &["backup", dest.to_str().expect("utf-8")])).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("backup.db ("),
        "{}",
        text(&out.stdout)
    );

    let copy = rusqlite::Connection::open(&dest).expect("open backup");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
    let copied: i64 = copy
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .expect("count");
    assert_eq!(copied, entries);
    let scratch: i64 = copy
        .query_row("SELECT count(*) FROM scratch", [], |r| r.get(0))
        .expect("count");
    assert!(scratch <= written, "{scratch} of {written}");
    // One point in the writer's history: the rows committed by then, each whole, none missing.
    let prefix: bool = copy
        .query_row(
            "SELECT count(*) = coalesce(max(n) + 1, 0) AND min(length(pad)) IS NOT 0
             FROM scratch",
            [],
            |r| r.get(0),
        )
        .expect("prefix");
    assert!(
        prefix,
        "the copy holds a gap or a torn row of the writer's inserts"
    );
    assert!(!dir.path().join("backup.db-wal").exists());

    // An existing file is never overwritten.
    let before = std::fs::read(&dest).expect("read");
    let out = output(command(&config, &["backup", dest.to_str().expect("utf-8")])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exists already"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&dest).expect("read"), before);
}

#[test]
fn backup_without_a_database_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n",
            dir.path().join("none.db").display()
        ),
    )
    .expect("write");
    let out = command(&config, &["backup", "/nonexistent-dir/x.db"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no database at"));
    assert!(!dir.path().join("none.db").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn export_opml_groups_sources_by_topic_and_imports_back() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), BASE, &server, "", &standard_sources());
    // With the database: feed titles learned by a fetch name the outlines.
    let (code, _, stderr) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let out = output(command(&config, &["export-opml"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = text(&out.stdout);
    let doc = roxmltree::Document::parse(&exported).expect("OPML is XML");
    let groups: Vec<(String, Vec<String>)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("outline") && n.attribute("xmlUrl").is_none())
        .map(|g| {
            let urls = g
                .children()
                .filter_map(|f| f.attribute("xmlUrl").map(str::to_string))
                .collect();
            (g.attribute("text").unwrap_or_default().to_string(), urls)
        })
        .collect();
    let group = |title: &str| {
        groups
            .iter()
            .find(|(t, _)| t == title)
            .map(|(_, urls)| urls.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        group("Tech"),
        vec![
            server.url("rss_guid.xml"),
            server.url("atom.xml"),
            server.url("feed.json")
        ]
    );
    assert_eq!(group("Tin Việt Nam"), vec![server.url("vietnamese.xml")]);
    assert_eq!(group("Local"), vec![server.url("rss_noguid.xml")]);
    assert!(
        doc.descendants().any(|n| n.attribute("xmlUrl")
            == Some(server.url("vietnamese.xml").as_str())
            && n.attribute("title").is_some_and(|t| !t.starts_with("http"))),
        "a fetched source is named by its feed title: {exported}"
    );

    // Imported into a config without sources, the export gives back every source.
    let other = tempfile::tempdir().expect("tempdir");
    let empty = write_config(other.path(), BASE, &server, "", &[]);
    let file = opml_file(other.path(), "export.opml", &exported);
    let out = output(command(
        &empty,
        &["import-opml", file.to_str().expect("utf-8 path")],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("added 5"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_read_as_empty_despite_its_items_is_a_warning_in_fetch_and_status() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Items in a namespace nothing reads: the document parses, and yields nothing.
    let hidden = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Hidden</title>
        <x:item xmlns:x="urn:elsewhere"><x:title>a</x:title></x:item>
        <x:item xmlns:x="urn:elsewhere"><x:title>b</x:title></x:item></channel></rss>"#;
    server.set("hidden.xml", 200, "application/rss+xml", hidden.into());
    let config = write_config(dir.path(), BASE, &server, "", &[("hidden.xml", &["tech"])]);
    let url = server.url("hidden.xml");
    let warning = "no entries read, although the document has 2 <item> elements";

    let out = output(command(&config, &["--log-level", "warn", "fetch"])).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is no failure: {stderr}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&url))
        .expect("the source's line");
    assert!(
        line.starts_with(&format!("{url} ok new=0 updated=0 unchanged=0 ")),
        "{line}"
    );
    assert!(line.ends_with(&format!("ms warning: {warning}")), "{line}");
    assert!(stderr.contains(warning), "logged at warn: {stderr}");
    assert!(stderr.contains(&format!("source={url}")), "{stderr}");

    let (code, table, _) = tributary(&config, &["status"]);
    assert_eq!(code, 0);
    assert!(
        table
            .lines()
            .next()
            .unwrap_or("")
            .ends_with("LAST ERROR  WARNING"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with(&url)).expect("row");
    assert!(row.ends_with(warning), "{row}");
    let (_, json, _) = tributary(&config, &["status", "--json"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON row");
    assert_eq!(row["warning"], warning);

    // The next document with entries clears it.
    let fixed = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Hidden</title>
        <item><title>a</title><link>http://hidden.example/a</link></item></channel></rss>"#;
    server.set("hidden.xml", 200, "application/rss+xml", fixed.into());
    let out = output(command(&config, &["fetch"])).await;
    let stdout = text(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with(&url)).expect("line");
    assert!(line.starts_with(&format!("{url} ok new=1 ")), "{line}");
    assert!(!line.contains("warning"), "{line}");
    let (_, json, _) = tributary(&config, &["status", "--json"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON row");
    assert_eq!(row["warning"], serde_json::Value::Null);
}
