-- Email: a template per message, a delivery window, per-workspace sending settings, and the
-- deliveries table as the outbox email workers claim from.
ALTER TABLE messages ADD COLUMN template TEXT;
-- JSON: {"days": [1, …, 7], "start": "09:00", "end": "17:00"} (NULL: any time).
ALTER TABLE messages ADD COLUMN delivery_window TEXT;

-- Signs the links of emails (unsubscribe, open pixel, clicks): apart from the identity secret,
-- so that rotating one never touches the other.
ALTER TABLE workspaces ADD COLUMN email_secret TEXT;
UPDATE workspaces SET email_secret = lower(hex(randomblob(32)));
-- The sender address (NULL: the server's), where replies go, the workspace's own SMTP server
-- (NULL: the server's), whether opens and clicks are tracked, and a send rate.
ALTER TABLE workspaces ADD COLUMN email_from TEXT;
ALTER TABLE workspaces ADD COLUMN email_reply_to TEXT;
ALTER TABLE workspaces ADD COLUMN smtp_url TEXT;
ALTER TABLE workspaces ADD COLUMN email_tracking BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE workspaces ADD COLUMN email_rate_per_minute BIGINT;
-- The per-workspace rate limit's state (GCRA): the theoretical arrival time of the next email,
-- in milliseconds. Claims move it forward in the same statement, so several nodes share one limit.
ALTER TABLE workspaces ADD COLUMN email_tat BIGINT NOT NULL DEFAULT 0;

-- The channel of the delivery's message, so the outbox index holds emails only; when it may go
-- out (its window, its retry, or the end of a worker's lease); attempts so far; why it was
-- skipped, failed or bounced (or the last temporary failure); and what the contact did.
ALTER TABLE deliveries ADD COLUMN channel TEXT;
ALTER TABLE deliveries ADD COLUMN due_at BIGINT;
ALTER TABLE deliveries ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN reason TEXT;
ALTER TABLE deliveries ADD COLUMN bounced_at BIGINT;
ALTER TABLE deliveries ADD COLUMN unsubscribed_at BIGINT;
CREATE INDEX deliveries_outbox ON deliveries (due_at, id) WHERE channel = 'email' AND state IN ('pending', 'sending');
