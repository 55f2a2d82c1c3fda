-- Conversation search (`POST /conversations/search`): the words of each conversation's opening
-- part, which `source.body` is matched against word by word. They are extracted in Rust (one
-- tokenizer for both databases, `tidings_core::conversation_filter::words`) the first time a
-- search needs them; an opening part never changes, so they never go stale.
CREATE TABLE conversation_words (
    conversation_id BIGINT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Lowercased words, each with a space before and after: " i need support ".
    words TEXT NOT NULL
);
-- The search's default order, newest first, without sorting every conversation of a workspace.
CREATE INDEX conversations_created ON conversations (workspace_id, created_at, id);
