-- One story, every source credited: canonical URLs across sources, per-sighting content,
-- near-duplicate fingerprints, guid churn.
ALTER TABLE entries ADD COLUMN canonical_url TEXT;
CREATE INDEX entries_canonical ON entries(canonical_url) WHERE canonical_url IS NOT NULL;

ALTER TABLE sightings ADD COLUMN link TEXT;            -- the story's link as this source has it
ALTER TABLE sightings ADD COLUMN canonical_url TEXT;
ALTER TABLE sightings ADD COLUMN content_hash TEXT;    -- this source's version of the story
CREATE INDEX sightings_source_canonical ON sightings(source_id, canonical_url) WHERE canonical_url IS NOT NULL;

ALTER TABLE sources ADD COLUMN identity_mode TEXT;     -- 'link' once guid churn was detected
