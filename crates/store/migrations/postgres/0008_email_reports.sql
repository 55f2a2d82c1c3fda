-- Email: clicks per link, and a workspace's DKIM key.

-- One row per delivery and address clicked: how often, and when first and last. A message's
-- figures per link are sums over its rows (clicks) and their count (people).
CREATE TABLE email_clicks (
    workspace_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    delivery_id BIGINT NOT NULL,
    url TEXT NOT NULL,
    clicks BIGINT NOT NULL DEFAULT 1,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, url)
);
CREATE INDEX email_clicks_message ON email_clicks (workspace_id, message_id);

-- DKIM: when a workspace sets a selector and a private key (PEM), Tidings signs its emails for
-- the domain (NULL: the sender address's domain). Off by default: a relay may sign instead.
ALTER TABLE workspaces ADD COLUMN dkim_domain TEXT;
ALTER TABLE workspaces ADD COLUMN dkim_selector TEXT;
ALTER TABLE workspaces ADD COLUMN dkim_private_key TEXT;
