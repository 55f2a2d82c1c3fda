-- In-app deliveries waiting for their message's delivery window: the scheduler wakes those whose
-- `due_at` has come, and this index keeps that look-up off every other delivery. (Emails wait in
-- the outbox's own index.)
CREATE INDEX deliveries_in_app_due ON deliveries (due_at) WHERE channel IN ('chat', 'post') AND state = 'pending' AND due_at IS NOT NULL;
