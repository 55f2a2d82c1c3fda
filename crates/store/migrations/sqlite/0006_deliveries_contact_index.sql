-- A contact's deliveries are found by contact alone (a contact has few); with the state in the
-- index, every delivery that moved (pending → sent, a stop's cancel) rewrote an index entry too,
-- and on PostgreSQL could never be a heap-only update.
DROP INDEX deliveries_contact;
CREATE INDEX deliveries_contact ON deliveries (contact_id);
