-- New stories are indexed by the store itself, with the search text normalize made for them
-- (in parallel, off the single writer), instead of by a trigger that hands the whole HTML to
-- search_text() inside the write transaction. Updates and deletions keep their triggers
-- (they are rare, and the update trigger fires only when the text changed).
DROP TRIGGER IF EXISTS entry_search_insert;
