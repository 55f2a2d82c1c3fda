-- The Inbox's counts (open and snoozed conversations by assignee, and how many the team has not
-- read) read from this index alone, without visiting the conversations themselves.
CREATE INDEX conversations_counts ON conversations (workspace_id, state, assignee_id, read);
