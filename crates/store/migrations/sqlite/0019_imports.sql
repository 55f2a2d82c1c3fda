-- Imports of contacts from a file uploaded in the admin app: the file (kept by the node that
-- received it, at `path`), the choices made on its preview, where the import stands, and the
-- report of the lines it rejected.

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Who uploaded it; no foreign key, so the history stays when a teammate goes.
    teammate_id BIGINT,
    file_name TEXT NOT NULL,
    -- csv or jsonl.
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- uploaded (previewed, not started), running, done, failed or interrupted (its server
    -- stopped before the end).
    status TEXT NOT NULL,
    -- The choices made on the preview, as JSON, once started.
    options TEXT,
    bytes_read BIGINT NOT NULL DEFAULT 0,
    lines BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    -- The rejected lines as CSV (line, field, reason, then the line's values), once finished.
    report TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    -- Moved forward every second while running: an import whose clock stopped was interrupted.
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX imports_workspace ON imports (workspace_id, id);
CREATE INDEX imports_running ON imports (heartbeat_at) WHERE status = 'running';
