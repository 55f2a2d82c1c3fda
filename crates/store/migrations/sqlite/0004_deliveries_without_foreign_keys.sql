-- A send writes one delivery per recipient in one INSERT … SELECT; foreign keys made every row
-- check three other tables. Deliveries are only ever written from contacts and messages read in
-- the same statement, and deleting a contact deletes its deliveries in the same transaction (see
-- delete_contact); SQLite has one writer, so no send can race that delete. SQLite cannot drop a
-- constraint, so the table is rebuilt without them.
CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    seen_at BIGINT,
    clicked_at BIGINT,
    replied_at BIGINT,
    cancelled_at BIGINT,
    failed_at BIGINT,
    UNIQUE (message_id, contact_id)
);
INSERT INTO deliveries_new (id, workspace_id, message_id, contact_id, state, created_at, sent_at, seen_at,
    clicked_at, replied_at, cancelled_at, failed_at)
SELECT id, workspace_id, message_id, contact_id, state, created_at, sent_at, seen_at,
    clicked_at, replied_at, cancelled_at, failed_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_contact ON deliveries (contact_id, state);
