-- The UID a received message arrived under in its folder, so that a
-- thread's timeline orders messages of the same time by their arrival in
-- the mailbox (then by id) instead of by chance. Sent e-mail has none.
-- Rows projected before this column existed keep NULL until the view is
-- rebuilt (`switchboard projections rebuild email_threads`).
ALTER TABLE email_thread_messages ADD COLUMN mailbox_uid bigint;
