-- Manual messages, one delivery per recipient, and conversations.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    sender_id BIGINT NOT NULL REFERENCES teammates (id),
    channel TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    audience TEXT NOT NULL,
    state TEXT NOT NULL,
    scheduled_at BIGINT,
    sent_at BIGINT,
    stopped_at BIGINT,
    targeted BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX messages_workspace_state ON messages (workspace_id, state, id);
CREATE INDEX messages_due ON messages (state, scheduled_at);

-- The audience snapshot: one row per recipient. The unique key is what guarantees that no
-- contact ever gets two deliveries of one message, whatever retries or restarts happen.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    seen_at BIGINT,
    clicked_at BIGINT,
    replied_at BIGINT,
    cancelled_at BIGINT,
    failed_at BIGINT,
    UNIQUE (message_id, contact_id)
);
CREATE INDEX deliveries_contact ON deliveries (contact_id, state);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    teammate_id BIGINT REFERENCES teammates (id),
    message_id BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    state TEXT NOT NULL,
    read BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    waiting_since BIGINT,
    snoozed_until BIGINT
);
CREATE INDEX conversations_contact ON conversations (workspace_id, contact_id);
CREATE INDEX conversations_teammate ON conversations (workspace_id, teammate_id);
-- One conversation per contact and message: a second reply continues the first conversation.
CREATE UNIQUE INDEX conversations_message_contact ON conversations (message_id, contact_id);

CREATE TABLE conversation_parts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    part_type TEXT NOT NULL,
    author_type TEXT NOT NULL,
    author_id BIGINT NOT NULL,
    body TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX conversation_parts_conversation ON conversation_parts (conversation_id, id);
