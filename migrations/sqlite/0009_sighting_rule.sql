-- Which same-story rule joined a sighting to a story another source carried first
-- (dedup::Reason::as_str: same-url, near-duplicate, title-and-lead); NULL for the sighting that
-- brought the story in, and for sightings stored before the rule was recorded.
ALTER TABLE sightings ADD COLUMN joined_by TEXT;
