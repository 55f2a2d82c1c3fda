-- Files teammates upload for message bodies (images). The database holds the bytes themselves:
-- every node of a cluster serves them, and a backup of the database is a backup of them. Each is
-- reached by a random token that cannot be guessed, at a public address contacts' browsers and
-- mail readers load.
CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    bytes BLOB NOT NULL,
    uploaded_by BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX uploads_workspace ON uploads (workspace_id, id);
