//! Our Atom and RSS follow the rules the W3C Feed Validation Service checks (its error classes are
//! named in the messages), and carry no active content, even from hostile sources. The service
//! itself cannot be reached from a test, so its rules are checked here on the parsed documents:
//! one checker per format, each first shown to catch a document that breaks the rules.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use common::{FixtureServer, fetch, standard_sources};
use tributary::config::Config;
use tributary::server::{AppState, router};
use tributary::store::SqliteStore;

const BASE: &str = "http://feeds.test/";
const ATOM: &str = "http://www.w3.org/2005/Atom";

fn is_absolute_iri(text: &str) -> bool {
    url::Url::parse(text).is_ok()
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Markup a reader must never receive from us, in any HTML we publish.
fn active_content(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for tag in [
        "<script", "<iframe", "<object", "<embed", "<form", "<style", "<base", "<meta", "<svg",
        "<input", "<link",
    ] {
        if lower.contains(tag) {
            found.push(format!("element {tag}>"));
        }
    }
    for attr in [" onclick=", " onerror=", " onload=", " style=", " srcdoc="] {
        if lower.contains(attr) {
            found.push(format!("attribute{attr}"));
        }
    }
    for scheme in ["javascript:", "vbscript:", "data:"] {
        if lower.contains(&format!("=\"{scheme}")) {
            found.push(format!("URL scheme {scheme}"));
        }
    }
    found
}

fn atom_child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children()
        .find(|c| c.tag_name().name() == name && c.tag_name().namespace() == Some(ATOM))
}

/// RFC 4287 as the validator reads it.
fn check_atom(body: &str, served_at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let doc = match roxmltree::Document::parse(body) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed: {e}")],
    };
    let feed = doc.root_element();
    if feed.tag_name().name() != "feed" || feed.tag_name().namespace() != Some(ATOM) {
        return vec!["root is not atom:feed".into()];
    }
    let date_ok = |node: Option<roxmltree::Node<'_, '_>>| {
        node.and_then(|n| n.text())
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    };
    for required in ["id", "title", "updated"] {
        if atom_child(feed, required).is_none() {
            errors.push(format!("MissingElement: feed has no {required}"));
        }
    }
    if !atom_child(feed, "id")
        .and_then(|n| n.text())
        .is_some_and(is_absolute_iri)
    {
        errors.push("InvalidFullLink: feed id is not an absolute IRI".into());
    }
    if !date_ok(atom_child(feed, "updated")) {
        errors.push("InvalidRFC3339Date: feed updated".into());
    }
    let links = |node: roxmltree::Node<'_, '_>, rel: &str| -> Vec<String> {
        node.children()
            .filter(|c| c.tag_name().name() == "link" && c.tag_name().namespace() == Some(ATOM))
            .filter(|c| c.attribute("rel").unwrap_or("alternate") == rel)
            .filter_map(|c| c.attribute("href").map(str::to_string))
            .collect()
    };
    match links(feed, "self").as_slice() {
        [one] if one == served_at => {}
        other => errors.push(format!(
            "SelfDoesntMatchLocation: self links {other:?}, served at {served_at}"
        )),
    }
    let feed_has_author = atom_child(feed, "author").is_some();
    let mut ids = HashSet::new();
    for entry in feed
        .children()
        .filter(|c| c.tag_name().name() == "entry" && c.tag_name().namespace() == Some(ATOM))
    {
        let id = atom_child(entry, "id")
            .and_then(|n| n.text())
            .unwrap_or("")
            .to_string();
        if !is_absolute_iri(&id) {
            errors.push(format!("InvalidFullLink: entry id {id:?}"));
        }
        if !ids.insert(id.clone()) {
            errors.push(format!("DuplicateEntries: id {id}"));
        }
        if atom_child(entry, "title").is_none() {
            errors.push(format!("MissingElement: entry {id} has no title"));
        }
        if !date_ok(atom_child(entry, "updated")) {
            errors.push(format!("InvalidRFC3339Date: entry {id} updated"));
        }
        if let Some(published) = atom_child(entry, "published")
            && !date_ok(Some(published))
        {
            errors.push(format!("InvalidRFC3339Date: entry {id} published"));
        }
        if !feed_has_author
            && atom_child(entry, "author").is_none_or(|a| atom_child(a, "name").is_none())
        {
            errors.push(format!("MissingAuthor: entry {id}"));
        }
        // At most one alternate link per type and language (RFC 4287 §4.1.1).
        let mut alternates = HashSet::new();
        for link in entry
            .children()
            .filter(|c| c.tag_name().name() == "link" && c.tag_name().namespace() == Some(ATOM))
        {
            let href = link.attribute("href").unwrap_or("");
            if !is_http_url(href) {
                errors.push(format!("InvalidURIAttribute: entry {id} link {href:?}"));
            }
            if link.attribute("rel").unwrap_or("alternate") == "alternate"
                && !alternates.insert((link.attribute("type"), link.attribute("hreflang")))
            {
                errors.push(format!("DuplicateAtomLink: entry {id}"));
            }
        }
        for text in ["content", "summary", "title"] {
            let Some(node) = atom_child(entry, text) else {
                continue;
            };
            let kind = node.attribute("type").unwrap_or("text");
            if !["text", "html"].contains(&kind) {
                errors.push(format!("InvalidContentType: entry {id} {text} type {kind}"));
            }
            if node.children().any(|c| c.is_element()) {
                errors.push(format!(
                    "NotEscaped: entry {id} {text} holds markup unescaped"
                ));
            }
            if kind == "html" {
                for found in active_content(node.text().unwrap_or("")) {
                    errors.push(format!(
                        "ContainsScript/SecurityRisk: entry {id} {text}: {found}"
                    ));
                }
            }
        }
        if let Some(source) = atom_child(entry, "source") {
            for required in ["id", "title"] {
                if atom_child(source, required).is_none() {
                    errors.push(format!(
                        "MissingElement: entry {id} source has no {required}"
                    ));
                }
            }
        }
    }
    errors
}

/// RSS 2.0 (and the RSS Advisory Board's profile) as the validator reads it.
fn check_rss(body: &str, served_at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let doc = match roxmltree::Document::parse(body) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed: {e}")],
    };
    let rss = doc.root_element();
    if rss.tag_name().name() != "rss" || rss.attribute("version") != Some("2.0") {
        return vec!["root is not rss version 2.0".into()];
    }
    let Some(channel) = rss.children().find(|c| c.has_tag_name("channel")) else {
        return vec!["MissingElement: channel".into()];
    };
    let plain = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(str::to_string)
    };
    for required in ["title", "link", "description"] {
        if plain(channel, required).is_none_or(|t| t.trim().is_empty()) {
            errors.push(format!("MissingElement: channel has no {required}"));
        }
    }
    let rfc822 = |text: &str| chrono::DateTime::parse_from_rfc2822(text).is_ok();
    for date in ["pubDate", "lastBuildDate"] {
        if let Some(text) = plain(channel, date)
            && !rfc822(&text)
        {
            errors.push(format!("InvalidRFC2822Date: channel {date} {text:?}"));
        }
    }
    let selfs: Vec<&str> = channel
        .children()
        .filter(|c| c.has_tag_name((ATOM, "link")) && c.attribute("rel") == Some("self"))
        .filter_map(|c| c.attribute("href"))
        .collect();
    if selfs != [served_at] {
        errors.push(format!(
            "SelfDoesntMatchLocation: atom:link rel=self {selfs:?}, served at {served_at}"
        ));
    }
    let mut guids = HashSet::new();
    for item in channel.children().filter(|c| c.has_tag_name("item")) {
        let title = plain(item, "title");
        if title.is_none() && plain(item, "description").is_none() {
            errors.push("ItemMustContainTitleOrDescription".into());
        }
        let name = title.unwrap_or_default();
        match plain(item, "pubDate") {
            Some(d) if rfc822(&d) => {}
            other => errors.push(format!("InvalidRFC2822Date: item {name:?}: {other:?}")),
        }
        if let Some(guid) = item.children().find(|c| c.has_tag_name("guid")) {
            let text = guid.text().unwrap_or("");
            if guid.attribute("isPermaLink").unwrap_or("true") == "true" && !is_http_url(text) {
                errors.push(format!("InvalidPermalink: guid {text:?}"));
            }
            if !guids.insert(text.to_string()) {
                errors.push(format!("DuplicateItem: guid {text}"));
            }
        }
        if let Some(link) = plain(item, "link")
            && !is_http_url(&link)
        {
            errors.push(format!("InvalidURLAttribute: item link {link:?}"));
        }
        if let Some(source) = item.children().find(|c| c.has_tag_name("source"))
            && !source.attribute("url").is_some_and(is_http_url)
        {
            errors.push(format!("MissingAttribute: source url in {name:?}"));
        }
        for enclosure in item.children().filter(|c| c.has_tag_name("enclosure")) {
            for attr in ["url", "length", "type"] {
                if enclosure.attribute(attr).is_none() {
                    errors.push(format!("MissingAttribute: enclosure {attr} in {name:?}"));
                }
            }
        }
        if let Some(description) = plain(item, "description") {
            for found in active_content(&description) {
                errors.push(format!(
                    "ContainsScript/SecurityRisk: item {name:?}: {found}"
                ));
            }
        }
    }
    errors
}

#[test]
fn the_checkers_catch_what_the_validator_would() {
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>not an iri</id>
        <updated>19 Nov 2026</updated><link rel="self" href="http://elsewhere/"/>
        <entry><id>x:1</id><title>a</title><updated>2026-11-19T00:00:00Z</updated>
          <content type="html">&lt;p onclick="x()"&gt;hi&lt;script&gt;&lt;/script&gt;</content></entry>
        <entry><id>x:1</id><updated>2026-11-19T00:00:00Z</updated></entry></feed>"#;
    let errors = check_atom(atom, "http://here/").join("\n");
    for class in [
        "InvalidFullLink: feed id",
        "InvalidRFC3339Date: feed updated",
        "SelfDoesntMatchLocation",
        "DuplicateEntries",
        "MissingElement: entry x:1 has no title",
        "MissingAuthor",
        "element <script>",
        "attribute onclick=",
    ] {
        assert!(errors.contains(class), "{class} not found in:\n{errors}");
    }
    let rss = r#"<rss version="2.0"><channel><title>t</title><link>http://x/</link>
        <item><title>a</title><pubDate>2026-11-19</pubDate><guid>relative</guid>
          <enclosure url="http://x/a.mp3"/><source>no url</source></item>
        <item><guid>relative</guid></item></channel></rss>"#;
    let errors = check_rss(rss, "http://here/").join("\n");
    for class in [
        "MissingElement: channel has no description",
        "SelfDoesntMatchLocation",
        "InvalidRFC2822Date",
        "InvalidPermalink",
        "DuplicateItem",
        "ItemMustContainTitleOrDescription",
        "MissingAttribute: enclosure length",
        "MissingAttribute: source url",
    ] {
        assert!(errors.contains(class), "{class} not found in:\n{errors}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topic_is_valid_atom_and_rss_without_active_content() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sources = standard_sources();
    sources.push(("hostile.xml", &["local"]));
    // A Vietnamese original with an Indonesian translation and an English digest crediting it:
    // the feeds then carry other-language versions and an original.
    for (name, fixture) in [
        ("origins-dantri.xml", "origins/dantri_originals.xml"),
        ("origins-indonesian.xml", "origins/indonesian_portal.xml"),
        ("origins-english.atom", "origins/english_digest.atom"),
    ] {
        let body = std::fs::read(common::fixture_path(fixture)).expect("fixture");
        server.set(name, 200, "application/xml", body);
    }
    sources.push(("origins-dantri.xml", &["local"]));
    sources.push(("origins-indonesian.xml", &["local"]));
    sources.push(("origins-english.atom", &["local"]));
    let config_path = common::write_config(dir.path(), BASE, &server, "", &sources);
    // Feeds name a WebSub hub too: the extra link must keep them valid.
    let text = std::fs::read_to_string(&config_path).expect("config");
    let text = text.replacen(
        "[server]\n",
        "[server]\nwebsub_hub = \"https://hub.example/\"\n",
        1,
    );
    std::fs::write(&config_path, text).expect("config");
    let (code, stdout, stderr) = fetch(&config_path, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let config = Config::load(&config_path).expect("config");
    let store = SqliteStore::open(&config.storage.path).expect("store");
    let app = router(AppState::new(
        Arc::new(store),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    for topic in ["all", "tech", "vietnam", "local"] {
        for query in ["", "?limit=2"] {
            let path = format!("topics/{topic}.atom{query}");
            let atom = get(&app, &format!("/{path}")).await;
            let errors = check_atom(&atom, &format!("{BASE}{path}"));
            assert!(errors.is_empty(), "{path}:\n{}\n{atom}", errors.join("\n"));
            assert!(
                atom.contains(r#"rel="hub""#) && atom.contains("https://hub.example/"),
                "{path}: no hub link"
            );
            if !query.is_empty() && topic == "all" {
                assert!(atom.contains(r#"rel="next""#), "{path}: no next link");
            }

            let path = format!("topics/{topic}.rss{query}");
            let rss = get(&app, &format!("/{path}")).await;
            let errors = check_rss(&rss, &format!("{BASE}{path}"));
            assert!(errors.is_empty(), "{path}:\n{}\n{rss}", errors.join("\n"));
        }
    }
    // The translations are there, as standard alternate links (checked valid above).
    let all = get(&app, "/topics/all.atom").await;
    assert!(
        all.contains(r#"hreflang="id""#) && all.contains(r#"hreflang="en""#),
        "{all}"
    );
    // The hostile source's entries are there, defanged, with their enclosure and category.
    let local = get(&app, "/topics/local.rss").await;
    assert!(
        local.contains("Scripts &lt;b&gt;everywhere&lt;/b&gt;"),
        "{local}"
    );
    assert!(
        local.contains(r#"<enclosure url="https://hostile.example/episode.mp3" length="12345" type="audio/mpeg""#),
        "{local}"
    );
    assert!(local.contains("<category>Podcast</category>"), "{local}");
    let atom = get(&app, "/topics/local.atom").await;
    let enclosure = atom
        .split("<link ")
        .find(|l| l.contains(r#"rel="enclosure""#))
        .unwrap_or_else(|| panic!("no enclosure link in {atom}"));
    assert!(
        enclosure.contains(r#"href="https://hostile.example/episode.mp3""#)
            && enclosure.contains(r#"type="audio/mpeg""#)
            && enclosure.contains(r#"length="12345""#),
        "{enclosure}"
    );
    // Two items sharing a guid are two entries with distinct ids.
    assert!(local.contains("<title>Same guid again</title>"), "{local}");
    assert!(Path::new(&common::fixture_path("hostile.xml")).exists());
}

async fn get(app: &axum::Router, uri: &str) -> String {
    let (status, _, body) = common::router_get(app, uri).await;
    assert_eq!(status, 200, "{uri}");
    body
}
