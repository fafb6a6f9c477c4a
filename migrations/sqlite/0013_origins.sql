-- Republications and their originals (see dedup::decide). An entry that credits an original keeps
-- what it credits: the original's canonical URL (for finding it among stored stories, whichever
-- arrives first), its link as given, the outlet named, and how the credit was found. A version of
-- a story in another language (a translation) is a row of its own pointing at the story it
-- translates: it is shown as that story's other language version, never as a story of its own,
-- and goes when the story goes.
ALTER TABLE entries ADD COLUMN origin_url TEXT;
ALTER TABLE entries ADD COLUMN origin_link TEXT;
ALTER TABLE entries ADD COLUMN origin_credit TEXT;
ALTER TABLE entries ADD COLUMN origin_rule TEXT;
ALTER TABLE entries ADD COLUMN version_of INTEGER REFERENCES entries(id) ON DELETE CASCADE;
CREATE INDEX entries_origin ON entries(origin_url) WHERE origin_url IS NOT NULL;
CREATE INDEX entries_versions ON entries(version_of) WHERE version_of IS NOT NULL;
