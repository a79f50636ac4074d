-- Exchanges created through the API (HMA's `POST /c/exchanges`), beside the config file's
-- `[[exchange]]` tables, and the per-API credentials HMA's `POST /c/exchanges/api/<api>` sets.
-- Portable: the same script on SQLite and PostgreSQL. Every node reads them (several nodes
-- share one PostgreSQL), so an exchange created on one is synced by the scheduler of any.
--
-- `exchange_configs`: one row per stored exchange. `options` is the kind-specific part as a
-- JSON object (`url`, `privacy_group`, `page_size`); `enabled` is HMA's fetching flag (0/1).
-- Its sync state stays in `exchanges` (migration 5), as for the config file's.
CREATE TABLE exchange_configs (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  bank TEXT NOT NULL,
  options TEXT NOT NULL,
  interval_secs BIGINT NOT NULL,
  enabled BIGINT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- `exchange_credentials`: one row per exchange kind (Candor's kind names), the credentials as
-- a JSON object by Candor's credential names. Never returned by a route, never in the log.
CREATE TABLE exchange_credentials (
  kind TEXT PRIMARY KEY,
  credentials TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
