use super::*;
use crate::model::Enclosure;
use crate::model::SourceRef;

fn stored(id: &str, title: &str, published: Timestamp) -> StoredEntry {
    StoredEntry {
        id: 1,
        public_id: id.to_string(),
        link: Some(format!("https://pub.example/{id}")),
        title: title.to_string(),
        summary_html: Some("<p>Summary</p>".into()),
        content_html: Some("<p>Body &amp; more</p>".into()),
        authors: vec![],
        categories: vec!["world".into()],
        enclosures: vec![Enclosure {
            url: "https://cdn.example/a.mp3".into(),
            media_type: Some("audio/mpeg".into()),
            length: Some(42),
        }],
        language: Some("vi".into()),
        published,
        updated: published + 60,
        changed: published + 120,
        source: SourceRef {
            url: "https://pub.example/feed.xml".into(),
            title: "Publisher".into(),
            site_url: Some("https://pub.example/".into()),
            feed_id: None,
        },
        also: Vec::new(),
        credit: None,
        versions: Vec::new(),
        original: None,
    }
}

fn page(entries: Vec<StoredEntry>, ext: &str) -> TopicPage {
    TopicPage {
        slug: "world".into(),
        title: "World <news> & more".into(),
        description: Some("Everything".into()),
        feed_id: "http://h.test/topics/world".into(),
        self_url: format!("http://h.test/topics/world.{ext}"),
        first_url: None,
        next_url: None,
        home_url: "http://h.test/".into(),
        updated: 1_795_000_000,
        entries,
        hubs: Vec::new(),
    }
}

#[test]
fn atom_credits_the_source_and_escapes_text() {
    let body = render(
        Format::Atom,
        &page(
            vec![stored("a", "Title with <tags> & ]]>", 1_795_000_000)],
            "atom",
        ),
    );
    let feed = atom_syndication::Feed::read_from(&body[..]).expect("valid Atom");
    assert_eq!(feed.title.value, "World <news> & more");
    assert_eq!(feed.lang.as_deref(), Some("vi"));
    let entry = &feed.entries[0];
    assert_eq!(entry.title.value, "Title with <tags> & ]]>");
    assert_eq!(
        entry.id, "https://pub.example/feed.xml#a",
        "a relative id is made absolute"
    );
    assert_eq!(
        entry.authors[0].name, "Publisher",
        "author falls back to the source"
    );
    let source = entry.source.as_ref().expect("source");
    assert_eq!(
        source.id, "https://pub.example/feed.xml",
        "no feed id: the feed URL stands in"
    );
    assert_eq!(source.title.value, "Publisher");
    assert_eq!(
        entry.content.as_ref().and_then(|c| c.value.as_deref()),
        Some("<p>Body &amp; more</p>")
    );
    let enclosure = entry
        .links
        .iter()
        .find(|l| l.rel == "enclosure")
        .expect("enclosure");
    assert_eq!(enclosure.length.as_deref(), Some("42"));
    assert_eq!(entry.published.map(|d| d.timestamp()), Some(1_795_000_000));
    assert_eq!(entry.updated.timestamp(), 1_795_000_060);
}

#[test]
fn rss_has_self_link_source_and_rfc822_dates() {
    let mut e = stored("https://pub.example/a", "A", 1_795_000_000);
    e.authors = vec!["Nguyễn Văn A".into()];
    e.link = Some("https://pub.example/a".into());
    let body = render(Format::Rss, &page(vec![e], "rss"));
    let text = String::from_utf8(body.clone()).expect("utf-8");
    assert!(
        text.contains("xmlns:atom=\"http://www.w3.org/2005/Atom\""),
        "{text}"
    );
    assert!(
        text.contains("xmlns:dc=\"http://purl.org/dc/elements/1.1/\""),
        "{text}"
    );
    let channel = ::rss::Channel::read_from(&body[..]).expect("valid RSS");
    let item = &channel.items[0];
    assert_eq!(
        item.pub_date.as_deref(),
        Some("Wed, 18 Nov 2026 11:06:40 +0000")
    );
    assert_eq!(
        item.source.as_ref().map(|s| s.url.as_str()),
        Some("https://pub.example/feed.xml")
    );
    let guid = item.guid.as_ref().expect("guid");
    assert!(guid.permalink, "the id is the entry's link");
    assert_eq!(
        item.dublin_core_ext.as_ref().map(|d| d.creators.clone()),
        Some(vec!["Nguyễn Văn A".to_string()])
    );
    assert_eq!(
        item.enclosure.as_ref().map(|e| e.length.as_str()),
        Some("42")
    );
}

#[test]
fn json_feed_follows_version_1_1() {
    let mut text_only = stored("b", "B", 1_795_000_100);
    text_only.content_html = None;
    text_only.summary_html = None;
    let body = render(
        Format::Json,
        &page(vec![text_only, stored("a", "A", 1_795_000_000)], "json"),
    );
    let json: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "http://h.test/topics/world.json");
    assert_eq!(
        json["items"][0]["content_text"], "",
        "an item always has content"
    );
    assert_eq!(json["items"][1]["content_html"], "<p>Body &amp; more</p>");
    assert_eq!(json["items"][1]["summary"], "Summary");
    assert_eq!(
        json["items"][1]["date_published"],
        "2026-11-18T11:06:40+00:00"
    );
    assert_eq!(json["items"][1]["authors"][0]["name"], "Publisher");
    assert_eq!(json["items"][1]["attachments"][0]["size_in_bytes"], 42);
    assert_eq!(
        json["items"][1]["_tributary"]["source"]["title"],
        "Publisher"
    );
    assert_eq!(
        json["items"][1]["_tributary"]["sources"][0]["entry_url"],
        "https://pub.example/a"
    );
}

#[test]
fn empty_topic_renders_valid_documents() {
    for format in Format::ALL {
        let body = render(format, &page(vec![], format.extension()));
        assert!(!body.is_empty());
        match format {
            Format::Atom => assert!(atom_syndication::Feed::read_from(&body[..]).is_ok()),
            Format::Rss => assert!(::rss::Channel::read_from(&body[..]).is_ok()),
            Format::Json => assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok()),
        }
    }
}

#[test]
fn untitled_entry_gets_a_title_from_its_text() {
    let mut e = stored("a", "", 1);
    e.summary_html = Some("<p>Short note about the weather today</p>".into());
    assert_eq!(display_title(&e), "Short note about the weather today");
    e.summary_html = None;
    e.content_html = None;
    assert_eq!(display_title(&e), "https://pub.example/a");
}

#[test]
fn index_links_every_format_and_escapes() {
    let html = render_index(
        "http://h.test/",
        &[IndexTopic {
            slug: "world".into(),
            title: "<World>".into(),
            description: Some("Wars & \"peace\"".into()),
            entries: 3,
            updated: Some(1_700_000_000),
            daily: Vec::new(),
        }],
    );
    assert!(html.contains("&lt;World&gt;"));
    assert!(html.contains("Wars &amp; &quot;peace&quot;"));
    assert!(html.contains("<time datetime=\"2023-11-14T22:13:20Z\">"));
    assert!(html.contains("<form method=\"get\" action=\"http://h.test/search\">"));
    assert!(!html.contains("<World>"));
    for ext in ["atom", "rss", "json"] {
        assert!(html.contains(&format!("href=\"http://h.test/topics/world.{ext}\"")));
    }
    assert!(html.contains("<link rel=\"alternate\" type=\"application/atom+xml\""));
}

#[test]
fn atom_ids_are_absolute_iris() {
    let mut e = stored("tag:pub.example,2026:1", "A", 1);
    assert_eq!(
        atom::atom_id(&e),
        "tag:pub.example,2026:1",
        "an absolute id is kept"
    );
    e.public_id = "https://pub.example/a?b=1".into();
    assert_eq!(atom::atom_id(&e), "https://pub.example/a?b=1");
    e.public_id = "12345".into();
    assert_eq!(atom::atom_id(&e), "https://pub.example/feed.xml#12345");
    e.public_id = "Tin mới 1".into();
    assert_eq!(
        atom::atom_id(&e),
        "https://pub.example/feed.xml#Tin%20m%E1%BB%9Bi%201"
    );
}

fn merged() -> StoredEntry {
    let mut e = stored("https://pub.example/a", "A", 1_795_000_000);
    e.link = Some("https://pub.example/a".into());
    e.also = vec![
        (
            SourceRef {
                url: "https://b.example/rss".into(),
                title: "B & Co".into(),
                site_url: None,
                feed_id: None,
            },
            Some("https://b.example/story?id=1".into()),
        ),
        (
            SourceRef {
                url: "https://c.example/atom".into(),
                title: "C".into(),
                site_url: None,
                feed_id: None,
            },
            None,
        ),
    ];
    e
}

#[test]
fn a_merged_story_credits_every_source_in_every_format() {
    let atom =
        atom_syndication::Feed::read_from(&render(Format::Atom, &page(vec![merged()], "atom"))[..])
            .expect("atom");
    let entry = &atom.entries[0];
    assert_eq!(
        entry.source.as_ref().map(|s| s.title.value.as_str()),
        Some("Publisher")
    );
    let via: Vec<(&str, Option<&str>)> = entry
        .links
        .iter()
        .filter(|l| l.rel == "via")
        .map(|l| (l.href.as_str(), l.title.as_deref()))
        .collect();
    assert_eq!(
        via,
        [
            ("https://b.example/story?id=1", Some("B & Co")),
            ("https://c.example/atom", Some("C"))
        ]
    );

    let channel = ::rss::Channel::read_from(&render(Format::Rss, &page(vec![merged()], "rss"))[..])
        .expect("rss");
    let item = &channel.items[0];
    assert_eq!(
        item.source.as_ref().map(|s| s.url.as_str()),
        Some("https://pub.example/feed.xml")
    );
    let description = item.description.as_deref().unwrap_or("");
    assert!(
        description.ends_with(
            "<p>Also reported by: <a href=\"https://b.example/story?id=1\">B &amp; Co</a>, C</p>"
        ),
        "{description}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &page(vec![merged()], "json"))).expect("json");
    let sources = json["items"][0]["_tributary"]["sources"]
        .as_array()
        .expect("sources");
    let titles: Vec<&str> = sources
        .iter()
        .map(|s| s["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(titles, ["Publisher", "B & Co", "C"]);
    assert_eq!(sources[1]["feed_url"], "https://b.example/rss");
    assert_eq!(sources[1]["entry_url"], "https://b.example/story?id=1");
}

#[test]
fn source_health_escapes_errors_and_draws_a_sparkline_per_source() {
    let rows = [
        SourceRow {
            title: "A <feed>".into(),
            url: "https://a.example/feed?x=1&y=2".into(),
            health: SourceHealth::Failing(2),
            last_fetch: Some(1_700_000_000),
            last_error: Some("HTTP 500 <script>alert(1)</script>".into()),
            warning: None,
            entries: 7,
            daily: vec![0, 1, 2],
        },
        SourceRow {
            title: "B".into(),
            url: "https://b.example/feed".into(),
            health: SourceHealth::New,
            last_fetch: None,
            last_error: None,
            warning: None,
            entries: 0,
            daily: vec![0; 30],
        },
    ];
    let html = render_sources("http://h.test/", &rows);
    assert_eq!(html.matches("<svg ").count(), 2);
    assert!(html.contains("HTTP 500 &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("failing (2 fetches)"));
    assert!(html.contains("not yet fetched"));
    assert!(html.contains("href=\"https://a.example/feed?x=1&amp;y=2\""));
    assert!(html.contains("<time datetime=\"2023-11-14T22:13:20Z\">"));
    // The stored-entries column, just before each row's sparkline.
    assert!(html.contains("</td><td>7</td><td><svg "), "{html}");
    assert!(html.contains("</td><td>0</td><td><svg "), "{html}");
}

#[test]
fn source_health_names_gone_and_moved_sources_as_status_does() {
    let row = |url: &str, health| SourceRow {
        title: url.into(),
        url: url.into(),
        health,
        last_fetch: Some(1_700_000_000),
        last_error: None,
        warning: None,
        entries: 0,
        daily: vec![0; 30],
    };
    let html = render_sources(
        "http://h.test/",
        &[
            row("https://gone.example/rss", SourceHealth::Gone),
            row("https://moved.example/rss", SourceHealth::Moved),
        ],
    );
    let row_of = |url: &str| -> &str {
        html.lines()
            .find(|l| l.contains(url))
            .unwrap_or_else(|| panic!("no row for {url} in {html}"))
    };
    let gone = row_of("https://gone.example/rss");
    assert!(
        gone.starts_with("<tr class=\"failing\">")
            && gone.contains("<td>gone (404/410, tried daily)</td>"),
        "{gone}"
    );
    let moved = row_of("https://moved.example/rss");
    assert!(
        moved.starts_with("<tr class=\"ok\">")
            && moved.contains("<td>moved (permanent redirect adopted)</td>"),
        "{moved}"
    );
}

#[test]
fn source_health_shows_a_document_warning_in_its_own_column() {
    let rows = [SourceRow {
        title: "Quiet".into(),
        url: "https://q.example/rss".into(),
        health: SourceHealth::Ok,
        last_fetch: Some(1_700_000_000),
        last_error: None,
        warning: Some("no entries read, although the document has 10 <item> elements".into()),
        entries: 0,
        daily: vec![0; 30],
    }];
    let html = render_sources("http://h.test/", &rows);
    assert!(
        html.contains("<th>Last error</th><th>Warning</th>"),
        "{html}"
    );
    // Last error empty, then the warning, escaped, then the stored entries.
    assert!(
        html.contains(
            "<td></td><td>no entries read, although the document has 10 &lt;item&gt; elements</td><td>0</td><td><svg "
        ),
        "{html}"
    );
}

#[test]
fn the_search_page_links_the_three_feeds_of_its_query() {
    let html = render_search("http://h.test/", "an ninh & \"mạng\"");
    for ext in ["atom", "rss", "json"] {
        assert!(html.contains(&format!(
            "href=\"http://h.test/search.{ext}?q=an+ninh+%26+%22m%E1%BA%A1ng%22\""
        )));
    }
    assert!(html.contains("value=\"an ninh &amp; &quot;mạng&quot;\""));
}

#[test]
fn every_format_names_the_websub_hub() {
    let hubbed = |ext: &str| TopicPage {
        hubs: vec!["https://hub.example/?a=1&b=2".into()],
        ..page(vec![stored("a", "A", 1)], ext)
    };
    let atom = String::from_utf8(render(Format::Atom, &hubbed("atom"))).expect("utf-8");
    assert!(
        atom.contains("<link href=\"https://hub.example/?a=1&amp;b=2\" rel=\"hub\"/>"),
        "{atom}"
    );
    let rss = String::from_utf8(render(Format::Rss, &hubbed("rss"))).expect("utf-8");
    assert!(
        rss.contains("<atom:link href=\"https://hub.example/?a=1&amp;b=2\" rel=\"hub\"/>"),
        "{rss}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &hubbed("json"))).expect("json");
    assert_eq!(
        json["hubs"],
        serde_json::json!([{"type": "WebSub", "url": "https://hub.example/?a=1&b=2"}])
    );
    let plain = String::from_utf8(render(Format::Atom, &page(vec![], "atom"))).expect("utf-8");
    assert!(!plain.contains("rel=\"hub\""));
}

#[test]
fn paging_links_are_written_in_every_format() {
    let mut paged = page(vec![stored("a", "A", 1_700_000_000)], "atom");
    paged.self_url = "http://h.test/topics/world.atom?before=9.1&limit=2".into();
    paged.first_url = Some("http://h.test/topics/world.atom?limit=2".into());
    paged.next_url = Some("http://h.test/topics/world.atom?before=5.3&limit=2".into());
    let atom = String::from_utf8(render(Format::Atom, &paged)).expect("utf-8");
    let doc = roxmltree::Document::parse(&atom).expect("xml");
    let link = |rel: &str| {
        doc.root_element()
            .children()
            .find(|n| n.has_tag_name("link") && n.attribute("rel") == Some(rel))
            .and_then(|n| n.attribute("href"))
            .map(str::to_string)
    };
    assert_eq!(
        link("next").as_deref(),
        Some("http://h.test/topics/world.atom?before=5.3&limit=2")
    );
    assert_eq!(
        link("first").as_deref(),
        Some("http://h.test/topics/world.atom?limit=2")
    );

    let rss = String::from_utf8(render(Format::Rss, &paged)).expect("utf-8");
    let doc = roxmltree::Document::parse(&rss).expect("xml");
    let next = doc
        .descendants()
        .find(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("next"))
        .and_then(|n| n.attribute("href"));
    assert_eq!(
        next,
        Some("http://h.test/topics/world.atom?before=5.3&limit=2")
    );

    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &paged)).expect("json");
    assert_eq!(
        json["next_url"],
        "http://h.test/topics/world.atom?before=5.3&limit=2"
    );

    paged.first_url = None;
    paged.next_url = None;
    let atom = String::from_utf8(render(Format::Atom, &paged)).expect("utf-8");
    assert!(
        !atom.contains("rel=\"next\""),
        "a last page has no next link"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &paged)).expect("json");
    assert!(json.get("next_url").is_none());
}

#[test]
fn rows_stored_with_control_characters_are_written_clean() {
    let mut entry = stored("a\u{1}", "Title\u{0} with NUL\u{1f}", 1_795_000_000);
    entry.summary_html = Some("<p>te\u{2}xt\u{fffe}</p>".into());
    entry.categories = vec!["c\u{3}at".into()];
    entry.authors = vec!["Nguy\u{4}ễn".into()];
    entry.source.title = "Pub\u{5}lisher".into();
    for format in [Format::Atom, Format::Rss] {
        let mut topic = page(vec![entry.clone()], format.extension());
        topic.title = "World\u{0}".into();
        let body = String::from_utf8(render(format, &topic)).expect("UTF-8");
        let doc = roxmltree::Document::parse(&body).expect("a well-formed XML document");
        assert!(
            !body.contains(|c: char| !crate::text::is_xml_char(c)),
            "{body}"
        );
        assert!(body.contains("Title with NUL"), "{body}");
        assert!(doc.descendants().any(|n| n.text() == Some("Publisher")));
    }
    let opml = render_opml_flat(
        "All\u{0} sources",
        &[OpmlFeed {
            title: "Pub\u{1}lisher".into(),
            xml_url: "https://pub.example/feed.xml".into(),
            html_url: None,
        }],
    );
    let doc = roxmltree::Document::parse(&opml).expect("well-formed OPML");
    assert!(
        doc.descendants()
            .any(|n| n.attribute("title") == Some("Publisher"))
    );
}

#[test]
fn the_search_page_does_not_echo_control_characters() {
    let html = render_search("http://h.test/", "an\u{0} ninh\u{1b}");
    assert!(!html.contains(['\u{0}', '\u{1b}']), "{html}");
    assert!(html.contains("value=\"an ninh\""), "{html}");
    assert!(html.contains("search.atom?q=an+ninh\""), "{html}");
}

#[test]
fn index_cards_link_the_river_and_draw_stories_per_day() {
    let html = render_index(
        "http://h.test/",
        &[IndexTopic {
            slug: "world".into(),
            title: "<World>".into(),
            description: None,
            entries: 3,
            updated: Some(1_700_000_000),
            daily: vec![0, 2, 1],
        }],
    );
    assert!(html.contains("<ul class=\"cards\">\n<li class=\"card\"><h2>&lt;World&gt;</h2>"));
    assert!(html.contains("<p><a href=\"http://h.test/topics/world\">Read the stories</a> <svg "));
    assert!(html.contains(
        "<title>&lt;World&gt;: 3 stories in the 3 days up to the newest, at most 2 a day</title>"
    ));
    assert!(html.contains("<p>3 entries · last update <time"));
}

#[test]
fn sources_needing_attention_come_first_with_badges_and_a_state_filter() {
    let row = |url: &str, health| SourceRow {
        title: url.into(),
        url: url.into(),
        health,
        last_fetch: Some(1_700_000_000),
        last_error: None,
        warning: None,
        entries: 0,
        daily: vec![0, 4, 1],
    };
    let rows = [
        row("https://ok.example/rss", SourceHealth::Ok),
        row("https://new.example/rss", SourceHealth::New),
        row("https://moved.example/rss", SourceHealth::Moved),
        row("https://gone.example/rss", SourceHealth::Gone),
        row("https://failing.example/rss", SourceHealth::Failing(3)),
    ];
    let html = render_sources("http://h.test/", &rows);
    let order: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .filter_map(|l| l.split("<small>").nth(1)?.split('<').next())
        .collect();
    assert_eq!(
        order,
        [
            "https://failing.example/rss",
            "https://gone.example/rss",
            "https://moved.example/rss",
            "https://new.example/rss",
            "https://ok.example/rss"
        ]
    );
    assert!(html.contains(
        "<td><span class=\"badge failing\">gone</span> <a href=\"https://gone.example/rss\">"
    ));
    assert!(html.contains("<span class=\"badge moved\">moved</span>"));
    assert!(html.contains("<span class=\"badge failing\">failing</span>"));
    // The sparkline's axis in words.
    assert!(html.contains("<small class=\"axis\">3 days ago → today · peak 4/day</small>"));
    assert!(html.contains("<a href=\"http://h.test/sources?state=failing\">failing (1)</a>"));

    let failing = render_sources_in("http://h.test/", &rows, Some("failing"));
    let shown: Vec<&str> = failing
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert_eq!(shown.len(), 1, "{failing}");
    assert!(shown[0].contains("https://failing.example/rss"));
    assert!(failing.contains("<p>Only sources in state <strong>failing</strong>: 1 of 5.</p>"));
}

/// A Vietnamese story with an Indonesian translation carried by another outlet.
fn translated_story() -> StoredEntry {
    let mut story = stored("vi-1", "Bão số 3 đổ bộ", 1_795_000_000);
    story.source.title = "Dân trí".into();
    let mut translation = stored("id-1", "Topan nomor 3 mendarat", 1_795_000_600);
    translation.id = 2;
    translation.language = Some("id".into());
    translation.link = Some("https://vietnam.vn/id/topan".into());
    translation.source.title = "Vietnam.vn".into();
    story.versions = vec![translation];
    story
}

#[test]
fn a_topic_in_the_translation_language_shows_the_translation_crediting_the_original() {
    let story = translated_story();
    // Shown as stored where its own language is wanted first, or none is given.
    let as_is = story.clone().in_languages(&["vi".into(), "id".into()]);
    assert_eq!(as_is.title, "Bão số 3 đổ bộ");
    assert_eq!(story.clone().in_languages(&[]).title, "Bão số 3 đổ bộ");
    // An Indonesian topic shows the translation, in the story's place, crediting the original.
    let shown = story.in_languages(&["id".into(), "vi".into()]);
    assert_eq!(shown.title, "Topan nomor 3 mendarat");
    assert_eq!(shown.id, 1, "keeps the story's place");
    assert!(shown.versions.is_empty());
    assert_eq!(
        shown.original.as_ref().map(|o| o.title.as_str()),
        Some("Bão số 3 đổ bộ")
    );
    assert_eq!(
        versions_html(&shown).as_deref(),
        Some("Original: <a href=\"https://pub.example/vi-1\">Dân trí</a> (vi)")
    );
    let atom = String::from_utf8(render(Format::Atom, &page(vec![shown], "atom"))).expect("utf-8");
    assert!(
        atom.contains("<link href=\"https://pub.example/vi-1\" rel=\"via\" hreflang=\"vi\" title=\"Dân trí\"/>"),
        "{atom}"
    );
}

#[test]
fn every_format_names_the_story_in_other_languages_and_its_credited_original() {
    let mut story = translated_story();
    story.credit = Some(crate::model::Credit {
        link: Some("https://www.nguon.example/goc".into()),
        outlet: None,
    });
    let atom =
        String::from_utf8(render(Format::Atom, &page(vec![story.clone()], "atom"))).expect("utf-8");
    assert!(
        atom.contains(
            "<link href=\"https://vietnam.vn/id/topan\" rel=\"alternate\" hreflang=\"id\" type=\"text/html\" title=\"Topan nomor 3 mendarat\"/>"
        ),
        "{atom}"
    );
    assert!(
        atom.contains(
            "<link href=\"https://www.nguon.example/goc\" rel=\"via\" title=\"nguon.example\"/>"
        ),
        "{atom}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &page(vec![story.clone()], "json")))
            .expect("json");
    let extension = &json["items"][0]["_tributary"];
    assert_eq!(
        extension["translations"],
        serde_json::json!([{
            "language": "id",
            "url": "https://vietnam.vn/id/topan",
            "title": "Topan nomor 3 mendarat",
            "source": "vietnam.vn"
        }])
    );
    assert_eq!(
        extension["origin"],
        serde_json::json!({"url": "https://www.nguon.example/goc", "source": "nguon.example"})
    );
    let rss = String::from_utf8(render(Format::Rss, &page(vec![story], "rss"))).expect("utf-8");
    assert!(
        rss.contains(
            "<p>Original: <a href=\"https://www.nguon.example/goc\">nguon.example</a> · Also in: <a href=\"https://vietnam.vn/id/topan\">Bahasa Indonesia</a> (vietnam.vn)</p>"
        ),
        "{rss}"
    );
}
