-- Webhooks: a workspace's subscriptions (a URL, the topics it wants, a secret that signs what is
-- sent to it) and the outbox of notifications for them, one row per subscription and part.

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- A JSON array of topic names.
    topics TEXT NOT NULL,
    -- Keys the X-Hub-Signature of every notification (hex HMAC-SHA1 of the body).
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- The last conversation part read for this subscription: the parts after it are still to be
    -- turned into notifications. It starts at the newest part when the subscription is made (or
    -- switched on again) and moves in the transaction that writes the notifications.
    part_cursor BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, id);
CREATE INDEX webhooks_active ON webhooks (part_cursor) WHERE active;

-- One notification of one part to one subscription; the unique key is what keeps a part from
-- being notified twice, whatever nodes read the log at once.
CREATE TABLE webhook_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The envelope's id (notif_…), the same on every attempt, so receivers can spot a repeat.
    notification_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    -- No foreign keys: a conversation deleted later leaves the history of what was sent.
    conversation_id BIGINT NOT NULL,
    part_id BIGINT NOT NULL,
    -- pending, sending (claimed by a worker until locked_until), delivered or failed.
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    locked_until BIGINT,
    -- The receiver's last HTTP status (NULL: no answer), and what went wrong last.
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    first_sent_at BIGINT,
    delivered_at BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (webhook_id, part_id)
);
CREATE INDEX webhook_notifications_due ON webhook_notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_notifications_leased ON webhook_notifications (locked_until) WHERE state = 'sending';
CREATE INDEX webhook_notifications_webhook ON webhook_notifications (webhook_id, id);
CREATE INDEX webhook_notifications_finished ON webhook_notifications (updated_at) WHERE state IN ('delivered', 'failed');

-- A workspace's parts in order: what a subscription's cursor walks.
CREATE INDEX conversation_parts_workspace ON conversation_parts (workspace_id, id);
