-- Contacts by email are found through `contacts_search_email` (workspace, archived, email domain,
-- email): a lookup names the email's domain, which the email implies, and both archived flags
-- (the import's upsert) or the one a search fixes. That index already holds every email, so the
-- index kept for lookups alone since migration 0002 goes: one index fewer to write for every
-- contact created or whose email changes, and to build back after a bulk load.
DROP INDEX contacts_email_workspace;
