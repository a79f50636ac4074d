-- Candor schema v1 (SQLite). Hashes and decisions only: no content bytes anywhere.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE banks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  category TEXT NOT NULL,
  provenance TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  pdq_threshold INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE bank_content (
  id INTEGER PRIMARY KEY,
  public_id TEXT NOT NULL UNIQUE,
  bank_id INTEGER NOT NULL REFERENCES banks(id) ON DELETE CASCADE,
  provenance TEXT NOT NULL,
  note TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  retracted_at TEXT,
  retraction_reason TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX bank_content_bank ON bank_content(bank_id);
CREATE TABLE content_signals (
  id INTEGER PRIMARY KEY,
  content_id INTEGER NOT NULL REFERENCES bank_content(id) ON DELETE CASCADE,
  signal TEXT NOT NULL,
  value BLOB NOT NULL,
  quality INTEGER,
  salt BLOB NOT NULL
);
CREATE INDEX content_signals_content ON content_signals(content_id);
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
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
  nonce BLOB NOT NULL,
  log_index INTEGER,
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
CREATE TABLE notices (
  id TEXT PRIMARY KEY,
  decision_id TEXT NOT NULL REFERENCES decisions(id),
  account TEXT NOT NULL,
  role TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deferred_legal_basis TEXT,
  released_at TEXT,
  log_index INTEGER
);
CREATE INDEX notices_account ON notices(account);
CREATE INDEX notices_decision ON notices(decision_id);
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
  bank_content TEXT
);
CREATE INDEX review_items_status ON review_items(status, created_at);
CREATE TABLE appeals (
  id TEXT PRIMARY KEY,
  decision_id TEXT NOT NULL REFERENCES decisions(id),
  account TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL,
  reviewer TEXT,
  decided_at TEXT,
  outcome TEXT,
  outcome_reason TEXT
);
CREATE INDEX appeals_status ON appeals(status, created_at);
CREATE TABLE log_entries (
  idx INTEGER PRIMARY KEY,
  data BLOB NOT NULL
);
CREATE TABLE log_hashes (
  idx INTEGER PRIMARY KEY,
  hash BLOB NOT NULL
);
CREATE TABLE log_checkpoints (
  size INTEGER PRIMARY KEY,
  note TEXT NOT NULL
);
