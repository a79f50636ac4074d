-- Candor schema v2: every step that concerns a person's content reaches them (issue 18).
-- Review items remember whose content they are (to notify and to answer data-access requests),
-- the commitment nonce the person opens log entries with, and the sampling entry; notices and
-- appeals may concern a review item (sampling, review outcome, bank addition) instead of a
-- decision.
ALTER TABLE review_items ADD COLUMN surface TEXT;
ALTER TABLE review_items ADD COLUMN sender_account TEXT;
ALTER TABLE review_items ADD COLUMN sender_jurisdiction TEXT;
-- JSON array of recipient accounts told of the outcome, when the platform asked for that.
ALTER TABLE review_items ADD COLUMN notify_recipients TEXT;
ALTER TABLE review_items ADD COLUMN nonce BLOB;
-- The entries a person can find their steps by: the decision or sampling entry, the review
-- outcome, the first bank addition.
ALTER TABLE review_items ADD COLUMN log_index INTEGER;
ALTER TABLE review_items ADD COLUMN review_log_index INTEGER;
ALTER TABLE review_items ADD COLUMN bank_log_index INTEGER;
CREATE INDEX review_items_sender ON review_items(sender_account);

CREATE TABLE notices_v2 (
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
  log_index INTEGER,
  CHECK ((decision_id IS NULL) != (review_item IS NULL))
);
INSERT INTO notices_v2 (id, decision_id, review_item, account, role, kind, text, created_at, deferred_legal_basis, released_at, log_index)
  SELECT id, decision_id, NULL, account, role, kind, text, created_at, deferred_legal_basis, released_at, log_index FROM notices;
DROP TABLE notices;
ALTER TABLE notices_v2 RENAME TO notices;
CREATE INDEX notices_account ON notices(account);
CREATE INDEX notices_decision ON notices(decision_id);
CREATE INDEX notices_review_item ON notices(review_item);

CREATE TABLE appeals_v2 (
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
INSERT INTO appeals_v2 (id, decision_id, review_item, account, reason, created_at, status, reviewer, decided_at, outcome, outcome_reason)
  SELECT id, decision_id, NULL, account, reason, created_at, status, reviewer, decided_at, outcome, outcome_reason FROM appeals;
DROP TABLE appeals;
ALTER TABLE appeals_v2 RENAME TO appeals;
CREATE INDEX appeals_status ON appeals(status, created_at);
CREATE INDEX appeals_account ON appeals(account);
