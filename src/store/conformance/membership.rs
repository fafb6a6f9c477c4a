//! Topic membership rebuilt from every sighting when the topic rules change.

use std::ops::ControlFlow;

use super::both_engines;
use super::fixtures::{entry, in_topics, linked, slug, titles, two_sources};
use super::republications::original_and_translation;
use crate::model::{FeedMeta, TopicSlug, Validators};
use crate::store::{Fetched, MEMBERSHIP_SETTING, Store};

both_engines!(
    membership_is_rebuilt_from_every_sighting_with_the_rules_fingerprint,
    a_story_is_in_a_topic_any_of_its_versions_qualifies_for_and_listed_once,
    visiting_stories_stops_when_the_visitor_breaks,
);

fn membership_is_rebuilt_from_every_sighting_with_the_rules_fingerprint(store: &dyn Store) {
    let (a, b) = two_sources(store);
    let none = Validators::default();
    let meta = FeedMeta::default();
    let shared = "https://wire.example/shared";
    store
        .record_document(
            a,
            &meta,
            &[
                in_topics(entry("1", "One", 100), &["news"]),
                in_topics(linked("s", shared, "Shared"), &["news"]),
            ],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    store
        .record_document(
            b,
            &meta,
            &[linked("s", shared, "Shared")],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    assert_eq!(store.setting(MEMBERSHIP_SETTING).expect("setting"), None);

    // New rules: source A's stories go to "sport" only when their title says "One"; B's go to
    // "tech". The shared story is in the union over its two sightings.
    let mut seen = Vec::new();
    let stories = store
        .rebuild_membership("rules-2", 5000, &mut |source, story| {
            seen.push((source, story.title.clone()));
            let mut topics = vec![TopicSlug::all()];
            if source == a && story.title == "One" {
                topics.push(slug("sport"));
            }
            if source == b {
                topics.push(slug("tech"));
            }
            topics
        })
        .expect("rebuild");
    assert_eq!(stories, 2);
    assert_eq!(seen.len(), 3, "one call per sighting: {seen:?}");
    assert_eq!(
        store
            .setting(MEMBERSHIP_SETTING)
            .expect("setting")
            .as_deref(),
        Some("rules-2")
    );
    let titles = |topic: &str| -> Vec<String> {
        store
            .topic_entries(&slug(topic), 50)
            .expect("read")
            .into_iter()
            .map(|e| e.title)
            .collect()
    };
    assert!(titles("news").is_empty());
    assert_eq!(titles("sport"), ["One"]);
    assert_eq!(titles("tech"), ["Shared"]);
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        2
    );
    let counts = store.topic_summaries().expect("counts");
    assert_eq!(counts.get("sport").map(|s| s.entries), Some(1));
    assert!(!counts.contains_key("news"));

    // Stories are visited newest first, with every source that carried them.
    let mut visited = Vec::new();
    store
        .visit_stories(&mut |story| {
            visited.push((story.title.clone(), story.sources.clone()));
            ControlFlow::Continue(())
        })
        .expect("visit");
    assert_eq!(visited.len(), 2);
    let shared_story = visited.iter().find(|(t, _)| t == "Shared").expect("shared");
    assert_eq!(shared_story.1, [a, b]);
}

fn a_story_is_in_a_topic_any_of_its_versions_qualifies_for_and_listed_once(store: &dyn Store) {
    original_and_translation(store, 2, 1_700_000_100);
    // Rules as a topic filtered on Indonesian would give: only the translation qualifies.
    store
        .rebuild_membership("rules-origins", 1_700_000_200, &mut |_, story| {
            let mut topics = vec![TopicSlug::all()];
            if story.language.as_deref() == Some("id") {
                topics.push(slug("indonesia"));
            }
            topics
        })
        .expect("rebuild");
    assert_eq!(
        titles(&store.topic_entries(&slug("indonesia"), 50).expect("topic")),
        ["Bản gốc"]
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"]);
    assert_eq!(
        all[0]
            .versions
            .iter()
            .map(|v| v.title.as_str())
            .collect::<Vec<_>>(),
        ["Terjemahan"]
    );
}

fn visiting_stories_stops_when_the_visitor_breaks(store: &dyn Store) {
    let (a, _) = two_sources(store);
    store
        .record_document(
            a,
            &FeedMeta::default(),
            &[
                entry("1", "Oldest", 100),
                entry("2", "Middle", 200),
                entry("3", "Newest", 300),
            ],
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    let mut visited = Vec::new();
    store
        .visit_stories(&mut |story| {
            visited.push(story.title.clone());
            if visited.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("visit");
    assert_eq!(visited, ["Newest", "Middle"]);
}
