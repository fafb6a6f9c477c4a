//! RSS 2.0 via the `rss` crate, with `atom:link rel="self"` as the RSS Advisory Board recommends.

use rss::extension::atom::{AtomExtension, Link as AtomLink};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use super::{TopicPage, display_title, paging_links, utc};

pub(super) fn render(page: &TopicPage) -> Vec<u8> {
    let mut channel = Channel::default();
    channel.set_title(page.title.clone());
    channel.set_link(page.home_url.clone());
    channel.set_description(
        page.description
            .clone()
            .unwrap_or_else(|| format!("{} — merged by Tributary", page.title)),
    );
    channel.set_language(page.language().map(str::to_string));
    channel.set_generator(Some(format!("Tributary {}", env!("CARGO_PKG_VERSION"))));
    channel.set_last_build_date(Some(utc(page.updated).to_rfc2822()));
    let mut links = vec![AtomLink {
        href: page.self_url.clone(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }];
    links.extend(paging_links(page).map(|(rel, href)| AtomLink {
        href: href.to_string(),
        rel: rel.into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }));
    // WebSub §4: in RSS the hub is named by an atom:link rel="hub".
    links.extend(page.hubs.iter().map(|hub| AtomLink {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    }));
    channel.set_atom_ext(Some(AtomExtension { links }));
    channel.set_items(page.entries.iter().map(item).collect::<Vec<_>>());
    let mut out = Vec::with_capacity(4096 + page.entries.len() * 2048);
    if channel.write_to(&mut out).is_err() {
        out.clear();
    }
    out
}

fn item(e: &crate::model::StoredEntry) -> Item {
    let mut item = Item::default();
    item.set_title(Some(display_title(e)));
    item.set_link(e.link.clone());
    let mut description = e.content_html.clone().or_else(|| e.summary_html.clone());
    if !e.also.is_empty() {
        // RSS has one <source>; the others are credited in a footer.
        let credits: Vec<String> = e
            .also
            .iter()
            .map(|(source, link)| {
                let title = crate::text::escape_html(&source.title);
                match link {
                    Some(l) => format!("<a href=\"{}\">{title}</a>", crate::text::escape_html(l)),
                    None => title,
                }
            })
            .collect();
        let footer = format!("<p>Also reported by: {}</p>", credits.join(", "));
        description = Some(description.unwrap_or_default() + &footer);
    }
    // RSS has no place for other language versions or an original: a line says them.
    if let Some(line) = super::versions_html(e) {
        description = Some(description.unwrap_or_default() + &format!("<p>{line}</p>"));
    }
    item.set_description(description);
    item.set_guid(Some(Guid {
        // isPermaLink only when the id is the entry's own web address.
        permalink: e.link.as_deref() == Some(e.public_id.as_str()),
        value: e.public_id.clone(),
    }));
    item.set_pub_date(Some(utc(e.published).to_rfc2822()));
    item.set_categories(
        e.categories
            .iter()
            .map(|c| Category {
                name: c.clone(),
                domain: None,
            })
            .collect::<Vec<_>>(),
    );
    // RSS's <enclosure> holds one file; the first is the one readers play.
    if let Some(enc) = e.enclosures.first() {
        item.set_enclosure(Some(Enclosure {
            url: enc.url.clone(),
            length: enc.length.unwrap_or(0).to_string(),
            mime_type: enc
                .media_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        }));
    }
    if !e.authors.is_empty() {
        // <author> must be an e-mail address; names go in dc:creator.
        item.set_dublin_core_ext(Some(DublinCoreExtension {
            creators: e.authors.clone(),
            ..Default::default()
        }));
    }
    item.set_source(Some(Source {
        url: e.source.url.clone(),
        title: Some(e.source.title.clone()),
    }));
    item
}
