//! Brings documents feed-rs would refuse or read as empty to forms it reads, as feedparser reads
//! them: two old formats, RSS 0.90 (RDF with Netscape's namespace, laid out like RSS 1.0) and
//! Atom 0.3 (the pre-standard Atom: its own namespace, `modified`, `issued`, `tagline`,
//! `copyright`, and MIME types where Atom 1.0 has `text`/`html`/`xhtml`); and root elements
//! feed-rs does not recognise: `<rss>` without a version it knows, `<rss>` in a default namespace
//! of its own (UserLand's `http://backend.userland.com/rss2`), and an RSS 1.0 `<rdf>` root
//! without the RDF namespace.
//!
//! Only the prolog and the root start tag are looked at unless an old format is found, so a
//! current document costs next to nothing here.

const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";

/// The document in a form feed-rs reads, or `None` when it reads it as it is.
/// `nested_entries` says whether an entry element starts inside another (`TagSurvey`), so that
/// the un-nesting pass runs only then.
pub fn upgrade_legacy(text: &str, nested_entries: bool) -> Option<String> {
    let old = old_format(text);
    let rooted = readable_root(old.as_deref().unwrap_or(text)).or(old);
    let flat = nested_entries
        .then(|| unnest_entries(rooted.as_deref().unwrap_or(text)))
        .flatten();
    flat.or(rooted)
}

/// RSS 0.90 and Atom 0.3 in their modern form, or `None` when the document is neither.
fn old_format(text: &str) -> Option<String> {
    let head = &text[..crate::text::floor_char_boundary(text, 2048)];
    if head.contains(RSS_090) {
        return Some(text.replace(RSS_090, RSS_10));
    }
    if head.contains(ATOM_03) {
        let mut out = text.replace(ATOM_03, ATOM_10);
        for (old, new) in [
            ("modified", "updated"),
            ("issued", "published"),
            ("tagline", "subtitle"),
            ("copyright", "rights"),
        ] {
            out = out
                .replace(&format!("<{old}>"), &format!("<{new}>"))
                .replace(&format!("<{old} "), &format!("<{new} "))
                .replace(&format!("</{old}>"), &format!("</{new}>"));
        }
        out = out
            .replace("type=\"text/plain\"", "type=\"text\"")
            .replace("type='text/plain'", "type='text'")
            .replace("type=\"application/xhtml+xml\"", "type=\"xhtml\"")
            .replace("type='application/xhtml+xml'", "type='xhtml'");
        return Some(out);
    }
    None
}

/// The document with its root start tag rewritten when feed-rs would not recognise it.
fn readable_root(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    let tag = root_start_tag(text)?;
    let mut reader = quick_xml::Reader::from_str(&text[tag.clone()]);
    let start = match reader.read_event() {
        Ok(Event::Start(e)) | Ok(Event::Empty(e)) => e,
        _ => return None,
    };
    match start.name().as_ref() {
        "rss" => {
            let version = start
                .try_get_attribute("version")
                .ok()
                .flatten()
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.trim().to_string())
                });
            // feed-rs reads only these; feedparser reads any <rss>, with the RSS 2.0 elements.
            let known_version = matches!(version.as_deref(), Some("2.0" | "" | "0.91" | "0.92"));
            let mut foreign_namespace = false;
            let mut rebuilt = String::from("<rss");
            for attribute in start.attributes().flatten() {
                let key = attribute.key.as_ref().to_string();
                let Ok(value) = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                else {
                    return None;
                };
                let value = if key == "xmlns" && value.trim() != RSS_10 {
                    // A default namespace feed-rs does not know hides every element from it:
                    // UserLand's RSS 2.0 namespace gives "ok" with no entries. feedparser reads
                    // the elements by their local names.
                    foreign_namespace = true;
                    RSS_10.into()
                } else if key == "version" && !known_version {
                    "2.0".into()
                } else {
                    value
                };
                rebuilt.push_str(&format!(
                    " {key}=\"{}\"",
                    quick_xml::escape::escape(value.as_ref())
                ));
            }
            if version.is_none() {
                rebuilt.push_str(" version=\"2.0\"");
            }
            if known_version && !foreign_namespace {
                return None;
            }
            let close = if text[tag.clone()].ends_with("/>") {
                "/>"
            } else {
                ">"
            };
            rebuilt.push_str(close);
            Some(format!(
                "{}{rebuilt}{}",
                &text[..tag.start],
                &text[tag.end..]
            ))
        }
        // RSS 1.0 without the RDF namespace; feed-rs recognises the root by its local name `RDF`.
        "rdf" => {
            let end = text.rfind("</rdf>")?;
            Some(format!(
                "{}<RDF{}</RDF>{}",
                &text[..tag.start],
                &text[tag.start + "<rdf".len()..end],
                &text[end + "</rdf>".len()..]
            ))
        }
        _ => None,
    }
}

/// Items (or Atom entries) nested inside another item made siblings, the way feedparser reads them:
/// an item's start begins a new entry, its end ends the entry, and what follows an inner item's end
/// up to the outer one's is in no entry (dropped). feed-rs would skip a nested item whole.
fn unnest_entries(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    let is_entry = |local: &str| matches!(local, "item" | "entry");
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut out = String::with_capacity(text.len() + 64);
    // Elements opened since the entry now being written began, outermost first.
    let mut open: Vec<String> = Vec::new();
    let mut writing_entry = false;
    // How many entry elements are open in the input, nested ones included.
    let mut entry_depth = 0usize;
    let mut changed = false;
    let mut position = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        let end = usize::try_from(reader.buffer_position()).ok()?;
        let raw = text.get(position..end)?;
        position = end;
        let skipping = !writing_entry && entry_depth > 0;
        match event {
            Event::Eof => break,
            Event::Start(e) if is_entry(e.local_name().as_ref()) => {
                if writing_entry {
                    for name in open.drain(..).rev() {
                        out.push_str(&format!("</{name}>"));
                    }
                    changed = true;
                }
                entry_depth += 1;
                writing_entry = true;
                open.push(e.name().as_ref().to_string());
                out.push_str(raw);
            }
            Event::Empty(e) if is_entry(e.local_name().as_ref()) => {
                if writing_entry {
                    for name in open.drain(..).rev() {
                        out.push_str(&format!("</{name}>"));
                    }
                    changed = true;
                    writing_entry = false;
                }
                out.push_str(raw);
            }
            Event::End(e) if is_entry(e.local_name().as_ref()) => {
                entry_depth = entry_depth.saturating_sub(1);
                if writing_entry {
                    open.clear();
                    writing_entry = false;
                    out.push_str(raw);
                } else {
                    changed = true;
                }
            }
            _ if skipping => changed = true,
            Event::Start(e) => {
                if writing_entry {
                    open.push(e.name().as_ref().to_string());
                }
                out.push_str(raw);
            }
            Event::End(_) => {
                if writing_entry {
                    open.pop();
                }
                out.push_str(raw);
            }
            _ => out.push_str(raw),
        }
    }
    out.push_str(text.get(position..)?);
    changed.then_some(out)
}

/// Byte range of the root element's start tag: past the XML declaration, processing
/// instructions, comments and a DOCTYPE (with its internal subset).
fn root_start_tag(text: &str) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    loop {
        at += text[at..].find('<')?;
        let rest = &text[at..];
        let skip = if rest.starts_with("<?") {
            rest.find("?>")? + 2
        } else if rest.starts_with("<!--") {
            rest.find("-->")? + 3
        } else if rest.starts_with("<!") {
            match (rest.find('['), rest.find('>')) {
                (Some(open), Some(close)) if open < close => rest.find("]>")? + 2,
                (_, Some(close)) => close + 1,
                _ => return None,
            }
        } else {
            // The start tag ends at the first `>` outside a quoted attribute value.
            let mut quote = None;
            for (i, c) in rest.char_indices() {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), _) if c == q => quote = None,
                    (None, '>') => return Some(at..at + i + 1),
                    _ => {}
                }
            }
            return None;
        };
        at += skip;
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    fn entries(doc: &str) -> Vec<(String, Option<String>)> {
        let base = Url::parse("http://example.com/").expect("url");
        let feed = crate::parse::parse_feed(doc.as_bytes(), &base, None).expect("parses");
        feed.entries
            .iter()
            .map(|e| {
                (
                    e.title
                        .as_ref()
                        .map(|t| t.content.clone())
                        .unwrap_or_default(),
                    e.links.first().map(|l| l.href.clone()),
                )
            })
            .collect()
    }

    #[test]
    fn rss_090_is_read() {
        let doc = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
            <channel><title>Old</title><link>http://example.com/</link><description>d</description></channel>
            <item><title>First</title><link>http://example.com/1</link></item>
            <item><title>Second</title><link>http://example.com/2</link></item></rdf:RDF>"#;
        assert_eq!(
            entries(doc),
            [
                ("First".into(), Some("http://example.com/1".into())),
                ("Second".into(), Some("http://example.com/2".into()))
            ]
        );
    }

    #[test]
    fn atom_03_is_read_with_dates() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
            <title type="text/plain" mode="escaped">Old Atom</title><modified>2005-07-31T12:29:29Z</modified>
            <entry><title type="text/plain">Entry</title><link rel="alternate" type="text/html" href="http://example.com/e"/>
            <id>tag:example.com,2005:1</id><issued>2005-07-31T12:29:29Z</issued><modified>2005-08-01T00:00:00Z</modified>
            <content type="text/html" mode="escaped">&lt;p&gt;Hi&lt;/p&gt;</content></entry></feed>"#;
        assert_eq!(
            entries(doc),
            [("Entry".into(), Some("http://example.com/e".into()))]
        );
        let base = Url::parse("http://example.com/").expect("url");
        let feed = crate::parse::parse_feed(doc.as_bytes(), &base, None).expect("parses");
        assert_eq!(
            feed.entries[0].published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2005-07-31T12:29:29+00:00")
        );
    }

    #[test]
    fn rss_without_version_is_read() {
        let doc = r#"<?xml version="1.0"?>
            <!-- a comment > with a bracket --><rss><channel><title>c</title>
            <item><title>Only</title><link>http://example.com/1</link></item></channel></rss>"#;
        assert_eq!(
            entries(doc),
            [("Only".into(), Some("http://example.com/1".into()))]
        );
    }

    #[test]
    fn rss_with_a_version_feed_rs_does_not_know_is_read_as_2_0() {
        let doc = r#"<rss version='0.94' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>c</title>
            <item><title>A</title><dc:creator>Ann</dc:creator></item></channel></rss>"#;
        assert_eq!(entries(doc), [("A".into(), None)]);
    }

    #[test]
    fn rss_2_0_in_userland_default_namespace_has_its_items() {
        let items: String = (1..=10)
            .map(|i| format!("<item><title>T{i}</title><link>http://example.com/{i}</link></item>"))
            .collect();
        let doc = format!(
            r#"<?xml version="1.0"?><rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>c</title>{items}</channel></rss>"#
        );
        let read = entries(&doc);
        assert_eq!(read.len(), 10);
        assert_eq!(
            read[9],
            ("T10".into(), Some("http://example.com/10".into()))
        );
    }

    #[test]
    fn rss_1_0_with_an_rdf_root_without_the_rdf_namespace_is_read() {
        let doc = r#"<?xml version="1.0"?><rdf xmlns="http://purl.org/rss/1.0/"><channel><title>c</title></channel>
            <item><title>First</title><link>http://example.com/1</link></item></rdf>"#;
        assert_eq!(
            entries(doc),
            [("First".into(), Some("http://example.com/1".into()))]
        );
        let bare = r#"<rdf><channel><title>c</title></channel><item><title>B</title><link>http://example.com/b</link></item></rdf>"#;
        assert_eq!(
            entries(bare),
            [("B".into(), Some("http://example.com/b".into()))]
        );
    }

    #[test]
    fn recognised_roots_are_left_alone() {
        for doc in [
            r#"<rss version="2.0"><channel/></rss>"#,
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"/>"#,
        ] {
            assert_eq!(super::upgrade_legacy(doc, false), None, "{doc}");
        }
    }

    #[test]
    fn items_nested_inside_items_are_read_as_feedparser_reads_them() {
        // feedparser: outer, inner, third; the outer's description after the inner item is in
        // no entry.
        let doc = r#"<rss version="2.0"><channel><title>c</title>
            <item><title>outer</title><link>http://e.com/o</link>
              <item><title>inner</title><link>http://e.com/i</link></item>
              <description>after</description></item>
            <item><title>third</title><link>http://e.com/3</link></item></channel></rss>"#;
        assert_eq!(
            entries(doc),
            [
                ("outer".into(), Some("http://e.com/o".into())),
                ("inner".into(), Some("http://e.com/i".into())),
                ("third".into(), Some("http://e.com/3".into())),
            ]
        );
        let base = Url::parse("http://example.com/").expect("url");
        let feed = crate::parse::parse_feed(doc.as_bytes(), &base, None).expect("parses");
        assert!(feed.entries.iter().all(|e| e.summary.is_none()));
    }

    #[test]
    fn an_item_nested_inside_a_child_element_closes_that_element_too() {
        let doc = r#"<rss version="2.0"><channel><title>c</title>
            <item><title>outer</title><description>d<item><title>inner</title></item></description></item>
            </channel></rss>"#;
        let flat = super::unnest_entries(doc).expect("rewritten");
        assert!(
            flat.contains("<description>d</description></item><item><title>inner</title></item>"),
            "{flat}"
        );
        let titles: Vec<String> = entries(doc).into_iter().map(|(t, _)| t).collect();
        assert_eq!(titles, ["outer", "inner"]);
    }

    #[test]
    fn atom_entries_nested_inside_entries_are_read() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>c</title><id>urn:f</id>
            <entry><title>outer</title><id>urn:1</id><entry><title>inner</title><id>urn:2</id></entry>
            <summary>after</summary></entry></feed>"#;
        let titles: Vec<String> = entries(doc).into_iter().map(|(t, _)| t).collect();
        assert_eq!(titles, ["outer", "inner"]);
    }

    #[test]
    fn flat_items_are_not_rewritten() {
        let doc = r#"<rss version="2.0"><channel><items/><item><title>a</title></item>
            <item><description><![CDATA[<item>not an item</item>]]></description></item></channel></rss>"#;
        assert_eq!(super::unnest_entries(doc), None);
    }
}
