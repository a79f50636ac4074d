-- Negative banks (HMA issue #1977): a bank whose match on a content suppresses every other
-- bank's matches for that content (an allowlist of benign or collision-prone hashes). 0 or 1;
-- the flag is logged with every `bank` entry of a negative bank.
ALTER TABLE banks ADD COLUMN negative BIGINT NOT NULL DEFAULT 0;
