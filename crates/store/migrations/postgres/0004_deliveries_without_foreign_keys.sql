-- A send writes one delivery per recipient in one INSERT … SELECT. Each foreign key made that a
-- per-row trigger that also locks the referenced contact (FOR KEY SHARE, a write to every
-- contact's row): a million-recipient snapshot took ~10 s instead of ~3 s. Deliveries are only
-- ever written from contacts and messages read in the same statement, and deleting a contact
-- deletes its deliveries in the same transaction (see delete_contact). One case the keys
-- caught is gone: a contact deleted while a send is writing its snapshot can leave that one
-- delivery behind; it is never delivered (nobody can open that contact's Messenger).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_workspace_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_message_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_contact_id_fkey;
