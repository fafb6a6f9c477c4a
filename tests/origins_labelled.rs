//! The labelled origins set: how well republications are joined to their originals (issue 15),
//! scored against labels an editor would give. `tests/fixtures/origins/labelled.toml` holds what
//! twelve outlets published over two days — Vietnamese originals, their Indonesian, Malay, English
//! and Vietnamese regional republications crediting them in the forms real sites use, and hard
//! negatives (credits to home and section pages, name-only credits, read-also boxes, a same-day
//! follow-up, one event reported by outlets that credit nobody) — each item labelled with the
//! original it republishes.
//!
//! Every source becomes one RSS 2.0 or Atom document that goes through the real parser,
//! normalizer and store, in one order of sources and in the reverse, so that originals arrive
//! both before and after their republications. Only joins made by the origin rules count (a
//! sighting's `joined_by` of `origin` or `translation`, or an entry's `version_of`): near-duplicate
//! matching may still join same-language copies, and that is not what this set measures.
//!
//! `cargo test --test origins_labelled -- --nocapture --include-ignored` prints the figures of
//! both orders, the misses and the wrong joins. The reverse order is an ignored test until
//! `dedup::decide` lets an original that arrives after a same-language copy adopt the stories
//! crediting it (today the near-duplicate rule takes it in first, and they stay apart).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use tributary::model::{TopicSlug, Validators};
use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};
use url::Url;

/// 2026-11-23T00:00:00Z: after the last item, within every window.
const NOW: i64 = 1_795_392_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Labelled {
    source: Vec<Source>,
    item: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    id: String,
    feed: String,
    title: String,
    format: Format,
    /// What the channel declares; `None` when the feed declares no language.
    language: Option<String>,
    #[allow(dead_code)] // For reviewers of the set.
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Format {
    Rss,
    Atom,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    source: String,
    id: String,
    title: String,
    link: String,
    published: String,
    /// The language of the text, for reviewers and the well-formedness check; never put into the
    /// feed (that is what `Source::language` declares).
    written_in: String,
    content: String,
    /// RSS `<source url>` or Atom `<source><link>`.
    source_element: Option<String>,
    /// The id of the item this one republishes.
    original: Option<String>,
    note: Option<String>,
}

impl Item {
    /// The id its feed gives it, and so its sighting's key.
    fn guid(&self, format: Format) -> String {
        match format {
            Format::Rss => self.id.clone(),
            Format::Atom => format!("tag:labelled.example,2026:{}", self.id),
        }
    }
}

fn load() -> Labelled {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/origins/labelled.toml"
    );
    let text = std::fs::read_to_string(path).expect("the labelled set is checked in");
    toml::from_str(&text).expect("the labelled set is valid TOML")
}

/// Whether the labels say `a` and `b` are one story: one is the other's original, or both
/// republish the same original.
fn same_story(a: &Item, b: &Item) -> bool {
    a.original.as_deref() == Some(b.id.as_str())
        || b.original.as_deref() == Some(a.id.as_str())
        || (a.original.is_some() && a.original == b.original)
}

fn published(item: &Item) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(&item.published)
        .expect("published is RFC 3339 (checked by origins_labelled_set_is_well_formed)")
}

/// What a `<source>` element calls the feed it names: the outlet whose story or feed it points at.
fn source_element_title(set: &Labelled, url: &str) -> String {
    let host = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let outlet = set
        .item
        .iter()
        .find(|i| i.link == url)
        .map(|i| i.source.as_str())
        .or_else(|| {
            set.source
                .iter()
                .find(|s| Url::parse(&s.feed).is_ok_and(|f| f.host_str() == Some(host.as_str())))
                .map(|s| s.id.as_str())
        });
    set.source
        .iter()
        .find(|s| Some(s.id.as_str()) == outlet)
        .map_or(host, |s| s.title.clone())
}

/// One RSS 2.0 document, the full HTML (escaped) in `<content:encoded>` as Vietnamese and
/// Indonesian CMSs publish it.
fn rss(set: &Labelled, source: &Source, items: &[&Item]) -> String {
    let language = source
        .language
        .as_ref()
        .map(|l| format!("<language>{l}</language>"))
        .unwrap_or_default();
    let site = Url::parse(&source.feed)
        .ok()
        .and_then(|u| u.join("/").ok())
        .map(|u| u.to_string())
        .unwrap_or_default();
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel><title>{}</title><link>{}</link><description>{}</description>{language}\n",
        tributary::text::escape_html(&source.title),
        tributary::text::escape_html(&site),
        tributary::text::escape_html(&source.title),
    );
    for item in items {
        doc.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate>",
            tributary::text::escape_html(&item.title),
            tributary::text::escape_html(&item.link),
            tributary::text::escape_html(&item.guid(Format::Rss)),
            published(item).to_rfc2822(),
        ));
        if let Some(url) = &item.source_element {
            doc.push_str(&format!(
                "<source url=\"{}\">{}</source>",
                tributary::text::escape_html(url),
                tributary::text::escape_html(&source_element_title(set, url))
            ));
        }
        doc.push_str(&format!(
            "<content:encoded>{}</content:encoded></item>\n",
            tributary::text::escape_html(&item.content)
        ));
    }
    doc.push_str("</channel></rss>\n");
    doc
}

/// One Atom document, the HTML as escaped `type="html"` content.
fn atom(set: &Labelled, source: &Source, items: &[&Item]) -> String {
    let language = source
        .language
        .as_ref()
        .map(|l| format!(" xml:lang=\"{l}\""))
        .unwrap_or_default();
    let updated = items
        .iter()
        .map(|i| published(i))
        .max()
        .map(|p| p.to_rfc3339())
        .unwrap_or_default();
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"{language}>\n<id>{}</id><title>{}</title><updated>{updated}</updated><link rel=\"self\" href=\"{}\"/>\n",
        tributary::text::escape_html(&source.feed),
        tributary::text::escape_html(&source.title),
        tributary::text::escape_html(&source.feed),
    );
    for item in items {
        let when = published(item).to_rfc3339();
        doc.push_str(&format!(
            "<entry><id>{}</id><title>{}</title><link rel=\"alternate\" href=\"{}\"/><published>{when}</published><updated>{when}</updated>",
            tributary::text::escape_html(&item.guid(Format::Atom)),
            tributary::text::escape_html(&item.title),
            tributary::text::escape_html(&item.link),
        ));
        if let Some(url) = &item.source_element {
            doc.push_str(&format!(
                "<source><id>{}</id><title>{}</title><link rel=\"alternate\" href=\"{}\"/></source>",
                tributary::text::escape_html(url),
                tributary::text::escape_html(&source_element_title(set, url)),
                tributary::text::escape_html(url)
            ));
        }
        doc.push_str(&format!(
            "<content type=\"html\">{}</content></entry>\n",
            tributary::text::escape_html(&item.content)
        ));
    }
    doc.push_str("</feed>\n");
    doc
}

/// How an item's sighting ended up in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joined {
    /// The first sighting of a story that is nobody's version: an original, or a story of its own.
    Primary,
    /// Joined by the origin rules: `joined_by` of `origin` or `translation`, or its entry is a
    /// version (`version_of`) of another.
    ByOrigin,
    /// Joined to a story by another rule (near-duplicate, same URL, ...): not what this set
    /// measures, so such an item counts as joined to nothing.
    ByOtherRule,
}

/// Where a sighting is: its story (its entry, or the entry its entry is a version of), its
/// `joined_by` and its entry's `version_of`.
type Placement = (i64, Option<String>, Option<i64>);

/// Where each item (by id) was stored: the story it belongs to (its entry, or the entry it is a
/// version of) and how it got there.
struct Stored {
    story: HashMap<String, (i64, Joined)>,
    /// Rules other than the origin rules that joined items, with how many.
    other_rules: BTreeMap<String, usize>,
    /// What normalize found as each item's origin, by item id, for the list of misses.
    found: HashMap<String, String>,
}

/// Stores every source's document, in `order` (indexes into `set.source`), into a fresh in-memory
/// store, then reads `sightings.joined_by` and `entries.version_of` from a copy of it.
fn stored_in_order(set: &Labelled, order: &[usize]) -> Stored {
    let store = SqliteStore::open_in_memory().expect("store");
    let specs: Vec<SourceSpec> = set
        .source
        .iter()
        .map(|s| SourceSpec {
            url: s.feed.clone(),
            title: Some(s.title.clone()),
            topics: Vec::new(),
        })
        .collect();
    let ids = store.sync_sources(&specs).expect("sources");
    let mut found_by_guid = HashMap::new();
    for &i in order {
        let source = &set.source[i];
        let items: Vec<&Item> = set
            .item
            .iter()
            .filter(|it| it.source == source.id)
            .collect();
        let doc = match source.format {
            Format::Rss => rss(set, source, &items),
            Format::Atom => atom(set, source, &items),
        };
        let url = Url::parse(&source.feed).expect("feed URL (checked by the well-formed test)");
        let feed = tributary::parse::parse_feed(doc.as_bytes(), &url, None)
            .unwrap_or_else(|e| panic!("{}'s document: {e}", source.id));
        let mut normalized = tributary::normalize::normalize(&feed, &url, NOW);
        assert_eq!(
            normalized.entries.len(),
            items.len(),
            "{}: every item read",
            source.id
        );
        for (entry, item) in normalized.entries.iter_mut().zip(&items) {
            entry.topics = vec![TopicSlug::all()];
            let found = match &entry.origin {
                Some(o) => format!(
                    "{} {} {}",
                    o.found_by.as_str(),
                    o.credit.as_deref().unwrap_or("-"),
                    o.canonical_url.as_deref().unwrap_or("-")
                ),
                None => "none".to_owned(),
            };
            found_by_guid.insert(item.id.clone(), found);
        }
        store
            .record_document(
                ids[i],
                &normalized.meta,
                &normalized.entries,
                &Fetched::plain(&Validators::default()),
                NOW,
            )
            .expect("stored");
    }

    // The store's API lists stories, not the rule behind each join: read the columns from a copy.
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("labelled.db");
    store.backup(&copy).expect("backup");
    let conn = rusqlite::Connection::open(&copy).expect("the copy opens");
    let mut stmt = conn
        .prepare(
            "SELECT s.url, g.entry_key, COALESCE(e.version_of, e.id), g.joined_by, e.version_of
             FROM sightings g JOIN sources s ON s.id = g.source_id JOIN entries e ON e.id = g.entry_id",
        )
        .expect("query");
    let by_key: HashMap<(String, String), Placement> = stmt
        .query_map([], |r| {
            Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?)))
        })
        .expect("sightings")
        .collect::<Result<_, _>>()
        .expect("sightings");

    let mut stored = Stored {
        story: HashMap::new(),
        other_rules: BTreeMap::new(),
        found: found_by_guid,
    };
    for item in &set.item {
        let source = set
            .source
            .iter()
            .find(|s| s.id == item.source)
            .expect("a declared source");
        let key = (
            source.feed.clone(),
            format!("guid:{}", item.guid(source.format)),
        );
        let (story, joined_by, version_of) = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("{} was not stored under {key:?}", item.id));
        let joined = match (joined_by.as_deref(), version_of) {
            (Some("origin" | "translation"), _) | (None, Some(_)) => Joined::ByOrigin,
            (None, None) => Joined::Primary,
            (Some(rule), _) => {
                *stored.other_rules.entry(rule.to_owned()).or_default() += 1;
                Joined::ByOtherRule
            }
        };
        stored.story.insert(item.id.clone(), (*story, joined));
    }
    stored
}

/// Whether the origin rules put `a` and `b` in one story: both there, neither brought in by
/// another rule, and at least one brought in by the origin rules.
fn joined_by_origin(stored: &Stored, a: &Item, b: &Item) -> bool {
    let (sa, ja) = stored.story[&a.id];
    let (sb, jb) = stored.story[&b.id];
    sa == sb
        && ja != Joined::ByOtherRule
        && jb != Joined::ByOtherRule
        && (ja == Joined::ByOrigin || jb == Joined::ByOrigin)
}

struct Score {
    precision: f64,
    recall: f64,
    joined_rightly: usize,
    joined_wrongly: usize,
    positives: usize,
}

/// Scores one order over every pair of items and prints the figures, misses and wrong joins.
fn score(set: &Labelled, name: &str, order: &[usize]) -> Score {
    let stored = stored_in_order(set, order);
    let items = &set.item;
    let (mut tp, mut fp, mut fneg, mut negatives) = (0usize, 0usize, 0usize, 0usize);
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            let same = same_story(a, b);
            let joined = joined_by_origin(&stored, a, b);
            match (same, joined) {
                (true, true) => tp += 1,
                (true, false) => {
                    fneg += 1;
                    eprintln!(
                        "  missed: {} \"{}\" | {} \"{}\"",
                        a.id, a.title, b.id, b.title
                    );
                    for item in [a, b] {
                        eprintln!(
                            "    {} ({:?}): origin found {}",
                            item.id, stored.story[&item.id].1, stored.found[&item.id]
                        );
                    }
                }
                (false, true) => {
                    fp += 1;
                    eprintln!(
                        "  wrongly joined: {} \"{}\" | {} \"{}\"",
                        a.id, a.title, b.id, b.title
                    );
                    for note in [&a.note, &b.note].into_iter().flatten() {
                        eprintln!("    label note: {note}");
                    }
                }
                (false, false) => negatives += 1,
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    let order_names: Vec<&str> = order.iter().map(|&i| set.source[i].id.as_str()).collect();
    eprintln!(
        "origins, {name} ({}): {} items, {} pairs ({} positive, {negatives} negative kept apart); precision {precision:.3} ({tp} pairs joined rightly, {fp} wrongly), recall {recall:.3} ({tp} of {} positive pairs); joined by other rules (not counted): {:?}",
        order_names.join(" > "),
        items.len(),
        items.len() * (items.len() - 1) / 2,
        tp + fneg,
        tp + fneg,
        stored.other_rules,
    );
    Score {
        precision,
        recall,
        joined_rightly: tp,
        joined_wrongly: fp,
        positives: tp + fneg,
    }
}

#[test]
fn origins_labelled_set_is_well_formed() {
    let set = load();
    let mut sources = BTreeSet::new();
    for source in &set.source {
        assert!(
            sources.insert(source.id.as_str()),
            "source {} twice",
            source.id
        );
        Url::parse(&source.feed).unwrap_or_else(|e| panic!("{}: {e}", source.feed));
    }
    assert!(
        set.source.iter().any(|s| s.language.is_none())
            && set.source.iter().any(|s| s.language.is_some()),
        "some feeds declare their language and some do not"
    );
    assert!(
        set.source.iter().any(|s| s.format == Format::Atom)
            && set.source.iter().any(|s| s.format == Format::Rss)
    );

    let mut ids = BTreeSet::new();
    for item in &set.item {
        assert!(ids.insert(item.id.as_str()), "item {} twice", item.id);
        assert!(sources.contains(item.source.as_str()), "{}", item.id);
        Url::parse(&item.link).unwrap_or_else(|e| panic!("{}: {e}", item.link));
        let when = chrono::DateTime::parse_from_rfc3339(&item.published)
            .unwrap_or_else(|e| panic!("{}: {e}", item.id));
        assert!(
            when.timestamp() < NOW,
            "{} is published before NOW",
            item.id
        );
        assert!(
            ["vi", "id", "ms", "en"].contains(&item.written_in.as_str()),
            "{}",
            item.id
        );
        let paragraphs = item.content.matches("<p").count();
        assert!(
            (2..=6).contains(&paragraphs),
            "{} has {paragraphs} paragraphs",
            item.id
        );
    }
    for item in &set.item {
        if let Some(original) = &item.original {
            let original = set
                .item
                .iter()
                .find(|i| &i.id == original)
                .unwrap_or_else(|| panic!("{} names a missing original", item.id));
            assert!(
                original.original.is_none(),
                "{}: an original republishes nothing",
                original.id
            );
            assert_ne!(item.source, original.source, "{}", item.id);
        }
    }

    let mut positives = 0;
    let mut negatives = 0;
    for (i, a) in set.item.iter().enumerate() {
        for b in &set.item[i + 1..] {
            if same_story(a, b) {
                positives += 1;
            } else {
                negatives += 1;
            }
        }
    }
    assert!(positives >= 100, "{positives} positive pairs");
    // Hard negatives are items that say why they are hard; there must be plenty.
    let hard = set
        .item
        .iter()
        .filter(|i| i.original.is_none() && i.note.is_some())
        .count();
    assert!(hard >= 12, "{hard} hard negatives");
    assert!(negatives > positives);
    // Translations and same-language copies both.
    let translations = set
        .item
        .iter()
        .filter(|i| {
            i.original.as_ref().is_some_and(|o| {
                set.item
                    .iter()
                    .any(|x| &x.id == o && x.written_in != i.written_in)
            })
        })
        .count();
    let copies = set.item.iter().filter(|i| i.original.is_some()).count() - translations;
    assert!(
        translations >= 20 && copies >= 8,
        "{translations} translations, {copies} copies"
    );
}

/// The bars of issue 15 for one order of the sources; prints the figures, misses and wrong joins.
fn assert_bars(name: &str, order: impl Fn(usize) -> Vec<usize>) {
    let set = load();
    let order = order(set.source.len());
    let score = score(&set, name, &order);
    assert!(score.positives >= 100, "{} positive pairs", score.positives);
    assert!(
        score.precision >= 0.99,
        "{name}: precision {:.3} ({} wrong joins)",
        score.precision,
        score.joined_wrongly
    );
    assert!(
        score.recall >= 0.95,
        "{name}: recall {:.3} ({} of {} positive pairs)",
        score.recall,
        score.joined_rightly,
        score.positives
    );
}

#[test]
fn origins_labelled_joins_meet_the_bars_originals_first() {
    // As written, the Vietnamese originals' outlets come first.
    assert_bars("originals first", |n| (0..n).collect());
}

#[test]
fn origins_labelled_joins_meet_the_bars_republications_first() {
    // Reversed, every regional reprint and translation is stored before its original.
    assert_bars("republications first", |n| (0..n).rev().collect());
}
