use super::*;

const NOW: Timestamp = 1_795_000_000; // 2026-11-18

fn run(doc: &str) -> NormalizedFeed {
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("static URL");
    let feed = crate::parse::parse_feed(doc.as_bytes(), &url, None).expect("fixture parses");
    normalize(&feed, &url, NOW)
}

fn rss(items: &str) -> String {
    format!(
        "<rss version=\"2.0\"><channel><title>T</title><link>https://news.example.com/</link>{items}</channel></rss>"
    )
}

#[test]
fn identity_prefers_guid_then_link_then_content_hash() {
    let feed = run(&rss(
        "<item><guid>abc-1</guid><link>https://news.example.com/a</link><title>A</title></item>
         <item><link>/b</link><title>B</title></item>
         <item><title>C</title><description>only text</description></item>",
    ));
    let keys: Vec<&str> = feed.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys[0], "guid:abc-1");
    assert_eq!(keys[1], "link:https://news.example.com/b");
    assert!(
        keys[2].starts_with("hash:") && keys[2].len() == 5 + 32,
        "{}",
        keys[2]
    );
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.public_id.as_str()).collect();
    assert_eq!(ids[0], "abc-1");
    assert_eq!(ids[1], "https://news.example.com/b");
    assert!(
        ids[2].starts_with("urn:tributary:") && ids[2].len() == 14 + 32,
        "{}",
        ids[2]
    );
}

#[test]
fn identity_is_stable_across_parses() {
    let doc = rss("<item><title>C</title><description>only text</description></item>");
    assert_eq!(run(&doc).entries[0].key, run(&doc).entries[0].key);
}

#[test]
fn repeated_guid_in_one_document_is_told_apart() {
    let feed = run(&rss(
        "<item><guid>same</guid><link>https://news.example.com/1</link><title>1</title></item>
         <item><guid>same</guid><link>https://news.example.com/2</link><title>2</title></item>
         <item><guid>same</guid><link>https://news.example.com/2</link><title>3</title></item>",
    ));
    let keys: Vec<&str> = feed.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "guid:same",
            "link:https://news.example.com/2",
            "guid:same#2"
        ]
    );
    // Readers see three entries too: the published ids differ the same way.
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.public_id.as_str()).collect();
    assert_eq!(ids, ["same", "https://news.example.com/2", "same#2"]);
}

#[test]
fn missing_future_and_ancient_dates_become_first_seen() {
    let feed = run(&rss(
        "<item><guid>1</guid><title>no date</title></item>
         <item><guid>2</guid><title>future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>
         <item><guid>3</guid><title>ancient</title><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>
         <item><guid>4</guid><title>real</title><pubDate>Tue, 17 Nov 2026 08:00:00 +0700</pubDate></item>",
    ));
    let published: Vec<Timestamp> = feed.entries.iter().map(|e| e.published).collect();
    assert_eq!(published[..3], [NOW, NOW, NOW]);
    assert_eq!(published[3], 1_794_877_200, "2026-11-17T01:00:00Z");
}

#[test]
fn html_is_sanitized_and_relative_urls_made_absolute() {
    let feed = run(&rss(
        r#"<item><guid>1</guid><title>x</title><description><![CDATA[
            <p onclick="evil()">Hi <a href="../story/1">story</a> <a href="javascript:alert(1)">js</a>
            <img src="data:image/png;base64,AAAA"><img src="/img/a.png"></p>
            <script>alert(1)</script><style>p{}</style><iframe src="https://x.example/"></iframe>
            <form action="/f"><input name="q"></form>]]></description></item>"#,
    ));
    let html = feed.entries[0].summary_html.as_deref().expect("summary");
    for bad in [
        "onclick",
        "javascript:",
        "data:",
        "<script",
        "alert(1)",
        "<style",
        "<iframe",
        "<form",
        "<input",
    ] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert!(
        html.contains("href=\"https://news.example.com/story/1\""),
        "{html}"
    );
    assert!(
        html.contains("src=\"https://news.example.com/img/a.png\""),
        "{html}"
    );
}

#[test]
fn plain_text_is_escaped_and_html_titles_become_text() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id>
        <entry><id>urn:e</id><title type="html">A &amp;amp; &lt;b&gt;B&lt;/b&gt;</title>
        <summary type="text">1 &lt; 2 &amp; 3</summary></entry></feed>"#;
    let feed = run(doc);
    assert_eq!(feed.entries[0].title, "A & B");
    assert_eq!(
        feed.entries[0].summary_html.as_deref(),
        Some("1 &lt; 2 &amp; 3")
    );
    assert_eq!(feed.meta.feed_id.as_deref(), Some("urn:f"));
}

#[test]
fn feed_without_id_has_no_feed_id() {
    assert_eq!(run(&rss("")).meta.feed_id, None);
    assert_eq!(
        run(&rss("")).meta.site_url.as_deref(),
        Some("https://news.example.com/")
    );
}

#[test]
fn content_hash_changes_with_what_readers_see() {
    let a = run(&rss("<item><guid>1</guid><title>Old</title></item>"));
    let b = run(&rss("<item><guid>1</guid><title>New</title></item>"));
    let c = run(&rss("<item><guid>1</guid><title>Old</title></item>"));
    assert_ne!(a.entries[0].content_hash, b.entries[0].content_hash);
    assert_eq!(a.entries[0].content_hash, c.entries[0].content_hash);
}

#[test]
fn enclosures_and_categories_are_kept() {
    let feed = run(&rss(
        r#"<item><guid>1</guid><title>Ep 1</title><category>news</category><category>news</category>
           <enclosure url="https://cdn.example.com/ep1.mp3" length="1000" type="audio/mpeg"/></item>"#,
    ));
    let e = &feed.entries[0];
    assert_eq!(e.categories, ["news"]);
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "https://cdn.example.com/ep1.mp3".into(),
            media_type: Some("audio/mpeg".into()),
            length: Some(1000)
        }]
    );
}

#[test]
fn content_hash_ids_differ_between_documents() {
    let doc = rss("<item><title>Same</title><description>same text</description></item>");
    let a = Url::parse("https://a.example/feed").expect("url");
    let b = Url::parse("https://b.example/feed").expect("url");
    let feed = crate::parse::parse_feed(doc.as_bytes(), &a, None).expect("parses");
    let from_a = normalize(&feed, &a, NOW).entries.remove(0);
    let from_b = normalize(&feed, &b, NOW).entries.remove(0);
    assert_eq!(
        from_a.key, from_b.key,
        "identity within a source depends on content only"
    );
    assert_ne!(
        from_a.public_id, from_b.public_id,
        "published ids stay unique across sources"
    );
}

#[test]
fn link_identity_uses_the_canonical_link() {
    let a = run(&rss(
        "<item><link>https://news.example.com/a?utm_source=rss&amp;id=1</link><title>A</title></item>",
    ));
    let b = run(&rss(
        "<item><link>https://NEWS.example.com/a?id=1&amp;fbclid=z#top</link><title>A</title></item>",
    ));
    assert_eq!(a.entries[0].key, "link:https://news.example.com/a?id=1");
    assert_eq!(a.entries[0].key, b.entries[0].key);
    assert_eq!(
        a.entries[0].canonical_url.as_deref(),
        Some("https://news.example.com/a?id=1")
    );
    assert_eq!(
        a.entries[0].link.as_deref(),
        Some("https://news.example.com/a?utm_source=rss&id=1"),
        "output keeps the link as published"
    );
    assert_eq!(
        a.entries[0].content_hash, b.entries[0].content_hash,
        "tracking parameters are not an update"
    );
}

#[test]
fn trivial_differences_are_not_updates() {
    let a = run(&rss(
        r#"<item><guid>1</guid><title>Giá  xăng giảm</title><description><![CDATA[<p>Giá <a href="/x" title="t">xăng</a></p>]]></description></item>"#,
    ));
    let b = run(&rss(
        r#"<item><guid>1</guid><title> Giá xăng giảm </title><description><![CDATA[<p>Giá
        <a title="t" href="/x">xăng</a></p>]]></description></item>"#,
    ));
    let c = run(&rss(
        r#"<item><guid>1</guid><title>Giá xăng tăng</title><description><![CDATA[<p>Giá <a href="/x" title="t">xăng</a></p>]]></description></item>"#,
    ));
    assert_eq!(a.entries[0].content_hash, b.entries[0].content_hash);
    assert_ne!(a.entries[0].content_hash, c.entries[0].content_hash);
}

#[test]
fn identity_can_be_chosen_per_source() {
    let doc = rss(
        "<item><guid>g-1</guid><link>https://news.example.com/x?utm_medium=feed</link><title>T</title></item>",
    );
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("url");
    let feed = crate::parse::parse_feed(doc.as_bytes(), &url, None).expect("parses");
    let with = |identity| {
        normalize_with(
            &feed,
            &url,
            NOW,
            &Options {
                identity,
                tracking_params: vec![],
                ..Options::default()
            },
        )
        .entries
        .remove(0)
    };
    assert_eq!(with(Identity::Auto).key, "guid:g-1");
    let by_link = with(Identity::Link);
    assert_eq!(by_link.key, "link:https://news.example.com/x");
    assert_eq!(
        by_link.public_id, "g-1",
        "the published id stays the publisher's"
    );
    assert!(with(Identity::Content).key.kind() == crate::model::KeyKind::Content);
}

fn run_with(doc: &str, limits: Limits) -> NormalizedFeed {
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("static URL");
    let feed = crate::parse::parse_feed(doc.as_bytes(), &url, None).expect("fixture parses");
    let options = Options {
        limits,
        ..Options::default()
    };
    normalize_with(&feed, &url, NOW, &options)
}

fn item_with_html(html: &str) -> String {
    rss(&format!(
        "<item><guid>1</guid><title>t</title><description><![CDATA[{html}]]></description></item>"
    ))
}

#[test]
fn entry_html_nested_200k_divs_costs_bounded_work() {
    let html = format!(
        "{}deep text{}",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    let feed = run(&item_with_html(&html));
    let stored = feed.entries[0].summary_html.as_deref().expect("summary");
    assert!(stored.contains("deep text"), "the text is kept");
    assert_eq!(stored.matches("<div>").count(), bound::MAX_DEPTH);
    assert_eq!(stored.matches("</div>").count(), bound::MAX_DEPTH);
    assert!(
        stored.ends_with(
            "<p><em>[Tributary flattened markup of this entry that was nested too deeply; its text is kept.]</em></p>"
        ),
        "{}",
        &stored[stored.len() - 200..]
    );
}

#[test]
fn entry_html_64k_nested_lists_are_flattened() {
    let html = format!("{}item", "<ul><li>".repeat(64_000));
    let feed = run(&item_with_html(&html));
    let stored = feed.entries[0].summary_html.as_deref().expect("summary");
    assert_eq!(stored.matches("<ul>").count(), bound::MAX_DEPTH / 2);
    assert_eq!(stored.matches("</li></ul>").count(), bound::MAX_DEPTH / 2);
    assert!(stored.contains("item") && stored.contains("nested too deeply"));
}

#[test]
fn ordinary_entries_are_not_changed_by_the_bounds() {
    let html =
        "<p>Giá <a href=\"/x\">xăng</a></p><ul><li>một<li>hai</ul><table><tr><td>1<td>2</table>";
    let bounded = run(&item_with_html(html));
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("static URL");
    let plain = ammonia::Builder::default()
        .url_relative(ammonia::UrlRelative::RewriteWithBase(url))
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string();
    assert_eq!(bounded.entries[0].summary_html.as_deref(), Some(&*plain));
}

#[test]
fn entry_with_100k_categories_and_enclosures_keeps_bounded_lists() {
    let categories: String = (0..100_000)
        .map(|i| format!("<category>c{i}</category>"))
        .collect();
    let enclosures: String = (0..100_000)
        .map(|i| {
            format!("<enclosure url=\"https://cdn.example.com/{i}.mp3\" type=\"audio/mpeg\"/>")
        })
        .collect();
    let feed = run(&rss(&format!(
        "<item><guid>1</guid><title>t</title>{categories}{enclosures}</item>"
    )));
    let entry = &feed.entries[0];
    assert_eq!(entry.categories.len(), MAX_CATEGORIES);
    assert_eq!(entry.categories[0], "c0");
    assert_eq!(
        entry.categories[MAX_CATEGORIES - 1],
        format!("c{}", MAX_CATEGORIES - 1)
    );
    assert_eq!(entry.enclosures.len(), MAX_ENCLOSURES);
    assert_eq!(entry.enclosures[0].url, "https://cdn.example.com/0.mp3");
}

#[test]
fn entry_content_over_max_entry_size_is_cut_at_an_element_boundary_with_a_note() {
    let html: String = (0..1000)
        .map(|i| format!("<p>paragraph <b>{i}</b></p>"))
        .collect();
    let limits = Limits {
        max_entry_size: 4096,
        ..Limits::default()
    };
    let feed = run_with(&item_with_html(&html), limits);
    let stored = feed.entries[0].summary_html.as_deref().expect("summary");
    let note = "<p><em>[…] Tributary cut the rest of this entry: it is longer than 4 KiB.</em></p>";
    let kept = stored.strip_suffix(note).expect("ends with the note");
    assert!(kept.len() <= 4096 && kept.len() > 4000, "{}", kept.len());
    assert!(kept.starts_with("<p>paragraph <b>0</b></p>"));
    assert!(kept.ends_with("</p>"), "{}", &kept[kept.len() - 40..]);
    // Well formed: sanitizing it again changes nothing.
    assert_eq!(ammonia::clean(kept), kept);
    // Within the limit nothing changes.
    let small = run_with(&item_with_html("<p>short</p>"), limits);
    assert_eq!(
        small.entries[0].summary_html.as_deref(),
        Some("<p>short</p>")
    );
}

#[test]
fn plain_text_content_over_max_entry_size_is_cut_with_a_note() {
    let doc = format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id>
        <entry><id>urn:e</id><title>t</title><content type="text">{}</content></entry></feed>"#,
        "a &amp; b ".repeat(1000)
    );
    let limits = Limits {
        max_entry_size: 1024,
        ..Limits::default()
    };
    let stored = run_with(&doc, limits).entries[0]
        .content_html
        .clone()
        .expect("content");
    let kept = stored
        .strip_suffix(
            "<p><em>[…] Tributary cut the rest of this entry: it is longer than 1 KiB.</em></p>",
        )
        .expect("note");
    assert!(
        kept.len() <= 1024 && kept.starts_with("a &amp; b a &amp; b"),
        "{kept}"
    );
    assert!(!kept.ends_with('&') && !kept.ends_with("&am"), "{kept}");
}

#[test]
fn huge_titles_guids_and_links_are_bounded() {
    let title = "word ".repeat(2 * 1024 * 1024);
    let guid = |tail: &str| format!("{}{tail}", "g".repeat(5 * 1024 * 1024));
    let link = format!("https://news.example.com/{}", "p".repeat(10_000));
    let doc = rss(&format!(
        "<item><guid>{}</guid><title>{title}</title><link>{link}</link></item>
         <item><guid>{}</guid><title>short</title></item>",
        guid("1"),
        guid("2")
    ));
    let feed = run(&doc);
    let [first, second] = &feed.entries[..] else {
        panic!("two entries");
    };
    assert!(
        first.title.len() <= MAX_FIELD_BYTES,
        "{}",
        first.title.len()
    );
    assert!(first.title.starts_with("word word") && first.title.ends_with("word…"));
    assert!(first.public_id.len() <= MAX_FIELD_BYTES);
    assert!(first.key.as_str().len() <= MAX_FIELD_BYTES + "guid:".len());
    assert_ne!(first.key, second.key, "long guids stay distinct");
    assert_eq!(first.key, run(&doc).entries[0].key, "and stable");
    assert_eq!(
        first.link, None,
        "a link too long to keep is dropped, not cut"
    );
}

#[test]
fn control_characters_are_stripped_from_feed_and_entry_fields() {
    let doc = "<rss version=\"2.0\"><channel><title>Feed&#1; title</title><link>https://news.example.com/</link>\
         <item><guid>g&#2;1</guid><title>A&#0;B&#x1F;C</title><author>x@y (Nguy&#3;ễn)</author>\
         <category>c&#4;at</category>\
         <description><![CDATA[<p title=\"t\u{1}\">te\u{2}xt &#5; \u{b}</p>]]></description></item></channel></rss>";
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("static URL");
    let json = "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"J\\u0000F\",\
        \"items\":[{\"id\":\"j\\u0001\",\"title\":\"T\\u0000i\",\"content_text\":\"x\\u0002y\",\"tags\":[\"t\\u0003g\"]}]}";
    for doc in [doc, json] {
        let feed = crate::parse::parse_feed(doc.as_bytes(), &url, None).expect("parses");
        let normalized = normalize(&feed, &url, NOW);
        let mut texts = vec![format!("{:?}", normalized.meta)];
        for e in &normalized.entries {
            texts.push(format!("{e:?}"));
        }
        for text in texts {
            assert!(
                !text.contains(|c: char| !crate::text::is_xml_char(c))
                    && !text.contains("\\u{")
                    && !text.contains("\\0"),
                "{text}"
            );
        }
    }
}

#[test]
fn max_entries_per_source_is_applied_at_ingest() {
    let date = |day: u32| format!("<pubDate>{day:02} Nov 2026 08:00:00 GMT</pubDate>");
    let doc = rss(&format!(
        "<item><guid>old</guid><title>old</title>{}</item>
         <item><guid>new</guid><title>new</title>{}</item>
         <item><guid>tie-1</guid><title>tie 1</title>{}</item>
         <item><guid>oldest</guid><title>oldest</title>{}</item>
         <item><guid>tie-2</guid><title>tie 2</title>{}</item>",
        date(2),
        date(9),
        date(5),
        date(1),
        date(5)
    ));
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let feed = run_with(&doc, limits);
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.public_id.as_str()).collect();
    assert_eq!(
        ids,
        ["new", "tie-1", "tie-2"],
        "the newest, in document order"
    );
    assert_eq!(run(&doc).entries.len(), 5);
}

#[test]
fn newest_keeps_the_latest_with_ties_in_document_order() {
    assert_eq!(newest(&[5, 9, 7, 7, 1], 3), [1, 2, 3]);
    assert_eq!(newest(&[7, 7, 7, 7], 2), [0, 1]);
    assert_eq!(newest(&[1, 2], 5), [0, 1]);
    assert_eq!(newest(&[3, 1, 2], 0), Vec::<usize>::new());
}

// Parsing and normalizing together: what the content carriers and xml:base give a reader.

fn base() -> Url {
    Url::parse("http://example.com/feed.xml").expect("static URL")
}

/// (title, summary, content) of each entry of the fixture, as normalized for republishing.
fn carried() -> Vec<(String, Option<String>, Option<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/content_carriers.xml"
    );
    let doc = std::fs::read(path).expect("fixture");
    let base = Url::parse("http://carriers.example/feed.xml").expect("url");
    let feed = crate::parse::parse_feed(&doc, &base, None).expect("parses");
    normalize(&feed, &base, 1_795_000_000)
        .entries
        .into_iter()
        .map(|e| (e.title, e.summary_html, e.content_html))
        .collect()
}

#[test]
fn content_in_xhtml_body_body_and_fullitem_is_read_and_sanitized() {
    let entries = carried();
    let content = |i: usize| entries[i].2.as_deref().unwrap_or("(none)");
    assert_eq!(
        content(0),
        r#"<p>Read <a href="http://carriers.example/more" rel="noopener noreferrer nofollow">more</a></p>"#
    );
    assert_eq!(content(1), "<p>Safe text</p>");
    assert_eq!(content(2), "<p>Plain <b>body</b></p>");
    assert_eq!(content(3), "safe description");
    assert_eq!(content(4), "<p>From <em>CDATA</em></p>");
    assert_eq!(content(8), "<p>Typed <i>content</i></p>");
}

#[test]
fn content_carriers_keep_feedparsers_precedence() {
    let entries = carried();
    let at = |i: usize| (entries[i].1.as_deref(), entries[i].2.as_deref());
    // The first content carrier in document order wins.
    assert_eq!(at(5), (Some("The summary"), Some("<p>First carrier</p>")));
    assert_eq!(at(6), (None, Some("<p>Encoded first</p>")));
    // An RSS summary is the summary; the description after it, with no content carrier,
    // is the content.
    assert_eq!(
        at(7),
        (Some("The <b>summary</b>"), Some("Then the description"))
    );
    assert_eq!(at(9), (Some("<p>Just a description</p>"), None));
}

#[test]
fn xml_base_on_the_root_applies_to_entries() {
    let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example.net/blog/"><title>t</title><id>urn:f</id>
        <entry><id>urn:1</id><title>a</title><content type="html">&lt;img src="img/a.png"&gt;</content></entry>
        <entry xml:base="posts/"><id>urn:2</id><title>b</title><content type="html">&lt;a href="b.html"&gt;b&lt;/a&gt;</content></entry></feed>"#;
    let feed = crate::parse::parse_feed(doc, &base(), None).expect("parses");
    assert_eq!(
        feed.entries[0].base.as_deref(),
        Some("https://atom.example.net/blog/")
    );
    assert_eq!(
        feed.entries[1].base.as_deref(),
        Some("https://atom.example.net/blog/posts/")
    );
    let normalized = normalize(&feed, &base(), 1_795_000_000);
    assert!(
        normalized.entries[0]
            .content_html
            .as_deref()
            .unwrap_or("")
            .contains("https://atom.example.net/blog/img/a.png")
    );
    assert!(
        normalized.entries[1]
            .content_html
            .as_deref()
            .unwrap_or("")
            .contains("https://atom.example.net/blog/posts/b.html")
    );
}

#[test]
fn xml_base_on_a_content_element_applies_to_its_html() {
    let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/blog/"><title>t</title><id>urn:f</id>
        <entry xml:base="2026/"><id>urn:1</id><title>a</title>
        <content type="html" xml:base="photos/">&lt;img src="x.jpg"&gt;</content></entry></feed>"#;
    let feed = crate::parse::parse_feed(doc, &base(), None).expect("parses");
    let normalized = normalize(&feed, &base(), 1_795_000_000);
    let html = normalized.entries[0].content_html.as_deref().unwrap_or("");
    assert!(
        html.contains("https://a.example/blog/2026/photos/x.jpg"),
        "{html}"
    );
}

#[test]
fn plain_text_declared_as_html_skips_the_sanitizer_with_the_same_result() {
    let base = Url::parse("https://news.example.com/feed.xml").expect("static URL");
    let sanitizer = Sanitizer::new(base.clone(), 64);
    let slow = |text: &str| {
        let raw_limit = 64 * RAW_HTML_FACTOR;
        let (html, bounded) = bound::bound_markup(text, bound::MAX_DEPTH, raw_limit);
        sanitizer.finish(sanitizer.sanitize(&html, &base), bounded)
    };
    for text in [
        "Giá xăng tăng > 5% từ chiều nay",
        "  spaces  kept\tand\nnew lines  ",
        "quotes \"double\" and 'single' stay",
        "no\u{a0}break space",
        "Tiếng Việt có dấu: ạ ả ấ ầ ẩ ẫ ậ đ ư ơ",
        "",
        // Longer than the limit: cut the same way, with the same note.
        "một hai ba bốn năm sáu bảy tám chín mười một hai ba bốn năm sáu bảy tám chín mười",
    ] {
        assert!(plain_html(text).is_some(), "{text:?} takes the fast path");
        assert_eq!(sanitizer.clean(text, &base), slow(text), "{text:?}");
    }
    // Anything the parser reads differently goes through ammonia.
    for text in [
        "a < b",
        "AT&T",
        "a&amp;b",
        "line\r\nend",
        "nul\0byte",
        "<b>x</b>",
    ] {
        assert!(plain_html(text).is_none(), "{text:?}");
    }
}

#[test]
fn items_sent_as_last_time_are_not_normalized_again() {
    let url = Url::parse("https://news.example.com/rss/feed.xml").expect("static URL");
    let doc = |second_title: &str| {
        rss(&format!(
            "<item><guid>g-1</guid><title>Một</title><description>&lt;p&gt;A&lt;/p&gt;</description><pubDate>Tue, 17 Nov 2026 08:00:00 GMT</pubDate></item>
             <item><guid>g-2</guid><title>{second_title}</title><description>B</description></item>
             <item><title>Ba</title><description>C</description></item>"
        ))
    };
    let parse = |text: &str| crate::parse::parse_feed(text.as_bytes(), &url, None).expect("parses");
    let first = normalize(&parse(&doc("Hai")), &url, NOW);
    assert!(first.unchanged.is_empty());
    let known: HashMap<i64, EntryKey> = first
        .entries
        .iter()
        .map(|e| (e.item_hash.expect("hashed"), e.key.clone()))
        .collect();
    assert_eq!(known.len(), 3, "every item has its own hash");
    let options = Options {
        known: known.clone(),
        ..Options::default()
    };

    // The same document: nothing is normalized again; keys come from last time, dates from the
    // document (an undated item is dated when it is read, as it always was).
    let again = normalize_with(&parse(&doc("Hai")), &url, NOW + 3_600, &options);
    assert!(again.entries.is_empty());
    let keys: Vec<&EntryKey> = again.unchanged.iter().map(|(k, _)| k).collect();
    let expected: Vec<&EntryKey> = first.entries.iter().map(|e| &e.key).collect();
    assert_eq!(keys, expected);
    assert_eq!(again.unchanged[0].1, first.entries[0].published);
    assert_eq!(again.unchanged[1].1, NOW + 3_600);

    // One item changed: only it is normalized.
    let changed = normalize_with(&parse(&doc("Hai (cập nhật)")), &url, NOW, &options);
    assert_eq!(changed.entries.len(), 1);
    assert_eq!(changed.entries[0].key.as_str(), "guid:g-2");
    assert_eq!(changed.unchanged.len(), 2);

    // Another way of normalizing (identity, limits) gives other hashes: everything again.
    let by_link = Options {
        identity: Identity::Content,
        known,
        ..Options::default()
    };
    assert_eq!(
        normalize_with(&parse(&doc("Hai")), &url, NOW, &by_link)
            .entries
            .len(),
        3
    );
}

fn run_at(doc: &str, url: &str) -> NormalizedFeed {
    let url = Url::parse(url).expect("static URL");
    let feed = crate::parse::parse_feed(doc.as_bytes(), &url, None).expect("fixture parses");
    normalize(&feed, &url, NOW)
}

fn languages(feed: &NormalizedFeed) -> Vec<Option<&str>> {
    feed.entries.iter().map(|e| e.language.as_deref()).collect()
}

const INDONESIAN_STORY: &str = "Pemerintah mengumumkan kenaikan harga bahan bakar minyak mulai pekan depan. Menteri Keuangan mengatakan bahwa subsidi energi sudah terlalu besar dan anggaran negara tidak bisa menanggungnya lagi.";

#[test]
fn atom_entry_xml_lang_wins_over_the_feeds_with_or_without_content() {
    // feed-rs keeps only the xml:lang of <content>: the first entry would lose its own.
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>T</title><id>urn:f</id>
        <entry xml:lang="vi-VN"><id>urn:1</id><title>Tin</title><summary>Tóm tắt</summary></entry>
        <entry xml:lang="vi"><id>urn:2</id><title>Tin</title><content type="html" xml:lang="id">Berita</content></entry>
        <entry><id>urn:3</id><title>News</title><summary>Text</summary></entry>
        </feed>"#;
    let normalized = run_at(doc, "https://news.example.com/atom.xml");
    assert_eq!(
        languages(&normalized),
        [Some("vi-vn"), Some("id"), Some("en")],
        "the entry's own, its content's, else the feed's"
    );
    assert_eq!(normalized.meta.language.as_deref(), Some("en"));
}

#[test]
fn json_feed_item_language_wins_over_the_feeds() {
    let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","language":"en-US",
        "items":[{"id":"1","language":"id","content_text":"Berita"},
                 {"id":"2","content_text":"News"}]}"#;
    let normalized = run_at(doc, "https://news.example.com/feed.json");
    assert_eq!(languages(&normalized), [Some("id"), Some("en-us")]);
    assert_eq!(normalized.meta.language.as_deref(), Some("en-us"));
}

#[test]
fn html_lang_in_content_is_the_entrys_language_when_it_declares_none() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>T</title><id>urn:f</id>
        <entry><id>urn:1</id><title>Tin</title><content type="html">&lt;html lang="vi"&gt;&lt;p&gt;Tin tức&lt;/p&gt;&lt;/html&gt;</content></entry>
        <entry xml:lang="ms"><id>urn:2</id><title>Tin</title><content type="html">&lt;div lang="vi"&gt;&lt;p&gt;x&lt;/p&gt;&lt;/div&gt;</content></entry>
        </feed>"#;
    let normalized = run_at(doc, "https://news.example.com/atom.xml");
    assert_eq!(
        languages(&normalized),
        [Some("vi"), Some("ms")],
        "content's lang beats the feed's; the entry's own beats its content's"
    );
    // The sanitizer drops the attribute: it was read from the raw content.
    assert!(
        !normalized.entries[0]
            .content_html
            .as_deref()
            .unwrap_or("")
            .contains("lang")
    );
    // In RSS, on the outermost element of the description.
    let rss_doc = rss(
        r#"<item><guid>1</guid><title>T</title><description><![CDATA[<div lang="th"><p>x</p></div>]]></description></item>"#,
    );
    assert_eq!(languages(&run(&rss_doc)), [Some("th")]);
}

#[test]
fn feed_language_wins_over_detection() {
    let doc = format!(
        "<rss version=\"2.0\"><channel><title>T</title><link>https://news.example.com/</link><language>en</language><item><guid>1</guid><title>Harga BBM naik</title><description>{INDONESIAN_STORY}</description></item></channel></rss>"
    );
    assert_eq!(languages(&run(&doc)), [Some("en")]);
}

#[test]
fn entry_without_declared_language_is_detected_from_its_text() {
    let doc = rss(&format!(
        r#"<item><guid>1</guid><title>Harga BBM naik pekan depan</title><description><![CDATA[<p>{INDONESIAN_STORY}</p>]]></description></item>
        <item><guid>2</guid><title>Chính phủ tăng lương tối thiểu từ tháng sau</title></item>
        <item><guid>3</guid><title>Harga minyak naik</title></item>
        <item><guid>4</guid><title></title></item>"#
    ));
    assert_eq!(
        languages(&run(&doc)),
        [Some("id"), Some("vi"), None, None],
        "a three-word title and an empty entry are not guessed"
    );
}

#[test]
fn malformed_declared_language_falls_through_to_the_next_source() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi"><title>T</title><id>urn:f</id>
        <entry xml:lang="vi, en"><id>urn:1</id><title>Tin</title><summary>x</summary></entry>
        </feed>"#;
    let normalized = run_at(doc, "https://news.example.com/atom.xml");
    assert_eq!(languages(&normalized), [Some("vi")]);
}
