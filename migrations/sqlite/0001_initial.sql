-- Sources, the stories they carry, who carried what, and topic membership.
-- Times are Unix seconds (UTC).

CREATE TABLE sources (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL UNIQUE,      -- the key from feeds.toml
    config_title         TEXT,                      -- operator's override from feeds.toml
    feed_title           TEXT,                      -- what the feed calls itself
    site_url             TEXT,
    feed_id              TEXT,                      -- the feed's own id, when it has one
    language             TEXT,
    etag                 TEXT,
    last_modified        TEXT,
    last_fetch_at        INTEGER,
    last_success_at      INTEGER,
    last_status          INTEGER,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_due_at          INTEGER,
    active               INTEGER NOT NULL DEFAULT 1  -- 0 once removed from feeds.toml
);

-- The topics each source is declared in (feeds.toml), kept so membership can be recomputed.
CREATE TABLE source_topics (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    topic     TEXT NOT NULL,
    PRIMARY KEY (source_id, topic)
) WITHOUT ROWID;

CREATE TABLE entries (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE, -- first sighting
    public_id     TEXT NOT NULL,
    link          TEXT,
    title         TEXT NOT NULL,
    summary_html  TEXT,
    content_html  TEXT,
    authors       TEXT NOT NULL DEFAULT '[]',   -- JSON array of names
    categories    TEXT NOT NULL DEFAULT '[]',   -- JSON array
    enclosures    TEXT NOT NULL DEFAULT '[]',   -- JSON array of {url, media_type, length}
    language      TEXT,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    changed_at    INTEGER NOT NULL,             -- when we last stored a change: Last-Modified
    content_hash  TEXT NOT NULL
);

-- (source, identity within that source) → story. Unique per source, so a re-poll never duplicates.
CREATE TABLE sightings (
    source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    entry_key     TEXT NOT NULL,
    entry_id      INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, entry_key)
) WITHOUT ROWID;
CREATE INDEX sightings_entry ON sightings(entry_id);

-- Filled at ingest so that a topic page is one index range scan, newest first.
-- The primary key is the page order itself; an entry's sort time never changes once stored, so
-- (topic, entry) stays unique.
CREATE TABLE entry_topics (
    topic    TEXT NOT NULL,
    sort_at  INTEGER NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    PRIMARY KEY (topic, sort_at, entry_id)
) WITHOUT ROWID;
CREATE INDEX entry_topics_entry ON entry_topics(entry_id, topic);
