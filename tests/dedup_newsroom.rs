//! The newsroom set: same-story decisions judged against labels an editor of a Vietnamese and
//! Indonesian news aggregator would give (issue 19, point 5). `tests/fixtures/dedup/newsroom.toml`
//! holds what eleven outlets published in one week of November 2026 — Vietnamese and
//! Indonesian papers, two aggregators that carry summary-only copies, a wire and two English
//! desks — and, for every item, the story it belongs to and why it is interesting (its class).
//!
//! The labels were written from the news, not from the rules: the set was drafted without reading
//! `src/dedup/` or the text fingerprint, and a label says what is true even where no rule can see
//! it yet (a forecast for Huế issued a day later under the very same title is another story; a
//! report that a fire is under control is a new story, not an update of the first). Look-alike
//! families (one template, another place, person, club or price) must stay apart; summary-only
//! copies, prefixed titles with captions or credit lines, light rewrites and exact copies under
//! other URLs must be joined.
//!
//! Every outlet's items become one RSS 2.0 document that goes through the real parser, normalizer
//! and store; the score is over pairs of sightings. `newsroom_set_is_well_formed` checks the data
//! itself and always runs; the bars of issue 19 are checked by an ignored test until the rules
//! that meet them land.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use tributary::model::TopicSlug;
use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};
use url::Url;

/// The same `now` for every outlet: after the last sighting, within every window.
const NOW: i64 = 1_795_392_000; // 2026-11-23T00:00:00Z

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Newsroom {
    story: Vec<Story>,
    sighting: Vec<Sighting>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Story {
    id: String,
    /// Stories written from one template (a forecast per city, a fire per province).
    family: Option<String>,
    about: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sighting {
    outlet: String,
    guid: String,
    link: String,
    title: String,
    summary: Option<String>,
    content: Option<String>,
    published: String,
    story: String,
    class: Class,
    note: Option<String>,
}

/// Why a sighting is in the set; a pair is as hard as its harder member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Class {
    // Declared from hardest to easiest, so `min` of a pair is its harder member.
    SummaryOnly,
    Prefixed,
    Rewrite,
    Lookalike,
    Negative,
    Copy,
    Original,
}

const CLASSES: [Class; 7] = [
    Class::SummaryOnly,
    Class::Prefixed,
    Class::Rewrite,
    Class::Lookalike,
    Class::Negative,
    Class::Copy,
    Class::Original,
];

fn load() -> Newsroom {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dedup/newsroom.toml"
    );
    let text = std::fs::read_to_string(path).expect("the newsroom set is checked in");
    toml::from_str(&text).expect("the newsroom set is valid TOML")
}

/// Outlets in the order they first appear in the file, so every run ingests in the same order.
fn outlets(set: &Newsroom) -> Vec<&str> {
    let mut seen = Vec::new();
    for sighting in &set.sighting {
        if !seen.contains(&sighting.outlet.as_str()) {
            seen.push(sighting.outlet.as_str());
        }
    }
    seen
}

fn feed_url(outlet: &str) -> String {
    format!("https://feeds.{outlet}.example/rss.xml")
}

/// One outlet's RSS 2.0 document: the lead in `<description>`, the full HTML (escaped) in
/// `<content:encoded>`, as Vietnamese and Indonesian CMSs publish them.
fn rss(outlet: &str, items: &[&Sighting]) -> String {
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel><title>{outlet}</title><link>https://{outlet}.example/</link><description>{outlet}</description>\n",
    );
    for item in items {
        let published = chrono::DateTime::parse_from_rfc3339(&item.published)
            .expect("published is RFC 3339 (checked by newsroom_set_is_well_formed)");
        doc.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate>",
            tributary::text::escape_html(&item.title),
            tributary::text::escape_html(&item.link),
            tributary::text::escape_html(&item.guid),
            published.to_rfc2822(),
        ));
        if let Some(summary) = &item.summary {
            doc.push_str(&format!(
                "<description>{}</description>",
                tributary::text::escape_html(summary)
            ));
        }
        if let Some(content) = &item.content {
            doc.push_str(&format!(
                "<content:encoded>{}</content:encoded>",
                tributary::text::escape_html(content)
            ));
        }
        doc.push_str("</item>\n");
    }
    doc.push_str("</channel></rss>\n");
    doc
}

#[test]
fn newsroom_set_is_well_formed() {
    let set = load();
    assert!(
        set.sighting.len() >= 150,
        "{} sightings",
        set.sighting.len()
    );

    let present: BTreeSet<Class> = set.sighting.iter().map(|s| s.class).collect();
    for class in CLASSES {
        assert!(present.contains(&class), "no sighting of class {class:?}");
    }

    let mut declared = BTreeSet::new();
    for story in &set.story {
        assert!(
            declared.insert(story.id.as_str()),
            "story {} twice",
            story.id
        );
        assert!(
            !story.about.trim().is_empty(),
            "story {} says what it is",
            story.id
        );
    }
    let mut carriers: BTreeMap<&str, usize> = BTreeMap::new();
    for sighting in &set.sighting {
        assert!(
            declared.contains(sighting.story.as_str()),
            "{} names undeclared story {}",
            sighting.guid,
            sighting.story
        );
        *carriers.entry(sighting.story.as_str()).or_default() += 1;
    }
    for story in &set.story {
        assert!(
            carriers.contains_key(story.id.as_str()),
            "story {} carried by no sighting",
            story.id
        );
    }

    let mut families: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for story in &set.story {
        if let Some(family) = &story.family {
            families.entry(family).or_default().push(&story.id);
        }
    }
    assert!(
        families.len() >= 8,
        "{} look-alike families",
        families.len()
    );
    for (family, members) in &families {
        assert!(members.len() >= 3, "family {family} has {members:?}");
        // Most members are carried by several outlets, so a family has true pairs as well as
        // pairs that must stay apart.
        let carried = members.iter().filter(|m| carriers[*m] >= 2).count();
        assert!(
            carried * 2 > members.len(),
            "family {family}: {carried} of {} members have copies",
            members.len()
        );
    }
    // The first sighting of a look-alike is its `lookalike` entry, and it belongs to a family.
    for sighting in set.sighting.iter().filter(|s| s.class == Class::Lookalike) {
        let story = set.story.iter().find(|st| st.id == sighting.story);
        assert!(
            story.is_some_and(|st| st.family.is_some()),
            "look-alike {} outside any family",
            sighting.guid
        );
    }

    let mut guids = BTreeSet::new();
    for sighting in &set.sighting {
        assert!(
            guids.insert((sighting.outlet.as_str(), sighting.guid.as_str())),
            "guid {} twice at {}",
            sighting.guid,
            sighting.outlet
        );
        let link = Url::parse(&sighting.link)
            .unwrap_or_else(|e| panic!("{}: link {}: {e}", sighting.guid, sighting.link));
        assert_eq!(link.scheme(), "https", "{}", sighting.link);
        assert!(
            link.host_str().is_some_and(|h| h.ends_with(".example")),
            "{} is not on an .example host",
            sighting.link
        );
        let published = chrono::DateTime::parse_from_rfc3339(&sighting.published)
            .unwrap_or_else(|e| panic!("{}: published {}: {e}", sighting.guid, sighting.published));
        assert!(
            sighting.published.starts_with("2026-11-") && published.timestamp() < NOW,
            "{} published {}",
            sighting.guid,
            sighting.published
        );
        assert!(
            !sighting.title.trim().is_empty(),
            "{} has no title",
            sighting.guid
        );
        if sighting.class == Class::Negative {
            // A hard negative is a judgement; the set says why, so a reviewer can disagree.
            assert!(
                sighting
                    .note
                    .as_deref()
                    .is_some_and(|n| !n.trim().is_empty()),
                "negative {} says why it is another story",
                sighting.guid
            );
        }
        match sighting.class {
            Class::SummaryOnly => assert!(
                sighting.content.is_none() && sighting.summary.is_some(),
                "summary-only {} carries the lead alone",
                sighting.guid
            ),
            _ => assert!(
                sighting.content.is_some(),
                "{} ({:?}) carries its text",
                sighting.guid,
                sighting.class
            ),
        }
    }
}

#[test]
fn newsroom_merge_decisions_meet_the_bars_of_issue_19() {
    let set = load();
    let outlets = outlets(&set);
    let store = SqliteStore::open_in_memory().expect("store");
    let specs: Vec<SourceSpec> = outlets
        .iter()
        .map(|outlet| SourceSpec {
            url: feed_url(outlet),
            title: Some((*outlet).to_owned()),
            topics: vec![TopicSlug::new("news").expect("slug")],
        })
        .collect();
    let ids = store.sync_sources(&specs).expect("sync");
    for (outlet, (spec, id)) in outlets.iter().zip(specs.iter().zip(&ids)) {
        let items: Vec<&Sighting> = set
            .sighting
            .iter()
            .filter(|s| s.outlet == *outlet)
            .collect();
        let url = Url::parse(&spec.url).expect("feed url");
        let feed = tributary::parse::parse_feed(rss(outlet, &items).as_bytes(), &url, None)
            .unwrap_or_else(|e| panic!("{outlet}'s document: {e}"));
        let normalized = tributary::normalize::normalize(&feed, &url, NOW);
        assert_eq!(
            normalized.entries.len(),
            items.len(),
            "{outlet}: every item read"
        );
        store
            .record_document(
                *id,
                &normalized.meta,
                &normalized.entries,
                &Fetched::plain(&Default::default()),
                NOW,
            )
            .expect("store");
    }
    // Every sighting that joined a story another outlet brought in names the rule that joined
    // it, as `test-topic` shows.
    let mut rules: HashMap<String, usize> = HashMap::new();
    store
        .visit_stories(&mut |story| {
            assert_eq!(
                story.joined.len() + 1,
                story.sources.len(),
                "{}: one rule for each outlet but the first",
                story.title
            );
            for (_, rule) in &story.joined {
                *rules.entry(rule.clone()).or_default() += 1;
            }
            std::ops::ControlFlow::Continue(())
        })
        .expect("stories");
    eprintln!("rules that joined sightings: {rules:?}");
    for rule in ["near-duplicate", "title-and-lead", "same-url"] {
        assert!(rules.contains_key(rule), "{rule} joined nothing: {rules:?}");
    }
    let entry_of: HashMap<(String, String), i64> = store
        .sightings()
        .expect("sightings")
        .into_iter()
        .map(|(url, key, entry)| ((url, key), entry))
        .collect();
    let decided: Vec<i64> = set
        .sighting
        .iter()
        .map(|s| {
            let key = (feed_url(&s.outlet), format!("guid:{}", s.guid));
            *entry_of
                .get(&key)
                .unwrap_or_else(|| panic!("{} at {} was not stored", s.guid, s.outlet))
        })
        .collect();

    // Pairs: true when labelled the same story, predicted when stored as one entry.
    let s = &set.sighting;
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    let mut recall: BTreeMap<Class, (usize, usize)> = BTreeMap::new();
    let mut wrong: BTreeMap<Class, usize> = BTreeMap::new();
    for a in 0..s.len() {
        for b in a + 1..s.len() {
            let same = s[a].story == s[b].story;
            let merged = decided[a] == decided[b];
            let class = s[a].class.min(s[b].class);
            if merged && !same {
                fp += 1;
                *wrong.entry(class).or_default() += 1;
                eprintln!(
                    "wrongly merged: {} [{}] {:?} \"{}\" | {} [{}] {:?} \"{}\"",
                    s[a].outlet,
                    s[a].story,
                    s[a].class,
                    s[a].title,
                    s[b].outlet,
                    s[b].story,
                    s[b].class,
                    s[b].title
                );
                // The label's reason, where the set gives one, for whoever reads the failure.
                for note in [&s[a].note, &s[b].note].into_iter().flatten() {
                    eprintln!("    label note: {note}");
                }
            }
            if same {
                let counts = recall.entry(class).or_default();
                counts.1 += 1;
                if merged {
                    counts.0 += 1;
                    tp += 1;
                } else {
                    fneg += 1;
                    eprintln!(
                        "missed: [{}] {} {:?} \"{}\" | {} {:?} \"{}\"",
                        s[a].story,
                        s[a].outlet,
                        s[a].class,
                        s[a].title,
                        s[b].outlet,
                        s[b].class,
                        s[b].title
                    );
                }
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let overall = tp as f64 / (tp + fneg).max(1) as f64;
    eprintln!(
        "newsroom: {} sightings, {} stories, {} outlets; precision {precision:.3} ({tp} pairs merged rightly, {fp} wrongly), recall {overall:.3} ({tp} of {} true pairs)",
        s.len(),
        set.story.len(),
        outlets.len(),
        tp + fneg
    );
    for (class, (hit, all)) in &recall {
        eprintln!(
            "  recall {class:?}: {:.3} ({hit} of {all})",
            *hit as f64 / (*all).max(1) as f64
        );
    }
    for (class, count) in &wrong {
        eprintln!("  wrong merges whose harder member is {class:?}: {count}");
    }
    assert!(precision >= 0.995, "precision {precision:.3}");
    assert!(overall >= 0.95, "recall {overall:.3}");
}
