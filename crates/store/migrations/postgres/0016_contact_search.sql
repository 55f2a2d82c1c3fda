-- Contact search reads these instead of every row. Each leads with the workspace and the
-- archived flag that every search fixes, so a filter's range or test runs inside one workspace's
-- live contacts, and a count reads the index alone.
-- "Signed up / last seen … days ago", the commonest date filters:
CREATE INDEX contacts_search_signed_up ON contacts (workspace_id, archived, signed_up_at);
CREATE INDEX contacts_search_last_seen ON contacts (workspace_id, archived, last_seen_at);
-- "Email contains …@…": the compiled test first rules contacts out by their stored, lowercased
-- email domain, and reads the email itself only for the rest, both from this index.
CREATE INDEX contacts_search_email ON contacts (workspace_id, archived, email_domain, email);
