-- The key the near-duplicate index finds a story by its title with (dedup::text::title_key), so
-- that loading the index at start reads a number instead of every title. NULL for stories stored
-- before; their key is made from the title as they are loaded.
ALTER TABLE entries ADD COLUMN title_key INTEGER;
