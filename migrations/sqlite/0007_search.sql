-- Full-text search over every story, for search feeds (`/search.atom?q=…`).
--
-- Contentless (the stories live in `entries`; rowid = entries.id). What is indexed is
-- `text::search_text(title, summary_html, content_html)`: the title and the first 4 KB of the
-- plain text, folded to lowercase letters without diacritics (so "đ" matches "d" too, which
-- unicode61 alone does not fold). Queries are folded the same way. The store indexes a story
-- when it inserts or updates it, with the text normalize made (in parallel, off the single
-- writer); deletions (pruning) follow by the trigger below. Stories stored before this migration
-- are indexed here through the `search_text()` SQL function, registered for migrations only.
CREATE VIRTUAL TABLE entry_search USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 2"
);

INSERT INTO entry_search (rowid, body)
    SELECT id, search_text(title, summary_html, content_html) FROM entries;

CREATE TRIGGER entry_search_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entry_search WHERE rowid = old.id;
END;
