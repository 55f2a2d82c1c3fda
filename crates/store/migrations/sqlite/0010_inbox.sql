-- The Inbox: who a conversation is assigned to, what the contact has seen of it, its tags and
-- attributes; the team's saved replies; and how the Messenger looks (the workspace's colour and
-- greeting, each teammate's avatar).

-- The teammate a conversation is assigned to (NULL: unassigned). A conversation about a message
-- is assigned to the message's sender, whose Inbox its replies land in.
ALTER TABLE conversations ADD COLUMN assignee_id BIGINT;
UPDATE conversations SET assignee_id = teammate_id WHERE message_id IS NOT NULL;
-- The last part the contact has seen in their Messenger: what is newer is unread for them.
ALTER TABLE conversations ADD COLUMN contact_seen_part_id BIGINT NOT NULL DEFAULT 0;
-- The team's latest words to the contact (a comment, or a close with words), and the latest of
-- them emailed to a contact who had not seen them in the Messenger in time: newer and unseen is
-- due for an email.
ALTER TABLE conversations ADD COLUMN team_part_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN team_part_at BIGINT;
ALTER TABLE conversations ADD COLUMN emailed_part_id BIGINT NOT NULL DEFAULT 0;
-- Attributes an integration sets on a conversation (`PUT /conversations/{id}`), a JSON object.
ALTER TABLE conversations ADD COLUMN custom_attributes TEXT NOT NULL DEFAULT '{}';
-- The teammate an assignment part assigned the conversation to (0: nobody).
ALTER TABLE conversation_parts ADD COLUMN assigned_to BIGINT;

-- The Inbox's views: a state (and an assignee), most recent activity first or waiting longest.
CREATE INDEX conversations_inbox ON conversations (workspace_id, state, updated_at, id);
CREATE INDEX conversations_inbox_assignee ON conversations (workspace_id, assignee_id, state, updated_at, id);
-- (The waiting-longest order puts those waiting for no one last: the same expression as the query.)
CREATE INDEX conversations_inbox_waiting ON conversations (workspace_id, state, (COALESCE(waiting_since, 9223372036854775807)), id);
-- Teammates' replies the contact has not seen, for the reply emails.
CREATE INDEX conversations_unseen_replies ON conversations (team_part_at)
    WHERE team_part_id > contact_seen_part_id AND team_part_id > emailed_part_id;
-- Snoozed conversations whose time has come.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE state = 'snoozed';

CREATE TABLE conversation_tags (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    applied_at BIGINT NOT NULL,
    applied_by BIGINT,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX conversation_tags_tag ON conversation_tags (tag_id);

CREATE TABLE saved_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

ALTER TABLE workspaces ADD COLUMN messenger_color TEXT NOT NULL DEFAULT '#1f5fd6';
ALTER TABLE workspaces ADD COLUMN messenger_greeting TEXT NOT NULL DEFAULT '';
-- How long a teammate's reply may stay unseen in the Messenger before it is emailed to the
-- contact (seconds).
ALTER TABLE workspaces ADD COLUMN reply_email_after BIGINT NOT NULL DEFAULT 300;
ALTER TABLE teammates ADD COLUMN avatar_url TEXT;
