//! Brings two old formats to the ones feed-rs reads: RSS 0.90 (RDF with Netscape's namespace,
//! laid out like RSS 1.0) and Atom 0.3 (the pre-standard Atom: its own namespace, `modified`,
//! `issued`, `tagline`, `copyright`, and MIME types where Atom 1.0 has `text`/`html`/`xhtml`).

const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";

/// The document in its modern form, or `None` when it is not one of the old ones.
pub fn upgrade_legacy(text: &str) -> Option<String> {
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
}
