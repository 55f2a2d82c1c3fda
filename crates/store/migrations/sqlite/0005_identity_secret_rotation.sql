-- When a workspace's identity secret was last replaced (NULL: never since the workspace was
-- created), so Settings and the API can say how old the secret is.
ALTER TABLE workspaces ADD COLUMN identity_secret_rotated_at BIGINT;
