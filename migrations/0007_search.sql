-- Full-text search over every story, for search feeds (`/search.atom?q=…`).
--
-- Contentless (the stories live in `entries`; rowid = entries.id) and kept in step by triggers.
-- What is indexed is `search_text(title, summary_html, content_html)`, a function the store
-- registers on every connection (see store::search): the title and the first 4 KB of the plain
-- text, folded to lowercase letters without diacritics (so "đ" matches "d" too, which unicode61
-- alone does not fold). Queries are folded the same way.
CREATE VIRTUAL TABLE entry_search USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 2"
);

INSERT INTO entry_search (rowid, body)
    SELECT id, search_text(title, summary_html, content_html) FROM entries;

CREATE TRIGGER entry_search_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entry_search (rowid, body)
        VALUES (new.id, search_text(new.title, new.summary_html, new.content_html));
END;

-- Only when the text changed: a refresh rewrites every column of an updated story.
CREATE TRIGGER entry_search_update AFTER UPDATE OF title, summary_html, content_html ON entries
    WHEN old.title IS NOT new.title
      OR old.summary_html IS NOT new.summary_html
      OR old.content_html IS NOT new.content_html
BEGIN
    DELETE FROM entry_search WHERE rowid = old.id;
    INSERT INTO entry_search (rowid, body)
        VALUES (new.id, search_text(new.title, new.summary_html, new.content_html));
END;

CREATE TRIGGER entry_search_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entry_search WHERE rowid = old.id;
END;
