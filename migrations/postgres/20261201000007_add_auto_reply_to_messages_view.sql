-- The auto-reply rule that sent a message (`keyword`, `welcome` or `away`),
-- so the cooldown per contact can be read.
ALTER TABLE messages_view ADD COLUMN auto_reply text;
CREATE INDEX messages_view_auto_reply ON messages_view (organisation_id, to_number, auto_reply, requested_at);
