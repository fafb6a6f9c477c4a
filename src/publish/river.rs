//! The HTML river of a topic (`/topics/{slug}`) and the stories of the search page: one article
//! per story with its outlets, a relative `<time>`, a plain-text snippet and its enclosures.
//!
//! Nothing a source sent is emitted as markup: titles, outlet names and snippets are text
//! (the snippet is the stored sanitized HTML turned into text, then escaped), and only `http`
//! and `https` URLs become links. The page loads nothing but our own stylesheet and runs no
//! script, which the server's `Content-Security-Policy` enforces as well.

use unicode_normalization::char::is_combining_mark;

use super::Format;
use super::html::{feed_links, page};
use crate::model::{StoredEntry, Timestamp};
use crate::text::escape_html;

/// Characters of text shown per story: two or three lines at desktop width.
pub const SNIPPET_CHARS: usize = 280;

/// What the river of one topic page shows.
pub struct RiverPage<'a> {
    /// Ends with `/`.
    pub base_url: &'a str,
    pub slug: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub entries: &'a [StoredEntry],
    /// The newest page, when this is an older one.
    pub newest_url: Option<String>,
    /// The next, older page; `None` on the last page.
    pub older_url: Option<String>,
    /// The time relative times are counted from.
    pub now: Timestamp,
}

/// The river page: heading, subscribe block (three formats, OPML, a copyable feed URL),
/// the stories, and the paging links.
pub fn render_river(river: &RiverPage<'_>) -> String {
    let base = river.base_url;
    let title = escape_html(river.title);
    let atom_url = super::topic_feed_url(base, river.slug, Format::Atom);
    let opml_url = format!("{base}topics/{}.opml", river.slug);
    let head = feed_links(base, river.slug, river.title);
    let mut body = format!(
        "<header>\n<nav><a href=\"{}\">Tributary</a> › {title}</nav>\n<h1>{title}</h1>\n",
        escape_html(base)
    );
    if let Some(description) = river.description {
        body.push_str(&format!(
            "<p class=\"description\">{}</p>\n",
            escape_html(description)
        ));
    }
    body.push_str("<p class=\"subscribe\">Subscribe:");
    for format in Format::ALL {
        body.push_str(&format!(
            " <a href=\"{}\" type=\"{}\">{}</a>",
            escape_html(&super::topic_feed_url(base, river.slug, format)),
            format.bare_media_type(),
            format.label()
        ));
    }
    body.push_str(&format!(
        " · <a href=\"{}\">sources (OPML)</a></p>\n\
         <p class=\"feed-url\"><label>Feed URL <input type=\"url\" readonly value=\"{}\"></label></p>\n\
         </header>\n<main>\n",
        escape_html(&opml_url),
        escape_html(&atom_url)
    ));
    if river.entries.is_empty() {
        body.push_str("<p>No stories yet.</p>\n");
    }
    for entry in river.entries {
        body.push_str(&story(entry, river.now, &[]));
    }
    body.push_str("</main>\n");
    body.push_str(&paging(
        river.newest_url.as_deref(),
        river.older_url.as_deref(),
    ));
    page(base, river.title, &head, &body)
}

/// The "newest" and "older" links under a list of stories, when there is another page.
pub(super) fn paging(newest: Option<&str>, older: Option<&str>) -> String {
    if newest.is_none() && older.is_none() {
        return String::new();
    }
    let mut nav = String::from("<nav class=\"paging\">");
    if let Some(href) = newest {
        nav.push_str(&format!(
            "<a href=\"{}\" rel=\"first\">Newest</a> ",
            escape_html(href)
        ));
    }
    if let Some(href) = older {
        nav.push_str(&format!(
            "<a href=\"{}\" rel=\"next\">Older stories</a>",
            escape_html(href)
        ));
    }
    nav.push_str("</nav>\n");
    nav
}

/// One story as an `<article>`; words of `highlight` (folded) are marked in its title and
/// snippet.
pub(super) fn story(entry: &StoredEntry, now: Timestamp, highlight: &[String]) -> String {
    let mut out = String::from("<article class=\"story\"");
    if let Some(lang) = entry.language.as_deref().filter(|l| is_language_tag(l)) {
        out.push_str(&format!(" lang=\"{}\"", escape_html(lang)));
    }
    out.push_str(">\n<h2>");
    let title = marked(&super::display_title(entry), highlight);
    match entry.link.as_deref().and_then(safe_href) {
        Some(href) => out.push_str(&format!("<a href=\"{href}\">{title}</a>")),
        None => out.push_str(&title),
    }
    out.push_str("</h2>\n<p class=\"meta\">");
    out.push_str(&outlets(entry));
    out.push_str(" · ");
    out.push_str(&relative_time_element(entry.published, now));
    out.push_str("</p>\n");
    let text = snippet(entry);
    if !text.is_empty() {
        out.push_str(&format!(
            "<p class=\"snippet\">{}</p>\n",
            marked(&text, highlight)
        ));
    }
    if let Some(line) = super::versions_html(entry) {
        out.push_str(&format!("<p class=\"versions\">{line}</p>\n"));
    }
    for enclosure in &entry.enclosures {
        let Some(href) = safe_href(&enclosure.url) else {
            continue;
        };
        let media = enclosure.media_type.as_deref().unwrap_or("");
        let verb = if media.starts_with("audio/") {
            "Listen"
        } else if media.starts_with("video/") {
            "Watch"
        } else {
            "Download"
        };
        let mut label = verb.to_string();
        if !media.is_empty() {
            label.push_str(&format!(" ({media}"));
            if let Some(bytes) = enclosure.length.filter(|&n| n > 0) {
                label.push_str(&format!(", {:.1} MB", bytes as f64 / 1_000_000.0));
            }
            label.push(')');
        }
        out.push_str(&format!(
            "<p class=\"enclosure\"><a href=\"{href}\">{}</a></p>\n",
            escape_html(&label)
        ));
    }
    out.push_str("</article>\n");
    out
}

/// "Tuổi Trẻ · also Dân trí, Kompas": the source that carried the story first, then the others,
/// each linking to its own copy when it has one.
fn outlets(entry: &StoredEntry) -> String {
    let outlet = |name: &str, link: Option<&str>| {
        let name = escape_html(name);
        match link.and_then(safe_href) {
            Some(href) => format!("<a href=\"{href}\">{name}</a>"),
            None => name,
        }
    };
    let mut out = format!(
        "<span class=\"outlets\">{}",
        outlet(&entry.source.title, entry.link.as_deref())
    );
    if !entry.also.is_empty() {
        let others: Vec<String> = entry
            .also
            .iter()
            .map(|(source, link)| outlet(&source.title, link.as_deref()))
            .collect();
        out.push_str(&format!(" · also {}", others.join(", ")));
    }
    out.push_str("</span>");
    out
}

/// An `href` value for `url` when it is an absolute `http`/`https` URL, escaped; `None` for
/// anything else (`javascript:`, `data:`, relative or unparsable), which is then shown as text.
pub(super) fn safe_href(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| escape_html(parsed.as_str()))
}

/// A BCP 47-looking tag (letters, digits, hyphens; at most 35 characters): anything else stated
/// as a language is not put on the page.
fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 35 && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The story's text, from its stored sanitized summary (else content), as plain text cut at a
/// word boundary to at most [`SNIPPET_CHARS`] characters plus an ellipsis. A snippet that only
/// repeats the title is dropped.
pub fn snippet(entry: &StoredEntry) -> String {
    let html = entry
        .summary_html
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .or(entry.content_html.as_deref());
    let Some(html) = html else {
        return String::new();
    };
    let text = crate::text::html_to_text(html);
    let text = text.trim();
    if text == entry.title.trim() {
        return String::new();
    }
    match text.char_indices().nth(SNIPPET_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => {
            let head = &text[..cut];
            let head = head
                .rfind(char::is_whitespace)
                .map_or(head, |space| &head[..space]);
            format!("{}…", head.trim_end())
        }
    }
}

/// A `<time>` showing how long ago `t` was, with the absolute UTC time in its `title`.
pub fn relative_time_element(t: Timestamp, now: Timestamp) -> String {
    let at = super::utc(t);
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        at.format("%Y-%m-%d %H:%M UTC"),
        relative_time(t, now)
    )
}

/// "just now", "5 minutes ago", "2 hours ago", "3 days ago", then the date.
pub fn relative_time(t: Timestamp, now: Timestamp) -> String {
    let ago = now.saturating_sub(t);
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match ago {
        // A publisher's clock a little ahead of ours is "just now" too.
        ..60 => "just now".into(),
        60..3_600 => plural(ago / 60, "minute"),
        3_600..86_400 => plural(ago / 3_600, "hour"),
        86_400..2_592_000 => plural(ago / 86_400, "day"),
        _ => format!("on {}", super::utc(t).format("%Y-%m-%d")),
    }
}

/// `text` escaped, with every word whose folded form is one of `words` wrapped in `<mark>`.
/// Words are runs of letters, digits and combining marks, folded as search folds them, so that
/// `da nang` marks "Đà Nẵng".
pub fn marked(text: &str, words: &[String]) -> String {
    if words.is_empty() {
        return escape_html(text);
    }
    let is_word_char = |c: char| c.is_alphanumeric() || is_combining_mark(c);
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while !rest.is_empty() {
        let word_len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        if word_len == 0 {
            let gap = rest.find(is_word_char).unwrap_or(rest.len());
            out.push_str(&escape_html(&rest[..gap]));
            rest = &rest[gap..];
            continue;
        }
        let word = &rest[..word_len];
        let hit = crate::text::fold_words(word)
            .iter()
            .any(|folded| words.contains(folded));
        if hit {
            out.push_str(&format!("<mark>{}</mark>", escape_html(word)));
        } else {
            out.push_str(&escape_html(word));
        }
        rest = &rest[word_len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_count_down_to_a_date() {
        let now = 1_800_000_000;
        assert_eq!(relative_time(now + 30, now), "just now");
        assert_eq!(relative_time(now - 59, now), "just now");
        assert_eq!(relative_time(now - 60, now), "1 minute ago");
        assert_eq!(relative_time(now - 7_200, now), "2 hours ago");
        assert_eq!(relative_time(now - 3 * 86_400, now), "3 days ago");
        assert_eq!(relative_time(now - 40 * 86_400, now), "on 2026-12-06");
        let time = relative_time_element(now - 7_200, now);
        assert_eq!(
            time,
            "<time datetime=\"2027-01-15T06:00:00Z\" title=\"2027-01-15 06:00 UTC\">2 hours ago</time>"
        );
    }

    #[test]
    fn marked_wraps_folded_matches_and_escapes_the_rest() {
        let words = vec!["da".to_string(), "nang".to_string()];
        assert_eq!(
            marked("Bão <b>đổ bộ</b> Đà Nẵng & Huế", &words),
            "Bão &lt;b&gt;đổ bộ&lt;/b&gt; <mark>Đà</mark> <mark>Nẵng</mark> &amp; Huế"
        );
        // A decomposed "Nẵng" (combining marks) is one word too.
        let decomposed = "Na\u{306}\u{303}ng";
        assert_eq!(
            marked(decomposed, &words),
            format!("<mark>{decomposed}</mark>")
        );
        assert_eq!(marked("<mark>", &[]), "&lt;mark&gt;");
        assert_eq!(
            marked("<script>nang</script>", &words),
            "&lt;script&gt;<mark>nang</mark>&lt;/script&gt;"
        );
    }

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(
            safe_href("https://a.example/x?a=1&b=\"2\"").as_deref(),
            Some("https://a.example/x?a=1&amp;b=%222%22")
        );
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,<script>"), None);
        assert_eq!(safe_href("/relative"), None);
    }
}
