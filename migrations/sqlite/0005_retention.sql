-- What pruning removed, so that a feed that keeps old items never brings them back.
CREATE TABLE tombstones (
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    entry_key  TEXT NOT NULL,
    pruned_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, entry_key)
) WITHOUT ROWID;
CREATE INDEX entries_first_seen ON entries(first_seen_at);
