//! The HTML pages: the shell every page shares (our stylesheet, autodiscovery links), the index at
//! `/` (every topic with subscribe links and autodiscovery tags), the source health table at
//! `/sources` and the search page at `/search`. No JavaScript; every piece of text escaped. The
//! stories of a river or a search are rendered by `river`.

use super::{Format, sparkline};
use crate::model::{StoredEntry, Timestamp};
use crate::text::escape_html;

pub struct IndexTopic {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub entries: u64,
    /// When the newest of its entries last changed; `None` while it has none.
    pub updated: Option<Timestamp>,
    /// Stories per day, oldest day first, today last; empty draws no sparkline.
    pub daily: Vec<u64>,
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
        body.push_str(&format!("<li class=\"card\"><h2>{title}</h2>\n"));
        if let Some(d) = &topic.description {
            body.push_str(&format!("<p>{}</p>\n", escape_html(d)));
        }
        body.push_str(&format!(
            "<p><a href=\"{base}topics/{slug}\">Read the stories</a>"
        ));
        if !topic.daily.is_empty() {
            body.push_str(&format!(
                " {}",
                sparkline::render_stories(&topic.daily, &topic.title)
            ));
        }
        body.push_str("</p>\n");
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
             {}<ul class=\"cards\">\n{body}</ul>\n<p><a href=\"{base}sources\">Source health</a> · \
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
    render_sources_in(base_url, rows, None)
}

/// The order of the health table: sources that need someone's attention first (failing, gone,
/// moved), then those not yet fetched, then the healthy ones.
fn attention_rank(health: SourceHealth) -> u8 {
    match health {
        SourceHealth::Failing(_) => 0,
        SourceHealth::Gone => 1,
        SourceHealth::Moved => 2,
        SourceHealth::New => 3,
        SourceHealth::Ok => 4,
    }
}

/// The names `?state=` takes: `status`'s state names.
pub const SOURCE_STATES: [&str; 5] = ["failing", "gone", "moved", "new", "ok"];

/// The health table, sources needing attention first (in configuration order within a state),
/// with only the sources in `state` (one of [`SOURCE_STATES`]) when one is given.
pub fn render_sources_in(base_url: &str, rows: &[SourceRow], state: Option<&str>) -> String {
    let base = escape_html(base_url);
    let mut shown: Vec<&SourceRow> = rows
        .iter()
        .filter(|row| state.is_none_or(|s| row.health.as_str() == s))
        .collect();
    shown.sort_by_key(|row| attention_rank(row.health));
    let mut body = String::from("<h1>Sources</h1>\n<nav class=\"filters\">Show:");
    let all_link = format!(" <a href=\"{base}sources\">all ({})</a>", rows.len());
    body.push_str(&all_link);
    for name in SOURCE_STATES {
        let count = rows.iter().filter(|r| r.health.as_str() == name).count();
        body.push_str(&format!(
            " · <a href=\"{base}sources?state={name}\">{name} ({count})</a>"
        ));
    }
    body.push_str("</nav>\n");
    if let Some(state) = state {
        body.push_str(&format!(
            "<p>Only sources in state <strong>{}</strong>: {} of {}.</p>\n",
            escape_html(state),
            shown.len(),
            rows.len()
        ));
    }
    body.push_str(
        "<div class=\"table-wrap\">\n<table>\n<thead><tr><th>Source</th><th>State</th><th>Last fetch</th>\
         <th>Last error</th><th>Warning</th><th>Stored entries</th><th>New entries per day (30 days)</th></tr></thead>\n<tbody>\n",
    );
    for row in shown {
        let title = escape_html(&row.title);
        let url = escape_html(&row.url);
        let days = row.daily.len();
        body.push_str(&format!(
            "<tr class=\"{}\"><td><span class=\"badge {}\">{}</span> <a href=\"{url}\">{title}</a><br><small>{url}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small class=\"axis\">{days} days ago → today · peak {}/day</small></td></tr>\n",
            health_class(row.health),
            badge_class(row.health),
            row.health.as_str(),
            describe(row.health),
            row.last_fetch.map(time_element).unwrap_or_else(|| "never".into()),
            row.last_error.as_deref().map(escape_html).unwrap_or_default(),
            row.warning.as_deref().map(escape_html).unwrap_or_default(),
            row.entries,
            sparkline::render(&row.daily, &row.title),
            row.daily.iter().max().copied().unwrap_or(0),
        ));
    }
    body.push_str(&format!(
        "</tbody>\n</table>\n</div>\n<p><a href=\"{base}\">Topics</a> · <a href=\"{base}sources.opml\">All sources (OPML)</a></p>\n"
    ));
    page(base_url, "Tributary sources", "", &body)
}

/// The badge's colour class: one per state, so that gone and moved stand out from failing and ok.
fn badge_class(health: SourceHealth) -> &'static str {
    match health {
        SourceHealth::New => "pending",
        SourceHealth::Ok => "ok",
        SourceHealth::Moved => "moved",
        SourceHealth::Failing(_) | SourceHealth::Gone => "failing",
    }
}

/// The search page: the form, and for a query the addresses of its feeds.
pub fn render_search(base_url: &str, query: &str) -> String {
    render_search_results(&SearchResults {
        base_url,
        query,
        entries: &[],
        page: 1,
        more: false,
        now: 0,
    })
}

/// One page of search results.
pub struct SearchResults<'a> {
    /// Ends with `/`.
    pub base_url: &'a str,
    pub query: &'a str,
    /// The matches on this page, newest first.
    pub entries: &'a [StoredEntry],
    /// 1 for the newest matches.
    pub page: usize,
    /// Whether older matches follow.
    pub more: bool,
    /// The time relative times are counted from.
    pub now: Timestamp,
}

/// The search page: the form; for a query, the addresses of its feeds and this page of matches
/// with the words searched for marked.
pub fn render_search_results(results: &SearchResults<'_>) -> String {
    let base_url = results.base_url;
    // A NUL or other control character in `q` is no part of any word searched for.
    let query = crate::text::xml_chars(results.query);
    let query = query.as_ref();
    let base = escape_html(base_url);
    let mut body = format!("<h1>Search</h1>\n{}", search_form(base_url, query));
    let mut head_links = String::new();
    if !query.trim().is_empty() {
        let q = url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let q_attr = escape_html(&q);
        body.push_str("<p>Subscribe to this search:");
        for format in Format::ALL {
            let href = format!("{base}search.{}?q={q_attr}", format.extension());
            body.push_str(&format!(" <a href=\"{href}\">{}</a>", format.label()));
            head_links.push_str(&format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{href}\">\n",
                format.bare_media_type(),
                escape_html(&format!("Search: {query}")),
                format.label()
            ));
        }
        body.push_str("</p>\n");
        let words = crate::text::fold_words(query);
        body.push_str("<main>\n");
        if results.entries.is_empty() {
            body.push_str(&format!(
                "<p>No stories match “{}”{}.</p>\n",
                escape_html(query),
                if results.page > 1 {
                    " on this page"
                } else {
                    ""
                }
            ));
        }
        for entry in results.entries {
            body.push_str(&super::river::story(entry, results.now, &words));
        }
        body.push_str("</main>\n");
        let page_url = |page: usize| format!("{base_url}search?q={q}&page={page}");
        body.push_str(&super::river::paging(
            (results.page > 1)
                .then(|| format!("{base_url}search?q={q}"))
                .as_deref(),
            results.more.then(|| page_url(results.page + 1)).as_deref(),
        ));
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
