-- Workspaces, teammates, access, contacts, attributes, tags and segments.
CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    identity_secret TEXT NOT NULL,
    identity_required BOOLEAN NOT NULL DEFAULT FALSE,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE teammates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT,
    role TEXT NOT NULL,
    job_title TEXT,
    away_mode_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX teammates_workspace ON teammates (workspace_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    teammate_id BIGINT NOT NULL REFERENCES teammates (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    teammate_id BIGINT NOT NULL REFERENCES teammates (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id);

CREATE TABLE data_attributes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    description TEXT,
    data_type TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    messenger_writable BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    admin_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    external_id TEXT,
    email TEXT,
    email_domain TEXT,
    phone TEXT,
    name TEXT,
    avatar TEXT,
    owner_id BIGINT,
    unsubscribed_from_emails BOOLEAN NOT NULL DEFAULT FALSE,
    marked_email_as_spam BOOLEAN NOT NULL DEFAULT FALSE,
    has_hard_bounced BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    signed_up_at BIGINT,
    last_seen_at BIGINT,
    last_replied_at BIGINT,
    last_contacted_at BIGINT,
    last_email_opened_at BIGINT,
    last_email_clicked_at BIGINT,
    language_override TEXT,
    browser TEXT,
    browser_version TEXT,
    browser_language TEXT,
    os TEXT,
    location_country TEXT,
    location_region TEXT,
    location_city TEXT,
    timezone TEXT,
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX contacts_external_id ON contacts (workspace_id, external_id);
CREATE UNIQUE INDEX contacts_user_email ON contacts (workspace_id, email) WHERE role = 'user';
CREATE INDEX contacts_workspace_created ON contacts (workspace_id, created_at);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE contact_tags (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    applied_at BIGINT NOT NULL,
    applied_by BIGINT,
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag_id);

CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    person_type TEXT NOT NULL,
    query TEXT NOT NULL,
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
