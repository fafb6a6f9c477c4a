//! Atom 1.0 (RFC 4287) via `atom_syndication`.

use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Source, Text};

use super::{TopicPage, authors_or_source, display_title, fixed, paging_links};

pub(super) fn render(page: &TopicPage) -> Vec<u8> {
    let mut feed = Feed {
        title: Text::plain(page.title.clone()),
        id: page.feed_id.clone(),
        updated: fixed(page.updated),
        subtitle: page.description.clone().map(Text::plain),
        lang: page.language().map(str::to_string),
        generator: Some(Generator {
            value: "Tributary".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links: [
            Link {
                href: page.self_url.clone(),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            Link {
                href: page.home_url.clone(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ]
        .into_iter()
        // WebSub §4: the hub is discovered from a rel="hub" link beside rel="self".
        .chain(page.hubs.iter().map(|hub| Link {
            href: hub.clone(),
            rel: "hub".into(),
            ..Default::default()
        }))
        .collect(),
        ..Default::default()
    };
    for (rel, href) in paging_links(page) {
        feed.links.push(Link {
            href: href.to_string(),
            rel: rel.into(),
            mime_type: Some("application/atom+xml".into()),
            ..Default::default()
        });
    }
    feed.entries = page.entries.iter().map(entry).collect();
    let mut out = Vec::with_capacity(4096 + page.entries.len() * 2048);
    // Writing into a Vec cannot fail; an error here would be a bug in the writer.
    if feed.write_to(&mut out).is_err() {
        out.clear();
    }
    out
}

fn entry(e: &crate::model::StoredEntry) -> Entry {
    let mut links = Vec::new();
    if let Some(link) = &e.link {
        links.push(Link {
            href: link.clone(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            ..Default::default()
        });
    }
    // Every other source that carried the story (RFC 4287 §4.2.7.2: rel="via").
    for (source, link) in &e.also {
        links.push(Link {
            href: link.clone().unwrap_or_else(|| source.url.clone()),
            rel: "via".into(),
            title: Some(source.title.clone()),
            ..Default::default()
        });
    }
    // The story in other languages (RFC 4287 §4.2.7.4: alternates differ by hreflang), and the
    // original it was republished from when that is not the version shown.
    for version in super::translations(e) {
        if let (Some(language), Some(link)) = (version.language, version.link) {
            links.push(Link {
                href: link.to_string(),
                rel: "alternate".into(),
                hreflang: Some(language.to_string()),
                mime_type: Some("text/html".into()),
                title: Some(version.title.to_string()).filter(|t| !t.is_empty()),
                ..Default::default()
            });
        }
    }
    if let Some(original) = super::original(e)
        && let Some(link) = original.link
    {
        links.push(Link {
            href: link.to_string(),
            rel: "via".into(),
            title: Some(original.by.clone()),
            hreflang: original.language.map(str::to_string),
            ..Default::default()
        });
    }
    for enclosure in &e.enclosures {
        links.push(Link {
            href: enclosure.url.clone(),
            rel: "enclosure".into(),
            mime_type: enclosure.media_type.clone(),
            length: enclosure.length.map(|l| l.to_string()),
            ..Default::default()
        });
    }
    let source_links = {
        let mut l = vec![Link {
            href: e.source.url.clone(),
            rel: "self".into(),
            ..Default::default()
        }];
        if let Some(site) = &e.source.site_url {
            l.push(Link {
                href: site.clone(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            });
        }
        l
    };
    let content = e.content_html.as_ref().map(|html| Content {
        value: Some(html.clone()),
        content_type: Some("html".into()),
        ..Default::default()
    });
    let summary = e.summary_html.as_ref().map(|html| Text::html(html.clone()));
    Entry {
        title: Text::plain(display_title(e)),
        id: atom_id(e),
        updated: fixed(e.updated),
        published: Some(fixed(e.published)),
        authors: authors_or_source(e)
            .into_iter()
            .map(|name| Person {
                name,
                ..Default::default()
            })
            .collect(),
        categories: e
            .categories
            .iter()
            .map(|c| Category {
                term: c.clone(),
                ..Default::default()
            })
            .collect(),
        links,
        summary,
        content,
        source: Some(Source {
            title: Text::plain(e.source.title.clone()),
            id: e
                .source
                .feed_id
                .clone()
                .unwrap_or_else(|| e.source.url.clone()),
            updated: fixed(e.changed),
            links: source_links,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// RFC 4287 §4.2.6: atom:id must be an absolute IRI. A publisher's id that is one is kept as it
/// is; any other (RSS guids such as "eng-1003") becomes the fragment of its source feed's URL,
/// which is absolute, stable, and unique as long as the guid is unique within its source. Readers
/// would otherwise resolve a relative id against our URL and get a different one per topic.
pub(super) fn atom_id(e: &crate::model::StoredEntry) -> String {
    if is_absolute_iri(&e.public_id) {
        return e.public_id.clone();
    }
    match url::Url::parse(&e.source.url) {
        Ok(mut url) => {
            url.set_fragment(Some(&e.public_id));
            url.into()
        }
        Err(_) => format!(
            "urn:tributary:{}",
            crate::text::hash_parts(&[&e.source.url, &e.public_id])
        ),
    }
}

/// Whether `id` is an absolute IRI exactly as written (parsing must not need to rewrite it).
fn is_absolute_iri(id: &str) -> bool {
    url::Url::parse(id).is_ok_and(|u| u.as_str() == id)
}
