-- SQLite's counterpart of PostgreSQL's migration 11 (issue 19, import at list scale): the two
-- foreign keys of the tables an import fills go here too. SQLite opens a statement journal for
-- every multi-row INSERT into a table with an immediate foreign key — whatever
-- `defer_foreign_keys` says at run time, the statement is compiled as one that may abort
-- halfway — and copies every page the statement changes into it first (measured: 5–7 % of an
-- import at 1M hashes, 16 % at 10M, and 10–15 % of the two tables' own insert rate). The store
-- is the only writer of these tables, inserts a content before its signals and deletes a bank's
-- signals and contents itself before the bank (`banks::delete_bank`): nothing relies on the
-- constraints or their cascades, as on PostgreSQL since its migration 11.
--
-- Removing a FOREIGN KEY clause changes nothing in the tables' bytes on disk, so the table
-- definitions are edited in place by SQLite's documented procedure for such changes
-- (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes"):
-- writable_schema, the definitions updated, then the store bumps the schema version and checks
-- the result (`migrate_locked`). A 10M-hash database migrates in milliseconds instead of
-- copying both tables.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, ' REFERENCES banks(id) ON DELETE CASCADE', '')
  WHERE type = 'table' AND name = 'bank_content';
UPDATE sqlite_schema SET sql = replace(sql, ' REFERENCES bank_content(id) ON DELETE CASCADE', '')
  WHERE type = 'table' AND name = 'content_signals';
