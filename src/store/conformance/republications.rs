//! Republications: copies and translations of an original that credit it, joining its story
//! whichever arrives first.

use super::both_engines;
use super::fixtures::{sources, store_entries, store_one, titles, version};
use crate::model::{Credit, SourceId, Timestamp, TopicSlug};
use crate::store::Store;

both_engines!(
    a_republication_of_a_stored_original_joins_it_as_a_copy_or_a_translation,
    an_original_arriving_after_its_republications_takes_them_in,
    stories_crediting_the_same_outlet_by_name_stay_apart,
    a_story_and_its_translations_are_found_and_pruned_as_one,
    a_copy_of_a_translation_is_listed_as_its_story,
    two_translations_into_one_language_in_one_document_are_one_version,
);

const ORIGINAL: &str = "https://vi.example/story";

/// Every story stored, as the `all` topic shows it, and each of its versions: (title, the title
/// of the story it is a version of, if any), in the order they were stored.
fn rows(store: &dyn Store) -> Vec<(String, Option<String>)> {
    let mut rows = Vec::new();
    for story in store.topic_entries(&TopicSlug::all(), 1000).expect("all") {
        for version in &story.versions {
            rows.push((version.id, version.title.clone(), Some(story.title.clone())));
        }
        rows.push((story.id, story.title, None));
    }
    rows.sort_by_key(|(id, _, _)| *id);
    rows.into_iter()
        .map(|(_, title, version_of)| (title, version_of))
        .collect()
}

/// `n` sources in `store`: the first stored the Vietnamese original (at 1_700_000_000), the
/// second its Indonesian translation (at `translated_at`).
pub(super) fn original_and_translation(
    store: &dyn Store,
    n: usize,
    translated_at: Timestamp,
) -> Vec<SourceId> {
    let ids = sources(store, n);
    store_one(
        store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_000,
    );
    store_one(
        store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        translated_at,
    );
    ids
}

fn a_republication_of_a_stored_original_joins_it_as_a_copy_or_a_translation(store: &dyn Store) {
    let ids = sources(store, 4);
    store_one(
        store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_000,
    );
    // Indonesian: a translation, kept as the story's other version.
    let stats = store_one(
        store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_100,
    );
    assert_eq!((stats.new, stats.merged, stats.translations), (1, 1, 1));
    assert_eq!(
        store.republications().expect("counts").get(&ids[1]),
        Some(&(0, 1))
    );
    // Vietnamese again (a portal reprinting it): a copy of the story.
    let stats = store_one(
        store,
        ids[2],
        version("vi2", "Bản in lại", "vi", Some(ORIGINAL)),
        1_700_000_200,
    );
    assert_eq!((stats.new, stats.merged), (1, 1));
    assert_eq!(
        rows(store),
        [
            ("Bản gốc".to_string(), None),
            ("Terjemahan".to_string(), Some("Bản gốc".to_string())),
        ]
    );
    // The story appears once, with the three sources.
    let listed = store.topic_entries(&TopicSlug::all(), 50).expect("entries");
    assert_eq!(titles(&listed), ["Bản gốc"]);
    // A credited original no source carries stays a credit on the story that gave it.
    store_one(
        store,
        ids[3],
        version("ms", "Berita", "ms", Some("https://nowhere.example/a")),
        1_700_000_300,
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("entries");
    let credited = all
        .iter()
        .find(|e| e.title == "Berita")
        .expect("a story of its own");
    assert_eq!(
        credited.credit,
        Some(Credit {
            link: Some("https://nowhere.example/a".to_string()),
            outlet: None,
        })
    );
    assert!(
        rows(store).contains(&("Berita".to_string(), None)),
        "a version of nothing"
    );
}

fn an_original_arriving_after_its_republications_takes_them_in(store: &dyn Store) {
    let ids = sources(store, 3);
    store_one(
        store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_000,
    );
    store_one(
        store,
        ids[2],
        version("vi2", "Bản in lại", "vi", Some(ORIGINAL)),
        1_700_000_100,
    );
    assert_eq!(
        titles(&store.topic_entries(&TopicSlug::all(), 50).expect("all")),
        ["Bản in lại", "Terjemahan"],
        "two stories until the original arrives"
    );
    let stats = store_one(
        store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_200,
    );
    assert_eq!(
        (stats.new, stats.origin_copies, stats.translations),
        (1, 1, 1)
    );
    // `status --json` counts per source what joined by the origin rules.
    let counted = store.republications().expect("counts");
    assert_eq!(counted.get(&ids[2]), Some(&(1, 0)));
    assert_eq!(counted.get(&ids[1]), Some(&(0, 1)));
    assert_eq!(counted.get(&ids[0]), None);
    // The Vietnamese reprint's sighting moved to the original and its row went; the Indonesian
    // one is the original's translation.
    assert_eq!(
        rows(store),
        [
            ("Terjemahan".to_string(), Some("Bản gốc".to_string())),
            ("Bản gốc".to_string(), None),
        ]
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"]);
    let mut carried_by: Vec<String> = store
        .sightings()
        .expect("sightings")
        .into_iter()
        .filter(|(_, _, entry)| *entry == all[0].id)
        .map(|(url, _, _)| url)
        .collect();
    carried_by.sort();
    assert_eq!(
        carried_by,
        ["https://s0.example/feed", "https://s2.example/feed"]
    );
    // The reprint's words left the search index with its row; the translation's stay findable.
    assert!(store.search("lại", 10).expect("search").is_empty());
}

fn stories_crediting_the_same_outlet_by_name_stay_apart(store: &dyn Store) {
    let ids = sources(store, 2);
    let by_name = |key: &str, title: &str| {
        let mut e = version(key, title, "vi", None);
        e.origin = Some(crate::model::Origin {
            link: None,
            canonical_url: None,
            credit: Some("TTXVN".into()),
            found_by: crate::model::OriginRule::CreditName,
        });
        e
    };
    store_one(store, ids[0], by_name("a", "Bão số 3 đổ bộ"), 1_700_000_000);
    store_one(
        store,
        ids[1],
        by_name("b", "Giá vàng tăng mạnh"),
        1_700_000_100,
    );
    assert_eq!(rows(store).len(), 2);
    assert_eq!(
        titles(&store.topic_entries(&TopicSlug::all(), 50).expect("all")).len(),
        2
    );
}

fn a_story_and_its_translations_are_found_and_pruned_as_one(store: &dyn Store) {
    // Translated days later: on its own it would not be old enough to go.
    let ids = original_and_translation(store, 2, 1_700_000_000 + 9 * 86_400 + 100);
    // The translation's words find the story, shown once as the story.
    assert_eq!(
        titles(&store.search("terjemahan", 10).expect("search")),
        ["Bản gốc"]
    );
    // Old enough to go: both rows go, and both sources' items stay gone.
    store
        .prune(1_700_000_000 + 10 * 86_400, 86_400, 1000)
        .expect("prune");
    assert!(rows(store).is_empty());
    assert!(store.sightings().expect("sightings").is_empty());
    let stats = store_one(
        store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_000 + 10 * 86_400,
    );
    assert_eq!(stats.new, 0, "tombstoned");
    assert!(rows(store).is_empty());
}

fn a_copy_of_a_translation_is_listed_as_its_story(store: &dyn Store) {
    let ids = original_and_translation(store, 3, 1_700_000_100);
    // Another portal carries the Indonesian version at the same address.
    let mut copy = version("id2", "Terjemahan", "id", None);
    copy.link = Some("https://id.example/story".into());
    copy.canonical_url = Some("https://id.example/story".into());
    let stats = store_one(store, ids[2], copy, 1_700_000_200);
    assert_eq!((stats.new, stats.merged), (1, 1));
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"], "the translation is not listed");
    assert_eq!(all[0].versions.len(), 1);
}

/// The second translation joins the first, stored by the same document a moment before: the
/// version row it joins is one the document has only just made.
fn two_translations_into_one_language_in_one_document_are_one_version(store: &dyn Store) {
    let ids = sources(store, 2);
    store_one(
        store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_000,
    );
    store_entries(
        store,
        ids[1],
        &[
            version("id", "Terjemahan", "id", Some(ORIGINAL)),
            version("id-b", "Terjemahan lain", "id", Some(ORIGINAL)),
        ],
        1_700_000_100,
    );
    assert_eq!(
        rows(store),
        [
            ("Bản gốc".to_string(), None),
            ("Terjemahan".to_string(), Some("Bản gốc".to_string())),
        ]
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"]);
    let sightings = store.sightings().expect("sightings");
    assert_eq!(sightings.len(), 3, "{sightings:?}");
}
