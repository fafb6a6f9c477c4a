-- What the near-duplicate index loads at start (id, when first seen, signature, title numbers,
-- title key) kept in the index on first_seen_at itself, so that loading reads this index alone
-- instead of every story's row with its HTML. The index still serves every query by
-- first_seen_at (retention, daily counts), so it replaces the narrower one.
DROP INDEX entries_first_seen;
CREATE INDEX entries_first_seen ON entries(first_seen_at, signature, title_numbers, title_key);
