//! The HTML pages: the shell every page shares (our stylesheet, autodiscovery links), the index at
//! `/` (every topic with subscribe links and autodiscovery tags), the source health table at
//! `/sources` and the search page at `/search`. No JavaScript; every piece of text escaped. The
//! stories of a river or a search are rendered by `river`.

use super::{Format, sparkline};
use crate::model::Timestamp;
use crate::text::escape_html;

pub struct IndexTopic {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub entries: u64,
    /// When the newest of its entries last changed; `None` while it has none.
    pub updated: Option<Timestamp>,
}

/// `base_url` ends with `/`.
pub fn render_index(base_url: &str, topics: &[IndexTopic]) -> String {
    let base = escape_html(base_url);
    let feed_url = |slug: &str, format| escape_html(&super::topic_feed_url(base_url, slug, format));
    let mut head_links = String::new();
    let mut body = String::new();
    for topic in topics {
        let slug = escape_html(&topic.slug);
        let title = escape_html(&topic.title);
        for format in Format::ALL {
            head_links.push_str(&format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{title} ({})\" href=\"{}\">\n",
                format.bare_media_type(),
                format.label(),
                feed_url(&topic.slug, format)
            ));
        }
        body.push_str(&format!("<li><h2>{title}</h2>\n"));
        if let Some(d) = &topic.description {
            body.push_str(&format!("<p>{}</p>\n", escape_html(d)));
        }
        body.push_str(&format!("<p>{} entries", topic.entries));
        if let Some(t) = topic.updated {
            body.push_str(&format!(" · last update {}", time_element(t)));
        }
        body.push_str(" · subscribe:");
        for format in Format::ALL {
            body.push_str(&format!(
                " <a href=\"{}\" type=\"{}\">{}</a>",
                feed_url(&topic.slug, format),
                format.bare_media_type(),
                format.label()
            ));
        }
        body.push_str(&format!(
            " · <a href=\"{base}topics/{slug}.opml\">sources (OPML)</a></p></li>\n"
        ));
    }
    page(
        base_url,
        "Tributary",
        &head_links,
        &format!(
            "<h1>Tributary</h1>\n<p>Merged news feeds. Subscribe to a topic in any feed reader.</p>\n\
             {}<ul>\n{body}</ul>\n<p><a href=\"{base}sources\">Source health</a> · \
             <a href=\"{base}sources.opml\">All sources (OPML)</a></p>\n",
            search_form(base_url, "")
        ),
    )
}

pub use crate::model::SourceHealth;

/// The health column's words.
fn describe(health: SourceHealth) -> String {
    match health {
        SourceHealth::New => "not yet fetched".into(),
        SourceHealth::Ok => "ok".into(),
        SourceHealth::Failing(1) => "failing (1 fetch)".into(),
        SourceHealth::Failing(n) => format!("failing ({n} fetches)"),
        SourceHealth::Gone => "gone (404/410, tried daily)".into(),
        SourceHealth::Moved => "moved (permanent redirect adopted)".into(),
    }
}

/// The health cell's CSS class: gone is styled as failing, moved as ok.
fn health_class(health: SourceHealth) -> &'static str {
    match health {
        SourceHealth::New => "pending",
        SourceHealth::Ok | SourceHealth::Moved => "ok",
        SourceHealth::Failing(_) | SourceHealth::Gone => "failing",
    }
}

/// One row of the source health table.
pub struct SourceRow {
    pub title: String,
    pub url: String,
    pub health: SourceHealth,
    pub last_fetch: Option<Timestamp>,
    pub last_error: Option<String>,
    /// What the last parsed document deserved a warning for although it parsed.
    pub warning: Option<String>,
    pub entries: u64,
    /// New entries per day, oldest first, today last.
    pub daily: Vec<u64>,
}

pub fn render_sources(base_url: &str, rows: &[SourceRow]) -> String {
    let mut body = String::from(
        "<h1>Sources</h1>\n<table>\n<thead><tr><th>Source</th><th>State</th><th>Last fetch</th>\
         <th>Last error</th><th>Warning</th><th>Stored entries</th><th>New entries per day (30 days)</th></tr></thead>\n<tbody>\n",
    );
    for row in rows {
        let title = escape_html(&row.title);
        let url = escape_html(&row.url);
        body.push_str(&format!(
            "<tr class=\"{}\"><td><a href=\"{url}\">{title}</a><br><small>{url}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            health_class(row.health),
            describe(row.health),
            row.last_fetch.map(time_element).unwrap_or_else(|| "never".into()),
            row.last_error.as_deref().map(escape_html).unwrap_or_default(),
            row.warning.as_deref().map(escape_html).unwrap_or_default(),
            row.entries,
            sparkline::render(&row.daily, &row.title),
        ));
    }
    body.push_str(&format!(
        "</tbody>\n</table>\n<p><a href=\"{0}\">Topics</a> · <a href=\"{0}sources.opml\">All sources (OPML)</a></p>\n",
        escape_html(base_url)
    ));
    page(base_url, "Tributary sources", "", &body)
}

/// The search page: the form, and for a query the addresses of its feeds.
pub fn render_search(base_url: &str, query: &str) -> String {
    // A NUL or other control character in `q` is no part of any word searched for.
    let query = crate::text::xml_chars(query);
    let query = query.as_ref();
    let base = escape_html(base_url);
    let mut body = format!("<h1>Search</h1>\n{}", search_form(base_url, query));
    let mut head_links = String::new();
    if !query.trim().is_empty() {
        let q = escape_html(
            &url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>(),
        );
        body.push_str("<p>Subscribe to this search:");
        for format in Format::ALL {
            let href = format!("{base}search.{}?q={q}", format.extension());
            body.push_str(&format!(" <a href=\"{href}\">{}</a>", format.label()));
            head_links.push_str(&format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{href}\">\n",
                format.bare_media_type(),
                escape_html(&format!("Search: {query}")),
                format.label()
            ));
        }
        body.push_str("</p>\n");
    }
    body.push_str(&format!("<p><a href=\"{base}\">Topics</a></p>\n"));
    page(base_url, "Tributary search", &head_links, &body)
}

fn search_form(base_url: &str, query: &str) -> String {
    format!(
        "<form method=\"get\" action=\"{}search\"><label>Search entries <input type=\"search\" name=\"q\" value=\"{}\" maxlength=\"200\"></label> <button type=\"submit\">Search</button></form>\n",
        escape_html(base_url),
        escape_html(query)
    )
}

/// A `<time>` element: machine-readable RFC 3339 in `datetime`, a readable UTC form as text.
fn time_element(t: Timestamp) -> String {
    let at = super::utc(t);
    format!(
        "<time datetime=\"{}\">{}</time>",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The autodiscovery links of a topic: its three feeds and its OPML.
pub(super) fn feed_links(base_url: &str, slug: &str, title: &str) -> String {
    let title = escape_html(title);
    let mut links = String::new();
    for format in Format::ALL {
        links.push_str(&format!(
            "<link rel=\"alternate\" type=\"{}\" title=\"{title} ({})\" href=\"{}\">\n",
            format.bare_media_type(),
            format.label(),
            escape_html(&super::topic_feed_url(base_url, slug, format))
        ));
    }
    links.push_str(&format!(
        "<link rel=\"alternate\" type=\"text/x-opml\" title=\"{title} (OPML)\" href=\"{}\">\n",
        escape_html(&format!("{base_url}topics/{slug}.opml"))
    ));
    links
}

/// A whole page, without the control characters HTML forbids too (the ones XML forbids), whether
/// they come from a stored title or from a request. The page's own text is English; stories
/// carry their own `lang`.
pub(super) fn page(base_url: &str, title: &str, head: &str, body: &str) -> String {
    crate::text::into_xml_chars(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"{}\">\n{head}</head>\n<body>\n{body}</body>\n</html>\n",
        escape_html(title),
        escape_html(&super::style::stylesheet_url(base_url))
    ))
}
