-- The file of each import uploaded in the admin app, in pieces of about a MiB, so that whichever
-- node serves its preview or runs it can read the file another node received. An import's
-- pieces go when it ends; those of an upload never started go after a day.
CREATE TABLE import_files (
    import_id BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    workspace_id BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (import_id, seq)
);
