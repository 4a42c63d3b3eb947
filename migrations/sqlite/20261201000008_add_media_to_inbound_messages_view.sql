-- Where a customer's media file stands: `pending` until it is fetched from
-- the provider, then `kept` (with its SHA-256) or `unavailable`.
ALTER TABLE inbound_messages_view ADD COLUMN media_state text;
ALTER TABLE inbound_messages_view ADD COLUMN media_sha256 text;
CREATE INDEX inbound_messages_view_media ON inbound_messages_view (media_state, received_at);
