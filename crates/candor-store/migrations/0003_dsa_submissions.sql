-- Statements of reasons sent to the EU DSA Transparency Database: one row per decision, with the
-- puid it was sent under (unique per platform in the database), so a rerun sends only what is
-- missing and never twice.
CREATE TABLE dsa_submissions (
  decision_id TEXT PRIMARY KEY REFERENCES decisions(id),
  puid TEXT NOT NULL UNIQUE,
  submitted_at TEXT NOT NULL,
  -- `created` (accepted now) or `existing` (the database already had the puid).
  how TEXT NOT NULL
);
