-- Lighter writes for refreshes, which insert every new story's row, sightings, topic rows and
-- search words. Indexes on large tables are rebuilt once here: on a large database this
-- migration takes a while, at the start-up that applies it.
--
-- 1. Keys and addresses are compared bytewise, as SQLite compares text (COLLATE "C"), instead
--    of by the database's linguistic collation, which costs every index insert and lookup on
--    them a locale-aware comparison and orders text differently from SQLite. Equality is the
--    same under both.
ALTER TABLE sources ALTER COLUMN url TYPE TEXT COLLATE "C";
ALTER TABLE source_topics ALTER COLUMN topic TYPE TEXT COLLATE "C";
ALTER TABLE entries
    ALTER COLUMN canonical_url TYPE TEXT COLLATE "C",
    ALTER COLUMN origin_url TYPE TEXT COLLATE "C";
ALTER TABLE sightings
    ALTER COLUMN entry_key TYPE TEXT COLLATE "C",
    ALTER COLUMN canonical_url TYPE TEXT COLLATE "C";
ALTER TABLE entry_topics ALTER COLUMN topic TYPE TEXT COLLATE "C";
ALTER TABLE entry_search ALTER COLUMN words TYPE TEXT[] COLLATE "C";
ALTER TABLE tombstones ALTER COLUMN entry_key TYPE TEXT COLLATE "C";
ALTER TABLE host_turns ALTER COLUMN host TYPE TEXT COLLATE "C";
ALTER TABLE host_slots ALTER COLUMN host TYPE TEXT COLLATE "C";

-- 2. The foreign keys checked on every row a refresh inserts into its busiest tables (a story's
--    topic rows and search words point at the story; stories and sightings at their source) are
--    replaced by triggers that remove those rows when their story or source goes, once per
--    deleting statement: deleting is rare (pruning, a republication folded into its original),
--    inserting is every refresh. A sighting still names its story by foreign key: a sighting
--    left behind by a story pruned under it would make its source's next copy of the story fail
--    to store.
ALTER TABLE entry_topics DROP CONSTRAINT entry_topics_entry_id_fkey;
ALTER TABLE entry_search DROP CONSTRAINT entry_search_entry_id_fkey;
ALTER TABLE entries DROP CONSTRAINT entries_source_id_fkey;
ALTER TABLE sightings DROP CONSTRAINT sightings_source_id_fkey;

CREATE FUNCTION entries_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entry_topics t USING gone g WHERE t.entry_id = g.id;
    DELETE FROM entry_search s USING gone g WHERE s.entry_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER entries_gone AFTER DELETE ON entries
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION entries_gone();

-- As the foreign keys did: a source that goes takes its sightings and the stories it saw first.
CREATE FUNCTION sources_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sightings g USING gone s WHERE g.source_id = s.id;
    DELETE FROM entries e USING gone s WHERE e.source_id = s.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER sources_gone AFTER DELETE ON sources
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sources_gone();
