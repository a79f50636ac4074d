-- Review priority (issue 12): the queue ordered highest priority first. An item a policy holds
-- gets the policy's `review_priority` (default 50); sampled unknown content 0. Items queued
-- before this migration keep 0 and stay in their age order.
ALTER TABLE review_items ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
CREATE INDEX review_items_priority ON review_items(status, priority, id);
