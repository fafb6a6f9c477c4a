//! Searching stored stories by their folded words.

use super::both_engines;
use super::fixtures::{add_source, entry, store_entries, titles};
use crate::store::Store;

both_engines!(
    search_folds_diacritics_and_d_with_stroke_newest_first,
    search_follows_updates_and_deletions,
    a_query_word_the_index_splits_in_two_is_not_an_error,
);

fn search_folds_diacritics_and_d_with_stroke_newest_first(store: &dyn Store) {
    let id = add_source(store, &[]);
    store_entries(
        store,
        id,
        &[
            entry("1", "An ninh mạng ở Đà Nẵng", 100),
            entry("2", "Tin an ninh mạng mới", 300),
            entry("3", "Thời tiết", 200),
        ],
        1000,
    );
    assert_eq!(
        titles(&store.search("an ninh mang", 50).expect("search")),
        ["Tin an ninh mạng mới", "An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(
        titles(&store.search("da nang", 50).expect("search")),
        ["An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(
        titles(&store.search("ĐÀ NẴNG", 50).expect("search")),
        ["An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(store.search("an ninh mang", 1).expect("search").len(), 1);
    for hostile in ["\"", "*", "NEAR(", ")", "a\" OR \"b", "title:x", "-", "^x"] {
        store
            .search(hostile, 50)
            .expect("hostile query is not an error");
    }
}

fn search_follows_updates_and_deletions(store: &dyn Store) {
    let id = add_source(store, &[]);
    store_entries(store, id, &[entry("1", "Old headline", 100)], 1000);
    assert_eq!(store.search("old", 50).expect("search").len(), 1);
    store_entries(store, id, &[entry("1", "New headline", 100)], 2000);
    assert!(store.search("old", 50).expect("search").is_empty());
    assert_eq!(store.search("new headline", 50).expect("search").len(), 1);
    // Pruned stories leave the index.
    store.prune(10_000_000, 1, 1000).expect("prune");
    assert!(store.search("headline", 50).expect("search").is_empty());
}

fn a_query_word_the_index_splits_in_two_is_not_an_error(store: &dyn Store) {
    let id = add_source(store, &[]);
    store_entries(store, id, &[entry("1", "a b", 100)], 1000);
    // Circled letters are alphanumeric to Rust but separators to SQLite's unicode61 tokenizer.
    store.search("aⓐb", 50).expect("no error");
    store.search("x\u{0903}y", 50).expect("no error");
}
