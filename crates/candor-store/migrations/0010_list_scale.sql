-- Signals looked up by value (issue 19, import at list scale): the index holds the first 8 bytes
-- of each value, not all 16–32. Random values make every insert land on a random index page;
-- at 10M hashes the whole-value index (~450 MB) was the largest share of an import's page
-- writes. The 8-byte prefix is as selective for hashes (2^64 values) at a third of the size;
-- queries compare the prefix (this index) and then the whole value.
DROP INDEX content_signals_value;
CREATE INDEX content_signals_value_prefix ON content_signals(substr(value, 1, 8));
-- Each bank's count of unretracted contents, kept by the writes that change it (add, import,
-- retract; a deleted bank takes its row with it). Counting the rows on every read of a bank
-- made each bank change cost a scan of the bank: 3.9 s for one addition at 10M.
ALTER TABLE banks ADD COLUMN content_count BIGINT NOT NULL DEFAULT 0;
UPDATE banks SET content_count =
  (SELECT COUNT(*) FROM bank_content c WHERE c.bank_id = banks.id AND c.retracted_at IS NULL);
