-- The few contacts whose email holds more than one `@`. "Email contains …@…", counted as part of
-- an OR (`filter::sql::count_parts`), reads every other contact by the range of email domains
-- that can hold it; an email's domain says nothing about the `@` before it, so these are read
-- apart, from this index, which holds them alone and costs nothing for any other contact.
CREATE INDEX contacts_search_email_several_at ON contacts (workspace_id, archived) WHERE email LIKE '%@%@%';
