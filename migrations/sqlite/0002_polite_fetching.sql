-- What polite fetching remembers about each source.
ALTER TABLE sources ADD COLUMN fetch_url TEXT;                 -- adopted permanent redirect target
ALTER TABLE sources ADD COLUMN redirect_target TEXT;           -- permanent target seen lately
ALTER TABLE sources ADD COLUMN redirect_streak INTEGER NOT NULL DEFAULT 0; -- polls in a row it was seen
ALTER TABLE sources ADD COLUMN body_hash TEXT;                 -- of the last 200 body
ALTER TABLE sources ADD COLUMN last_unconditional_at INTEGER;  -- last request without validators
ALTER TABLE sources ADD COLUMN failure_class TEXT;
ALTER TABLE sources ADD COLUMN gone_streak INTEGER NOT NULL DEFAULT 0;    -- 404/410 in a row
ALTER TABLE sources ADD COLUMN retry_after_until INTEGER;      -- server asked us to wait until
ALTER TABLE sources ADD COLUMN adaptive_secs INTEGER;          -- publishing rate estimate
ALTER TABLE sources ADD COLUMN interval_secs INTEGER;          -- interval in force
ALTER TABLE sources ADD COLUMN feed_hint_secs INTEGER;         -- ttl / sy:updatePeriod floor
ALTER TABLE sources ADD COLUMN skip_hours TEXT;                -- RSS skipHours, e.g. "0,1,2"
ALTER TABLE sources ADD COLUMN skip_days TEXT;                 -- RSS skipDays, 0 = Monday
