//! `import-opml`: an OPML subscription list (OPML 1.0 or 2.0, as feed readers export them) becomes
//! `[[source]]` tables appended to feeds.toml.
//!
//! Reading is defensive: the file is capped in size, DTDs are refused (so entity expansion such as
//! "billion laughs" never starts), and the parser stops at a node limit. Editing goes through
//! `toml_edit`, so every comment, blank line and key the operator wrote stays as written; the result
//! is validated with [`Config::parse`] before anything is written, and written atomically (a
//! temporary file renamed over the old one), so a crash never leaves a half-written feeds.toml.
//! This module never fetches the feeds it imports.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use url::Url;

use crate::config::{ALL_TOPIC, Config, ConfigError};

/// OPML files larger than this are refused: subscription lists are a few hundred KiB at most.
pub const MAX_OPML_BYTES: u64 = 16 * 1024 * 1024;
/// Elements, attributes and text nodes the parser may build before it gives up.
const MAX_NODES: u32 = 2_000_000;

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: larger than {max} bytes; not a subscription list", max = MAX_OPML_BYTES)]
    TooLarge { path: PathBuf },
    #[error("{path}: not well-formed XML: {source}")]
    Xml {
        path: PathBuf,
        #[source]
        source: roxmltree::Error,
    },
    #[error("{path}: not OPML: the root element is <{root}>, not <opml>")]
    NotOpml { path: PathBuf, root: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Opml(#[from] OpmlError),
    #[error("{path}: --topic {slug}: no such topic (declared: {declared})")]
    UnknownTopic {
        path: PathBuf,
        slug: String,
        declared: String,
    },
    #[error("--topic {ALL_TOPIC}: every source is in \"{ALL_TOPIC}\" already; leave --topic out")]
    AllTopic,
    #[error("{path}: {message}")]
    Edit { path: PathBuf, message: String },
    #[error("the edited configuration would not be valid: {0}")]
    Invalid(#[source] ConfigError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One feed of an OPML file: an `<outline>` with an `xmlUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `xmlUrl` as written.
    pub url: String,
    /// `title`, else `text`, with white space collapsed; `None` when both are empty.
    pub title: Option<String>,
}

/// What became of one OPML feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Added(Url),
    /// Already a source in feeds.toml (or earlier in the same OPML file).
    Present(Url),
    Invalid {
        url: String,
        reason: String,
    },
}

/// The edited configuration text and what happened to each feed, in OPML order.
#[derive(Debug)]
pub struct Import {
    pub text: String,
    pub verdicts: Vec<Verdict>,
}

impl Import {
    pub fn added(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Added(_)))
    }

    pub fn present(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Present(_)))
    }

    pub fn invalid(&self) -> Vec<(&str, &str)> {
        self.verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Invalid { url, reason } => Some((url.as_str(), reason.as_str())),
                _ => None,
            })
            .collect()
    }

    fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.verdicts.iter().filter(|v| f(v)).count()
    }
}

/// Reads the OPML file at `path` (at most [`MAX_OPML_BYTES`]).
pub fn read_opml(path: &Path) -> Result<Vec<OpmlFeed>, OpmlError> {
    let read = |source| OpmlError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_OPML_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_OPML_BYTES {
        return Err(OpmlError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse_opml(path, &bytes)
}

/// Every `<outline>` with an `xmlUrl` (in any letter case: `xmlurl` and `XMLURL` are seen in the
/// wild), at any depth, in document order. `path` only names the file in errors.
pub fn parse_opml(path: &Path, bytes: &[u8]) -> Result<Vec<OpmlFeed>, OpmlError> {
    parse_limited(path, bytes, MAX_NODES)
}

fn parse_limited(path: &Path, bytes: &[u8], nodes_limit: u32) -> Result<Vec<OpmlFeed>, OpmlError> {
    // The feed decoder: byte-order marks, UTF-16, and the prolog's encoding for legacy files.
    let text = crate::parse::decode::decode(bytes, None).text;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options).map_err(|source| {
        OpmlError::Xml {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let root = doc.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("opml") {
        return Err(OpmlError::NotOpml {
            path: path.to_path_buf(),
            root: root.tag_name().name().to_string(),
        });
    }
    let feeds = root
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("outline"))
        .filter_map(|n| {
            let url = attribute(n, "xmlUrl")?.trim().to_string();
            let title = [attribute(n, "title"), attribute(n, "text")]
                .into_iter()
                .flatten()
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .find(|t| !t.is_empty());
            Some(OpmlFeed { url, title })
        })
        .collect();
    Ok(feeds)
}

fn attribute<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name().eq_ignore_ascii_case(name))
        .map(|a| a.value())
}

/// Appends a `[[source]]` for every feed of `feeds` that the config `text` (the file at `path`)
/// does not have yet, listing `topic` when given. URLs are compared the way the config
/// compares them (parsed: scheme and host in lower case, default port dropped). `each` is called
/// once per feed, in order, as it is decided. The returned text has been validated.
pub fn append_sources(
    path: &Path,
    text: &str,
    feeds: &[OpmlFeed],
    topic: Option<&str>,
    mut each: impl FnMut(&Verdict),
) -> Result<Import, ImportError> {
    // The same text that is edited: a file changed since it was loaded cannot mislead the check.
    let config = Config::parse(path, text).map_err(ImportError::Invalid)?;
    if let Some(slug) = topic {
        if slug == ALL_TOPIC {
            return Err(ImportError::AllTopic);
        }
        if config.topic(slug).is_none() {
            let declared: Vec<&str> = config.topics.iter().map(|t| t.slug.as_str()).collect();
            return Err(ImportError::UnknownTopic {
                path: path.to_path_buf(),
                slug: slug.to_string(),
                declared: if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                },
            });
        }
    }
    let edit_error = |message: String| ImportError::Edit {
        path: path.to_path_buf(),
        message,
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| edit_error(e.to_string()))?;
    let sources = doc
        .entry("source")
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| {
            edit_error(
                "`source` is not written as [[source]] tables; cannot append to it".to_string(),
            )
        })?;

    let mut known: HashSet<Url> = config.sources.iter().map(|s| s.url.clone()).collect();
    let mut verdicts = Vec::with_capacity(feeds.len());
    for feed in feeds {
        let verdict = match crate::config::parse_http_url(&feed.url) {
            Err(reason) => Verdict::Invalid {
                url: feed.url.clone(),
                reason,
            },
            Ok(url) if !known.insert(url.clone()) => Verdict::Present(url),
            Ok(url) => {
                let mut table = toml_edit::Table::new();
                table.insert("url", toml_edit::value(url.as_str()));
                if let Some(title) = &feed.title {
                    table.insert("title", toml_edit::value(title.as_str()));
                }
                if let Some(slug) = topic {
                    let topics: toml_edit::Array = [slug].into_iter().collect();
                    table.insert("topics", toml_edit::value(topics));
                }
                sources.push(table);
                Verdict::Added(url)
            }
        };
        each(&verdict);
        verdicts.push(verdict);
    }
    let text = if verdicts.iter().any(|v| matches!(v, Verdict::Added(_))) {
        doc.to_string()
    } else {
        text.to_string()
    };
    Config::parse(path, &text).map_err(ImportError::Invalid)?;
    Ok(Import { text, verdicts })
}

/// Replaces the file at `path` with `text` so that a reader (or a crash) sees the old file or the
/// new one, never a mix: the text goes to a temporary file beside it, is synced, and is renamed
/// over the original, keeping its permissions. A symbolic link is followed, not replaced.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ImportError> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let failed = |source| ImportError::Write {
        path: target.clone(),
        source,
    };
    let (dir, temp) = crate::files::temp_beside(&target, "feeds.toml", "tmp");
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(meta) = std::fs::metadata(&target) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, &target)?;
        crate::files::sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
        parse_opml(Path::new("test.opml"), text.as_bytes())
    }

    fn feed(url: &str, title: Option<&str>) -> OpmlFeed {
        OpmlFeed {
            url: url.to_string(),
            title: title.map(str::to_string),
        }
    }

    #[test]
    fn reads_nested_outlines_in_document_order() {
        let feeds = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Tech">
      <outline type="rss" text="LWN" title="LWN.net" xmlUrl="https://lwn.net/headlines/rss"/>
      <outline text="Deeper">
        <outline type="rss" text="  Hacker
            News " xmlUrl=" https://news.ycombinator.com/rss "/>
      </outline>
    </outline>
    <outline type="link" text="Not a feed" url="https://example.org/"/>
    <outline type="rss" xmlUrl="https://example.org/untitled.xml"/>
  </body>
</opml>"#,
        )
        .expect("parses");
        assert_eq!(
            feeds,
            vec![
                feed("https://lwn.net/headlines/rss", Some("LWN.net")),
                feed("https://news.ycombinator.com/rss", Some("Hacker News")),
                feed("https://example.org/untitled.xml", None),
            ]
        );
    }

    #[test]
    fn opml_1_0_with_attribute_names_in_any_case() {
        let feeds = parse(
            r#"<opml version="1.0"><body>
<outline title="A" xmlurl="http://a.example/feed"/>
<outline TEXT="B" XMLURL="http://b.example/feed"/>
<outline text="C" xmlUrl="http://c.example/feed" htmlUrl="http://c.example/"/>
</body></opml>"#,
        )
        .expect("parses");
        let urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://a.example/feed",
                "http://b.example/feed",
                "http://c.example/feed"
            ]
        );
        assert_eq!(feeds[1].title.as_deref(), Some("B"));
    }

    #[test]
    fn legacy_encoding_is_decoded() {
        let mut bytes =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><opml><body><outline text=\"Caf"
                .to_vec();
        bytes.push(0xE9);
        bytes.extend_from_slice(b"\" xmlUrl=\"http://cafe.example/rss\"/></body></opml>");
        let feeds = parse_opml(Path::new("latin1.opml"), &bytes).expect("parses");
        assert_eq!(feeds[0].title.as_deref(), Some("Café"));
    }

    #[test]
    fn billion_laughs_is_an_error_not_an_expansion() {
        let mut text =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE opml [\n<!ENTITY l0 \"ha\">\n");
        for i in 1..10 {
            let prev = format!("&l{};", i - 1).repeat(10);
            text.push_str(&format!("<!ENTITY l{i} \"{prev}\">\n"));
        }
        text.push_str(
            "]>\n<opml><body><outline text=\"&l9;\" xmlUrl=\"http://x.example/\"/></body></opml>",
        );
        let err = parse(&text).expect_err("refused");
        assert!(matches!(err, OpmlError::Xml { .. }), "{err}");
    }

    #[test]
    fn not_opml_and_broken_xml_are_errors() {
        let err = parse("<rss><channel/></rss>").expect_err("not opml");
        assert!(err.to_string().contains("root element is <rss>"), "{err}");
        let err = parse("<opml><body><outline xmlUrl=\"x\"></body>").expect_err("broken");
        assert!(
            err.to_string()
                .starts_with("test.opml: not well-formed XML"),
            "{err}"
        );
    }

    #[test]
    fn too_many_nodes_is_an_error() {
        let text = format!(
            "<opml><body>{}</body></opml>",
            "<outline text=\"x\"/>".repeat(1000)
        );
        let path = Path::new("big.opml");
        assert_eq!(
            parse_limited(path, text.as_bytes(), 5000)
                .expect("within the limit")
                .len(),
            0
        );
        let err = parse_limited(path, text.as_bytes(), 500).expect_err("over the limit");
        assert!(matches!(err, OpmlError::Xml { .. }), "{err}");
    }

    const CONFIG: &str = r#"# My feeds
[fetch]
interval = "30m"   # every half hour

[[topic]]
slug = "tech"
title = "Tech"

[[source]]
url = "https://LWN.net:443/headlines/rss"   # the one I read first
topics = ["tech"]

# topics and sources end here
"#;

    fn import(text: &str, feeds: &[OpmlFeed], topic: Option<&str>) -> Result<Import, ImportError> {
        let path = Path::new("feeds.toml");
        append_sources(path, text, feeds, topic, |_| {})
    }

    #[test]
    fn appends_after_the_last_source_keeping_everything_else() {
        let feeds = [
            feed("https://lwn.net/headlines/rss", Some("LWN")),
            feed("https://example.org/feed.xml", Some("Example \"quoted\"")),
            feed("https://EXAMPLE.org:443/feed.xml", None),
            feed("ftp://example.org/feed", None),
            feed("not a url", None),
        ];
        let import = import(CONFIG, &feeds, Some("tech")).expect("imports");
        let expected = CONFIG.replace(
            "\n# topics and sources end here",
            "\n[[source]]\nurl = \"https://example.org/feed.xml\"\ntitle = 'Example \"quoted\"'\ntopics = [\"tech\"]\n\n# topics and sources end here",
        );
        assert_eq!(import.text, expected);
        assert_eq!(import.added(), 1);
        assert_eq!(import.present(), 2);
        let invalid = import.invalid();
        assert_eq!(invalid.len(), 2);
        assert!(invalid[0].1.contains("scheme ftp"), "{invalid:?}");
        let config = Config::parse(Path::new("feeds.toml"), &import.text).expect("valid");
        assert_eq!(config.sources.len(), 2);
        assert_eq!(
            config.sources[1].title.as_deref(),
            Some("Example \"quoted\"")
        );
    }

    #[test]
    fn a_config_without_sources_gets_its_first() {
        let text = "[fetch]\ninterval = \"1h\"\n";
        let import = import(text, &[feed("http://a.example/rss", None)], None).expect("ok");
        assert_eq!(
            import.text,
            "[fetch]\ninterval = \"1h\"\n\n[[source]]\nurl = \"http://a.example/rss\"\n"
        );
    }

    #[test]
    fn nothing_new_leaves_the_text_alone() {
        let import =
            import(CONFIG, &[feed("https://lwn.net/headlines/rss", None)], None).expect("ok");
        assert_eq!(import.text, CONFIG);
        assert_eq!(import.present(), 1);
    }

    #[test]
    fn unknown_or_builtin_topic_is_an_error() {
        let err = import(CONFIG, &[], Some("sport")).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "feeds.toml: --topic sport: no such topic (declared: tech)"
        );
        assert!(matches!(
            import(CONFIG, &[], Some("all")),
            Err(ImportError::AllTopic)
        ));
    }

    #[test]
    fn inline_source_array_is_refused_not_rewritten() {
        let text = "source = [{ url = \"http://a.example/rss\" }]\n";
        let err = import(text, &[feed("http://b.example/rss", None)], None).expect_err("refused");
        assert!(matches!(err, ImportError::Edit { .. }), "{err}");
    }

    #[test]
    fn write_atomically_replaces_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, "old").expect("write");
        write_atomically(&path, "new").expect("replaced");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }
}
