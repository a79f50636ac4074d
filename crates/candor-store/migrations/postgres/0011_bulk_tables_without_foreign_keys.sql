-- PostgreSQL only (issue 19, import at list scale): the two foreign keys of the tables an
-- import fills row by row go. PostgreSQL checks a foreign key with a trigger per inserted row
-- (a query and a row lock on the parent); measured here (bench/server/pg_ceiling.sh), they
-- halved PostgreSQL's own insert rate for an import's rows (30,501 → 60,179 rows/s). The store
-- is the only writer of these tables, inserts a content before its signals and deletes a bank's
-- signals and contents itself before the bank (`banks::delete_bank`); nothing relied on the
-- cascades. SQLite keeps its foreign keys (checked deferred in the bulk path).
ALTER TABLE content_signals DROP CONSTRAINT IF EXISTS content_signals_content_id_fkey;
ALTER TABLE bank_content DROP CONSTRAINT IF EXISTS bank_content_bank_id_fkey;
