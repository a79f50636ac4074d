-- Exchanges (a bank kept in sync with a hash-sharing source) and what file imports and exchanges
-- need to apply a source's deletions. Portable: the same script on SQLite and PostgreSQL.
--
-- `exchanges`: one row per configured `[[exchange]]`, written in the same transaction as the
-- bank changes of each page it applies, so the stored `checkpoint` (the source's own cursor,
-- kind-specific text) always describes exactly what the bank holds: a sync resumes from it
-- without duplicates or loss. Counts are totals since the exchange was first synced.
CREATE TABLE exchanges (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  bank_id BIGINT NOT NULL,
  checkpoint TEXT NOT NULL,
  last_fetch_at TEXT,
  last_success_at TEXT,
  last_error TEXT,
  fetched BIGINT NOT NULL,
  added BIGINT NOT NULL,
  retracted BIGINT NOT NULL,
  skipped BIGINT NOT NULL
);
-- The source's own id of each bank content imported with one (NCMEC entry ids, TCAP ids):
-- deletions that name only the id find their contents here.
CREATE TABLE source_items (
  bank_id BIGINT NOT NULL,
  source_key TEXT NOT NULL,
  content_id BIGINT NOT NULL,
  PRIMARY KEY (bank_id, source_key, content_id)
);
-- Deletions and duplicates named by value (StopNCII, TCAP, a re-sent page) look a signal up
-- by its bytes.
CREATE INDEX content_signals_value ON content_signals(value);
