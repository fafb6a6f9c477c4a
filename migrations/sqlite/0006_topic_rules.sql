-- Small named values the store keeps for itself, such as the fingerprint of the topic rules that
-- entry_topics was last computed with (a different fingerprint at start-up recomputes membership).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
