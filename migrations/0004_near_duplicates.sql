-- Near-duplicate signatures (MinHash, 12 values) and their six band keys, each indexed: stories
-- sharing a band key are candidates for being one story.
ALTER TABLE entries ADD COLUMN signature BLOB;
ALTER TABLE entries ADD COLUMN band0 INTEGER;
ALTER TABLE entries ADD COLUMN band1 INTEGER;
ALTER TABLE entries ADD COLUMN band2 INTEGER;
ALTER TABLE entries ADD COLUMN band3 INTEGER;
ALTER TABLE entries ADD COLUMN band4 INTEGER;
ALTER TABLE entries ADD COLUMN band5 INTEGER;
ALTER TABLE entries ADD COLUMN title_numbers TEXT NOT NULL DEFAULT '';
CREATE INDEX entries_band0 ON entries(band0) WHERE band0 IS NOT NULL;
CREATE INDEX entries_band1 ON entries(band1) WHERE band1 IS NOT NULL;
CREATE INDEX entries_band2 ON entries(band2) WHERE band2 IS NOT NULL;
CREATE INDEX entries_band3 ON entries(band3) WHERE band3 IS NOT NULL;
CREATE INDEX entries_band4 ON entries(band4) WHERE band4 IS NOT NULL;
CREATE INDEX entries_band5 ON entries(band5) WHERE band5 IS NOT NULL;
