-- Near-duplicate signatures (MinHash, 12 values, big-endian) and the numbers in each title. The
-- band index over recent stories is kept in memory (see store::lsh): as SQLite indexes, six
-- randomly keyed inserts per story dominated the write volume of a refresh.
ALTER TABLE entries ADD COLUMN signature BLOB;
ALTER TABLE entries ADD COLUMN title_numbers TEXT NOT NULL DEFAULT '';
