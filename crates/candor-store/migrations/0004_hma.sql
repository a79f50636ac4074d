-- What HMA 2.0's API keeps beside a bank and a bank content (the `/c/…` routes): a bank's
-- `matching_enabled_ratio` (the share of lookups its matches are answered in; 0 = the bank is
-- disabled), a content's `disable_until_ts` (NULL = no timed disable; the content's `enabled`
-- stays the truth for matching) and the user metadata given when it was added (JSON text).
ALTER TABLE banks ADD COLUMN matching_enabled_ratio DOUBLE PRECISION NOT NULL DEFAULT 1.0;
ALTER TABLE bank_content ADD COLUMN disable_until_ts BIGINT;
ALTER TABLE bank_content ADD COLUMN metadata TEXT;
-- The timed-disable sweep (every 30 s) reads only contents with a time set, by this index,
-- instead of scanning every bank content.
CREATE INDEX bank_content_disable_until ON bank_content(disable_until_ts);
