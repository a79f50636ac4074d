-- Candor schema v3 on PostgreSQL: the same tables and columns as SQLite's migrations 0001-0003
-- (tests/schema.rs compares them). Integers are BIGINT (what the store binds), bytes BYTEA,
-- flags BIGINT 0/1 as on SQLite so every query is written once. Row ids are assigned by the
-- store (the largest plus one, inside the writer's transaction, which the advisory lock
-- serializes across nodes), never by a sequence.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_hash BYTEA NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE banks (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  category TEXT NOT NULL,
  provenance TEXT NOT NULL,
  enabled BIGINT NOT NULL,
  pdq_threshold BIGINT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE bank_content (
  id BIGINT PRIMARY KEY,
  public_id TEXT NOT NULL UNIQUE,
  bank_id BIGINT NOT NULL REFERENCES banks(id) ON DELETE CASCADE,
  provenance TEXT NOT NULL,
  note TEXT NOT NULL,
  enabled BIGINT NOT NULL,
  retracted_at TEXT,
  retraction_reason TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX bank_content_bank ON bank_content(bank_id);
CREATE TABLE content_signals (
  id BIGINT PRIMARY KEY,
  content_id BIGINT NOT NULL REFERENCES bank_content(id) ON DELETE CASCADE,
  signal TEXT NOT NULL,
  value BYTEA NOT NULL,
  quality BIGINT,
  salt BYTEA NOT NULL
);
CREATE INDEX content_signals_content ON content_signals(content_id);
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  position BIGINT NOT NULL,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE decisions (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  puid TEXT NOT NULL,
  surface TEXT NOT NULL,
  action TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  jurisdictions TEXT NOT NULL,
  statement TEXT NOT NULL,
  matches TEXT NOT NULL,
  status TEXT NOT NULL,
  decided_by TEXT NOT NULL,
  nonce BYTEA NOT NULL,
  log_index BIGINT,
  review_item TEXT
);
CREATE TABLE decision_accounts (
  decision_id TEXT NOT NULL REFERENCES decisions(id),
  account TEXT NOT NULL,
  jurisdiction TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (decision_id, account, role)
);
CREATE INDEX decision_accounts_account ON decision_accounts(account);
CREATE TABLE review_items (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  decision_id TEXT,
  puid TEXT NOT NULL,
  signals TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL,
  reviewer TEXT,
  reviewed_at TEXT,
  reason TEXT,
  bank_content TEXT,
  surface TEXT,
  sender_account TEXT,
  sender_jurisdiction TEXT,
  notify_recipients TEXT,
  nonce BYTEA,
  log_index BIGINT,
  review_log_index BIGINT,
  bank_log_index BIGINT
);
CREATE INDEX review_items_status ON review_items(status, created_at);
CREATE INDEX review_items_sender ON review_items(sender_account);
CREATE TABLE notices (
  id TEXT PRIMARY KEY,
  decision_id TEXT REFERENCES decisions(id),
  review_item TEXT REFERENCES review_items(id),
  account TEXT NOT NULL,
  role TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deferred_legal_basis TEXT,
  released_at TEXT,
  log_index BIGINT,
  CHECK ((decision_id IS NULL) != (review_item IS NULL))
);
CREATE INDEX notices_account ON notices(account);
CREATE INDEX notices_decision ON notices(decision_id);
CREATE INDEX notices_review_item ON notices(review_item);
CREATE TABLE appeals (
  id TEXT PRIMARY KEY,
  decision_id TEXT REFERENCES decisions(id),
  review_item TEXT REFERENCES review_items(id),
  account TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL,
  reviewer TEXT,
  decided_at TEXT,
  outcome TEXT,
  outcome_reason TEXT,
  CHECK ((decision_id IS NULL) != (review_item IS NULL))
);
CREATE INDEX appeals_status ON appeals(status, created_at);
CREATE INDEX appeals_account ON appeals(account);
CREATE TABLE dsa_submissions (
  decision_id TEXT PRIMARY KEY REFERENCES decisions(id),
  puid TEXT NOT NULL UNIQUE,
  submitted_at TEXT NOT NULL,
  how TEXT NOT NULL
);
CREATE TABLE log_entries (
  idx BIGINT PRIMARY KEY,
  data BYTEA NOT NULL
);
CREATE TABLE log_hashes (
  idx BIGINT PRIMARY KEY,
  hash BYTEA NOT NULL
);
CREATE TABLE log_checkpoints (
  size BIGINT PRIMARY KEY,
  note TEXT NOT NULL
);
