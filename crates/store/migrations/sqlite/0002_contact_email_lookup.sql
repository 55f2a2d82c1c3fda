-- Contacts by email, whatever their role. The unique index on user emails is partial
-- (WHERE role = 'user'), so a lookup by email alone cannot use it: the import's upsert (which
-- matches users and leads by email) and the `email = …` filter scanned every contact of the
-- workspace, once per chunk of 500 emails.
CREATE INDEX contacts_workspace_email ON contacts (workspace_id, email);
