-- Reply emails: the team's words a contact did not see in the Messenger in time, emailed to
-- them, and the emails they sent back.

-- The outbox of reply emails: one row per conversation and the team's latest part it carries
-- (the parts after `after_part_id`, up to `part_id`). Written by the step that also advances the
-- conversation's `emailed_part_id`, so the same words are queued once whatever the number of nodes;
-- sent by workers that claim rows with a lease (`lease_until`, and `next_attempt_at` moved to it
-- while claimed, so a claim that a dead node left is due again when its lease ends).
CREATE TABLE reply_emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL,
    after_part_id BIGINT NOT NULL,
    part_id BIGINT NOT NULL,
    -- pending, sending, sent, failed, skipped
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    -- Why it was skipped or failed, or the last temporary failure.
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    UNIQUE (conversation_id, part_id)
);
CREATE INDEX reply_emails_due ON reply_emails (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX reply_emails_workspace ON reply_emails (workspace_id, conversation_id);

-- Emails received from contacts and added to a conversation, by their Message-ID: a mail
-- server that hands one on twice (it retried after a lost answer) adds it once.
CREATE TABLE received_emails (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    part_id BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);
