-- Near-duplicate fingerprints (64-bit SimHash) and their four 16-bit bands, each indexed: two
-- fingerprints within Hamming distance 3 share at least one band.
ALTER TABLE entries ADD COLUMN fingerprint INTEGER;
ALTER TABLE entries ADD COLUMN band0 INTEGER;
ALTER TABLE entries ADD COLUMN band1 INTEGER;
ALTER TABLE entries ADD COLUMN band2 INTEGER;
ALTER TABLE entries ADD COLUMN band3 INTEGER;
ALTER TABLE entries ADD COLUMN title_numbers TEXT NOT NULL DEFAULT '';
CREATE INDEX entries_band0 ON entries(band0, first_seen_at) WHERE band0 IS NOT NULL;
CREATE INDEX entries_band1 ON entries(band1, first_seen_at) WHERE band1 IS NOT NULL;
CREATE INDEX entries_band2 ON entries(band2, first_seen_at) WHERE band2 IS NOT NULL;
CREATE INDEX entries_band3 ON entries(band3, first_seen_at) WHERE band3 IS NOT NULL;
