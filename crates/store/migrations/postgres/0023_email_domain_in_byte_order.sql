-- "Email contains @gmail OR tagged vip", counted in parts (`filter::sql::count_parts`), reads the
-- range of email domains that start with "gmail" less the tag's contacts, by id.
-- A range of an index is that prefix only in byte order, so the domain is indexed in the "C"
-- collation whatever the database's own is (the compiled filters read it so, equality included:
-- `filter::sql::domain`), and the id is held beside it, so that the range is read from the index
-- alone.
DROP INDEX contacts_search_email;
CREATE INDEX contacts_search_email ON contacts (workspace_id, archived, email_domain COLLATE "C", email) INCLUDE (id);
-- The few contacts whose email holds more than one `@`, which their domain says nothing about:
-- that part of the same count reads them from this index, which holds them alone.
CREATE INDEX contacts_search_email_several_at ON contacts (workspace_id, archived) WHERE email LIKE '%@%@%';
