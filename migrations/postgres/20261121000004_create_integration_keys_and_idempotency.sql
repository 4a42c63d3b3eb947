-- Integration data keys, wrapped by a master key. The only copy of each data
-- key: deleting the row makes the integration's sealed secrets unreadable.
CREATE TABLE integration_data_keys (
    data_key_id    text PRIMARY KEY,
    integration_id text NOT NULL,
    master_key_id  text NOT NULL,
    wrapped        text NOT NULL
);
CREATE INDEX integration_data_keys_integration ON integration_data_keys (integration_id);

-- Responses remembered per Idempotency-Key and caller. A row without a
-- status is a request in progress.
CREATE TABLE idempotency_keys (
    scope        text   NOT NULL,
    key          text   NOT NULL,
    request_hash text   NOT NULL,
    status       bigint,
    content_type text,
    body         text,
    created_at   bigint NOT NULL, -- unix seconds
    PRIMARY KEY (scope, key)
);
